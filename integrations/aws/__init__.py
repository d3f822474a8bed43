"""AWS: one session per project's connection (client.py), S3 revisions (revisions.py) and EC2 /
Auto Scaling fleet discovery (fleet.py, integrations.tasks.discover_ec2)."""

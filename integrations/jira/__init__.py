"""JIRA (Cloud and Server / Data Center): the issues tile, issue links and comments after success."""

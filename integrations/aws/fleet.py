"""EC2 instances a group should have, from the last discovery run (integrations.tasks.discover_ec2)."""

from __future__ import annotations

from integrations.models import Ec2Discovery


def missing_agents(group) -> list[str]:
    """EC2 instance ids the group's tag filters / ASGs match that no registered agent reports.

    From the last discovery run (see integrations.tasks.discover_ec2); no network.
    """
    discovery = Ec2Discovery.objects.filter(group=group).first()
    return list(discovery.missing) if discovery else []

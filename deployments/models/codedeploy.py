"""What a CodeDeploy client says about a deployment group that Fleetdeck keeps but does not act on.

The CodeDeploy-compatible endpoint (deployments/codedeploy/) maps most of a group onto
`DeploymentGroup`'s own columns; these are the rest, stored so that a Get answers what a Create said:
the service role ARN, the SNS triggers (kept and shown, never delivered) and the request's own
spelling of tags, rollback, load balancer and blue/green settings.
"""

from __future__ import annotations

from django.db import models

from .application import DeploymentGroup


class CodeDeployGroupSettings(models.Model):
    group = models.OneToOneField(
        DeploymentGroup, on_delete=models.CASCADE, related_name="codedeploy_settings"
    )
    service_role_arn = models.CharField(max_length=2048, blank=True)
    trigger_configurations = models.JSONField(default=list, blank=True)
    # The CodeDeploy spelling of settings that map to the group's columns, keyed by member name
    # (ec2TagFilters, autoRollbackConfiguration, loadBalancerInfo, …): shown back while they still
    # say what the columns hold.
    given = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"CodeDeploy settings of {self.group_id}"

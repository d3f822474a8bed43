"""Read-only roll-ups of a project's deployments and fleet for the dashboard pages.

Every function here runs a fixed number of queries however many groups, hosts or deployments a
project has: pages call them on every load, so a per-row query would grow with the fleet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Min, OuterRef, Q, Subquery

from deployments.models import (
    Deployment,
    DeploymentGroup,
    DeploymentStatus,
    Instance,
    InstanceGroupState,
)

_CACHE_ATTR = "_fleetdeck_group_summaries"


@dataclass
class GroupSummary:
    group: DeploymentGroup
    latest: Deployment | None = None
    # The revision of the group's last successful deployment: what every host "should" run.
    target_revision_id: int | None = None
    online: int = 0
    offline: int = 0
    outdated: int = 0
    endpoint: str = ""

    @property
    def total(self) -> int:
        return self.online + self.offline


def project_groups(project):
    """The project's groups, each annotated with its latest deployment and last good revision."""
    per_group = Deployment.objects.filter(deployment_group=OuterRef("pk")).order_by("-created_at", "-pk")
    return (
        DeploymentGroup.objects.filter(application__project=project)
        .select_related("application", "deployment_config")
        .annotate(
            latest_deployment_id=Subquery(per_group.values("pk")[:1]),
            last_good_revision_id=Subquery(
                per_group.filter(status=DeploymentStatus.SUCCEEDED).values("revision_id")[:1]
            ),
        )
        .order_by("application__name", "name")
    )


def active_instances(project):
    return Instance.objects.filter(project=project, deregistered_at__isnull=True)


def group_summaries(project) -> list[GroupSummary]:
    """Four aggregate queries in all: groups, their latest deployments, hosts and up-to-date hosts.

    Hosts are read grouped by (tags, online), and up-to-date installs grouped by (group, tags), so
    the rows fetched grow with the number of distinct tag sets, not with the fleet. Cached on the
    project object so the several tiles that need it share one computation.
    """
    cached = getattr(project, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    groups = list(project_groups(project))
    latest_ids = [g.latest_deployment_id for g in groups if g.latest_deployment_id]
    latest = {
        d.pk: d for d in Deployment.objects.filter(pk__in=latest_ids).select_related("revision", "created_by")
    }
    host_sets = list(
        active_instances(project)
        .order_by()
        .values("tags", "online")
        .annotate(n=Count("pk"), hostname=Min("hostname", filter=~Q(hostname="")))
    )
    current_filter = Q(pk__in=[])
    for g in groups:
        if g.last_good_revision_id is not None:
            current_filter |= Q(group_id=g.pk, revision_id=g.last_good_revision_id)
    up_to_date = list(
        InstanceGroupState.objects.filter(
            current_filter, instance__project=project, instance__deregistered_at__isnull=True
        )
        .order_by()
        .values("group_id", "instance__tags")
        .annotate(n=Count("pk"))
    )
    out = []
    for group in groups:
        summary = GroupSummary(
            group=group,
            latest=latest.get(group.latest_deployment_id),
            target_revision_id=group.last_good_revision_id,
        )
        hostnames = []
        for row in host_sets:
            if not group.matches(row["tags"] or {}):
                continue
            if row["online"]:
                summary.online += row["n"]
            else:
                summary.offline += row["n"]
            if row["hostname"]:
                hostnames.append(row["hostname"])
        summary.endpoint = min(hostnames, default="")
        if summary.target_revision_id is not None:
            current = sum(
                row["n"]
                for row in up_to_date
                if row["group_id"] == group.pk and group.matches(row["instance__tags"] or {})
            )
            summary.outdated = summary.total - current
        out.append(summary)
    setattr(project, _CACHE_ATTR, out)
    return out


def installed_by_instance(instance_ids) -> dict[int, list[InstanceGroupState]]:
    """Installed revision per group for a page of hosts, in one query."""
    out: dict[int, list[InstanceGroupState]] = defaultdict(list)
    states = (
        InstanceGroupState.objects.filter(instance__in=list(instance_ids))
        .select_related("group__application", "revision")
        .order_by("group__application__name", "group__name")
    )
    for state in states:
        out[state.instance_id].append(state)
    return out


def recent_activity(project, limit: int = 20) -> list[Deployment]:
    return list(
        Deployment.objects.filter(application__project=project)
        .select_related("created_by", "revision", "deployment_group__application")
        .order_by("-created_at", "-id")[:limit]
    )

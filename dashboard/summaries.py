"""Read-only roll-ups of a project's deployments and fleet for the dashboard pages.

Every function here runs a fixed number of queries however many groups, hosts or deployments a
project has: pages call them on every load, so a per-row query would grow with the fleet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

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
    instance_ids: list[int] = field(default_factory=list)

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
    """Four queries in all: groups, their latest deployments, the project's hosts, installed revisions.

    Cached on the project object so the several tiles that need it share one computation.
    """
    cached = getattr(project, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    groups = list(project_groups(project))
    latest_ids = [g.latest_deployment_id for g in groups if g.latest_deployment_id]
    latest = {
        d.pk: d for d in Deployment.objects.filter(pk__in=latest_ids).select_related("revision", "created_by")
    }
    # Warning: tag matching runs in Python, groups x hosts. Fine for hundreds of hosts; the
    # query count stays fixed, which is what keeps the page fast on a large database.
    hosts = list(active_instances(project).only("id", "name", "hostname", "tags", "online").order_by("name"))
    installed: dict[tuple[int, int], int | None] = {
        (instance_id, group_id): revision_id
        for instance_id, group_id, revision_id in InstanceGroupState.objects.filter(
            group__in=[g.pk for g in groups]
        ).values_list("instance_id", "group_id", "revision_id")
    }
    out = []
    matched: dict[tuple, bool] = {}
    for group in groups:
        summary = GroupSummary(
            group=group,
            latest=latest.get(group.latest_deployment_id),
            target_revision_id=group.last_good_revision_id,
        )
        for host in hosts:
            # Hosts often share their tags exactly; match each distinct tag set once per group.
            key = (group.pk, *sorted((host.tags or {}).items()))
            if key not in matched:
                matched[key] = group.matches(host.tags or {})
            if not matched[key]:
                continue
            summary.instance_ids.append(host.pk)
            if host.online:
                summary.online += 1
            else:
                summary.offline += 1
            if not summary.endpoint and host.hostname:
                summary.endpoint = host.hostname
            target = summary.target_revision_id
            if target is not None and installed.get((host.pk, group.pk)) != target:
                summary.outdated += 1
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
        .order_by("-created_at", "-pk")[:limit]
    )

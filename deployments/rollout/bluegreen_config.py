"""A deployment group's blue/green configuration: its defaults, its validation and the fleets it names.

The group's `blue_green_configuration`:
``{"replacement": {"source": "standby_pool" | "discover" | "asg_copy", "tag_filters": [...]},
   "reroute": {"action": "CONTINUE_DEPLOYMENT" | "STOP_DEPLOYMENT", "wait_seconds": 3600},
   "originals": {"action": "TERMINATE" | "KEEP_ALIVE" | "RELEASE", "wait_seconds": 0}}``.
A standby pool of registered on-premises agents is something CodeDeploy cannot do.
"""

from __future__ import annotations

from .. import lifecycle, planner
from ..models import Instance

SOURCES = ("standby_pool", "discover", "asg_copy")
REROUTE_ACTIONS = ("CONTINUE_DEPLOYMENT", "STOP_DEPLOYMENT")
ORIGINAL_ACTIONS = ("TERMINATE", "KEEP_ALIVE", "RELEASE")
# How long a deployment that stops before rerouting waits in Ready for a user's "continue" (then it
# stops with TIMEOUT), unless the group says otherwise: CodeDeploy's default, one hour.
REROUTE_WAIT_SECONDS = 3600


def config_of(group) -> dict:
    cfg = group.blue_green_configuration or {}
    return {
        "replacement": cfg.get("replacement") or {},
        "reroute": {
            "action": "CONTINUE_DEPLOYMENT",
            "wait_seconds": REROUTE_WAIT_SECONDS,
            **(cfg.get("reroute") or {}),
        },
        "originals": {"action": "KEEP_ALIVE", "wait_seconds": 0, **(cfg.get("originals") or {})},
    }


def validate(cfg: dict) -> str | None:
    """A message naming what is wrong with a blue/green configuration, or None."""
    replacement = (cfg or {}).get("replacement") or {}
    if replacement.get("source") not in SOURCES:
        return f"replacement.source must be one of {', '.join(SOURCES)}"
    if replacement["source"] == "asg_copy":
        if not replacement.get("auto_scaling_group"):
            return "replacement.auto_scaling_group must name the Auto Scaling group to copy"
        return None
    filters = replacement.get("tag_filters") or []
    if not filters:
        return "replacement.tag_filters must select the replacement (or standby) instances"
    for index, tag_filter in enumerate(filters):
        problem = planner.validate_tag_filter(tag_filter)
        if problem:
            return f"replacement.tag_filters[{index}]: {problem}"
    if (cfg.get("reroute") or {}).get("action", "CONTINUE_DEPLOYMENT") not in REROUTE_ACTIONS:
        return f"reroute.action must be one of {', '.join(REROUTE_ACTIONS)}"
    if (cfg.get("originals") or {}).get("action", "KEEP_ALIVE") not in ORIGINAL_ACTIONS:
        return f"originals.action must be one of {', '.join(ORIGINAL_ACTIONS)}"
    return None


def replacement_events(group) -> tuple[str, ...]:
    installs = lifecycle.in_place_events(False, bool((group.health_check or {}).get("url")))
    return (*installs, *lifecycle.ALLOW_EVENTS)


def fleets(group, originals: list[Instance]) -> list[Instance]:
    """The replacement fleet: instances selected by the replacement filters, never an original."""
    cfg = config_of(group)["replacement"]
    taken = {i.pk for i in originals}
    candidates = Instance.objects.filter(
        deregistered_at__isnull=True, project_id=group.application.project_id
    )
    return [
        i
        for i in candidates
        if i.pk not in taken and planner.matches_tags(i.tags or {}, cfg.get("tag_filters") or [], [])
    ]


def exact_tags(filters) -> dict[str, str]:
    """The key=value tags a list of tag filters names exactly (the ones a host can be given)."""
    return {f["key"]: f["value"] for f in filters if f.get("type", "KEY_AND_VALUE") == "KEY_AND_VALUE"}

"""CodeDeploy values in the words of the CodeDeploy console, for any template:
`{% load codedeploy_words %}` then `{{ group.file_exists_behavior|words }}` ("Fail the deployment"),
`{{ d.created_at|ago }}` ("just now", "5 minutes ago"), `{{ config.name|breakable }}` (a long name
that may wrap at its dots, never mid-word) and `{{ n|nonzero }}`. Unknown values pass through, so a
new enum value shows up as itself rather than as nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

register = template.Library()

# One table for every enum the pages show. Values that mean the same in several enums (statuses)
# read the same everywhere; the keys are the stored values, which are unique across these enums.
WORDS: dict[str, str] = {
    # Deployment, target and lifecycle-event statuses.
    "Created": "Created",
    "Queued": "Queued",
    "InProgress": "In progress",
    "Baking": "Baking",
    "Ready": "Ready",
    "Succeeded": "Succeeded",
    "Failed": "Failed",
    "Stopped": "Stopped",
    "Pending": "Pending",
    "Skipped": "Skipped",
    "Unknown": "Unknown",
    # Content options ("Files that already exist").
    "DISALLOW": "Fail the deployment",
    "OVERWRITE": "Overwrite the content",
    "RETAIN": "Retain the content",
    # Deployment type and traffic.
    "IN_PLACE": "In-place",
    "BLUE_GREEN": "Blue/green",
    "WITHOUT_TRAFFIC_CONTROL": "Without a load balancer",
    "WITH_TRAFFIC_CONTROL": "With a load balancer",
    # Outdated instances (Auto Scaling and late registrations).
    "UPDATE": "Update outdated instances",
    "IGNORE": "Ignore outdated instances",
    # Minimum healthy hosts.
    "HOST_COUNT": "Number of hosts",
    "FLEET_PERCENT": "Percentage of the fleet",
    # Tag filter kinds.
    "KEY_ONLY": "Key only",
    "VALUE_ONLY": "Value only",
    "KEY_AND_VALUE": "Key and value",
    # Automatic rollback events.
    "DEPLOYMENT_FAILURE": "Roll back when a deployment fails",
    "DEPLOYMENT_STOP_ON_ALARM": "Roll back when alarm thresholds are met",
    "DEPLOYMENT_STOP_ON_REQUEST": "Roll back when a deployment is stopped",
    # Blue/green.
    "CONTINUE_DEPLOYMENT": "Reroute traffic immediately",
    "STOP_DEPLOYMENT": "Wait to reroute traffic",
    "KEEP_ALIVE": "Keep the original instances running",
    "TERMINATE": "Terminate the original instances",
    "RELEASE": "Release the original instances to the standby pool",
    "standby_pool": "a standby pool, by tag",
    "discover": "existing instances, by tag",
    "asg_copy": "a copy of an Auto Scaling group",
    # Who started a deployment.
    "user": "A user",
    "autoscaling": "Auto Scaling",
    "codeDeployRollback": "Automatic rollback",
    "CodeDeployAutoUpdate": "Automatic update",
    # Built-in deployment configurations, described as the console does.
    "CodeDeployDefault.OneAtATime": "One host at a time",
    "CodeDeployDefault.HalfAtATime": "Half of the hosts at a time",
    "CodeDeployDefault.AllAtOnce": "All hosts at once",
}


@register.filter
def words(value) -> str:
    """The console's words for a stored CodeDeploy value; anything else unchanged."""
    if value is None or value == "":
        return ""
    return WORDS.get(str(value), str(value))


@register.filter
def words_list(values) -> str:
    """A list of values (rollback events, say) in words, joined with commas."""
    return ", ".join(words(v) for v in values or [])


@register.filter(is_safe=True)
def breakable(value) -> SafeString:
    """Escaped text that may wrap only after a dot, slash, colon or equals sign: each part is kept
    whole (no break at its hyphens either) and a <wbr> follows it, so long names such as
    CodeDeployDefault.HalfAtATime, shop-web/web or ARNs wrap between their parts, never mid-word.
    Needs `.nw { white-space: nowrap }` (static/css/pages.css)."""
    text = str(value if value is not None else "")
    parts = re.findall(r"[^./:=]*[./:=]|[^./:=]+$", text)
    return mark_safe(  # noqa: S308  (each part escaped)
        "<wbr>".join(f'<span class="nw">{conditional_escape(part)}</span>' for part in parts if part)
    )


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """ "just now" under a minute, else Django's timesince plus "ago"; "" for no time."""
    if value is None:
        return ""
    now = now or timezone.now()
    if now - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, now, depth=1)} ago"


@register.filter
def nonzero(counts):
    """(label, count) pairs without the zeros: badges for the statuses that happened, not all seven."""
    if isinstance(counts, dict):
        counts = counts.items()
    return [(label, count) for label, count in counts or () if count]

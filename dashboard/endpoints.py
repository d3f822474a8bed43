"""What the application-endpoint tile shows per deployment group, best source first:

1. the DNS name of the load balancer in front of the group's ELBv2 target groups, looked up with the
   project's AWS connection and cached (a page view costs no AWS call while the cache is warm);
2. the group's health-check URL, filled in for one of its hosts;
3. a host name of the group, labelled as a fallback.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from deployments import healthcheck
from integrations.models import AwsConnection

log = logging.getLogger(__name__)

CACHE_SECONDS = 300
# A failed lookup is remembered briefly too, so an unreachable AWS does not slow every page view.
ERROR_CACHE_SECONDS = 30

LOAD_BALANCER, HEALTH_CHECK, HOST = "load_balancer", "health_check", "host"


@dataclass
class Endpoint:
    group: object
    value: str = ""
    kind: str = ""
    # Why a better source was not used, e.g. an AWS error.
    note: str = ""

    @property
    def is_url(self) -> bool:
        return self.value.startswith(("http://", "https://"))


def _target_groups(group) -> list[str]:
    info = group.load_balancer_info or {}
    return list(info.get("target_groups") or []) if info.get("router") == "elbv2" else []


def load_balancer_dns(connection, group) -> list[str]:
    """DNS names of the load balancers the group's target groups are attached to (cached)."""
    arns = _target_groups(group)
    region = (group.load_balancer_info or {}).get("region") or connection.region
    digest = hashlib.sha256("\n".join([region, *sorted(arns)]).encode()).hexdigest()
    key = f"endpoint:lb:{connection.pk}:{connection.updated_at.timestamp()}:{digest[:32]}"
    cached = _cache_get(key)
    if cached is not None:
        if "error" in cached:
            raise LookupError(cached["error"])
        return cached["names"]
    try:
        names = _lookup(connection, region, arns)
    except Exception as exc:  # AWS errors, timeouts, bad credentials: shown on the tile, never a 500
        message = str(exc) or type(exc).__name__
        _cache_set(key, {"error": message}, ERROR_CACHE_SECONDS)
        raise LookupError(message) from None
    _cache_set(key, {"names": names}, CACHE_SECONDS)
    return names


def _lookup(connection, region: str, arns: list[str]) -> list[str]:
    from integrations.aws.client import for_project  # boto3 only when a group has target groups

    aws = for_project(
        connection.project_id,
        region=region or None,
        timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT,
    )
    elbv2 = aws.client("elbv2")
    lb_arns = sorted(
        {
            arn
            for tg in elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
            for arn in tg.get("LoadBalancerArns", [])
        }
    )
    if not lb_arns:
        return []
    balancers = elbv2.describe_load_balancers(LoadBalancerArns=lb_arns)["LoadBalancers"]
    return sorted(lb["DNSName"] for lb in balancers if lb.get("DNSName"))


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # a cache outage costs a lookup, not the page
        log.warning("endpoint cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, value, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        log.warning("endpoint cache unavailable", exc_info=True)


def application_endpoints(project, summaries) -> list[Endpoint]:
    """One Endpoint per group summary (dashboard.summaries.GroupSummary)."""
    connection = None
    if any(_target_groups(s.group) for s in summaries):
        connection = AwsConnection.objects.filter(project=project).first()
    out = []
    for summary in summaries:
        group = summary.group
        endpoint = Endpoint(group)
        if _target_groups(group):
            if connection is None:
                endpoint.note = "Connect AWS to show the load balancer's DNS name."
            else:
                try:
                    names = load_balancer_dns(connection, group)
                except LookupError as exc:
                    endpoint.note = f"The load balancer's DNS name could not be read from AWS: {exc}"
                else:
                    if names:
                        endpoint.value, endpoint.kind = ", ".join(names), LOAD_BALANCER
                        out.append(endpoint)
                        continue
                    endpoint.note = "Its target groups are not attached to a load balancer yet."
        template = (group.health_check or {}).get("url")
        if template and (summary.endpoint or "{" not in template):
            try:
                endpoint.value = healthcheck.url_for(
                    template, name=summary.endpoint, hostname=summary.endpoint, tags={}
                )
                endpoint.kind = HEALTH_CHECK
            except ValueError:
                pass
        if not endpoint.kind and summary.endpoint:
            endpoint.value, endpoint.kind = summary.endpoint, HOST
        out.append(endpoint)
    return out

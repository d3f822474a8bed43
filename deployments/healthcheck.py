"""The built-in HTTP health check: no cloud, no load balancer, just the host's own endpoint.

Runs in a worker, outside any transaction. It needs `threshold` consecutive good answers, then
keeps checking every `interval` for `bake_seconds`; any bad answer during the bake fails it.

Where it goes: the group's URL template sets the scheme, port, path and query only. The host is the
address the server saw the instance's agent connect from (`Instance.peer_address`), or, where the
operator enables FLEETDECK_HEALTH_CHECK_AGENT_HOSTNAMES, the host name the agent reported, which must
then resolve to that same address. So a registration token cannot aim health checks at the server's
own network; the request goes through the outbound policy (core.outbound) with that address as the
only one it may reach, private addresses included, loopback and metadata only if the operator allows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings

from core import outbound

DEFAULTS = {"expected_status": 200, "interval": 2.0, "threshold": 2, "timeout": 60.0, "bake_seconds": 0.0}


@dataclass
class Result:
    ok: bool
    message: str
    attempts: int
    seconds: float


def url_for(template: str, *, name: str, hostname: str, tags: dict) -> str:
    try:
        return template.format(name=name, hostname=hostname or name, tags=tags or {})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"health check URL {template!r} cannot be filled in: {exc}") from None


HOST_PLACEHOLDERS = ("{hostname}", "{name}")
HOST_ONLY_MESSAGE = (
    "the host of a health-check URL is always the instance's own address, so the template sets only "
    "the scheme, port, path and query: write {hostname} as the host, e.g. http://{hostname}:8080/health"
)


def group_problem(group) -> str | None:
    """Why `group`'s health check cannot run at all (a URL saved before the host had to be
    `{hostname}`), in the words a deployment's error shows; None when it can or there is none."""
    url = (group.health_check or {}).get("url")
    problem = template_problem(url) if url else None
    if not problem:
        return None
    return (
        f"The health check of deployment group {group.name} cannot run: {problem}. "
        "Change it in the group's settings and deploy again; no host was touched."
    )


def template_problem(template: str) -> str | None:
    """Why a URL template cannot be used, or None. Its host must be a placeholder alone."""
    match = re.match(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/?#]*)", template or "")
    if not match or match["scheme"].lower() not in ("http", "https"):
        return f"{template!r} is not an http(s) URL template"
    netloc = match["netloc"]
    host = netloc.rsplit("@", 1)[-1]
    host = re.sub(r":(\d+|\{[^}]*\})$", "", host)
    if "@" in netloc or host not in HOST_PLACEHOLDERS:
        return HOST_ONLY_MESSAGE
    return None


def target(
    template: str, *, name: str, hostname: str, peer_address: str | None, tags: dict
) -> tuple[str, str]:
    """(the URL to probe, the address it must reach) for one instance; ValueError says why not."""
    problem = template_problem(template)
    if problem:
        raise ValueError(f"Health check URL: {problem}.")
    if not peer_address:
        raise ValueError(
            f"No address is recorded for {name} yet: the server records the address its agent connects "
            "from at registration and on every poll. Start the agent (or wait for its next poll)."
        )
    use_name = bool(getattr(settings, "HEALTH_CHECK_AGENT_HOSTNAMES", False) and hostname)
    host = hostname if use_name else peer_address
    marks = {"fleetdeck-instance-name": name, "fleetdeck-instance-host": host}
    parts = urlsplit(
        url_for(template, name="fleetdeck-instance-name", hostname="fleetdeck-instance-host", tags=tags)
    )
    path, query = parts.path, parts.query
    for mark, value in marks.items():
        path, query = path.replace(mark, value), query.replace(mark, value)
    port = f":{parts.port}" if parts.port else ""
    shown = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, shown + port, path, query, "")), peer_address


def probe(url: str, timeout: float, peer: str | None = None) -> tuple[int | None, str]:
    """One GET through the outbound policy, pinned to `peer` (redirects too must stay on it)."""
    try:
        with outbound.session(timeout=timeout, redirects=True, peer=peer) as http:
            response = http.get(url, stream=True)
            response.close()
            return response.status_code, ""
    except outbound.OutboundRefused as exc:
        return None, str(exc)
    except requests.RequestException as exc:
        return None, outbound.describe_error(exc)


def check(
    config: dict, url: str, *, peer: str | None = None, clock=time.monotonic, sleep=time.sleep
) -> Result:
    cfg = {**DEFAULTS, **(config or {})}
    expected, interval = int(cfg["expected_status"]), float(cfg["interval"])
    threshold, limit, bake = int(cfg["threshold"]), float(cfg["timeout"]), float(cfg["bake_seconds"])
    started = clock()
    good = attempts = 0
    last = ""
    while True:
        attempts += 1
        status, error = probe(url, timeout=min(interval * 2 + 1, 10), peer=peer)
        if status == expected:
            good += 1
            if good >= threshold:
                break
        else:
            good = 0
            last = f"{url} answered {status}" if status is not None else f"{url} did not answer: {error}"
        if clock() - started > limit:
            return Result(
                False,
                f"Unhealthy after {clock() - started:.1f} s ({attempts} checks; wanted {threshold} x {expected}): {last}",
                attempts,
                clock() - started,
            )
        sleep(interval)
    healthy_at = clock()
    while clock() - healthy_at < bake:
        sleep(interval)
        attempts += 1
        status, error = probe(url, timeout=min(interval * 2 + 1, 10), peer=peer)
        if status != expected:
            detail = f"answered {status}" if status is not None else f"did not answer: {error}"
            return Result(
                False, f"Failed during the {bake:g} s bake: {url} {detail}", attempts, clock() - started
            )
    return Result(
        True,
        f"Healthy: {threshold} x {expected} from {url} after {healthy_at - started:.2f} s"
        + (f", then stayed healthy for a {bake:g} s bake" if bake else ""),
        attempts,
        clock() - started,
    )

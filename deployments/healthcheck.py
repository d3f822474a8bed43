"""The built-in HTTP health check: no cloud, no load balancer, just the host's own endpoint.

Runs in a worker, outside any transaction. It needs `threshold` consecutive good answers, then
keeps checking every `interval` for `bake_seconds`; any bad answer during the bake fails it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

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


def probe(url: str, timeout: float) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - operator-configured
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))


def check(config: dict, url: str, *, clock=time.monotonic, sleep=time.sleep) -> Result:
    cfg = {**DEFAULTS, **(config or {})}
    expected, interval = int(cfg["expected_status"]), float(cfg["interval"])
    threshold, limit, bake = int(cfg["threshold"]), float(cfg["timeout"]), float(cfg["bake_seconds"])
    started = clock()
    good = attempts = 0
    last = ""
    while True:
        attempts += 1
        status, error = probe(url, timeout=min(interval * 2 + 1, 10))
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
        status, error = probe(url, timeout=min(interval * 2 + 1, 10))
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

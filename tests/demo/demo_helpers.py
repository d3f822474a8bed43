"""Helpers for the demo tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import random
from pathlib import Path

from dashboard.demo.sample import port_in_use


def quiet_ports(count: int) -> int:
    """The first of `count` free consecutive ports below the ephemeral range, so no outgoing
    connection on this busy machine can take one between this check and the bind."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        base = random.randrange(10000, min(low, 32768) - count)
        if not any(port_in_use(base + i) for i in range(count)):
            return base
    raise AssertionError(f"no {count} consecutive free ports")

"""A deployment's log as HTML: one line per row, each with its time.

Warning, hot path: a deployment page renders every line it has (thousands on a wide rollout), so the
lines are built here with one f-string each rather than a template loop, which costs several times
as much per line. deployment.js builds the same markup for the lines that arrive live.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# What the agent sends as a line's `ts`: Python's isoformat() of a UTC time.
_AGENT_TS = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,6})?(?:\+00:00|Z)$")


def line_time(ts: object, stored: datetime) -> tuple[str, str]:
    """(ISO 8601 in UTC to the millisecond, "HH:MM:SS") of when a line was printed: the agent's `ts`
    when it is a UTC time, else when the server stored the line (an agent's text is not trusted)."""
    match = _AGENT_TS.match(ts) if isinstance(ts, str) else None
    if match:
        day, clock, fraction = match.groups()
        millis = (fraction or ".000")[1:4].ljust(3, "0")
        return f"{day}T{clock}.{millis}Z", clock
    return stored.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stored.microsecond // 1000:03d}Z", stored.strftime(
        "%H:%M:%S"
    )


def render_lines(rows) -> SafeString:
    """The <span class="ln"> of each (seq, message, data, created_at): its time (UTC, turned into the
    viewer's zone by the page's script, with the full UTC time as a tooltip) and its text."""
    out = []
    for seq, message, data, created_at in rows:
        data = data or {}
        iso, clock = line_time(data.get("ts"), created_at)
        err = " err" if data.get("stream") == "stderr" else ""
        out.append(
            f'<span class="ln{err}" data-seq="{seq}"><time class="ts" datetime="{iso}" '
            f'title="{iso[:10]} {iso[11:23]} UTC">{clock}</time><span class="tx">{escape(message)}</span>\n</span>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped or generated here

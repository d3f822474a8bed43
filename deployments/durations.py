"""The one way a duration is written on a page: 12.3 s, 3 m 5 s, 2 h 10 m.

The deployment page's script (`static/js/deployment.js`, `human`) writes live durations the same way,
so a value the server rendered and one the page updated look alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def human(value: timedelta | float | None, empty: str = "") -> str:
    """A duration (a timedelta or seconds) for people; `empty` when there is none. Negative is 0."""
    if value is None:
        return empty
    seconds = max(value.total_seconds() if isinstance(value, timedelta) else float(value), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} m"


def between(start: datetime | None, end: datetime | None, empty: str = "") -> str:
    """The time from start to end; `empty` unless both are known."""
    if start is None or end is None:
        return empty
    return human(end - start, empty)

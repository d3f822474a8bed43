"""Server-side SVG charts: deployment success rate and median duration per day.

No JavaScript and no chart library: the page works without scripts and nothing loads from a CDN.
Each chart carries <title> and <desc> for screen readers, and every bar or point its own <title>.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import CharField, FloatField, Func
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from deployments.durations import human
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, DeploymentStatus


@dataclass
class DayStat:
    day: date
    succeeded: int = 0
    finished: int = 0
    median_seconds: float | None = None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


class _UtcDay(Func):
    """The UTC calendar day of a timestamp as 'YYYY-MM-DD' text, computed natively in SQL.

    TruncDate and duration arithmetic run Python functions per row on SQLite, which cost more
    than the rest of the dashboard on a busy project; these expressions stay in C.
    """

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return self.as_sql(compiler, connection, template=template, **extra)


class _SecondsBetween(Func):
    """Seconds from the first timestamp to the second, as a float."""

    output_field = FloatField()
    arity = 2

    def as_sqlite(self, compiler, connection, **extra):
        template = "((julianday(%(expressions)s)) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "EXTRACT(EPOCH FROM (%(expressions)s))::float"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)


def daily_stats(project, days: int = 30, now: datetime | None = None) -> list[DayStat]:
    """One entry per day for the last `days` days (oldest first), from a single query.

    Warning: this reads one small row (day text, status, seconds) per finished deployment in the
    window, because a median is not portable SQL; the window bounds the row count, and the
    columns need no Python conversion.
    """
    today = (now or timezone.now()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        Deployment.objects.filter(
            application__project=project, created_at__gte=start, status__in=list(DEPLOYMENT_TERMINAL)
        )
        .annotate(day=_UtcDay("created_at"), took=_SecondsBetween("ended_at", "started_at"))
        .values_list("day", "status", "took")
        .order_by()
    )
    stats = {(first + timedelta(days=n)).isoformat(): DayStat(first + timedelta(days=n)) for n in range(days)}
    durations: dict[str, list[float]] = {}
    for day, status, took in rows:
        stat = stats.get(day)
        if stat is None:
            continue
        stat.finished += 1
        if status == DeploymentStatus.SUCCEEDED:
            stat.succeeded += 1
        if took is not None:
            durations.setdefault(day, []).append(took)
    for day, values in durations.items():
        stats[day].median_seconds = statistics.median(values)
    return list(stats.values())


# The charts have no viewBox: they are as wide as their card and HEIGHT pixels tall, and every x is a
# percentage of the width, so labels keep their CSS size (12 px) on a phone instead of shrinking with
# the drawing. y is in pixels: the plot runs from PAD_TOP to HEIGHT - PAD_BOTTOM.
HEIGHT = 180
PAD_TOP, PAD_BOTTOM = 18, 24
X_TICK_EVERY = 7  # days: a date under every 7th day, counting back from today
NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _slot(index: int, count: int) -> tuple[float, float]:
    """Left edge and width of a day's slot, in percent of the chart's width."""
    width = 100 / count
    return index * width, width


def _y(fraction: float) -> float:
    return PAD_TOP + (1 - fraction) * (HEIGHT - PAD_TOP - PAD_BOTTOM)


def _x_ticks(days: list[DayStat]) -> list[str]:
    """A tick and a date under today and every X_TICK_EVERY days before it (five for 30 days)."""
    base = HEIGHT - PAD_BOTTOM
    out = []
    for index in range(len(days) - 1, -1, -X_TICK_EVERY):
        left, width = _slot(index, len(days))
        x, anchor = left + width / 2, "middle"
        if index == len(days) - 1:
            x, anchor = 100, "end"
        elif index < 3:
            x, anchor = left, "start"
        out.append(
            f'<line class="tick" x1="{left + width / 2:.2f}%" y1="{base}" x2="{left + width / 2:.2f}%" y2="{base + 4}"/>'
            f'<text class="label" x="{x:.2f}%" y="{HEIGHT - 5}" text-anchor="{anchor}">'
            f"{days[index].day:%b} {days[index].day.day}</text>"
        )
    return out


def _grid(ticks: list[tuple[float, str]]) -> list[str]:
    """A line per tick (fraction of the scale): the axis at zero, dashed grid lines above."""
    return [
        f'<line class="{"axis" if fraction == 0 else "grid"}" x1="0" y1="{_y(fraction):.1f}" '
        f'x2="100%" y2="{_y(fraction):.1f}"/>'
        for fraction, _ in ticks
    ]


def _y_labels(ticks: list[tuple[float, str]]) -> list[str]:
    """Each grid line's value just above it at the left, drawn over the data (with a halo, in CSS)."""
    return [
        f'<text class="label" x="2" y="{_y(fraction) - 4:.1f}">{escape(label)}</text>'
        for fraction, label in ticks
        if fraction > 0
    ]


def _frame(
    chart_id: str, title: str, desc: str, body: list[str], ticks: list[tuple[float, str]], days
) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" width="100%" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        + "".join(_grid(ticks))
        + "".join(body)
        + "".join(_x_ticks(days))
        + "".join(_y_labels(ticks))
        + "</svg>"
    )


def success_rate_svg(days: list[DayStat]) -> SafeString:
    """One bar per day that had finished deployments; its height is the share that succeeded."""
    body = []
    with_data = [d for d in days if d.finished]
    for index, stat in enumerate(days):
        if not stat.finished:
            continue
        x, width = _slot(index, len(days))
        rate = stat.success_rate or 0.0
        # A 0% day still gets a 2-pixel stub, so a day of failures is visible, not blank.
        y = min(_y(rate), HEIGHT - PAD_BOTTOM - 2)
        tip = f"{stat.day:%Y-%m-%d}: {stat.succeeded} of {stat.finished} succeeded ({rate:.0%})"
        body.append(
            f'<rect class="bar{" bar-bad" if rate < 1 else ""}" x="{x + width * 0.15:.2f}%" y="{y:.1f}" '
            f'width="{width * 0.7:.2f}%" height="{HEIGHT - PAD_BOTTOM - y:.1f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    total = sum(d.finished for d in with_data)
    ok = sum(d.succeeded for d in with_data)
    desc = f"Daily share of finished deployments that succeeded over the last {len(days)} days. " + (
        f"{ok} of {total} succeeded overall." if total else "No deployments finished in this period."
    )
    ticks = [(0.0, "0"), (0.5, "50%"), (1.0, "100%")]
    return mark_safe(_frame("chart-success", "Deployment success rate per day", desc, body, ticks, days))  # noqa: S308


def _format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def duration_scale(peak: float) -> tuple[float, list[float]]:
    """The top of the scale and its tick values: round steps (1 s, 2 s, 5 s … 30 s, 1 min …), 2 to 4
    of them above zero, the top at or above the slowest day."""
    step = next((n for n in NICE_SECONDS if peak / n <= 4), NICE_SECONDS[-1] * max(1, round(peak / 345600)))
    count = max(2, -(-int(peak * 1000) // int(step * 1000)))  # ceil, on integers
    return step * count, [step * n for n in range(count + 1)]


def duration_svg(days: list[DayStat]) -> SafeString:
    """A line through each day's median deployment duration, with a point per day."""
    points = [(i, d) for i, d in enumerate(days) if d.median_seconds is not None]
    peak = max((d.median_seconds for _, d in points), default=0.0) or 1.0
    top, values = duration_scale(peak)
    coords = []
    body = []
    for index, stat in points:
        x, width = _slot(index, len(days))
        cx, cy = x + width / 2, _y(stat.median_seconds / top)
        coords.append((cx, cy))
        tip = f"{stat.day:%Y-%m-%d}: median {human(stat.median_seconds)} over {stat.finished}"
        body.append(
            f'<circle class="point" cx="{cx:.2f}%" cy="{cy:.1f}" r="3.5"><title>{escape(tip)}</title></circle>'
        )
    # Segments, not a polyline: polyline points cannot be percentages.
    segments = [
        f'<line class="line" x1="{a[0]:.2f}%" y1="{a[1]:.1f}" x2="{b[0]:.2f}%" y2="{b[1]:.1f}"/>'
        for a, b in itertools.pairwise(coords)
    ]
    desc = f"Median duration of finished deployments per day over the last {len(days)} days; " + (
        f"the slowest day's median was {human(peak)}." if points else "no durations recorded yet."
    )
    title = "Median deployment duration per day"
    ticks = [(value / top, _format_seconds(value)) for value in values]
    return mark_safe(_frame("chart-duration", title, desc, segments + body, ticks, days))  # noqa: S308

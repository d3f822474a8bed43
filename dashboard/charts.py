"""Server-side SVG charts: deployment success rate and median duration per day.

No JavaScript and no chart library: the page works without scripts and nothing loads from a CDN.
Each chart carries <title> and <desc> for screen readers, and every bar or point its own <title>.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import CharField, FloatField, Func
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from deployments.durations import human
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, DeploymentStatus

WIDTH, HEIGHT = 600, 160
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 40, 10, 10, 24


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


def _slot(index: int, count: int) -> tuple[float, float]:
    """x of the slot's left edge and its width."""
    width = (WIDTH - PAD_LEFT - PAD_RIGHT) / count
    return PAD_LEFT + index * width, width


def _y(fraction: float) -> float:
    return PAD_TOP + (1 - fraction) * (HEIGHT - PAD_TOP - PAD_BOTTOM)


def _frame(chart_id: str, title: str, desc: str, body: list[str], top_label: str, days: list[DayStat]) -> str:
    base = HEIGHT - PAD_BOTTOM
    first, last = days[0].day, days[-1].day
    return (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f'<line class="axis" x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - PAD_RIGHT}" y2="{base}"/>'
        f'<line class="grid" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP}"/>'
        f'<text class="label" x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{escape(top_label)}</text>"
        f'<text class="label" x="{PAD_LEFT - 4}" y="{base}" text-anchor="end">0</text>'
        f'<text class="label" x="{PAD_LEFT}" y="{HEIGHT - 6}">{first:%b %d}</text>'
        f'<text class="label" x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" text-anchor="end">{last:%b %d}</text>'
        + "".join(body)
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
        # A 0% day still gets a 2-unit stub, so a day of failures is visible, not blank.
        y = min(_y(rate), HEIGHT - PAD_BOTTOM - 2)
        tip = f"{stat.day:%Y-%m-%d}: {stat.succeeded} of {stat.finished} succeeded ({rate:.0%})"
        body.append(
            f'<rect class="bar{" bar-bad" if rate < 1 else ""}" x="{x + 1:.1f}" y="{y:.1f}" '
            f'width="{max(width - 2, 1):.1f}" height="{HEIGHT - PAD_BOTTOM - y:.1f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    total = sum(d.finished for d in with_data)
    ok = sum(d.succeeded for d in with_data)
    desc = f"Daily share of finished deployments that succeeded over the last {len(days)} days. " + (
        f"{ok} of {total} succeeded overall." if total else "No deployments finished in this period."
    )
    return mark_safe(_frame("chart-success", "Deployment success rate per day", desc, body, "100%", days))  # noqa: S308


def duration_svg(days: list[DayStat]) -> SafeString:
    """A line through each day's median deployment duration, with a point per day."""
    points = [(i, d) for i, d in enumerate(days) if d.median_seconds is not None]
    peak = max((d.median_seconds for _, d in points), default=0.0) or 1.0
    coords = []
    body = []
    for index, stat in points:
        x, width = _slot(index, len(days))
        cx, cy = x + width / 2, _y(stat.median_seconds / peak)
        coords.append(f"{cx:.1f},{cy:.1f}")
        tip = f"{stat.day:%Y-%m-%d}: median {human(stat.median_seconds)} over {stat.finished}"
        body.append(
            f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="3"><title>{escape(tip)}</title></circle>'
        )
    if len(coords) > 1:
        body.insert(0, f'<polyline class="line" fill="none" points="{" ".join(coords)}"/>')
    desc = f"Median duration of finished deployments per day over the last {len(days)} days; " + (
        f"the slowest day's median was {human(peak)}." if points else "no durations recorded yet."
    )
    title = "Median deployment duration per day"
    return mark_safe(_frame("chart-duration", title, desc, body, human(peak), days))  # noqa: S308

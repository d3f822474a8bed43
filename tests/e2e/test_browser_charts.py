"""The project dashboard's charts in Debian's Chromium, on a desktop and on a phone: every label is
drawn at 11 px or more, the dates do not collide, and nothing sticks out of its chart."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from page_setup import PageRollout, make_user
from test_browser_deployments import ARTIFACTS, chromium, login  # noqa: F401  (the module's browser fixture)

from deployments.models import Deployment

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def _history(r: PageRollout) -> None:
    """Thirty days of finished deployments, a few failed, durations from seconds to minutes."""
    revision = r.revision("v1")
    now = timezone.now()
    for day in range(30):
        at = now - timedelta(days=day, hours=1)
        deployment = Deployment.objects.create(
            application=r.app,
            deployment_group=r.group,
            revision=revision,
            deployment_config=r.group.deployment_config,
            file_exists_behavior="DISALLOW",
            status="Failed" if day % 6 == 0 else "Succeeded",
        )
        ended = at + timedelta(seconds=20 + day * 9)
        Deployment.objects.filter(pk=deployment.pk).update(created_at=at, started_at=at, ended_at=ended)


LABELS = """svg => [...svg.querySelectorAll('text')].map(t => {
  const box = t.getBoundingClientRect(), frame = svg.getBoundingClientRect();
  return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
          left: box.left, right: box.right, bottom: box.bottom, y: Math.round(box.top),
          inside: box.left >= frame.left - 0.5 && box.right <= frame.right + 0.5};
})"""


@pytest.mark.parametrize("size", SIZES)
def test_chart_labels_are_readable_and_fit_at_both_sizes(live_stack, fleet, tmp_path, chromium, size):  # noqa: F811
    width, height = SIZES[size]
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        r = PageRollout(live_stack, fleet, tmp_path, [])
        _history(r)
        login(page, live_stack.url, make_user(r.project, "viewer"), f"/p/{r.project.slug}/")
        for chart in ("#chart-success", "#chart-duration"):
            labels = page.locator(chart).evaluate(LABELS)
            assert len(labels) >= 7, labels  # at least two values and five dates
            for label in labels:
                assert label["px"] >= 11, label
                assert label["inside"], label
            dates = sorted(
                (lb for lb in labels if lb["y"] == max(x["y"] for x in labels)), key=lambda lb: lb["left"]
            )
            assert len(dates) == 5, dates
            for before, after in itertools.pairwise(dates):
                assert before["right"] + 4 <= after["left"], (before, after)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".charts").screenshot(path=str(ARTIFACTS / f"charts-{size}.png"))
    finally:
        context.close()

"""The deployment page in Debian's Chromium while real agents roll out: ticking duration, times in the
viewer's zone, a running batch, which logs are open, the host/event filters and the follow toggle.

The browser runs in Asia/Kolkata (UTC+05:30), so a time left in UTC cannot pass for a local one.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from page_setup import PageRollout, make_user
from test_browser_deployments import ARTIFACTS, chromium, login  # noqa: F401  (the module's browser fixture)

from deployments import engine

ZONE = "Asia/Kolkata"
PAUSE = 14  # seconds the slow host's AfterInstall sleeps between its two lines


@pytest.fixture
def phone(chromium):  # noqa: F811
    context = chromium.new_context(timezone_id=ZONE, locale="en-US", viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def local(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))


def is_open(page, host: str) -> bool:
    return page.locator(f'#log-hosts .log-host[data-host="{host}"]').evaluate("d => d.open")


IN_VIEW = "el => { const r = el.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }"


def in_view(locator) -> bool:
    return locator.evaluate(IN_VIEW)


def test_a_running_deployment_ticks_shows_local_times_and_opens_the_logs_that_matter(
    live_stack, fleet, tmp_path, phone
):
    from playwright.sync_api import expect

    page = phone
    r = PageRollout(live_stack, fleet, tmp_path, ["bad", "ok", "slow"])
    bad, ok, slow = r.hosts
    r.control(0, "AfterInstall", "fail")
    r.control(2, "AfterInstall", "sleep", str(PAUSE))
    deployment = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    login(
        page,
        live_stack.url,
        make_user(r.project, "viewer"),
        f"/p/{r.project.slug}/deployments/{deployment.pk}/",
    )
    slow_log = page.locator(f'#log-hosts .log-host[data-host="{slow}"] .log-event[data-event="AfterInstall"]')
    expect(slow_log).to_contain_text(f"v1 AfterInstall on {slow}: first line", timeout=30_000)

    # While the slow host sleeps: the deployment runs, and its duration ticks.
    expect(page.locator("#dep-status")).to_have_text("InProgress")
    first = page.locator("#dep-duration").inner_text()
    time.sleep(2.2)
    second = page.locator("#dep-duration").inner_text()
    assert re.fullmatch(r"\d+\.\d s|\d+ m \d+ s", second) and second != first, (first, second)
    running_event = page.locator(f'#instances .host[data-host="{slow}"] li[data-event="AfterInstall"]')
    expect(running_event.locator("[data-event-duration]")).not_to_have_text("")

    # The one batch is visibly running.
    batch = page.locator('#batches .batch[data-batch="0"]')
    expect(batch).to_have_attribute("data-state", "running")
    expect(batch.locator("[data-batch-state]")).to_have_text("Running")

    # Logs: the failed and the running host's are open, the succeeded host's is closed.
    expect(page.locator(f'#instances .host[data-host="{ok}"] [data-target-status]')).to_have_text("Succeeded")
    expect(page.locator(f'#instances .host[data-host="{bad}"] [data-target-status]')).to_have_text("Failed")
    assert (is_open(page, bad), is_open(page, ok), is_open(page, slow)) == (True, False, True)

    # Every line has its time, in the viewer's zone, with UTC to the millisecond in its tooltip.
    stamp = slow_log.locator(".ln time.ts").first
    iso = stamp.get_attribute("datetime")
    assert stamp.inner_text() == f"{local(iso):%H:%M:%S}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", stamp.get_attribute("title"))
    assert page.locator("#log-hosts .ln").count() == page.locator("#log-hosts .ln time.ts").count() > 0
    created = page.locator("#h-summary ~ dl time").first
    assert f"{local(created.get_attribute('datetime')):%H:%M:%S}" in created.inner_text()
    assert "GMT+5:30" in created.inner_text() and created.get_attribute("title").endswith(" UTC")

    # Follow: off, lines arrive and the page stays put; on, the newest line comes into view and
    # the slow host's second line, when it arrives, is in view too.
    assert page.evaluate("scrollY") == 0
    page.get_by_label("Follow the newest line").check()
    page.evaluate("scrollTo(0, 0)")  # back to the top, far above the log on a phone
    expect(slow_log).to_contain_text(f"v1 AfterInstall on {slow}: second line", timeout=PAUSE * 1000 + 30_000)
    second_line = slow_log.locator(".ln", has_text="second line")
    page.wait_for_function("() => scrollY > 0")
    # Following scrolls on the next frames: wait (bounded) for the line itself to be in view.
    page.wait_for_function(IN_VIEW, arg=second_line.element_handle(), timeout=10_000)
    assert in_view(second_line)

    # The end arrives live: the duration stops, Ended is a local time, the batch is done.
    expect(page.locator("#dep-status")).to_have_text(re.compile("^(Succeeded|Failed)$"), timeout=60_000)
    expect(batch).to_have_attribute("data-state", "done")
    ended = page.locator("#dep-ended time")
    assert f"{local(ended.get_attribute('datetime')):%H:%M:%S}" in ended.inner_text()
    stopped = page.locator("#dep-duration").inner_text()
    time.sleep(1.5)
    assert page.locator("#dep-duration").inner_text() == stopped
    # A succeeded host's log closes, unless "follow" is showing it: the viewer's choice wins.
    expect(page.locator(f'#log-hosts .log-host[data-host="{slow}"]')).to_have_attribute("open", "")
    expect(page.locator(f'#log-hosts .log-host[data-host="{ok}"]')).not_to_have_attribute("open", "")
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "deployment-page-phone.png"), full_page=True)


def test_the_log_filters_by_host_and_by_event(live_stack, fleet, tmp_path, phone):
    from playwright.sync_api import expect

    page = phone
    r = PageRollout(live_stack, fleet, tmp_path, ["a", "b"])
    first, other = r.hosts
    deployment = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    login(
        page,
        live_stack.url,
        make_user(r.project, "viewer"),
        f"/p/{r.project.slug}/deployments/{deployment.pk}/",
    )
    expect(page.locator("#dep-status")).to_have_text("Succeeded", timeout=90_000)
    hosts = page.locator("#log-hosts .log-host:visible")
    assert [is_open(page, h) for h in r.hosts] == [False, False]

    page.get_by_label("Host", exact=True).select_option(first)
    expect(hosts).to_have_count(1)
    expect(page.locator(f'#log-hosts .log-host[data-host="{first}"]')).to_be_visible()
    assert is_open(page, first), "the chosen host's log opens"

    page.get_by_label("Event", exact=True).select_option("ValidateService")
    events = page.locator(f'#log-hosts .log-host[data-host="{first}"] .log-event:visible')
    expect(events).to_have_count(1)
    expect(events).to_contain_text(f"v1 ValidateService on {first}: second line")

    page.get_by_label("Host", exact=True).select_option("")
    expect(hosts).to_have_count(2)
    assert is_open(page, other), "with an event chosen, every host with output for it opens"
    page.get_by_label("Filter log lines").fill("second line")
    visible_lines = page.locator("#log-hosts .ln:visible")
    expect(visible_lines).to_have_count(2)
    for text in visible_lines.all_inner_texts():
        assert "ValidateService" in text and "second line" in text

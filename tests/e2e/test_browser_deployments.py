"""Deployment pages in Debian's Chromium against the live stack with real agents.

Lives under tests/e2e so it shares the one live stack (and its xdist group) with the other e2e tests.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import browser
from browser import login
from page_setup import PageRollout, make_user

from deployments import engine

# Older browser test modules import these from here; conftest.py gives them to every e2e module.
chromium, page = browser.chromium, browser.page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTS = ["web-1", "web-2", "web-3"]
AGENT_EVENTS = ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]


def test_a_contributor_deploys_from_the_form_and_watches_it_succeed_without_a_reload(
    live_stack, fleet, tmp_path, page
):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, HOSTS, config="CodeDeployDefault.HalfAtATime")
    revision = r.revision("v1")
    # Keep the rollout going a little after the page has loaded, so the end arrives live.
    r.control(2, "ValidateService", "sleep", "2")
    contributor = make_user(r.project, "contributor")
    new = f"/p/{r.project.slug}/deployments/new/"
    login(page, live_stack.url, contributor, new)

    page.get_by_label("Application / group").select_option(str(r.group.pk))
    page.get_by_label("Revision").select_option(str(revision.pk))
    page.get_by_role("button", name="Preview plan").click()
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("Batch 1")
    for host in r.hosts:
        expect(preview).to_contain_text(host)
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(re.compile(r".*/deployments/d-[A-Z0-9]+/$"))
    page.evaluate("window.__notReloaded = true")

    expect(page.locator("#dep-status")).to_have_text("Succeeded", timeout=90_000)

    assert page.evaluate("window.__notReloaded") is True
    for host in r.hosts:
        card = page.locator(f'#instances .host[data-host="{host}"]')
        expect(card.locator("[data-target-status]")).to_have_text("Succeeded")
        for event in AGENT_EVENTS:
            expect(card.locator(f'li[data-event="{event}"] [data-event-status]')).to_have_text("Succeeded")
        log = page.locator(f'#log-hosts .log-host[data-host="{host}"]')
        expect(log).to_contain_text(f"v1 ValidateService on {host}: second line")
    expect(page.locator('[data-count="Succeeded"]')).to_have_text("3")
    expect(page.locator("#stop-button")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deployment-succeeded.png"), full_page=True)


def test_a_viewer_sees_no_deploy_stop_or_redeploy_button(live_stack, fleet, tmp_path, page):
    r = PageRollout(live_stack, fleet, tmp_path, hosts=[])
    r.idle_instances(2)
    deployment = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    viewer = make_user(r.project, "viewer")
    detail = f"/p/{r.project.slug}/deployments/{deployment.pk}/"
    login(page, live_stack.url, viewer, detail)

    assert page.locator("#dep-status").inner_text() in ("InProgress", "Created")
    assert page.locator("#stop-button").count() == 0
    assert page.locator("#redeploy-button").count() == 0
    page.goto(f"{live_stack.url}/p/{r.project.slug}/deployments/")
    assert page.locator(f'a[href="{detail}"]').count() == 1
    assert page.locator("#new-deployment").count() == 0
    assert page.goto(f"{live_stack.url}/p/{r.project.slug}/deployments/new/").status == 403
    engine.request_stop(deployment.pk)


PAUSE = 6  # seconds between the hook's first and second line


def test_the_live_log_shows_a_line_while_its_hook_is_still_running(live_stack, fleet, tmp_path, page):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, HOSTS[:1])
    host = r.hosts[0]
    # A pause long enough that "while the hook runs" leaves room for a loaded machine; the agent
    # heartbeats while the hook is silent, so it is not taken for lost (4 s offline in the e2e stack).
    r.control(0, "AfterInstall", "sleep", str(PAUSE))
    deployment = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    login(
        page,
        live_stack.url,
        make_user(r.project, "viewer"),
        f"/p/{r.project.slug}/deployments/{deployment.pk}/",
    )
    log = page.locator(f'#log-hosts .log-host[data-host="{host}"] .log-event[data-event="AfterInstall"]')

    expect(log).to_contain_text(f"v1 AfterInstall on {host}: first line", timeout=30_000)
    seen_at = time.time()
    assert "second line" not in log.inner_text()
    ends = [rec for rec in r_records(r) if rec.event == "AfterInstall" and rec.phase == "end"]
    assert not ends, "the hook had already finished when its first line showed"
    start = next(rec for rec in r_records(r) if rec.event == "AfterInstall" and rec.phase == "start")
    assert seen_at - start.at < PAUSE - 1  # inside the pause, with a second to spare

    expect(log).to_contain_text(f"v1 AfterInstall on {host}: second line", timeout=30_000)
    expect(page.locator("#dep-status")).to_have_text("Succeeded", timeout=60_000)


def r_records(r: PageRollout):
    from e2e_harness import read_records

    return read_records(r.record)

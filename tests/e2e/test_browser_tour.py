"""The main pages of a project in use, in Chromium, as a team member sees them.

Each page is checked for accessibility at both sizes (the browser fixtures do that for every page a
browser test loads). With $FLEETDECK_SCREENSHOTS set (`make screenshots`), each is also saved there at
1440 and 390 px wide: those are the README's screenshots in docs/screenshots/.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from browser import login, screenshot
from page_setup import PageRollout, make_user

from deployments import engine
from deployments.models import Deployment

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def wait_for_status(deployment_id: str, status: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while Deployment.objects.get(pk=deployment_id).status != status:
        assert time.monotonic() < deadline, (
            f"{deployment_id} is still {Deployment.objects.get(pk=deployment_id).status}"
        )
        time.sleep(0.3)


def test_the_main_pages_of_a_project_in_use(live_stack, fleet, tmp_path, page):
    from playwright.sync_api import expect

    r = PageRollout(live_stack, fleet, tmp_path, ["web-1", "web-2"])
    finished = engine.create_deployment(group=r.group, revision=r.revision("v1"), user=r.owner)
    wait_for_status(finished.pk, "Succeeded")
    # A host with no agent behind it keeps the next rollout running while the pages are looked at.
    r.idle_instances(1)
    running = engine.create_deployment(group=r.group, revision=r.revision("v2"), user=r.owner)
    slug = r.project.slug
    pages = {
        "overview": f"/p/{slug}/",
        "deployments": f"/p/{slug}/deployments/",
        "deployment-running": f"/p/{slug}/deployments/{running.pk}/",
        "deployment-finished": f"/p/{slug}/deployments/{finished.pk}/",
        "new-deployment": f"/p/{slug}/deployments/new/",
        "group": f"/p/{slug}/groups/{r.app.name}/{r.group.name}/",
        "fleet": f"/p/{slug}/fleet/",
        "integrations": f"/integrations/p/{slug}/",
        "settings": f"/p/{slug}/settings/",
        "wizard": "/projects/new/",
    }
    try:
        login(page, live_stack.url, r.owner, pages["overview"])
        for name, path in pages.items():
            response = page.goto(live_stack.url + path)
            assert response.status == 200, (name, path, response.status)
            expect(page.locator("main h1").first).to_be_visible()
            if name == "deployment-finished":
                expect(page.locator("#dep-status")).to_have_attribute("class", "badge status-Succeeded")
            screenshot(page, name)
    finally:
        engine.request_stop(running.pk)


def test_the_api_docs_render_their_operations_with_everything_off_this_machine_blocked(live_stack, page):
    from playwright.sync_api import expect

    outside: list[str] = []

    def loopback_only(route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", loopback_only)
    login(page, live_stack.url, make_user(None, None), "/")
    page.goto(f"{live_stack.url}/api/docs/")

    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=15_000)
    assert operations.count() >= 10
    assert "/api/v1/deployments/" in operations.all_inner_texts()
    assert outside == []
    screenshot(page, "api-docs")

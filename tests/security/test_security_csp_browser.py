"""Every page in Debian's Chromium, under the real Content-Security-Policy, with the outside world cut off.

Django's live server serves the seeded project; the browser may reach only loopback addresses. A page
fails if Chromium reports any CSP violation, if it asks for anything off this machine, if it has a
serious accessibility fault at 1440x900 or 390x844 (tests/a11y.py; Django's admin aside), or (for the
API docs) if Swagger UI does not draw the API's operations.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import a11y
import pytest
from csp_pages import ANONYMOUS_PAGES, STAFF_PAGES, give_the_deployment_batches, member_pages
from django.contrib.auth import get_user_model
from factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Chromium reports a violation on the console ("Refused to … because it violates the following Content
# Security Policy directive …") and as a securitypolicyviolation event, which this records.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, for this module only (Playwright's sync API keeps an event loop in this thread)."""
    from fleetdeck_testing import require
    from playwright.sync_api import sync_playwright

    require(os.path.exists(CHROMIUM), "Chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


class Watched:
    """A browser context that blocks every request off this machine and records what a page broke."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.outside: list[str] = []
        self.console: list[str] = []
        self.context.route("**/*", self._loopback_only)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def _loopback_only(self, route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            self.console.append(f"{message.type}: {message.text}")

    def visit(self, url: str) -> list[str]:
        """Load a page; return everything wrong with it."""
        self.outside.clear()
        self.console.clear()
        response = self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        problems = [f"status {response.status}"] if response.status != 200 else []
        problems += [f"CSP: {v}" for v in self.page.evaluate("window.__csp")]
        problems += self.console
        problems += [f"asked outside: {u}" for u in self.outside]
        if "/admin/" not in url:
            problems += [
                f"{f.rule} ({f.impact}) at {f.size}: {f.target}: {f.detail}"
                for f in a11y.page_findings(self.page)
            ]
        return problems

    def log_in(self, base: str, username: str, password: str) -> None:
        self.page.goto(f"{base}/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(f"{base}/")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(autouse=True)
def _public_url(settings, live_server):
    """The password-reset page is a page only where the server knows its public URL."""
    settings.PUBLIC_URL = live_server.url


@pytest.fixture
def watched(chromium):
    browser = Watched(chromium)
    yield browser
    browser.close()


def test_every_page_loads_with_no_csp_violation_and_nothing_from_outside(live_server, world, watched):
    give_the_deployment_batches(world)
    pages = member_pages(world)
    assert len(pages) >= 15, pages
    problems = {}
    for url in ANONYMOUS_PAGES:
        problems[url] = watched.visit(live_server.url + url)
    watched.log_in(live_server.url, world.owner.username, PASSWORD)
    for url in pages:
        problems[url] = watched.visit(live_server.url + url)
    assert not {url: found for url, found in problems.items() if found}


def test_the_deployment_page_draws_its_progress_bars_under_the_policy(live_server, world, watched):
    give_the_deployment_batches(world)
    watched.log_in(live_server.url, world.owner.username, PASSWORD)
    url = f"{live_server.url}/p/{world.project.slug}/deployments/{world.deployment.pk}/"
    assert watched.visit(url) == []
    widths = watched.page.eval_on_selector_all(
        "#batches .seg", "segs => segs.map(s => [s.className, Math.round(s.getBoundingClientRect().width)])"
    )
    bar = watched.page.eval_on_selector("#batches .bar", "b => b.getBoundingClientRect().width")
    # One host succeeded and one failed: two halves of the bar.
    assert [name for name, _ in widths] == ["seg seg-Succeeded", "seg seg-Failed"], widths
    assert all(abs(width - bar / 2) <= 2 for _, width in widths), (widths, bar)


def test_the_admin_pages_work_under_the_policy(live_server, world, watched):
    get_user_model().objects.create_superuser("zq-admin", password=PASSWORD)
    watched.log_in(live_server.url, "zq-admin", PASSWORD)
    problems = {url: watched.visit(live_server.url + url) for url in STAFF_PAGES}
    assert not {url: found for url, found in problems.items() if found}


def test_the_api_docs_show_their_operations_offline(live_server, world, watched):
    from playwright.sync_api import expect

    watched.log_in(live_server.url, world.owner.username, PASSWORD)
    problems = watched.visit(f"{live_server.url}/api/docs/")
    operations = watched.page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=15_000)
    assert operations.count() >= 10
    assert "/api/v1/deployments/" in operations.all_inner_texts()
    assert problems == []

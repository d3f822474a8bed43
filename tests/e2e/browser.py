"""Debian's Chromium for the browser tests, with an accessibility check on every page they load.

`tests/e2e/conftest.py` gives every e2e module the `chromium` and `page` fixtures below, so a new
browser test is checked without doing anything. Every browser context made from `chromium` (the
`page` fixture's, or one a test opens with `chromium.new_context()` / `new_page()`) records each
document it loads: an init script hands the HTML to Python when the page's `load` event fires. When
the test's body has passed (or when it closes a context), each recorded page is loaded again in a page
of its own, from that HTML, at 1440x900 and at 390x844, and checked there (see `a11y.py`); the pages
still open are also checked as they were left. Replaying keeps the check away from the test's own
clicks and timing, and still checks what the test saw (a form with its errors, a deployment as it
ran). Serious or critical findings fail the test, naming the rule, the element, the page and the size.

`screenshot(page, name)` saves a page at both sizes into $FLEETDECK_SCREENSHOTS (`make screenshots`);
without that variable it does nothing, so `make test` never rewrites docs/screenshots/.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import a11y
import pytest
from page_setup import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = a11y.SIZES["1440x900"]

# Handed to Python once per document load; Playwright adds init scripts and bindings outside the
# page's Content-Security-Policy.
LOAD_HOOK = """
window.addEventListener("load", () => setTimeout(() => {
  // Pages only: JSON or text that Chromium shows in a page of its own is not ours to check.
  if (window.top === window && location.protocol.startsWith("http") && document.contentType === "text/html")
    window.__fleetdeckLoaded(location.href, document.documentElement.outerHTML);
}, 0));
"""
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


class Audit:
    """The contexts of the running test and the pages they loaded."""

    def __init__(self) -> None:
        self.contexts: list = []
        self.findings: list[a11y.Finding] = []
        self.checked: set[str] = set()  # the same HTML is checked once per session

    def watch(self, context) -> None:
        context._fleetdeck_loads = []
        context.expose_binding(
            "__fleetdeckLoaded", lambda source, url, html: context._fleetdeck_loads.append((url, html))
        )
        context.add_init_script(LOAD_HOOK)
        close = context.close

        def close_after_check(*args, **kwargs):
            if context in self.contexts:
                self.check_context(context)
            close(*args, **kwargs)

        context.close = close_after_check
        self.contexts.append(context)

    def check_context(self, context) -> None:
        self.contexts.remove(context)
        for open_page in list(context.pages):
            if open_page.url.startswith("http") and open_page.evaluate("document.contentType") == "text/html":
                self.check_in_place(open_page)
        for url, html in context._fleetdeck_loads:
            key = hashlib.sha256(CSRF.sub(r"\1", html).encode()).hexdigest()
            if key not in self.checked:
                self.checked.add(key)
                for size in a11y.SIZES:
                    self.findings += replayed_findings(context, url, html, size)

    def check_in_place(self, page) -> None:
        """The page as the test left it (content added by its scripts included), at both sizes."""
        page.wait_for_load_state()
        for size, viewport in a11y.SIZES.items():
            page.set_viewport_size(viewport)
            self.findings += a11y.axe_findings(page, size) + a11y.border_findings(page, size)

    def finish(self, check: bool) -> None:
        try:
            if check:
                for context in list(self.contexts):
                    self.check_context(context)
                if self.findings:
                    pytest.fail(a11y.report(unique(self.findings)), pytrace=False)
        finally:
            self.contexts.clear()
            self.findings = []


def unique(findings: list[a11y.Finding]) -> list[a11y.Finding]:
    return list(dict.fromkeys(findings))


def replayed_findings(context, url: str, html: str, size: str) -> list[a11y.Finding]:
    page = context.new_page()
    try:
        page.set_viewport_size(a11y.SIZES[size])
        served = []

        def serve(route):
            if route.request.resource_type == "document" and not served:
                served.append(True)
                route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
            else:
                route.continue_()

        page.route(lambda asked: asked == url, serve)  # a predicate: a URL may hold glob characters
        page.goto(url)
        return (
            a11y.axe_findings(page, size)
            + a11y.border_findings(page, size)
            + a11y.keyboard_findings(page, size)
        )
    finally:
        page.close()


AUDIT = Audit()


def instrument(browser) -> None:
    """Every context made from `browser` is watched by AUDIT."""
    new_context = browser.new_context

    def watched_context(**kwargs):
        kwargs.setdefault("viewport", DESKTOP)
        context = new_context(**kwargs)
        AUDIT.watch(context)
        return context

    def watched_page(**kwargs):
        context = watched_context(**kwargs)
        return context.new_page()

    browser.new_context = watched_context
    browser.new_page = watched_page


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium for this module only.

    Playwright's sync API keeps an event loop running in this thread while it is open; it is closed
    when the module ends, so later tests in this worker (Django's async views under the test client)
    never find a running loop. Meanwhile the ORM calls of these tests are allowed.
    """
    from fleetdeck_testing import require
    from playwright.sync_api import sync_playwright

    require(os.path.exists(CHROMIUM), "Chromium")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            instrument(browser)
            yield browser
            browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def login(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{next_path}")


def screenshot(page, name: str) -> None:
    """`docs/screenshots/<name>-1440.png` and `-390.png`, when $FLEETDECK_SCREENSHOTS names the folder."""
    folder = os.environ.get("FLEETDECK_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for size, viewport in a11y.SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(150)  # let the layout and the charts settle at the new width
        page.screenshot(path=str(Path(folder) / f"{name}-{size.split('x')[0]}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)

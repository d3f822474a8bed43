"""The accessibility check that every browser test gets (browser.py, a11y.py) catches what it claims to.

A page with the faults Fleetdeck's pages had (a grey badge, a pale field border, no skip link, focus
hidden) is served to Chromium from memory, with every other request refused, so this also shows that
axe-core comes from the Python package and nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import a11y
import pytest
from axe_playwright_python.base import AXE_FILE_PATH
from browser import AUDIT

BAD_URL = "http://fleetdeck.test/bad/"
BAD_PAGE = """<!doctype html>
<html lang="en"><head><title>Bad page</title><style>
  a:focus, a:focus-visible { outline: none; }
  .badge { color: #7a8494; background: #eef1f5; }
  input { border: 1px solid #dfe3ea; }
</style></head>
<body>
  <header><nav aria-label="Account"><a href="/">Projects</a></nav></header>
  <main><h1>Deployments</h1><p><span class="badge">Pending</span></p>
    <label for="name">Name</label> <input id="name" type="text"></main>
</body></html>
"""


def serve_only_the_bad_page(context, asked: list[str]) -> None:
    def handle(route):
        asked.append(route.request.url)
        if route.request.url == BAD_URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=BAD_PAGE)
        else:
            route.abort()

    context.route("**/*", handle)


def test_axe_core_ships_inside_the_python_package():
    assert AXE_FILE_PATH.is_file()
    assert AXE_FILE_PATH.read_text()[:20].startswith("/*! axe v4")
    assert Path(a11y.__file__).parent.name == "tests"


def test_a_page_with_todays_faults_fails_naming_the_rule_the_element_the_page_and_the_size(page):
    asked: list[str] = []
    serve_only_the_bad_page(page.context, asked)
    page.goto(BAD_URL)
    page.wait_for_function("document.readyState === 'complete'")

    with pytest.raises(pytest.fail.Exception) as failed:
        AUDIT.finish(check=True)

    message = str(failed.value)
    assert "color-contrast (serious) on /bad/" in message
    assert '<span class="badge">Pending</span>' in message
    assert "control-border-contrast (serious) on /bad/" in message
    assert "input#name at 1440x900, 390x844: its border contrasts 1.29:1" in message
    assert "skip-link (serious) on /bad/" in message
    assert "focus-visible (serious) on /bad/" in message
    assert '<a href="/">Projects</a>' in message
    # Only the page itself was asked for: axe came from the package.
    assert set(asked) == {BAD_URL}


def test_a_page_without_them_passes(page):
    good = (
        BAD_PAGE.replace(
            "a:focus, a:focus-visible { outline: none; }", ":focus-visible { outline: 3px solid #2456c7; }"
        )
        .replace("#7a8494", "#4f5968")
        .replace("#dfe3ea", "#767f8e")
        .replace("<header>", '<a href="#main">Skip to main content</a><header>')
        .replace("<main>", '<main id="main">')
    )
    page.context.route("**/*", lambda route: route.fulfill(status=200, content_type="text/html", body=good))
    page.goto(BAD_URL)
    page.wait_for_function("document.readyState === 'complete'")

    AUDIT.finish(check=True)  # raises on any finding


def test_json_a_test_opens_in_the_browser_is_not_taken_for_a_page(page):
    page.context.route(
        "**/*", lambda route: route.fulfill(status=200, content_type="application/json", body='{"count": 0}')
    )
    page.goto("http://fleetdeck.test/api/v1/deployments/")
    page.wait_for_function("document.readyState === 'complete'")

    AUDIT.finish(check=True)  # Chromium's JSON page has no lang: it would be a finding if it were checked

"""Content-Security-Policy: every page carries one that allows no inline code, and no page needs it.

The browser test (test_security_csp_browser.py) proves the pages work under the policy; this one reads
the markup of every page, so an inline script, event handler or style attribute is caught by name.
"""

from __future__ import annotations

import re

import pytest
from csp_pages import ANONYMOUS_PAGES, STAFF_PAGES, give_the_deployment_batches, member_pages
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)


@pytest.fixture(autouse=True)
def _public_url(settings):
    """The password-reset page is a page only where the server knows its public URL."""
    settings.PUBLIC_URL = "http://testserver"


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


def _inline_code(html: str) -> list[str]:
    found = []
    for name, pattern in (
        ("inline <script>", INLINE_SCRIPT),
        ("event handler attribute", EVENT_HANDLER),
        ("style attribute", STYLE_ATTRIBUTE),
        ("<style> element", STYLE_ELEMENT),
    ):
        found += [f"{name}: {m.group(0)[:120]}" for m in pattern.finditer(html)]
    return found


def test_every_page_sends_a_policy_without_unsafe_inline_and_has_no_inline_code(world):
    give_the_deployment_batches(world)
    pages = member_pages(world)
    assert len(pages) >= 15, pages  # the walk found the project's pages, not an empty list
    owner = Client()
    owner.force_login(world.owner)
    problems = {}
    for url in pages:
        response = owner.get(url)
        policy = _policy(response)
        if not policy:
            problems[url] = ["no Content-Security-Policy header"]
            continue
        loose = [
            f"{name} {value}"
            for name, values in policy.items()
            for value in values
            if value in {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"}
        ]
        if policy.get("default-src") != ["'self'"]:
            loose.append(f"default-src {policy.get('default-src')}")
        inline = _inline_code(response.content.decode())
        if loose or inline:
            problems[url] = loose + inline
    assert not problems, problems


def test_the_sign_in_and_admin_pages_carry_the_policy_too(world):
    anonymous = Client()
    for url in ANONYMOUS_PAGES:
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert _policy(response).get("script-src") == ["'self'"], (
            url,
            response.get("Content-Security-Policy"),
        )
        assert not _inline_code(response.content.decode()), url
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("zq-admin", password="x"))
    for url in STAFF_PAGES:
        response = staff.get(url)
        assert response.status_code == 200 and _policy(response).get("script-src") == ["'self'"], url


def test_the_policy_forbids_framing_plugins_and_foreign_form_targets(world):
    policy = _policy(Client().get("/accounts/login/"))
    assert policy.get("frame-ancestors") == ["'none'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("form-action") == ["'self'"]
    assert policy.get("base-uri") == ["'none'"]


def test_the_api_docs_and_their_assets_come_from_this_server(world):
    client = Client()
    client.force_login(world.owner)
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert page.status_code == 200
    sources = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"([^\"]+)\"", html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert not _inline_code(html), _inline_code(html)
    # The page's own start-up script is a separate same-origin response, so script-src 'self' covers it.
    script = next(s for s in sources if "script" in s)
    response = client.get(script)
    assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()

"""The page frame every dashboard page shares: a skip link first, the main content its target, and the
script that lets a keyboard scroll wide tables and commands (the browser tests check the rest)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from factories import make_member, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client():
    client = Client()
    client.force_login(make_member(make_project("shop"), "olga", "owner"))
    return client


@pytest.mark.parametrize(
    "path", ["/", "/p/shop/", "/p/shop/fleet/", "/p/shop/deployments/", "/accounts/login/"]
)
def test_the_first_thing_in_the_page_is_a_link_that_skips_to_the_main_content(owner_client, path):
    html = owner_client.get(path).content.decode()

    body = html[html.index("<body>") + len("<body>") :]
    first = re.search(r"<a [^>]*>", body)
    assert first and 'class="skip-link" href="#main"' in first.group(0)
    assert body.index("skip-link") < body.index("<header")
    assert re.search(r'<main [^>]*id="main"[^>]*tabindex="-1"', html)


def test_the_page_loads_the_script_that_makes_scrolling_regions_focusable(owner_client):
    html = owner_client.get("/p/shop/fleet/").content.decode()

    assert re.search(r'<script src="/static/js/scroll-regions\.js[^"]*" defer></script>', html)

"""Styled error pages that keep the site's frame, and the favicon."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import path
from factories import make_member, make_project

from config.urls import urlpatterns as site_urls
from projects.models import Role

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom), *site_urls]


@pytest.fixture
def viewer_client():
    project = make_project("shop")
    client = Client()
    client.force_login(make_member(project, "victor", Role.VIEWER))
    return client


def test_a_missing_page_keeps_the_frame_and_offers_a_way_back(viewer_client):
    response = viewer_client.get("/p/nowhere/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="topbar"' in html and "victor" in html  # the frame, signed in
    assert "Page not found" in html and 'href="/">Back to your projects' in html
    assert "css/fleetdeck.css" in html


def test_a_refusal_says_which_role_is_needed(viewer_client):
    response = viewer_client.get("/p/shop/settings/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'class="topbar"' in html
    assert "This needs the owner role in this project; you are a viewer." in html


def test_an_api_path_still_gets_json():
    response = Client().get("/api/v1/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_keeps_the_frame():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert 'class="topbar"' in html and "Something went wrong on our side" in html


def test_the_favicon_exists(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/favicon.svg")
    assert finders.find("favicon.svg")
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/accounts/login/").content.decode()

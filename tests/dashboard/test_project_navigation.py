"""One project navigation on every project page, with the page's tab marked, and breadcrumbs."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from factories import make_app, make_deployment, make_group, make_member, make_project, make_revision

from projects.models import Role

pytestmark = pytest.mark.django_db

TABS = ["Overview", "Deployments", "Groups", "Revisions", "Fleet", "Integrations", "Team", "Settings"]


@pytest.fixture
def owner_client():
    project = make_project("shop")
    app = make_app("shop-web", project=project)
    group = make_group(app, "web")
    deployment = make_deployment(group, make_revision(app))
    client = Client()
    client.force_login(make_member(project, "alice", Role.OWNER))
    client.deployment_id = deployment.pk
    return client


def nav(html: str) -> tuple[list[tuple[str, str]], list[str]]:
    block = re.search(r'<nav class="subnav project-nav" aria-label="Project">(.*?)</nav>', html, re.S)
    assert block, "no project navigation"
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block.group(1))
    current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', block.group(1))
    return links, current


PAGES = [
    ("/p/shop/", "Overview"),
    ("/p/shop/deployments/", "Deployments"),
    ("/p/shop/deployments/{deployment}/", "Deployments"),
    ("/p/shop/deployments/new/", "Deployments"),
    ("/p/shop/groups/", "Groups"),
    ("/p/shop/groups/new/", "Groups"),
    ("/p/shop/groups/shop-web/web/", "Groups"),
    ("/p/shop/deployments/revisions/", "Revisions"),
    ("/p/shop/fleet/", "Fleet"),
    ("/p/shop/fleet/tokens/", "Fleet"),
    ("/p/shop/fleet/install/", "Fleet"),
    ("/integrations/p/shop/", "Integrations"),
    ("/integrations/p/shop/github/", "Integrations"),
    ("/p/shop/team/", "Team"),
    ("/p/shop/settings/", "Settings"),
]


@pytest.mark.parametrize(("path", "tab"), PAGES)
def test_every_project_page_carries_the_same_navigation_with_its_tab_marked(owner_client, path, tab):
    response = owner_client.get(path.format(deployment=owner_client.deployment_id))
    assert response.status_code == 200
    html = response.content.decode()
    links, current = nav(html)
    assert [label for _, label in links] == TABS
    assert current == [tab]
    assert html.count('aria-label="Project"') == 1
    # Breadcrumbs lead back to the project from every page.
    crumbs = re.search(r'<nav class="breadcrumbs" aria-label="Breadcrumb">(.*?)</nav>', html, re.S).group(1)
    assert '<a href="/">Projects</a>' in crumbs
    if path != "/p/shop/":
        assert '<a href="/p/shop/">Shop</a>' in crumbs


def test_every_navigation_link_opens_for_its_owner(owner_client):
    links, _ = nav(owner_client.get("/p/shop/").content.decode())
    for href, label in links:
        assert owner_client.get(href).status_code == 200, label


def test_the_old_team_address_leads_to_the_team_page(owner_client):
    response = owner_client.get("/p/shop/settings/members/")
    assert response.status_code == 302 and response["Location"] == "/p/shop/team/"

"""Every aria-describedby on a form page points at an element that exists: a field's help text is read
out with the field (Django names it id_X_helptext; the templates once wrote id_X_help)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from factories import make_app, make_group, make_member, make_project

pytestmark = pytest.mark.django_db

PAGES = [
    "/projects/new/project/",
    "/integrations/p/shop/github/",
    "/integrations/p/shop/jira/",
    "/integrations/p/shop/aws/",
    "/integrations/p/shop/triggers/new/",
    "/p/shop/deployments/new/",
    "/p/shop/deployments/revisions/",
    "/p/shop/fleet/tokens/new/",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_described_by_id_exists(path):
    project = make_project("shop")
    make_group(make_app("shop", project=project), "web", role="web")
    client = Client()
    client.force_login(make_member(project, "olivia", "owner"))
    html = client.get(path).content.decode()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    described = [i for value in re.findall(r'aria-describedby="([^"]+)"', html) for i in value.split()]
    assert described, f"{path} has no described field to check"
    assert [i for i in described if i not in ids] == []

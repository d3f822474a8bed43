"""The verification example in docs/integrations.md verifies a real trigger delivery (and refuses a
tampered one), with the secret an owner copied from the page that showed it once."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from django.test import Client
from factories import finish, make_app, make_group, make_instance, make_member, make_project

from deployments import engine
from deployments.models import Revision

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def documented_verify(tmp_path):
    """The docs' own code, saved to a file as a reader would paste it, and run."""
    text = DOC.read_text()
    block = text.split("<!-- verify-example")[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "verify_fleetdeck.py"
    script.write_text(block)
    return runpy.run_path(str(script))["verify"]


def test_the_documented_example_verifies_a_real_delivery(receiver, tmp_path):
    project = make_project("shop")
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    owner = Client()
    owner.force_login(make_member(project, "olivia", "owner"))
    shown = owner.post(
        "/integrations/p/shop/triggers/new/",
        {
            "group": group.pk,
            "name": "ops",
            "events": ["DeploymentSuccess"],
            "kind": "webhook",
            "target": f"{receiver.url}/hook",
            "enabled": "on",
        },
    ).content.decode()
    secret = re.search(r'<code id="trigger-secret">([^<]+)</code>', shown).group(1)

    revision = Revision.objects.create(application=group.application, bundle_type="tgz", sha256="a" * 64)
    assert finish(engine.create_deployment(group=group, revision=revision).id).status == "Succeeded"
    (delivery,) = receiver.requests_to("POST", "/hook")

    verify = documented_verify(tmp_path)
    signature = delivery.headers["x-fleetdeck-signature"]
    assert verify(secret, delivery.body, signature) is True
    assert verify(secret, delivery.body.replace(b"Succeeded", b"Failed"), signature) is False
    assert verify("another-secret", delivery.body, signature) is False
    assert verify(secret, delivery.body, "") is False

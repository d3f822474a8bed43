"""Error messages the docs quote are the ones the code produces: each is made here by running the code,
and must appear in its doc word for word. Change a message, and this test names the doc to update."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fleetdeck_agent.appspec import AppSpecError, parse_appspec

from deployments.models import Application
from projects.models import Membership, Project, Role

ROOT = Path(__file__).resolve().parents[2]

OCTAL = """version: 0.0
os: linux
files:
  - source: /
    destination: /srv/app
permissions:
  - object: /srv/app
    mode: "0649"
"""


def test_the_appspec_error_example_is_the_parsers_own_words():
    try:
        parse_appspec(OCTAL)
    except AppSpecError as exc:
        message = str(exc)
    else:
        raise AssertionError("the parser accepted an invalid mode")
    assert message == 'appspec.yml, line 8: Invalid mode "0649": 9 is not an octal digit'
    assert f"`{message}`" in (ROOT / "docs" / "appspec.md").read_text()


def test_the_api_validation_error_example_is_what_the_api_answers(api_client, user):
    project = Project.objects.create(name="Docs", slug="docs-example", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    Application.objects.create(project=project, name="docs-app")
    answer = api_client.post(
        "/api/v1/applications/docs-app/deployment-groups/",
        {
            "name": "web",
            "deployment_config": "CodeDeployDefault.OneAtATime",
            "tag_filters": [{"key": "role", "type": "KEY_AND_VALUE"}],
        },
        format="json",
    )
    assert answer.status_code == 400
    text = (ROOT / "docs" / "api.md").read_text()
    block = re.search(r"## Errors\n.*?```json\n(.*?)```", text, re.DOTALL)
    assert block, "docs/api.md's Errors section shows an example"
    assert json.loads(block.group(1)) == answer.json()

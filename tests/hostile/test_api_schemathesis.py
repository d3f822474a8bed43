"""Schemathesis against the OpenAPI schema that drf-spectacular serves at /api/schema/, in process (WSGI).

Every operation gets generated requests (bounded examples) from an anonymous caller and from a project
owner whose project has an application, a group, a revision, an instance, a token and a deployment.
Half of the owner's requests name those real objects, so the handlers run past their lookups. The
server must never answer 5xx, and every 4xx must be JSON with a readable `detail`.

Each example runs inside a savepoint that is rolled back, so every example sees the same data.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from api_helpers import APPSPEC, build_archive, bundle_files
from django.core.files.base import ContentFile
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from factories import make_instance
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from deployments import engine
from deployments.models import HALF_AT_A_TIME, Application, DeploymentConfig, DeploymentGroup, Revision
from projects.models import ApiToken, Membership, Project, Role

EXAMPLES = int(os.environ.get("FLEETDECK_SCHEMATHESIS_EXAMPLES", "20"))  # per operation and caller
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # The suite replays the same examples every run (no flaky CI); `make fuzz` explores new ones.
    derandomize=os.environ.get("FLEETDECK_FUZZ_RANDOM") != "1",
)

# Fuzzing only, valid and invalid inputs alike. The coverage phase alone makes over a thousand requests
# for some operations, which is past this suite's time budget.
CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}},
        "generation": {"mode": "all"},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)

# Filled by the `world` fixture before any case is generated: what each path parameter may name.
REAL: dict[str, object] = {}


def real_parameters(path: str, parameters: dict) -> dict:
    names = {
        "application": REAL.get("application"),
        "slug": REAL.get("project"),
        "username": REAL.get("username"),
    }
    if path.endswith("/deployment-groups/{name}/"):
        names["name"] = REAL.get("deployment-groups")
    elif "{name}" in path:
        names["name"] = next(
            (value for key, value in REAL.items() if key != "project" and path.startswith(f"/api/v1/{key}")),
            None,
        )
    if "{id}" in path:
        names["id"] = next((value for key, value in REAL.items() if path.startswith(f"/api/v1/{key}")), None)
        if "/revisions/" in path:
            names["id"] = REAL.get("revisions")
    return {key: names.get(key) or value for key, value in parameters.items()}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not REAL.get("enabled") or not isinstance(path_parameters, dict) or not path_parameters:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, real_parameters(context.operation.path, path_parameters)])


# Body fields that name existing objects; a generated body gets them half of the time.
BODY_NAMES = {
    "application": "application",
    "project": "project",
    "deployment_group": "deployment-groups",
    "revision": "revisions",
    "deployment_config": "deployment-configs",
    "username": "username",
}


@schema.hook
def flatmap_body(context, body):
    if not REAL.get("enabled") or not isinstance(body, dict):
        return st.just(body)
    named = {key: REAL[BODY_NAMES[key]] if key in BODY_NAMES else value for key, value in body.items()}
    return st.sampled_from([body, named])


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes the connection after each request; the test's transaction needs it open,
    so do what Django's test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, user, settings, tmp_path):
    """alice owns a project with one of everything; bob belongs to it as a viewer."""
    settings.MEDIA_ROOT = tmp_path / "media"
    project = Project.objects.create(name="Team", slug="team", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    application = Application.objects.create(name="shop", project=project, created_by=user)
    group = DeploymentGroup.objects.create(
        application=application,
        name="web",
        deployment_config=DeploymentConfig.objects.get(name=HALF_AT_A_TIME),
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
    )
    archive = build_archive(tmp_path / "bundle.zip", "zip", bundle_files())
    revision = Revision(application=application, bundle_type="zip", sha256="a" * 64, appspec=APPSPEC)
    revision.bundle.save("bundle.zip", ContentFile(archive.read_bytes()))
    make_instance("web-01", project=project)
    from deployments.models import RegistrationToken

    token, _ = RegistrationToken.issue(project=project, description="web hosts", tags={"role": "web"})
    deployment = engine.create_deployment(group=group, revision=revision)
    REAL.update(
        enabled=True,
        project=project.slug,
        application=application.name,
        username=user.username,
        applications=application.name,
        revisions=revision.pk,
        instances="web-01",
        deployments=deployment.pk,
        **{"deployment-configs": HALF_AT_A_TIME, "registration-tokens": token.pk, "deployment-groups": "web"},
    )
    yield
    REAL.clear()


def check(case, response) -> None:
    """No 5xx; every 4xx is JSON with a readable message."""
    described = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, described
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type") or [""]
        assert content_type[0].startswith("application/json"), described
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), described


def run(case, headers: dict | None = None):
    with transaction.atomic():
        response = case.call(headers=headers or {})
        transaction.set_rollback(True)
    check(case, response)


@schema.parametrize()
@FUZZ
def test_no_5xx_and_readable_4xx_for_a_project_owner(case, world, user):
    _, raw_token = ApiToken.issue(user, "schemathesis")
    run(case, {"Authorization": f"Token {raw_token}"})


@schema.parametrize()
@FUZZ
def test_no_5xx_and_readable_4xx_for_an_anonymous_caller(case, db):
    case.headers = {
        key: value for key, value in (case.headers or {}).items() if key.lower() != "authorization"
    }
    run(case)

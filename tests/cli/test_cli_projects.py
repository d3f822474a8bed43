"""`--project` and a profile's default project: names are per project, so an application name that is in
several of the user's projects needs one (issue 14, item 11). Against a live server."""

from __future__ import annotations

import io

import pytest
from cli_helpers import APPSPEC, bundle_folder
from factories import make_revision

from deployments.models import Application, Deployment, DeploymentConfig, DeploymentGroup, Revision


@pytest.fixture
def twin(project, owner, application, group):
    """A second project of the owner's, `north`, with its own application `shop-app` and group `web`."""
    from projects.models import Membership, Project, Role

    north = Project.objects.create(name="North", slug="north", created_by=owner)
    Membership.objects.create(project=north, user=owner, role=Role.OWNER)
    app = Application.objects.create(name="shop-app", project=north, created_by=owner)
    DeploymentGroup.objects.create(
        application=app,
        name="web",
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce"),
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
    )
    return app


def test_a_name_in_two_projects_asks_for_the_project(cli, twin):
    result = cli("revisions", "-a", "shop-app")
    assert result.code == 1
    assert "in more than one of your projects (north, shop)" in result.err
    assert "--project SLUG" in result.err and "fleetdeck configure --project" in result.err


def test_project_picks_the_application(cli, twin, tmp_path):
    result = cli("--project", "north", "push", "-a", "shop-app", "-s", str(bundle_folder(tmp_path / "src")))
    assert result.code == 0, result.err
    assert Revision.objects.get().application == twin
    revision = result.out.strip()
    deploy = cli("deploy", "--project", "north", "-a", "shop-app", "-g", "web", "-r", revision)
    assert deploy.code == 0, deploy.err
    assert Deployment.objects.get().application == twin
    listed = cli("--project", "north", "revisions", "-a", "shop-app")
    assert listed.code == 0 and listed.out.split()[0] == revision
    assert cli("--project", "north", "deployments").out.count("shop-app/web") == 1
    assert cli("--project", "shop", "deployments").out.strip() == ""


def test_the_profile_keeps_a_default_project_and_the_flag_wins(
    server, personal_token, offline_cli, monkeypatch, tmp_path, twin, application
):
    monkeypatch.setattr("sys.stdin", io.StringIO(personal_token + "\n"))
    result = offline_cli("configure", "--url", server, "--token-stdin", "--project", "north")
    assert result.code == 0, result.err
    assert "Default project: north" in result.err
    assert "project = north" in (tmp_path / "fleetdeck-config").read_text()
    shop_revision = make_revision(application, appspec=APPSPEC)
    north_revision = make_revision(twin, appspec=APPSPEC)
    listed = offline_cli("revisions", "-a", "shop-app")
    assert listed.code == 0, listed.err
    assert listed.out.split()[0] == str(north_revision.pk)
    listed = offline_cli("--project", "shop", "revisions", "-a", "shop-app")
    assert listed.out.split()[0] == str(shop_revision.pk)
    monkeypatch.setenv("FLEETDECK_PROJECT", "shop")
    assert offline_cli("revisions", "-a", "shop-app").out.split()[0] == str(shop_revision.pk)


def test_configure_refuses_a_project_the_token_cannot_see(
    server, personal_token, offline_cli, monkeypatch, tmp_path
):
    monkeypatch.setattr("sys.stdin", io.StringIO(personal_token + "\n"))
    result = offline_cli("configure", "--url", server, "--token-stdin", "--project", "nowhere")
    assert result.code == 2
    assert "nowhere" in result.err and "its projects: none yet" in result.err
    assert not (tmp_path / "fleetdeck-config").exists()

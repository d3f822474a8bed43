"""The wizard commits a template's starter bundle to a new branch (git data API, local fake GitHub)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import Client
from factories import make_member, make_project

from dashboard.starters import TEMPLATES, files
from integrations.github.branches import BranchError, commit_files
from integrations.models import GitHubConnection

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from fakes import github_fake

pytestmark = pytest.mark.django_db

TOKEN = "ghp-starter-secret"


@pytest.fixture
def github(settings):
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 5.0
    settings.FLEETDECK_GITHUB_WRITE_INTERVAL = 0.001  # a local fake needs no pause between writes
    fake, state = github_fake()
    fake.state = state
    yield fake
    fake.stop()


@pytest.fixture
def project(github):
    project = make_project("shop")
    project.template = "python-systemd"
    project.save(update_fields=["template"])
    GitHubConnection.objects.create(project=project, repository="acme/shop", api_url=github.url, token=TOKEN)
    return project


def commit_starter(project, role: str = "contributor", branch: str = "fleetdeck/starter"):
    client = Client()
    client.force_login(make_member(project, f"{role}-user", role))
    return client.post("/projects/new/starter-branch/", {"project": project.slug, "branch": branch})


def test_the_starter_bundle_lands_on_a_new_branch_from_main_with_executable_hooks(project, github):
    state = github.state
    answer = commit_starter(project)
    assert answer.status_code == 200, answer.content.decode()[:2000]
    html = answer.content.decode()
    assert "Committed" in html and "fleetdeck/starter" in html and TOKEN not in html

    head = state.branches["fleetdeck/starter"]
    commit = state.git_commits[head]
    assert commit["parents"] == [{"sha": state.branches["main"]}]
    assert commit["message"] == "Fleetdeck starter bundle: Python web service under systemd"
    tree = state.trees[commit["tree"]["sha"]]
    template = TEMPLATES["python-systemd"]
    expected = {p.as_posix(): (template.path / p).read_bytes() for p in files(template)}
    assert set(tree) == set(expected) and "appspec.yml" in tree
    for path, entry in tree.items():
        assert state.blobs[entry["sha"]] == expected[path]
        assert entry["mode"] == ("100755" if path.endswith(".sh") else "100644")
    # Every call carried the project's token.
    writes = github.requests_to("POST", "/repos/acme/shop/git/.*")
    assert writes and all(r.headers["authorization"] == f"token {TOKEN}" for r in writes)


def test_an_existing_branch_is_a_clear_error_and_nothing_is_written(project, github):
    github.state.branches["fleetdeck/starter"] = github.state.branches["main"]
    answer = commit_starter(project)
    assert answer.status_code == 400
    assert "already exists in acme/shop" in answer.content.decode()
    assert not github.requests_to("POST", "/repos/acme/shop/git/.*")


def test_a_token_without_push_permission_is_a_clear_error(project, github):
    github.state.push_allowed = False
    answer = commit_starter(project, branch="starter-2")
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "cannot write to acme/shop" in html and "Contents: write" in html
    assert "starter-2" not in github.state.branches


def test_viewers_cannot_commit_and_outsiders_get_a_404(project, github):
    assert commit_starter(project, "viewer").status_code == 403
    outsider = Client()
    outsider.force_login(make_member(make_project("other"), "oscar", "owner"))
    assert outsider.post("/projects/new/starter-branch/", {"project": "shop"}).status_code == 404
    assert "fleetdeck/starter" not in github.state.branches


def test_the_done_page_offers_the_commit_once_a_repository_is_linked(db, client, user, github):
    client.force_login(user)
    steps = {
        "project": {"name": "Shop", "slug": "shop", "template": "nodejs"},
        "repository": {"kind": "github", "repository": "acme/shop", "token": TOKEN, "api_url": github.url},
        "target": {
            "application": "shop-web",
            "group": "production",
            "tags": "role=web",
            "deployment_config": "CodeDeployDefault.OneAtATime",
        },
        "tracker": {"tracker": "none"},
    }
    for step, data in steps.items():
        assert client.post(f"/projects/new/{step}/", data).status_code == 302
    done = client.post("/projects/new/review/").content.decode()
    assert "Commit the starter bundle to GitHub" in done and 'value="fleetdeck/starter"' in done
    answer = client.post("/projects/new/starter-branch/", {"project": "shop", "branch": "fleetdeck/starter"})
    assert answer.status_code == 200
    assert "fleetdeck/starter" in github.state.branches


def test_an_unreachable_github_is_a_clear_error(db):
    project = make_project("gone")
    connection = GitHubConnection.objects.create(
        project=project, repository="acme/shop", api_url="http://127.0.0.1:9", token=TOKEN
    )
    with pytest.raises(BranchError, match="could not be reached"):
        commit_files(connection, {"a.txt": b"a"}, branch="x", message="m", timeout=2)


def test_a_bad_branch_name_is_refused_before_any_call(db):
    connection = GitHubConnection(repository="acme/shop", api_url="http://127.0.0.1:9")
    with pytest.raises(BranchError, match="not a usable branch name"):
        commit_files(connection, {}, branch="bad..name", message="m")

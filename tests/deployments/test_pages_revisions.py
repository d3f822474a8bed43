"""The Revisions page: who sees it, what each row says, its upload and register forms (which refuse what
the API refuses, with the same messages), the Deploy… link, and a fixed number of queries."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import make_member, make_project, make_revision, make_user
from pages_helpers import setup_group
from rest_framework.test import APIClient

# Bundle archives from the API tests; the GitHub fake and connection helpers from the integration tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from api_helpers import APPSPEC, build_archive, bundle_files
from fakes import sha
from revision_helpers import connected_github, releases_bucket

from deployments.models import Deployment, Revision

pytestmark = pytest.mark.django_db

# Committed baseline for an owner's view: session, user, project, membership, the application (tabs and
# the selected one), page count and rows, groups' current revisions, the two connections, and the two
# forms' application choices. Lower it when a change saves queries; raising it needs a reason in review.
REVISIONS_BASELINE = 13
BAD_APPSPEC = APPSPEC.replace("timeout: 60", "timeout: -1")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def app(project):
    app, _, _ = setup_group(project, hosts=0, app_name="shop")
    return app


def as_role(client, project, role: str):
    client.force_login(make_member(project, role=role))
    return client


def page_url(project, **params) -> str:
    from urllib.parse import urlencode

    url = reverse("revision_list", args=[project.slug])
    return f"{url}?{urlencode(params)}" if params else url


def seed_deployment(group, revision, status: str = "Succeeded") -> Deployment:
    """A row straight into the table: the page only reads it, no rollout is needed."""
    return Deployment.objects.create(
        application=group.application,
        deployment_group=group,
        revision=revision,
        deployment_config=group.deployment_config,
        status=status,
        file_exists_behavior="DISALLOW",
    )


def upload(client, project, path, **fields):
    with open(path, "rb") as fh:
        return client.post(
            reverse("revision_upload", args=[project.slug]), {"application": "shop", "bundle": fh, **fields}
        )


def register(client, project, **fields):
    return client.post(reverse("revision_register", args=[project.slug]), {"application": "shop", **fields})


# -- who sees what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "contributor", "viewer"])
def test_members_see_the_applications_revisions_and_contributors_get_the_forms(client, project, app, role):
    mine = make_revision(app, description="first cut")
    other_project = make_project("other")
    other_app, _, _ = setup_group(other_project, hosts=0, app_name="blog")
    theirs = make_revision(other_app, description="not yours")
    html = as_role(client, project, role).get(page_url(project)).content.decode()
    assert f'id="revision-{mine.pk}"' in html and "first cut" in html
    assert f'id="revision-{theirs.pk}"' not in html and "not yours" not in html
    contributor = role != "viewer"
    assert ('id="upload-form"' in html) is contributor
    assert ('id="register-form"' in html) is contributor
    assert (f"?revision={mine.pk}" in html) is contributor


def test_an_outsider_gets_a_404_and_anonymous_users_log_in(client, project, app):
    assert client.get(page_url(project)).status_code == 302
    client.force_login(make_user())
    assert client.get(page_url(project)).status_code == 404
    assert register(client, project, source="github", commit=sha(1)).status_code == 404
    assert client.post(reverse("revision_upload", args=[project.slug])).status_code == 404


def test_a_viewer_may_not_upload_or_register(client, project, app, tmp_path):
    as_role(client, project, "viewer")
    path = build_archive(tmp_path / "b.zip", "zip", bundle_files())
    assert upload(client, project, path).status_code == 403
    assert register(client, project, source="github", commit=sha(1)).status_code == 403
    assert not Revision.objects.exists()


def test_the_project_navigation_links_to_the_page(client, project, app):
    html = as_role(client, project, "viewer").get(page_url(project)).content.decode()
    assert f'href="{page_url(project)}" aria-current="page">Revisions</a>' in html


# -- the list ---------------------------------------------------------------------------------------


def test_it_lists_one_application_at_a_time_newest_first_and_pages(client, project, app):
    other, _, _ = setup_group(project, hosts=0, app_name="worker")
    made = [make_revision(app) for _ in range(23)]
    worker_revision = make_revision(other, description="worker build")
    as_role(client, project, "viewer")
    first = client.get(page_url(project)).content.decode()  # the first application by name: shop
    ids = [int(i) for i in re.findall(r'id="revision-(\d+)"', first)]
    assert ids == [r.pk for r in reversed(made)][:20]
    assert "worker build" not in first and "Page 1 of 2" in first
    second = client.get(page_url(project, application="shop", page=2)).content.decode()
    assert [int(i) for i in re.findall(r'id="revision-(\d+)"', second)] == [r.pk for r in reversed(made[:3])]
    worker = client.get(page_url(project, application="worker")).content.decode()
    assert f'id="revision-{worker_revision.pk}"' in worker and "worker build" in worker


def test_each_row_says_where_the_revision_lives(client, project, app):
    from integrations.models import GitHubConnection

    GitHubConnection.objects.create(project=project, repository="acme/shop")
    uploaded = make_revision(app, size=2048, appspec=APPSPEC)
    in_s3 = make_revision(
        app,
        source="s3",
        sha256="",
        size=10,
        location={"bucket": "releases", "key": "shop/a b.zip", "version": "v1", "etag": "9b2cf535f27731c9"},
    )
    on_github = make_revision(
        app,
        source="github",
        sha256="",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": sha(7)},
    )
    html = as_role(client, project, "viewer").get(page_url(project)).content.decode()
    row = {r.pk: _row(html, r.pk) for r in (uploaded, in_s3, on_github)}
    assert "2.0\xa0KB" in row[uploaded.pk] and uploaded.sha256[:12] in row[uploaded.pk]
    assert "ApplicationStart (1)" in row[uploaded.pk] and "Stored on the server" in row[uploaded.pk]
    assert (
        'href="https://s3.console.aws.amazon.com/s3/object/releases?prefix=shop%2Fa+b.zip"' in row[in_s3.pk]
    )
    assert "s3://releases/shop/a b.zip" in row[in_s3.pk] and "9b2cf535f277" in row[in_s3.pk]
    assert f'href="https://github.com/acme/shop/commit/{sha(7)}"' in row[on_github.pk]
    assert '<span class="badge">GitHub</span>' in row[on_github.pk]


def test_it_shows_where_each_revision_is_deployed_now_and_its_last_deployment(client, project, app):
    group = app.deployment_groups.get()
    other_app, staging, _ = setup_group(project, hosts=0)  # another application's group: not on this page
    staging.name = "staging"
    staging.save()
    seed_deployment(staging, make_revision(other_app))
    old, new, unused = make_revision(app), make_revision(app), make_revision(app)
    seed_deployment(group, old)
    seed_deployment(group, new)
    failed = seed_deployment(group, old, status="Failed")
    html = as_role(client, project, "viewer").get(page_url(project, application="shop")).content.decode()
    assert f"Current in {group.name}" in _row(html, new.pk)
    assert "Current in" not in _row(html, old.pk)  # the newer success replaced it
    assert failed.pk in _row(html, old.pk) and "Failed" in _row(html, old.pk)
    assert "Never deployed" in _row(html, unused.pk)
    assert "staging" not in html


def test_the_deploy_link_opens_the_new_deployment_form_with_the_revision_chosen(client, project, app):
    revision = make_revision(app)
    html = as_role(client, project, "contributor").get(page_url(project)).content.decode()
    link = re.search(rf'href="([^"]+\?revision={revision.pk})"', html).group(1)
    form = client.get(link).content.decode()
    assert re.search(rf'<option value="{revision.pk}" selected>', form)


def test_the_page_costs_the_same_number_of_queries_however_many_revisions(client, project, app):
    group = app.deployment_groups.get()
    owner = make_member(project, role="owner")
    client.force_login(owner)

    def count() -> int:
        client.get(page_url(project))  # warm the session and content types
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page_url(project)).status_code == 200
        return len(captured)

    make_revision(app, appspec=APPSPEC, uploaded_by=owner)
    small = count()
    for _ in range(19):
        uploader = make_member(project, role="contributor")
        seed_deployment(group, make_revision(app, appspec=APPSPEC, uploaded_by=uploader))
    make_revision(app, source="github", sha256="", location={"repository": "acme/shop", "commit": sha(1)})
    large = count()
    assert large == small, f"{small} queries for 1 revision, {large} for 21"
    assert large <= REVISIONS_BASELINE, f"{large} queries; the committed baseline is {REVISIONS_BASELINE}"


# -- upload -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "contributor"])
def test_a_contributor_or_owner_uploads_a_bundle(client, project, app, tmp_path, role):
    as_role(client, project, role)
    path = build_archive(tmp_path / "b.tgz", "tgz", bundle_files())
    response = upload(client, project, path, description="from the page")
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert response["Location"] == page_url(project, application="shop")
    assert revision.description == "from the page" and revision.bundle.read() == path.read_bytes()
    assert revision.uploaded_by.username.startswith(role)


def test_a_bad_appspec_shows_the_apis_file_and_line_error_and_stores_nothing(client, project, app, tmp_path):
    path = build_archive(tmp_path / "b.zip", "zip", bundle_files(BAD_APPSPEC))
    user = make_member(project, role="contributor")
    api = APIClient()
    api.force_authenticate(user)
    with open(path, "rb") as fh:
        api_message = api.post(
            "/api/v1/applications/shop/revisions/", {"bundle": fh}, format="multipart"
        ).json()["errors"]["bundle"][0]
    assert "appspec.yml, line" in api_message
    client.force_login(user)
    response = upload(client, project, path)
    assert response.status_code == 400
    assert _escaped(api_message) in response.content.decode()
    assert not Revision.objects.exists()


# -- register ---------------------------------------------------------------------------------------


def test_a_contributor_registers_an_s3_object(client, project, app, aws_env):
    s3 = releases_bucket(project, aws_env)
    put = s3.put_object(Bucket="releases", Key="shop/shop-2.zip", Body=b"zip bytes")
    as_role(client, project, "contributor")
    response = register(
        client, project, source="s3", s3_uri="s3://releases/shop/shop-2.zip", etag=put["ETag"]
    )
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert revision.source == "s3" and revision.bundle_type == "zip" and revision.size == len(b"zip bytes")


def test_an_s3_etag_mismatch_is_shown_on_the_form_and_nothing_is_stored(client, project, app, aws_env):
    releases_bucket(project, aws_env).put_object(Bucket="releases", Key="shop.zip", Body=b"zip bytes")
    as_role(client, project, "contributor")
    response = register(client, project, source="s3", s3_uri="s3://releases/shop.zip", etag="abc")
    assert response.status_code == 400
    assert "not abc. Give the object&#x27;s current ETag" in response.content.decode()
    assert not Revision.objects.exists()


def test_a_malformed_s3_uri_is_refused_before_any_request(client, project, app):
    as_role(client, project, "contributor")
    response = register(client, project, source="s3", s3_uri="releases/shop.zip")
    assert response.status_code == 400
    assert "Give the object as s3://bucket/key." in response.content.decode()


def test_a_contributor_registers_a_github_commit_and_an_unknown_one_is_named(client, project, app):
    as_role(client, project, "contributor")
    with connected_github(project):
        response = register(client, project, source="github", commit="abcdef1")
        assert response.status_code == 400
        assert "acme/shop has no commit abcdef1" in response.content.decode()
        assert not Revision.objects.exists()
        response = register(client, project, source="github", repository="acme/shop", commit=sha(2))
    assert response.status_code == 302
    revision = Revision.objects.get()
    assert revision.location == {"repository": "acme/shop", "commit": sha(2)}


def test_without_a_github_connection_the_form_says_who_can_add_one(client, project, app):
    as_role(client, project, "contributor")
    response = register(client, project, source="github", commit=sha(2))
    assert response.status_code == 400
    assert "no GitHub connection. An owner can add one under Integrations." in response.content.decode()


def test_an_application_of_another_project_cannot_be_chosen(client, project, app):
    other_project = make_project("other")
    setup_group(other_project, hosts=0, app_name="blog")
    as_role(client, project, "contributor")
    response = register(client, project, application="blog", source="github", commit=sha(2))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def _row(html: str, pk: int) -> str:
    start = html.index(f'id="revision-{pk}"')
    return html[start : html.index("</tr>", start)]


def _escaped(text: str) -> str:
    from django.utils.html import escape

    return escape(text)

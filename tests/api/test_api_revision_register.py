"""Registering revisions that stay in S3 (moto's server) or GitHub (the local fake), as JSON.

`register-application-revision --s3-location` and `--github-location` in CodeDeploy terms: the server
checks the object or commit through the project's connection, then stores a row and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

# The GitHub fake and the connection helpers live with the integration tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integrations"))
from fakes import sha
from revision_helpers import connected_github, releases_bucket

from deployments.models import Revision
from projects.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(aws_env, project):
    return releases_bucket(project, aws_env)


@pytest.fixture
def github(project):
    with connected_github(project) as fake:
        yield fake


URL = "/api/v1/applications/shop/revisions/"


def post(client, body):
    return client.post(URL, body, format="json")


def put(s3, key: str, body: bytes = b"archive bytes") -> dict:
    return s3.put_object(Bucket="releases", Key=key, Body=body)


def test_it_registers_an_s3_object_after_checking_it(api_client, application, s3):
    stored = put(s3, "shop/shop-1.4.zip")
    response = post(
        api_client, {"s3": {"bucket": "releases", "key": "shop/shop-1.4.zip"}, "description": "1.4"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["source"] == "s3" and body["bundle_type"] == "zip"
    assert body["size"] == len(b"archive bytes") and body["description"] == "1.4"
    assert body["uploaded_by"] == "alice"
    assert body["location"] == {
        "bucket": "releases",
        "key": "shop/shop-1.4.zip",
        "version": stored["VersionId"],
        "etag": stored["ETag"].strip('"'),
    }
    assert not Revision.objects.get(pk=body["id"]).bundle


def test_it_pins_the_version_and_checks_the_etag_it_is_given(api_client, application, s3):
    first = put(s3, "shop/app.bin", b"one")
    put(s3, "shop/app.bin", b"two, newer")
    response = post(
        api_client,
        {
            "s3": {
                "bucket": "releases",
                "key": "shop/app.bin",
                "bundle_type": "tgz",
                "version": first["VersionId"],
                "etag": first["ETag"],
            }
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["bundle_type"] == "tgz" and body["size"] == 3
    assert body["location"]["version"] == first["VersionId"]


def test_an_etag_mismatch_is_refused_and_nothing_is_stored(api_client, application, s3):
    stored = put(s3, "shop/shop.tgz")
    response = post(api_client, {"s3": {"bucket": "releases", "key": "shop/shop.tgz", "etag": "0123abcd"}})
    assert response.status_code == 400
    message = response.json()["errors"]["s3"][0]
    assert f"has ETag {stored['ETag'].strip(chr(34))}, not 0123abcd" in message
    assert "current ETag" in message
    assert not Revision.objects.exists()


def test_a_missing_object_is_refused_naming_it(api_client, application, s3):
    response = post(api_client, {"s3": {"bucket": "releases", "key": "nope.zip"}})
    assert response.status_code == 400
    body = response.json()
    assert "s3://releases/nope.zip cannot be read" in body["errors"]["s3"][0]
    assert body["detail"].startswith("s3: ")
    assert not Revision.objects.exists()


def test_without_an_aws_connection_it_says_who_can_add_one(api_client, application):
    response = post(api_client, {"s3": {"bucket": "releases", "key": "shop.zip"}})
    assert response.status_code == 400
    assert "no AWS connection. An owner can add one" in response.json()["errors"]["s3"][0]


def test_a_key_without_an_archive_extension_needs_a_bundle_type(api_client, application):
    response = post(api_client, {"s3": {"bucket": "releases", "key": "builds/latest"}})
    assert response.status_code == 400
    assert "give bundle_type" in response.json()["errors"]["s3.bundle_type"][0]


def test_missing_s3_fields_are_named_with_their_path(api_client, application):
    response = post(api_client, {"s3": {"key": "a.zip", "bundle_type": "rar"}})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"s3.bucket", "s3.bundle_type"}
    assert "s3.bucket: This field is required." in response.json()["detail"]


def test_it_registers_a_github_commit_with_its_message(api_client, application, github):
    response = post(api_client, {"github": {"repository": "acme/shop", "commit": sha(2)}})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["source"] == "github" and body["bundle_type"] == "tgz"
    assert body["location"] == {"repository": "acme/shop", "commit": sha(2)}
    assert body["description"] == "Fix checkout totals, fixes #12 and SHOP-7"
    assert github.requests_to("GET", f"/repos/acme/shop/commits/{sha(2)}")


def test_the_repository_defaults_to_the_connected_one_and_a_description_wins(api_client, application, github):
    response = post(api_client, {"github": {"commit": sha(3)}, "description": "release 7"})
    assert response.status_code == 201, response.json()
    assert response.json()["description"] == "release 7"
    assert response.json()["location"]["repository"] == "acme/shop"


def test_an_unknown_commit_is_refused_naming_the_commit(api_client, application, github):
    response = post(api_client, {"github": {"repository": "acme/shop", "commit": "deadbeef"}})
    assert response.status_code == 400
    assert "acme/shop has no commit deadbeef" in response.json()["errors"]["github.commit"][0]
    assert not Revision.objects.exists()


def test_another_repository_is_refused_without_asking_github(api_client, application, github):
    response = post(api_client, {"github": {"repository": "evil/shop", "commit": sha(1)}})
    assert response.status_code == 400
    message = response.json()["errors"]["github.repository"][0]
    assert "evil/shop is not this project's connected repository (acme/shop)" in message
    assert not github.requests_to("GET", ".*")


def test_a_commit_that_is_not_hex_is_refused(api_client, application, github):
    response = post(api_client, {"github": {"commit": "main; rm -rf /"}})
    assert response.status_code == 400
    assert "not a commit sha" in response.json()["errors"]["github.commit"][0]


def test_without_a_github_connection_it_says_who_can_add_one(api_client, application):
    response = post(api_client, {"github": {"commit": sha(1)}})
    assert response.status_code == 400
    assert "no GitHub connection" in response.json()["errors"]["github"][0]


@pytest.mark.parametrize(
    "body, expect",
    [
        ({}, "this request has none of them"),
        ({"description": "only words"}, "this request has none of them"),
        ({"s3": {"bucket": "b", "key": "k.zip"}, "github": {"commit": "abc1234"}}, "has s3 and github"),
        ({"bundle": "not a file", "s3": {"bucket": "b", "key": "k.zip"}}, "has bundle and s3"),
    ],
)
def test_it_needs_exactly_one_source(api_client, application, body, expect):
    response = post(api_client, body)
    assert response.status_code == 400
    assert expect in response.json()["errors"]["non_field_errors"][0]
    assert not Revision.objects.exists()


def test_a_json_list_is_refused(api_client, application):
    response = post(api_client, [{"s3": {}}])
    assert response.status_code == 400
    assert "JSON object" in response.json()["detail"]


def test_s3_in_a_multipart_form_is_told_to_send_json(api_client, application):
    response = api_client.post(URL, {"s3": "releases/shop.zip"}, format="multipart")
    assert response.status_code == 400
    assert "send the request as application/json" in response.json()["errors"]["s3"][0]


@pytest.mark.parametrize("role, status", [("contributor", 201), ("viewer", 403)])
def test_registering_needs_the_contributor_role(
    application, project, github, django_user_model, role, status
):
    user = django_user_model.objects.create_user(f"{role}-user")
    Membership.objects.create(project=project, user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)
    response = post(client, {"github": {"commit": sha(1)}})
    assert response.status_code == status
    assert Revision.objects.count() == (1 if status == 201 else 0)


def test_an_outsider_gets_a_404(application, github, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("mallory"))
    assert post(client, {"github": {"commit": sha(1)}}).status_code == 404
    assert not github.requests_to("GET", ".*")


def test_the_schema_describes_both_request_shapes(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    content = schema["paths"][URL.replace("shop", "{application}")]["post"]["requestBody"]["content"]
    assert content["multipart/form-data"]["schema"]["$ref"].endswith("/RevisionUploadRequest")
    assert content["application/json"]["schema"]["$ref"].endswith("/RevisionRegisterRequest")
    register = schema["components"]["schemas"]["RevisionRegisterRequest"]["properties"]
    assert {"s3", "github", "description"} <= set(register)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"s3": "s3://releases/a.zip"}, "s3"),
        ({"s3": []}, "s3"),
        ({"s3": {}}, "s3.bucket"),
        ({"s3": {"bucket": ["releases"], "key": "a.zip"}}, "s3.bucket"),
        ({"s3": {"bucket": "b", "key": "k" * 1025}}, "s3.key"),
        ({"github": {"commit": ["abc1234"]}}, "github.commit"),
        ({"github": {"commit": "a" * 41}}, "github.commit"),
        ({"github": {"commit": "abc1234"}, "description": "x" * 501}, "description"),
    ],
)
def test_malformed_shapes_get_a_400_naming_the_field(api_client, application, body, field):
    response = post(api_client, body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert not Revision.objects.exists()

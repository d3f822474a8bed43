"""SigV4 with access keys: each refusal is AWS's error, and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from codedeploy_helpers import in_process, key_client

from deployments.models import Application
from projects.models import AccessKey, Membership, Project, Role


def _code(caught) -> str:
    return caught.value.response["Error"]["Code"]


def test_a_wrong_secret_is_an_invalid_signature_and_creates_nothing(access_key, client, protocol):
    key, secret = access_key
    boto = key_client(key, secret[:-1] + ("A" if secret[-1] != "A" else "B"), client, protocol)
    with pytest.raises(ClientError) as caught:
        boto.create_application(applicationName="web")
    assert _code(caught) == "InvalidSignatureException"
    assert boto.sent[-1][1].status_code == 403
    assert not Application.objects.exists()


def test_a_body_changed_after_signing_is_an_invalid_signature(access_key, client):
    key, secret = access_key
    boto = key_client(key, secret, client)

    def tamper(request, **kwargs):
        if "Signature=" in str(request.headers.get("Authorization", "")):  # after the signer
            request.data = request.body.replace(b'"web"', b'"wab"')

    boto.meta.events.register_last("request-created.codedeploy", tamper)
    with pytest.raises(ClientError) as caught:
        boto.create_application(applicationName="web")
    assert _code(caught) == "InvalidSignatureException"
    assert not Application.objects.exists()


def test_a_request_signed_more_than_15_minutes_ago_is_refused(access_key, client, protocol):
    key, secret = access_key
    boto = key_client(key, secret, client, protocol)
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=old),
        pytest.raises(ClientError) as caught,
    ):
        boto.create_application(applicationName="web")
    assert _code(caught) == "InvalidSignatureException"
    assert "Signature expired" in caught.value.response["Error"]["Message"]
    assert not Application.objects.exists()


def test_a_request_signed_14_minutes_ago_is_accepted(access_key, client):
    key, secret = access_key
    boto = key_client(key, secret, client)
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=14)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old):
        boto.create_application(applicationName="web")
    assert Application.objects.filter(name="web").exists()


def test_a_revoked_key_is_an_unrecognized_client(access_key, client, protocol):
    key, secret = access_key
    key.revoke()
    boto = key_client(key, secret, client, protocol)
    with pytest.raises(ClientError) as caught:
        boto.create_application(applicationName="web")
    assert _code(caught) == "UnrecognizedClientException"
    assert not Application.objects.exists()


def test_an_unknown_key_is_an_unrecognized_client(access_key, client):
    key, secret = access_key
    key.key_id = "FDKAAAAAAAAAAAAAAAAA"
    boto = key_client(key, secret, client)
    with pytest.raises(ClientError) as caught:
        boto.list_applications()
    assert _code(caught) == "UnrecognizedClientException"


def test_another_projects_key_sees_nothing_of_this_project(
    access_key, client, user, project, django_user_model
):
    Application.objects.create(project=project, name="web")
    mallory = django_user_model.objects.create_user("mallory", password="x")
    theirs = Project.objects.create(name="Theirs", slug="theirs")
    Membership.objects.create(project=theirs, user=mallory, role=Role.OWNER)
    key, secret = AccessKey.issue(mallory, theirs)
    boto = key_client(key, secret, client)

    assert boto.list_applications()["applications"] == []
    with pytest.raises(boto.exceptions.ApplicationDoesNotExistException):
        boto.get_application(applicationName="web")
    boto.delete_application(applicationName="web")  # CodeDeploy's answer for a name it does not have
    with pytest.raises(boto.exceptions.ApplicationDoesNotExistException):
        boto.create_deployment_group(
            applicationName="web",
            deploymentGroupName="g",
            serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeploy",
            onPremisesInstanceTagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}],
        )
    assert Application.objects.filter(project=project, name="web").exists()
    assert not project.applications.get(name="web").deployment_groups.exists()


def test_a_viewers_key_reads_but_may_not_write(client, user, project, protocol, django_user_model):
    Application.objects.create(project=project, name="web")
    viewer = django_user_model.objects.create_user("victor", password="x")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    key, secret = AccessKey.issue(viewer, project)
    boto = key_client(key, secret, client, protocol)

    assert boto.list_applications()["applications"] == ["web"]
    with pytest.raises(ClientError) as caught:
        boto.create_application(applicationName="other")
    assert _code(caught) == "AccessDeniedException"
    assert "contributor" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        boto.delete_application(applicationName="web")
    assert _code(caught) == "AccessDeniedException"
    assert sorted(Application.objects.values_list("name", flat=True)) == ["web"]


def test_the_key_acts_with_the_users_role_now_not_when_it_was_made(access_key, client, user, project):
    key, secret = access_key
    boto = key_client(key, secret, client)
    Membership.objects.filter(user=user, project=project).update(role=Role.VIEWER)
    with pytest.raises(ClientError) as caught:
        boto.create_application(applicationName="web")
    assert _code(caught) == "AccessDeniedException"
    Membership.objects.filter(user=user, project=project).delete()
    with pytest.raises(ClientError) as caught:
        boto.list_applications()
    assert _code(caught) == "AccessDeniedException"


def test_any_region_signs(access_key, client, protocol):
    from codedeploy_helpers import client as boto_client

    key, secret = access_key
    boto = boto_client(
        key.key_id, secret, "http://testserver/codedeploy", protocol=protocol, region="mars-north-7"
    )
    in_process(boto, client)
    assert boto.list_applications()["applications"] == []


def test_an_unsigned_request_is_refused(client, project):
    response = client.post(
        "/codedeploy/",
        data=b"{}",
        content_type="application/x-amz-json-1.1",
        HTTP_X_AMZ_TARGET="CodeDeploy_20141006.ListApplications",
    )
    assert response.status_code == 403
    assert json.loads(response.content)["__type"] == "MissingAuthenticationTokenException"


def test_the_session_cookie_does_not_authenticate(client, user, project):
    client.force_login(user)
    response = client.post(
        "/codedeploy/",
        data=b'{"applicationName": "web"}',
        content_type="application/x-amz-json-1.1",
        HTTP_X_AMZ_TARGET="CodeDeploy_20141006.CreateApplication",
    )
    assert response.status_code == 403
    assert not Application.objects.exists()


def test_last_use_is_recorded(access_key, client):
    key, secret = access_key
    key_client(key, secret, client).list_applications()
    key.refresh_from_db()
    assert key.last_used_at is not None

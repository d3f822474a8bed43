"""Applications through a real boto3 client, in both protocols."""

from __future__ import annotations

import pytest

from deployments.models import Application


def test_it_creates_gets_and_lists_applications(codedeploy, project):
    created = codedeploy.create_application(applicationName="web", computePlatform="Server")

    app = Application.objects.get(project=project, name="web")
    assert created["applicationId"] == str(app.pk)
    got = codedeploy.get_application(applicationName="web")["application"]
    assert got["applicationName"] == "web"
    assert got["computePlatform"] == "Server"
    assert got["createTime"].timestamp() == pytest.approx(app.created_at.timestamp(), abs=0.01)
    assert codedeploy.list_applications()["applications"] == ["web"]


def test_it_answers_a_missing_application_with_codedeploys_exception(codedeploy):
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException) as caught:
        codedeploy.get_application(applicationName="nope")
    assert "nope" in caught.value.response["Error"]["Message"]


def test_it_refuses_a_second_application_of_the_same_name(codedeploy, project):
    codedeploy.create_application(applicationName="web")
    with pytest.raises(codedeploy.exceptions.ApplicationAlreadyExistsException):
        codedeploy.create_application(applicationName="web")
    assert Application.objects.filter(project=project).count() == 1

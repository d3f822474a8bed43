"""Small helpers for the integration tests; each makes one object."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from deployments.models import Application, DeploymentConfig, DeploymentGroup, Instance
from integrations.models import AwsConnection, GitHubConnection, JiraConnection
from projects.models import Membership, Project

_seq = itertools.count(1)
GITHUB_TOKEN = "gh-secret-token"
WEBHOOK_SECRET = "hook-secret-value"
JIRA_TOKEN = "jira-secret-token"
AWS_SECRET = "aws-secret-access-key-value"


def client_for(user):
    """A page client signed in as `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def api_for(user):
    """An API client authenticated as `user`."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def make_project(slug: str = "shop") -> Project:
    return Project.objects.create(name=slug.title(), slug=slug)


def make_member(project: Project, username: str, role: str):
    user = get_user_model().objects.create_user(username, password="pw")
    Membership.objects.create(project=project, user=user, role=role)
    return user


def make_app(project: Project, name: str = "shop") -> Application:
    return Application.objects.create(project=project, name=name)


def make_group(app: Application, name: str = "web") -> DeploymentGroup:
    return DeploymentGroup.objects.create(
        application=app,
        name=name,
        deployment_config=DeploymentConfig.objects.get(name="CodeDeployDefault.AllAtOnce"),
        tag_filters=[{"key": "role", "value": name, "type": "KEY_AND_VALUE"}],
    )


def make_instance(
    project: Project, name: str | None = None, *, ec2_instance_id: str = "", **tags
) -> Instance:
    instance = Instance(
        project=project,
        name=name or f"host{next(_seq)}",
        tags=tags or {"role": "web"},
        ec2_instance_id=ec2_instance_id,
    )
    instance.credential = instance.rotate_credential()
    instance.save()
    return instance


def make_github(project: Project, api_url: str, **fields) -> GitHubConnection:
    fields.setdefault("repository", "acme/shop")
    fields.setdefault("token", GITHUB_TOKEN)
    fields.setdefault("webhook_secret", WEBHOOK_SECRET)
    return GitHubConnection.objects.create(project=project, api_url=api_url, **fields)


def make_jira(project: Project, server_url: str, **fields) -> JiraConnection:
    fields.setdefault("auth", "pat")
    fields.setdefault("token", JIRA_TOKEN)
    return JiraConnection.objects.create(project=project, server_url=server_url, **fields)


def make_aws(project: Project, endpoint_url: str, **fields) -> AwsConnection:
    fields.setdefault("access_key_id", "testing")
    fields.setdefault("secret_access_key", AWS_SECRET)
    return AwsConnection.objects.create(project=project, endpoint_url=endpoint_url, **fields)


def finish(deployment_id: str, outcome: str = "Succeeded"):
    """Run every command of the deployment as its agents would (Celery is eager in tests)."""
    from deployments import engine
    from deployments.models import CommandStatus, Deployment, HostCommand

    while True:
        command = (
            HostCommand.objects.filter(deployment_id=deployment_id, status=CommandStatus.ISSUED)
            .select_related("instance", "lifecycle_event")
            .order_by("issued_at", "id")
            .first()
        )
        if command is None:
            return Deployment.objects.get(pk=deployment_id)
        engine.ack_command(command.pk, command.instance, 60)
        diagnostics = {"error_code": "ScriptFailed", "message": "exit 1"} if outcome == "Failed" else {}
        engine.complete_command(command.pk, command.instance, outcome, diagnostics)

"""The suite's one set of factories: each call makes one object (and what it cannot exist without).

Every argument has a default, so a test names only what it is about. The first argument is the name
(or, for rows that belong to a parent, the parent); everything else is a keyword. Rows made without a
`project` belong to none, as the engine tests' rows always have. Import by name: tests/ is on sys.path.

The second part drives a rollout as its agents would: `deploy` starts one through the engine, and
`issued`, `complete`, `finish_host` and `finish` answer the commands the engine issues (Celery runs
eagerly in the test process, so each answer advances the deployment).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from deployments import engine
from deployments.models import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    ONE_AT_A_TIME,
    Application,
    CommandStatus,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    FileExistsBehavior,
    HostCommand,
    Instance,
    InstanceGroupState,
    Revision,
)
from integrations.models import AwsConnection, GitHubConnection, JiraConnection
from projects.models import Membership, Project, Role

__all__ = [
    "ALL_AT_ONCE",
    "AWS_SECRET",
    "GITHUB_TOKEN",
    "HALF_AT_A_TIME",
    "JIRA_TOKEN",
    "ONE_AT_A_TIME",
    "PASSWORD",
    "WEBHOOK_SECRET",
    "builtin_config",
    "complete",
    "deploy",
    "finish",
    "finish_host",
    "install",
    "issued",
    "make_app",
    "make_aws",
    "make_config",
    "make_deployment",
    "make_fleet",
    "make_github",
    "make_group",
    "make_instance",
    "make_jira",
    "make_member",
    "make_project",
    "make_revision",
    "make_user",
    "refresh",
]

_seq = itertools.count(1)

PASSWORD = "pw"
# Recognisable secrets for the integration connections, so a test can look for a leak.
GITHUB_TOKEN = "gh-secret-token"
WEBHOOK_SECRET = "hook-secret-value"
JIRA_TOKEN = "jira-secret-token"
AWS_SECRET = "aws-secret-access-key-value"


# --- people and projects ---------------------------------------------------------------------------


def make_user(username: str | None = None, *, password: str = PASSWORD, **fields):
    """A user with no membership anywhere (an outsider, until made a member)."""
    return get_user_model().objects.create_user(username or f"user-{next(_seq)}", password=password, **fields)


def make_project(slug: str = "shop", *, name: str | None = None, owner=None, **fields) -> Project:
    """A project; `owner` (a user or a username) is its owner and creator. More members: make_member."""
    if isinstance(owner, str):
        owner = make_user(owner)
    fields.setdefault("created_by", owner)
    project = Project.objects.create(name=name or slug.title(), slug=slug, **fields)
    if owner is not None:
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def make_member(project: Project, user=None, role: str = Role.VIEWER, *, password: str = PASSWORD):
    """A member with `role` in the project: the user given, or a new one (by username, or named after the
    role); returns the user."""
    if user is None or isinstance(user, str):
        user = make_user(user or f"{role}-{next(_seq)}", password=password)
    Membership.objects.create(project=project, user=user, role=role)
    return user


# --- the CodeDeploy objects ------------------------------------------------------------------------


def _refuse_a_row_as_name(factory: str, name) -> None:
    # The old helpers took the project first; a project passed where the name goes must not become one.
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{factory}() takes the name first; pass the project as project=")


def make_app(name: str | None = None, *, project: Project | None = None, **fields) -> Application:
    """An application, named "shop" (then "shop-2", ...) unless named."""
    _refuse_a_row_as_name("make_app", name)
    if name is None:
        taken = Application.objects.filter(project=project, name__startswith="shop").count()
        name = "shop" if not taken else f"shop-{taken + 1}"
    return Application.objects.create(project=project, name=name, **fields)


def builtin_config(name: str) -> DeploymentConfig:
    return DeploymentConfig.objects.get(name=name)


def make_config(name: str, kind: str = "HOST_COUNT", value: int = 0, *, project=None) -> DeploymentConfig:
    """A custom config; the three built-ins already exist (see builtin_config)."""
    return DeploymentConfig.objects.create(
        project=project, name=name, minimum_healthy_type=kind, minimum_healthy_value=value
    )


def make_group(
    app: Application,
    name: str = "web",
    *,
    config: str | DeploymentConfig = ONE_AT_A_TIME,
    tags: dict[str, str] | None = None,
    tag_filters: list[dict] | None = None,
    tag_set: list[list[dict]] | None = None,
    fields: dict | None = None,
    **more_tags: str,
) -> DeploymentGroup:
    """A group matching `tags` (each key=value, ORed; by default role=<name>) unless explicit filters
    are given. Other DeploymentGroup columns go in `fields`."""
    if isinstance(config, str):
        config = builtin_config(config)
    if tag_filters is None and tag_set is None:
        tags = {**(tags or {}), **more_tags} or {"role": name}
        tag_filters = [{"key": k, "value": v, "type": "KEY_AND_VALUE"} for k, v in tags.items()]
    return DeploymentGroup.objects.create(
        application=app,
        name=name,
        deployment_config=config,
        tag_filters=tag_filters or [],
        tag_set=tag_set or [],
        **(fields or {}),
    )


def make_revision(app: Application, **fields) -> Revision:
    """A stored revision row (no bundle file) with a unique checksum."""
    fields.setdefault("bundle_type", "zip")
    fields.setdefault("sha256", f"{next(_seq):064x}")
    return Revision.objects.create(application=app, **fields)


def make_instance(
    name: str | None = None,
    *,
    project: Project | None = None,
    tags: dict[str, str] | None = None,
    online: bool = True,
    hostname: str = "",
    ec2_instance_id: str = "",
    last_seen=None,
    agent_version: str = "",
    **more_tags: str,
) -> Instance:
    """A registered host, tagged role=web unless tagged; its raw agent credential is on `.credential`."""
    _refuse_a_row_as_name("make_instance", name)
    name = name or f"host-{next(_seq)}"
    instance = Instance(
        project=project,
        name=name,
        hostname=hostname,
        tags={**(tags or {}), **more_tags} or {"role": "web"},
        online=online,
        ec2_instance_id=ec2_instance_id,
        last_seen=last_seen,
        agent_version=agent_version,
    )
    raw = instance.rotate_credential()
    instance.save()
    instance.credential = raw
    return instance


def make_fleet(project: Project | None = None, count: int = 2, *, name: str = "web-{}", **tags: str):
    """`count` hosts named from the `name` pattern (web-1, web-2, ...; "web-{:02d}" gives web-01)."""
    return [make_instance(name.format(n), project=project, **tags) for n in range(1, count + 1)]


def install(instance: Instance, group: DeploymentGroup, revision: Revision | None) -> InstanceGroupState:
    """Record that the host holds `revision` for the group (None: it never received one)."""
    return InstanceGroupState.objects.create(
        instance=instance, group=group, revision=revision, last_status="Succeeded" if revision else ""
    )


def make_deployment(
    group: DeploymentGroup,
    revision: Revision,
    *,
    status: str = "Succeeded",
    user=None,
    ago: timedelta = timedelta(0),
    took: timedelta = timedelta(seconds=60),
) -> Deployment:
    """A deployment row in `status`, created `ago` in the past, without running the engine (see
    `deploy` for one the engine plans and runs)."""
    deployment = Deployment.objects.create(
        application=group.application,
        deployment_group=group,
        revision=revision,
        deployment_config=group.deployment_config,
        status=status,
        created_by=user,
        file_exists_behavior=FileExistsBehavior.DISALLOW,
    )
    created = timezone.now() - ago
    Deployment.objects.filter(pk=deployment.pk).update(
        created_at=created, started_at=created, ended_at=created + took if status != "InProgress" else None
    )
    deployment.refresh_from_db()
    return deployment


# --- integration connections -----------------------------------------------------------------------


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


# --- a rollout, driven as its agents would drive it -------------------------------------------------


def deploy(group: DeploymentGroup, revision: Revision, **kwargs) -> Deployment:
    """A deployment created (and started) by the engine, as the API creates one."""
    return refresh(engine.create_deployment(group=group, revision=revision, **kwargs))


def refresh(deployment: Deployment) -> Deployment:
    return Deployment.objects.get(pk=deployment.pk)


def issued(instance: Instance | None = None, deployment: Deployment | None = None) -> list[HostCommand]:
    """Commands an agent would see in its poll answer right now."""
    query = HostCommand.objects.filter(status=CommandStatus.ISSUED).select_related(
        "lifecycle_event", "instance"
    )
    if instance is not None:
        query = query.filter(instance=instance)
    if deployment is not None:
        query = query.filter(deployment=deployment)
    return list(query.order_by("issued_at", "lifecycle_event__target__position"))


def complete(
    command: HostCommand, instance: Instance, status: str = "Succeeded", **diagnostics
) -> HostCommand:
    """Ack and complete one command, as the agent does."""
    engine.ack_command(command.pk, instance, 60)
    if status == "Failed":
        diagnostics.setdefault("error_code", "ScriptFailed")
        diagnostics.setdefault("message", f"{command.lifecycle_event.name} failed with exit code 1")
    return engine.complete_command(command.pk, instance, status, diagnostics)


def finish_host(
    instance: Instance,
    outcome: str = "Succeeded",
    *,
    fail_at: str = "AfterInstall",
    deployment: Deployment | None = None,
) -> list[str]:
    """Run the commands issued to the host (for one deployment, if given) until none is left."""
    ran = []
    while commands := issued(instance, deployment):
        command = commands[0]
        name = command.lifecycle_event.name
        failing = outcome == "Failed" and name == fail_at
        complete(command, instance, "Failed" if failing else "Succeeded")
        ran.append(name)
    return ran


def finish(deployment_id: str, outcome: str = "Succeeded", **diagnostics) -> Deployment:
    """Answer every command of the deployment with `outcome`, on every host, until none is left."""
    deployment = Deployment.objects.get(pk=deployment_id)
    while commands := issued(deployment=deployment):
        complete(commands[0], commands[0].instance, outcome, **diagnostics)
    return refresh(deployment)


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

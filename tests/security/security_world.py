"""One project with one of every object, its four kinds of user, and a snapshot of the whole database.

Every name starts with "zq" so a page or a response that mentions the project can be told from one that
does not, and every secret is a recognisable string so a leak can be searched for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection
from factories import (
    make_app,
    make_deployment,
    make_group,
    make_instance,
    make_member,
    make_project,
    make_revision,
    make_user,
)

from dashboard.models import Profile
from deployments.models import DeploymentConfig, RegistrationToken
from integrations.models import (
    AutoDeployRule,
    AwsConnection,
    CodeDeployImport,
    Ec2Discovery,
    GitHubConnection,
    GitHubDelivery,
    JiraConnection,
    Trigger,
    TriggerDelivery,
)
from projects.models import AccessKey, ApiToken, Role

SLUG = "zq-vault"
MARKERS = (SLUG, "zq-app", "zq-group", "zq-host", "zq-trigger", "zq-token-desc", "zq-config")
# Nothing listens on port 9 (discard): a page that calls out fails at once instead of waiting.
DEAD_URL = "http://127.0.0.1:9"

# Recognisable secrets: none of them may ever reach a page, a response, a log line or a plain column.
SECRETS = {
    "github_token": "zqsecret-github-token-5c1d",
    "github_webhook_secret": "zqsecret-github-hook-77ab",
    "jira_token": "zqsecret-jira-token-19fe",
    "aws_secret_access_key": "zqsecret-aws-secret-key-a0b2",
    "trigger_secret": "zqsecret-trigger-sign-3e3e",
    "slack_url": "https://hooks.slack.invalid/services/T000/B000/zqsecret-slack-path-8d8d",
    # A CodeDeploy access key's secret is stored encrypted (SigV4 needs it), like an integration secret.
    "access_key_secret": "zqsecret-access-key-2f6c",
}

# Columns that a read may legitimately touch (a session, a sign-in time, a token's last use).
VOLATILE_FIELDS = {"last_login", "last_used_at", "last_seen", "online", "session_data", "expire_date"}


@dataclass
class World:
    project: object
    other: object
    owner: object
    contributor: object
    viewer: object
    outsider: object
    bystander: object
    app: object
    group: object
    revision: object
    deployment: object
    instance: object
    registration_token: object
    api_token: object
    access_key: object
    config: object
    trigger: object
    codedeploy_import: object
    raw: dict = field(default_factory=dict)

    @property
    def users(self) -> dict:
        return {
            "owner": self.owner,
            "contributor": self.contributor,
            "viewer": self.viewer,
            "outsider": self.outsider,
        }


def seed() -> World:
    project = make_project(SLUG)
    owner = make_member(project, "zq-owner", Role.OWNER)
    contributor = make_member(project, "zq-contributor", Role.CONTRIBUTOR)
    viewer = make_member(project, "zq-viewer", Role.VIEWER)
    # The outsider owns a project of their own, so "outsider" is not the same as "nobody".
    other = make_project("elsewhere")
    outsider = make_member(other, "elsewhere-owner", Role.OWNER)
    bystander = make_user("zq-bystander")
    for user in (owner, contributor, viewer, outsider, bystander):
        Profile.of(user)  # made on first sight otherwise, which a snapshot would count as a write

    app = make_app("zq-app", project=project)
    group = make_group(app, "zq-group", role="web")
    revision = make_revision(app)
    instance = make_instance("zq-host-1", project=project, role="web")
    deployment = make_deployment(group, revision, status="Succeeded", user=owner)
    registration_token, raw_registration = RegistrationToken.issue(
        project=project, description="zq-token-desc", tags={"role": "web"}, created_by=owner
    )
    api_token, raw_api = ApiToken.issue(owner, "zq-api-token")
    access_key = AccessKey.objects.create(
        user=owner, project=project, key_id="FDKZQEXAMPLE00000001", secret=SECRETS["access_key_secret"]
    )
    config = DeploymentConfig.objects.create(
        project=project, name="zq-config", minimum_healthy_type="HOST_COUNT", minimum_healthy_value=0
    )

    github = GitHubConnection.objects.create(
        project=project,
        repository="acme/zq",
        api_url=DEAD_URL,
        token=SECRETS["github_token"],
        webhook_secret=SECRETS["github_webhook_secret"],
    )
    AutoDeployRule.objects.create(connection=github, branch="main", group=group)
    GitHubDelivery.objects.create(
        project=project, delivery_id="zq-delivery-1", event="push", ref="refs/heads/main"
    )
    JiraConnection.objects.create(
        project=project, server_url=DEAD_URL, auth="pat", token=SECRETS["jira_token"]
    )
    AwsConnection.objects.create(
        project=project,
        access_key_id="AKIAZQEXAMPLE",
        secret_access_key=SECRETS["aws_secret_access_key"],
        endpoint_url=DEAD_URL,
    )
    trigger = Trigger.objects.create(
        group=group,
        name="zq-trigger",
        events=["DeploymentSuccess"],
        kind="webhook",
        target=f"{DEAD_URL}/hook",
        secret=SECRETS["trigger_secret"],
    )
    TriggerDelivery.objects.create(trigger=trigger, event="DeploymentSuccess", deployment_id=deployment.pk)
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "Name", "value": "zq"}])
    codedeploy_import = CodeDeployImport.objects.create(
        project=project, requested_by=owner, status="done", report="zq-import-report"
    )

    return World(
        project=project,
        other=other,
        owner=owner,
        contributor=contributor,
        viewer=viewer,
        outsider=outsider,
        bystander=bystander,
        app=app,
        group=group,
        revision=revision,
        deployment=deployment,
        instance=instance,
        registration_token=registration_token,
        api_token=api_token,
        access_key=access_key,
        config=config,
        trigger=trigger,
        codedeploy_import=codedeploy_import,
        raw={"registration_token": raw_registration, "api_token": raw_api},
    )


@lru_cache(maxsize=1)
def _row_queries() -> tuple[tuple[str, str], ...]:
    """One plain SELECT per model (raw SQL: a snapshot is taken a few hundred times per run)."""
    queries = []
    for model in apps.get_models():
        if model is Session or model._meta.proxy:
            continue
        quote = connection.ops.quote_name
        names = [quote(f.column) for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS]
        pk = quote(model._meta.pk.column)
        table = quote(model._meta.db_table)
        # Names from the models, not from input.
        queries.append((model._meta.label, f"SELECT {', '.join(names)} FROM {table} ORDER BY {pk}"))  # noqa: S608
    return tuple(queries)


def snapshot() -> dict[str, str]:
    """A digest of every row of every model, leaving out sessions and the columns a read may touch."""
    state = {}
    with connection.cursor() as cursor:
        for label, sql in _row_queries():
            cursor.execute(sql)
            state[label] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return state


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))

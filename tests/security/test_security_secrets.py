"""Secrets go in through the real pages and never come out: not in a page or an API answer, not in a
database column as plain text, not in a log line, through create, "Test connection" and trigger delivery
against the local GitHub/JIRA fakes, moto and a trigger receiver.

Credentials (personal API tokens, registration tokens, agent credentials) are shown once, when made,
and stored only as sha256 hashes.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.urls import reverse
from factories import finish
from fakes import github_fake, jira_fake, receiver_fake, running
from security_routes import all_routes, is_public, url_for, walked_routes
from security_world import DEAD_URL, SECRETS

from deployments import engine
from deployments.models import Instance, RegistrationToken, Revision
from integrations.models import AwsConnection, GitHubConnection, JiraConnection, Trigger, TriggerDelivery

pytestmark = pytest.mark.django_db(transaction=True)

SLACK_PATH = "/services/T000/B000/zqsecret-slack-path-8d8d"
# A Slack URL whose delivery fails: the error kept in the delivery log must not repeat the URL.
DEAD_SLACK_URL = f"{DEAD_URL}/services/T000/B000/zqsecret-slack-dead-4a4a"
SEARCHED = [*(v for k, v in SECRETS.items() if k != "slack_url"), SLACK_PATH, DEAD_SLACK_URL]


def tokens_of(text: str) -> list[str]:
    """Which searched secrets (by their distinctive part) occur in `text`."""
    return [s for s in SEARCHED if s.rsplit("/", 1)[-1] in text]


def plain_text_columns(*values: str) -> list[str]:
    """Every table.column (of every row of every table) that holds one of `values` in plain text."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - our own tables
            names = [d[0] for d in cursor.description]
            for row in cursor.fetchall():
                for name, cell in zip(names, row, strict=True):
                    text = (
                        cell.decode(errors="replace") if isinstance(cell, bytes | memoryview) else str(cell)
                    )
                    found += [f"{table}.{name}" for v in values if v and v in text]
    return sorted(set(found))


def body_of(response) -> str:
    """The whole answer. A streamed one is read to its end: the live event stream of a finished
    deployment ends after its backfill, so it is searched like any page."""
    if not getattr(response, "streaming", False):
        return response.content.decode(errors="replace")
    if response.is_async:

        async def collect() -> list[bytes]:
            return [chunk async for chunk in response.streaming_content]

        chunks = async_to_sync(collect)()
    else:
        chunks = list(response.streaming_content)
    response.close()
    assert chunks, f"{response.request['PATH_INFO']} streamed nothing"
    return b"".join(chunks).decode(errors="replace")


def owner_client(world) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


@pytest.fixture
def outside():
    """GitHub and JIRA fakes and a receiver for webhook and Slack triggers, all on 127.0.0.1."""
    receiver = receiver_fake()
    receiver.route("POST", SLACK_PATH, lambda req, m: (200, {"ok": True}))
    with running(github_fake) as github, running(jira_fake) as jira:
        github.state.token = SECRETS["github_token"]  # the server fetches GitHub revisions with it
        yield {"github": github, "jira": jira, "receiver": receiver}
    receiver.stop()


def connect_everything(client: Client, world, outside, aws_endpoint: str) -> None:
    """What an owner types into the integration pages, secrets included."""
    base = f"/integrations/p/{world.project.slug}"
    forms = {
        "github": {
            "repository": "acme/shop",
            "default_branch": "main",
            "token": SECRETS["github_token"],
            "webhook_secret": SECRETS["github_webhook_secret"],
            "api_url": outside["github"].url,
            "deployments_api": "on",
            "rules": "",
        },
        "jira": {
            "server_url": outside["jira"].url,
            "auth": "pat",
            "token": SECRETS["jira_token"],
            "jql": "project = SHOP",
            "comment_on_success": "on",
        },
        "aws": {
            "access_key_id": "AKIAZQEXAMPLE",
            "secret_access_key": SECRETS["aws_secret_access_key"],
            "region": "us-east-1",
            "endpoint_url": aws_endpoint,
        },
    }
    for kind, form in forms.items():
        response = client.post(f"{base}/{kind}/", form)
        assert response.status_code == 302, (kind, response.content[:2000])
    receiver = outside["receiver"].url
    triggers = [
        ("zq-hook", "webhook", f"{receiver}/hook", SECRETS["trigger_secret"]),
        ("zq-slack", "slack", f"{receiver}{SLACK_PATH}", ""),
        ("zq-slack-dead", "slack", DEAD_SLACK_URL, ""),
    ]
    for name, kind, target, secret in triggers:
        response = client.post(
            f"{base}/triggers/new/",
            {
                "group": world.group.pk,
                "name": name,
                "events": ["DeploymentStart", "DeploymentSuccess"],
                "kind": kind,
                "target": target,
                "secret": secret,
                "enabled": "on",
            },
        )
        assert response.status_code == 302, (name, response.content[:2000])


def test_integration_secrets_never_reach_a_page_a_plain_column_or_a_log(world, outside, aws_env, caplog):
    caplog.set_level(logging.DEBUG)
    # The seeded connections go: everything below is made the way an owner makes it.
    for model in (GitHubConnection, JiraConnection, AwsConnection):
        model.objects.filter(project=world.project).delete()
    Trigger.objects.all().delete()
    client = owner_client(world)
    connect_everything(client, world, outside, aws_env)
    assert GitHubConnection.objects.get(project=world.project).token == SECRETS["github_token"]

    answers = {}
    for kind in ("github", "jira", "aws"):
        response = client.post(f"/integrations/p/{world.project.slug}/{kind}/test/")
        assert response.status_code == 200
        answers[f"test {kind}"] = response.content.decode()
    assert outside["github"].requests and outside["jira"].requests, "Test connection reached the fakes"
    assert "authorization" in outside["github"].requests[0].headers

    # A GitHub revision, so success also mirrors the deployment to GitHub and comments on JIRA.
    revision = Revision.objects.create(
        application=world.app,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": "0" * 37 + "003", "ref": "refs/heads/main"},
    )
    deployment = finish(engine.create_deployment(group=world.group, revision=revision).id)
    assert deployment.status == "Succeeded"
    receiver = outside["receiver"]
    assert len(receiver.requests_to("POST", "/hook")) == 2, "the webhook trigger delivered"
    assert len(receiver.requests_to("POST", SLACK_PATH)) == 2, "the Slack trigger delivered"
    failed = TriggerDelivery.objects.filter(trigger__name="zq-slack-dead")
    assert failed.exists() and not any(d.ok for d in failed)

    # Every page and API answer of the project, as its owner.
    for route in walked_routes():
        url = url_for(route, world)
        answers[f"GET {url}"] = body_of(client.get(url))
    # And what anyone may fetch: the public routes that need no parameters (install script, schema…).
    for route in all_routes():
        if is_public(route) and not route.params and route.namespace != "admin":
            response = Client().get(reverse(route.name))
            if response.status_code == 200:
                answers[f"anonymous GET {reverse(route.name)}"] = body_of(response)
    assert "anonymous GET /agent/install.sh" in answers
    for name in ("zq-hook", "zq-slack", "zq-slack-dead"):
        url = f"/integrations/p/{world.project.slug}/triggers/{Trigger.objects.get(name=name).pk}/"
        answers[f"GET {url}"] = client.get(url).content.decode()
    problems = {where: tokens_of(text) for where, text in answers.items() if tokens_of(text)}
    problems["plain-text columns"] = plain_text_columns(*SEARCHED)
    assert len(caplog.records) > 0
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    problems["log"] = tokens_of(logged)
    assert {k: v for k, v in problems.items() if v} == {}, "secrets that came back out"


def test_credentials_are_shown_once_and_stored_only_as_hashes(world):
    client = owner_client(world)
    slug = world.project.slug

    created = client.post("/profile/tokens/", {"name": "ci"})
    assert created.status_code == 201
    personal = created.context["raw"]
    assert personal.startswith("fdp_") and personal in created.content.decode()

    created = client.post(f"/p/{slug}/fleet/tokens/new/", {"description": "web", "tags": "role=web"})
    assert created.status_code == 201
    registration = created.context["raw"]
    assert registration.startswith("fdr_") and registration in created.content.decode()

    api = client.post(
        "/api/v1/registration-tokens/",
        {"project": slug, "description": "api"},
        content_type="application/json",
    )
    assert api.status_code == 201
    api_registration = api.json()["token"]
    assert api_registration.startswith("fdr_")

    registered = Client().post(
        "/agent/v1/register/", {"token": registration, "name": "zq-host-2"}, content_type="application/json"
    )
    assert registered.status_code == 201
    credential = registered.json()["credential"]
    assert credential.startswith("fdi_")
    # The credential works, which proves the hash below is the one the server checks.
    assert Instance.authenticate(credential).name == "zq-host-2"

    raws = [personal, registration, api_registration, credential, *world.raw.values()]
    # Never again: not on any page or API answer of the project or the profile.
    pages = [url_for(route, world) for route in walked_routes()] + [
        "/profile/tokens/",
        "/api/v1/registration-tokens/",
    ]
    for url in pages:
        body = body_of(client.get(url))
        assert not [r for r in raws if r in body], f"GET {url} shows a credential again"

    assert plain_text_columns(*raws) == []
    hashes = [hashlib.sha256(r.encode()).hexdigest() for r in raws]
    assert [h for h in hashes if not plain_text_columns(h)] == [], "each credential is stored as its sha256"
    assert RegistrationToken.objects.filter(project=world.project).count() == 3


def test_a_slack_url_is_kept_when_the_trigger_is_edited_without_retyping_it(world):
    trigger = Trigger.objects.create(
        group=world.group,
        name="zq-slack",
        events=["DeploymentSuccess"],
        kind="slack",
        target=SECRETS["slack_url"],
    )
    client = owner_client(world)
    url = f"/integrations/p/{world.project.slug}/triggers/{trigger.pk}/"
    page = client.get(url).content.decode()
    assert "zqsecret-slack-path" not in page and "•••• set" in page
    form = {
        "group": world.group.pk,
        "name": "zq-slack-renamed",
        "events": ["DeploymentStart"],
        "kind": "slack",
    }
    assert client.post(url, {**form, "target": "", "enabled": "on"}).status_code == 302
    trigger.refresh_from_db()
    assert (trigger.name, trigger.target) == ("zq-slack-renamed", SECRETS["slack_url"])
    assert plain_text_columns(SECRETS["slack_url"]) == []

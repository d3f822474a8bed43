"""No integration secret reaches a host: every agent-API answer of a whole deployment (register, poll,
heartbeat, ack, log, complete, the bundle download) is searched for every secret the project stores,
for each revision source: an upload, an S3 object (moto) and a GitHub commit (the local fake).

A GitHub revision's archive is fetched once, by the server, with the project's token; hosts download
it from the server with their own credential, like an upload. S3 keeps short-lived presigned URLs.
"""

from __future__ import annotations

import hashlib

import pytest
import requests
from aws_fixtures import aws_client
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from factories import make_app, make_group, make_member, make_project
from fakes import github_fake, jira_fake, receiver_fake, running, sha, tarball_of
from security_world import SECRETS

from deployments import engine
from deployments.api.bundles import store_upload
from deployments.models import DEPLOYMENT_TERMINAL, Deployment, RegistrationToken
from integrations.aws.revisions import register_s3_revision
from integrations.github.revisions import register_github_revision
from integrations.models import AwsConnection, GitHubConnection, JiraConnection, Trigger

pytestmark = pytest.mark.django_db(transaction=True)

POLL = "/agent/v1/poll/?wait=0"
SLACK_PATH = "/services/T000/B000/zqsecret-slack-path-8d8d"
BUNDLE = tarball_of({"appspec.yml": "version: 0.0\nos: linux\n", "index.html": "<h1>zq</h1>\n"})
SEARCHED = {**SECRETS, "slack_url": SLACK_PATH}


@pytest.fixture(autouse=True)
def _agent_api_in_tests(settings, monkeypatch):
    """As in tests/agent_api: no Redis wake-up subscription (the poll re-checks the database instead),
    and the views' thread-pool connections close after each call."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.fixture
def outside():
    receiver = receiver_fake()
    receiver.route("POST", SLACK_PATH, lambda req, m: (200, {"ok": True}))
    with running(github_fake) as github, running(jira_fake) as jira:
        github.state.token = SECRETS["github_token"]
        github.state.tarball = BUNDLE
        yield {"github": github, "jira": jira, "receiver": receiver}
    receiver.stop()


@pytest.fixture
def vault(outside, aws_env):
    """A project that holds one of every integration secret, each connection pointing at a fake."""
    project = make_project("zq-vault")
    owner = make_member(project, "zq-owner", "owner")
    group = make_group(make_app("zq-app", project=project), "web")
    GitHubConnection.objects.create(
        project=project,
        repository="acme/shop",
        api_url=outside["github"].url,
        token=SECRETS["github_token"],
        webhook_secret=SECRETS["github_webhook_secret"],
    )
    JiraConnection.objects.create(
        project=project, server_url=outside["jira"].url, auth="pat", token=SECRETS["jira_token"]
    )
    AwsConnection.objects.create(
        project=project,
        access_key_id="AKIAZQEXAMPLE",
        secret_access_key=SECRETS["aws_secret_access_key"],
        endpoint_url=aws_env,
    )
    receiver = outside["receiver"].url
    events = ["DeploymentStart", "DeploymentSuccess", "DeploymentFailure"]
    Trigger.objects.create(
        group=group,
        name="zq-hook",
        events=events,
        target=f"{receiver}/hook",
        secret=SECRETS["trigger_secret"],
    )
    Trigger.objects.create(
        group=group, name="zq-slack", events=events, kind="slack", target=receiver + SLACK_PATH
    )
    _, token = RegistrationToken.issue(project=project, description="zq hosts", tags={"role": "web"})
    return {"project": project, "owner": owner, "group": group, "token": token, "aws": aws_env}


def revision_from(source: str, vault: dict):
    """A revision registered the way a user registers one from `source` (not a factory row)."""
    app = vault["group"].application
    if source == "upload":
        upload = SimpleUploadedFile("app.tgz", BUNDLE, content_type="application/gzip")
        return store_upload(app, upload, description="zq", user=vault["owner"])
    if source == "s3":
        aws_client("s3", vault["aws"]).create_bucket(Bucket="zq-releases")
        aws_client("s3", vault["aws"]).put_object(Bucket="zq-releases", Key="app.tgz", Body=BUNDLE)
        return register_s3_revision(app, "s3://zq-releases/app.tgz", bundle_type="tgz")
    return register_github_revision(app, "", sha(3))


class Host:
    """An agent, as the protocol has it, keeping every answer the server gives it."""

    def __init__(self):
        self.client = Client()
        self.answers: dict[str, bytes] = {}
        self.credential = ""
        self.downloads: list[tuple[dict, bytes]] = []

    def _keep(self, what: str, response) -> dict:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code < 400, (what, response.status_code, body[:500])
        self.answers[f"{len(self.answers)} {what}"] = body
        return response

    def call(self, method: str, url: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.credential}"} if self.credential else {}
        if method == "GET":
            return self._keep(f"GET {url}", self.client.get(url, headers=headers))
        response = self.client.post(url, body or {}, content_type="application/json", headers=headers)
        return self._keep(f"POST {url}", response)

    def register(self, token: str) -> None:
        answer = self.call("POST", "/agent/v1/register/", {"token": token, "name": "zq-host-1"})
        self.credential = answer.json()["credential"]

    def download(self, revision: dict) -> None:
        url = revision["url"]
        if url.startswith("http://testserver/"):
            response = self.call("GET", url.removeprefix("http://testserver"))
            data = self.answers[list(self.answers)[-1]]
        else:  # a URL elsewhere (S3 presigned): the agent sends a token only if it was given one
            token = revision.get("token")
            headers = {"Authorization": f"token {token}"} if token else {}
            response = requests.get(url, headers=headers, timeout=10)
            assert response.status_code == 200, response.text[:300]
            data = response.content
        self.downloads.append((revision, data))

    def run(self, deployment_id: str) -> str:
        self.call("POST", "/agent/v1/heartbeat/")
        for _ in range(40):
            commands = self.call("POST", POLL).json()["commands"]
            if not commands:
                status = Deployment.objects.get(pk=deployment_id).status
                if status in DEPLOYMENT_TERMINAL:
                    return status
            for command in commands:
                base = f"/agent/v1/commands/{command['id']}"
                self.call("POST", f"{base}/ack/", {"timeout_seconds": 60})
                if command["lifecycle_event"] == "DownloadBundle":
                    self.download(command["revision"])
                self.call("POST", f"{base}/log/", {"lines": [{"seq": 1, "text": "ok"}]})
                done = {"status": "Succeeded", "diagnostics": {"error_code": "Success"}}
                self.call("POST", f"{base}/complete/", done)
        raise AssertionError("the deployment did not finish")


@pytest.mark.parametrize("source", ["upload", "s3", "github"])
def test_no_agent_api_answer_of_a_whole_deployment_carries_a_stored_secret(vault, outside, source):
    host = Host()
    host.register(vault["token"])
    revision = revision_from(source, vault)
    deployment = engine.create_deployment(group=vault["group"], revision=revision)
    assert host.run(deployment.id) == "Succeeded"

    (downloaded,) = host.downloads
    assert downloaded[1] == BUNDLE, "the host got the bundle"
    leaks = {
        where: [name for name, secret in SEARCHED.items() if secret.encode() in body]
        for where, body in host.answers.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
    assert len(host.answers) >= 8, (
        "register, heartbeat, polls, ack, log, complete and the bundle were searched"
    )
    assert outside["receiver"].requests_to("POST", SLACK_PATH), "the project's triggers ran meanwhile"

    if source == "github":
        command, _ = downloaded
        assert "token" not in command
        assert command["url"] == f"http://testserver/agent/v1/bundles/{revision.pk}/"
        assert command["sha256"] == hashlib.sha256(BUNDLE).hexdigest()
        fetched = outside["github"].requests_to("GET", f"/repos/acme/shop/tarball/{sha(3)}")
        assert len(fetched) == 1, "the server fetched the archive once, whatever the number of hosts"

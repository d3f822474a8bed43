"""Integration tasks run twice at once (two workers, a redelivered task) and post once per change.

Each case runs the same task in two real threads, each with its own database connection, against the
local GitHub and JIRA fakes. The fakes answer slowly, so both runs are inside their network call at
the same time: exactly the window in which both used to read "nothing posted yet" and both post.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from factories import make_app, make_github, make_group, make_instance, make_jira, make_project
from fakes import MINIMAL_TARBALL, sha

from deployments import engine
from deployments.models import Deployment, Revision
from integrations import tasks
from integrations.models import DeploymentSync, IssueLink, Trigger, TriggerDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group(github, jira):
    project = make_project("shop")
    make_github(project, github.url)
    make_jira(project, jira.url)
    group = make_group(make_app(project=project), "web")
    make_instance("web-1", project=project, role="web")
    return group


def deploy(group, commit: str) -> Deployment:
    revision = Revision.objects.create(
        application=group.application,
        source="github",
        bundle_type="tgz",
        location={"repository": "acme/shop", "commit": commit, "ref": "refs/heads/main"},
    )
    revision.bundle.save("fetched.tgz", ContentFile(MINIMAL_TARBALL))
    return engine.create_deployment(group=group, revision=revision, description="push to main by ada")


def twice_at_once(task, *args) -> None:
    """Run `task` in two threads that start together; re-raise what either raised."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=10)
            task.apply(args=args).get()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a sync did not finish"
    assert not errors, errors


def queued_deployment(group, github) -> Deployment:
    """A deployment queued behind another one on its group: GitHub has been told "queued"."""
    deploy(group, sha(1))
    deployment = deploy(group, sha(3))
    assert deployment.status == "Queued"
    assert states_of(github, deployment) == ["queued"]
    return deployment


def states_of(github, deployment: Deployment) -> list[str]:
    """The statuses GitHub received for the deployment, in order."""
    github_id = DeploymentSync.objects.get(deployment_id=deployment.pk).github_deployment_id
    return [s["state"] for s in github.state.deployment_statuses if s["deployment"] == github_id]


def test_two_syncs_at_once_post_each_github_state_once(group, github):
    deployment = queued_deployment(group, github)
    github.delay = 0.5  # both runs are inside GitHub's answer at the same time

    Deployment.objects.filter(pk=deployment.pk).update(status="InProgress")
    twice_at_once(tasks.github_deployment_sync, deployment.pk)
    assert states_of(github, deployment) == ["queued", "in_progress"]

    Deployment.objects.filter(pk=deployment.pk).update(status="Succeeded")
    twice_at_once(tasks.github_deployment_sync, deployment.pk)
    assert states_of(github, deployment) == ["queued", "in_progress", "success"]
    assert DeploymentSync.objects.get(deployment_id=deployment.pk).github_state == "success"


def test_a_change_while_another_run_posts_is_still_posted(group, github):
    """The run that finds another one posting leaves it to that run, which looks again when it is done:
    a status that changed meanwhile is posted then, not lost, and never before the older one."""
    deployment = queued_deployment(group, github)
    asked = len(github.requests)
    github.delay = 0.5
    Deployment.objects.filter(pk=deployment.pk).update(status="InProgress")

    def first_run() -> None:
        tasks.github_deployment_sync.apply(args=[deployment.pk])
        connection.close()

    first = threading.Thread(target=first_run)
    first.start()
    # While the first run waits for GitHub's answer, the deployment ends and its own sync runs.
    while len(github.requests) <= asked and first.is_alive():
        time.sleep(0.01)
    Deployment.objects.filter(pk=deployment.pk).update(status="Succeeded")
    tasks.github_deployment_sync.apply(args=[deployment.pk])
    first.join(timeout=60)

    assert states_of(github, deployment) == ["queued", "in_progress", "success"]


def test_two_success_runs_at_once_comment_on_each_jira_issue_once(group, jira):
    deployment = deploy(group, sha(2))
    IssueLink.objects.get_or_create(
        deployment=deployment, tracker="jira", key="SHOP-7", defaults={"title": "Totals are off"}
    )
    Deployment.objects.filter(pk=deployment.pk).update(status="Succeeded")
    jira.delay = 0.5

    twice_at_once(tasks.deployment_succeeded, deployment.pk)

    assert Counter(c["key"] for c in jira.state.comments) == {"SHOP-7": 1}
    assert IssueLink.objects.get(deployment=deployment, key="SHOP-7").notified_at is not None


def test_a_comment_that_fails_is_posted_by_the_next_run(group, jira):
    deployment = deploy(group, sha(2))
    IssueLink.objects.get_or_create(deployment=deployment, tracker="jira", key="SHOP-7")
    Deployment.objects.filter(pk=deployment.pk).update(status="Succeeded")
    jira.fail_status = 500

    tasks.deployment_succeeded.apply(args=[deployment.pk])
    assert jira.state.comments == []
    assert IssueLink.objects.get(deployment=deployment, key="SHOP-7").notified_at is None

    jira.fail_status = None
    tasks.deployment_succeeded.apply(args=[deployment.pk])
    assert [c["key"] for c in jira.state.comments] == ["SHOP-7"]


def test_two_runs_of_one_trigger_delivery_at_once_send_it_once(group, receiver, settings):
    """A redelivered task (or two workers) running the same delivery: the receiver gets one POST."""
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    trigger = Trigger.objects.create(
        group=group, name="ops", events=["DeploymentSuccess"], target=f"{receiver.url}/hook", secret="s"
    )
    deployment = deploy(group, sha(5))
    receiver.delay = 0.5  # both runs are inside the receiver's answer at the same time
    delivery_id = str(uuid.uuid4())
    twice_at_once(tasks.deliver_trigger, trigger.pk, "DeploymentSuccess", deployment.pk, "", delivery_id)
    assert len(receiver.requests_to("POST", "/hook")) == 1
    (attempt,) = TriggerDelivery.objects.filter(delivery_id=delivery_id)
    assert attempt.ok and attempt.status_code == 200

    tasks.deliver_trigger.apply(args=(trigger.pk, "DeploymentSuccess", deployment.pk, "", delivery_id))
    assert len(receiver.requests_to("POST", "/hook")) == 1, "a later duplicate sends nothing either"

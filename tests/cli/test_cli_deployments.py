"""plan, deploy, wait, status, stop and logs against a live server; exit codes follow the outcome.

Hosts are instance rows without agent processes: `factories.finish` completes their
commands through the engine as agents would (the e2e module runs real agents).
"""

from __future__ import annotations

import io
import json
import threading
import time

from cli_helpers import APPSPEC
from django.db import connection
from factories import finish, make_fleet, make_revision
from fleetdeck_cli.errors import ERROR, FAILED, STOPPED, TIMEOUT
from fleetdeck_cli.watch import Watcher

from deployments import engine
from deployments.models import Deployment, HostCommand


def deploy(cli, *extra: str):
    result = cli("deploy", "-a", "shop-app", "-g", "web", *extra)
    assert result.code == 0, result.err
    return result.out.strip()


def test_plan_prints_the_batches(cli, group, project):
    make_fleet(project, 3)
    result = cli("plan", "-a", "shop-app", "-g", "web", "--config", "CodeDeployDefault.OneAtATime")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "shop-app / web: 3 instance(s)"
    assert [line for line in lines if "batch" in line] == [
        "  batch 1: web-1",
        "  batch 2: web-2",
        "  batch 3: web-3",
    ]


def test_a_plan_that_cannot_run_exits_1_with_the_reason(cli, group):
    result = cli("--json", "plan", "-a", "shop-app", "-g", "web")
    assert result.code == ERROR
    plan = json.loads(result.out)
    assert plan["valid"] is False and plan["error_code"] == "NO_INSTANCES"


def test_plan_names_an_unknown_group(cli, group):
    result = cli("plan", "-a", "shop-app", "-g", "db")
    assert result.code == ERROR
    assert "shop-app has no deployment group named db" in result.err


def test_deploy_prints_the_id_and_the_page(cli, group, project, server):
    make_fleet(project)
    revision = make_revision(group.application, appspec=APPSPEC)
    deployment_id = deploy(cli, "--revision", str(revision.pk), "--description", "from CI")
    deployment = Deployment.objects.get(pk=deployment_id)
    assert deployment.revision_id == revision.pk and deployment.description == "from CI"
    assert deployment.created_by.username == "owner"
    assert f"{server}/p/shop/deployments/{deployment_id}/" in cli.last.err


def test_latest_picks_the_newest_revision(cli, group, project):
    make_fleet(project)
    make_revision(group.application, appspec=APPSPEC)
    newest = make_revision(group.application, appspec=APPSPEC)
    deployment_id = deploy(cli, "--latest")
    assert Deployment.objects.get(pk=deployment_id).revision_id == newest.pk


def test_latest_without_revisions_says_to_push(cli, group):
    result = cli("deploy", "-a", "shop-app", "-g", "web", "--latest")
    assert result.code == ERROR
    assert "shop-app has no revisions yet; upload one with: fleetdeck push" in result.err


def test_wait_exits_0_when_the_deployment_succeeds(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    finish(deployment_id, "Succeeded")
    result = cli("wait", deployment_id)
    assert result.code == 0, result.err
    assert f"Deployment {deployment_id} Succeeded" in result.err
    assert f"{deployment_id} deployment Succeeded" in result.err  # plain progress lines off a TTY
    quiet = cli("wait", deployment_id, "--quiet")
    assert quiet.code == 0
    assert quiet.err.splitlines()[0] == f"Deployment {deployment_id} Succeeded"  # the summary alone


def test_wait_exits_3_and_shows_the_failing_script_when_it_fails(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    finish(deployment_id, "Failed", message="exit 1")
    result = cli("wait", deployment_id)
    assert result.code == FAILED
    assert f"Deployment {deployment_id} Failed" in result.err
    assert "Failed ScriptFailed: exit 1" in result.err


def test_deploy_wait_exits_3_for_a_group_without_hosts(cli, group):
    revision = make_revision(group.application, appspec=APPSPEC)
    result = cli("deploy", "-a", "shop-app", "-g", "web", "-r", str(revision.pk), "--wait")
    assert result.code == FAILED
    assert "Failed (NO_INSTANCES)" in result.err


def test_stop_then_wait_exits_4(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    stopped = cli("stop", deployment_id)
    assert stopped.code == 0, stopped.err
    assert stopped.out.startswith(deployment_id)
    result = cli("--json", "wait", deployment_id)
    assert result.code == STOPPED
    assert json.loads(result.out)["error_code"] == "MANUAL_STOP"
    again = cli("stop", deployment_id)
    assert again.code == ERROR and "already finished (Stopped)" in again.err


def test_wait_gives_up_after_the_timeout_with_exit_5(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    result = cli("wait", deployment_id, "--timeout", "0.3")
    assert result.code == TIMEOUT
    assert f"Deployment {deployment_id} is still InProgress after 0.3 s" in result.err


def test_status_shows_hosts_and_json(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    finish(deployment_id, "Succeeded")
    result = cli("status", deployment_id)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"{deployment_id}  Succeeded"
    assert "hosts: 2 (2 Succeeded)" in result.out
    assert "web-1" in result.out and "web-2" in result.out
    detail = json.loads(cli("status", deployment_id, "--json").out)
    assert detail["id"] == deployment_id and len(detail["targets"]) == 2


def test_an_unknown_deployment_is_reported(cli, project):
    result = cli("status", "d-NOPE1234")
    assert result.code == ERROR
    assert "Deployment 'd-NOPE1234' not found, or you are not a member of its project" in result.err


def _log(deployment_id: str, instance_name: str, lines: list[str], stream: str = "stdout", done=False) -> str:
    """What an agent does: take the host's command, send its output, and (with `done`) complete it."""
    command = (
        HostCommand.objects.filter(deployment_id=deployment_id, instance__name=instance_name)
        .select_related("instance", "lifecycle_event")
        .first()
    )
    engine.ack_command(command.pk, command.instance, 60)
    engine.record_logs(
        command.pk,
        command.instance,
        [{"seq": n, "text": text, "stream": stream} for n, text in enumerate(lines, 1)],
    )
    if done:
        engine.complete_command(command.pk, command.instance, "Succeeded", {})
    return command.lifecycle_event.name


def test_logs_prints_hook_output_per_host(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    event = _log(deployment_id, "web-1", ["one", "two"])
    _log(deployment_id, "web-2", ["oops"], stream="stderr")
    result = cli("logs", deployment_id)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"[web-1 {event}] one",
        f"[web-1 {event}] two",
        f"[web-2 {event} stderr] oops",
    ]
    only = cli("logs", deployment_id, "--instance", "web-2", "--json")
    assert [json.loads(line)["message"] for line in only.out.splitlines()] == ["oops"]
    assert cli("logs", deployment_id, "--event", "ValidateService").out == ""


def test_logs_follow_prints_lines_as_they_arrive_and_stops_when_the_deployment_ends(cli, group, project):
    make_fleet(project, 1)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))

    def agent():
        try:
            time.sleep(0.5)
            _log(deployment_id, "web-1", ["hello"], done=True)
            finish(deployment_id, "Succeeded")
        finally:
            connection.close()

    thread = threading.Thread(target=agent)
    thread.start()
    result = cli("logs", deployment_id, "--follow")
    thread.join(timeout=30)
    assert result.code == 0
    assert "hello" in result.out
    assert Deployment.objects.get(pk=deployment_id).status == "Succeeded"


def test_logs_for_an_unknown_instance_lists_the_real_ones(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    result = cli("logs", deployment_id, "--instance", "db-1")
    assert result.code == ERROR
    assert "has no instance 'db-1'; its instances: web-1, web-2" in result.err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_a_redrawn_bar(cli, group, project):
    from fleetdeck_cli.api import Api
    from fleetdeck_cli.config import resolve

    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    finish(deployment_id, "Succeeded")
    out = _Tty()
    detail = Watcher(Api(resolve()), deployment_id, out=out).run(timeout=30)
    assert detail["status"] == "Succeeded"
    text = out.getvalue()
    assert "\r\x1b[K[##############################] 2/2 hosts (2 succeeded) Succeeded" in text
    assert "web-1: Succeeded" in text
    assert text.endswith("\r\x1b[K")  # the bar is cleared before the summary


def test_continue_is_refused_for_an_in_place_deployment(cli, group, project):
    make_fleet(project)
    deployment_id = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    result = cli("continue", deployment_id)
    assert result.code == ERROR
    assert "only a blue/green deployment waiting in Ready can be continued" in result.err


def test_deployments_lists_newest_first_with_filters(cli, group, project):
    make_fleet(project)
    first = deploy(cli, "--revision", str(make_revision(group.application, appspec=APPSPEC).pk))
    finish(first, "Failed")
    second = deploy(cli, "--latest")
    lines = cli("deployments", "-a", "shop-app", "-g", "web").out.splitlines()
    assert [line.split()[0] for line in lines] == [second, first]
    assert lines[1].split()[1:3] == ["Failed", "HEALTH_CONSTRAINTS"]
    failed = json.loads(cli("deployments", "--status", "Failed", "--json").out)
    assert [row["id"] for row in failed] == [first]
    assert cli("deployments", "--limit", "1").out.split()[0] == second
    assert cli("deployments", "-g", "web").code == 2


def test_revisions_lists_an_applications_revisions(cli, group):
    older, newer = (
        make_revision(group.application, appspec=APPSPEC),
        make_revision(group.application, appspec=APPSPEC),
    )
    newer.description = "abc123"
    newer.save()
    lines = cli("revisions", "-a", "shop-app").out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [newer.pk, older.pk]
    assert lines[0].endswith("abc123")
    assert cli("revisions", "-a", "nope").code == ERROR

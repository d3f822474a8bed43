"""The shared executor across a deployment's lifecycle and across deployments of a group."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fleetdeck_agent.executor import ExecutorOptions, event_timeout, event_timeouts, execute

HEAD = "version: 0.0\nos: linux\n"


def stop_spec(event="ApplicationStop"):
    return HEAD + f"hooks:\n  {event}:\n    - location: scripts/stop.sh\n      timeout: 120\n"


def stop_revision(make_revision, marker, label, exit_code=0, event="ApplicationStop"):
    script = f"#!/bin/sh\necho {label} >> {marker}\nexit {exit_code}\n"
    return make_revision(stop_spec(event), {"scripts/stop.sh": script}, name=label)


def test_the_first_deployment_skips_application_stop(make_revision, run_events, lifecycle, tmp_path):
    marker = tmp_path / "stops"
    result = run_events(stop_revision(make_revision, marker, "v1"), lifecycle, "d-ONE")
    assert result["ApplicationStop"]["status"] == "Skipped"
    assert "No previous successful revision" in result["ApplicationStop"]["diagnostics"]["message"]
    assert all(r["status"] in ("Succeeded", "Skipped") for r in result.values())
    assert not marker.exists()


def test_the_second_deployment_runs_the_previous_revisions_application_stop(
    make_revision, run_events, lifecycle, tmp_path
):
    marker = tmp_path / "stops"
    run_events(stop_revision(make_revision, marker, "v1"), lifecycle, "d-ONE")
    result = run_events(stop_revision(make_revision, marker, "v2"), lifecycle, "d-TWO")
    assert result["ApplicationStop"]["status"] == "Succeeded"
    assert marker.read_text() == "v1\n"


@pytest.mark.parametrize("event", ["BeforeBlockTraffic", "AfterBlockTraffic"])
def test_block_traffic_hooks_also_run_the_last_successful_revision(
    make_revision, run_events, tmp_path, event
):
    marker = tmp_path / "stops"
    run_events(
        stop_revision(make_revision, marker, "v1", event=event), ["DownloadBundle", "Install"], "d-ONE"
    )
    result = run_events(
        stop_revision(make_revision, marker, "v2", event=event), [event, "DownloadBundle"], "d-TWO"
    )
    assert result[event]["status"] == "Succeeded"
    assert marker.read_text() == "v1\n"


def test_a_deployment_that_fails_before_install_is_not_the_last_successful_one(
    make_revision, run_events, lifecycle, tmp_path, root
):
    marker = tmp_path / "stops"
    run_events(stop_revision(make_revision, marker, "v1"), lifecycle, "d-ONE")
    broken = make_revision(
        HEAD + "hooks:\n  BeforeInstall:\n    - location: fail.sh\n", {"fail.sh": "#!/bin/sh\nexit 1\n"}
    )
    assert run_events(broken, lifecycle, "d-TWO")["BeforeInstall"]["status"] == "Failed"
    assert Path(root.last_successful_file("dg-1")).read_text().strip().endswith("/d-ONE")
    run_events(stop_revision(make_revision, marker, "v3"), lifecycle, "d-THREE")
    assert marker.read_text() == "v1\nv1\n"  # d-TWO and d-THREE both stopped v1


def test_a_deployment_that_fails_after_its_install_is_the_one_the_next_application_stop_stops(
    make_revision, run_events, lifecycle, tmp_path, root
):
    """As CodeDeploy records it: the last successful install is the last Install that succeeded."""
    marker = tmp_path / "stops"
    run_events(stop_revision(make_revision, marker, "v1"), lifecycle, "d-ONE")
    broken = make_revision(
        HEAD
        + "hooks:\n  ApplicationStop:\n    - location: stop.sh\n  AfterInstall:\n    - location: fail.sh\n",
        {"fail.sh": "#!/bin/sh\nexit 1\n", "stop.sh": f"#!/bin/sh\necho v2 >> {marker}\n"},
    )
    assert run_events(broken, lifecycle, "d-TWO")["AfterInstall"]["status"] == "Failed"
    assert Path(root.last_successful_file("dg-1")).read_text().strip().endswith("/d-TWO")
    run_events(stop_revision(make_revision, marker, "v3"), lifecycle, "d-THREE")
    assert marker.read_text() == "v1\nv2\n"  # d-TWO stopped v1; d-THREE stopped v2, which was installed


def test_a_failing_application_stop_fails_the_event(make_revision, run_events, lifecycle, tmp_path):
    marker = tmp_path / "stops"
    run_events(stop_revision(make_revision, marker, "v1", exit_code=4), lifecycle, "d-ONE")
    result = run_events(stop_revision(make_revision, marker, "v2"), lifecycle, "d-TWO")
    assert result["ApplicationStop"]["status"] == "Failed"
    assert result["ApplicationStop"]["diagnostics"]["error_code"] == "ScriptFailed"
    assert "DownloadBundle" not in result


def test_ignore_application_stop_failures_reports_success_and_keeps_the_failure(
    make_revision, run_events, lifecycle, tmp_path
):
    marker = tmp_path / "stops"
    run_events(stop_revision(make_revision, marker, "v1", exit_code=4), lifecycle, "d-ONE")
    result = run_events(
        stop_revision(make_revision, marker, "v2"), lifecycle, "d-TWO", ignore_application_stop_failures=True
    )
    stop = result["ApplicationStop"]
    assert stop["status"] == "Succeeded"
    assert "ignore_application_stop_failures" in stop["diagnostics"]["message"]
    assert "failed with exit code 4" in stop["diagnostics"]["message"]
    assert result["ValidateService"]["status"] in ("Succeeded", "Skipped")


def test_pruning_keeps_max_revisions_and_never_the_last_successful(
    make_revision, run_events, lifecycle, root
):
    options = ExecutorOptions(max_revisions=2)
    rev = make_revision(HEAD)
    run_events(rev, lifecycle, "d-GOOD", options=options)
    for name in ("d-B", "d-C", "d-D"):
        run_events(rev, ["DownloadBundle"], name, options=options, mark_last=False)
    remaining = sorted(os.listdir(root.group_dir("dg-1")))
    assert remaining == ["d-D", "d-GOOD"]


def test_mark_successful_records_the_group_last_successful_install(
    make_revision, run_events, lifecycle, root
):
    run_events(make_revision(HEAD), lifecycle, "d-ONE")
    assert Path(root.last_successful_file("dg-1")).read_text().strip() == root.deployment_dir("dg-1", "d-ONE")
    assert Path(root.most_recent_file("dg-1")).read_text().strip() == root.deployment_dir("dg-1", "d-ONE")


def test_download_bundle_fails_on_an_invalid_appspec_with_its_line(make_revision, run_events):
    rev = make_revision(HEAD + "hooks:\n  Restart:\n    - location: x.sh\n")
    result = run_events(rev, ["DownloadBundle"])["DownloadBundle"]
    assert result["status"] == "Failed" and result["diagnostics"]["error_code"] == "UnknownError"
    assert "appspec.yml, line 4: " in result["diagnostics"]["message"]


def test_an_event_whose_revision_is_missing_downloads_it_first(make_revision, run_events):
    rev = make_revision(
        HEAD + "hooks:\n  AfterAllowTraffic:\n    - location: a.sh\n", {"a.sh": "#!/bin/sh\necho hi\n"}
    )
    assert run_events(rev, ["AfterAllowTraffic"])["AfterAllowTraffic"]["status"] == "Succeeded"


def test_traffic_events_are_left_to_the_server(command, root):
    assert execute(command("AllowTraffic"), root)["status"] == "Skipped"


def test_an_unknown_event_fails_with_unknown_error(command, root):
    result = execute(command("Reboot"), root)
    assert result["status"] == "Failed" and result["diagnostics"]["error_code"] == "UnknownError"


def test_unsafe_ids_are_refused(command, root):
    result = execute(command("BeforeInstall", deployment_id="../../etc"), root)
    assert result["status"] == "Failed" and "unsafe deployment id" in result["diagnostics"]["message"]


def test_the_ack_timeout_is_the_sum_of_the_events_script_timeouts(make_revision, run_events, command, root):
    spec = (
        HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 100\n"
        "    - location: b.sh\n      timeout: 200\n"
    )
    rev = make_revision(spec, {"a.sh": "#!/bin/sh\n", "b.sh": "#!/bin/sh\n"})
    run_events(rev, ["DownloadBundle"])
    assert event_timeout(command("AfterInstall", rev), root) == 300
    assert event_timeout(command("BeforeInstall", rev), root) == 60


def test_event_timeouts_cover_every_agent_event_and_follow_an_edited_appspec(
    make_revision, run_events, command, root
):
    spec = HEAD + "hooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 100\n"
    rev = make_revision(spec, {"a.sh": "#!/bin/sh\n"})
    before = event_timeouts(command("DownloadBundle", rev), root)
    run_events(rev, ["DownloadBundle"])
    after = event_timeouts(command("DownloadBundle", rev), root)
    assert set(after) >= {"ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "ValidateService"}
    assert before["AfterInstall"] == 3600  # not downloaded yet: the default
    assert (after["AfterInstall"], after["BeforeInstall"], after["ApplicationStop"]) == (100, 60, 60)
    # The parsed appspec is remembered only while the file is unchanged.
    cmd = command("DownloadBundle", rev)
    archive = root.archive_dir(cmd["deployment_group_id"], cmd["deployment_id"])
    appspec = Path(archive) / "appspec.yml"
    appspec.write_text(appspec.read_text().replace("timeout: 100", "timeout: 2500"))
    assert event_timeouts(cmd, root)["AfterInstall"] == 2500


def test_completions_carry_iso_timestamps(command, root):
    result = execute(command("AllowTraffic"), root)
    assert result["started_at"].endswith("+00:00") and result["ended_at"] >= result["started_at"]

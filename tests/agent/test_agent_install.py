"""The Install event: files, file_exists_behavior, cleanup of the previous install, permissions."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from fleetdeck_testing import require

HEAD = "version: 0.0\nos: linux\n"
INSTALL = ["DownloadBundle", "Install"]


def files_spec(dest, source="/", extra=""):
    return HEAD + f"files:\n  - source: {source}\n    destination: {dest}\n" + extra


def test_it_copies_the_whole_bundle_for_source_slash(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv" / "app"
    rev = make_revision(files_spec(dest), {"web/index.html": "hi", "bin/run.sh": "#!/bin/sh\n"})
    result = run_events(rev, INSTALL)
    assert result["Install"]["status"] == "Succeeded", result["Install"]
    assert (dest / "web" / "index.html").read_text() == "hi"
    assert os.access(dest / "bin" / "run.sh", os.X_OK)
    assert (dest / "appspec.yml").exists()


def test_it_copies_a_source_directory_recursively_and_a_file_to_destination_basename(
    tmp_path, make_revision, run_events
):
    dest = tmp_path / "srv"
    spec = HEAD + (
        f"files:\n  - source: config\n    destination: {dest}/etc\n"
        f"  - source: config/app.ini\n    destination: {dest}/single\n"
    )
    rev = make_revision(spec, {"config/app.ini": "a=1", "config/sub/deep.ini": "b=2"})
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert (dest / "etc" / "app.ini").read_text() == "a=1"
    assert (dest / "etc" / "sub" / "deep.ini").read_text() == "b=2"
    assert (dest / "single" / "app.ini").read_text() == "a=1"


def test_it_records_created_parent_directories_in_the_cleanup_file(tmp_path, make_revision, run_events, root):
    dest = tmp_path / "new" / "parents" / "app"
    rev = make_revision(files_spec(dest, "web"), {"web/index.html": "hi"})
    run_events(rev, INSTALL)
    cleanup = Path(root.cleanup_file("dg-1")).read_text().splitlines()
    assert cleanup[:3] == [str(tmp_path / "new"), str(tmp_path / "new" / "parents"), str(dest)]
    assert cleanup[-1] == str(dest / "index.html")
    record = json.loads(Path(root.install_file("dg-1")).read_text())
    assert record["files"] == [str(dest / "index.html")] and record["deployment_id"] == "d-TEST00001"


def test_it_refuses_two_sources_for_the_same_destination_file(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv"
    spec = HEAD + f"files:\n  - source: a\n    destination: {dest}\n  - source: b\n    destination: {dest}\n"
    rev = make_revision(spec, {"a/same.txt": "a", "b/same.txt": "b"})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert f"two source files for the same destination ({dest}/same.txt)" in result["diagnostics"]["message"]
    assert "(line 4)" in result["diagnostics"]["message"] and "(line 6)" in result["diagnostics"]["message"]


def test_disallow_fails_on_a_file_that_the_previous_deployment_did_not_install(
    tmp_path, make_revision, run_events
):
    dest = tmp_path / "srv"
    dest.mkdir()
    (dest / "index.html").write_text("hand made")
    rev = make_revision(files_spec(dest, "web"), {"web/index.html": "new"})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert result["diagnostics"]["message"] == (
        f"The deployment failed because a specified file already exists at this location: {dest}/index.html"
    )
    assert (dest / "index.html").read_text() == "hand made"


def test_disallow_does_not_fail_on_files_the_previous_deployment_installed(
    tmp_path, make_revision, run_events
):
    dest = tmp_path / "srv"
    first = make_revision(files_spec(dest, "web"), {"web/index.html": "v1", "web/old.html": "old"})
    second = make_revision(files_spec(dest, "web"), {"web/index.html": "v2"})
    assert run_events(first, INSTALL, "d-ONE")["Install"]["status"] == "Succeeded"
    assert run_events(second, INSTALL, "d-TWO")["Install"]["status"] == "Succeeded"
    assert (dest / "index.html").read_text() == "v2"
    assert not (dest / "old.html").exists()


@pytest.mark.parametrize("where", ["appspec", "deployment"])
def test_overwrite_replaces_an_existing_file(tmp_path, make_revision, run_events, where):
    dest = tmp_path / "srv"
    dest.mkdir()
    (dest / "index.html").write_text("hand made")
    extra = "file_exists_behavior: OVERWRITE\n" if where == "appspec" else ""
    rev = make_revision(files_spec(dest, "web", extra), {"web/index.html": "new"})
    result = run_events(
        rev, INSTALL, file_exists_behavior="OVERWRITE" if where == "deployment" else "DISALLOW"
    )
    assert result["Install"]["status"] == "Succeeded"
    assert (dest / "index.html").read_text() == "new"


def test_retain_keeps_an_existing_file_and_does_not_record_it(tmp_path, make_revision, run_events, root):
    dest = tmp_path / "srv"
    dest.mkdir()
    (dest / "index.html").write_text("hand made")
    rev = make_revision(files_spec(dest, "web"), {"web/index.html": "new", "web/other.html": "x"})
    result = run_events(rev, INSTALL, file_exists_behavior="RETAIN")["Install"]
    assert result["status"] == "Succeeded" and "retained 1" in result["diagnostics"]["message"]
    assert (dest / "index.html").read_text() == "hand made"
    assert str(dest / "index.html") not in Path(root.cleanup_file("dg-1")).read_text()


def test_the_appspec_file_exists_behavior_wins_over_the_deployments(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv"
    dest.mkdir()
    (dest / "index.html").write_text("hand made")
    rev = make_revision(files_spec(dest, "web", "file_exists_behavior: RETAIN\n"), {"web/index.html": "new"})
    assert run_events(rev, INSTALL, file_exists_behavior="OVERWRITE")["Install"]["status"] == "Succeeded"
    assert (dest / "index.html").read_text() == "hand made"


def test_cleanup_replays_in_reverse_and_leaves_non_empty_directories(
    tmp_path, make_revision, run_events, root
):
    dest = tmp_path / "srv"
    first = make_revision(files_spec(dest, "web"), {"web/a/one.txt": "1", "web/b/two.txt": "2"})
    assert run_events(first, INSTALL, "d-ONE")["Install"]["status"] == "Succeeded"
    (dest / "a" / "user-data.txt").write_text("keep me")  # someone else's file in our directory
    second = make_revision(HEAD, {})  # installs nothing: only cleanup runs
    assert run_events(second, INSTALL, "d-TWO")["Install"]["status"] == "Succeeded"
    assert not (dest / "b").exists()
    assert not (dest / "a" / "one.txt").exists()
    assert (dest / "a" / "user-data.txt").read_text() == "keep me"
    assert not os.path.exists(root.cleanup_file("dg-1"))


def _modes(path):
    return {p.name: oct(p.stat().st_mode & 0o777) for p in sorted(path.rglob("*"))}


def test_permissions_apply_mode_by_type_with_double_star_to_every_descendant(
    tmp_path, make_revision, run_events
):
    dest = tmp_path / "srv"
    perms = (
        f"permissions:\n  - object: {dest}\n    type: [file]\n    mode: 0640\n"
        f"  - object: {dest}\n    type: [directory]\n    mode: '750'\n"
    )
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": "", "web/sub/b.txt": ""})
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert _modes(dest) == {"a.txt": "0o640", "sub": "0o750", "b.txt": "0o640"}
    # The object itself is not under the object: CodeDeploy leaves it as Install made it.
    assert oct(dest.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_pattern_other_than_double_star_matches_immediate_children_only(
    tmp_path, make_revision, run_events
):
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    pattern: '*.sh'\n    mode: 700\n    type: [file]\n"
    files = {"web/top.sh": "", "web/top.txt": "", "web/sub/deep.sh": ""}
    rev = make_revision(files_spec(dest, "web", perms), files)
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    modes = _modes(dest)
    assert modes["top.sh"] == "0o700"
    assert modes["top.txt"] != "0o700" and modes["deep.sh"] != "0o700"


def test_except_globs_are_left_alone(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    except: ['*.log']\n    mode: 600\n    type: [file]\n"
    rev = make_revision(files_spec(dest, "web", perms), {"web/app.conf": "", "web/debug.log": ""})
    (tmp_path / "revision-0" / "web" / "debug.log").chmod(0o644)
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert _modes(dest) == {"app.conf": "0o600", "debug.log": "0o644"}


def test_permissions_never_touch_files_the_deployment_did_not_install(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv"
    dest.mkdir()
    (dest / "foreign.txt").write_text("")
    (dest / "foreign.txt").chmod(0o644)
    perms = f"permissions:\n  - object: {dest}\n    mode: 600\n    type: [file]\n"
    rev = make_revision(files_spec(dest, "web", perms), {"web/ours.txt": ""})
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert _modes(dest) == {"foreign.txt": "0o644", "ours.txt": "0o600"}


def test_a_path_claimed_by_two_permission_entries_is_an_error(tmp_path, make_revision, run_events):
    dest = tmp_path / "srv"
    perms = (
        f"permissions:\n  - object: {dest}\n    mode: 600\n"
        f"  - object: {dest}\n    pattern: '*.txt'\n    mode: 644\n"
    )
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": ""})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert (
        f"permissions setting for ({dest}/a.txt) is specified more than once"
        in result["diagnostics"]["message"]
    )


def test_permissions_set_owner_and_group(tmp_path, make_revision, run_events):
    require(os.geteuid() == 0, "running as root (changing owners)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None
    require(nobody is not None, "a nobody user")
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    owner: nobody\n    type: [file]\n"
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": ""})
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert (dest / "a.txt").stat().st_uid == nobody.pw_uid


def test_acls_without_setfacl_fail_with_a_clear_error(tmp_path, make_revision, run_events, monkeypatch):
    """CI installs the acl package, so a host without it is simulated: a PATH where setfacl is not."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    acls: ['u:nobody:r']\n"
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": ""})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert result["diagnostics"]["message"] == (
        f"Cannot apply acls to {dest} (line 7): setfacl is not installed on this host (install the acl package)"
    )


def _getfacl(path) -> str:
    return subprocess.run(["getfacl", "-c", str(path)], capture_output=True, text=True, check=True).stdout


def test_acls_are_applied_to_files_and_default_acls_to_directories(tmp_path, make_revision, run_events):
    require(shutil.which("setfacl") is not None, "setfacl (the acl package)")
    dest = tmp_path / "srv"
    perms = (
        f"permissions:\n  - object: {dest}\n    acls: ['u:nobody:r', 'g:nogroup:5']\n    type: [file]\n"
        f"  - object: {dest}\n    acls: ['d:u:nobody:rwx']\n    type: [directory]\n"
    )
    rev = make_revision(files_spec(dest, "web", perms), {"web/sub/a.txt": ""})
    (rev / "web" / "sub" / "a.txt").chmod(0o640)
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Succeeded", result["diagnostics"]
    acl = _getfacl(dest / "sub" / "a.txt")
    assert "user:nobody:r--" in acl and "group:nogroup:r-x" in acl and "mask::r--" in acl, acl
    directory = _getfacl(dest / "sub")
    assert "default:user:nobody:rwx" in directory and "default:mask::r-x" in directory, directory


def test_a_default_acl_on_a_file_is_refused_naming_the_path(tmp_path, make_revision, run_events):
    require(shutil.which("setfacl") is not None, "setfacl (the acl package)")
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    acls: ['d:u:nobody:r']\n    type: [file]\n"
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": ""})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert result["diagnostics"]["message"] == (
        f"Cannot set the acls of {dest}/a.txt (line 7): default (d:) acl entries apply to directories only"
    )


def test_an_selinux_context_is_accepted_and_noted_when_selinux_is_off(tmp_path, make_revision, run_events):
    require(not os.path.exists("/sys/fs/selinux/enforce"), "a host with SELinux off (this test's case)")
    dest = tmp_path / "srv"
    perms = f"permissions:\n  - object: {dest}\n    context:\n      type: httpd_sys_content_t\n"
    lines = []
    rev = make_revision(files_spec(dest, "web", perms), {"web/a.txt": ""})
    result = run_events(rev, INSTALL, on_lines=lines.extend)["Install"]
    assert result["status"] == "Succeeded"
    assert any("Ignoring the SELinux context" in line["text"] for line in lines)

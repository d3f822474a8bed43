"""`fleetdeck push`: bundle a folder, refuse a bad appspec before uploading, upload, print the id."""

from __future__ import annotations

import hashlib
import os
import tarfile

import pytest
from cli_helpers import APPSPEC, bundle_folder
from fleetdeck_cli.bundle import pack, prepare
from fleetdeck_cli.errors import USAGE, CliError

from deployments.models import Revision


def test_it_uploads_the_folder_and_prints_the_revision_id(cli, application, tmp_path):
    source = bundle_folder(tmp_path / "src")
    result = cli("push", "--application", "shop-app", "--source", str(source), "--description", "abc123")
    assert result.code == 0, result.err
    revision = Revision.objects.get()
    assert result.out.strip() == str(revision.pk)
    assert revision.description == "abc123"
    assert revision.bundle_type == "tgz"
    assert revision.appspec == APPSPEC
    assert revision.uploaded_by.username == "owner"
    assert revision.sha256 == hashlib.sha256(revision.bundle.read()).hexdigest()
    assert f"--revision {revision.pk}" in result.err


def test_the_bundle_keeps_modes_and_relative_paths(tmp_path):
    source = bundle_folder(tmp_path / "src")
    (source / ".env").write_text("SECRET=1\n")
    path, count = pack(str(source), ignore_hidden=True)
    try:
        with tarfile.open(path) as tar:
            members = {m.name: m for m in tar.getmembers()}
    finally:
        os.unlink(path)
    assert set(members) == {"appspec.yml", "app", "app/index.html", "hooks", "hooks/start.sh"}
    assert count == 3
    assert members["hooks/start.sh"].mode & 0o111
    assert members["app/index.html"].uid == 0 and members["app/index.html"].uname == ""


def test_hidden_files_are_kept_unless_asked(tmp_path):
    source = bundle_folder(tmp_path / "src")
    (source / ".env").write_text("X=1\n")
    path, count = pack(str(source))
    os.unlink(path)
    assert count == 4


def test_an_invalid_appspec_is_refused_with_file_and_line_and_nothing_is_uploaded(cli, application, tmp_path):
    source = bundle_folder(tmp_path / "src", APPSPEC.replace("os: linux", "os: windows"))
    result = cli("push", "--application", "shop-app", "--source", str(source))
    assert result.code == USAGE
    assert f"{source}/appspec.yml, line 2:" in result.err
    assert "windows" in result.err
    assert not Revision.objects.exists()


def test_nothing_is_sent_when_the_appspec_is_invalid(offline_cli, tmp_path, monkeypatch):
    # No server is configured at all: the refusal must come before any attempt to reach one.
    source = bundle_folder(tmp_path / "src", APPSPEC.replace("0.0", "1.0"))
    result = offline_cli("push", "--application", "shop-app", "--source", str(source))
    assert result.code == USAGE
    assert "appspec.yml, line 1:" in result.err and "1.0" in result.err
    assert "No Fleetdeck server configured" not in result.err


def test_a_missing_hook_script_is_named_with_its_appspec_line(offline_cli, tmp_path):
    source = bundle_folder(tmp_path / "src")
    (source / "hooks" / "start.sh").unlink()
    result = offline_cli("push", "-a", "shop-app", "-s", str(source))
    assert result.code == USAGE
    assert "appspec.yml, line 8: ApplicationStart script hooks/start.sh does not exist" in result.err


def test_a_script_that_is_not_executable_is_a_warning_not_a_refusal(offline_cli, tmp_path):
    """The agent makes such a script executable and runs it, as CodeDeploy does: push says so and goes on."""
    source = bundle_folder(tmp_path / "src")
    os.chmod(source / "hooks" / "start.sh", 0o644)
    result = offline_cli("push", "-a", "shop-app", "-s", str(source), "--dry-run")
    assert result.code == 0, result.err
    assert (
        f"fleetdeck: warning: {source}/appspec.yml, line 8: ApplicationStart script hooks/start.sh is not "
        "executable; the agent will make it executable before running it, as CodeDeploy does "
        f"(chmod +x {source}/hooks/start.sh to keep this out of the deployment log)"
    ) in result.err
    assert "Bundle OK" in result.err


@pytest.mark.parametrize("form", [".", "./", "sub/dir", "sub/dir/", "absolute"])
def test_the_source_may_be_any_relative_or_absolute_path(offline_cli, tmp_path, monkeypatch, form):
    """`aws deploy push --source .` is the usual form: the script checks must hold from any spelling."""
    source = bundle_folder(tmp_path / "sub" / "dir")
    monkeypatch.chdir(source if form in (".", "./") else tmp_path)
    given = str(source) if form == "absolute" else form
    result = offline_cli("push", "-a", "shop-app", "-s", given, "--dry-run")
    assert result.code == 0, result.err
    assert "Bundle OK: tgz, 3 files" in result.err
    (source / "hooks" / "start.sh").unlink()
    result = offline_cli("push", "-a", "shop-app", "-s", given, "--dry-run")
    assert result.code == USAGE
    assert "line 8: ApplicationStart script hooks/start.sh does not exist in the bundle" in result.err


def _tgz(folder, dest, top: str = "") -> str:
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, top + str(path.relative_to(folder)), recursive=False)
    return str(dest)


@pytest.mark.parametrize("top", ["", "shop-1.4/"])
def test_a_ready_archive_gets_the_same_script_checks_as_a_folder(offline_cli, tmp_path, top):
    source = bundle_folder(tmp_path / "src")
    os.chmod(source / "hooks" / "start.sh", 0o644)
    archive = _tgz(source, tmp_path / "ready.tgz", top)
    result = offline_cli("push", "-a", "shop-app", "-s", archive, "--dry-run")
    assert result.code == 0, result.err
    assert "ApplicationStart script hooks/start.sh is not executable" in result.err
    assert f"chmod +x hooks/start.sh before packing {archive}" in result.err
    (source / "hooks" / "start.sh").unlink()
    archive = _tgz(source, tmp_path / "broken.tgz", top)
    result = offline_cli("push", "-a", "shop-app", "-s", archive, "--dry-run")
    assert result.code == USAGE
    assert "line 8: ApplicationStart script hooks/start.sh does not exist in the bundle" in result.err


def test_a_ready_archive_with_a_missing_files_source_is_refused(offline_cli, tmp_path):
    source = bundle_folder(tmp_path / "src")
    (source / "app" / "index.html").unlink()
    (source / "app").rmdir()
    result = offline_cli("push", "-a", "shop-app", "-s", _tgz(source, tmp_path / "b.tgz"), "--dry-run")
    assert result.code == USAGE
    assert "line 4: files source app does not exist in the bundle" in result.err


def test_a_missing_files_source_is_refused(offline_cli, tmp_path):
    source = bundle_folder(tmp_path / "src")
    (source / "app" / "index.html").unlink()
    (source / "app").rmdir()
    result = offline_cli("push", "-a", "shop-app", "-s", str(source))
    assert result.code == USAGE
    assert "line 4: files source app does not exist in the bundle" in result.err


def test_a_symlink_out_of_the_folder_is_refused_as_the_server_would(offline_cli, tmp_path):
    source = bundle_folder(tmp_path / "src")
    os.symlink("/etc/passwd", source / "app" / "passwd")
    result = offline_cli("push", "-a", "shop-app", "-s", str(source))
    assert result.code == USAGE
    assert "points outside the archive" in result.err


def test_a_folder_without_an_appspec_is_refused(offline_cli, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README").write_text("hi")
    result = offline_cli("push", "-a", "shop-app", "-s", str(tmp_path / "src"))
    assert result.code == USAGE
    assert "no appspec.yml" in result.err


def test_dry_run_checks_without_a_server(offline_cli, tmp_path):
    result = offline_cli("push", "-a", "shop-app", "-s", str(bundle_folder(tmp_path / "src")), "--dry-run")
    assert result.code == 0, result.err
    assert "Bundle OK: tgz, 3 files" in result.err
    assert result.out == ""


def test_an_archive_is_checked_and_uploaded_as_is(cli, application, tmp_path):
    path, _ = pack(str(bundle_folder(tmp_path / "src")))
    result = cli("--json", "push", "-a", "shop-app", "-s", path)
    os.unlink(path)
    assert result.code == 0, result.err
    assert '"bundle_type": "tgz"' in result.out
    assert Revision.objects.count() == 1


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(CliError, match="neither a folder nor a zip, tar or tgz archive"):
        prepare(str(tmp_path / "notes.txt"))


def test_pushing_to_an_unknown_application_says_so(cli, project, tmp_path):
    result = cli("push", "-a", "nope", "-s", str(bundle_folder(tmp_path / "src")))
    assert result.code == 1
    assert (
        "Application 'nope' not found, or you are not a member of its project "
        "(No application of that name in your projects.)" in result.err
    )
    assert not Revision.objects.exists()

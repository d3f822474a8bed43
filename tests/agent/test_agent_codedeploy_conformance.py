"""Bundles that work on the CodeDeploy agent work the same on Fleetdeck: the 11 causes of issue 15.

Each test is built from the public appspec that showed the difference, with its paths moved under the
test's own folder. The CodeDeploy behaviour each one matches is named in its docstring, with the file of
`aws/aws-codedeploy-agent` (`lib/instance_agent/plugins/codedeploy/`) that shows it.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from fleetdeck_testing import require

INSTALL = ["DownloadBundle", "Install"]


def github_tarball(dest: Path, top: str, files: dict) -> Path:
    """A tarball as GitHub serves it: one top-level folder, every file 0644 unless committed 100755."""
    with tarfile.open(dest, "w:gz") as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return dest


def diag(result: dict) -> dict:
    return result["diagnostics"]


def lines_of(received: list) -> list[str]:
    return [line["text"] for line in received]


# -- 1. a script without its execute bit --------------------------------------------------------------


def test_a_script_without_its_execute_bit_is_made_executable_and_run(tmp_path, run_events):
    """hook_executor.rb: a script that is not executable gets `chmod +x` and runs. 03vinyamit/sampleAppLinux
    commits scripts/start_server as 100644, so GitHub's tarball has it 0644."""
    appspec = (
        "version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n"
        "    - location: scripts/start_server\n      timeout: 300\n"
    )
    bundle = github_tarball(
        tmp_path / "github.tgz",
        "03vinyamit-sampleAppLinux-d01dac5",
        {
            "appspec.yml": (appspec, 0o644),
            "scripts/start_server": ("#!/bin/bash\necho 'service httpd start'\n", 0o644),
        },
    )
    received: list = []
    result = run_events(bundle, ["DownloadBundle", "ApplicationStart"], on_lines=received.extend)
    assert result["ApplicationStart"]["status"] == "Succeeded", result["ApplicationStart"]
    assert "service httpd start" in lines_of(received)
    assert any(
        "scripts/start_server is not executable" in text and "chmod +x" in text for text in lines_of(received)
    ), lines_of(received)


# -- 2. a script with no #! line ----------------------------------------------------------------------


def test_a_script_without_a_shebang_line_runs_with_bin_sh(make_revision, run_events):
    """Ruby's spawn (hook_executor.rb, through Open3) falls back to /bin/sh on "Exec format error"."""
    appspec = "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/after.sh\n"
    rev = make_revision(appspec, {"scripts/after.sh": 'echo "no shebang in $LIFECYCLE_EVENT"\n'})
    received: list = []
    result = run_events(rev, ["DownloadBundle", "AfterInstall"], on_lines=received.extend)
    assert result["AfterInstall"]["status"] == "Succeeded", diag(result["AfterInstall"])
    assert "no shebang in AfterInstall" in lines_of(received)


# -- 3. permissions reach only what Install created under the object -------------------------------------


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home" / "ec2-user"
    home.mkdir(parents=True)
    home.chmod(0o700)
    return home


def test_permissions_leave_the_object_directory_that_already_existed_alone(
    tmp_path, make_revision, run_events, make_user
):
    """0pointr/aws-bootstrap: `object: /home/ec2-user/app` with owner ec2-user. installer.rb and
    linux_permission_info.rb: permissions go to what this Install copied or created *under* the object;
    the object itself and directories that were already there keep their owner."""
    user = make_user()
    home = _home(tmp_path)
    app = home / "app"
    app.mkdir()
    appspec = (
        "version: 0.0\nos: linux\nfiles:\n  - source: /\n"
        f"    destination: {app}\n    overwrite: true\n\n"
        f'permissions:\n  - object: {app}\n    pattern: "**"\n    owner: {user}\n    group: {user}\n'
    )
    rev = make_revision(appspec, {"package.json": "{}", "scripts/application_start.sh": "#!/bin/sh\n"})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Succeeded", diag(result)
    uid = pwd.getpwnam(user).pw_uid
    assert app.stat().st_uid == 0, "the object directory existed before: its owner stays"
    assert (app / "package.json").stat().st_uid == uid
    assert (app / "scripts").stat().st_uid == uid, "a directory Install created is changed"
    assert (app / "scripts" / "application_start.sh").stat().st_uid == uid
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_permissions_on_slash_never_touch_directories_already_on_the_host(
    tmp_path, make_revision, run_events, make_user
):
    """0hyunCho/CICD_TEST: `object: /`, mode 755, owner ec2-user, destination /home/ec2-user/. The home
    directory (0700, root's here) must stay as it was: CodeDeploy never created it."""
    user = make_user()
    home = _home(tmp_path)
    appspec = (
        f"version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: {home}/\n\n"
        'permissions:\n  - object: /\n    pattern : "**"\n    mode : 755\n'
        f"    owner : {user}\n    group : {user}\n"
    )
    rev = make_revision(appspec, {"scripts/start.sh": "#!/bin/sh\n", "app.jar": "jar"})
    (rev / "app.jar").chmod(0o600)
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Succeeded", diag(result)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert home.stat().st_uid == 0
    assert stat.S_IMODE((home / "app.jar").stat().st_mode) == 0o755
    assert (home / "app.jar").stat().st_uid == pwd.getpwnam(user).pw_uid
    assert (home / "scripts").stat().st_uid == pwd.getpwnam(user).pw_uid


# -- 4. except matches the object's direct children only ----------------------------------------------


def test_except_matches_only_the_direct_children_of_the_object(tmp_path, make_revision, run_events):
    """linux_permission_info.rb: `except` globs are matched against the path relative to the object and
    never match a path with a slash in it, so `*.sh` exempts top.sh but not sub/deep.sh."""
    dest = tmp_path / "srv"
    appspec = (
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}\n"
        f"permissions:\n  - object: {dest}\n    except: ['*.sh']\n    mode: 600\n    type: [file]\n"
    )
    rev = make_revision(appspec, {"web/top.sh": "", "web/sub/deep.sh": "", "web/page.html": ""})
    assert run_events(rev, INSTALL)["Install"]["status"] == "Succeeded"
    assert stat.S_IMODE((dest / "top.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "sub" / "deep.sh").stat().st_mode) == 0o600
    assert stat.S_IMODE((dest / "page.html").stat().st_mode) == 0o600


# -- 5. ACLs take the mask from the group bits ------------------------------------------------------


def _getfacl(path: Path) -> str:
    return subprocess.run(["getfacl", "-c", str(path)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("entry", ["u:{user}:7", "{user}:6"])
def test_acls_are_set_whole_with_the_mask_taken_from_the_group_bits(
    tmp_path, make_revision, run_events, make_user, entry
):
    """install_instruction.rb: `setfacl --set` with the base entries from the file's mode and, for named
    entries, a mask from its group bits. So a named user never gets more than the group class allows
    (r-x here), and the mode stays 0654. `setfacl -m` would widen the mask to rwx (0674)."""
    require(shutil.which("setfacl") is not None, "setfacl (the acl package)")
    user = make_user()
    dest = tmp_path / "srv"
    appspec = (
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}\n"
        f"permissions:\n  - object: {dest}\n    mode: 654\n    acls: ['{entry.format(user=user)}']\n"
        "    type: [file]\n"
    )
    rev = make_revision(appspec, {"web/app.conf": "x"})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Succeeded", diag(result)
    acl = _getfacl(dest / "app.conf")
    assert stat.S_IMODE((dest / "app.conf").stat().st_mode) == 0o654, acl
    assert "mask::r-x" in acl, acl
    given, effective = ("rwx", "r-x") if entry.startswith("u:") else ("rw-", "r--")
    named = next(line for line in acl.splitlines() if line.startswith(f"user:{user}:"))
    assert named.split()[0] == f"user:{user}:{given}" and named.endswith(f"#effective:{effective}"), acl


# -- 6. SELinux context keys --------------------------------------------------------------------------


def test_an_selinux_context_with_name_type_and_range_is_accepted(tmp_path, make_revision, run_events):
    """context_info.rb: `name` is the SELinux user, `type` is required, `range` optional; the agent's own
    fixture (application_specification_test.rb) uses exactly these keys."""
    dest = tmp_path / "srv"
    appspec = (
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}\n"
        f"permissions:\n  - object: {dest}\n    context:\n      name: unconfined_u\n"
        "      type: httpd_sys_content_t\n      range: s0\n"
    )
    rev = make_revision(appspec, {"web/index.html": ""})
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Succeeded", diag(result)


# -- 7. each event's scripts are looked up when that event runs --------------------------------------


def test_a_first_deployment_does_not_need_the_application_stop_script(tmp_path, make_revision, run_events):
    """hook_executor.rb looks a script up only when its event runs; 03vinyamit/sampleAppLinux names
    scripts/stop_server for ApplicationStop, which its repository never had."""
    appspec = (
        "version: 0.0\nos: linux\nhooks:\n"
        "  ApplicationStop:\n    - location: scripts/stop_server\n      timeout: 300\n"
        "  AfterInstall:\n    - location: scripts/after.sh\n"
        "  ApplicationStart:\n    - location: scripts/start_server\n      timeout: 300\n"
    )
    rev = make_revision(
        appspec, {"scripts/after.sh": "#!/bin/sh\n", "scripts/start_server.sh": "#!/bin/sh\n"}
    )
    (rev / "scripts" / "start_server.sh").rename(rev / "scripts" / "start_server")
    events = [
        "ApplicationStop",
        "DownloadBundle",
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "ApplicationStart",
    ]
    result = run_events(rev, events)
    assert {event: r["status"] for event, r in result.items()} == {
        "ApplicationStop": "Skipped",
        "DownloadBundle": "Succeeded",
        "BeforeInstall": "Skipped",
        "Install": "Succeeded",
        "AfterInstall": "Succeeded",
        "ApplicationStart": "Succeeded",
    }


# -- 8. the last successful install is the one whose Install succeeded ----------------------------------


def test_application_stop_runs_the_stop_script_of_the_revision_that_is_installed(
    tmp_path, make_revision, run_events
):
    """command_executor.rb records the last successful install when Install succeeds. v2 installed and
    then failed ValidateService: v3's ApplicationStop must stop v2, which is what runs."""
    stopped = tmp_path / "stopped"
    lifecycle = ["ApplicationStop", "DownloadBundle", "Install", "ValidateService"]

    def revision(version: str, validate_exit: int):
        appspec = (
            "version: 0.0\nos: linux\nhooks:\n  ApplicationStop:\n    - location: stop.sh\n"
            "  ValidateService:\n    - location: validate.sh\n"
        )
        return make_revision(
            appspec,
            {
                "stop.sh": f"#!/bin/sh\necho {version} >> {stopped}\n",
                "validate.sh": f"#!/bin/sh\nexit {validate_exit}\n",
            },
            name=version,
        )

    assert run_events(revision("v1", 0), lifecycle, "d-V1")["ValidateService"]["status"] == "Succeeded"
    assert run_events(revision("v2", 1), lifecycle, "d-V2")["ValidateService"]["status"] == "Failed"
    assert run_events(revision("v3", 0), lifecycle, "d-V3")["ValidateService"]["status"] == "Succeeded"
    assert stopped.read_text().split() == ["v1", "v2"]


# -- 9. symlinked directories inside a copied source ---------------------------------------------------


def test_a_symlinked_directory_inside_the_bundle_is_installed_as_its_contents(
    tmp_path, make_revision, make_bundle, run_events
):
    """installer.rb (generate_directory_copy): `File.directory?` follows the link, so the directory's
    contents are copied. Installing the link itself would leave it dangling at the destination."""
    dest = tmp_path / "srv"
    appspec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    rev = make_revision(appspec, {"app/main.py": "main", "vendor/lib/helper.py": "helper"})
    (rev / "app" / "lib").symlink_to("../vendor/lib")
    result = run_events(make_bundle(rev, "tgz"), INSTALL)["Install"]
    assert result["status"] == "Succeeded", diag(result)
    assert not (dest / "lib").is_symlink()
    assert (dest / "lib" / "helper.py").read_text() == "helper"
    assert (dest / "main.py").read_text() == "main"


def test_a_symlink_that_leaves_the_bundle_is_still_refused(tmp_path, make_revision, run_events):
    """A local directory bundle can hold any link; one that leads out of the bundle is refused at
    Install, naming it, before anything is written."""
    dest = tmp_path / "srv"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    appspec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    rev = make_revision(appspec, {"app/main.py": "main"})
    (rev / "app" / "escape").symlink_to(outside)
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert "app/escape" in diag(result)["message"] and "outside the revision" in diag(result)["message"]
    assert not dest.exists()


# -- 10. a relative destination -------------------------------------------------------------------------


def test_a_relative_destination_is_resolved_against_the_root_directory_with_a_warning(
    tmp_path, make_revision, run_events
):
    """03vinyamit/sampleAppLinux has `destination: scripts/test.py`; CodeDeploy's agent runs from `/`
    and File.expand_path resolves the destination there."""
    relative = f"{str(tmp_path).lstrip('/')}/scripts/test.py"
    appspec = (
        "version: 0.0\nos: linux\nfiles:\n"
        f"  - source: /index.html\n    destination: {tmp_path}/var/www/html/\n"
        f"  - source: scripts/test.py\n    destination: {relative}\n"
    )
    rev = make_revision(appspec, {"index.html": "<h1>hi</h1>", "scripts/test.py": "print(1)\n"})
    received: list = []
    result = run_events(rev, INSTALL, on_lines=received.extend)["Install"]
    assert result["status"] == "Succeeded", diag(result)
    assert (tmp_path / "scripts" / "test.py" / "test.py").read_text() == "print(1)\n"
    assert (tmp_path / "var" / "www" / "html" / "index.html").exists()
    assert any(
        f'relative destination "{relative}"' in text and f"/{relative}" in text for text in lines_of(received)
    ), lines_of(received)


# -- 11. local --events always installs -----------------------------------------------------------------


def test_local_mode_with_events_still_downloads_and_installs(tmp_path, make_revision):
    """codedeploy-local always adds DownloadBundle and Install to the events asked for (deployer.rb; its
    feature test expects the files)."""
    dest = tmp_path / "srv"
    marker = tmp_path / "started"
    appspec = (
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}\n"
        "hooks:\n  ApplicationStart:\n    - location: start.sh\n"
    )
    rev = make_revision(appspec, {"web/index.html": "hi", "start.sh": f"#!/bin/sh\ntouch {marker}\n"})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetdeck_agent",
            "local",
            "--bundle",
            str(rev),
            "--events",
            "BeforeInstall,ApplicationStart",
            "--root",
            str(tmp_path / "root"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (dest / "index.html").read_text() == "hi"
    assert marker.exists()
    assert "DownloadBundle and Install" in proc.stdout
    order = [line.split()[0] for line in proc.stdout.splitlines() if line.endswith("...")]
    assert order == ["DownloadBundle", "BeforeInstall", "Install", "ApplicationStart"], proc.stdout


def test_files_of_the_link_followed_keep_being_installed_once(tmp_path, make_revision, run_events):
    """A link back up the tree would make the copy endless: it is refused, naming it."""
    dest = tmp_path / "srv"
    appspec = f"version: 0.0\nos: linux\nfiles:\n  - source: app\n    destination: {dest}\n"
    rev = make_revision(appspec, {"app/main.py": "main"})
    (rev / "app" / "loop").symlink_to(".")
    result = run_events(rev, INSTALL)["Install"]
    assert result["status"] == "Failed"
    assert "app/loop" in diag(result)["message"] and "loop" in diag(result)["message"]
    assert not os.path.exists(dest)

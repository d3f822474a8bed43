"""The root agent never writes, chowns or deletes through a symlink that a non-root user controls.

After `permissions`, the application's user owns its install tree and can swap a directory for a link
to a place only root may write (here a root-owned "victim" folder stands in for /etc). Every attack runs
as that real user; the agent under test is the real executor, running as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from fleetdeck_agent import safefs
from fleetdeck_agent.executor import ExecutorOptions, execute
from fleetdeck_agent.paths import DeploymentRoot
from fleetdeck_testing import require

INSTALL = ["DownloadBundle", "Install"]


@pytest.fixture
def app_user():
    require(os.geteuid() == 0, "running as root (the agent's own situation)")
    require(shutil.which("useradd") is not None, "useradd")
    name = f"fdapp{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    yield name
    subprocess.run(["userdel", name], check=False)


@pytest.fixture
def base():
    """A folder the app user can reach (pytest's own tmp folders are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="fleetdeck-symlinks-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(user: str, script: str) -> None:
    """Run shell as the app user: the attack is real, not simulated by root."""
    entry = pwd.getpwnam(user)

    def demote() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    subprocess.run(["/bin/sh", "-c", script], preexec_fn=demote, check=True)


class Host:
    def __init__(self, base: Path):
        self.base = base
        self.root = DeploymentRoot(str(base / "agent-root"))
        self.count = 0

    def revision(self, appspec: str, files: dict) -> Path:
        self.count += 1
        rev = self.base / f"rev{self.count}"
        for rel, text in {"appspec.yml": appspec, **files}.items():
            (rev / rel).parent.mkdir(parents=True, exist_ok=True)
            (rev / rel).write_text(text)
        return rev

    def deploy(self, rev: Path, deployment_id: str, events=INSTALL) -> dict:
        results = {}
        for event in events:
            command = {
                "id": f"{deployment_id}-{event}",
                "deployment_id": deployment_id,
                "lifecycle_event": event,
                "deployment_group_id": "dg-sym",
                "application_name": "shop",
                "deployment_group_name": "web",
                "revision": {"source": "local", "bundle_type": "directory", "url": str(rev)},
                "file_exists_behavior": "DISALLOW",
            }
            results[event] = execute(command, self.root, None, ExecutorOptions(kill_grace=0.5))
            if results[event]["status"] == "Failed":
                break
        return results


def owned_tree(host: Host, user: str, dest: Path, files: dict) -> str:
    return (
        f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {dest}/app\n"
        f"permissions:\n  - object: {dest}\n    owner: {user}\n    group: {user}\n"
    )


def victim(base: Path) -> Path:
    """Stands in for /etc: root's, and nothing of ours belongs there."""
    path = base / "victim"
    path.mkdir()
    (path / "passwd").write_text("root:x:0:0\n")
    (path / "secret.txt").write_text("keep me\n")
    return path


def test_install_fails_on_a_link_the_app_user_put_where_a_new_folder_goes_and_writes_nothing(base, app_user):
    host, dest, target = Host(base), base / "srv", victim(base)
    appspec = owned_tree(host, app_user, dest, {})
    result = host.deploy(host.revision(appspec, {"web/index.html": "v1"}), "d-ONE")
    assert result["Install"]["status"] == "Succeeded", result["Install"]
    assert (dest / "app").stat().st_uid == pwd.getpwnam(app_user).pw_uid

    as_user(app_user, f"ln -s {target} {dest}/app/logs")
    v2 = host.revision(appspec, {"web/index.html": "v2", "web/logs/passwd": "hacked::0:0\n"})
    result = host.deploy(v2, "d-TWO")["Install"]
    assert result["status"] == "Failed"
    message = result["diagnostics"]["message"]
    assert f"{dest}/app/logs is a symlink that root does not own" in message, message
    assert (target / "passwd").read_text() == "root:x:0:0\n"
    assert not (dest / "app" / "index.html").exists(), "nothing of the new revision is written"


def test_cleanup_never_deletes_through_a_link_the_app_user_swapped_in(base, app_user):
    host, dest, target = Host(base), base / "srv", victim(base)
    appspec = owned_tree(host, app_user, dest, {})
    v1 = host.revision(appspec, {"web/index.html": "v1", "web/conf/secret.txt": "ours\n"})
    assert host.deploy(v1, "d-ONE")["Install"]["status"] == "Succeeded"

    as_user(app_user, f"mv {dest}/app/conf {dest}/app/conf.moved && ln -s {target} {dest}/app/conf")
    v2 = host.revision(appspec, {"web/index.html": "v2"})
    result = host.deploy(v2, "d-TWO")["Install"]
    assert result["status"] == "Succeeded", result
    assert (target / "secret.txt").read_text() == "keep me\n", "cleanup deleted through the link"
    assert (target / "passwd").exists()
    assert (dest / "app" / "index.html").read_text() == "v2"
    assert "Left 1 paths behind a symlink" in result["diagnostics"]["log_tail"]


def test_an_operators_root_owned_link_keeps_working(base, app_user):
    """/var/www -> /srv/www: the link and the folder that holds it are root's, so Install follows it."""
    host = Host(base)
    (base / "srv-www").mkdir()
    (base / "www").symlink_to(base / "srv-www")
    appspec = f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {base}/www/html\n"
    result = host.deploy(host.revision(appspec, {"web/index.html": "hi"}), "d-ONE")["Install"]
    assert result["status"] == "Succeeded", result
    assert (base / "srv-www" / "html" / "index.html").read_text() == "hi"


def test_a_root_owned_link_in_a_folder_the_app_user_owns_is_not_followed(base, app_user):
    """The user cannot make a root-owned link, but may rename one into a folder of theirs."""
    host, target = Host(base), victim(base)
    owned = base / "owned"
    owned.mkdir()
    os.chown(owned, pwd.getpwnam(app_user).pw_uid, -1)
    (owned / "html").symlink_to(target)  # root made it, in the user's folder
    appspec = f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {owned}/html\n"
    result = host.deploy(host.revision(appspec, {"web/evil.txt": "x"}), "d-ONE")["Install"]
    assert result["status"] == "Failed"
    assert f"{owned}/html is a symlink that root does not own" in result["diagnostics"]["message"]
    assert not (target / "evil.txt").exists()


def test_chown_copy_and_remove_refuse_a_user_link_in_the_path(base, app_user):
    target = victim(base)
    owned = base / "owned"
    owned.mkdir()
    os.chown(owned, pwd.getpwnam(app_user).pw_uid, -1)
    as_user(app_user, f"ln -s {target} {owned}/etc")
    source = base / "payload"
    source.write_text("x")
    for attempt in (
        lambda: safefs.chown(f"{owned}/etc/passwd", pwd.getpwnam(app_user).pw_uid, -1),
        lambda: safefs.copy_in(str(source), f"{owned}/etc/new", replace=True),
        lambda: safefs.remove(f"{owned}/etc/secret.txt"),
        lambda: safefs.open_nofollow(f"{owned}/etc/passwd"),
    ):
        with pytest.raises(safefs.UnsafePath) as caught:
            attempt()
        assert caught.value.link == f"{owned}/etc"
    assert (target / "passwd").stat().st_uid == 0
    assert (target / "secret.txt").exists() and not (target / "new").exists()


def test_the_last_component_is_never_followed(base, app_user):
    """A link at the very path being replaced or removed is itself replaced or removed."""
    target = victim(base)
    owned = base / "owned"
    owned.mkdir()
    os.chown(owned, pwd.getpwnam(app_user).pw_uid, -1)
    as_user(app_user, f"ln -s {target}/passwd {owned}/file && ln -s {target} {owned}/dir")
    source = base / "payload"
    source.write_text("new")
    safefs.copy_in(str(source), f"{owned}/file", replace=True)
    assert (owned / "file").read_text() == "new" and not (owned / "file").is_symlink()
    assert safefs.remove(f"{owned}/dir") and not (owned / "dir").exists()
    assert (target / "passwd").read_text() == "root:x:0:0\n" and (target / "secret.txt").exists()

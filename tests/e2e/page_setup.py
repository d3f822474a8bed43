"""Project, team and rollout set up through the ORM for the page, stream and browser tests.

Only the agents are real processes; everything else is created directly, so these tests do not
depend on the REST API's shape. Revisions are stored in the live stack's storage directory.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from e2e_harness import Fleet, recording_bundle
from factories import make_app, make_group, make_instance, make_member, make_project
from factories import make_user as make_plain_user

PASSWORD = "e2e-pages-password"


@functools.lru_cache(maxsize=1)
def _server_password_hash() -> str:
    """The test process hashes with MD5 for speed; the live server only accepts its own hashers."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    return hasher.encode(PASSWORD, hasher.salt())


def make_user(project, role: str | None, name: str | None = None):
    """factories.make_user, with a password the live server can check; a member when `role` is given."""
    user = make_plain_user(name or f"{role or 'nobody'}-{uuid.uuid4().hex[:6]}")
    user.password = _server_password_hash()
    user.save(update_fields=["password"])
    if role:
        make_member(project, user, role)
    return user


def session_cookie(user) -> dict[str, str]:
    """A logged-in session for `user`, as the cookie a browser would send."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


class PageRollout:
    """One project with one application and group over one test's fleet."""

    def __init__(
        self, stack, fleet: Fleet, tmp_path: Path, hosts: list[str], config="CodeDeployDefault.AllAtOnce"
    ):
        from deployments.models import RegistrationToken

        self.stack, self.fleet, self.tmp = stack, fleet, tmp_path
        self.storage = Path(stack.env["FLEETDECK_STORAGE_DIR"])
        self.ctl = tmp_path / "ctl"
        self.ctl.mkdir(exist_ok=True)
        self.record = tmp_path / "record.log"
        self.project = make_project(f"shop-{fleet.tag}", name=f"Shop {fleet.tag}")
        self.owner = make_user(self.project, "owner")
        self.app = make_app(f"app-{fleet.tag}", project=self.project)
        self.group = make_group(self.app, "web", config=config, tags={"fleet": fleet.tag})
        self.hosts = [f"{h}-{fleet.tag}" for h in hosts]
        if self.hosts:
            _, raw = RegistrationToken.issue(project=self.project, tags={"fleet": fleet.tag})
            fleet.registration_token = lambda tags: raw
            fleet.start(self.hosts)

    def revision(self, label: str):
        from deployments.api.bundles import store_upload

        path = recording_bundle(self.tmp / f"{label}.tgz", label=label, record=self.record, ctl=self.ctl)
        upload = SimpleUploadedFile(f"{label}.tgz", path.read_bytes())
        with override_settings(MEDIA_ROOT=str(self.storage)):
            return store_upload(self.app, upload, description=label, user=self.owner)

    def control(self, host_index: int, event: str, kind: str, value: str = "") -> None:
        (self.ctl / f"{self.hosts[host_index]}.{event}.{kind}").write_text(value)

    def idle_instances(self, n: int) -> None:
        """Matching hosts with no agent behind them: a rollout over them waits until stopped."""
        for i in range(n):
            # Seen "in the future": the stack's sweep (offline after 4 s) leaves them alone.
            make_instance(
                f"idle-{i}-{self.fleet.tag}",
                project=self.project,
                tags={"fleet": self.fleet.tag},
                last_seen=timezone.now() + timedelta(hours=1),
            )

    def url(self, path: str = "") -> str:
        return f"{self.stack.url}/p/{self.project.slug}/deployments/{path}"

"""The demo's database rows, each created once: re-running finds them again."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from deployments import engine
from deployments.api.bundles import store_upload
from deployments.models import (
    DEPLOYMENT_TERMINAL,
    HALF_AT_A_TIME,
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    Instance,
    RegistrationToken,
    Revision,
)
from projects.models import Membership, Project, Role

from . import (
    APPLICATION,
    GROUP,
    PROJECT_NAME,
    PROJECT_SLUG,
    TAG_SET,
    TOKEN_TAGS,
    USERNAME,
    DemoHost,
    demo_dir,
)
from .sample import build_bundle


def _password(var_dir: Path) -> str:
    """The demo password: generated once and kept in <var>/demo/login (0600)."""
    path = demo_dir(var_dir) / "login"
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def ensure_login(var_dir: Path):
    """The `demo` user with the stored password (set again if someone changed it)."""
    password = _password(var_dir)
    user, created = get_user_model().objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    if created or not user.check_password(password):
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
    return user, password


def ensure_project(user) -> tuple[Project, Application, DeploymentGroup]:
    with transaction.atomic():
        project, _ = Project.objects.get_or_create(
            slug=PROJECT_SLUG,
            defaults={
                "name": PROJECT_NAME,
                "description": "Four local agents and a sample web service, set up by make demo.",
                "template": "blank",
                "created_by": user,
            },
        )
        Membership.objects.update_or_create(project=project, user=user, defaults={"role": Role.OWNER})
        # Names are per project: another project's application of this name is no concern of the demo's.
        application, _ = Application.objects.get_or_create(
            project=project, name=APPLICATION, defaults={"created_by": user}
        )
        group, _ = DeploymentGroup.objects.get_or_create(
            application=application,
            name=GROUP,
            defaults={
                "deployment_config": DeploymentConfig.objects.get(name=HALF_AT_A_TIME),
                "tag_set": TAG_SET,
            },
        )
    return project, application, group


def registered(host: DemoHost, project: Project, credential: str | None) -> bool:
    """Whether the host's stored credential still opens its instance in the demo project."""
    if not credential:
        return False
    instance = Instance.authenticate(credential)
    return instance is not None and instance.name == host.name and instance.project_id == project.pk


def release_names(project: Project, names: list[str]) -> list[str]:
    """Deregister the demo project's live instances with these names, whose agents lost their
    credential (a wiped var directory): registering a held name without it is refused (409)."""
    held = Instance.objects.filter(project=project, name__in=names, deregistered_at__isnull=True)
    released = sorted(held.values_list("name", flat=True))
    for instance in held:
        instance.deregister()
    return released


def registration_token(project: Project, user) -> str:
    """A one-hour token for the agents that have no valid credential yet; shown to nobody."""
    _token, raw = RegistrationToken.issue(
        project=project,
        created_by=user,
        tags=TOKEN_TAGS,
        expires_at=timezone.now() + timedelta(hours=1),
        description="Registers the agents that `make demo` runs",
    )
    return raw


def stop_unfinished(group: DeploymentGroup) -> list[str]:
    """Stop what an interrupted earlier run left going, so this run's deployment starts at once."""
    unfinished = list(
        Deployment.objects.filter(deployment_group=group)
        .exclude(status__in=DEPLOYMENT_TERMINAL)
        .values_list("id", flat=True)
    )
    for deployment_id in unfinished:
        engine.request_stop(deployment_id, by="make demo (left over from an earlier run)")
    return unfinished


def new_revision(application: Application, user) -> Revision:
    """Every run uploads the next revision, labelled "demo vN", through the same code as an upload."""
    number = Revision.objects.filter(application=application).count() + 1
    label = f"demo v{number}"
    bundle = ContentFile(build_bundle(label), name=f"demo-v{number}.tgz")
    return store_upload(application, bundle, description=label, user=user)


def deploy(group: DeploymentGroup, revision: Revision, user) -> Deployment:
    return engine.create_deployment(
        group=group, revision=revision, user=user, description=f"make demo: {revision.description}"
    )

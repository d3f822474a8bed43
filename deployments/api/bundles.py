"""Turning an uploaded bundle into a Revision: stream, hash, inspect, store. Archives the server
fetches itself (a GitHub commit's) are kept the same way (`store_fetched`), so storage holds one kind.

The two calls into the agent package live in `inspect`, so the server validates bundles with exactly
the code that will later extract them on the hosts.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from fleetdeck_agent.appspec import AppSpecError, parse_appspec
from fleetdeck_agent.bundle import BundleError, BundleLimitError, inspect_bundle
from rest_framework.exceptions import APIException, ValidationError

from deployments import integration_points
from deployments.models import Application, Revision, RevisionSource

# What a multipart upload may carry besides the bundle itself (boundaries, part headers, the
# description and CSRF fields): a request body may be this much larger than the bundle limit.
UPLOAD_OVERHEAD = 1024 * 1024


def human_size(size: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"


def too_large_message(limit: int | None = None) -> str:
    limit = settings.MAX_BUNDLE_SIZE if limit is None else limit
    return (
        f"The bundle is larger than this server's limit of {limit} bytes ({human_size(limit)}, "
        "FLEETDECK_MAX_BUNDLE_SIZE). Leave out what the hosts can build or install themselves, or ask "
        "the operator to raise FLEETDECK_MAX_BUNDLE_SIZE."
    )


class BundleTooLarge(APIException):
    """A 413 that states the limit; nothing of the bundle is kept."""

    status_code = 413
    default_code = "bundle_too_large"

    def __init__(self):
        super().__init__(too_large_message())


@dataclass
class Inspected:
    bundle_type: str
    appspec: str


def _reject(message: str) -> ValidationError:
    return ValidationError({"bundle": [message]})


def inspect(path: str) -> Inspected:
    """Check the archive and its appspec; raise a 400 quoting the agent's message."""
    try:
        # Bounded like the upload: never more than FLEETDECK_MAX_BUNDLE_SIZE decompressed, nor more
        # entries than FLEETDECK_MAX_BUNDLE_FILES (zip and tar bombs).
        info = inspect_bundle(path, max_size=settings.MAX_BUNDLE_SIZE, max_members=settings.MAX_BUNDLE_FILES)
    except BundleLimitError as exc:
        setting = "FLEETDECK_MAX_BUNDLE_FILES" if exc.limit == "entries" else "FLEETDECK_MAX_BUNDLE_SIZE"
        raise _reject(
            f"{exc.message}. This server's limit is {setting}; the operator can raise it."
        ) from None
    except BundleError as exc:
        raise _reject(exc.message) from None
    if info.bundle_type == "directory":
        raise _reject("The bundle is not a zip, tar or tgz archive")
    try:
        parse_appspec(info.appspec_text, info.prefix + info.appspec_name)
    except AppSpecError as exc:
        raise _reject(f"Invalid AppSpec: {exc}") from None
    return Inspected(info.bundle_type, info.appspec_text)


def store_upload(
    application: Application, upload, *, description: str, user, s3_location: str = ""
) -> Revision:
    """Copy the upload to a temp file while hashing it, validate it, then hand it to Django storage
    (or, with `s3_location`, to the project's S3 bucket as an S3 revision). Past
    FLEETDECK_MAX_BUNDLE_SIZE it stops and raises BundleTooLarge, keeping nothing. (Uploads over HTTP
    are stopped earlier, while they stream in: `deployments.upload_limit`.)"""
    digest = hashlib.sha256()
    size = 0
    limit = settings.MAX_BUNDLE_SIZE
    fd, path = tempfile.mkstemp(prefix="fleetdeck-upload-", suffix=".bundle")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise BundleTooLarge()
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise _reject("The bundle is empty")
        found = inspect(path)
        if s3_location:
            return _store_in_s3(application, path, s3_location, found, digest.hexdigest(), description, user)
        revision = Revision(
            application=application,
            source=RevisionSource.UPLOAD,
            bundle_type=found.bundle_type,
            sha256=digest.hexdigest(),
            size=size,
            appspec=found.appspec,
            description=description,
            uploaded_by=user if user.is_authenticated else None,
        )
        with open(path, "rb") as fh:
            revision.bundle.save(os.path.basename(upload.name or "bundle"), File(fh), save=False)
        try:
            revision.save()
        except Exception:
            revision.bundle.delete(save=False)
            raise
        return revision
    finally:
        os.unlink(path)


def _store_in_s3(application, path, uri, found: Inspected, sha256: str, description: str, user) -> Revision:
    try:
        revision = integration_points.upload_s3_revision(
            application, path, uri, bundle_type=found.bundle_type, user=user
        )
    except integration_points.RevisionRefused as exc:
        raise ValidationError({"s3_location": [str(exc)]}) from None
    revision.sha256, revision.appspec, revision.description = sha256, found.appspec, description
    revision.save(update_fields=["sha256", "appspec", "description"])
    return revision


def store_fetched(revision: Revision, path: str, *, size: int, sha256: str) -> bool:
    """Keep an archive the server fetched as the revision's bundle: checked like an upload, then in
    storage with its size and sha256. Raises ValidationError when it is not a usable bundle; False
    when another fetch stored the revision's bundle first (this copy is then dropped)."""
    found = inspect(path)
    revision.bundle_type = found.bundle_type
    with open(path, "rb") as fh:
        revision.bundle.save(f"{revision.pk}.{found.bundle_type}", File(fh), save=False)
    stored = Revision.objects.filter(pk=revision.pk, bundle="").update(
        bundle=revision.bundle.name,
        bundle_type=found.bundle_type,
        size=size,
        sha256=sha256,
        appspec=found.appspec,
    )
    if not stored:
        revision.bundle.delete(save=False)
        revision.refresh_from_db()
        return False
    revision.size, revision.sha256, revision.appspec = size, sha256, found.appspec
    return True

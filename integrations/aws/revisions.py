"""S3 revisions: registered after an ETag-checked HEAD, uploaded content-addressed, downloaded by hosts
through presigned URLs that are never stored."""

from __future__ import annotations

import hashlib

from django.conf import settings

from deployments.integration_points import RevisionRefused
from deployments.models import Revision, RevisionSource
from integrations.models import AwsConnection

from .client import AwsError, for_project


class S3RevisionError(RevisionRefused):
    """The S3 object cannot be used as a revision; the message says why and what to do."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise S3RevisionError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise S3RevisionError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def register_s3_revision(
    application, uri: str, *, bundle_type: str, version: str = "", etag: str = "", user=None
):
    """Create a Revision for an S3 object after checking it exists (and, if given, its ETag).

    An explicit user action, so it talks to S3 synchronously with the interactive timeout.
    """
    bucket, key = parse_s3_uri(uri)
    if not AwsConnection.objects.filter(project=application.project_id).exists():
        raise S3RevisionError("This project has no AWS connection. An owner can add one under Integrations.")
    try:
        head = for_project(
            application.project_id, timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT
        ).head_object(bucket, key, version or None)
    except AwsError as exc:
        raise S3RevisionError(f"s3://{bucket}/{key} cannot be read: {exc}") from None
    actual = head.get("ETag", "").strip('"')
    if etag and etag.strip('"') != actual:
        raise S3RevisionError(f"s3://{bucket}/{key} has ETag {actual}, not {etag.strip(chr(34))}")
    size, limit = int(head.get("ContentLength") or 0), settings.MAX_BUNDLE_SIZE
    if size > limit:
        # Checked before anything is registered (and so before any host is handed a presigned URL).
        raise S3RevisionError(
            f"s3://{bucket}/{key} is {size} bytes, larger than this server's limit of {limit} bytes "
            "(FLEETDECK_MAX_BUNDLE_SIZE). Make the bundle smaller, or ask the operator to raise the limit."
        )
    return Revision.objects.create(
        application=application,
        source=RevisionSource.S3,
        bundle_type=bundle_type,
        size=size,
        location={
            "bucket": bucket,
            "key": key,
            "version": version or head.get("VersionId", "") or "",
            "etag": actual,
        },
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )


def upload_s3_revision(application, path: str, uri: str, *, bundle_type: str, user=None):
    """Put a checked bundle under s3://bucket/prefix with the project's connection, then register it.

    The key is content-addressed (`<prefix>/<application>-<sha256 prefix>.<type>`), so pushing the
    same bundle twice writes the same object. Used by `fleetdeck push --s3`: the CLI needs no AWS SDK.
    """
    if not uri.startswith("s3://") or not uri[5:].partition("/")[0]:
        raise S3RevisionError(f"{uri!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = uri[5:].partition("/")
    if not AwsConnection.objects.filter(project=application.project_id).exists():
        raise S3RevisionError("This project has no AWS connection. An owner can add one under Integrations.")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    name = f"{application.name}-{digest.hexdigest()[:12]}.{bundle_type}"
    key = f"{prefix.strip('/')}/{name}" if prefix.strip("/") else name
    try:
        put = for_project(application.project_id).put_object(bucket, key, path)
    except AwsError as exc:
        raise S3RevisionError(f"s3://{bucket}/{key} cannot be written: {exc}") from None
    return register_s3_revision(
        application,
        f"s3://{bucket}/{key}",
        bundle_type=bundle_type,
        version=put.get("VersionId", "") or "",
        etag=put.get("ETag", ""),
        user=user,
    )


def revision_fetch(revision) -> dict | None:
    """A presigned GET URL for an S3 revision (version-pinned when it has one). No network: signing is local."""
    if revision.source != RevisionSource.S3:
        return None
    location = revision.location or {}
    connection = AwsConnection.objects.filter(project__applications=revision.application_id).first()
    if connection is None or not location.get("bucket"):
        return None
    client = for_project(connection.project_id)
    return {"url": client.presign(location["bucket"], location["key"], location.get("version") or None)}

"""Revisions as CodeDeploy's RevisionLocation, both ways.

S3 and GitHub revisions are what they say. A bundle uploaded to Fleetdeck itself is shown as an
S3-like location in the pseudo-bucket `fleetdeck` (`revisions/<id>.<type>`, eTag = its sha256), so
`ListApplicationRevisions` lists it and `CreateDeployment` can name it back.
"""

from __future__ import annotations

import re

from rest_framework.exceptions import ValidationError

from deployments.api.serializers.applications import RevisionRegisterSerializer
from deployments.models import Application, Revision, RevisionSource

from . import errors
from .protocol import CodeDeployError

UPLOAD_BUCKET = "fleetdeck"
_UPLOAD_KEY = re.compile(r"^revisions/(\d{1,18})\.[a-z]+$")


def location_of(revision: Revision) -> dict:
    loc = revision.location or {}
    if revision.source == RevisionSource.GITHUB:
        return {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": loc.get("repository", ""), "commitId": loc.get("commit", "")},
        }
    if revision.source == RevisionSource.S3:
        s3 = {"bucket": loc.get("bucket", ""), "key": loc.get("key", ""), "bundleType": revision.bundle_type}
        if loc.get("version"):
            s3["version"] = loc["version"]
        if loc.get("etag"):
            s3["eTag"] = loc["etag"]
        return {"revisionType": "S3", "s3Location": s3}
    s3 = {
        "bucket": UPLOAD_BUCKET,
        "key": f"revisions/{revision.pk}.{revision.bundle_type or 'tgz'}",
        "bundleType": revision.bundle_type or "tgz",
    }
    if revision.sha256:
        s3["eTag"] = revision.sha256
    return {"revisionType": "S3", "s3Location": s3}


def find(application: Application, location: dict) -> Revision | None:
    """The registered revision at `location`, newest first; None when there is none."""
    kind = location.get("revisionType")
    rows = Revision.objects.filter(application=application).order_by("-created_at", "-id")
    if kind == "S3":
        s3 = location.get("s3Location") or {}
        bucket, key = s3.get("bucket", ""), s3.get("key", "")
        if bucket == UPLOAD_BUCKET and (match := _UPLOAD_KEY.match(key)):
            return rows.filter(source=RevisionSource.UPLOAD, pk=int(match[1])).first()
        rows = rows.filter(source=RevisionSource.S3, location__bucket=bucket, location__key=key)
        if s3.get("version"):
            rows = rows.filter(location__version=s3["version"])
        if s3.get("eTag"):
            rows = rows.filter(location__etag=s3["eTag"].strip('"'))
        return rows.first()
    if kind == "GitHub":
        github = location.get("gitHubLocation") or {}
        commit = github.get("commitId", "")
        rows = (
            rows.filter(source=RevisionSource.GITHUB, location__commit__startswith=commit[:40])
            if commit
            else rows.none()
        )
        if github.get("repository"):
            rows = rows.filter(location__repository__iexact=github["repository"])
        return rows.first()
    return None


def check_kind(location: dict | None) -> dict:
    if not location:
        raise CodeDeployError(
            "RevisionRequiredException", "Give the revision: its revisionType and location."
        )
    kind = location.get("revisionType")
    if kind not in ("S3", "GitHub"):
        raise CodeDeployError(
            "InvalidRevisionException",
            f"Fleetdeck deploys S3 and GitHub revisions (and bundles uploaded to it), not {kind or 'no'} revisions.",
        )
    return location


def register(application: Application, location: dict, user, description: str = "") -> Revision:
    """The revision at `location`, registering it (after checking it exists) when it is new."""
    check_kind(location)
    existing = find(application, location)
    if existing is not None:
        if description and existing.description != description:
            existing.description = description[:500]
            existing.save(update_fields=["description"])
        return existing
    if location["revisionType"] == "S3":
        s3 = location.get("s3Location") or {}
        if s3.get("bucket") == UPLOAD_BUCKET:
            raise CodeDeployError(
                "RevisionDoesNotExistException", f"No uploaded revision at {s3.get('key', '')}."
            )
        inner = {"bucket": s3.get("bucket", ""), "key": s3.get("key", "")}
        if s3.get("bundleType") in ("zip", "tar", "tgz"):
            inner["bundle_type"] = s3["bundleType"]
        elif s3.get("bundleType"):
            raise CodeDeployError(
                "InvalidRevisionException", f"bundleType {s3['bundleType']} is not zip, tar or tgz."
            )
        for ours, theirs in (("version", "version"), ("etag", "eTag")):
            if s3.get(theirs):
                inner[ours] = s3[theirs]
        data = {"s3": inner, "description": description}
    else:
        github = location.get("gitHubLocation") or {}
        data = {
            "github": {"repository": github.get("repository", ""), "commit": github.get("commitId", "")},
            "description": description,
        }
    serializer = RevisionRegisterSerializer(data=data, context={"application": application, "user": user})
    if not serializer.is_valid():
        raise errors.from_serializer(serializer.errors, {}, default="InvalidRevisionException")
    try:
        return serializer.save()
    except ValidationError as exc:
        # The S3 object or commit could not be read: say so in CodeDeploy's words.
        raise errors.from_serializer(exc.detail, {}, default="InvalidRevisionException") from None

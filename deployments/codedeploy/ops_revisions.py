"""Application revisions: Register, Get, List and BatchGet, for S3, GitHub and uploaded bundles."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max, Min

from deployments.models import Deployment, Revision, RevisionSource
from projects.models import Role

from . import lookup, revisionmap
from .protocol import CodeDeployError
from .registry import Caller, operation


def generic_info(revision: Revision) -> dict:
    used = Deployment.objects.filter(revision=revision).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )
    groups = sorted(
        set(Deployment.objects.filter(revision=revision).values_list("deployment_group__name", flat=True))
    )
    return {
        "description": revision.description or None,
        "deploymentGroups": groups,
        "firstUsedTime": used["first"],
        "lastUsedTime": used["last"],
        "registerTime": revision.created_at,
    }


@operation("RegisterApplicationRevision", role=Role.CONTRIBUTOR)
def register_application_revision(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    revisionmap.register(application, params["revision"], caller.user, params.get("description", ""))
    return {}


def _found(caller: Caller, params: dict):
    application = lookup.application(caller, params["applicationName"])
    location = revisionmap.check_kind(params.get("revision"))
    revision = revisionmap.find(application, location)
    if revision is None:
        raise CodeDeployError(
            "RevisionDoesNotExistException", f"{application.name} has no revision registered there."
        )
    return application, revision


@operation("GetApplicationRevision")
def get_application_revision(caller: Caller, params: dict) -> dict:
    application, revision = _found(caller, params)
    return {
        "applicationName": application.name,
        "revision": revisionmap.location_of(revision),
        "revisionInfo": generic_info(revision),
    }


@operation("ListApplicationRevisions")
def list_application_revisions(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    rows = Revision.objects.filter(application=application)
    if bucket := params.get("s3Bucket"):
        if bucket == revisionmap.UPLOAD_BUCKET:
            rows = rows.filter(source=RevisionSource.UPLOAD)
        else:
            rows = rows.filter(source=RevisionSource.S3, location__bucket=bucket)
        if prefix := params.get("s3KeyPrefix"):
            rows = rows.filter(location__key__startswith=prefix)
    elif params.get("s3KeyPrefix"):
        raise CodeDeployError("BucketNameFilterRequiredException", "s3KeyPrefix needs s3Bucket.")
    deployed = params.get("deployed", "ignore")
    if deployed == "include":
        rows = rows.filter(deployments__isnull=False).distinct()
    elif deployed == "exclude":
        rows = rows.filter(deployments__isnull=True)
    sort_by = {"registerTime": "created_at", "firstUsedTime": "first_used", "lastUsedTime": "last_used"}[
        params.get("sortBy", "registerTime")
    ]
    if sort_by != "created_at":
        rows = rows.annotate(
            first_used=Min("deployments__created_at"), last_used=Max("deployments__created_at")
        )
    descending = params.get("sortOrder", "descending") == "descending"
    rows = rows.order_by(f"-{sort_by}" if descending else sort_by, "-id" if descending else "id")
    chunk, token = lookup.page(rows, params, settings.CODEDEPLOY_PAGE_SIZE)
    return {"revisions": [revisionmap.location_of(r) for r in chunk], "nextToken": token}


@operation("BatchGetApplicationRevisions")
def batch_get_application_revisions(caller: Caller, params: dict) -> dict:
    application = lookup.application(caller, params["applicationName"])
    locations = params["revisions"]
    if len(locations) > 25:
        raise CodeDeployError("BatchLimitExceededException", "Give at most 25 revisions in one call.")
    found, missing = [], 0
    for location in locations:
        revision = revisionmap.find(application, location)
        if revision is None:
            missing += 1
            continue
        found.append(
            {
                "revisionLocation": revisionmap.location_of(revision),
                "genericRevisionInfo": generic_info(revision),
            }
        )
    return {
        "applicationName": application.name,
        "errorMessage": f"{missing} of the revisions are not registered." if missing else None,
        "revisions": found,
    }

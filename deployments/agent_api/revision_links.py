"""Where an agent downloads a command's revision from: links handed out with each command.

Never an integration secret. Uploads and GitHub archives (fetched by the server before the deployment
started) come from this server with the agent's own credential; S3 gets a fresh presigned URL from
`integration_points.revision_download`, never stored. The integrations layer provides that point; this
module never imports it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest

from deployments import integration_points
from deployments.models import Revision, RevisionSource

log = logging.getLogger(__name__)


def add_download_links(commands: list[dict]) -> None:
    """Point each command's revision at its download. A GitHub revision is handed out as served here
    ("upload", which old agents also fetch with their bearer credential)."""
    fetched: dict[int, dict | None] = {}
    for command in commands:
        revision = command.get("revision") or {}
        if revision.get("source") == RevisionSource.GITHUB:
            revision["source"] = RevisionSource.UPLOAD
            continue
        if revision.get("source") != RevisionSource.S3:
            continue
        if revision["id"] not in fetched:
            stored = Revision.objects.filter(pk=revision["id"]).first()
            try:
                fetched[revision["id"]] = integration_points.revision_download(stored) if stored else None
            except Exception as exc:  # the connection is missing or AWS is down: DownloadBundle says so
                log.warning("no download link for revision %s: %s", revision["id"], exc)
                fetched[revision["id"]] = None
        fetch = fetched[revision["id"]]
        if fetch:
            revision["url"] = fetch["url"]


def absolutize(request: HttpRequest, commands: list[dict]) -> list[dict]:
    """Links to this server made absolute: FLEETDECK_PUBLIC_URL when set, else the request's host."""
    for command in commands:
        revision = command.get("revision") or {}
        url = revision.get("url") or ""
        if url.startswith("/"):
            revision["url"] = (
                (settings.PUBLIC_URL + url) if settings.PUBLIC_URL else request.build_absolute_uri(url)
            )
    return commands

"""Unauthenticated downloads for hosts: the wheelhouse and the install script.

Nothing here is secret (the agent's code and PyYAML); registration needs a token, given on the host.
"""

from __future__ import annotations

import shlex
from html import escape

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from .build import AGENT_DIR, DistUnavailable, dist_files, wheelhouse

PACKAGING_DIR = AGENT_DIR / "packaging"


def public_server_url(request: HttpRequest) -> str:
    """The URL hosts reach this server at: FLEETDECK_PUBLIC_URL, else the one the request used."""
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def _unavailable(exc: DistUnavailable) -> HttpResponse:
    return HttpResponse(
        f"The agent distribution cannot be built on this server: {exc}\n"
        "Run `python manage.py build_agent_dist` there to see the whole error.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )


@require_safe
def dist_index(request: HttpRequest) -> HttpResponse:
    """A find-links page (also a PEP 503 project page): pip picks the files that fit the host."""
    try:
        files = dist_files(wheelhouse())
    except DistUnavailable as exc:
        return _unavailable(exc)
    links = "\n".join(f'<a href="{escape(f.name)}#sha256={f.sha256}">{escape(f.name)}</a><br>' for f in files)
    return HttpResponse(
        "<!DOCTYPE html>\n<html><head><title>Fleetdeck agent distribution</title></head><body>\n"
        "<h1>Fleetdeck agent distribution</h1>\n"
        "<p>pip install --no-index --find-links THIS_URL fleetdeck-agent</p>\n"
        f"{links}\n</body></html>\n"
    )


@require_safe
def dist_file(request: HttpRequest, filename: str) -> FileResponse:
    try:
        directory = wheelhouse()
        names = {f.name for f in dist_files(directory)}
    except DistUnavailable as exc:
        return _unavailable(exc)
    if filename not in names:  # only what the manifest lists: no path can climb out
        raise Http404("No such file in the agent distribution.")
    return FileResponse(
        open(directory / filename, "rb"),  # FileResponse closes it
        as_attachment=True,
        filename=filename,
        content_type="application/octet-stream",
    )


def render_install_script(server: str) -> str:
    script = (PACKAGING_DIR / "install.sh").read_text()
    unit = (PACKAGING_DIR / "fleetdeck-agent.service").read_text().rstrip("\n")
    return script.replace("__FLEETDECK_SERVER__", shlex.quote(server)).replace("__FLEETDECK_UNIT__", unit)


@require_safe
def install_script(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        render_install_script(public_server_url(request)), content_type="text/plain; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    return response

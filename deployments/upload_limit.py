"""FLEETDECK_MAX_BUNDLE_SIZE, enforced while an upload streams in, at each layer that reads it.

* `limit_request_body` wraps the ASGI application: Django's ASGI handler spools the whole body to a
  temporary file before any view runs, so this is what stops a 10 GB request at the limit. A declared
  Content-Length past it is refused before a byte is read; a body without one stops being read there.
* `BundleSizeLimitMiddleware` does the same for a declared length under WSGI, and turns an upload the
  handler below stopped into the 413 (whatever the view then made of a form without its file).
* `BundleSizeLimitHandler` (first in FILE_UPLOAD_HANDLERS) counts each uploaded file's bytes and stops
  the upload past the limit; Django then closes (and so deletes) what the other handlers spooled.

Each answers 413 with a message that states the limit; nothing of the bundle is kept.
"""

from __future__ import annotations

import json
from html import escape

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse

from deployments.api.bundles import UPLOAD_OVERHEAD, too_large_message

_STOPPED = "fleetdeck_bundle_too_large"


def _limits() -> tuple[int, int]:
    """The bundle limit, and the largest request body that may carry such a bundle."""
    return settings.MAX_BUNDLE_SIZE, settings.MAX_BUNDLE_SIZE + UPLOAD_OVERHEAD


def _answer(path: str, accept: str) -> tuple[str, bytes]:
    """(content type, body) of the 413: JSON for the API and JSON clients, a short page otherwise."""
    limit, _ = _limits()
    message = too_large_message(limit)
    if path.startswith("/api/") or "json" in accept:
        return "application/json", json.dumps({"detail": message, "limit": limit}).encode()
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bundle too large</title></head>'
        f"<body><main><h1>Bundle too large</h1><p>{escape(message)}</p>"
        "<p>Go back to choose a smaller bundle.</p></main></body></html>"
    )
    return "text/html; charset=utf-8", page.encode()


def too_large_response(request: HttpRequest) -> HttpResponse:
    content_type, body = _answer(request.path, request.headers.get("Accept", ""))
    if content_type == "application/json":
        return JsonResponse(json.loads(body), status=413)
    return HttpResponse(body, content_type=content_type, status=413)


class BundleSizeLimitHandler(FileUploadHandler):
    """Counts each file's bytes as they arrive and stops the upload past FLEETDECK_MAX_BUNDLE_SIZE."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_BUNDLE_SIZE:
            setattr(self.request, _STOPPED, True)
            # The handlers after this one never see the chunk, and Django closes their files.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or a temporary file) keeps the file


class BundleSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _, most = _limits()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > most:
            return too_large_response(request)
        response = self.get_response(request)
        if getattr(request, _STOPPED, False):
            return too_large_response(request)
        return response


def limit_request_body(app):
    """The ASGI application `app`, with request bodies past the bundle limit refused as they stream."""

    async def application(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        _, most = _limits()
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        started = exceeded = False
        received = 0

        async def refuse() -> None:
            content_type, body = _answer(scope.get("path", ""), headers.get(b"accept", b"").decode("latin-1"))
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", content_type.encode()),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        if declared.isdigit() and int(declared) > most:
            return await refuse()

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > most:
                    # Django stops reading at a disconnect and answers nothing: the 413 is sent below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await refuse()

    return application

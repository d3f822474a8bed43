"""A lean ASGI handler for the agent API: Django's request handling without the middleware stack.

Django's built-in middlewares are sync-first: under ASGI each one hops to a thread for
`process_request` and again for `process_response`, and every request gets a fresh thread for
those hops. The agent API needs none of them (bearer credentials, no sessions, no CSRF, JSON only),
and at fleet scale those hops were most of the web process's CPU. `config/asgi.py` sends
`/agent/v1/` here and everything else through the full stack.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import JsonResponse
from django.urls import set_script_prefix

PREFIX = "/agent/v1/"  # the agent API only; the install script and downloads keep the full stack
URLCONF = "deployments.agent_api.root_urls"


class AgentASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(
            self._get_response_async if is_async else self._get_response
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"The agent API serves HTTP only, not {scope['type']}.")
        # No per-request ThreadSensitiveContext: its executor is a new thread for every request. The
        # few thread-sensitive calls left (request signals) share asgiref's one sync thread instead;
        # the views' database work runs in the thread pool (`thread_sensitive=False`).
        await self.handle(scope, receive, send)

    async def read_body(self, receive):
        """The body in memory: agent requests are small JSON documents (a few KB; log batches at most
        a few hundred KB), so Django's spooled temporary file is overhead. Past the upload limit the
        rest is read and dropped, and `handle` answers 413."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()
            chunk = message.get("body", b"")
            if chunk and (limit is None or size <= limit):
                chunks.append(chunk)
                size += len(chunk)
            if not message.get("more_body", False):
                break
        return io.BytesIO(b"".join(chunks))

    async def handle(self, scope, receive, send):
        """Django's request cycle less its per-request extras: no request_started or
        request_finished signal and no disconnect-listener task. The signals' receivers close this
        thread's database connections, and there are none here: every query of the agent API runs in
        the thread pool. Without them a request costs no thread hop of its own. A long poll whose
        agent went away simply ends at its deadline instead of at once."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and body_file.getbuffer().nbytes > limit:
                await self.send_response(
                    JsonResponse({"detail": f"The request body is larger than {limit} bytes."}, status=413),
                    send,
                )
                return
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is not None:
                request.urlconf = URLCONF
            response = error_response if request is None else await self.run_get_response(request)
            await self.send_response(response, send)
            if response.streaming:
                # A bundle download: close its file. Other responses hold nothing to close, and
                # close() would only send request_finished, whose receivers close this thread's
                # database connections: there are none (see above).
                response.close()
        finally:
            body_file.close()


def route(agent_app, other_app):
    """An ASGI app that sends agent API requests to `agent_app` and the rest to `other_app`."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            return await agent_app(scope, receive, send)
        return await other_app(scope, receive, send)

    return application

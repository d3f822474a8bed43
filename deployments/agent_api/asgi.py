"""A lean ASGI handler for the agent API: Django's request handling without the middleware stack.

Django's built-in middlewares are sync-first: under ASGI each one hops to a thread for
`process_request` and again for `process_response`, and every request gets a fresh thread for
those hops. The agent API needs none of them (bearer credentials, no sessions, no CSRF, JSON only),
and at fleet scale those hops were most of the web process's CPU. `config/asgi.py` sends `/agent/`
here and everything else through the full stack.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

PREFIX = "/agent/"


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


def route(agent_app, other_app):
    """An ASGI app that sends agent API requests to `agent_app` and the rest to `other_app`."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            return await agent_app(scope, receive, send)
        return await other_app(scope, receive, send)

    return application

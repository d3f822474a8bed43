"""The agent API's lean ASGI handler: bodies read into memory, bounded, and oversize ones refused."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.conf import settings

from deployments.agent_api.asgi import AgentASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def call(body_chunks: list[bytes], path: str = "/agent/v1/register/") -> tuple[int, dict, AgentASGIHandler]:
    handler = AgentASGIHandler()
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(body_chunks) - 1}
        for i, chunk in enumerate(body_chunks)
    ]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    asyncio.run(handler(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body or b"{}"), handler


def test_a_body_in_chunks_is_read_whole():
    payload = json.dumps({"token": "fdr_nope", "name": "web-1"}).encode()
    status, answer, _ = call([payload[:10], payload[10:20], payload[20:]])
    assert status == 401  # the body was parsed: the token is what is wrong
    assert "token" in answer["detail"]


def test_a_body_past_the_upload_limit_is_a_413_and_is_not_kept_whole(monkeypatch):
    chunk = b" " * (1024 * 1024)
    chunks = [chunk] * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // len(chunk) + 5)
    kept = []
    real = AgentASGIHandler.read_body

    async def spy(self, receive):
        body = await real(self, receive)
        kept.append(len(body.getvalue()))
        return body

    monkeypatch.setattr(AgentASGIHandler, "read_body", spy)
    status, answer, _ = call(chunks)
    assert status == 413
    assert "larger than" in answer["detail"]
    assert kept[0] <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE + len(chunk)

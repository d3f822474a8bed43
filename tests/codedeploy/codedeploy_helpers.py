"""Real botocore clients for the CodeDeploy endpoint, speaking either protocol.

botocore picks AWS JSON 1.1 for CodeDeploy when the model offers both; `client(..., protocol="cbor")`
loads a copy of botocore's own model whose `protocols` lists only Smithy RPC v2 CBOR (and
protocol="json" one listing only JSON), so each test says which wire it exercises.

`in_process(client, django_client)` sends the client's signed requests through Django's test client
instead of a socket: the whole view (middleware, signature, protocol) runs, in the test's transaction.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config

PROTOCOLS = {"json": "json", "cbor": "smithy-rpc-v2-cbor"}


@functools.cache
def _model_dir(protocol: str) -> str:
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("codedeploy", "service-2")
    model = json.loads(json.dumps(model))
    model["metadata"]["protocols"] = [PROTOCOLS[protocol]]
    model["metadata"]["protocol"] = PROTOCOLS[protocol]
    base = Path(tempfile.mkdtemp(prefix=f"codedeploy-{protocol}-"))
    version = loader.determine_latest_version("codedeploy", "service-2")
    target = base / "codedeploy" / version
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    # The waiters and paginators of the same version, so client.get_waiter() works.
    for name in ("waiters-2", "paginators-1"):
        (target / f"{name}.json").write_text(json.dumps(loader.load_service_model("codedeploy", name)))
    return str(base)


def client(
    key_id: str, secret: str, endpoint_url: str, *, protocol: str = "json", region: str = "eu-north-1"
):
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, _model_dir(protocol))
    return boto3.Session(botocore_session=session).client(
        "codedeploy",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Raw:
    def __init__(self, content: bytes):
        self.content = content

    def stream(self, **kwargs):
        yield self.content


def in_process(boto_client, django_client):
    """Route `boto_client`'s requests to Django's test client; returns the list of (request, response)."""
    seen = []

    def send(request, **kwargs):
        url = urlsplit(request.url)
        headers = {}
        for name, value in request.headers.items():
            value = value.decode() if isinstance(value, bytes) else value
            if name.lower() in ("content-type", "content-length"):
                continue
            headers["HTTP_" + name.upper().replace("-", "_")] = value
        headers.setdefault("HTTP_HOST", url.netloc)
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        response = django_client.generic(
            request.method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=body,
            content_type=_text(request.headers.get("Content-Type", "application/octet-stream")),
            **headers,
        )
        seen.append((request, response))
        return AWSResponse(request.url, response.status_code, dict(response.items()), _Raw(response.content))

    boto_client.meta.events.register_first("before-send.codedeploy", send)
    return seen


def key_client(
    key,
    secret: str,
    django_client,
    protocol: str = "json",
    endpoint_url: str = "http://testserver/codedeploy",
):
    """A client signing with `key`, sent through `django_client`; `.sent` lists what it sent."""
    boto = client(key.key_id, secret, endpoint_url, protocol=protocol)
    boto.sent = in_process(boto, django_client)
    return boto

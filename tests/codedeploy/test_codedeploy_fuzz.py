"""Random bodies, correctly signed, in both encodings: the endpoint answers every one in CodeDeploy's
words, never with a 500.

Bodies are drawn three ways: random bytes; random documents of random values; and documents shaped
like each operation's input (botocore's model), with wrong types, NUL characters and huge numbers
mixed in, so that the handlers themselves are reached, not only the validator.
"""

from __future__ import annotations

import json
import os

import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.codedeploy.protocol import service_model
from deployments.models import ONE_AT_A_TIME, Application, DeploymentConfig, DeploymentGroup, Instance

# Rows are written by the handlers, some outside the test's transaction: commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=int(os.environ.get("FLEETDECK_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=os.environ.get("FLEETDECK_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MODEL = service_model()
OPERATIONS = sorted(MODEL.operation_names)
NAMES = st.sampled_from(["shop", "web", "d-AAAAAAAAA", "web-1", "CodeDeployDefault.OneAtATime", "fleetdeck"])
TEXT = st.one_of(NAMES, st.text(max_size=20), st.just("a\x00b"), st.text(min_size=300, max_size=400))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
ANYTHING = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)


def shaped(shape, depth: int = 0):
    """Values of `shape`, now and then of the wrong type."""
    if depth > 4:
        return SCALAR
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        good = st.fixed_dictionaries(
            {name: shaped(member, depth + 1) for name, member in shape.members.items() if name in required},
            optional={
                name: shaped(member, depth + 1)
                for name, member in shape.members.items()
                if name not in required
            },
        )
    elif kind == "list":
        good = st.lists(shaped(shape.member, depth + 1), max_size=3)
    elif kind == "map":
        good = st.dictionaries(TEXT, shaped(shape.value, depth + 1), max_size=2)
    elif kind == "string":
        good = st.sampled_from(shape.enum) if shape.enum else TEXT
    elif kind in ("integer", "long"):
        good = st.integers(min_value=-(2**40), max_value=2**40)
    elif kind == "boolean":
        good = st.booleans()
    elif kind == "timestamp":
        good = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
    else:
        good = st.binary(max_size=8)
    return st.one_of(good, good, good, good, SCALAR)


@st.composite
def requests(draw):
    operation = draw(st.sampled_from([*OPERATIONS, "NoSuchOperation", ""]))
    model = MODEL.operation_model(operation) if operation in OPERATIONS else None
    way = draw(st.sampled_from(["bytes", "random", "shaped", "shaped"]))
    if way == "bytes":
        return operation, draw(st.binary(max_size=64))
    if way == "shaped" and model is not None and model.input_shape is not None:
        return operation, draw(shaped(model.input_shape))
    return operation, draw(ANYTHING)


def _encode(protocol: str, body) -> bytes:
    if isinstance(body, bytes):
        return body
    if protocol == "cbor":
        return cbor2.dumps(body)
    return json.dumps(body).encode()


def _send(client, key, secret, protocol: str, operation: str, body: bytes):
    if protocol == "cbor":
        url = f"http://testserver/codedeploy/service/CodeDeploy_20141006/operation/{operation}"
        headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    else:
        url = "http://testserver/codedeploy/"
        headers = {
            "X-Amz-Target": f"CodeDeploy_20141006.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        }
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key.key_id, secret), "codedeploy", "us-east-1").add_auth(request)
    meta = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items() if k != "Content-Type"
    }
    return client.generic(
        "POST",
        url.removeprefix("http://testserver"),
        data=body,
        content_type=headers["Content-Type"],
        HTTP_HOST="testserver",
        **meta,
    )


@pytest.fixture
def world(project, user):
    """Something for the handlers to find: an application, a group and an instance."""
    application = Application.objects.create(project=project, name="shop", created_by=user)
    DeploymentGroup.objects.create(
        application=application,
        name="web",
        deployment_config=DeploymentConfig.objects.get(name=ONE_AT_A_TIME, builtin=True),
        tag_filters=[{"key": "role", "value": "web", "type": "KEY_AND_VALUE"}],
    )
    instance = Instance(name="web-1", project=project, tags={"role": "web"})
    instance.rotate_credential()
    instance.save()


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_no_signed_body_gets_a_500(client, access_key, world, protocol):
    key, secret = access_key
    seen: dict[str, int] = {}

    @FUZZ
    @given(requests())
    def check(drawn):
        operation, body = drawn
        response = _send(client, key, secret, protocol, operation, _encode(protocol, body))
        assert response.status_code < 500, (operation, body, response.content[:500])
        answer = cbor2.loads(response.content) if protocol == "cbor" else json.loads(response.content)
        if response.status_code >= 400:
            assert answer["__type"] and answer["message"], answer
        kind = str(response.status_code) if response.status_code < 400 else answer["__type"]
        seen[kind] = seen.get(kind, 0) + 1

    check()
    # Some bodies got through to a handler and some were refused: the drawing reaches both.
    assert seen.get("200", 0) > 0 and len(seen) > 3, seen

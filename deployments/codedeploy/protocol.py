"""The wire: botocore's CodeDeploy model, both of its protocols, and AWS-shaped errors.

botocore's shipped service model (`codedeploy`, 2014-10-06) is the one source of truth for shapes:

* A request's body is decoded (`decode`), its timestamps and blobs turned into Python values by
  walking the operation's input shape, and then checked by botocore's own validator
  (`botocore.validate`), so a handler only ever sees input of the model's shape.
* A handler's answer is encoded (`encode`) by walking the output shape: only the model's member
  names, its types, timestamps as the protocol wants them (epoch seconds; CBOR tag 1), enums as
  strings. A member the model does not have is a programming error, caught by the tests.

The two protocols the model lists (metadata `protocols`):

* AWS JSON 1.1: `POST /codedeploy/` with `X-Amz-Target: CodeDeploy_20141006.<Operation>` and
  `Content-Type: application/x-amz-json-1.1`;
* Smithy RPC v2 CBOR: `POST /codedeploy/service/CodeDeploy_20141006/operation/<Operation>` with
  `smithy-protocol: rpc-v2-cbor` (cbor2 encodes and decodes).

Errors are `CodeDeployError(name, message)`: the body carries `__type` and `message`, which botocore
turns into `client.exceptions.<name>`. Names come from the model's error shapes, plus the few that
AWS's front door answers for every service (`_COMMON_ERRORS`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import botocore.session
import cbor2
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

TARGET_PREFIX = "CodeDeploy_20141006"
JSON = "json"
CBOR = "smithy-rpc-v2-cbor"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CBOR_CONTENT_TYPE = "application/cbor"
# The largest request body read; CodeDeploy's biggest inputs (a group with every option) are a few KiB.
MAX_BODY = 1024 * 1024
DOCS = "docs/codedeploy-api.md"

# Answered by AWS's front door for any service; not in CodeDeploy's model.
_COMMON_ERRORS = {
    "AccessDeniedException": 403,
    "InvalidSignatureException": 403,
    "IncompleteSignatureException": 400,
    "MissingAuthenticationTokenException": 403,
    "UnrecognizedClientException": 400,
    "ValidationException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
    "RequestEntityTooLargeException": 413,
    "InternalFailure": 500,
}


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("codedeploy")


@functools.cache
def error_names() -> frozenset[str]:
    return frozenset(shape.name for shape in service_model().error_shapes)


class CodeDeployError(Exception):
    """An answer in CodeDeploy's words: `name` is an error shape of the model (or a common one)."""

    def __init__(self, name: str, message: str, status: int | None = None):
        if name not in _COMMON_ERRORS and name not in error_names():
            raise ValueError(f"{name} is not an error of CodeDeploy's model")
        super().__init__(message)
        self.name, self.message = name, message
        self.status = status or _COMMON_ERRORS.get(name, 400)


@dataclass(frozen=True)
class Call:
    """One decoded request: which protocol, which operation, its validated parameters."""

    protocol: str
    operation: str
    params: dict


def protocol_of(path: str, headers) -> tuple[str, str]:
    """(protocol, operation name) of a request, from its path and headers; the operation may be ""."""
    marker = f"/service/{TARGET_PREFIX}/operation/"
    if marker in path:
        if headers.get("smithy-protocol", "") != "rpc-v2-cbor":
            raise CodeDeployError(
                "SerializationException",
                "Smithy RPC v2 CBOR requests need the header smithy-protocol: rpc-v2-cbor.",
            )
        operation = path.split(marker, 1)[1]
        if not operation or "/" in operation:
            raise CodeDeployError(
                "UnknownOperationException",
                f"Post to /codedeploy/service/{TARGET_PREFIX}/operation/<Operation>.",
            )
        return CBOR, operation
    target = headers.get("X-Amz-Target", "")
    prefix, _, operation = target.partition(".")
    if prefix != TARGET_PREFIX or not operation:
        raise CodeDeployError(
            "UnknownOperationException",
            f"Name the operation with X-Amz-Target: {TARGET_PREFIX}.<Operation> (AWS JSON 1.1), or post to "
            f"/codedeploy/service/{TARGET_PREFIX}/operation/<Operation> (Smithy RPC v2 CBOR).",
        )
    return JSON, operation


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


def decode(protocol: str, body: bytes, operation: OperationModel) -> dict:
    """The operation's parameters, checked against its input shape; CodeDeployError otherwise."""
    if not body.strip():
        raw: Any = {}
    elif protocol == CBOR:
        try:
            raw = cbor2.loads(body)
        except Exception as exc:  # cbor2 raises several kinds on malformed input
            raise CodeDeployError("SerializationException", f"The body is not valid CBOR: {exc}") from None
    else:
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CodeDeployError("SerializationException", f"The body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CodeDeployError("SerializationException", "The body must be an object (a map) of parameters.")
    shape = operation.input_shape
    if shape is None:
        return {}
    params = _inbound(shape, raw, shape.name)
    try:
        report = ParamValidator().validate(params, shape)
    except Exception as exc:  # the validator on values it never expected (e.g. a CBOR tag object)
        raise CodeDeployError(
            "ValidationException", f"The parameters do not fit {operation.name}: {exc}"
        ) from None
    if report.has_errors():
        message = ParamValidationError(report=report.generate_report()).kwargs["report"]
        raise CodeDeployError("ValidationException", f"Invalid parameters for {operation.name}: {message}")
    return params


def _inbound(shape: Shape, value: Any, where: str) -> Any:
    """Turn the wire's timestamps and blobs into datetimes and bytes; leave the rest to the validator."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            key: _inbound(members[key], item, f"{where}.{key}") if key in members else item
            for key, item in value.items()
            if item is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_inbound(shape.member, item, where) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _inbound(shape.value, item, where) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > 253402300799:
            raise CodeDeployError("ValidationException", f"{where} is not a time: {value}")
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if kind == "timestamp" and isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise CodeDeployError("ValidationException", f"{where} is not base64.") from None
    return value


def shape_out(shape: Shape, value: Any, protocol: str, where: str = "") -> Any:
    """`value` as the model's `shape` on the wire. Raises TypeError for a member the model lacks."""
    where = where or shape.name
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            if key not in shape.members:
                raise TypeError(f"{where} has no member {key!r} in CodeDeploy's model")
            out[key] = shape_out(shape.members[key], item, protocol, f"{where}.{key}")
        return out
    if kind == "list":
        return [shape_out(shape.member, item, protocol, where) for item in value]
    if kind == "map":
        return {str(key): shape_out(shape.value, item, protocol, where) for key, item in value.items()}
    if kind == "timestamp":
        if not isinstance(value, dt.datetime):
            raise TypeError(f"{where} must be a datetime")
        seconds = value.timestamp()
        return cbor2.CBORTag(1, seconds) if protocol == CBOR else seconds
    if kind == "string":
        text = str(value)
        enum = shape.enum
        if enum and text not in enum:
            raise TypeError(f"{where} is {text!r}, not one of the model's values {enum}")
        return text
    if kind == "boolean":
        return bool(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "blob":
        data = value if isinstance(value, bytes) else str(value).encode()
        return data if protocol == CBOR else base64.b64encode(data).decode()
    raise TypeError(f"{where}: no encoding for a {kind}")


def encode(protocol: str, document: dict) -> tuple[bytes, str]:
    """(body, content type) of an answer that is already in wire form (see shape_out)."""
    if protocol == CBOR:
        return cbor2.dumps(document), CBOR_CONTENT_TYPE
    return json.dumps(document, separators=(",", ":")).encode(), JSON_CONTENT_TYPE


def error_document(error: CodeDeployError) -> dict:
    return {"__type": error.name, "message": error.message}


def unsupported(operation: str) -> CodeDeployError:
    if operation_model(operation) is None:
        return CodeDeployError(
            "UnknownOperationException",
            f"{operation[:100]} is not an operation of CodeDeploy (API version 2014-10-06). See {DOCS}.",
        )
    return CodeDeployError(
        "OperationNotSupportedException",
        f"Fleetdeck does not support {operation}. {DOCS} lists what is supported, partly supported or not.",
    )

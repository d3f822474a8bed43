"""The one view of the CodeDeploy endpoint: outside sessions and CSRF (SigV4 is the credential)."""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import PermissionDenied

from . import auth, protocol, registry
from .protocol import JSON, CodeDeployError

log = logging.getLogger(__name__)


def _answer(proto: str, document: dict, status: int = 200) -> HttpResponse:
    body, content_type = protocol.encode(proto, document)
    response = HttpResponse(body, status=status, content_type=content_type)
    response["x-amzn-RequestId"] = str(uuid.uuid4())
    if proto == protocol.CBOR:
        response["smithy-protocol"] = "rpc-v2-cbor"
    return response


def _error(proto: str, error: CodeDeployError) -> HttpResponse:
    response = _answer(proto, protocol.error_document(error), status=error.status)
    response["x-amzn-ErrorType"] = error.name
    return response


def _read_body(request) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > protocol.MAX_BODY:
        raise CodeDeployError(
            "RequestEntityTooLargeException", f"The body is larger than {protocol.MAX_BODY} bytes."
        )
    body = request.read(protocol.MAX_BODY + 1)
    if len(body) > protocol.MAX_BODY:
        raise CodeDeployError(
            "RequestEntityTooLargeException", f"The body is larger than {protocol.MAX_BODY} bytes."
        )
    return body


@csrf_exempt
def endpoint(request, path: str = "") -> HttpResponse:
    proto = protocol.CBOR if "/operation/" in request.path else JSON
    try:
        proto, name = protocol.protocol_of(request.path, request.headers)
        if request.method != "POST":
            raise CodeDeployError("UnknownOperationException", "CodeDeploy operations are POST requests.")
        body = _read_body(request)
        key = auth.authenticate(request, body)
        operation = registry.load().get(name)
        model = protocol.operation_model(name)
        if operation is None or model is None:
            raise protocol.unsupported(name)
        caller = registry.Caller(key=key, protocol=proto)
        caller.require(operation.role)  # before the payload is looked at
        params = protocol.decode(proto, body, model)
        result = operation.handler(caller, params)
        document = protocol.shape_out(model.output_shape, result, proto) if model.output_shape else {}
        return _answer(proto, document)
    except CodeDeployError as error:
        return _error(proto, error)
    except (PermissionDenied, DjangoPermissionDenied) as exc:
        return _error(proto, CodeDeployError("AccessDeniedException", str(exc) or "Access denied."))
    except DataError:
        # PostgreSQL refuses NUL in text; nothing was written (each handler writes in one transaction).
        return _error(
            proto, CodeDeployError("ValidationException", "Text must not contain NUL (0x00) characters.")
        )
    except Exception:
        log.exception("CodeDeploy endpoint: %s failed", request.headers.get("X-Amz-Target") or request.path)
        return _error(
            proto, CodeDeployError("InternalFailure", "The request failed on the server; see its log.")
        )

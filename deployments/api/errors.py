"""API errors: every 4xx body says what was wrong and, where it can, which field."""

from __future__ import annotations

import contextlib

from django.db import DataError
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DataError):
        # PostgreSQL refuses NUL in text, also in lookups (a slug, a name in the path or the query)
        # that no serializer field checks; name the input instead of failing with a 500.
        field = _field_with_nul(context)
        if field is None:
            return None
        exc = ValidationError({field: ["must not contain NUL (0x00) characters."]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        return response
    # Field errors: keep DRF's {"field": ["message"]} and add one readable summary line.
    summary = []
    if isinstance(data, dict):
        for field, messages in data.items():
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
            summary.append(text if field == "non_field_errors" else f"{field}: {text}")
        response.data = {"detail": " ".join(summary) or "Invalid request.", "errors": data}
        if getattr(exc, "error_code", ""):
            response.data["error_code"] = exc.error_code
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(m) for m in data), "errors": data}
    return response


def _field_with_nul(context) -> str | None:
    request, view = context.get("request"), context.get("view")
    sources = [getattr(view, "kwargs", None) or {}, getattr(request, "query_params", None) or {}]
    with contextlib.suppress(Exception):  # a body that does not parse holds no NUL that reached the database
        sources.append(request.data)
    for source in sources:
        if not hasattr(source, "items"):
            continue
        for key, value in source.items():
            if _has_nul(key) or _has_nul(value):
                return str(key).replace("\0", "\\0")
    return None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item) for item in value)
    return False


def not_found(request, exception=None):
    """The project's handler404: a path under /api/ that matches no route still gets a JSON answer."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"Nothing at {request.path}. The API's endpoints are listed at /api/schema/."},
            status=404,
        )
    return page_not_found(request, exception)

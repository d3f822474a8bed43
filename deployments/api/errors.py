"""API errors: every 4xx body says what was wrong and, where it can, which field."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
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
    elif isinstance(data, list):
        response.data = {"detail": "; ".join(str(m) for m in data), "errors": data}
    return response


def not_found(request, exception=None):
    """The project's handler404: a path under /api/ that matches no route still gets a JSON answer."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"Nothing at {request.path}. The API's endpoints are listed at /api/schema/."},
            status=404,
        )
    return page_not_found(request, exception)

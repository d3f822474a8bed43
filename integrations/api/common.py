"""What the integrations API views share: the owner check first, and writes validated by the very
forms the pages use (so the API and the browser refuse the same input with the same words)."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from projects.access import require_slug
from projects.models import Project, Role


class OwnerView(APIView):
    """Every method needs the owner role in the URL's project, checked before the body is read:
    outsiders get a 404 (the project's existence is private), other members a 403."""

    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(self, "swagger_fake_view", False):
            return
        self.project: Project = require_slug(request.user, kwargs["slug"], Role.OWNER).project


def refuse_unknown(data, allowed: set[str]) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            {name: [f"Unknown field; known: {', '.join(sorted(allowed))}."] for name in unknown}
        )
    return dict(data)


def form_errors(form, names: dict[str, str] | None = None) -> ValidationError:
    """A form's errors as the API's 400, with the form's field names mapped to the API's."""
    names = names or {}
    errors = {}
    for field, messages in form.errors.items():
        key = "non_field_errors" if field == "__all__" else names.get(field, field)
        errors.setdefault(key, []).extend(messages)
    return ValidationError(errors)

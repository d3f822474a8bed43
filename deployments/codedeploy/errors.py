"""The REST API's serializer errors, in CodeDeploy's exception names."""

from __future__ import annotations

from .protocol import CodeDeployError


def _messages(errors, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(errors, dict):
        for field, inner in errors.items():
            name = field if not prefix or field == "non_field_errors" else f"{prefix}.{field}"
            out.extend(_messages(inner, name if field != "non_field_errors" else prefix))
    elif isinstance(errors, list):
        for item in errors:
            out.extend(_messages(item, prefix))
    else:
        out.append((prefix, str(errors)))
    return out


def from_serializer(
    errors, by_field: dict[str, str], *, default: str = "InvalidInputException", taken: str = "", names=None
) -> CodeDeployError:
    """The first error of `errors` ({"field": ["message"]}) as the exception `by_field` names for its
    field (the top-level field decides); a name already in use is `taken`. `names` maps our field
    names to the client's member names for the message."""
    found = _messages(errors) or [("", "Invalid request.")]
    field, message = found[0]
    top = field.split(".", 1)[0]
    if taken and " already has " in message:
        return CodeDeployError(taken, message)
    shown = (names or {}).get(top, top)
    text = f"{shown}: {message}" if shown and shown != "non_field_errors" else message
    return CodeDeployError(by_field.get(top, default), text)

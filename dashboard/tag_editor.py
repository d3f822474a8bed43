"""The one tag editor: how every page writes tags, tag filters and tag sets.

One tag a line. `key=value` is a tag (or a filter on both); in a filter, `key` alone matches any value
and `*=value` any key. Lines are ORed. For a tag set (CodeDeploy's "tag groups", ANDed), put a line
holding only `and` between the groups. Plain tags (what a registration token gives its hosts) take
only `key=value` lines. Commas never separate tags, so a value may hold one.

Errors name the line and say what to write, in the page's words; the REST API still judges the
result, so the page and the API agree on what is valid.
"""

from __future__ import annotations

from django import forms

from deployments import planner

AND = "and"
FILTER_HELP = (
    "One tag a line: key=value, key (any value) or *=value (any key); a host matching any line is in. "
    "To require several groups of tags, put a line with only “and” between the groups."
)
TAGS_HELP = "One tag a line, as key=value."


class TagEditor(forms.Textarea):
    """A monospace textarea that keeps the user's lines as typed (class tag-editor)."""

    def __init__(self, attrs=None, *, rows: int = 4):
        base = {"rows": rows, "class": "tag-editor", "spellcheck": "false", "autocapitalize": "off"}
        super().__init__({**base, **(attrs or {})})


def filter_text(filters: list[dict] | None) -> str:
    """Filters as editor lines."""
    lines = []
    for f in filters or []:
        kind = f.get("type", planner.KEY_AND_VALUE)
        if kind == planner.KEY_ONLY:
            lines.append(f.get("key", ""))
        elif kind == planner.VALUE_ONLY:
            lines.append(f"*={f.get('value', '')}")
        else:
            lines.append(f"{f.get('key', '')}={f.get('value', '')}")
    return "\n".join(lines)


def selection_text(tag_filters: list[dict] | None, tag_set: list[list[dict]] | None) -> str:
    """A group's target, filters or tag set, as editor text."""
    if tag_set:
        return f"\n{AND}\n".join(filter_text(group) for group in tag_set)
    return filter_text(tag_filters)


def tags_text(tags: dict[str, str] | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted((tags or {}).items()))


def _split(line: str, number: int) -> tuple[str, str, str]:
    key, sep, value = (part.strip() for part in line.partition("="))
    if "=" in value:
        raise forms.ValidationError(
            f"Line {number} (“{line}”) holds more than one tag: put each key=value on its own line."
        )
    return key, sep, value


def _filter(line: str, number: int) -> dict:
    key, sep, value = _split(line, number)
    if not sep:
        result = {"key": key, "value": "", "type": planner.KEY_ONLY}
    elif key == "*":
        result = {"key": "", "value": value, "type": planner.VALUE_ONLY}
    else:
        result = {"key": key, "value": value, "type": planner.KEY_AND_VALUE}
    if sep and not key:
        raise forms.ValidationError(
            f"Line {number} (“{line}”) has no key: write key=value, or *=value for any key."
        )
    if sep and key != "*" and not value:
        raise forms.ValidationError(
            f"Line {number} (“{line}”) has no value: write key=value, or just the key for any value."
        )
    if len(result["key"]) > planner.TAG_KEY_MAX or len(result["value"]) > planner.TAG_VALUE_MAX:
        raise forms.ValidationError(
            f"Line {number} is too long: keys hold up to {planner.TAG_KEY_MAX} characters "
            f"and values up to {planner.TAG_VALUE_MAX}."
        )
    return result


def parse_selection(text: str, *, allow_sets: bool = True) -> tuple[list[dict], list[list[dict]]]:
    """Editor text into (tag_filters, tag_set): one of them empty. Raises ValidationError per line."""
    groups: list[list[dict]] = [[]]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.lower() == AND:
            if not allow_sets:
                raise forms.ValidationError(
                    f"Line {number}: “and” groups are not possible here; list the tags only."
                )
            if not groups[-1]:
                raise forms.ValidationError(f"Line {number}: put at least one tag before each “and”.")
            groups.append([])
            continue
        groups[-1].append(_filter(line, number))
    if len(groups) > 1 and not groups[-1]:
        raise forms.ValidationError("Put at least one tag after the last “and”.")
    if len(groups) > planner.MAX_TAG_SET_GROUPS:
        raise forms.ValidationError(
            f"Use at most {planner.MAX_TAG_SET_GROUPS} groups of tags (found {len(groups)})."
        )
    if len(groups) == 1:
        return groups[0], []
    return [], groups


def parse_tags(text: str) -> dict[str, str]:
    """Editor text into plain tags (key=value lines). Raises ValidationError per line."""
    tags: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = _split(line, number)
        if not sep or not key or key == "*":
            raise forms.ValidationError(
                f"Line {number} (“{line}”) is not a tag: write key=value, e.g. role=web."
            )
        tags[key] = value
    return tags


class TagSelectionField(forms.CharField):
    """Which hosts: tag filters or a tag set, in the editor's syntax. cleaned_data is
    {"tag_filters": [...], "tag_set": [...]}, one of them empty."""

    widget = TagEditor

    def __init__(self, *, allow_sets: bool = True, **kwargs):
        self.allow_sets = allow_sets
        kwargs.setdefault("help_text", FILTER_HELP if allow_sets else FILTER_HELP.split(" To ")[0])
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value) or ""
        tag_filters, tag_set = parse_selection(text, allow_sets=self.allow_sets)
        if self.required and not (tag_filters or tag_set):
            raise forms.ValidationError("Give at least one tag: with none, no host is in the group.")
        return {"tag_filters": tag_filters, "tag_set": tag_set}


class TagsField(forms.CharField):
    """Plain tags (key=value lines) into a dict."""

    widget = TagEditor

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", TAGS_HELP)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def clean(self, value):
        return parse_tags(super().clean(value) or "")

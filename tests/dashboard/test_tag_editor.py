"""The one tag syntax (dashboard/tag_editor.py): one tag a line, "and" between tag-set groups."""

from __future__ import annotations

import pytest
from django import forms

from dashboard.tag_editor import (
    TagSelectionField,
    TagsField,
    parse_selection,
    selection_text,
)

WEB = {"key": "role", "value": "web", "type": "KEY_AND_VALUE"}
ENV = {"key": "env", "value": "", "type": "KEY_ONLY"}
PROD = {"key": "", "value": "prod", "type": "VALUE_ONLY"}


def test_lines_are_filters_and_and_lines_make_a_tag_set():
    assert parse_selection("role=web\nenv\n*=prod\n") == ([WEB, ENV, PROD], [])
    assert parse_selection("role=web\n\nAND\nenv") == ([], [[WEB], [ENV]])


@pytest.mark.parametrize(
    ("filters", "tag_set"), [([WEB, ENV, PROD], []), ([], [[WEB, PROD], [ENV]]), ([], [[WEB], [ENV], [PROD]])]
)
def test_what_the_editor_shows_reads_back_to_the_same_selection(filters, tag_set):
    assert parse_selection(selection_text(filters, tag_set)) == (filters, tag_set)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("role=", "Line 1 (“role=”) has no value"),
        ("role=web\n=web", "Line 2 (“=web”) has no key"),
        ("role=web env=prod", "holds more than one tag"),
        ("role=web,env=prod", "holds more than one tag"),
        ("and\nrole=web", "Line 1: put at least one tag before each “and”"),
        ("role=web\nand", "after the last “and”"),
        ("a\nand\nb\nand\nc\nand\nd", "at most 3 groups"),
    ],
)
def test_a_bad_line_is_named_with_what_to_write(text, says):
    with pytest.raises(forms.ValidationError) as raised:
        parse_selection(text)
    assert says in raised.value.messages[0]


def test_a_required_selection_refuses_no_tags_and_plain_tags_refuse_filters():
    with pytest.raises(forms.ValidationError, match="no host is in the group"):
        TagSelectionField().clean("\n \n")
    assert TagsField(required=False).clean("role=web\nenv=prod") == {"role": "web", "env": "prod"}
    with pytest.raises(forms.ValidationError, match="is not a tag"):
        TagsField(required=False).clean("role")
    with pytest.raises(forms.ValidationError, match="not possible here"):
        TagSelectionField(allow_sets=False).clean("a\nand\nb")


def test_every_form_that_takes_tags_uses_the_one_tag_editor():
    from dashboard.forms import GroupSettingsForm
    from dashboard.forms_groups import NewGroupForm
    from dashboard.forms_wizard import TargetStep
    from dashboard.tag_editor import TagEditor
    from dashboard.views.fleet import TokenForm

    fields = [
        GroupSettingsForm.base_fields["tag_filters"],
        GroupSettingsForm.base_fields["bg_tag_filters"],
        NewGroupForm.base_fields["tags"],
        TokenForm.base_fields["tags"],
        TargetStep.base_fields["tags"],
    ]
    assert all(isinstance(field.widget, TagEditor) for field in fields)
    assert all("One tag a line" in field.help_text or "one tag a line" in field.help_text for field in fields)

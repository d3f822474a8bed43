"""createaccesskey and revokeaccesskey."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from projects.models import AccessKey


def test_createaccesskey_prints_the_key_and_secret_on_their_own_lines(user, project):
    out = io.StringIO()
    call_command("createaccesskey", "alice", "--project", "shop", stdout=out)

    lines = out.getvalue().splitlines()
    key = AccessKey.objects.get(user=user, project=project)
    assert lines == [f"AccessKeyId: {key.key_id}", f"SecretAccessKey: {key.secret}"]


def test_createaccesskey_refuses_a_project_the_user_is_not_on(user, project, django_user_model):
    django_user_model.objects.create_user("bob", password="x")
    with pytest.raises(CommandError, match="not a member of shop"):
        call_command("createaccesskey", "bob", "--project", "shop", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No project"):
        call_command("createaccesskey", "alice", "--project", "nope", stdout=io.StringIO())
    assert not AccessKey.objects.exists()


def test_revokeaccesskey_revokes_it(access_key):
    key, _ = access_key
    out = io.StringIO()
    call_command("revokeaccesskey", key.key_id, stdout=out)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AccessKey.active_by_id(key.key_id) is None
    assert f"Revoked {key.key_id}" in out.getvalue()

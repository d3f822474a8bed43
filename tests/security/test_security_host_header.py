"""Host header (issue 14, item 8): a request's Host never decides where a mail or a host is sent.

With FLEETDECK_PUBLIC_URL set the server answers only to that host (and loopback, for probes on the
machine itself), and every absolute URL made for a mail, a host or an outside system is the public URL.
Without it, a password-reset mail is sent only when FLEETDECK_ALLOWED_HOSTS vets the Host, and the
server warns at start while it answers to any Host.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from server_process import responses, run, server_env, settings_of

from config.stack import Stack

PUBLIC = "https://fleet.example.com"
EVIL = "evil.example"
WARNING = "FLEETDECK_ALLOWED_HOSTS"


# --- which hosts the server answers to ---------------------------------------------------------------


def test_with_a_public_url_the_server_answers_to_its_host_and_refuses_a_hostile_one(tmp_path):
    env = server_env(tmp_path, FLEETDECK_PUBLIC_URL=PUBLIC)
    hostile, public, probe = responses(
        env,
        [
            ("/accounts/login/", {"host": EVIL}),
            ("/accounts/login/", {"host": "fleet.example.com"}),
            ("/accounts/login/", {"host": "127.0.0.1:8000"}),
        ],
    )
    assert hostile["status"] == 400
    assert public["status"] == 200
    assert probe["status"] == 200  # a health probe or the stack's readiness check on the machine itself
    allowed = settings_of(env, "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")
    assert allowed == {
        "ALLOWED_HOSTS": ["fleet.example.com", "localhost", "127.0.0.1", "[::1]"],
        "CSRF_TRUSTED_ORIGINS": [PUBLIC],
    }


def test_an_explicit_allowed_hosts_list_still_wins_over_the_public_url(tmp_path):
    env = server_env(tmp_path, FLEETDECK_PUBLIC_URL=PUBLIC, FLEETDECK_ALLOWED_HOSTS="a.example,b.example")
    assert settings_of(env, "ALLOWED_HOSTS") == {"ALLOWED_HOSTS": ["a.example", "b.example"]}


def test_a_public_url_that_is_not_an_http_url_stops_the_server_with_a_message(tmp_path):
    result = run(
        "import django; django.setup()",
        server_env(tmp_path, FLEETDECK_PUBLIC_URL="fleet.example.com"),
        check=False,
    )
    assert result.returncode != 0
    assert "FLEETDECK_PUBLIC_URL" in result.stderr and "https://" in result.stderr


# --- password reset -----------------------------------------------------------------------------------


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "old password 1")


def _reset(host: str):
    return Client(headers={"host": host}).post("/accounts/password_reset/", {"email": "alice@example.com"})


def _link(message) -> str:
    return re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)


def test_a_reset_mail_links_to_the_public_url_whatever_host_the_request_named(alice, settings):
    settings.PUBLIC_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["*"]  # even an operator who allows every host
    response = _reset(EVIL)
    assert response.status_code == 302
    (message,) = mail.outbox
    link = _link(message)
    assert link.startswith(f"{PUBLIC}/accounts/reset/")
    assert EVIL not in message.body and EVIL not in message.subject
    # The link works: it leads to the form that sets a new password.
    path = link.removeprefix(PUBLIC)
    assert Client().get(path, follow=True).context["validlink"] is True


def test_without_a_public_url_a_reset_link_uses_only_a_host_that_allowed_hosts_vetted(alice, settings):
    settings.PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["fleet.internal"]
    assert _reset(EVIL).status_code == 400
    assert mail.outbox == []
    assert _reset("fleet.internal").status_code == 302
    assert _link(mail.outbox[0]).startswith("http://fleet.internal/accounts/reset/")


def test_while_any_host_is_allowed_and_no_public_url_is_set_no_reset_mail_is_sent(alice, settings):
    settings.PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["*"]
    response = _reset(EVIL)
    assert response.status_code == 503
    text = response.content.decode()
    assert "FLEETDECK_PUBLIC_URL" in text and "administrator" in text
    assert mail.outbox == []


# --- URLs given to hosts and outside systems ----------------------------------------------------------


def test_the_install_script_names_the_public_url_whatever_host_the_request_named(db, settings):
    settings.PUBLIC_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["*"]
    script = Client(headers={"host": EVIL}).get("/agent/install.sh").content.decode()
    assert PUBLIC in script
    assert EVIL not in script


def test_the_install_page_and_the_github_webhook_address_use_the_public_url(world, settings):
    settings.PUBLIC_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["*"]
    owner = Client(headers={"host": EVIL})
    owner.force_login(world.owner)
    install = owner.get(f"/p/{world.project.slug}/fleet/install/").content.decode()
    assert PUBLIC in install and EVIL not in install
    github = owner.get(f"/integrations/p/{world.project.slug}/github/").content.decode()
    assert f"{PUBLIC}/integrations/github/{world.project.slug}/webhook" in github
    assert EVIL not in github


# --- the warning at start -----------------------------------------------------------------------------

START_WEB = "import config.asgi"


def test_the_web_server_warns_at_start_when_it_answers_to_any_host(tmp_path):
    result = run(START_WEB, server_env(tmp_path))
    assert WARNING in result.stderr and "FLEETDECK_PUBLIC_URL" in result.stderr, result.stderr
    check = run(
        "import django, sys; django.setup(); from django.core.management import call_command; "
        "call_command('check', '--deploy')",
        server_env(tmp_path),
        check=False,
    )
    assert "fleetdeck.W001" in check.stderr + check.stdout


def test_the_web_server_does_not_warn_with_a_public_url_or_a_host_list(tmp_path):
    for variables in ({"FLEETDECK_PUBLIC_URL": PUBLIC}, {"FLEETDECK_ALLOWED_HOSTS": "fleet.internal"}):
        result = run(START_WEB, server_env(tmp_path, **variables))
        assert WARNING not in result.stderr, (variables, result.stderr)


def test_make_demo_and_the_stack_on_loopback_do_not_warn_and_answer_only_to_loopback_names(tmp_path):
    """`make demo` runs its web server through Stack on 127.0.0.1: loopback names are all it needs."""
    env = server_env(
        tmp_path, FLEETDECK_ALLOWED_HOSTS=Stack(host="127.0.0.1")._env()["FLEETDECK_ALLOWED_HOSTS"]
    )
    result = run(START_WEB, env)
    assert WARNING not in result.stderr, result.stderr
    assert settings_of(env, "ALLOWED_HOSTS")["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    # An operator's own choices are left alone, and a stack bound elsewhere gets no loopback-only list.
    assert (
        Stack(host="127.0.0.1", env={"FLEETDECK_PUBLIC_URL": PUBLIC})._env().get("FLEETDECK_ALLOWED_HOSTS")
        is None
    )
    assert "FLEETDECK_ALLOWED_HOSTS" not in Stack(host="0.0.0.0")._env()  # noqa: S104 - never bound here

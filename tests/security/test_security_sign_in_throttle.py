"""Sign-in throttling (issue 14, item 10) with django-axes, on /accounts/login/ and /admin/login/.

FLEETDECK_LOGIN_FAILURE_LIMIT bad passwords for one user from one address lock that pair out: even the
right password is refused, with a page that says why and for how long, until the cool-off has passed.
Other users, and the same user from another address, are not affected; API tokens are not passwords
and keep working.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from projects.models import ApiToken

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery staple"
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
LIMIT = 5  # the documented default of FLEETDECK_LOGIN_FAILURE_LIMIT


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=GOOD)


def _sign_in(path: str, username: str, password: str, ip: str = ATTACKER):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail_until_locked(path: str, username: str) -> None:
    for attempt in range(1, LIMIT):
        _, response = _sign_in(path, username, "wrong password")
        assert response.status_code == 200, f"attempt {attempt} should be an ordinary form error"
    _, response = _sign_in(path, username, "wrong password")
    assert response.status_code == 429, f"attempt {LIMIT} should lock the account out"


def test_the_default_limit_is_five_failures_and_fifteen_minutes():
    assert django_settings.AXES_FAILURE_LIMIT == LIMIT
    cool_off = django_settings.AXES_COOLOFF_TIME
    assert cool_off == timedelta(minutes=15)


def test_bad_passwords_lock_the_account_out_from_that_address_even_for_the_right_password(alice):
    _fail_until_locked("/accounts/login/", "alice")
    client, response = _sign_in("/accounts/login/", "alice", GOOD)
    assert response.status_code == 429
    assert not _signed_in(client)
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "15 minutes" in page
    assert response["Retry-After"] == "900"


def test_other_users_and_the_same_user_elsewhere_are_not_affected(alice):
    get_user_model().objects.create_user("bob", password=GOOD)
    _fail_until_locked("/accounts/login/", "alice")
    client, response = _sign_in("/accounts/login/", "bob", GOOD)
    assert response.status_code == 302 and _signed_in(client)
    client, response = _sign_in("/accounts/login/", "alice", GOOD, ip=ELSEWHERE)
    assert response.status_code == 302 and _signed_in(client)


def test_the_lock_lifts_after_the_cool_off(alice, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    _fail_until_locked("/accounts/login/", "alice")
    assert _sign_in("/accounts/login/", "alice", GOOD)[1].status_code == 429
    time.sleep(2.5)
    client, response = _sign_in("/accounts/login/", "alice", GOOD)
    assert response.status_code == 302 and _signed_in(client)


def test_a_successful_sign_in_starts_the_count_again(alice):
    for _ in range(2):
        for _ in range(LIMIT - 1):
            assert _sign_in("/accounts/login/", "alice", "wrong password")[1].status_code == 200
        assert _sign_in("/accounts/login/", "alice", GOOD)[1].status_code == 302


def test_the_admin_sign_in_is_throttled_too():
    get_user_model().objects.create_superuser("root", password=GOOD)
    _fail_until_locked("/admin/login/", "root")
    client, response = _sign_in("/admin/login/", "root", GOOD)
    assert response.status_code == 429 and not _signed_in(client)


def test_a_locked_out_user_keeps_using_api_tokens(alice):
    _, raw = ApiToken.issue(alice, "ci")
    _fail_until_locked("/accounts/login/", "alice")
    api = Client(REMOTE_ADDR=ATTACKER, headers={"authorization": f"Token {raw}"})
    assert api.get("/api/v1/projects/").status_code == 200


def test_the_lockout_page_is_the_same_under_the_asgi_server(alice):
    """uvicorn runs the middleware asynchronously, where django-axes calls the lockout page differently."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    post = async_to_sync(AsyncClient().post)
    statuses = [
        post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code for _ in range(LIMIT)
    ]
    assert statuses == [200] * (LIMIT - 1) + [429]
    response = post("/accounts/login/", {"username": "alice", "password": GOOD})
    assert response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()


def test_a_sign_in_without_a_request_is_not_counted_and_still_checks_the_password(alice):
    """Scripts and the test client's login() call authenticate() with no request: no address to count."""
    from django.contrib.auth import authenticate

    assert authenticate(username="alice", password=GOOD) == alice
    assert authenticate(username="alice", password="wrong") is None
    _fail_until_locked("/accounts/login/", "alice")
    assert _sign_in("/accounts/login/", "alice", GOOD)[1].status_code == 429

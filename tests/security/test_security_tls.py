"""Secure cookies and HSTS (issue 14, item 10) when the server is reached over TLS.

FLEETDECK_BEHIND_TLS_PROXY or FLEETDECK_SECURE_COOKIES turns on Secure session and CSRF cookies and
Strict-Transport-Security (FLEETDECK_HSTS_SECONDS, a year by default). Each case starts a server process
with its own environment and reads the headers a browser would get.
"""

from __future__ import annotations

from server_process import responses, run, server_env, settings_of

PUBLIC = "https://fleet.example.com"
HOST = {"host": "fleet.example.com"}
OVER_TLS = {**HOST, "x-forwarded-proto": "https"}
YEAR = 365 * 24 * 3600
NAMES = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER")


def _login_page(env: dict, headers: dict) -> dict:
    (response,) = responses(env, [("/accounts/login/", headers)])
    assert response["status"] == 200, response
    return response


def test_behind_a_tls_proxy_cookies_are_secure_and_browsers_are_told_to_keep_to_https(tmp_path):
    env = server_env(tmp_path, FLEETDECK_PUBLIC_URL=PUBLIC, FLEETDECK_BEHIND_TLS_PROXY="true")
    assert settings_of(env, *NAMES) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": YEAR,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    page = _login_page(env, OVER_TLS)
    assert page["cookies"]["csrftoken"]["secure"] is True
    assert page["headers"]["Strict-Transport-Security"] == f"max-age={YEAR}"


def test_secure_cookies_alone_turn_on_hsts_too(tmp_path):
    """Uvicorn serving TLS itself: no proxy header to trust, but the cookies and HSTS are the same."""
    env = server_env(tmp_path, FLEETDECK_PUBLIC_URL=PUBLIC, FLEETDECK_SECURE_COOKIES="true")
    values = settings_of(env, *NAMES)
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"]) == (True, True)
    assert values["SECURE_HSTS_SECONDS"] == YEAR
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_the_hsts_lifetime_is_configurable_and_zero_turns_it_off(tmp_path):
    short = server_env(
        tmp_path, FLEETDECK_PUBLIC_URL=PUBLIC, FLEETDECK_BEHIND_TLS_PROXY="true", FLEETDECK_HSTS_SECONDS="600"
    )
    assert _login_page(short, OVER_TLS)["headers"]["Strict-Transport-Security"] == "max-age=600"
    off = {**short, "FLEETDECK_HSTS_SECONDS": "0"}
    assert "Strict-Transport-Security" not in _login_page(off, OVER_TLS)["headers"]


def test_a_bad_hsts_lifetime_stops_the_server_with_a_message(tmp_path):
    env = server_env(tmp_path, FLEETDECK_BEHIND_TLS_PROXY="true", FLEETDECK_HSTS_SECONDS="a year")
    result = run("import django; django.setup()", env, check=False)
    assert result.returncode != 0 and "FLEETDECK_HSTS_SECONDS" in result.stderr


def test_over_plain_http_by_default_cookies_work_and_no_hsts_is_sent(tmp_path):
    """The demo and a laptop: http://127.0.0.1, where Secure cookies would never come back."""
    env = server_env(tmp_path, FLEETDECK_ALLOWED_HOSTS="fleet.example.com")
    values = settings_of(env, *NAMES)
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"], values["SECURE_HSTS_SECONDS"]) == (
        False,
        False,
        0,
    )
    page = _login_page(env, HOST)
    assert page["cookies"]["csrftoken"]["secure"] is False
    assert "Strict-Transport-Security" not in page["headers"]

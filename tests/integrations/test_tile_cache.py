"""The repository, build and issues tiles are cached per project in Django's cache (Redis): a second
render asks GitHub/JIRA nothing, until the connection changes, a push arrives or the entry expires."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from factories import make_github, make_jira, make_project
from fakes import sha
from fleetdeck_testing import require
from test_github_webhook import push, send

from config.stack import free_port
from dashboard import tiles

pytestmark = pytest.mark.django_db


def tile(key: str):
    return next(t for t in tiles.registered() if t.key == key)


@pytest.fixture(autouse=True)
def redis_cache():
    try:
        cache.set("tiles:probe", 1, 5)
        reachable = cache.get("tiles:probe") == 1
    except Exception:
        reachable = False
    require(reachable, "Redis for Django's cache (REDIS_URL)")


@pytest.fixture
def project():
    return make_project("shop")


def render(key: str, project, params=None):
    rendered = tiles.render_tile(tile(key), project, params)
    assert rendered.state in ("ok", "error"), rendered.message
    return rendered


@pytest.mark.parametrize("key", ["repository", "build", "issues"])
def test_a_second_render_makes_no_call_to_github(project, github, key):
    make_github(project, github.url)
    first = render(key, project)
    calls = len(github.requests)
    assert calls > 0 and first.state == "ok"

    second = render(key, project)
    assert len(github.requests) == calls
    assert second.context == first.context


def test_a_second_render_of_the_jira_issues_tile_makes_no_call_to_jira(project, jira):
    make_jira(project, jira.url)
    render("issues", project)
    calls = len(jira.requests)
    assert render("issues", project).context["items"]
    assert len(jira.requests) == calls


def test_projects_and_branches_are_cached_apart(project, github):
    github.state.commits.extend({"sha": sha(n), "message": f"dev {n}"} for n in range(4, 10))
    make_github(project, github.url)
    other = make_project("other")
    make_github(other, github.url, repository="acme/shop")
    render("repository", project)
    calls = len(github.requests)
    assert render("repository", project, {"branch": "develop"}).context["branch"] == "develop"
    assert len(github.requests) > calls
    calls = len(github.requests)
    render("repository", other)
    assert len(github.requests) > calls


def test_a_changed_connection_is_asked_again(project, github, django_capture_on_commit_callbacks):
    github.state.commits.extend({"sha": sha(n), "message": f"dev {n}"} for n in range(4, 10))
    connection = make_github(project, github.url)
    assert render("repository", project).context["branch"] == "main"
    calls = len(github.requests)

    with django_capture_on_commit_callbacks(execute=True):
        connection.default_branch = "develop"
        connection.save()
    assert render("repository", project).context["branch"] == "develop"
    assert len(github.requests) > calls


def test_a_removed_connection_shows_not_connected_at_once(
    project, github, django_capture_on_commit_callbacks
):
    connection = make_github(project, github.url)
    render("repository", project)
    with django_capture_on_commit_callbacks(execute=True):
        connection.delete()
    assert tiles.render_tile(tile("repository"), project).state == "not_connected"


def test_a_push_webhook_drops_the_cached_commits(project, github, django_capture_on_commit_callbacks):
    make_github(project, github.url)
    render("repository", project)
    github.state.commits.append({"sha": sha(4), "message": "Pushed just now"})
    github.state.branches["main"] = sha(4)
    assert render("repository", project).context["items"][0]["title"] != "Pushed just now"  # still cached

    with django_capture_on_commit_callbacks(execute=True):
        assert send(push(commit=sha(4))).status_code == 200
    assert render("repository", project).context["items"][0]["title"] == "Pushed just now"


def seconds_left(key: str) -> int:
    """The Redis TTL of one cache entry, in seconds (-2: there is no such entry)."""
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"], socket_timeout=2)
    try:
        return client.ttl(cache.make_key(key))
    finally:
        client.close()


def test_errors_are_cached_for_less_time_than_results(project, github, settings):
    settings.FLEETDECK_TILE_ERROR_TTL = 2
    make_github(project, github.url)
    key = tiles._cache_key(tile("repository"), project, {"branch": None})
    github.fail_status = 500
    assert render("repository", project).state == "error"
    calls = len(github.requests)
    assert render("repository", project).state == "error"
    assert len(github.requests) == calls  # the error is reused too: a down GitHub is not hammered
    assert 0 < seconds_left(key) <= 2

    github.fail_status = None
    # The cached error goes by itself, within its 2 s (plus room for a loaded machine).
    deadline = time.monotonic() + 2 + 5
    while cache.has_key(key):
        assert time.monotonic() < deadline, "the cached error outlived FLEETDECK_TILE_ERROR_TTL"
        time.sleep(0.05)
    assert render("repository", project).state == "ok"
    calls = len(github.requests)
    assert render("repository", project).state == "ok"
    assert len(github.requests) == calls
    assert seconds_left(key) > 2  # the result is kept for FLEETDECK_TILE_CACHE_TTL (60 s), not an error's 2 s


def test_a_zero_ttl_turns_the_cache_off(project, github, settings):
    settings.FLEETDECK_TILE_CACHE_TTL = 0
    make_github(project, github.url)
    render("repository", project)
    calls = len(github.requests)
    render("repository", project)
    assert len(github.requests) == 2 * calls


def test_tiles_still_render_when_the_cache_is_down(project, github, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    make_github(project, github.url)
    assert render("repository", project).state == "ok"
    calls = len(github.requests)
    assert render("repository", project).state == "ok"
    assert len(github.requests) == 2 * calls

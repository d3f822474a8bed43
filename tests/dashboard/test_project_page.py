"""The project dashboard: tiles, their states and their numbers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from factories import (
    install,
    make_app,
    make_deployment,
    make_group,
    make_instance,
    make_member,
    make_project,
    make_revision,
)

from dashboard import tiles
from projects.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project("shop")


@pytest.fixture
def owner(project):
    return make_member(project, "olivia", Role.OWNER)


def get(user, path):
    client = Client()
    client.force_login(user)
    return client.get(path)


def tile_html(response, key: str) -> str:
    html = response.content.decode()
    match = re.search(rf'<section[^>]*id="tile-{key}"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"tile {key} missing"
    return match.group(0)


def test_an_empty_project_shows_empty_states(project, owner):
    response = get(owner, "/p/shop/")
    assert response.status_code == 200
    assert "No deployment groups yet" in tile_html(response, "deployments")
    assert "No deployments yet" in tile_html(response, "activity")
    assert "No deployments finished in the last 30 days" in tile_html(response, "charts")


@pytest.mark.parametrize(
    ("key", "page"),
    [
        ("repository", "/integrations/p/shop/github/"),
        ("build", "/integrations/p/shop/github/"),
        ("issues", "/integrations/p/shop/"),
    ],
)
def test_unconnected_integrations_link_owners_to_the_page_that_connects_them(project, owner, key, page):
    html = tile_html(get(owner, "/p/shop/"), key)
    assert "Not connected" in html
    assert 'data-state="not_connected"' in html
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', html)
    assert links == [(page, tiles._registry[key].connect_hint)]
    assert get(owner, page).status_code == 200  # the link works


def test_viewers_see_not_connected_without_the_connect_link(project):
    viewer = make_member(project, "victor", Role.VIEWER)
    html = tile_html(get(viewer, "/p/shop/"), "repository")
    assert "Not connected" in html
    assert "A project owner can connect it" in html
    assert "<a " not in html and "/settings/" not in html


def test_a_raising_tile_shows_an_error_state_and_the_rest_still_works(project, owner, monkeypatch):
    def unreachable(project, **params):
        raise ConnectionError("GitHub is down")

    monkeypatch.setitem(tiles._registry, "repository", tiles._registry["repository"])
    tiles.set_provider("repository", unreachable)
    app = make_app("shop", project=project)
    group = make_group(app, "web")
    make_deployment(group, make_revision(app), user=owner)

    response = get(owner, "/p/shop/")

    assert response.status_code == 200
    html = tile_html(response, "repository")
    assert 'data-state="error"' in html
    assert "could not be loaded" in html
    assert "GitHub is down" not in response.content.decode()
    assert 'data-state="ok"' in tile_html(response, "deployments")
    assert "shop/web" in tile_html(response, "deployments")


def test_an_integration_provider_fills_its_tile(project, owner, monkeypatch):
    def commits(project, branch=None):
        items = [{"title": f"fix on {branch}", "url": ""}]
        return {"branches": ["main", "dev"], "branch": branch, "items": items}

    monkeypatch.setitem(tiles._registry, "repository", tiles._registry["repository"])
    tiles.set_provider("repository", commits)
    html = tile_html(get(owner, "/p/shop/?branch=dev"), "repository")
    assert "fix on dev" in html
    assert '<label for="tile-branch">Branch</label>' in html


def test_render_tile_turns_exceptions_into_error_states(project):
    def broken(project):
        raise RuntimeError("boom")

    rendered = tiles.render_tiles(project, tiles=[tiles.Tile("x", "X", "none.html", broken)])
    assert [(t.key, t.state) for t in rendered] == [("x", "error")]


def test_group_tile_counts_online_offline_and_outdated(project, owner):
    app = make_app("shop", project=project)
    web = make_group(app, "web")
    old, new = make_revision(app), make_revision(app)
    make_deployment(web, old, ago=timedelta(days=2))
    make_deployment(web, new, ago=timedelta(days=1))
    make_deployment(web, old, status="Failed")  # a later failure does not change the target
    current = make_instance("web-1", project=project, role="web")
    stale = make_instance("web-2", project=project, role="web", online=False)
    never = make_instance("web-3", project=project, role="web")
    make_instance("db-1", project=project, role="db")
    install(current, web, new)
    install(stale, web, old)
    assert never.pk  # no state at all: also outdated

    html = tile_html(get(owner, "/p/shop/"), "groups")

    assert re.search(r'count-online">2<', html)
    assert re.search(r"count-offline[^>]*>1<", html)
    assert re.search(r"count-outdated[^>]*>2<", html)


def test_deployments_tile_shows_the_latest_per_group_with_status_and_link(project, owner):
    app = make_app("shop", project=project)
    web, api = make_group(app, "web"), make_group(app, "api")
    rev = make_revision(app)
    make_deployment(web, rev, ago=timedelta(hours=3))
    latest = make_deployment(web, rev, status="Failed", ago=timedelta(hours=1), took=timedelta(seconds=125))

    html = tile_html(get(owner, "/p/shop/"), "deployments")

    assert f'href="/p/shop/deployments/{latest.pk}/"' in html
    assert "status-Failed" in html
    assert "2 m 5 s" in html
    assert "Never deployed" in html  # api
    assert api.name in html


def test_endpoint_tile_shows_the_first_hostname_or_not_set(project, owner):
    app = make_app("shop", project=project)
    make_group(app, "web")
    make_group(app, "api")
    make_instance("web-1", project=project, hostname="web-1.example.internal", role="web")
    html = tile_html(get(owner, "/p/shop/"), "endpoint")
    assert "web-1.example.internal" in html
    assert "not set" in html


def test_activity_feed_lists_newest_first_and_at_most_twenty(project, owner):
    app = make_app("shop", project=project)
    group = make_group(app, "web")
    rev = make_revision(app)
    made = [make_deployment(group, rev, user=owner, ago=timedelta(minutes=n)) for n in range(22)]

    html = tile_html(get(owner, "/p/shop/"), "activity")

    shown = re.findall(r'data-deployment="([^"]+)"', html)
    assert shown == [d.pk for d in made[:20]]
    assert "olivia" in html


def test_other_projects_deployments_never_appear(project, owner):
    other = make_project("other")
    app = make_app("secret", project=other)
    make_deployment(make_group(app, "web"), make_revision(app))
    html = get(owner, "/p/shop/").content.decode()
    assert "secret" not in html


def test_charts_render_one_bar_per_day_with_finished_deployments(project, owner):
    app = make_app("shop", project=project)
    group = make_group(app, "web")
    rev = make_revision(app)
    for days_ago in (0, 0, 3, 10):
        make_deployment(group, rev, ago=timedelta(days=days_ago))
    make_deployment(group, rev, status="Failed", ago=timedelta(days=3))
    make_deployment(group, rev, ago=timedelta(days=45))  # outside the window
    make_deployment(group, rev, status="InProgress")  # not finished

    html = tile_html(get(owner, "/p/shop/"), "charts")

    success = re.search(r'<svg[^>]*id="chart-success".*?</svg>', html, re.S).group(0)
    duration = re.search(r'<svg[^>]*id="chart-duration".*?</svg>', html, re.S).group(0)
    assert success.count('<rect class="bar') == 3
    assert "<title" in success and "<desc" in success
    assert "1 of 2 succeeded (50%)" in success
    assert duration.count('<circle class="point"') == 3
    assert "<script" not in html


def test_charts_are_drawn_in_css_pixels_with_a_date_every_week_and_round_duration_steps(project, owner):
    """No viewBox (which scaled 11 px labels down to 5-8 px on a phone): x in percent, y in pixels."""
    app = make_app("shop", project=project)
    group = make_group(app, "web")
    make_deployment(group, make_revision(app), ago=timedelta(days=2))

    html = tile_html(get(owner, "/p/shop/"), "charts")

    for chart in re.findall(r"<svg[^>]*>", html):
        assert "viewBox" not in chart and 'width="100%"' in chart
    success = re.search(r'<svg[^>]*id="chart-success".*?</svg>', html, re.S).group(0)
    dates = re.findall(r'<text class="label"[^>]*text-anchor="[a-z]+">([A-Z][a-z]{2} \d+)</text>', success)
    assert len(dates) == 5, dates  # 30 days: today and every 7th day before it
    assert re.findall(r'<text class="label"[^>]*>(\d+%)</text>', success) == ["50%", "100%"]
    duration = re.search(r'<svg[^>]*id="chart-duration".*?</svg>', html, re.S).group(0)
    assert len(re.findall(r'<text class="label" x="2"', duration)) >= 2


@pytest.mark.parametrize(
    ("peak", "top", "steps"),
    [(1, 2, 3), (45, 45, 4), (61, 90, 4), (299, 360, 4), (3000, 3600, 5)],
)
def test_the_duration_scale_uses_round_steps_above_the_slowest_day(peak, top, steps):
    from dashboard.charts import duration_scale

    scale_top, values = duration_scale(peak)
    assert scale_top == top and len(values) == steps and values[0] == 0 and scale_top >= peak

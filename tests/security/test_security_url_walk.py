"""Walk every route of the root URLConf as anonymous, outsider and viewer against a seeded project.

* anonymous: pages redirect to the login form, the API answers 401; nothing changes.
* outsider (owner of another project): 404 for every method, exactly what a project that does not
  exist gets, and nothing of the project in any answer; nothing changes.
* viewer: every write is refused (403/404/405) and changes nothing.

Routes come from django.urls.get_resolver(), so a route added tomorrow is walked too; see
security_routes.py for the allow-list of public routes and how URLs are built.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import clear_url_caches, path
from security_routes import (
    GHOST,
    GLOBAL,
    PUBLIC,
    PUBLIC_NAMESPACES,
    SELF_SERVICE,
    all_routes,
    is_public,
    url_for,
    walked_routes,
)
from security_world import DEAD_URL, MARKERS, changed, snapshot

from config import urls as root_urls

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")
METHODS = ("get", *WRITES)
ROUTES = walked_routes()


def api_body(world, *, ghost: bool = False) -> dict:
    """Everything any create or update of the API might ask for, aimed at the project (or at nothing)."""
    return {
        "project": GHOST if ghost else world.project.slug,
        "application": GHOST if ghost else world.app.name,
        "deployment_group": GHOST if ghost else world.group.name,
        "name": "zq-new",
        "slug": "zq-new",
        "revision": world.revision.pk,
        "username": world.bystander.username,
        "role": "owner",
        "tags": {"role": "db"},
        "description": "zq-new",
        "deployment_config": "CodeDeployDefault.AllAtOnce",
        "minimum_healthy_hosts": {"type": "HOST_COUNT", "value": 1},
        "tag_filters": [{"key": "role", "value": "db", "type": "KEY_AND_VALUE"}],
    }


def echoed(world, text: str) -> str:
    """An answer with the names the request itself sent replaced, to compare with a ghost's answer."""
    for name in (world.project.slug, world.app.name, world.group.name):
        text = text.replace(name, GHOST)
    return text


def form_body(world) -> dict:
    """Everything any dashboard form might ask for, valid where it can be."""
    return {
        "name": "zq-new",
        "slug": "zq-new",
        "description": "zq-new",
        "role": "owner",
        "username": world.bystander.username,
        "group": world.group.pk,
        "application": world.app.pk,
        "revision": world.revision.pk,
        "deployment_config": world.config.pk,
        "kind": "webhook",
        "target": f"{DEAD_URL}/other",
        "events": ["DeploymentStart"],
        "enabled": "on",
        "tags": "role=db",
        "tag_filters": "role=db",
        "expires_in_days": "3",
        "confirm": world.project.slug,
        "repository": "acme/zq-new",
        "default_branch": "main",
        "api_url": DEAD_URL,
        "server_url": DEAD_URL,
        "auth": "pat",
        "token": "zq-new-token",
        "access_key_id": "AKIAZQNEW",
        "secret_access_key": "zq-new-secret",
        "region": "eu-west-1",
    }


def send(client: Client, route, method: str, url: str, body) -> object:
    if method == "get":
        return client.get(url)
    if route.is_api:
        response = getattr(client, method)(url, body, content_type="application/json")
        if response.status_code == 415 and method == "post":
            # An upload endpoint: the same fields as multipart, with a (broken) bundle file.
            fields = {k: v for k, v in body.items() if isinstance(v, str | int)}
            response = client.post(url, {**fields, "bundle": SimpleUploadedFile("b.zip", b"zq")})
        return response
    if method == "post":
        return client.post(url, body)
    from urllib.parse import urlencode

    return getattr(client, method)(
        url, urlencode(body, doseq=True), content_type="application/x-www-form-urlencoded"
    )


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return ""  # an event stream never ends; the owner-side test reads its first frames instead
    return response.content.decode(errors="replace")


def describe(results: dict) -> str:
    return ", ".join(f"{m.upper()} {s}" for m, s in results.items())


# --- every route is known -----------------------------------------------------------------------


def test_every_route_is_either_walked_or_allow_listed_with_a_reason():
    routes = all_routes()
    names = {r.name for r in routes}
    # The allow-lists name real routes: a renamed route cannot silently drop out of the walk.
    stale = [n for n in [*PUBLIC, *SELF_SERVICE, *GLOBAL] if n not in names]
    assert stale == [], f"allow-listed routes that no longer exist: {stale}"
    assert all(PUBLIC.values()) and all(SELF_SERVICE.values()) and all(GLOBAL.values())
    assert not (set(PUBLIC) & (set(SELF_SERVICE) | set(GLOBAL)))
    unnamed = [r.name for r in routes if "<unnamed" in r.name and r.namespace not in PUBLIC_NAMESPACES]
    assert unnamed == [], "name every route so the walk can build its URL"
    # The walk covers the whole app, not a few routes: the project pages, the API and integrations.
    walked = {r.name for r in ROUTES}
    assert {"project", "api:deployment-detail", "integrations:index", "deployment_stream"} <= walked
    assert len(ROUTES) + sum(1 for r in routes if is_public(r)) == len(routes)


def _marked(route):
    # The SSE stream reads the database from another thread, which sees only committed rows.
    if route.name == "deployment_stream":
        return pytest.param(route, marks=pytest.mark.django_db(transaction=True), id=route.name)
    return pytest.param(route, id=route.name)


@pytest.mark.parametrize("route", [_marked(r) for r in ROUTES])
def test_every_route_refuses_anonymous_outsiders_and_viewers_and_changes_nothing(route, world):
    # A LookupError here names the parameter to add to security_routes.PARAMS or OBJECT_OF.
    url = url_for(route, world)
    assert client_for(world.owner).get(url).status_code < 500
    check_anonymous(route, world, url)
    check_outsider(route, world, url)
    if route.name not in SELF_SERVICE:
        check_viewer(route, world, url)


def check_anonymous(route, world, url: str) -> None:
    """Pages send anonymous users to sign in, the API answers 401 saying why; nothing changes."""
    client = client_for()
    login = resolve_url(settings.LOGIN_URL)
    before = snapshot()
    results = {}
    for method in METHODS:
        response = send(client, route, method, url, api_body(world))
        results[method] = status = response.status_code
        where = f"anonymous {method.upper()} {url}"
        assert MARKERS[0] not in text_of(response).replace(url, ""), f"{where} names the project"
        if route.is_api:
            assert status in (401, 403) and response.json()["detail"], f"{where}: {status}"
        elif status == 302:
            assert response.url.startswith(f"{login}?next="), f"{where} → {response.url}"
        elif method == "get":
            # POST-only views answer GET with 405 first. The SSE stream answers 404 like an outsider's:
            # an EventSource cannot follow a redirect to a sign-in form.
            assert status == 405 or (route.name == "deployment_stream" and status == 404), (
                f"{where}: {status}"
            )
        else:
            assert status in (403, 404, 405), f"{where}: {status}"
    assert changed(before, snapshot()) == [], f"anonymous changed the database via {describe(results)}"


def check_outsider(route, world, url: str) -> None:
    """The owner of another project gets what a project that does not exist gets: 404 (or the 405 or
    400 anyone gets for the method or the body), not a word more; nothing changes."""
    client = client_for(world.outsider)
    ghost = url_for(route, world, ghost=True)
    body, ghost_body = api_body(world), api_body(world, ghost=True)
    if not route.is_api:
        body = ghost_body = form_body(world)
    scoped = route.name not in (*GLOBAL, *SELF_SERVICE)
    before = snapshot()
    results = {}
    for method in METHODS if scoped else ("get",):
        response = send(client, route, method, url, body)
        results[method] = status = response.status_code
        where = f"outsider {method.upper()} {url}"
        if method == "get" or not route.is_api:
            assert not any(m in text_of(response) for m in MARKERS), f"{where} shows the project"
        if not scoped:
            continue  # a global object they may write as a contributor elsewhere, or their own things
        expected = send(client, route, method, ghost, ghost_body)
        assert status == expected.status_code, f"{where}: {status}, but {expected.status_code} for {ghost}"
        if route.is_api:
            # Bar the names the request itself sent.
            assert echoed(world, text_of(response)) == text_of(expected), f"{where} says more than for none"
        if route.params:
            assert status in (404, 405), f"{where}: {status}"
        elif method != "get":
            # The project is a field of the body: "No project 'x' that you are a member of." (400).
            assert status in (400, 404, 405), f"{where}: {status}"
    assert changed(before, snapshot()) == [], f"an outsider changed the database via {describe(results)}"


def refused_as_a_field(route, response) -> bool:
    """Creates that name their project in the body answer 400 on that field, naming the role needed
    (tests/api/test_api_roles.py documents it), where other writes answer 403."""
    if route.params or not route.is_api or response.status_code != 400:
        return False
    return any("role" in message for message in response.json().get("errors", {}).get("project", []))


def check_viewer(route, world, url: str) -> None:
    """Every write of a viewer is refused (403/404/405) and changes nothing; reading changes nothing."""
    client = client_for(world.viewer)
    body = api_body(world) if route.is_api else form_body(world)
    before = snapshot()
    responses = {method: send(client, route, method, url, body) for method in WRITES}
    results = {method: response.status_code for method, response in responses.items()}
    assert changed(before, snapshot()) == [], f"a viewer changed the database via {describe(results)}"
    refused = {
        m: r.status_code
        for m, r in responses.items()
        if r.status_code not in (403, 404, 405) and not refused_as_a_field(route, r)
    }
    assert refused == {}, f"{url}: a viewer's writes must get 403/404/405, got {describe(refused)}"
    assert client.get(url).status_code in (200, 302, 403, 405)
    assert changed(before, snapshot()) == [], "a viewer's GET changed the database"


def test_the_admin_site_is_for_staff_only(world):
    response = client_for(world.owner).get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_the_api_schema_is_public_but_holds_no_project_data(world):
    response = client_for().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/deployments/{id}/" in response.json()["paths"]
    assert not any(m in response.content.decode() for m in MARKERS)


def forgetful_view(request, slug):
    """A page added tomorrow that forgets get_project_for_user."""
    from django.shortcuts import get_object_or_404

    from projects.models import Project

    return HttpResponse(get_object_or_404(Project, slug=slug).name)


class LeakyUrls:
    """The real URLConf plus forgetful_view."""

    urlpatterns = [path("p/<slug:slug>/forgetful/", forgetful_view, name="forgetful"), *root_urls.urlpatterns]


def test_the_walk_fails_for_a_route_added_without_a_check(world, settings):
    settings.ROOT_URLCONF = LeakyUrls
    clear_url_caches()
    try:
        (route,) = [r for r in walked_routes() if r.name == "forgetful"]
        url = url_for(route, world)
        with pytest.raises(AssertionError, match="anonymous GET"):
            check_anonymous(route, world, url)
        with pytest.raises(AssertionError, match="outsider GET"):
            check_outsider(route, world, url)
    finally:
        clear_url_caches()

"""The project dashboard's tiles, and the small framework that keeps one broken tile from breaking the page.

A tile is a provider function ``provider(project, **params) -> dict`` plus a template. The page
renders every registered tile in order. A provider may:

* return a context dict: the tile renders normally;
* raise ``NotConnected``: the tile shows an empty state with a link to connect the integration;
* raise anything else (an unreachable GitHub, a JIRA timeout, a bug): the tile shows an error
  state, the error is logged, and the rest of the page still renders. Never a 500.

Integrations plug in with ``set_provider("repository", provider)``; the built-in deployment,
fleet, activity and chart tiles are registered below.

A tile whose provider calls an outside system may be cached per project (``cache_ttl``/``error_ttl``)
in Django's cache, which is Redis, shared by every web process. ``invalidate(project)`` drops every
cached tile of a project at once (a changed connection, a push): the keys carry a per-project
generation token, so nothing has to be listed or deleted. The cache is an optimisation only: when it
cannot be reached the tile is simply computed again.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db import transaction

from . import charts, summaries
from .endpoints import application_endpoints

log = logging.getLogger(__name__)

Provider = Callable[..., dict]


class NotConnected(Exception):
    """The tile's integration is not set up for this project."""


@dataclass(frozen=True)
class Tile:
    key: str
    title: str
    template: str
    provider: Provider
    # Query-string parameters handed to the provider as keyword arguments (e.g. a branch selector).
    params: tuple[str, ...] = ()
    wide: bool = False
    # Shown in the "Not connected" state.
    connect_hint: str = ""
    # Seconds a result, and an error, is reused per project and parameters; None: never cached.
    # Callables, read on every render, so they follow the settings.
    cache_ttl: Callable[[], int] | None = None
    error_ttl: Callable[[], int] | None = None


@dataclass
class RenderedTile:
    tile: Tile
    state: str  # "ok", "not_connected" or "error"
    context: dict
    message: str = ""

    @property
    def key(self) -> str:
        return self.tile.key


_registry: dict[str, Tile] = {}


def register(tile: Tile) -> Tile:
    _registry[tile.key] = tile
    return tile


def set_provider(
    key: str,
    provider: Provider,
    *,
    cache_ttl: Callable[[], int] | None = None,
    error_ttl: Callable[[], int] | None = None,
    connect_hint: str | None = None,
) -> None:
    """Swap the data source of a registered tile; how an integration fills its tile (and says, in
    `connect_hint`, what connecting it takes)."""
    tile = replace(_registry[key], provider=provider, cache_ttl=cache_ttl, error_ttl=error_ttl)
    _registry[key] = tile if connect_hint is None else replace(tile, connect_hint=connect_hint)


def registered() -> list[Tile]:
    return list(_registry.values())


def render_tile(tile: Tile, project, params: Mapping[str, str] | None = None) -> RenderedTile:
    params = params or {}
    kwargs = {name: params.get(name) or None for name in tile.params}
    key = _cache_key(tile, project, kwargs) if tile.cache_ttl else ""
    if key:
        _reachable, cached = _cache_get(key)
        if cached is not None:
            state, context, message = cached
            return RenderedTile(tile, state, context, message)
    rendered = _render(tile, project, kwargs)
    ttl = {"ok": tile.cache_ttl, "error": tile.error_ttl}.get(rendered.state)
    seconds = ttl() if key and ttl else 0
    if seconds > 0:
        _cache_set(key, (rendered.state, rendered.context, rendered.message), seconds)
    return rendered


def _render(tile: Tile, project, kwargs: dict) -> RenderedTile:
    try:
        # A savepoint, so a failed query inside one tile cannot poison the request's transaction.
        with transaction.atomic():
            context = tile.provider(project, **kwargs)
    except NotConnected as exc:
        return RenderedTile(tile, "not_connected", {}, str(exc) or tile.connect_hint)
    except Exception:
        log.exception("dashboard tile %s failed for project %s", tile.key, getattr(project, "slug", project))
        message = f"The {tile.title.lower()} tile could not be loaded right now."
        return RenderedTile(tile, "error", {}, message)
    return RenderedTile(tile, "ok", context or {})


# --- the tile cache ----------------------------------------------------------------------------

# A generation outlives any tile TTL, so an expired generation can never bring an old entry back.
GENERATION_TTL = 7 * 24 * 3600


def invalidate(project_id: int) -> None:
    """Forget every cached tile of the project: its connection changed, or a push brought new commits."""
    _cache_set(_generation_key(project_id), uuid.uuid4().hex, GENERATION_TTL)


def _generation_key(project_id: int) -> str:
    return f"tiles:generation:{project_id}"


def _cache_key(tile: Tile, project, kwargs: dict) -> str:
    """The key of this tile, project and parameters in the project's current generation; "" if no cache."""
    reachable, generation = _cache_get(_generation_key(project.pk))
    if not reachable:
        return ""
    # created_at too: a project id reused after a deletion (SQLite) never sees the old project's tiles.
    created = getattr(project, "created_at", None)
    stamp = f"{created.timestamp():.6f}" if created else ""
    params = hashlib.sha256(repr(sorted(kwargs.items())).encode()).hexdigest()[:16]
    return f"tiles:{tile.key}:{project.pk}:{stamp}:{generation or 0}:{params}"


def _cache_get(key: str) -> tuple[bool, object]:
    """(whether the cache answered, the value or None)."""
    try:
        return True, cache.get(key)
    except Exception as exc:  # Redis down: compute the tile, never break the page
        log.warning("tile cache unavailable: %s: %s", type(exc).__name__, exc)
        return False, None


def _cache_set(key: str, value, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception as exc:
        log.warning("tile cache unavailable: %s: %s", type(exc).__name__, exc)


def render_tiles(project, params: Mapping[str, str] | None = None, tiles=None) -> list[RenderedTile]:
    return [render_tile(tile, project, params) for tile in (tiles if tiles is not None else registered())]


# --- built-in providers ------------------------------------------------------------------------


def not_connected(message: str) -> Provider:
    def provider(project, **params) -> dict:
        raise NotConnected(message)

    return provider


def deployments_tile(project) -> dict:
    rows = list(summaries.group_summaries(project))
    return {"groups": rows, "any": any(s.latest for s in rows)}


def groups_tile(project) -> dict:
    return {"groups": summaries.group_summaries(project)}


def endpoint_tile(project) -> dict:
    return {"endpoints": application_endpoints(project, summaries.group_summaries(project))}


def activity_tile(project) -> dict:
    return {"deployments": summaries.recent_activity(project)}


def charts_tile(project) -> dict:
    days = charts.daily_stats(project)
    return {
        "has_data": any(d.finished for d in days),
        "success_svg": charts.success_rate_svg(days),
        "duration_svg": charts.duration_svg(days),
    }


register(
    Tile(
        "repository",
        "Repository",
        "dashboard/tiles/repository.html",
        not_connected("No repository is connected."),
        params=("branch",),
        connect_hint="Connect a GitHub repository.",
    )
)
register(
    Tile(
        "build",
        "Build status",
        "dashboard/tiles/build.html",
        not_connected("No build system is connected."),
        connect_hint="Connect GitHub Actions in the project settings.",
    )
)
register(Tile("deployments", "Deployments", "dashboard/tiles/deployments.html", deployments_tile, wide=True))
register(Tile("groups", "Deployment groups", "dashboard/tiles/groups.html", groups_tile, wide=True))
register(
    Tile(
        "issues",
        "Issues",
        "dashboard/tiles/issues.html",
        not_connected("No issue tracker is connected."),
        connect_hint="Connect JIRA or GitHub Issues under Integrations.",
    )
)
register(Tile("endpoint", "Application endpoint", "dashboard/tiles/endpoint.html", endpoint_tile))
register(Tile("charts", "Deployment trends", "dashboard/tiles/charts.html", charts_tile, wide=True))
register(Tile("activity", "Activity", "dashboard/tiles/activity.html", activity_tile, wide=True))

"""Every route of the root URLConf, how the walk builds a real URL for it, and the routes it leaves alone.

A route is checked unless it is in PUBLIC. Routes with parameters get real values for the seeded
project (see PARAMS and OBJECT_OF); a parameter the walk cannot fill fails the suite, so a view added
tomorrow is either checked or consciously allow-listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

GHOST = "zq-nowhere"
PARAM_RX = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>")

# Routes that are public on purpose, or guarded by something other than a project role. Each entry
# says why; everything else in the URLConf is walked.
PUBLIC = {
    "healthz": "liveness probe for load balancers; says only that the process is up",
    "favicon": "a redirect to the static icon; reads nothing",
    "login": "the sign-in form",
    "logout": "signing out",
    # Django's own views; each one that changes anything requires its own sign-in or e-mailed token.
    "password_change": "Django auth: login_required",
    "password_change_done": "Django auth: login_required",
    "password_reset": "Django auth: e-mails a one-time link",
    "password_reset_done": "Django auth",
    "password_reset_confirm": "Django auth: the one-time link",
    "password_reset_complete": "Django auth",
    # The agent API authenticates hosts with their own credential (Authorization: Bearer fdi_…) or, for
    # register, a registration token in the body; see test_security_tokens.py.
    "agent_api:register": "registration token in the body",
    "agent_api:poll": "agent credential",
    "agent_api:heartbeat": "agent credential",
    "agent_api:ack": "agent credential",
    "agent_api:log": "agent credential",
    "agent_api:complete": "agent credential",
    "agent_api:bundle": "agent credential",
    # What a new host downloads before it has any credential: the install script and the agent's wheel.
    "agent_dist:install_script": "public installer, no project data",
    "agent_dist:index": "public agent distribution",
    "agent_dist:file": "public agent distribution",
    # GitHub calls it: signed with the project's webhook secret (HMAC), replays ignored.
    "integrations:github_webhook": "X-Hub-Signature-256 HMAC with the connection's secret",
    # The OpenAPI schema and Swagger UI describe the code, which is the same on every install and
    # published in the repository (docs/api.md tells people to `curl` it without a token). They hold no
    # project data: test_security_url_walk checks the schema names nothing of the seeded project. Every
    # endpoint they describe still needs a token.
    "schema": "OpenAPI description of the code, no data",
    "api-docs": "Swagger UI for the schema, no data",
    # CodeDeploy's own API: every request is signed (SigV4) with a project's access key, not a session;
    # unsigned, badly signed, revoked-key and wrong-role requests: tests/codedeploy/test_codedeploy_auth.py.
    "codedeploy": "SigV4 with an access key",
    "codedeploy:endpoint": "SigV4 with an access key",
    "codedeploy:operation": "SigV4 with an access key",
}
# Django's admin site: staff only, with its own login (checked in test_security_url_walk).
PUBLIC_NAMESPACES = {"admin": "Django admin: is_staff users only"}

# Routes without a project in the URL where any signed-in user works on their own things: their
# profile and personal tokens, the new-project wizard, creating a project. Only the anonymous check and
# the outsider's "sees nothing of the project" check apply.
SELF_SERVICE = {
    "home": "the signed-in user's own project list",
    "profile": "the user's own profile",
    "profile_tokens": "the user's own personal API tokens",
    "profile_access_keys": "the user's own CodeDeploy access keys",
    "wizard": "anyone signed in may start a project",
    "wizard_step": "anyone signed in may start a project",
    "wizard_starter": "starter bundles, the same for everyone",
    "projects-api:project-list": "anyone signed in may create a project",
}

# Global objects any contributor of any project may write (deployments/access.py), so the outsider,
# who owns another project, may; the viewer, who contributes nowhere, may not. None any more: custom
# deployment configurations belong to a project, and the global built-ins are read-only for everyone.
GLOBAL: dict[str, str] = {}

# Which seeded object a route's `pk`, `name` or `token_id` is, by the route name's prefix.
OBJECT_OF = {
    "api:application-": "app",
    "api:deployment-group-": "group",
    "api:revision-": "revision",
    "api:deployment-config-": "config",
    "api:deployment-": "deployment",
    "api:instance-": "instance",
    "api:registration-token-": "registration_token",
    "projects-api:project-": "project",
    "integrations:trigger_": "trigger",
    "integrations-api:trigger": "trigger",
    "integrations:codedeploy_import": "codedeploy_import",
    "fleet_token_": "registration_token",
    "profile_token_": "api_token",
    "profile_access_key_": "access_key",
    "config_": "config",
}

# Parameters that mean the same thing on every route: (real value, value of nothing that exists).
PARAMS = {
    "slug": (lambda w: w.project.slug, GHOST),
    "application": (lambda w: w.app.name, GHOST),
    "app": (lambda w: w.app.name, GHOST),
    "group": (lambda w: w.group.name, GHOST),
    "deployment_id": (lambda w: w.deployment.pk, "d-ZZZZZZZZZ"),
    "group_id": (lambda w: w.group.pk, 999999),
    # Someone else's membership: a write would change the contributor's role or remove them.
    "username": (lambda w: w.contributor.username, GHOST),
    "kind": (lambda w: "github", "github"),
    # Self-service wizard routes: the first step and a starter bundle (the same for everyone).
    "step": (lambda w: "project", "project"),
    "key": (lambda w: "python-systemd", "python-systemd"),
}
AMBIGUOUS = {"pk": 999999, "name": GHOST, "token_id": 999999, "key_id": 999999}
# Deployment ids have their own shape ("d-" and nine characters), so the router refuses 999999.
GHOST_OF = {"deployment": "d-ZZZZZZZZZ"}


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    params: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def namespace(self) -> str:
        return self.name.partition(":")[0] if ":" in self.name else ""


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            # The full pattern mixes path converters (<slug:slug>) and router regexes ((?P<pk>…)).
            full = prefix + str(entry.pattern)
            params = tuple(dict.fromkeys(a or b for a, b in PARAM_RX.findall(full)))
            name = f"{namespace}{entry.name}" if entry.name else f"{namespace}<unnamed {entry.pattern}>"
            yield Route(name, full, params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def is_public(route: Route) -> bool:
    return route.name in PUBLIC or route.namespace in PUBLIC_NAMESPACES


def walked_routes() -> list[Route]:
    return [r for r in all_routes() if not is_public(r)]


def object_for(route: Route) -> str | None:
    matches = [prefix for prefix in OBJECT_OF if route.name.startswith(prefix)]
    return OBJECT_OF[max(matches, key=len)] if matches else None


def kwargs_for(route: Route, world, *, ghost: bool = False) -> dict:
    """Real URL kwargs for the seeded project, or (ghost) ones naming nothing that exists."""
    kwargs = {}
    for param in route.params:
        if param in PARAMS:
            real, missing = PARAMS[param]
            kwargs[param] = missing if ghost else real(world)
        elif param in AMBIGUOUS:
            attribute = object_for(route)
            if attribute is None:
                raise LookupError(f"{route.name}: add the object its {param!r} names to OBJECT_OF")
            obj = getattr(world, attribute)
            missing = GHOST_OF.get(attribute, AMBIGUOUS[param])
            kwargs[param] = missing if ghost else (obj.name if param == "name" else obj.pk)
        else:
            raise LookupError(f"{route.name}: the walk has no value for {param!r}; add it to PARAMS")
    return kwargs


def url_for(route: Route, world, *, ghost: bool = False) -> str:
    return reverse(route.name, kwargs=kwargs_for(route, world, ghost=ghost))

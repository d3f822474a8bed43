"""The HTML pages of the seeded project, found by walking the URLConf, for the Content-Security-Policy tests.

Every GET route that answers the owner with an HTML page is a page to check, so a page added tomorrow is
checked without anyone listing it here.
"""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from security_routes import all_routes, kwargs_for
from security_world import World

from deployments.models import DeploymentTarget, Instance
from integrations.views import KINDS

# Public pages, and pages a project member does not see: the sign-in pages and Django's admin.
ANONYMOUS_PAGES = ("/accounts/login/", "/accounts/password_reset/", "/admin/login/")
STAFF_PAGES = ("/admin/", "/admin/auth/user/")
# Streams and downloads are not pages; the agent API, the JSON API and the admin are checked elsewhere.
NOT_PAGES = ("deployment_stream", "wizard_starter")


def give_the_deployment_batches(world: World) -> None:
    """Targets in two states, so the deployment page draws its progress bars (the segments' widths)."""
    second = Instance.objects.create(project=world.project, name="zq-host-2", tags={"role": "web"})
    for position, (instance, status) in enumerate(((world.instance, "Succeeded"), (second, "Failed"))):
        DeploymentTarget.objects.create(
            deployment=world.deployment, instance=instance, position=position, batch=0, status=status
        )


def member_pages(world: World) -> list[str]:
    """Every GET page of the seeded project that answers its owner with HTML."""
    client = Client()
    client.force_login(world.owner)
    pages = []
    for route in all_routes():
        if route.is_api or route.namespace in {"admin", "agent_api", "agent_dist"} or route.name in NOT_PAGES:
            continue
        try:
            kwargs = kwargs_for(route, world)
        except LookupError:  # Django's auth views with one-time tokens in the URL
            continue
        # Every kind of connection has its own form (the walk itself names only one).
        variants = [{**kwargs, "kind": kind} for kind in KINDS] if "kind" in kwargs else [kwargs]
        for variant in variants:
            url = reverse(route.name, kwargs=variant)
            response = client.get(url)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                pages.append(url)
    return pages

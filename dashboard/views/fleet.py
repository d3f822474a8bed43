"""Fleet pages: instances, registration tokens and the agent install guide."""

from __future__ import annotations

import shlex
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from deployments.agent_dist.views import public_server_url
from deployments.models import Instance, RegistrationToken
from projects.access import get_project_for_user
from projects.models import Role

from ..summaries import active_instances, installed_by_instance
from ..tag_editor import TagsField

PAGE_SIZE = 50
TOKEN_PLACEHOLDER = "<token>"
ONLINE_CHOICES = {"online": True, "offline": False}


def install_commands(request: HttpRequest, token: str | None = None) -> dict[str, str]:
    """The one line that installs an agent from this server, and the lines around it.

    The real token appears only where it may be shown (right after it is created); elsewhere a
    placeholder. The token's tags apply to every host registered with it, so none are repeated.
    """
    server = public_server_url(request)
    script = f"{server}/agent/install.sh"
    fetch = f"curl -fsSL {shlex.quote(script)} | sudo sh -s --"
    return {
        "install": f"{fetch} --token {shlex.quote(token) if token else TOKEN_PLACEHOLDER}",
        "uninstall": f"{fetch} --uninstall",
        "script_url": script,
        "manual": (
            "python3 -m venv /opt/fleetdeck-agent/venv\n"
            "/opt/fleetdeck-agent/venv/bin/pip install --no-index "
            f"--find-links {shlex.quote(server + '/agent/dist/')} fleetdeck-agent"
        ),
    }


@login_required
@require_safe
def fleet(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    instances = active_instances(project).order_by("name")
    tag = request.GET.get("tag", "").strip()
    if tag:
        key, has_value, value = tag.partition("=")
        if has_value:
            instances = instances.alias(_tag=KeyTransform(key, "tags")).filter(_tag=value)
        else:
            instances = instances.filter(tags__has_key=key)
    state = request.GET.get("state", "")
    if state in ONLINE_CHOICES:
        instances = instances.filter(online=ONLINE_CHOICES[state])
    page = Paginator(instances, PAGE_SIZE).get_page(request.GET.get("page"))
    states = installed_by_instance(i.pk for i in page.object_list)
    rows = [{"instance": i, "states": states.get(i.pk, [])} for i in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/fleet.html",
        {
            "project": project,
            "membership": membership,
            "page": page,
            "rows": rows,
            "tag": tag,
            "state": state,
            "query": query.urlencode(),
        },
    )


@login_required
@require_safe
def tokens(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    # The hosts each token enrolled, for the whole page in one query.
    enrolled = Instance.objects.order_by("name", "pk").only(
        "name", "deregistered_at", "registration_token_id"
    )
    page = Paginator(
        RegistrationToken.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related(Prefetch("instances", queryset=enrolled))
        .order_by("-created_at", "-pk"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/fleet_tokens.html",
        {
            "project": project,
            "membership": membership,
            "page": page,
            "is_owner": membership.allows(Role.OWNER),
            "now": timezone.now(),
        },
    )


class TokenForm(forms.Form):
    description = forms.CharField(max_length=200, required=False, help_text="What the token is for.")
    tags = TagsField(
        label="Tags",
        required=False,
        help_text="One tag a line, as key=value (e.g. role=web): every host registered with this token gets them.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        min_value=1,
        max_value=365,
        initial=7,
        required=False,
        help_text="7 days suits hosts you set up by hand. Leave empty for a token that never expires, "
        "as an Auto Scaling launch template needs: then give it only the tags those hosts should have.",
    )
    max_uses = forms.IntegerField(
        label="Hosts it may register",
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text="Leave empty for no limit. A host registering again with its own credential does not count.",
    )


@login_required
def token_create(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug, Role.OWNER)
    form = TokenForm(request.POST or None)
    context = {"project": project, "membership": membership, "form": form}
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        token, raw = RegistrationToken.issue(
            project=project,
            description=form.cleaned_data["description"],
            tags=form.cleaned_data["tags"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            max_uses=form.cleaned_data["max_uses"],
            created_by=request.user,
        )
        # Rendered, not redirected: the raw token exists only in this response.
        context.update(token=token, raw=raw, commands=install_commands(request, raw))
        return render(request, "dashboard/fleet_token_created.html", context, status=201)
    return render(request, "dashboard/fleet_token_new.html", context)


@require_POST
@login_required
def token_revoke(request: HttpRequest, slug: str, token_id: int) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, Role.OWNER)
    token = get_object_or_404(RegistrationToken, pk=token_id, project=project)
    token.revoke()
    messages.success(request, f"Token {token.prefix}… is revoked; hosts already registered keep working.")
    return redirect("fleet_tokens", slug=project.slug)


@login_required
@require_safe
def install(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    return render(
        request,
        "dashboard/fleet_install.html",
        {
            "project": project,
            "membership": membership,
            "commands": install_commands(request),
            "is_owner": membership.allows(Role.OWNER),
        },
    )

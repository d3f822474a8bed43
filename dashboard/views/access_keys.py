"""The profile's CodeDeploy access keys: create one for a project (its secret shown once), revoke one."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from deployments.agent_dist.views import public_server_url
from projects.models import AccessKey, Project


class AccessKeyForm(forms.Form):
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        help_text="The key acts in this project only, with your role there at the time of each request.",
        empty_label=None,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.for_user(user).order_by("name")


@login_required
@require_http_methods(["GET", "POST"])
def access_keys(request: HttpRequest) -> HttpResponse:
    created = secret = None
    if request.method == "POST":
        form = AccessKeyForm(request.POST, user=request.user)
        if form.is_valid():
            created, secret = AccessKey.issue(request.user, form.cleaned_data["project"])
            form = AccessKeyForm(user=request.user)
    else:
        form = AccessKeyForm(user=request.user)
    keys = (
        AccessKey.objects.filter(user=request.user)
        .select_related("project")
        .order_by("revoked_at", "-created_at", "-id")
    )
    # The secret is in this one answer only; it is never rendered again.
    context = {
        "form": form,
        "keys": keys,
        "created": created,
        "secret": secret,
        "endpoint": f"{public_server_url(request).rstrip('/')}/codedeploy",
    }
    return render(request, "accounts/access_keys.html", context, status=201 if created else 200)


@login_required
@require_POST
def access_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(AccessKey, pk=key_id, user=request.user)
    key.revoke()
    messages.success(request, f"Revoked {key.key_id}.")
    return redirect("profile_access_keys")

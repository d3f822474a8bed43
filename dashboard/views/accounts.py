"""The user's own pages: profile, personal API tokens, the password-reset mail and the lockout page."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.forms import ApiTokenForm, ProfileForm
from dashboard.models import Profile
from deployments.agent_dist.views import public_server_url
from projects.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    current = Profile.of(request.user)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            current.display_name = form.cleaned_data["display_name"]
            current.ssh_public_key = form.cleaned_data["ssh_public_key"]
            current.save()
            request.user.email = form.cleaned_data["email"]
            request.user.save(update_fields=["email"])
            messages.success(request, "Profile saved.")
            return redirect("profile")
    else:
        form = ProfileForm(
            initial={
                "display_name": current.display_name,
                "email": request.user.email,
                "ssh_public_key": current.ssh_public_key,
            }
        )
    return render(request, "accounts/profile.html", {"form": form})


def _tokens(request: HttpRequest):
    return ApiToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at", "-id")


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    created = raw = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            created, raw = ApiToken.issue(
                request.user, form.cleaned_data["name"], expires_in_days=form.cleaned_data["expires_in"]
            )
            form = ApiTokenForm()
    else:
        form = ApiTokenForm()
    # The raw token is in this one answer only; it is never stored and never rendered again.
    context = {"form": form, "tokens": _tokens(request), "created": created, "raw": raw}
    return render(request, "accounts/tokens.html", context, status=201 if created else 200)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"Revoked {token.name}.")
    return redirect("profile_tokens")


def trusted_base_url(request: HttpRequest) -> str | None:
    """Where a link in a mail may point: the public URL, else this request's host if ALLOWED_HOSTS vetted
    it. None while the server answers to any Host, since then the Host is the attacker's choice."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL
    if "*" in settings.ALLOWED_HOSTS:
        return None
    return public_server_url(request)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, whose mail links to the public URL: a Host header naming another server
    would otherwise receive the reset token when the user clicks."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if trusted_base_url(request) is None:
            return render(request, "registration/password_reset_unavailable.html", status=503)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        base = urlsplit(trusted_base_url(self.request))
        # Django's mail template writes {{ protocol }}://{{ domain }}{% url … %}; the subject uses site_name.
        self.extra_email_context = {
            "protocol": base.scheme,
            "domain": base.netloc + base.path,
            "site_name": base.hostname,
        }
        return super().form_valid(form)


def locked_out(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE). It takes whatever else axes
    passes: its sync and async middleware call it with different arguments."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"minutes": -(-seconds // 60), "limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response

"""Owner-only pages: connections, "Test connection", triggers, EC2 discovery and the delivery logs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from deployments.agent_dist.views import public_server_url
from deployments.models import DeploymentGroup
from projects.access import get_project_for_user
from projects.models import Role

from . import checks
from .forms import AwsForm, Ec2DiscoveryForm, GitHubForm, IssueTrackerForm, JiraForm, TriggerForm
from .github.client import web_url
from .models import (
    AwsConnection,
    CodeDeployImport,
    DeliveryKind,
    Ec2Discovery,
    GitHubConnection,
    GitHubDelivery,
    JiraConnection,
    Trigger,
    TriggerDelivery,
    external_id_for,
)
from .tasks import discover_ec2, import_codedeploy

KINDS = {
    "github": ("GitHub", GitHubConnection, GitHubForm),
    "jira": ("JIRA", JiraConnection, JiraForm),
    "aws": ("AWS", AwsConnection, AwsForm),
}


def _owner(request, slug):
    project, _ = get_project_for_user(request, slug, role=Role.OWNER)
    return project


def _kind(kind: str):
    if kind not in KINDS:
        raise Http404("No such integration.")
    return KINDS[kind]


@login_required
def index(request, slug, tracker_form=None):
    project = _owner(request, slug)
    connections = [
        {"kind": kind, "label": label, "connection": model.objects.filter(project=project).first()}
        for kind, (label, model, _) in KINDS.items()
    ]
    triggers = Trigger.objects.filter(group__application__project=project).select_related(
        "group__application"
    )
    groups = DeploymentGroup.objects.filter(application__project=project).select_related("application")
    discoveries = {d.group_id: d for d in Ec2Discovery.objects.filter(group__in=groups)}
    return render(
        request,
        "integrations/index.html",
        {
            "project": project,
            "connections": connections,
            "triggers": triggers,
            "groups": [(g, discoveries.get(g.pk)) for g in groups],
            "tracker_form": tracker_form or IssueTrackerForm(project=project),
            "aws": next(c["connection"] for c in connections if c["kind"] == "aws"),
            "last_import": CodeDeployImport.objects.filter(project=project).first(),
        },
        status=400 if tracker_form is not None else 200,
    )


@login_required
@require_POST
def issue_tracker(request, slug):
    project = _owner(request, slug)
    form = IssueTrackerForm(request.POST, project=project)
    if form.is_valid():
        form.save()
        messages.success(request, "The Issues tile's tracker is saved.")
        return redirect("integrations:index", slug=project.slug)
    return index(request, slug, tracker_form=form)


@login_required
def edit(request, slug, kind):
    project = _owner(request, slug)
    label, model, form_class = _kind(kind)
    connection = model.objects.filter(project=project).first()
    form = form_class(request.POST or None, instance=connection, project=project)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        if form.generated_secret:
            return _github_secret_once(request, project, saved, f"{label} connection saved.")
        messages.success(request, f"{label} connection saved.")
        return redirect("integrations:edit", slug=project.slug, kind=kind)
    webhook_url = external_id = hooks_url = ""
    server_credentials = False
    if kind == "aws":
        from .aws.client import default_credentials_allowed  # boto3 only for the AWS page

        external_id = (connection.external_id if connection else "") or external_id_for(project.pk)
        server_credentials = default_credentials_allowed(project.slug)
    if kind == "github":
        # Pasted into GitHub: the public URL, never whatever Host this request carried.
        webhook_url = payload_url(request, project)
        if connection is not None:
            hooks_url = web_url(connection.api_url, connection.repository, "/settings/hooks/new")
    return render(
        request,
        "integrations/edit.html",
        {
            "project": project,
            "kind": kind,
            "label": label,
            "form": form,
            "connection": connection,
            "webhook_url": webhook_url,
            "hooks_url": hooks_url,
            "external_id": external_id,
            "server_credentials": server_credentials,
        },
    )


def payload_url(request, project) -> str:
    # Pasted into GitHub: the public URL, never whatever Host this request carried.
    return public_server_url(request) + reverse("integrations:github_webhook", args=[project.slug])


def _secret_once(request, context: dict):
    """Rendered, not redirected: this answer is the only place a generated secret ever appears."""
    response = render(request, "integrations/secret_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


def github_webhook_setup(request, connection) -> dict:
    """What GitHub's "Add webhook" form needs: shown once, after the secret is generated."""
    return {
        "repository": connection.repository,
        "hooks_url": web_url(connection.api_url, connection.repository, "/settings/hooks/new"),
        "payload_url": payload_url(request, connection.project),
        "secret": connection.webhook_secret,
    }


def _github_secret_once(request, project, connection, saved: str):
    return _secret_once(
        request,
        {
            "project": project,
            "heading": "GitHub webhook secret",
            "saved": saved,
            "setup": github_webhook_setup(request, connection),
            "next_url": reverse("integrations:edit", args=[project.slug, "github"]),
        },
    )


@login_required
@require_POST
def github_new_secret(request, slug):
    """A new webhook secret, shown once: for an owner who lost the first one (GitHub then needs it too)."""
    project = _owner(request, slug)
    connection = get_object_or_404(GitHubConnection, project=project)
    connection.webhook_secret = ""
    connection.ensure_webhook_secret()
    connection.save(update_fields=["webhook_secret", "updated_at"])
    saved = "A new webhook secret replaced the old one: GitHub's pushes fail until you paste it there."
    return _github_secret_once(request, project, connection, saved)


@login_required
@require_POST
def test(request, slug, kind):
    """An explicit user action, so it talks to the outside system right here, with short timeouts."""
    project = _owner(request, slug)
    label, model, _ = _kind(kind)
    connection = get_object_or_404(model, project=project)
    results = checks.RUNNERS[kind](connection)
    return render(
        request,
        "integrations/test.html",
        {
            "project": project,
            "kind": kind,
            "label": label,
            "results": results,
            "ok": all(r.ok for r in results),
        },
    )


@login_required
@require_POST
def delete(request, slug, kind):
    project = _owner(request, slug)
    label, model, _ = _kind(kind)
    model.objects.filter(project=project).delete()
    messages.success(request, f"{label} connection removed.")
    return redirect("integrations:index", slug=project.slug)


@login_required
def trigger_edit(request, slug, pk=None):
    project = _owner(request, slug)
    trigger = None
    if pk is not None:
        trigger = get_object_or_404(Trigger, pk=pk, group__application__project=project)
    form = TriggerForm(request.POST or None, instance=trigger, project=project)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        if form.generated_secret and saved.kind == DeliveryKind.WEBHOOK:
            return _secret_once(
                request,
                {
                    "project": project,
                    "heading": f"Trigger {saved.name}",
                    "saved": "Trigger saved.",
                    "trigger": saved,
                    "trigger_secret": form.generated_secret,
                    "next_url": reverse("integrations:index", args=[project.slug]),
                },
            )
        messages.success(request, "Trigger saved.")
        return redirect("integrations:index", slug=project.slug)
    deliveries = trigger.deliveries.all()[:20] if trigger else []
    return render(
        request,
        "integrations/trigger.html",
        {"project": project, "form": form, "trigger": trigger, "deliveries": deliveries},
    )


@login_required
@require_POST
def trigger_delete(request, slug, pk):
    project = _owner(request, slug)
    get_object_or_404(Trigger, pk=pk, group__application__project=project).delete()
    messages.success(request, "Trigger deleted.")
    return redirect("integrations:index", slug=project.slug)


@login_required
def deliveries(request, slug):
    project = _owner(request, slug)
    trigger_page = Paginator(
        TriggerDelivery.objects.filter(trigger__group__application__project=project).select_related(
            "trigger"
        ),
        50,
    ).get_page(request.GET.get("page"))
    github_page = Paginator(GitHubDelivery.objects.filter(project=project), 50).get_page(
        request.GET.get("gpage")
    )
    return render(
        request,
        "integrations/deliveries.html",
        {"project": project, "trigger_page": trigger_page, "github_page": github_page},
    )


@login_required
def ec2(request, slug, group_id):
    project = _owner(request, slug)
    group = get_object_or_404(
        DeploymentGroup.objects.select_related("application"), pk=group_id, application__project=project
    )
    discovery = Ec2Discovery.objects.filter(group=group).first()
    initial = {}
    if discovery:
        initial = {
            "tag_filters": Ec2DiscoveryForm.tag_lines(discovery.tag_filters),
            "autoscaling_groups": "\n".join(discovery.autoscaling_groups),
        }
    form = Ec2DiscoveryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        Ec2Discovery.objects.update_or_create(
            group=group,
            defaults={
                "tag_filters": form.cleaned_data["tag_filters"],
                "autoscaling_groups": form.cleaned_data["autoscaling_groups"],
            },
        )
        transaction.on_commit(lambda: discover_ec2.delay(group.pk))
        messages.success(request, "EC2 discovery saved; matching instances are being looked up.")
        return redirect("integrations:ec2", slug=project.slug, group_id=group.pk)
    return render(
        request,
        "integrations/ec2.html",
        {"project": project, "group": group, "form": form, "discovery": discovery},
    )


@login_required
@require_POST
def codedeploy_import_start(request, slug):
    """Queue an import of the AWS account's CodeDeploy set-up (integrations.aws.codedeploy_import)."""
    project = _owner(request, slug)
    if not AwsConnection.objects.filter(project=project).exists():
        messages.error(
            request, "Connect AWS first: the import reads CodeDeploy through the project's AWS connection."
        )
        return redirect("integrations:index", slug=project.slug)
    region = (request.POST.get("region") or "").strip()[:32]
    row = CodeDeployImport.objects.create(
        project=project,
        requested_by=request.user,
        region=region,
        copy_ec2_tags=request.POST.get("copy_ec2_tags") == "on",
    )
    transaction.on_commit(lambda: import_codedeploy.delay(row.pk))
    return redirect("integrations:codedeploy_import", slug=project.slug, pk=row.pk)


@login_required
def codedeploy_import(request, slug, pk):
    project = _owner(request, slug)
    row = get_object_or_404(CodeDeployImport, pk=pk, project=project)
    return render(request, "integrations/codedeploy_import.html", {"project": project, "run": row})

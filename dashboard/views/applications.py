"""The Groups page: a project's applications, their deployment groups and its deployment
configurations, created, edited and deleted from the browser. Contributors create and delete groups
and configurations, owners delete applications, as in the REST API; every view checks the role
before it reads the form. Deletions follow the API's own rules (its viewsets' perform_destroy), so a
group with a running deployment or a configuration in use is refused the same way on both."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from deployments.api.applications import ApplicationViewSet, DeploymentGroupViewSet
from deployments.api.configs import DeploymentConfigViewSet
from deployments.models import Application, DeploymentConfig, DeploymentGroup, Instance
from projects.access import get_project_for_user
from projects.models import Role

from ..forms_groups import ApplicationForm, ConfigForm, NewGroupForm


def _page(request, project, membership, *, app_form=None, config_form=None, status=200):
    applications = list(
        Application.objects.filter(project=project)
        .order_by("name")
        .prefetch_related("deployment_groups__deployment_config")
    )
    # Warning: tag matching in Python; one query for the fleet however many groups there are.
    fleet = list(
        Instance.objects.filter(project=project, deregistered_at__isnull=True).values_list("tags", flat=True)
    )
    for application in applications:
        application.groups = sorted(application.deployment_groups.all(), key=lambda g: g.name)
        for group in application.groups:
            group.host_count = sum(1 for tags in fleet if group.matches(tags or {}))
    can_manage = membership.allows(Role.CONTRIBUTOR)
    context = {
        "project": project,
        "applications": applications,
        "configs": DeploymentConfig.usable_in(project.pk).order_by("-builtin", "name"),
        "can_manage": can_manage,
        "is_owner": membership.allows(Role.OWNER),
        "app_form": app_form or (ApplicationForm(request=request, project=project) if can_manage else None),
        "config_form": config_form
        or (ConfigForm(request=request, project=project, prefix="config") if can_manage else None),
    }
    return render(request, "dashboard/groups.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def groups(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug)
    return _page(request, project, membership)


@login_required
@require_POST
def application_create(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    form = ApplicationForm(request.POST, request=request, project=project)
    if not form.is_valid():
        return _page(request, project, membership, app_form=form, status=400)
    application = form.save()
    messages.success(
        request, f"Created the application {application.name}. Now add a deployment group to it."
    )
    return redirect(f"/p/{project.slug}/groups/new/?application={application.pk}")


@login_required
@require_POST
def application_delete(request: HttpRequest, slug: str, app: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, Role.OWNER)
    application = Application.objects.filter(project=project, name=app).first()
    if application is None:
        raise Http404("No such application in this project.")
    _destroy(request, ApplicationViewSet(), application, f"Deleted the application {app} and its groups.")
    return redirect("groups", slug=project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    if request.method == "POST":
        form = NewGroupForm(request.POST, request=request, project=project)
        if form.is_valid():
            group = form.save()
            messages.success(request, f"Created the deployment group {group.application.name}/{group.name}.")
            return redirect("group_detail", slug=project.slug, app=group.application.name, group=group.name)
    else:
        form = NewGroupForm(
            request=request, project=project, initial={"application": request.GET.get("application")}
        )
    if not form.fields["application"].queryset.exists():
        messages.info(request, "Create an application first: a deployment group belongs to one.")
        return redirect("groups", slug=project.slug)
    context = {"project": project, "membership": membership, "form": form}
    return render(request, "dashboard/group_new.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def group_delete(request: HttpRequest, slug: str, app: str, group: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    found = DeploymentGroup.objects.filter(
        application__project=project, application__name=app, name=group
    ).first()
    if found is None:
        raise Http404("No such deployment group in this project.")
    if _destroy(request, DeploymentGroupViewSet(), found, f"Deleted the deployment group {app}/{group}."):
        return redirect("groups", slug=project.slug)
    return redirect("group_detail", slug=project.slug, app=app, group=group)


@login_required
@require_POST
def config_create(request: HttpRequest, slug: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    form = ConfigForm(request.POST, request=request, project=project, prefix="config")
    if not form.is_valid():
        return _page(request, project, membership, config_form=form, status=400)
    config = form.save()
    messages.success(request, f"Created the deployment configuration {config.name}.")
    return redirect(f"/p/{project.slug}/groups/#configs")


def _own_config(project, name: str) -> DeploymentConfig:
    """One of the project's own configurations; the built-ins and other projects' are not found here."""
    config = DeploymentConfig.objects.filter(project=project, builtin=False, name=name).first()
    if config is None:
        raise Http404("No such deployment configuration in this project.")
    return config


@login_required
@require_http_methods(["GET", "POST"])
def config_edit(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    config = _own_config(project, name)
    form = ConfigForm(request.POST or None, request=request, project=project, instance=config)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved the deployment configuration {config.name}.")
        return redirect(f"/p/{project.slug}/groups/#configs")
    context = {"project": project, "membership": membership, "form": form, "config": config}
    return render(request, "dashboard/config_edit.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def config_delete(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    project, _ = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    config = _own_config(project, name)
    _destroy(request, DeploymentConfigViewSet(), config, f"Deleted the deployment configuration {name}.")
    return redirect(f"/p/{project.slug}/groups/#configs")


def _destroy(request, viewset, instance, done: str) -> bool:
    """Delete through the API's rule for it; its refusal (in use, still running) becomes a message."""
    try:
        viewset.perform_destroy(instance)
    except APIException as exc:
        messages.error(request, str(exc.detail))
        return False
    messages.success(request, done)
    return True

"""Create a deployment in two steps that work without JavaScript: preview the plan, then deploy."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from deployments import engine
from deployments.engine import DeploymentError
from deployments.models import DeploymentGroup, Revision
from projects.models import Role

from .common import deployment_in, get_project_for_user
from .forms import DeploymentForm


@login_required
def create(request, slug: str):
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    plan = None
    if request.method == "POST":
        form = DeploymentForm(request.POST, project=project)
        if form.is_valid():
            kwargs = form.engine_kwargs()
            if request.POST.get("action") == "deploy":
                try:
                    deployment = engine.create_deployment(user=request.user, **kwargs)
                except DeploymentError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                else:
                    return redirect("deployment_detail", project.slug, deployment.pk)
            group = kwargs["group"]
            plan = engine.preview_plan(group, kwargs["config"] or group.deployment_config, kwargs["revision"])
    elif request.GET.get("redeploy") or request.GET.get("group"):
        # Redeploy, or "Deploy to this group": the form filled in, and the plan shown before anything
        # starts, exactly as after "Preview plan".
        form = DeploymentForm(prefill(project, request.GET), project=project)
        if form.is_valid():
            kwargs = form.engine_kwargs()
            group = kwargs["group"]
            plan = engine.preview_plan(group, kwargs["config"] or group.deployment_config, kwargs["revision"])
    else:
        form = DeploymentForm(project=project, initial={"revision": request.GET.get("revision")})
    return render(
        request,
        "deployments/create.html",
        {"project": project, "membership": membership, "form": form, "plan": plan},
    )


def prefill(project, query) -> dict:
    """The create form's fields for ?redeploy=<id> (that deployment again) or ?group=<pk> (the group's
    newest revision). Only the project's own deployments and groups are found."""
    if query.get("redeploy"):
        old = deployment_in(project, query["redeploy"])
        ignore = old.ignore_application_stop_failures
        return {
            "deployment_group": old.deployment_group_id,
            "revision": old.revision_id,
            "deployment_config": old.deployment_config_id or "",
            "file_exists_behavior": old.file_exists_behavior or "",
            "ignore_application_stop_failures": "" if ignore is None else ("yes" if ignore else "no"),
            "description": f"Redeploy of {old.pk}",
        }
    group = DeploymentGroup.objects.filter(application__project=project, pk=query.get("group")).first()
    if group is None:
        raise Http404("No such deployment group in this project.")
    newest = (
        Revision.objects.filter(application_id=group.application_id).order_by("-created_at", "-id").first()
    )
    return {"deployment_group": group.pk, "revision": newest.pk if newest else ""}

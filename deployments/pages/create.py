"""Create a deployment in two steps that work without JavaScript: preview the plan, then deploy."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from deployments import engine
from deployments.engine import DeploymentError
from projects.models import Role

from .common import get_project_for_user
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
    else:
        form = DeploymentForm(project=project, initial={"revision": request.GET.get("revision")})
    return render(
        request,
        "deployments/create.html",
        {"project": project, "membership": membership, "form": form, "plan": plan},
    )

"""The setup wizard: five steps kept in the session, and everything created at Review in one transaction."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from dashboard.forms_wizard import (
    ProjectStep,
    RepositoryStep,
    TargetStep,
    TrackerStep,
    filters_from,
    parse_tag_pairs,
    secret_of,
)
from dashboard.starters import TEMPLATES, build_tgz
from dashboard.starters import files as starter_files
from dashboard.views.fleet import TOKEN_PLACEHOLDER as FLEET_TOKEN_PLACEHOLDER
from dashboard.views.fleet import install_commands
from deployments.models import Application, DeploymentConfig, DeploymentGroup, RegistrationToken
from integrations.github.branches import BranchError, commit_files
from integrations.models import GitHubConnection, JiraConnection
from integrations.views import github_webhook_setup
from projects.access import get_project_for_user
from projects.models import Membership, Project, Role

SESSION_KEY = "setup_wizard"
STEPS = [
    ("project", "Name and template", ProjectStep),
    ("repository", "Repository", RepositoryStep),
    ("target", "Deployment target", TargetStep),
    ("tracker", "Issue tracker", TrackerStep),
]
FORMS = {key: form for key, _, form in STEPS}
TOKEN_PLACEHOLDER = "<token, shown once after Review>"
WIZARD_TOKEN_DAYS = 7


def _state(request: HttpRequest) -> dict:
    return request.session.get(SESSION_KEY, {})


def _save(request: HttpRequest, step: str, data: dict) -> None:
    state = _state(request)
    state[step] = data
    request.session[SESSION_KEY] = state


def _first_missing(state: dict) -> str | None:
    return next((key for key, _, _ in STEPS if key not in state), None)


def _nav(state: dict, current: str) -> list[dict]:
    reachable = True
    items = []
    for key, label, _ in [*STEPS, ("review", "Review", None)]:
        items.append(
            {
                "key": key,
                "label": label,
                "done": key in state,
                "current": key == current,
                "reachable": reachable,
                "url": reverse("wizard_step", args=[key]),
            }
        )
        reachable = reachable and key in state
    return items


def agent_command(request: HttpRequest, token: str) -> str:
    """The one line that installs the agent from this server and registers the host.

    The same line as the fleet's "Install an agent" page; the token carries the group's tags.
    """
    if token == TOKEN_PLACEHOLDER:
        return install_commands(request)["install"].replace(FLEET_TOKEN_PLACEHOLDER, token)
    return install_commands(request, token)["install"]


@login_required
def start(request: HttpRequest) -> HttpResponse:
    if request.GET.get("restart"):
        request.session.pop(SESSION_KEY, None)
    return redirect("wizard_step", step=_first_missing(_state(request)) or "review")


@login_required
@require_http_methods(["GET", "POST"])
def step(request: HttpRequest, step: str) -> HttpResponse:
    if step == "review":
        return review(request)
    if step == "starter-branch":
        return starter_branch(request)
    if step not in FORMS:
        raise Http404("No such step.")
    state = _state(request)
    missing = _first_missing(state)
    order = [key for key, _, _ in STEPS]
    if missing is not None and order.index(step) > order.index(missing):
        return redirect("wizard_step", step=missing)
    form_class = FORMS[step]
    if request.method == "POST":
        form = form_class(request.POST, stored=state.get(step), state=state)
        if form.is_valid():
            _save(request, step, form.cleaned_data)
            following = _first_missing(_state(request)) or "review"
            return redirect("wizard_step", step=following)
    else:
        form = form_class(
            initial=state.get(step) or _suggestions(step, state), stored=state.get(step), state=state
        )
    context = {
        "form": form,
        "step": step,
        "title": {k: label for k, label, _ in STEPS}[step],
        "nav": _nav(state, step),
        "templates": TEMPLATES.values(),
    }
    if step == "project":
        context["starters"] = [t for t in TEMPLATES.values() if t.path is not None]
    if step == "target":
        context["command"] = agent_command(request, TOKEN_PLACEHOLDER)
    if step == "tracker":
        context["repository"] = (state.get("repository") or {}).get("repository", "")
    return render(request, "wizard/step.html", context)


def _suggestions(step: str, state: dict) -> dict:
    slug = (state.get("project") or {}).get("slug", "")
    if step == "target" and slug:
        return {"application": slug, "group": "production", "tags": "role=web"}
    return {}


def _revalidate(state: dict) -> dict[str, dict]:
    """Run every step's form again: a slug or an application name may have been taken meanwhile.
    Each problem names the field by its label, and links to the step that fixes it."""
    problems = {}
    for key, label, form_class in STEPS:
        form = form_class(state.get(key) or {}, stored=state.get(key), state=state)
        if not form.is_valid():
            lines = [
                f"{form[field].label if field in form.fields else label}: {'; '.join(errors)}"
                for field, errors in form.errors.items()
            ]
            problems[label] = {"url": reverse("wizard_step", args=[key]), "lines": lines}
    return problems


def review(request: HttpRequest) -> HttpResponse:
    state = _state(request)
    missing = _first_missing(state)
    if missing is not None:
        return redirect("wizard_step", step=missing)
    template = TEMPLATES.get(state["project"]["template"])
    context = {"state": state, "nav": _nav(state, "review"), "template": template, "problems": {}}
    if request.method == "POST":
        problems = _revalidate(state)
        if not problems:
            try:
                created = create_everything(request.user, state)
            except IntegrityError:
                problems = {
                    "Review": {
                        "url": reverse("wizard_step", args=["project"]),
                        "lines": [
                            "Something with one of these names was created meanwhile; nothing was "
                            "created. Check the steps and try again."
                        ],
                    }
                }
            else:
                request.session.pop(SESSION_KEY, None)
                connection = GitHubConnection.objects.filter(project=created["project"]).first()
                # Rendered, not redirected: this answer is the only place the raw token (and the
                # generated webhook secret) ever appears.
                response = render(
                    request,
                    "wizard/done.html",
                    {
                        **created,
                        "template": template,
                        "offer": starter_branch_offer(created["project"], template),
                        "command": agent_command(request, created["raw_token"]),
                        "setup": github_webhook_setup(request, connection) if connection else None,
                    },
                )
                response["Cache-Control"] = "no-store"
                return response
        context["problems"] = problems
        return render(request, "wizard/review.html", context, status=400)
    return render(request, "wizard/review.html", context)


def create_everything(user, state: dict) -> dict:
    """Project, owner membership, application, group and registration token: all or nothing."""
    project_data, target = state["project"], state["target"]
    pairs = parse_tag_pairs(target["tags"])
    with transaction.atomic():
        project = Project.objects.create(
            name=project_data["name"],
            slug=project_data["slug"],
            description=project_data.get("description", ""),
            template=project_data["template"],
            repository=state["repository"].get("repository", ""),
            issue_tracker="" if state["tracker"]["tracker"] == "none" else state["tracker"]["tracker"],
            created_by=user,
        )
        Membership.objects.create(project=project, user=user, role=Role.OWNER)
        application = Application.objects.create(name=target["application"], project=project, created_by=user)
        group = DeploymentGroup.objects.create(
            application=application,
            name=target["group"],
            deployment_config=DeploymentConfig.objects.get(name=target["deployment_config"], builtin=True),
            tag_filters=filters_from(pairs),
        )
        _connect(project, state)
        token, raw = RegistrationToken.issue(
            project=project,
            created_by=user,
            tags=pairs,
            description=f"Created by the setup wizard for {group}",
            # For the first hosts, set up by hand; a fleet that grows gets a token of its own.
            expires_at=timezone.now() + timedelta(days=WIZARD_TOKEN_DAYS),
        )
    return {"project": project, "application": application, "group": group, "token": token, "raw_token": raw}


def _connect(project: Project, state: dict) -> None:
    """The GitHub repository and the issue tracker, stored the way the integrations pages store them."""
    repository, tracker = state["repository"], state["tracker"]
    if repository.get("kind") == "github":
        connection = GitHubConnection(
            project=project,
            repository=repository["repository"],
            default_branch=repository.get("default_branch") or "main",
            api_url=repository.get("api_url") or "https://api.github.com",
            token=secret_of(repository, "token"),
        )
        connection.ensure_webhook_secret()
        connection.save()
    if tracker["tracker"] == "jira":
        JiraConnection.objects.create(
            project=project,
            server_url=tracker["jira_server_url"],
            auth=tracker["jira_auth"],
            email=tracker.get("jira_email", ""),
            token=secret_of(tracker, "jira_token"),
            jql=tracker.get("jira_jql", ""),
        )


STARTER_BRANCH = "fleetdeck/starter"


def starter_branch_offer(project: Project, template) -> dict | None:
    """What the "commit the starter bundle" form needs, when the project can use it."""
    if template is None or template.path is None:
        return None
    connection = GitHubConnection.objects.filter(project=project).first()
    if connection is None:
        return None
    return {
        "repository": connection.repository,
        "branch": STARTER_BRANCH,
        "has_token": bool(connection.token),
    }


@require_http_methods(["POST"])
def starter_branch(request: HttpRequest) -> HttpResponse:
    """Commit the project's starter bundle to a new branch of its linked GitHub repository."""
    project, _ = get_project_for_user(request, request.POST.get("project", ""), role=Role.CONTRIBUTOR)
    template = TEMPLATES.get(project.template)
    offer = starter_branch_offer(project, template)
    if offer is None:
        raise Http404("This project has no starter bundle or no linked GitHub repository.")
    branch = (request.POST.get("branch") or STARTER_BRANCH).strip()
    context = {"project": project, "template": template, "offer": {**offer, "branch": branch}}
    connection = GitHubConnection.objects.get(project=project)
    bundle = {p.as_posix(): (template.path / p).read_bytes() for p in starter_files(template)}
    try:
        context["committed"] = commit_files(
            connection,
            bundle,
            branch=branch,
            message=f"Fleetdeck starter bundle: {template.label}",
            executable=frozenset(p for p in bundle if p.endswith(".sh")),
            timeout=settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT,
        )
    except BranchError as exc:
        context["error"] = str(exc)
        return render(request, "wizard/branch.html", context, status=400)
    return render(request, "wizard/branch.html", context)


@login_required
def starter(request: HttpRequest, key: str) -> HttpResponse:
    template = TEMPLATES.get(key)
    if template is None or template.path is None:
        raise Http404("No starter bundle for that template.")
    response = HttpResponse(build_tgz(template), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="{key}.tgz"'
    return response

"""Finding an object by name among the caller's projects.

Names are unique within a project, not across projects (an application `shop` may exist in every
project). The API's paths keep their form (`/applications/{name}/`, `/instances/{name}/`,
`/deployment-configs/{name}/`) and resolve the name within the projects the caller is a member of.
When that finds it in more than one, the request must say which project: `?project=SLUG`, or a
`project` field in the body of a write; a 400 naming the projects says so. Outside the caller's
projects a name resolves to nothing (a 404, or the field's usual 400), whatever exists there.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import SAFE_METHODS

from deployments import access
from deployments.models import Application, DeploymentConfig, Instance
from projects.models import Membership


def _slug(value) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValidationError({"project": ["Give the project's slug."]})
    return value


def query_project(request) -> str | None:
    """The project slug of `?project=`."""
    return _slug(request.query_params.get("project"))


def body_project(request) -> str | None:
    """The project slug of a write's body (`"project": "SLUG"`, or a form field)."""
    data = request.data
    return _slug(data.get("project")) if hasattr(data, "get") else None


def _narrowed(rows: list, request, *, body: bool | None) -> list:
    """Several rows of the name in the caller's projects: a write's body may say which project.

    The body is looked at only then, so an unambiguous name is resolved (and the caller's role
    checked) before the body is parsed."""
    write = body if body is not None else request.method not in SAFE_METHODS
    if len(rows) > 1 and write and (slug := body_project(request)):
        return [row for row in rows if row.project is not None and row.project.slug == slug]
    return rows


def refuse_other_project(request, project) -> None:
    """After the role check: a write whose body names a project the object is not in is a 400."""
    slug = body_project(request)
    if slug and (project is None or slug != project.slug):
        raise ValidationError(
            {"project": [f"It is in {getattr(project, 'slug', 'no project')}, not in {slug}."]}
        )


def member_project_filter(request, queryset: QuerySet, path: str = "project") -> QuerySet:
    """A list narrowed to `?project=SLUG`; a project the caller is not on is a 400, as a create's is."""
    slug = request.query_params.get("project")
    if not slug:
        return queryset
    if not Membership.objects.filter(user=request.user, project__slug=slug).exists():
        raise ValidationError({"project": [f"No project {slug!r} that you are a member of."]})
    return queryset.filter(**{f"{path}__slug": slug})


def ambiguous(kind: str, name: str, slugs) -> ValidationError:
    listed = ", ".join(sorted(slugs))
    return ValidationError(
        {
            "project": [
                f"There is {kind} named {name} in more than one of your projects ({listed}): say which "
                f'with ?project=SLUG (or "project": "SLUG" in the body of a write).'
            ]
        }
    )


def one(rows: list, kind: str, name: str, project_of=lambda row: row.project):
    """The one row of `rows` (already narrowed to the caller's projects and the requested one)."""
    if not rows:
        # The same words whatever exists elsewhere: nothing is said of other projects' names.
        raise NotFound(f"No {kind} of that name in your projects.")
    projects = {project_of(row).slug for row in rows if project_of(row) is not None}
    if len(rows) > 1:
        raise ambiguous(f"an {kind}" if kind[0] in "aeiou" else f"a {kind}", name, projects)
    return rows[0]


def by_name(queryset: QuerySet, request, name: str, kind: str, *, body: bool | None = None):
    """The object named `name` in the caller's projects (the queryset is scoped already)."""
    rows = queryset.filter(name=name)
    if slug := query_project(request):
        rows = rows.filter(project__slug=slug)
    return one(_narrowed(list(rows.select_related("project")[:10]), request, body=body), kind, name)


def application(request, name: str, *, body: bool | None = None) -> Application:
    return by_name(
        access.scope(Application.objects.all(), request.user), request, name, "application", body=body
    )


def application_in_body(request) -> Application | None:
    """The application a write's body names (`application`, with `project` when needed), so the
    caller's role is checked before the rest of the body is; None when it names none of the caller's
    applications (the serializer then says what is wrong with the field). Ambiguous: a 400."""
    data = request.data
    name = data.get("application") if hasattr(data, "get") else None
    if not isinstance(name, str) or not name:
        return None
    try:
        return application(request, name, body=True)
    except NotFound:
        return None


def instance(queryset: QuerySet, request, name: str) -> Instance:
    """An instance by name: per project the live one, else the one deregistered last (a deregistered
    host's name may have been registered again, so one project can hold several of a name)."""
    rows = queryset.filter(name=name)
    if slug := query_project(request):
        rows = rows.filter(project__slug=slug)
    newest_first = rows.select_related("project").order_by("project_id", "-registered_at", "-pk")
    per_project: dict = {}
    for row in newest_first[:50]:
        best = per_project.get(row.project_id)
        if best is None or (best.deregistered_at is not None and row.deregistered_at is None):
            per_project[row.project_id] = row
    return one(_narrowed(list(per_project.values()), request, body=None), "instance", name)


def config_queryset(user, slug: str | None = None) -> QuerySet:
    """The built-ins and the custom configs of the caller's projects (or of the one named)."""
    custom = Q(project__in=access.project_ids(user))
    if slug:
        custom &= Q(project__slug=slug)
    return DeploymentConfig.objects.filter(Q(builtin=True) | (Q(builtin=False) & custom))


def config(queryset: QuerySet, request, name: str) -> DeploymentConfig:
    rows = queryset.filter(name=name)
    if slug := query_project(request):
        rows = rows.filter(Q(builtin=True) | Q(project__slug=slug))
    return one(
        _narrowed(list(rows.select_related("project")[:10]), request, body=None), "deployment config", name
    )

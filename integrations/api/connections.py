"""/api/v1/projects/{slug}/connections/: the project's GitHub, JIRA and AWS connections, "Test
connection", and which tracker the Issues tile shows. Owners only, like the Integrations pages."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response

from integrations import checks
from integrations.forms import AwsForm, GitHubForm, IssueTrackerForm, JiraForm
from integrations.models import AwsConnection, GitHubConnection, JiraConnection
from integrations.views import payload_url

from .common import OwnerView, form_errors, refuse_unknown
from .serializers import (
    AwsConnectionSerializer,
    ConnectionsSerializer,
    GitHubConnectionSerializer,
    IssueTrackerSerializer,
    JiraConnectionSerializer,
    TestResultSerializer,
)

KINDS = {
    "github": (GitHubConnection, GitHubForm, GitHubConnectionSerializer),
    "jira": (JiraConnection, JiraForm, JiraConnectionSerializer),
    "aws": (AwsConnection, AwsForm, AwsConnectionSerializer),
}
# The API's name for a form field, where they differ; and what is written but read another way.
API_NAMES = {"rules": "auto_deploy"}
WRITABLE_EXTRA = {"github": {"auto_deploy"}}

_AnyConnection = PolymorphicProxySerializer(
    component_name="Connection",
    serializers=[GitHubConnectionSerializer, JiraConnectionSerializer, AwsConnectionSerializer],
    resource_type_field_name=None,
)


def _kind(kind: str):
    if kind not in KINDS:
        raise Http404("No such integration: use github, jira or aws.")
    return KINDS[kind]


def _answer(request, project, kind: str, connection) -> dict | None:
    if connection is None:
        return None
    serializer_class = KINDS[kind][2]
    context = {"request": request}
    if kind == "github":
        context["webhook_url"] = payload_url(request, project)
    return serializer_class(connection, context=context).data


def _writable(serializer_class) -> set[str]:
    serializer = serializer_class()
    return {name for name, field in serializer.fields.items() if not field.read_only}


def _rules_text(rules) -> str:
    """The API's auto_deploy list as the form's "branch: application/group" lines."""
    if not isinstance(rules, list):
        return "\n"  # a line the form refuses with its own message
    lines = []
    for rule in rules:
        if not isinstance(rule, dict):
            return "\n:"
        lines.append(
            f"{rule.get('branch', '')}: {rule.get('application', '')}/{rule.get('deployment_group', '')}"
        )
    return "\n".join(lines)


class ConnectionListView(OwnerView):
    @extend_schema(
        responses=ConnectionsSerializer,
        summary="The project's connections",
        operation_id="v1_projects_connections_list",
    )
    def get(self, request, slug):
        project = self.project
        answer = {
            kind: _answer(request, project, kind, model.objects.filter(project=project).first())
            for kind, (model, _, _) in KINDS.items()
        }
        return Response({**answer, "issue_tracker": project.issue_tracker})


class ConnectionView(OwnerView):
    @extend_schema(responses=_AnyConnection, summary="One connection (github, jira or aws)")
    def get(self, request, slug, kind):
        model = _kind(kind)[0]
        connection = model.objects.filter(project=self.project).first()
        if connection is None:
            raise Http404(f"The project has no {kind} connection.")
        return Response(_answer(request, self.project, kind, connection))

    @extend_schema(
        request=_AnyConnection, responses=_AnyConnection, summary="Connect, or replace the connection"
    )
    def put(self, request, slug, kind):
        return self._save(request, kind, partial=False)

    @extend_schema(request=_AnyConnection, responses=_AnyConnection, summary="Change some settings")
    def patch(self, request, slug, kind):
        return self._save(request, kind, partial=True)

    @extend_schema(responses={204: None}, summary="Remove the connection")
    def delete(self, request, slug, kind):
        model = _kind(kind)[0]
        deleted, _ = model.objects.filter(project=self.project).delete()
        if not deleted:
            raise Http404(f"The project has no {kind} connection.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, request, kind: str, *, partial: bool):
        model, form_class, serializer_class = _kind(kind)
        project = self.project
        connection = model.objects.filter(project=project).first()
        if partial and connection is None:
            raise Http404(f"The project has no {kind} connection: create it with PUT.")
        data = refuse_unknown(request.data, _writable(serializer_class) | WRITABLE_EXTRA.get(kind, set()))
        # PUT replaces (what it leaves out takes the default), PATCH changes what it names; an
        # omitted secret keeps the stored one either way.
        current = connection if partial else model()
        secrets = set(form_class.secret_fields)
        form_data = {
            name: getattr(current, name)
            for name in form_class.Meta.fields
            if name not in secrets and getattr(current, name, None) is not None
        }
        if kind == "github":
            form_data["rules"] = (
                _rules_text(GitHubConnectionSerializer(connection).data["auto_deploy"]) if partial else ""
            )
            if "auto_deploy" in data:
                form_data["rules"] = _rules_text(data.pop("auto_deploy"))
        form_data.update({name: value for name, value in data.items() if value is not None})
        form = form_class(form_data, instance=connection, project=project)
        if not form.is_valid():
            raise form_errors(form, API_NAMES)
        with transaction.atomic():
            saved = form.save()
        created = connection is None
        return Response(
            _answer(request, project, kind, saved),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConnectionTestView(OwnerView):
    @extend_schema(request=None, responses=TestResultSerializer, summary='"Test connection"')
    def post(self, request, slug, kind):
        model = _kind(kind)[0]
        connection = model.objects.filter(project=self.project).first()
        if connection is None:
            raise Http404(f"The project has no {kind} connection.")
        results = checks.RUNNERS[kind](connection)
        return Response(
            {
                "ok": all(r.ok for r in results),
                "checks": [{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results],
            }
        )


class IssueTrackerView(OwnerView):
    @extend_schema(responses=IssueTrackerSerializer, summary="The tracker the Issues tile shows")
    def get(self, request, slug):
        return Response({"issue_tracker": self.project.issue_tracker})

    @extend_schema(
        request=IssueTrackerSerializer,
        responses={200: IssueTrackerSerializer, 400: OpenApiResponse(description="Not connected")},
        summary="Choose the tracker the Issues tile shows",
    )
    def put(self, request, slug):
        data = refuse_unknown(request.data, {"issue_tracker"})
        form = IssueTrackerForm(data, project=self.project)
        if not form.is_valid():
            raise form_errors(form)
        form.save()
        return Response({"issue_tracker": self.project.issue_tracker})

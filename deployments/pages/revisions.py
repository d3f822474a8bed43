"""The Revisions page: an application's revisions, where they live and where they are deployed, plus
forms to upload a bundle or register one from S3 / GitHub.

The forms go through the API's own checks (`bundles.store_upload`, `RevisionRegisterSerializer`), so
the page refuses exactly what the API refuses, with the same messages, and stores nothing when it does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from fleetdeck_agent.appspec import AppSpecError, parse_appspec
from rest_framework.exceptions import ValidationError

from deployments import integration_points
from deployments.api import bundles
from deployments.api.serializers.applications import RevisionRegisterSerializer
from deployments.models import Application, BundleType, Deployment, DeploymentGroup, Revision, RevisionSource
from deployments.upload_limit import too_large_response
from projects.models import Role

from .common import can_deploy, get_project_for_user

PAGE_SIZE = 20
SOURCE_LABELS = {RevisionSource.UPLOAD: "Upload", RevisionSource.S3: "S3", RevisionSource.GITHUB: "GitHub"}
SUCCEEDED = "Succeeded"


class ApplicationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Application) -> str:
        return obj.name


class UploadForm(forms.Form):
    application = ApplicationChoice(queryset=Application.objects.none(), to_field_name="name")
    bundle = forms.FileField(help_text="A zip, tar or tgz archive with appspec.yml at its root.")
    description = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = Application.objects.filter(project=project).order_by("name")


class RegisterForm(forms.Form):
    application = ApplicationChoice(queryset=Application.objects.none(), to_field_name="name")
    source = forms.ChoiceField(
        choices=[("s3", "S3 object"), ("github", "GitHub commit")], widget=forms.RadioSelect
    )
    s3_uri = forms.CharField(
        max_length=1100,
        required=False,
        label="S3 object",
        help_text="s3://bucket/key of a zip, tar or tgz archive.",
    )
    bundle_type = forms.ChoiceField(
        choices=[("", "From the key's extension"), *BundleType.choices], required=False, label="Bundle type"
    )
    version = forms.CharField(max_length=1024, required=False, label="S3 version id")
    etag = forms.CharField(
        max_length=200, required=False, label="ETag", help_text="Refuse the object unless it has this ETag."
    )
    repository = forms.CharField(
        max_length=200,
        required=False,
        label="GitHub repository",
        help_text="owner/repo; empty: the connected one.",
    )
    commit = forms.CharField(max_length=40, required=False, label="Commit")
    description = forms.CharField(max_length=500, required=False)

    # Where the API's (flattened) error keys show on this form.
    FIELDS = {
        "s3": "s3_uri",
        "s3.bucket": "s3_uri",
        "s3.key": "s3_uri",
        "s3.bundle_type": "bundle_type",
        "s3.version": "version",
        "s3.etag": "etag",
        "github.repository": "repository",
        "github.commit": "commit",
        "description": "description",
    }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = Application.objects.filter(project=project).order_by("name")

    def api_body(self) -> dict:
        """The API's JSON body for this form; a malformed s3:// URI is this form's own error."""
        data = self.cleaned_data
        body = {"description": data["description"]}
        if data["source"] == "github":
            body["github"] = {"repository": data["repository"], "commit": data["commit"]}
            return body
        uri = data["s3_uri"].strip()
        bucket, _, key = uri[5:].partition("/") if uri.startswith("s3://") else ("", "", "")
        if not bucket or not key:
            self.add_error("s3_uri", "Give the object as s3://bucket/key.")
            return {}
        s3 = {"bucket": bucket, "key": key, "version": data["version"], "etag": data["etag"]}
        if data["bundle_type"]:
            s3["bundle_type"] = data["bundle_type"]
        body["s3"] = s3
        return body

    def add_api_errors(self, errors: dict) -> None:
        for key, found in errors.items():
            field = self.FIELDS.get(key)
            if field is None and key.startswith("github"):
                field = "repository" if self.cleaned_data.get("source") == "github" else None
            for message in found if isinstance(found, list) else [found]:
                self.add_error(field, str(message))


def _hooks_summary(revision: Revision) -> str:
    """ "ApplicationStart (1), ValidateService (2)" from the stored appspec; "" when there is none."""
    if not revision.appspec:
        return ""
    try:
        spec = parse_appspec(revision.appspec)
    except AppSpecError:
        return ""
    return ", ".join(f"{event} ({len(hooks)})" for event, hooks in spec.hooks.items() if hooks)


def _page_context(request, project, membership, application, upload=None, register=None) -> dict:
    """Everything the page shows, in a fixed number of queries whatever the number of revisions."""
    applications = list(Application.objects.filter(project=project).order_by("name").only("id", "name"))
    context = {
        "project": project,
        "membership": membership,
        "can_deploy": can_deploy(membership),
        "applications": applications,
        "application": application,
        "page": None,
        "rows": [],
    }
    if context["can_deploy"] and applications:
        initial = {"application": application.name if application else applications[0].name}
        context["upload_form"] = upload or UploadForm(project=project, initial=initial)
        context["register_form"] = register or RegisterForm(
            project=project, initial={**initial, "source": "s3"}
        )
    if application is None:
        return context
    last = Deployment.objects.filter(revision=OuterRef("pk")).order_by("-created_at", "-id")
    revisions = (
        Revision.objects.filter(application=application)
        .select_related("uploaded_by")
        .annotate(
            last_deployment_id=Subquery(last.values("id")[:1]),
            last_deployment_status=Subquery(last.values("status")[:1]),
            last_deployment_group=Subquery(last.values("deployment_group__name")[:1]),
            last_deployment_at=Subquery(last.values("created_at")[:1]),
        )
        .order_by("-created_at", "-id")
    )
    page = Paginator(revisions, PAGE_SIZE).get_page(request.GET.get("page"))
    # A group's current revision is the one its newest successful deployment installed.
    current = Deployment.objects.filter(deployment_group=OuterRef("pk"), status=SUCCEEDED).order_by(
        "-created_at", "-id"
    )
    deployed_to: dict[int, list[str]] = {}
    for name, revision_id in (
        DeploymentGroup.objects.filter(application=application)
        .annotate(current=Subquery(current.values("revision_id")[:1]))
        .order_by("name")
        .values_list("name", "current")
    ):
        if revision_id is not None:
            deployed_to.setdefault(revision_id, []).append(name)
    source_link = integration_points.revision_source_links(project)
    rows = []
    for revision in page.object_list:
        text, url = source_link(revision)
        rows.append(
            {
                "revision": revision,
                "source": SOURCE_LABELS.get(revision.source, revision.source),
                "where": text,
                "where_url": url,
                "digest": revision.sha256[:12] or (revision.location or {}).get("etag", "")[:12],
                "hooks": _hooks_summary(revision),
                "deployed_to": deployed_to.get(revision.pk, []),
            }
        )
    context.update({"page": page, "rows": rows, "query": urlencode({"application": application.name})})
    return context


def _selected(project, name: str | None) -> Application | None:
    applications = Application.objects.filter(project=project).order_by("name")
    return (applications.filter(name=name).first() if name else None) or applications.first()


def _render(request, context: dict, status: int = 200):
    return render(request, "deployments/revisions.html", context, status=status)


def _back(project, application: Application):
    return redirect(
        f"{reverse('revision_list', args=[project.slug])}?{urlencode({'application': application.name})}"
    )


@login_required
@require_safe
def revision_list(request, slug: str):
    project, membership = get_project_for_user(request, slug)
    application = _selected(project, request.GET.get("application"))
    return _render(request, _page_context(request, project, membership, application))


@login_required
@require_POST
def revision_upload(request, slug: str):
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    form = UploadForm(request.POST, request.FILES, project=project)
    if form.is_valid():
        application = form.cleaned_data["application"]
        try:
            revision = bundles.store_upload(
                application,
                form.cleaned_data["bundle"],
                description=form.cleaned_data["description"],
                user=request.user,
            )
        except bundles.BundleTooLarge:
            return too_large_response(request)
        except ValidationError as exc:
            for key, found in exc.detail.items():
                for message in found:
                    form.add_error(key if key in form.fields else None, str(message))
        else:
            messages.success(request, f"Uploaded {revision.display_name} of {application.name}.")
            return _back(project, application)
    application = form.cleaned_data.get("application") or _selected(project, None)
    return _render(request, _page_context(request, project, membership, application, upload=form), 400)


@login_required
@require_POST
def revision_register(request, slug: str):
    project, membership = get_project_for_user(request, slug, Role.CONTRIBUTOR)
    form = RegisterForm(request.POST, project=project)
    if form.is_valid() and (body := form.api_body()):
        application = form.cleaned_data["application"]
        serializer = RevisionRegisterSerializer(
            data=body, context={"application": application, "user": request.user}
        )
        try:
            if serializer.is_valid():
                revision = serializer.save()
                messages.success(request, f"Registered {revision.display_name} of {application.name}.")
                return _back(project, application)
            form.add_api_errors(serializer.errors)
        except ValidationError as exc:
            form.add_api_errors(exc.detail)
    application = form.cleaned_data.get("application") or _selected(project, None)
    return _render(request, _page_context(request, project, membership, application, register=form), 400)

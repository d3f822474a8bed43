"""The create form. Choices are limited to the project, so a crafted POST cannot reach another one."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from deployments.models import (
    DeploymentConfig,
    DeploymentGroup,
    DeploymentStatus,
    FileExistsBehavior,
    Revision,
)
from deployments.templatetags.codedeploy_words import words

DEFAULT = ""
IGNORE_CHOICES = [(DEFAULT, "Group default"), ("yes", "Yes, ignore them"), ("no", "No, fail the host")]


class GroupChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: DeploymentGroup) -> str:
        return f"{obj.application.name} / {obj.name} ({obj.deployment_config.name})"


class RevisionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Revision) -> str:
        text = f"{obj.application.name}: {obj.display_name}"
        if obj.description:
            text += f" — {obj.description}"
        return f"{text} · {obj.created_at:%Y-%m-%d %H:%M}"


class DeploymentForm(forms.Form):
    deployment_group = GroupChoice(queryset=DeploymentGroup.objects.none(), label="Application / group")
    revision = RevisionChoice(queryset=Revision.objects.none(), label="Revision", help_text="Newest first.")
    deployment_config = forms.ModelChoiceField(
        queryset=DeploymentConfig.objects.none(),
        required=False,
        empty_label="The group's config",
        label="Deployment config",
    )
    file_exists_behavior = forms.ChoiceField(
        choices=[(DEFAULT, "Group default"), *((v, words(v)) for v in FileExistsBehavior.values)],
        required=False,
        label="When a file already exists",
    )
    ignore_application_stop_failures = forms.ChoiceField(
        choices=IGNORE_CHOICES, required=False, label="Ignore ApplicationStop failures"
    )
    description = forms.CharField(max_length=500, required=False, label="Description")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deployment_group"].queryset = DeploymentGroup.objects.filter(
            application__project=project
        ).select_related("application", "deployment_config")
        # The built-ins and this project's own configs; another project's are never offered.
        self.fields["deployment_config"].queryset = DeploymentConfig.usable_in(project.pk).order_by(
            "-builtin", "name"
        )
        self.fields["revision"].queryset = (
            Revision.objects.filter(application__project=project)
            .select_related("application")
            .order_by("-created_at", "-id")
        )

    def clean(self):
        data = super().clean()
        group, revision = data.get("deployment_group"), data.get("revision")
        if group and revision and revision.application_id != group.application_id:
            self.add_error(
                "revision",
                f"This revision belongs to {revision.application.name}, not {group.application.name}.",
            )
        return data

    def engine_kwargs(self) -> dict:
        data = self.cleaned_data
        ignore = data.get("ignore_application_stop_failures")
        return {
            "group": data["deployment_group"],
            "revision": data["revision"],
            "config": data.get("deployment_config"),
            "description": data.get("description", ""),
            "file_exists_behavior": data.get("file_exists_behavior") or None,
            "ignore_application_stop_failures": None if not ignore else ignore == "yes",
        }


class FilterForm(forms.Form):
    group = forms.ModelChoiceField(
        queryset=DeploymentGroup.objects.none(), required=False, empty_label="All groups"
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *DeploymentStatus.choices], required=False)
    creator = forms.ModelChoiceField(queryset=None, required=False, empty_label="Anyone", label="Created by")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = DeploymentGroup.objects.filter(
            application__project=project
        ).select_related("application")
        self.fields["group"].label_from_instance = lambda g: f"{g.application.name} / {g.name}"
        self.fields["creator"].queryset = (
            get_user_model().objects.filter(memberships__project=project).order_by("username")
        )

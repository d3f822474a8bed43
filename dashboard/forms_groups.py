"""Forms of the Groups page: a new application, a new deployment group and a project's own
deployment configurations. Each is judged by the REST API's own serializer, so the page and the API
accept and refuse the same things; the API's error keys are mapped onto the page's fields."""

from __future__ import annotations

from django import forms

from deployments.api.serializers.applications import ApplicationSerializer, DeploymentGroupSerializer
from deployments.api.serializers.configs import DeploymentConfigSerializer
from deployments.models import Application, DeploymentConfig, FileExistsBehavior, MinimumHealthyType
from deployments.models.application import ONE_AT_A_TIME
from deployments.templatetags.codedeploy_words import words

from .tag_editor import TagSelectionField

NAME_HELP = "Letters, digits, dots, dashes or underscores, starting with a letter or digit."


class ApiForm(forms.Form):
    """A form whose clean() runs an API serializer; subclasses give payload() and the serializer."""

    # API error key -> form field; keys not listed land on a field of the same name, else on the form.
    ERROR_FIELDS: dict[str, str] = {}

    def __init__(self, *args, request, project, **kwargs):
        self.request, self.project = request, project
        super().__init__(*args, **kwargs)

    def serializer(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.api = self.serializer()
        if not self.api.is_valid():
            for key, problems in self.api.errors.items():
                for problem in problems if isinstance(problems, list) else [problems]:
                    self._api_error(key, problem)
        return data

    def _api_error(self, key: str, problem) -> None:
        if isinstance(problem, dict):
            for inner in problem.values():
                for message in inner if isinstance(inner, list) else [inner]:
                    self._api_error(key, message)
            return
        field = self.ERROR_FIELDS.get(key, key if key in self.fields else None)
        message = str(problem)
        if field is None or message not in self.errors.get(field, []):
            self.add_error(field, message)


class ApplicationForm(ApiForm):
    name = forms.CharField(max_length=100, label="Application name", help_text=NAME_HELP)

    def serializer(self):
        data = {"name": self.cleaned_data["name"].strip(), "project": self.project.slug}
        return ApplicationSerializer(data=data, context={"request": self.request})

    def save(self) -> Application:
        return self.api.save(created_by=self.request.user)


class NewGroupForm(ApiForm):
    application = forms.ModelChoiceField(queryset=Application.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100, label="Group name", help_text=NAME_HELP)
    deployment_config = forms.ChoiceField(label="Deployment configuration")
    tags = TagSelectionField(label="Hosts with these tags")
    file_exists_behavior = forms.ChoiceField(
        label="Files that already exist", initial=FileExistsBehavior.DISALLOW
    )
    ERROR_FIELDS = {"tag_filters": "tags", "tag_set": "tags"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = Application.objects.filter(project=self.project).order_by(
            "name"
        )
        self.fields["deployment_config"].choices = config_choices(self.project)
        self.fields["deployment_config"].initial = ONE_AT_A_TIME
        self.fields["file_exists_behavior"].choices = [(v, words(v)) for v in FileExistsBehavior.values]

    def serializer(self):
        data = self.cleaned_data
        body = {
            "name": data["name"].strip(),
            "deployment_config": data["deployment_config"],
            "file_exists_behavior": data["file_exists_behavior"],
            **data["tags"],
        }
        return DeploymentGroupSerializer(data=body, context={"application": data["application"]})

    def save(self):
        return self.api.save(application=self.cleaned_data["application"])


def config_choices(project) -> list[tuple[str, str]]:
    """The built-ins first, then the project's own; another project's are never offered."""
    names = DeploymentConfig.usable_in(project.pk).order_by("-builtin", "name").values_list("name", flat=True)
    return [(n, n) for n in names]


class ConfigForm(ApiForm):
    name = forms.CharField(max_length=100, label="Configuration name", help_text=NAME_HELP)
    minimum_healthy_type = forms.ChoiceField(
        label="Minimum healthy hosts as",
        choices=[
            (MinimumHealthyType.HOST_COUNT, "A number of hosts"),
            (MinimumHealthyType.FLEET_PERCENT, "A percentage of the fleet"),
        ],
    )
    minimum_healthy_value = forms.IntegerField(
        label="Minimum healthy hosts",
        min_value=0,
        help_text="How many hosts (or what percentage, 0 to 99) must stay healthy while others deploy.",
    )
    ERROR_FIELDS = {"minimum_healthy_hosts": "minimum_healthy_value", "project": "name"}

    def __init__(self, *args, instance: DeploymentConfig | None = None, **kwargs):
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "minimum_healthy_type": instance.minimum_healthy_type,
                    "minimum_healthy_value": instance.minimum_healthy_value,
                },
            )
        super().__init__(*args, **kwargs)

    def serializer(self):
        data = self.cleaned_data
        body = {
            "name": data["name"].strip(),
            "project": self.project.slug,
            "minimum_healthy_hosts": {
                "type": data["minimum_healthy_type"],
                "value": data["minimum_healthy_value"],
            },
        }
        return DeploymentConfigSerializer(self.instance, data=body, context={"request": self.request})

    def save(self) -> DeploymentConfig:
        return self.api.save()

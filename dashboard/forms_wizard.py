"""One form per setup-wizard step. Each validates on its own; the cleaned data lives in the session."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import RegexValidator

from dashboard.models import Project
from dashboard.starters import TEMPLATES
from deployments import planner
from deployments.models import ONE_AT_A_TIME, Application, DeploymentConfig
from deployments.models.application import NAME_VALIDATOR

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*$", "Use lowercase letters, digits and dashes, starting with a letter or digit."
)
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
TAG_PAIR_RE = re.compile(r"^([A-Za-z0-9_.:/-]{1,128})=([A-Za-z0-9_.:/@+-]{0,256})$")


class ProjectStep(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(
        max_length=50,
        validators=[SLUG_VALIDATOR],
        help_text="Part of the project's URLs: lowercase letters, digits and dashes.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    template = forms.ChoiceField(choices=[(t.key, t.label) for t in TEMPLATES.values()], initial="blank")

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if Project.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"The slug {slug!r} is taken; pick another.")
        return slug


class RepositoryStep(forms.Form):
    KINDS = [("none", "None for now"), ("github", "A GitHub repository")]
    kind = forms.ChoiceField(choices=KINDS, initial="none", widget=forms.RadioSelect, label="Repository")
    repository = forms.CharField(
        required=False,
        max_length=200,
        help_text='"owner/name", for example acme/shop.',
        label="GitHub repository",
    )

    def clean(self) -> dict:
        data = super().clean()
        repository = (data.get("repository") or "").strip()
        if data.get("kind") == "github":
            if not REPOSITORY_RE.match(repository):
                self.add_error("repository", 'Give the repository as "owner/name", for example acme/shop.')
            data["repository"] = repository
        else:
            data["repository"] = ""
        return data


def parse_tag_pairs(text: str) -> dict[str, str]:
    """ "role=web, env=prod" (commas or new lines) into {"role": "web", "env": "prod"}."""
    pairs: dict[str, str] = {}
    for raw in re.split(r"[,\n]", text):
        item = raw.strip()
        if not item:
            continue
        match = TAG_PAIR_RE.match(item)
        if not match:
            raise forms.ValidationError(f"{item!r} is not key=value (letters, digits and _.:/- only).")
        pairs[match.group(1)] = match.group(2)
    if not pairs:
        raise forms.ValidationError("Give at least one key=value tag, for example role=web.")
    return pairs


class TargetStep(forms.Form):
    application = forms.CharField(max_length=100, validators=[NAME_VALIDATOR], label="Application name")
    group = forms.CharField(max_length=100, validators=[NAME_VALIDATOR], label="Deployment group name")
    tags = forms.CharField(
        max_length=500,
        label="Tag filters",
        help_text="key=value pairs, separated by commas. The group targets hosts with all of them, "
        "and the registration token gives them to the hosts it registers.",
    )
    deployment_config = forms.ChoiceField(choices=(), label="Deployment configuration")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = list(DeploymentConfig.objects.order_by("-builtin", "name").values_list("name", flat=True))
        self.fields["deployment_config"].choices = [(n, n) for n in names]
        self.fields["deployment_config"].initial = ONE_AT_A_TIME

    def clean_application(self) -> str:
        name = self.cleaned_data["application"]
        if Application.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An application named {name} already exists; pick another name.")
        return name

    def clean_tags(self) -> str:
        pairs = parse_tag_pairs(self.cleaned_data["tags"])
        for tag_filter in filters_from(pairs):
            problem = planner.validate_tag_filter(tag_filter)
            if problem:
                raise forms.ValidationError(problem)
        return ", ".join(f"{k}={v}" for k, v in pairs.items())


def filters_from(pairs: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v, "type": planner.KEY_AND_VALUE} for k, v in pairs.items()]


class TrackerStep(forms.Form):
    CHOICES = [("none", "None for now"), ("jira", "JIRA"), ("github", "GitHub Issues")]
    # Trackers that need an integration nobody has set up yet; they show, disabled, with a note.
    UNAVAILABLE = {"jira": "JIRA", "github": "GitHub Issues"}
    tracker = forms.ChoiceField(
        choices=CHOICES, initial="none", widget=forms.RadioSelect, label="Issue tracker"
    )

    def clean_tracker(self) -> str:
        tracker = self.cleaned_data["tracker"]
        if tracker in self.UNAVAILABLE:
            raise forms.ValidationError(
                f"{self.UNAVAILABLE[tracker]} needs its integration, which is not set up yet; "
                "choose none for now."
            )
        return tracker

"""One form per setup-wizard step. Each validates on its own; the cleaned data lives in the session."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.text import slugify

from core.crypto import decrypt, encrypt
from dashboard.starters import TEMPLATES
from dashboard.tag_editor import TagEditor
from deployments import planner
from deployments.models import ONE_AT_A_TIME, DeploymentConfig
from deployments.models.application import NAME_VALIDATOR
from integrations.forms import GitHubForm, JiraForm
from integrations.models import JiraAuth
from projects.models import Project

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*$", "Use lowercase letters, digits and dashes, starting with a letter or digit."
)
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
TAG_PAIR_RE = re.compile(r"^([A-Za-z0-9_.:/-]{1,128})=([A-Za-z0-9_.:/@+-]{0,256})$")


class Step(forms.Form):
    """A wizard step: `stored` is what this step saved before (kept secrets), `state` every step's data."""

    def __init__(self, *args, stored: dict | None = None, state: dict | None = None, **kwargs):
        self.stored = stored or {}
        self.state = state or {}
        super().__init__(*args, **kwargs)


def slug_from(name: str) -> str:
    """The slug the wizard suggests for a name (static/js/wizard.js makes the same one as you type)."""
    return slugify(name).replace("_", "-").strip("-")[:50].strip("-")


class ProjectStep(Step):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(
        max_length=50,
        required=False,
        validators=[SLUG_VALIDATOR],
        help_text="Part of the project's URLs: lowercase letters, digits and dashes. Made from the name "
        "unless you change it.",
        widget=forms.TextInput(attrs={"data-slug-from": "id_name", "autocomplete": "off"}),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    template = forms.ChoiceField(
        choices=[(t.key, t.label) for t in TEMPLATES.values()],
        initial="blank",
        error_messages={"invalid_choice": "Choose one of the templates."},
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"] or slug_from(self.cleaned_data.get("name") or "")
        if not slug:
            raise forms.ValidationError("Give the project a slug: lowercase letters, digits and dashes.")
        SLUG_VALIDATOR(slug)
        if Project.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"The slug {slug!r} is taken; pick another.")
        return slug


class _WizardGitHubForm(GitHubForm):
    """The integrations page's GitHub form, minus what needs a saved project (auto-deploy rules)."""

    secret_fields = ("token",)
    rules = None

    class Meta(GitHubForm.Meta):
        fields = ["repository", "default_branch", "token", "api_url"]


class _WizardJiraForm(JiraForm):
    class Meta(JiraForm.Meta):
        fields = ["server_url", "auth", "email", "token", "jql"]


def _kept_secret(form: forms.Form, field: str, stored: dict | None) -> None:
    """Secrets live in the session encrypted, under <field>_encrypted, and are never shown again:
    a blank field on a revisit keeps the stored one."""
    data = form.cleaned_data
    plain = data.pop(field, "") or ""
    if plain:
        data[f"{field}_encrypted"] = encrypt(plain)
    else:
        data[f"{field}_encrypted"] = (stored or {}).get(f"{field}_encrypted", "")


def secret_of(step_data: dict, field: str) -> str:
    return decrypt(step_data.get(f"{field}_encrypted", ""))


class RepositoryStep(Step):
    KINDS = [("none", "None for now"), ("github", "A GitHub repository")]
    kind = forms.ChoiceField(choices=KINDS, initial="none", widget=forms.RadioSelect, label="Repository")
    repository = forms.CharField(
        required=False,
        max_length=200,
        help_text='"owner/name", for example acme/shop.',
        label="GitHub repository",
    )
    token = forms.CharField(
        required=False,
        label="GitHub token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional for a public repository. Needed for a private one, for GitHub Issues and to "
        'commit the starter bundle ("Contents: write"). Stored encrypted; never shown again.',
    )
    default_branch = forms.CharField(required=False, max_length=200, initial="main", label="Default branch")
    api_url = forms.CharField(
        required=False,
        max_length=200,
        initial="https://api.github.com",
        label="GitHub API URL",
        help_text="https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.stored.get("token_encrypted"):
            self.fields["token"].help_text = "•••• set. Leave blank to keep it."

    def clean(self) -> dict:
        data = super().clean()
        repository = (data.get("repository") or "").strip()
        if data.get("kind") == "github":
            if not REPOSITORY_RE.match(repository):
                self.add_error("repository", 'Give the repository as "owner/name", for example acme/shop.')
            data["repository"] = repository
            token = data.get("token") or secret_of(self.stored, "token")
            github = _WizardGitHubForm(
                {
                    "repository": repository,
                    "default_branch": (data.get("default_branch") or "").strip() or "main",
                    "token": token,
                    "api_url": (data.get("api_url") or "").strip() or "https://api.github.com",
                },
                project=Project(),
            )
            if github.is_valid():
                data["default_branch"] = github.cleaned_data["default_branch"]
                data["api_url"] = github.cleaned_data["api_url"]
            else:
                for name, problems in github.errors.items():
                    # One message a field: the repository's own check above already said what to type.
                    if name in self.fields and name not in self.errors:
                        self.add_error(name, problems[0])
        else:
            data.update(repository="", token="", default_branch="", api_url="")
        _kept_secret(self, "token", self.stored if data.get("kind") == "github" else {})
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


class TargetStep(Step):
    application = forms.CharField(max_length=100, validators=[NAME_VALIDATOR], label="Application name")
    group = forms.CharField(max_length=100, validators=[NAME_VALIDATOR], label="Deployment group name")
    tags = forms.CharField(
        max_length=500,
        label="Tag filters",
        widget=TagEditor(rows=3),
        help_text="One tag a line, as key=value. The group targets hosts with any of them, "
        "and the registration token gives them all to the hosts it registers.",
    )
    deployment_config = forms.ChoiceField(choices=(), label="Deployment configuration")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A new project has no configs of its own yet: the built-ins.
        names = list(
            DeploymentConfig.objects.filter(builtin=True).order_by("name").values_list("name", flat=True)
        )
        self.fields["deployment_config"].choices = [(n, n) for n in names]
        self.fields["deployment_config"].initial = ONE_AT_A_TIME

    def clean_tags(self) -> str:
        pairs = parse_tag_pairs(self.cleaned_data["tags"])
        for tag_filter in filters_from(pairs):
            problem = planner.validate_tag_filter(tag_filter)
            if problem:
                raise forms.ValidationError(problem)
        return ", ".join(f"{k}={v}" for k, v in pairs.items())


def filters_from(pairs: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v, "type": planner.KEY_AND_VALUE} for k, v in pairs.items()]


class TrackerStep(Step):
    CHOICES = [("none", "None for now"), ("jira", "JIRA"), ("github", "GitHub Issues")]
    tracker = forms.ChoiceField(
        choices=CHOICES, initial="none", widget=forms.RadioSelect, label="Issue tracker"
    )
    jira_server_url = forms.CharField(required=False, max_length=200, label="JIRA server URL")
    jira_auth = forms.ChoiceField(
        required=False, choices=JiraAuth.choices, initial=JiraAuth.CLOUD, label="JIRA authentication"
    )
    jira_email = forms.CharField(
        required=False, max_length=254, label="JIRA account email", help_text="JIRA Cloud only."
    )
    jira_token = forms.CharField(
        required=False,
        label="JIRA API token or personal access token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again.",
    )
    jira_jql = forms.CharField(
        required=False,
        max_length=1000,
        label="JQL for the issues tile",
        initial="resolution = Unresolved ORDER BY updated DESC",
    )
    JIRA_FIELDS = ("server_url", "auth", "email", "token", "jql")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.repository = self.state.get("repository") or {}
        if self.stored.get("jira_token_encrypted"):
            self.fields["jira_token"].help_text = "•••• set. Leave blank to keep it."

    @property
    def github_available(self) -> bool:
        return self.repository.get("kind") == "github"

    def clean(self) -> dict:
        data = super().clean()
        tracker = data.get("tracker")
        if tracker == "github" and not self.github_available:
            self.add_error(
                "tracker",
                "GitHub Issues needs a GitHub repository: choose one in step 2 (Repository), or pick JIRA or none.",
            )
        if tracker == "jira":
            jira = _WizardJiraForm(
                {
                    "server_url": (data.get("jira_server_url") or "").strip(),
                    "auth": data.get("jira_auth") or JiraAuth.CLOUD,
                    "email": (data.get("jira_email") or "").strip(),
                    "token": data.get("jira_token") or secret_of(self.stored, "jira_token"),
                    "jql": (data.get("jira_jql") or "").strip(),
                },
                project=Project(),
            )
            if jira.is_valid():
                data.update(
                    {f"jira_{k}": jira.cleaned_data[k] for k in ("server_url", "auth", "email", "jql")}
                )
            else:
                for name, problems in jira.errors.items():
                    for problem in problems:
                        self.add_error(f"jira_{name}" if name in self.JIRA_FIELDS else None, problem)
            _kept_secret(self, "jira_token", self.stored)
        else:
            data.update({f"jira_{k}": "" for k in self.JIRA_FIELDS})
            _kept_secret(self, "jira_token", {})
        return data

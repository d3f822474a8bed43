"""Connection, trigger and EC2 discovery forms. Secret fields never render their value back:
they show "•••• set" and a blank submission keeps what is stored."""

from __future__ import annotations

import re

from django import forms
from django.core.validators import URLValidator, validate_email

from core.outbound import OutboundRefused, check_url
from deployments.models import DeploymentGroup

from .models import (
    AutoDeployRule,
    AwsConnection,
    DeliveryKind,
    GitHubConnection,
    JiraAuth,
    JiraConnection,
    Trigger,
    TriggerEvent,
)

SET_MARK = "•••• set"


class SecretsKeptForm(forms.ModelForm):
    secret_fields: tuple[str, ...] = ()
    # Set by save() when it generated a secret the user must paste elsewhere: shown once, then never.
    generated_secret: str = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name, "") for name in self.secret_fields}
        for name in self.secret_fields:
            field = self.fields[name]
            field.required = False
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            self.initial[name] = ""
            if self._stored[name]:
                field.help_text = f"{SET_MARK}. Leave blank to keep it."

    def clean(self):
        data = super().clean()
        for name in self.secret_fields:
            if not data.get(name):
                data[name] = self._stored[name]
        return data

    def _post_clean(self):
        super()._post_clean()
        for name in self.secret_fields:
            if not self.cleaned_data.get(name):
                setattr(self.instance, name, self._stored[name])


def refused(url: str) -> str | None:
    """Why the outbound policy will never let the server reach this URL, said when it is saved (the
    policy refuses it again at every use). A name that does not resolve yet is left to that use."""
    if not url:
        return None
    try:
        check_url(url)
    except OutboundRefused as exc:
        return str(exc)
    except Exception:  # unresolvable or malformed: the field's own validation and the first use say so
        return None
    return None


def _groups(project):
    return DeploymentGroup.objects.filter(application__project=project).select_related("application")


class GitHubForm(SecretsKeptForm):
    secret_fields = ("token", "webhook_secret")
    api_url = forms.URLField(
        label="API URL",
        assume_scheme="https",
        initial="https://api.github.com",
        help_text="https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise.",
    )
    rules = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Auto-deploy: one rule a line, "branch: application/group", e.g. "main: shop/production".',
    )

    class Meta:
        model = GitHubConnection
        fields = ["repository", "default_branch", "token", "webhook_secret", "api_url", "deployments_api"]
        labels = {"api_url": "API URL", "deployments_api": "Mirror deployments to the GitHub Deployments API"}
        help_texts = {
            "repository": '"owner/name".',
            "api_url": "https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise.",
            "webhook_secret": "Blank on a new connection: one is generated and shown once, to paste into GitHub.",
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        if not self.instance.pk and project.repository:
            # The wizard's "owner/name" is where most projects start.
            self.initial.setdefault("repository", project.repository)
        if self.instance.pk:
            self.initial["rules"] = "\n".join(
                f"{r.branch}: {r.group.application.name}/{r.group.name}"
                for r in self.instance.rules.select_related("group__application")
            )

    def clean_api_url(self):
        url = self.cleaned_data.get("api_url", "")
        if problem := refused(url):
            raise forms.ValidationError(problem)
        return url

    def clean_rules(self):
        groups = {f"{g.application.name}/{g.name}": g for g in _groups(self.project)}
        parsed = []
        for number, line in enumerate(self.cleaned_data["rules"].splitlines(), 1):
            if not line.strip():
                continue
            branch, sep, target = line.partition(":")
            if not sep or not branch.strip() or target.strip() not in groups:
                raise forms.ValidationError(
                    f'Line {number}: use "branch: application/group" with one of: {", ".join(groups) or "no groups yet"}.'
                )
            parsed.append((branch.strip(), groups[target.strip()]))
        return parsed

    def save(self, commit=True):
        connection = super().save(commit=False)
        connection.project = self.project
        if not connection.webhook_secret:
            self.generated_secret = connection.ensure_webhook_secret()
        connection.save()
        connection.rules.all().delete()
        AutoDeployRule.objects.bulk_create(
            [AutoDeployRule(connection=connection, branch=b, group=g) for b, g in self.cleaned_data["rules"]],
            ignore_conflicts=True,
        )
        return connection


class JiraForm(SecretsKeptForm):
    secret_fields = ("token",)
    server_url = forms.URLField(label="Server URL", assume_scheme="https")

    class Meta:
        model = JiraConnection
        fields = [
            "server_url",
            "auth",
            "email",
            "token",
            "jql",
            "comment_on_success",
            "transition_on_success",
        ]
        labels = {
            "server_url": "Server URL",
            "jql": "JQL for the issues tile",
            "token": "API token or personal access token",
        }
        help_texts = {
            "email": "JIRA Cloud only: the account the API token belongs to.",
            "transition_on_success": 'Optional, e.g. "Done": the transition to apply after a successful deployment.',
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_server_url(self):
        url = self.cleaned_data.get("server_url", "")
        if problem := refused(url):
            raise forms.ValidationError(problem)
        return url

    def clean(self):
        data = super().clean()
        if data.get("auth") == JiraAuth.CLOUD and not data.get("email"):
            self.add_error("email", "JIRA Cloud needs the email address of the API token's account.")
        if not data.get("token"):
            self.add_error("token", "A token is needed.")
        return data

    def save(self, commit=True):
        connection = super().save(commit=False)
        connection.project = self.project
        connection.save()
        return connection


class AwsForm(SecretsKeptForm):
    secret_fields = ("secret_access_key",)
    endpoint_url = forms.URLField(
        label="Endpoint URL",
        required=False,
        assume_scheme="https",
        help_text="Optional: an S3-compatible or test endpoint.",
    )

    class Meta:
        model = AwsConnection
        fields = ["access_key_id", "secret_access_key", "role_arn", "region", "endpoint_url"]
        labels = {
            "access_key_id": "Access key id",
            "role_arn": "Role ARN to assume",
            "endpoint_url": "Endpoint URL",
        }
        help_texts = {
            "access_key_id": "Blank with a role ARN: the server assumes the role with this project's external ID.",
            "role_arn": "arn:aws:iam::<account>:role/<name>; its trust policy requires the external ID above.",
            "endpoint_url": "Optional: an S3-compatible or test endpoint.",
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean(self):
        data = super().clean()
        if data.get("access_key_id") and not data.get("secret_access_key"):
            self.add_error("secret_access_key", "An access key id needs its secret access key.")
        if problem := refused(data.get("endpoint_url", "")):
            self.add_error("endpoint_url", problem)
        return data

    def save(self, commit=True):
        connection = super().save(commit=False)
        connection.project = self.project
        connection.save()
        return connection


class TriggerForm(SecretsKeptForm):
    secret_fields = ("secret",)
    events = forms.MultipleChoiceField(choices=TriggerEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Trigger
        fields = ["group", "name", "events", "kind", "target", "secret", "enabled"]
        labels = {"group": "Deployment group", "secret": "Signing secret"}
        help_texts = {
            "target": "The URL to POST to, or comma-separated email addresses.",
            "secret": "Webhooks only: signs X-Fleetdeck-Signature. Blank on a new trigger: one is generated "
            "and shown once, to give to the receiver.",
        }
        widgets = {"target": forms.TextInput}

    def __init__(self, *args, project, **kwargs):
        instance = kwargs.get("instance")
        if instance is not None and instance.kind == DeliveryKind.SLACK:
            # Whoever has a Slack incoming-webhook URL can post to the channel: never shown again.
            self.secret_fields = ("secret", "target")
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = _groups(project)

    def clean(self):
        data = super().clean()
        target, kind = data.get("target", ""), data.get("kind")
        if kind == "email":
            for address in [a.strip() for a in target.split(",") if a.strip()] or [""]:
                try:
                    validate_email(address)
                except forms.ValidationError:
                    self.add_error("target", f"{address!r} is not an email address.")
                    break
        elif target:
            try:
                URLValidator(schemes=["http", "https"])(target)
            except forms.ValidationError:
                self.add_error("target", "Enter an http(s) URL.")
            else:
                if problem := refused(target):
                    self.add_error("target", problem)
        return data

    def save(self, commit=True):
        trigger = super().save(commit=False)
        if not trigger.secret:
            self.generated_secret = trigger.ensure_secret()
        trigger.save()
        return trigger


class IssueTrackerForm(forms.Form):
    """Which tracker the Issues tile shows when both JIRA and GitHub Issues are connected."""

    CHOICES = [
        ("", "Automatic: JIRA when it is connected, else GitHub Issues"),
        ("jira", "JIRA"),
        ("github", "GitHub Issues"),
    ]
    issue_tracker = forms.ChoiceField(
        choices=CHOICES, required=False, widget=forms.RadioSelect, label="The Issues tile shows"
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, initial={"issue_tracker": project.issue_tracker}, **kwargs)
        self.project = project

    def clean_issue_tracker(self) -> str:
        choice = self.cleaned_data.get("issue_tracker") or ""
        connected = {
            "jira": JiraConnection.objects.filter(project=self.project).exists(),
            "github": GitHubConnection.objects.filter(project=self.project).exists(),
        }
        if choice and not connected[choice]:
            what = "a JIRA server" if choice == "jira" else "a GitHub repository"
            raise forms.ValidationError(f"Connect {what} first: the Issues tile cannot show it yet.")
        return choice

    def save(self) -> None:
        self.project.issue_tracker = self.cleaned_data["issue_tracker"]
        self.project.save(update_fields=["issue_tracker"])


TAG_LINE = re.compile(r"^\s*([^=]*?)\s*(?:=\s*(.*?))?\s*$")


class Ec2DiscoveryForm(forms.Form):
    tag_filters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='One "Key=Value" a line (or "Key" alone); ORed.',
    )
    autoscaling_groups = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One Auto Scaling group name a line.",
    )

    @staticmethod
    def tag_lines(filters: list[dict]) -> str:
        """Stored filters as the field's "Key=Value" lines."""
        return "\n".join(f"{t['key']}={t['value']}" if t.get("value") else t["key"] for t in filters)

    def clean_tag_filters(self):
        filters = []
        for line in self.cleaned_data["tag_filters"].splitlines():
            if not line.strip():
                continue
            key, value = TAG_LINE.match(line).groups()
            filters.append({"key": key, "value": value or ""})
        return filters

    def clean_autoscaling_groups(self):
        return [line.strip() for line in self.cleaned_data["autoscaling_groups"].splitlines() if line.strip()]

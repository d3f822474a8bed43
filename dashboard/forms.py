"""Forms for profiles, personal API tokens and project settings."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.contrib.auth import get_user_model

from dashboard.models import SSH_KEY_TYPES
from deployments.api.serializers.applications import DeploymentGroupSerializer
from deployments.models import DeploymentConfig, DeploymentOption, DeploymentStyle, FileExistsBehavior
from deployments.rollout.bluegreen_config import REROUTE_WAIT_SECONDS
from deployments.templatetags.codedeploy_words import words
from projects.models import Membership, Project, Role

from .tag_editor import TagSelectionField, selection_text


def validate_ssh_public_key(value: str) -> str:
    """One OpenSSH public key line: type, base64 blob whose embedded type matches, optional comment."""
    value = " ".join(value.split())
    if not value:
        return ""
    parts = value.split(" ", 2)
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise forms.ValidationError(
            "Paste one public key line starting with ssh-ed25519, ssh-rsa or ecdsa-sha2-…, "
            "for example the contents of ~/.ssh/id_ed25519.pub."
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise forms.ValidationError("The key's second part is not valid base64.") from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if length <= 0 or blob[4 : 4 + length].decode("ascii", "replace") != parts[0]:
        raise forms.ValidationError(f"The key data does not hold a {parts[0]} key; was it cut short?")
    return value


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(required=False)
    ssh_public_key = forms.CharField(
        required=False,
        label="SSH public key",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One line, e.g. the contents of ~/.ssh/id_ed25519.pub.",
    )

    def clean_ssh_public_key(self) -> str:
        return validate_ssh_public_key(self.cleaned_data["ssh_public_key"])


class ApiTokenForm(forms.Form):
    EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never (until revoked)")]

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CI pipeline”.")
    expires_in = forms.ChoiceField(
        choices=EXPIRY_CHOICES, initial="90", required=False, label="Expires after"
    )

    def clean_expires_in(self) -> int | None:
        value = self.cleaned_data.get("expires_in")
        return int(value) if value else None


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, project: Project, **kwargs):
        self.project = project
        super().__init__(*args, **kwargs)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No user named {username!r}.")
        if Membership.objects.filter(project=self.project, user=user).exists():
            raise forms.ValidationError(f"{username} is already a member.")
        return user


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DeleteProjectForm(forms.Form):
    confirm = forms.CharField(label="Type the project's slug to confirm")

    def __init__(self, *args, project: Project, **kwargs):
        self.project = project
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.project.slug:
            raise forms.ValidationError(f"Type {self.project.slug} exactly to delete the project.")
        return self.cleaned_data["confirm"]


# --- deployment group settings ----------------------------------------------------------------

ROLLBACK_CHOICES = [
    ("DEPLOYMENT_FAILURE", "The deployment fails"),
    ("DEPLOYMENT_STOP_ON_ALARM", "An alarm stops it"),
    ("DEPLOYMENT_STOP_ON_REQUEST", "A user stops it"),
]
ROUTER_CHOICES = [
    ("", "None"),
    ("elbv2", "ELBv2 target groups"),
    ("command", "A command on the server (nginx, HAProxy…)"),
]
SOURCE_CHOICES = [
    ("", "Not blue/green"),
    ("standby_pool", "A standby pool of registered agents, by tag"),
    ("discover", "Existing instances, by tag"),
    ("asg_copy", "A copy of an Auto Scaling group"),
]


def _without_key(message: str, key: str) -> str:
    """An API message without the JSON key it starts with: the page shows it by its field instead."""
    if not key or not message.startswith(key):
        return message
    rest = message[len(key) :].lstrip(" :.")
    return rest[:1].upper() + rest[1:] if rest else message


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class GroupSettingsForm(forms.Form):
    """The group's settings as flat form fields. Validation is the REST API's own serializer, run on
    the payload these fields make, so the page and the API give the same errors."""

    deployment_config = forms.ChoiceField(label="Deployment configuration")
    deployment_style = forms.ChoiceField(label="Deployment type")
    deployment_option = forms.ChoiceField(label="Traffic control")
    tag_filters = TagSelectionField(label="Hosts with these tags")
    ignore_application_stop_failures = forms.BooleanField(
        required=False, label="Ignore ApplicationStop failures"
    )
    file_exists_behavior = forms.ChoiceField(label="Files that already exist")
    auto_rollback_events = forms.MultipleChoiceField(
        required=False,
        choices=ROLLBACK_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label="Roll back automatically when",
    )
    alarms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="CloudWatch alarms",
        help_text="One alarm name a line; blank switches alarm monitoring off.",
    )
    alarms_enabled = forms.BooleanField(required=False, initial=True, label="Monitor these alarms")
    ignore_poll_alarm_failure = forms.BooleanField(
        required=False, label="Carry on when the alarms cannot be read"
    )
    health_check_url = forms.CharField(
        required=False,
        max_length=500,
        label="Health check URL",
        help_text="A template per host, e.g. http://{hostname}:8080/health; blank switches it off.",
    )
    health_check_expected_status = forms.IntegerField(required=False, label="Expected HTTP status")
    health_check_bake_seconds = forms.FloatField(required=False, label="Bake time (seconds)")
    lb_router = forms.ChoiceField(required=False, choices=ROUTER_CHOICES, label="Load balancer")
    lb_target_groups = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Target group ARNs",
        help_text="ELBv2 only: one ARN a line.",
    )
    lb_region = forms.CharField(required=False, max_length=32, label="Target groups' region")
    lb_command = forms.CharField(
        required=False,
        max_length=64,
        label="Traffic command name",
        help_text="Command router only: NAME of a FLEETDECK_TRAFFIC_COMMAND_NAME set on the server.",
    )
    bg_source = forms.ChoiceField(required=False, choices=SOURCE_CHOICES, label="Green fleet from")
    bg_tag_filters = TagSelectionField(
        required=False,
        allow_sets=False,
        label="Green fleet tag filters",
        help_text="Standby pool or existing instances: one tag a line, as above.",
    )
    bg_auto_scaling_group = forms.CharField(
        required=False, max_length=255, label="Auto Scaling group to copy"
    )
    bg_reroute_action = forms.ChoiceField(
        required=False,
        choices=[
            ("CONTINUE_DEPLOYMENT", "Reroute traffic as soon as the greens are ready"),
            ("STOP_DEPLOYMENT", "Wait in Ready for a user to continue"),
        ],
        label="When the greens are ready",
    )
    bg_reroute_wait = forms.IntegerField(
        required=False, min_value=0, label="Wait for a continue (seconds)", help_text="Then it stops."
    )
    bg_originals_action = forms.ChoiceField(
        required=False,
        choices=[
            ("KEEP_ALIVE", "Keep the blues alive, outside the group"),
            ("TERMINATE", "Terminate the blues"),
            ("RELEASE", "Release the blues to the standby pool"),
        ],
        label="After the reroute",
    )
    bg_originals_wait = forms.IntegerField(
        required=False, min_value=0, label="Termination wait (seconds)", help_text="Baking time."
    )

    SECTIONS = [
        (
            "Deployment",
            (
                "deployment_config",
                "deployment_style",
                "deployment_option",
                "tag_filters",
                "ignore_application_stop_failures",
                "file_exists_behavior",
            ),
        ),
        ("Automatic rollback", ("auto_rollback_events",)),
        ("Alarms", ("alarms", "alarms_enabled", "ignore_poll_alarm_failure")),
        ("Health check", ("health_check_url", "health_check_expected_status", "health_check_bake_seconds")),
        ("Load balancer", ("lb_router", "lb_target_groups", "lb_region", "lb_command")),
        (
            "Blue/green",
            (
                "bg_source",
                "bg_tag_filters",
                "bg_auto_scaling_group",
                "bg_reroute_action",
                "bg_reroute_wait",
                "bg_originals_action",
                "bg_originals_wait",
            ),
        ),
    ]
    # Where the API's error keys land on this form; a nested key falls back to its section.
    ERROR_FIELDS = {
        "tag_set": "tag_filters",
        "tag_filters": "tag_filters",
        "health_check": "health_check_url",
        "health_check.url": "health_check_url",
        "health_check.expected_status": "health_check_expected_status",
        "health_check.bake_seconds": "health_check_bake_seconds",
        "alarm_configuration": "alarms",
        "load_balancer_info": "lb_router",
        "load_balancer_info.router": "lb_router",
        "load_balancer_info.target_groups": "lb_target_groups",
        "load_balancer_info.region": "lb_region",
        "load_balancer_info.command": "lb_command",
        "blue_green_configuration": "bg_source",
    }
    # The blue/green validator's messages start with the key they are about.
    BLUE_GREEN_PREFIXES = {
        "replacement.tag_filters": "bg_tag_filters",
        "replacement.auto_scaling_group": "bg_auto_scaling_group",
        "reroute": "bg_reroute_action",
        "originals": "bg_originals_action",
    }

    def __init__(self, *args, group, **kwargs):
        self.group = group
        kwargs.setdefault("initial", self.initial_for(group))
        super().__init__(*args, **kwargs)
        # The built-ins and the project's own configs; another project's are never offered.
        usable = DeploymentConfig.usable_in(group.application.project_id)
        names = usable.order_by("-builtin", "name").values_list("name", flat=True)
        self.fields["deployment_config"].choices = [(n, n) for n in names]
        self.fields["deployment_style"].choices = [
            (DeploymentStyle.IN_PLACE, "In place"),
            (DeploymentStyle.BLUE_GREEN, "Blue/green"),
        ]
        self.fields["deployment_option"].choices = [
            (DeploymentOption.WITHOUT_TRAFFIC_CONTROL, "Without traffic control"),
            (DeploymentOption.WITH_TRAFFIC_CONTROL, "With traffic control (needs a load balancer)"),
        ]
        self.fields["file_exists_behavior"].choices = [(v, words(v)) for v in FileExistsBehavior.values]

    @staticmethod
    def initial_for(group) -> dict:
        health = group.health_check or {}
        alarms = group.alarm_configuration or {}
        lb = group.load_balancer_info or {}
        bg = group.blue_green_configuration or {}
        replacement, reroute, originals = (bg.get(k) or {} for k in ("replacement", "reroute", "originals"))
        return {
            "deployment_config": group.deployment_config.name,
            "deployment_style": group.deployment_style,
            "deployment_option": group.deployment_option,
            "tag_filters": selection_text(group.tag_filters, group.tag_set),
            "ignore_application_stop_failures": group.ignore_application_stop_failures,
            "file_exists_behavior": group.file_exists_behavior,
            "auto_rollback_events": list(group.auto_rollback_events or []),
            "alarms": "\n".join(alarms.get("alarms") or []),
            "alarms_enabled": alarms.get("enabled", True),
            "ignore_poll_alarm_failure": alarms.get("ignore_poll_alarm_failure", False),
            "health_check_url": health.get("url", ""),
            "health_check_expected_status": health.get("expected_status"),
            "health_check_bake_seconds": health.get("bake_seconds"),
            "lb_router": lb.get("router", ""),
            "lb_target_groups": "\n".join(lb.get("target_groups") or []),
            "lb_region": lb.get("region", ""),
            "lb_command": lb.get("command", ""),
            "bg_source": replacement.get("source", ""),
            "bg_tag_filters": selection_text(replacement.get("tag_filters"), None),
            "bg_auto_scaling_group": replacement.get("auto_scaling_group", ""),
            "bg_reroute_action": reroute.get("action", "CONTINUE_DEPLOYMENT"),
            "bg_reroute_wait": reroute.get("wait_seconds", REROUTE_WAIT_SECONDS),
            "bg_originals_action": originals.get("action", "KEEP_ALIVE"),
            "bg_originals_wait": originals.get("wait_seconds", 0),
        }

    def payload(self) -> dict:
        """The API body these fields stand for. Keys the page does not show (timeouts, endpoints) are
        kept from what is stored."""
        data = self.cleaned_data
        group = self.group
        body = {
            key: data[key]
            for key in (
                "deployment_config",
                "deployment_style",
                "deployment_option",
                "ignore_application_stop_failures",
                "file_exists_behavior",
                "auto_rollback_events",
            )
        }
        body.update(data["tag_filters"])  # tag_filters and tag_set, one of them empty

        alarms = _lines(data["alarms"])
        body["alarm_configuration"] = (
            {
                **(group.alarm_configuration or {}),
                "alarms": alarms,
                "enabled": data["alarms_enabled"],
                "ignore_poll_alarm_failure": data["ignore_poll_alarm_failure"],
            }
            if alarms
            else None
        )

        if data["health_check_url"].strip():
            health = {**(group.health_check or {}), "url": data["health_check_url"].strip()}
            for name in ("expected_status", "bake_seconds"):
                value = data[f"health_check_{name}"]
                if value is None:
                    health.pop(name, None)
                else:
                    health[name] = value
            body["health_check"] = health
        else:
            body["health_check"] = None

        router = data["lb_router"]
        if router:
            lb = {
                k: v
                for k, v in (group.load_balancer_info or {}).items()
                if k not in ("target_groups", "command")
            }
            lb["router"] = router
            if router == "elbv2":
                lb["target_groups"] = _lines(data["lb_target_groups"])
                if data["lb_region"].strip():
                    lb["region"] = data["lb_region"].strip()
            else:
                lb["command"] = data["lb_command"].strip()
            body["load_balancer_info"] = lb
        else:
            body["load_balancer_info"] = None

        source = data["bg_source"]
        if source:
            stored = group.blue_green_configuration or {}
            replacement = {
                k: v
                for k, v in (stored.get("replacement") or {}).items()
                if k not in ("source", "tag_filters", "auto_scaling_group")
            }
            replacement["source"] = source
            if source == "asg_copy":
                replacement["auto_scaling_group"] = data["bg_auto_scaling_group"].strip()
            else:
                replacement["tag_filters"] = (data["bg_tag_filters"] or {}).get("tag_filters") or []
            body["blue_green_configuration"] = {
                "replacement": replacement,
                "reroute": {
                    "action": data["bg_reroute_action"] or "CONTINUE_DEPLOYMENT",
                    "wait_seconds": (
                        data["bg_reroute_wait"]
                        if data["bg_reroute_wait"] is not None
                        else REROUTE_WAIT_SECONDS
                    ),
                },
                "originals": {
                    "action": data["bg_originals_action"] or "KEEP_ALIVE",
                    "wait_seconds": data["bg_originals_wait"] or 0,
                },
            }
        else:
            body["blue_green_configuration"] = None
        return body

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.serializer = DeploymentGroupSerializer(
            self.group, data=self.payload(), partial=True, context={"application": self.group.application}
        )
        if not self.serializer.is_valid():
            for key, problems in self.serializer.errors.items():
                self._add_api_errors(key, problems)
        return data

    def _add_api_errors(self, key: str, problems) -> None:
        if isinstance(problems, dict):
            for inner, more in problems.items():
                self._add_api_errors(key if inner == "non_field_errors" else f"{key}.{inner}", more)
            return
        for problem in problems:
            message = str(problem)
            field = self.ERROR_FIELDS.get(key) or self.ERROR_FIELDS.get(key.split(".")[0])
            if key == "blue_green_configuration":
                prefix, field = next(
                    ((p, f) for p, f in self.BLUE_GREEN_PREFIXES.items() if message.startswith(p)),
                    ("", field),
                )
                message = _without_key(message, prefix)
            if field is None and key in self.fields:
                field = key
            if field is None:
                self.add_error(None, message)
            elif message not in self.errors.get(field, []):
                self.add_error(field, message)

    @property
    def sections(self):
        return self.SECTIONS

    def save(self):
        return self.serializer.save()

"""The shapes of the integrations API, for its answers and the OpenAPI schema. Secrets are write-only:
an answer says whether one is set (`token_set`), never what it is."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.forms import AwsForm, GitHubForm, JiraForm
from integrations.models import (
    AwsConnection,
    DeliveryKind,
    GitHubConnection,
    GitHubDelivery,
    JiraConnection,
    Trigger,
    TriggerDelivery,
    TriggerEvent,
)


class AutoDeployRuleSerializer(serializers.Serializer):
    branch = serializers.CharField()
    application = serializers.CharField()
    deployment_group = serializers.CharField()


class GitHubConnectionSerializer(serializers.ModelSerializer):
    token = serializers.CharField(write_only=True, required=False, help_text="Write-only.")
    webhook_secret = serializers.CharField(
        write_only=True,
        required=False,
        help_text="Write-only. Left out on a new connection, one is generated and never shown by the "
        "API: set your own to paste it into GitHub, or see it once on the connection's page.",
    )
    token_set = serializers.SerializerMethodField()
    webhook_secret_set = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField(help_text="The payload URL to give GitHub.")
    auto_deploy = serializers.SerializerMethodField()

    class Meta:
        model = GitHubConnection
        fields = [
            *GitHubForm.Meta.fields,
            "auto_deploy",
            "token_set",
            "webhook_secret_set",
            "webhook_url",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def get_token_set(self, obj) -> bool:
        return bool(obj.token)

    def get_webhook_secret_set(self, obj) -> bool:
        return bool(obj.webhook_secret)

    def get_webhook_url(self, obj) -> str:
        return self.context.get("webhook_url", "")

    @extend_schema_field(AutoDeployRuleSerializer(many=True))
    def get_auto_deploy(self, obj) -> list[dict]:
        return [
            {"branch": r.branch, "application": r.group.application.name, "deployment_group": r.group.name}
            for r in obj.rules.select_related("group__application")
        ]


class JiraConnectionSerializer(serializers.ModelSerializer):
    token = serializers.CharField(write_only=True, required=False, help_text="Write-only.")
    token_set = serializers.SerializerMethodField()

    class Meta:
        model = JiraConnection
        fields = [*JiraForm.Meta.fields, "token_set", "updated_at"]
        read_only_fields = ["updated_at"]

    def get_token_set(self, obj) -> bool:
        return bool(obj.token)


class AwsConnectionSerializer(serializers.ModelSerializer):
    secret_access_key = serializers.CharField(write_only=True, required=False, help_text="Write-only.")
    secret_access_key_set = serializers.SerializerMethodField()
    external_id = serializers.CharField(
        read_only=True, help_text="Sent with sts:AssumeRole; the role's trust policy must require it."
    )

    class Meta:
        model = AwsConnection
        fields = [*AwsForm.Meta.fields, "external_id", "secret_access_key_set", "updated_at"]
        read_only_fields = ["updated_at"]

    def get_secret_access_key_set(self, obj) -> bool:
        return bool(obj.secret_access_key)


class ConnectionsSerializer(serializers.Serializer):
    github = GitHubConnectionSerializer(allow_null=True)
    jira = JiraConnectionSerializer(allow_null=True)
    aws = AwsConnectionSerializer(allow_null=True)
    issue_tracker = serializers.CharField(help_text='"", "jira" or "github": what the Issues tile shows.')


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField(help_text="What worked, or what to fix.")


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    checks = CheckSerializer(many=True)


class IssueTrackerSerializer(serializers.Serializer):
    issue_tracker = serializers.ChoiceField(
        choices=["", "jira", "github"],
        allow_blank=True,
        help_text='"" (JIRA when connected, else GitHub Issues), "jira" or "github".',
    )


class TriggerSerializer(serializers.ModelSerializer):
    application = serializers.CharField(source="group.application.name")
    deployment_group = serializers.CharField(source="group.name")
    events = serializers.ListField(child=serializers.ChoiceField(choices=TriggerEvent.values))
    target = serializers.SerializerMethodField(
        help_text="The URL or email addresses; null for a Slack trigger, whose URL is a credential."
    )
    secret = serializers.CharField(write_only=True, required=False, help_text="Write-only.")
    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = Trigger
        fields = [
            "id",
            "name",
            "application",
            "deployment_group",
            "events",
            "kind",
            "target",
            "secret",
            "secret_set",
            "enabled",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_target(self, obj) -> str | None:
        return None if obj.kind == DeliveryKind.SLACK else obj.target

    def get_secret_set(self, obj) -> bool:
        return bool(obj.secret)


class TriggerDeliverySerializer(serializers.ModelSerializer):
    trigger_name = serializers.CharField(source="trigger.name")

    class Meta:
        model = TriggerDelivery
        fields = [
            "id",
            "delivery_id",
            "trigger",
            "trigger_name",
            "event",
            "deployment_id",
            "instance",
            "attempt",
            "ok",
            "status_code",
            "error",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields


class GitHubDeliverySerializer(serializers.ModelSerializer):
    deployments = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = GitHubDelivery
        fields = ["delivery_id", "event", "ref", "commit", "result", "deployments", "received_at"]
        read_only_fields = fields

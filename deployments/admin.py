from django.contrib import admin

from .models import (
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    Instance,
    RegistrationToken,
    Revision,
)


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]


@admin.register(DeploymentConfig)
class DeploymentConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "minimum_healthy_type", "minimum_healthy_value", "builtin"]


@admin.register(DeploymentGroup)
class DeploymentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "application", "deployment_config", "deployment_style"]


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "hostname", "online", "last_seen", "agent_version", "deregistered_at"]
    exclude = ["credential_hash"]


@admin.register(RegistrationToken)
class RegistrationTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "project", "description", "expires_at", "revoked_at", "uses", "max_uses"]
    exclude = ["token_hash"]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "bundle_type", "sha256", "created_at"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "deployment_group", "status", "error_code", "created_at"]
    list_filter = ["status"]

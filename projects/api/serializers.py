from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from projects.models import Membership, Project, Role


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["name", "slug", "description", "template", "repository", "role", "created_at"]
        read_only_fields = ["template", "repository", "created_at"]

    def get_role(self, obj) -> str | None:
        # Annotated by the view: the requester's role, without a query per row.
        return getattr(obj, "my_role", None)

    def validate_slug(self, value: str) -> str:
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("A project's slug cannot change; it is part of its URLs.")
        return value


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = ["created_at"]

    def validate_username(self, value: str):
        if self.instance is not None:
            if value != self.instance.user.username:
                raise serializers.ValidationError("Remove the member and add the other user instead.")
            return value
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No user named {value!r}.")
        project = self.context["project"]
        if Membership.objects.filter(project=project, user=user).exists():
            raise serializers.ValidationError(f"{value} is already a member of {project.slug}.")
        return value

"""Projects and their members over the API. Outsiders get 404, members below the role 403."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from projects.access import require_slug
from projects.models import Membership, Project, Role

from .exceptions import Conflict
from .serializers import MembershipSerializer, ProjectSerializer


def _member_project(request, slug: str, role: str) -> Project:
    membership = require_slug(request.user, slug, role)
    project = membership.project
    project.my_role = membership.role
    return project


def refuse_losing_last_owner(membership: Membership, new_role: str | None) -> None:
    """Raise a 400 when removing or demoting `membership` would leave the project without an owner."""
    if membership.role != Role.OWNER or new_role == Role.OWNER:
        return
    owners = Membership.objects.filter(project_id=membership.project_id, role=Role.OWNER)
    if owners.exclude(pk=membership.pk).count() == 0:
        raise ValidationError(
            {"role": ["A project needs at least one owner; make someone else owner first."]}
        )


class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ProjectSerializer
    permission_classes = [IsAuthenticated]
    lookup_field = "slug"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        mine = Membership.objects.filter(project=OuterRef("pk"), user=self.request.user).values("role")[:1]
        return (
            Project.objects.for_user(self.request.user)
            .annotate(my_role=Subquery(mine))
            .order_by("name", "pk")
        )

    def get_object(self):
        needed = Role.VIEWER if self.request.method in ("GET", "HEAD", "OPTIONS") else Role.OWNER
        return _member_project(self.request, self.kwargs["slug"], needed)

    def perform_destroy(self, instance: Project) -> None:
        busy = instance.busy_with()
        if busy:
            raise Conflict(f"{busy} is still running in {instance.slug}; stop it first.")
        instance.delete_with_history()

    def perform_create(self, serializer) -> None:
        with transaction.atomic():
            project = serializer.save(created_by=self.request.user)
            Membership.objects.create(project=project, user=self.request.user, role=Role.OWNER)
        project.my_role = Role.OWNER


class MembershipViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MembershipSerializer
    permission_classes = [IsAuthenticated]
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        needed = Role.VIEWER if request.method in ("GET", "HEAD", "OPTIONS") else Role.OWNER
        self.project = _member_project(request, kwargs["slug"], needed)

    def get_queryset(self):
        return (
            Membership.objects.filter(project=self.project).select_related("user").order_by("user__username")
        )

    def get_object(self):
        return get_object_or_404(self.get_queryset(), user__username=self.kwargs["username"])

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if hasattr(self, "project"):
            context["project"] = self.project
        return context

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = get_user_model().objects.get(username=serializer.validated_data["user"]["username"])
        membership = Membership.objects.create(
            project=self.project, user=user, role=serializer.validated_data["role"]
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = self.get_serializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        role = serializer.validated_data.get("role", membership.role)
        with transaction.atomic():
            # Lock the owners so two concurrent demotions cannot both pass the check.
            list(Membership.objects.select_for_update().filter(project=self.project, role=Role.OWNER))
            refuse_losing_last_owner(membership, role)
            membership.role = role
            membership.save(update_fields=["role"])
        return Response(self.get_serializer(membership).data)

    def perform_destroy(self, instance: Membership) -> None:
        with transaction.atomic():
            list(Membership.objects.select_for_update().filter(project=self.project, role=Role.OWNER))
            refuse_losing_last_owner(instance, None)
            instance.delete()

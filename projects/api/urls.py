from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views import MembershipViewSet, ProjectViewSet

app_name = "projects-api"

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")

members = SimpleRouter()
members.register("members", MembershipViewSet, basename="member")

urlpatterns = [
    path("projects/<slug:slug>/", include(members.urls)),
    *router.urls,
]

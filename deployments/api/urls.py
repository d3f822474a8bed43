from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .applications import ApplicationViewSet, DeploymentGroupViewSet, RevisionViewSet
from .configs import DeploymentConfigViewSet
from .deployments import DeploymentPlanView, DeploymentViewSet
from .fleet import InstanceViewSet, RegistrationTokenViewSet

app_name = "api"

router = SimpleRouter()
router.register("applications", ApplicationViewSet, basename="application")
router.register("deployments", DeploymentViewSet, basename="deployment")
router.register("deployment-configs", DeploymentConfigViewSet, basename="deployment-config")
router.register("instances", InstanceViewSet, basename="instance")
router.register("registration-tokens", RegistrationTokenViewSet, basename="registration-token")

per_application = SimpleRouter()
per_application.register("deployment-groups", DeploymentGroupViewSet, basename="deployment-group")
per_application.register("revisions", RevisionViewSet, basename="revision")

urlpatterns = [
    path("deployment-plans/", DeploymentPlanView.as_view(), name="deployment-plans"),
    path("applications/<str:application>/", include(per_application.urls)),
    *router.urls,
]

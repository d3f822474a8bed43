from django.urls import include, path

from . import views
from .views import fleet, groups, wizard

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("dashboard.api.urls")),
    path("", views.home, name="home"),
    path("projects/new/", wizard.start, name="wizard"),
    path("projects/new/starter/<slug:key>.tgz", wizard.starter, name="wizard_starter"),
    path("projects/new/<slug:step>/", wizard.step, name="wizard_step"),
    path("p/<slug:slug>/", views.project, name="project"),
    path("p/<slug:slug>/fleet/", fleet.fleet, name="fleet"),
    path("p/<slug:slug>/fleet/tokens/", fleet.tokens, name="fleet_tokens"),
    path("p/<slug:slug>/fleet/tokens/new/", fleet.token_create, name="fleet_token_new"),
    path("p/<slug:slug>/fleet/tokens/<int:token_id>/revoke/", fleet.token_revoke, name="fleet_token_revoke"),
    path("p/<slug:slug>/fleet/install/", fleet.install, name="fleet_install"),
    path("p/<slug:slug>/groups/<str:app>/<str:group>/", groups.group_detail, name="group_detail"),
    path("p/<slug:slug>/deployments/", include("deployments.pages.urls")),
]

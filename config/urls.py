from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deployments.codedeploy.views import endpoint as codedeploy_endpoint

handler404 = "deployments.api.errors.not_found"  # JSON under /api/, Django's page elsewhere

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as its own response (?script), so the page
    # needs no inline script; its template drops drf-spectacular's inline <style> for a static file.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("api/v1/", include("deployments.api.urls")),
    path("api/v1/", include("projects.api.urls")),
    path("api/v1/", include("integrations.api.urls")),
    path("agent/v1/", include("deployments.agent_api.urls")),
    path("agent/", include("deployments.agent_dist.urls")),
    # CodeDeploy's own API (AWS JSON 1.1 and Smithy RPC v2 CBOR), signed with access keys.
    path("codedeploy", codedeploy_endpoint, name="codedeploy"),
    path("codedeploy/", include("deployments.codedeploy.urls")),
    path("integrations/", include("integrations.urls")),
    path("", include("dashboard.urls")),
]

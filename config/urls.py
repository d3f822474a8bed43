from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

handler404 = "deployments.api.errors.not_found"  # JSON under /api/, Django's page elsewhere

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("deployments.api.urls")),
    path("agent/v1/", include("deployments.agent_api.urls")),
    path("agent/", include("deployments.agent_dist.urls")),
    path("integrations/", include("integrations.urls")),
    path("", include("dashboard.urls")),
]

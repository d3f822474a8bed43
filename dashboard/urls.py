from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.project, name="project"),
    path("p/<slug:slug>/deployments/", include("deployments.pages.urls")),
]

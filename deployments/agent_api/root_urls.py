"""The URL configuration the lean agent handler resolves against: the agent API alone, so resolving an
agent's call does not try every other route of the site first."""

from django.urls import include, path

urlpatterns = [path("agent/v1/", include("deployments.agent_api.urls"))]

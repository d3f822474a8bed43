from django.urls import path

from deployments import live

from . import create, detail, listing, revisions

urlpatterns = [
    path("", listing.deployment_list, name="deployment_list"),
    path("new/", create.create, name="deployment_create"),
    path("revisions/", revisions.revision_list, name="revision_list"),
    path("revisions/upload", revisions.revision_upload, name="revision_upload"),
    path("revisions/register", revisions.revision_register, name="revision_register"),
    path("<str:deployment_id>/", detail.detail, name="deployment_detail"),
    path("<str:deployment_id>/stop", detail.stop, name="deployment_stop"),
    path("<str:deployment_id>/continue", detail.continue_, name="deployment_continue"),
    path("<str:deployment_id>/redeploy", detail.redeploy, name="deployment_redeploy"),
    path("<str:deployment_id>/stream", live.stream, name="deployment_stream"),
]

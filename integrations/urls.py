from django.urls import path

from . import views
from .github import webhook

app_name = "integrations"

urlpatterns = [
    path("github/<slug:slug>/webhook", webhook.receive, name="github_webhook"),
    path("p/<slug:slug>/", views.index, name="index"),
    path("p/<slug:slug>/deliveries/", views.deliveries, name="deliveries"),
    path("p/<slug:slug>/triggers/new/", views.trigger_edit, name="trigger_new"),
    path("p/<slug:slug>/triggers/<int:pk>/", views.trigger_edit, name="trigger_edit"),
    path("p/<slug:slug>/triggers/<int:pk>/delete/", views.trigger_delete, name="trigger_delete"),
    path("p/<slug:slug>/ec2/<int:group_id>/", views.ec2, name="ec2"),
    path("p/<slug:slug>/github/new-secret/", views.github_new_secret, name="github_new_secret"),
    path("p/<slug:slug>/issue-tracker/", views.issue_tracker, name="issue_tracker"),
    path("p/<slug:slug>/codedeploy-import/", views.codedeploy_import_start, name="codedeploy_import_start"),
    path("p/<slug:slug>/codedeploy-import/<int:pk>/", views.codedeploy_import, name="codedeploy_import"),
    path("p/<slug:slug>/<str:kind>/", views.edit, name="edit"),
    path("p/<slug:slug>/<str:kind>/test/", views.test, name="test"),
    path("p/<slug:slug>/<str:kind>/delete/", views.delete, name="delete"),
]

from django.urls import path

from . import connections, ec2, triggers

app_name = "integrations-api"

urlpatterns = [
    path("projects/<slug:slug>/connections/", connections.ConnectionListView.as_view(), name="connections"),
    path(
        "projects/<slug:slug>/connections/<str:kind>/",
        connections.ConnectionView.as_view(),
        name="connection",
    ),
    path(
        "projects/<slug:slug>/connections/<str:kind>/test/",
        connections.ConnectionTestView.as_view(),
        name="connection-test",
    ),
    path("projects/<slug:slug>/issue-tracker/", connections.IssueTrackerView.as_view(), name="issue-tracker"),
    path("projects/<slug:slug>/triggers/", triggers.TriggerListView.as_view(), name="triggers"),
    path("projects/<slug:slug>/triggers/<int:pk>/", triggers.TriggerView.as_view(), name="trigger"),
    path(
        "projects/<slug:slug>/triggers/<int:pk>/deliveries/",
        triggers.TriggerDeliveryListView.as_view(),
        name="trigger-deliveries",
    ),
    path("projects/<slug:slug>/deliveries/", triggers.TriggerDeliveryListView.as_view(), name="deliveries"),
    path(
        "projects/<slug:slug>/github-deliveries/",
        triggers.GitHubDeliveryListView.as_view(),
        name="github-deliveries",
    ),
    path("projects/<slug:slug>/ec2-discovery/", ec2.Ec2DiscoveryListView.as_view(), name="ec2-discoveries"),
    path(
        "projects/<slug:slug>/ec2-discovery/<str:application>/<str:group>/",
        ec2.Ec2DiscoveryView.as_view(),
        name="ec2-discovery",
    ),
]

from django.urls import path

from . import views

app_name = "agent_api"
urlpatterns = [
    path("register/", views.register, name="register"),
    path("poll/", views.poll, name="poll"),
    path("heartbeat/", views.heartbeat, name="heartbeat"),
    path("commands/<uuid:command_id>/ack/", views.ack, name="ack"),
    path("commands/<uuid:command_id>/log/", views.log_lines, name="log"),
    path("commands/<uuid:command_id>/complete/", views.complete, name="complete"),
    path("bundles/<int:revision_id>/", views.bundle, name="bundle"),
]

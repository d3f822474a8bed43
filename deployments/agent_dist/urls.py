from django.urls import path

from . import views

app_name = "agent_dist"
urlpatterns = [
    path("install.sh", views.install_script, name="install_script"),
    path("dist/", views.dist_index, name="index"),
    path("dist/<str:filename>", views.dist_file, name="file"),
]

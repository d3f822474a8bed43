from django.urls import include, path

from . import views
from .views import access_keys, accounts, applications, fleet, groups, settings, wizard

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Before Django's own: the reset mail links to FLEETDECK_PUBLIC_URL, never to the request's Host.
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", views.home, name="home"),
    path("profile/", accounts.profile, name="profile"),
    path("profile/tokens/", accounts.tokens, name="profile_tokens"),
    path("profile/tokens/<int:token_id>/revoke/", accounts.token_revoke, name="profile_token_revoke"),
    path("profile/access-keys/", access_keys.access_keys, name="profile_access_keys"),
    path(
        "profile/access-keys/<int:key_id>/revoke/",
        access_keys.access_key_revoke,
        name="profile_access_key_revoke",
    ),
    path("projects/new/", wizard.start, name="wizard"),
    path("projects/new/starter/<slug:key>.tgz", wizard.starter, name="wizard_starter"),
    path("projects/new/<slug:step>/", wizard.step, name="wizard_step"),
    path("p/<slug:slug>/", views.project, name="project"),
    path("p/<slug:slug>/settings/", settings.settings_page, name="project_settings"),
    path("p/<slug:slug>/settings/delete/", settings.delete, name="project_delete"),
    path("p/<slug:slug>/team/", settings.members, name="project_team"),
    path("p/<slug:slug>/settings/members/", settings.old_members, name="project_members"),
    path(
        "p/<slug:slug>/settings/members/<str:username>/role/",
        settings.member_role,
        name="project_member_role",
    ),
    path(
        "p/<slug:slug>/settings/members/<str:username>/remove/",
        settings.member_remove,
        name="project_member_remove",
    ),
    path("p/<slug:slug>/fleet/", fleet.fleet, name="fleet"),
    path("p/<slug:slug>/fleet/tokens/", fleet.tokens, name="fleet_tokens"),
    path("p/<slug:slug>/fleet/tokens/new/", fleet.token_create, name="fleet_token_new"),
    path("p/<slug:slug>/fleet/tokens/<int:token_id>/revoke/", fleet.token_revoke, name="fleet_token_revoke"),
    path("p/<slug:slug>/fleet/install/", fleet.install, name="fleet_install"),
    path("p/<slug:slug>/groups/", applications.groups, name="groups"),
    path("p/<slug:slug>/groups/new/", applications.group_create, name="group_create"),
    path("p/<slug:slug>/applications/new/", applications.application_create, name="application_create"),
    path(
        "p/<slug:slug>/applications/<str:app>/delete/",
        applications.application_delete,
        name="application_delete",
    ),
    path("p/<slug:slug>/configs/new/", applications.config_create, name="config_create"),
    path("p/<slug:slug>/configs/<str:name>/", applications.config_edit, name="config_edit"),
    path("p/<slug:slug>/configs/<str:name>/delete/", applications.config_delete, name="config_delete"),
    path("p/<slug:slug>/groups/<str:app>/<str:group>/", groups.group_detail, name="group_detail"),
    path(
        "p/<slug:slug>/groups/<str:app>/<str:group>/delete/", applications.group_delete, name="group_delete"
    ),
    path("p/<slug:slug>/deployments/", include("deployments.pages.urls")),
]

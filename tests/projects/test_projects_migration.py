"""Moving Project, Membership and ApiToken from dashboard/ to projects/ on a PostgreSQL database that
holds them: the rows, their ids, the foreign keys that point at them and their content types survive,
and tokens issued before still authenticate.

The database is migrated back to before projects/0001, filled through the historical models as a
server's database is today, then migrated forward with Django's executor, as `manage.py migrate` does.
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from fleetdeck_testing import require

from projects.models import ApiToken, Membership, Project, Role

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("projects", None)]  # unapplies projects/0001 and everything that depends on it
RAW_TOKEN = "fdp_before-the-move-0123456789"


def migrate(targets) -> object:
    """Migrate to `targets` and return the app registry of the database's state then."""
    MigrationExecutor(connection).migrate(targets)
    loader = MigrationLoader(connection)
    return loader.project_state(list(loader.applied_migrations)).apps


@pytest.fixture
def old_apps():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL=postgres://…)")
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield migrate(BEFORE)
    finally:
        migrate(leaves)


def seed(apps) -> dict:
    User = apps.get_model("auth", "User")
    Project = apps.get_model("dashboard", "Project")
    Membership = apps.get_model("dashboard", "Membership")
    ApiToken = apps.get_model("dashboard", "ApiToken")
    Application = apps.get_model("deployments", "Application")
    Instance = apps.get_model("deployments", "Instance")
    GitHubConnection = apps.get_model("integrations", "GitHubConnection")
    ContentTypeThen = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")

    ada = User.objects.create(username="ada")
    bob = User.objects.create(username="bob")
    shop = Project.objects.create(name="Shop", slug="shop", repository="acme/shop", created_by=ada)
    blog = Project.objects.create(name="Blog", slug="blog")
    Membership.objects.create(project=shop, user=ada, role="owner")
    Membership.objects.create(project=shop, user=bob, role="viewer")
    Membership.objects.create(project=blog, user=bob, role="contributor")
    token = ApiToken.objects.create(
        user=ada, name="ci", token_hash=hashlib.sha256(RAW_TOKEN.encode()).hexdigest(), prefix=RAW_TOKEN[:8]
    )
    app = Application.objects.create(project=shop, name="shop")
    instance = Instance.objects.create(
        name="web-1", project=shop, credential_hash="c" * 64, credential_prefix="fdi_", tags={}
    )
    GitHubConnection.objects.create(project=shop, repository="acme/shop", api_url="https://api.github.com")
    # What a server that has run migrate holds: the models' content types, and a permission on one.
    project_type = ContentTypeThen.objects.get_or_create(app_label="dashboard", model="project")[0]
    permission = Permission.objects.create(
        content_type=project_type, codename="audit_project", name="Can audit project"
    )
    return {
        "shop": shop.pk,
        "blog": blog.pk,
        "ada": ada.pk,
        "bob": bob.pk,
        "token": token.pk,
        "application": app.pk,
        "instance": instance.pk,
        "project_type": project_type.pk,
        "permission": permission.pk,
    }


def test_projects_members_and_tokens_survive_the_move(old_apps):
    ids = seed(old_apps)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    shop = Project.objects.get(pk=ids["shop"])
    assert (shop.slug, shop.repository, shop.created_by_id) == ("shop", "acme/shop", ids["ada"])
    assert sorted(Membership.objects.values_list("project_id", "user_id", "role")) == sorted(
        [
            (ids["shop"], ids["ada"], "owner"),
            (ids["shop"], ids["bob"], "viewer"),
            (ids["blog"], ids["bob"], "contributor"),
        ]
    )
    # The foreign keys of the other apps still reach the same rows.
    assert shop.applications.get().pk == ids["application"]
    assert shop.instances.get().pk == ids["instance"]
    assert shop.github_connection.repository == "acme/shop"
    # A token issued before the move still signs in.
    token = ApiToken.authenticate(RAW_TOKEN)
    assert token is not None and token.pk == ids["token"] and token.user_id == ids["ada"]
    # The access API works on the moved rows.
    bob = token.user.__class__.objects.get(pk=ids["bob"])
    assert list(Project.objects.for_user(bob, Role.CONTRIBUTOR).values_list("slug", flat=True)) == ["blog"]
    # The content type moved with the model, so what pointed at it (a permission) still does.
    project_type = ContentType.objects.get(pk=ids["project_type"])
    assert (project_type.app_label, project_type.model) == ("projects", "project")
    assert ContentType.objects.get_for_model(Project).pk == ids["project_type"]


def test_new_rows_continue_the_old_sequences(old_apps):
    ids = seed(old_apps)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    newer = Project.objects.create(name="Docs", slug="docs")
    assert newer.pk > max(ids["shop"], ids["blog"])


def test_the_move_can_be_undone(old_apps):
    ids = seed(old_apps)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    back = migrate(BEFORE)
    Project = back.get_model("dashboard", "Project")
    assert Project.objects.get(pk=ids["shop"]).slug == "shop"
    ContentTypeThen = back.get_model("contenttypes", "ContentType")
    assert ContentTypeThen.objects.get(pk=ids["project_type"]).app_label == "dashboard"

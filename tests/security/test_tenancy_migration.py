"""The tenancy migrations (deployments 0011-0015) on a PostgreSQL database holding today's data.

The database is migrated back to before them (deployments 0008), filled through the historical
models with what a server has today (custom configs used by one project, by two, by past
deployments only, by nothing; applications, instances and registration tokens), then migrated
forward with Django's migration executor, as `manage.py migrate` does.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from fleetdeck_testing import require

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("deployments", "0008_elastic_load_balancing_invalid")]


def migrate(targets) -> object:
    """Migrate to `targets` and return the app registry of the database's state then (every app's
    applied migrations, not only those `targets` depend on)."""
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
    Project = apps.get_model("dashboard", "Project")
    Application = apps.get_model("deployments", "Application")
    Config = apps.get_model("deployments", "DeploymentConfig")
    Group = apps.get_model("deployments", "DeploymentGroup")
    Revision = apps.get_model("deployments", "Revision")
    Deployment = apps.get_model("deployments", "Deployment")
    Instance = apps.get_model("deployments", "Instance")
    Token = apps.get_model("deployments", "RegistrationToken")

    one_at_a_time = Config.objects.get_or_create(
        name="CodeDeployDefault.OneAtATime",
        defaults={"minimum_healthy_type": "FLEET_PERCENT", "minimum_healthy_value": 99, "builtin": True},
    )[0]
    projects = {
        slug: Project.objects.create(name=slug.title(), slug=slug)
        for slug in ("north", "south", "east", "idle")
    }
    configs = {
        name: Config.objects.create(name=name, minimum_healthy_type="HOST_COUNT", minimum_healthy_value=value)
        for name, value in (("solo", 1), ("shared", 3), ("history-only", 2), ("unused", 4))
    }
    apps_by_slug, groups = {}, {}
    for slug in ("north", "south", "east"):
        app = Application.objects.create(name=f"{slug}-app", project=projects[slug])
        apps_by_slug[slug] = app
        groups[slug] = Group.objects.create(
            application=app, name="web", deployment_config=one_at_a_time, tag_filters=[]
        )
    Group.objects.filter(pk=groups["north"].pk).update(deployment_config=configs["solo"])
    groups["north-2"] = Group.objects.create(
        application=apps_by_slug["north"], name="api", deployment_config=configs["shared"], tag_filters=[]
    )
    Group.objects.filter(pk=groups["south"].pk).update(deployment_config=configs["shared"])

    def past_deployment(slug: str, config, deployment_id: str):
        app = apps_by_slug[slug]
        revision = Revision.objects.create(
            application=app, bundle_type="tgz", sha256=f"{len(deployment_id):064x}"
        )
        return Deployment.objects.create(
            id=deployment_id,
            application=app,
            deployment_group=groups[slug],
            revision=revision,
            deployment_config=config,
            file_exists_behavior="DISALLOW",
            status="Succeeded",
        )

    deployments = {
        "south-shared": past_deployment("south", configs["shared"], "d-SOUTH0001"),
        "east-history": past_deployment("east", configs["history-only"], "d-EAST00001"),
    }
    token = Token.objects.create(
        project=projects["north"], token_hash="a" * 64, prefix="fdr_abcd", tags={"role": "web"}
    )
    for name, slug in (("web-1", "north"), ("web-2", "south")):
        Instance.objects.create(
            name=name,
            project=projects[slug],
            credential_hash=name.ljust(64, "0"),
            credential_prefix="fdi_",
            registration_token=token if slug == "north" else None,
            tags={"role": "web"},
        )
    return {
        "projects": {slug: p.pk for slug, p in projects.items()},
        "configs": {name: c.pk for name, c in configs.items()},
        "groups": {name: g.pk for name, g in groups.items()},
        "deployments": {name: d.pk for name, d in deployments.items()},
    }


def test_custom_configs_go_to_the_projects_that_use_them(old_apps):
    ids = seed(old_apps)
    new_apps = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    Config = new_apps.get_model("deployments", "DeploymentConfig")
    Group = new_apps.get_model("deployments", "DeploymentGroup")
    Deployment = new_apps.get_model("deployments", "Deployment")
    projects = ids["projects"]

    def configs_named(name: str) -> dict[int, tuple]:
        return {
            c.project_id: (c.pk, c.minimum_healthy_type, c.minimum_healthy_value)
            for c in Config.objects.filter(name=name)
        }

    # Used in one project: it is that project's.
    assert configs_named("solo") == {projects["north"]: (ids["configs"]["solo"], "HOST_COUNT", 1)}
    # Used in two: the first keeps it, the other gets an identical copy; its group and past deployment
    # use the copy, so an edit in one project changes nothing in the other.
    shared = configs_named("shared")
    assert set(shared) == {projects["north"], projects["south"]}
    assert shared[projects["north"]] == (ids["configs"]["shared"], "HOST_COUNT", 3)
    copy_pk = shared[projects["south"]][0]
    assert copy_pk != ids["configs"]["shared"] and shared[projects["south"]][1:] == ("HOST_COUNT", 3)
    assert Group.objects.get(pk=ids["groups"]["south"]).deployment_config_id == copy_pk
    assert Group.objects.get(pk=ids["groups"]["north-2"]).deployment_config_id == ids["configs"]["shared"]
    assert Deployment.objects.get(pk=ids["deployments"]["south-shared"]).deployment_config_id == copy_pk
    # Used only by a past deployment: that deployment's project.
    assert configs_named("history-only") == {
        projects["east"]: (ids["configs"]["history-only"], "HOST_COUNT", 2)
    }
    # Used nowhere: every project could use it, so every project has it.
    assert set(configs_named("unused")) == set(projects.values())
    # The built-ins stay global.
    builtin = Config.objects.get(name="CodeDeployDefault.OneAtATime")
    assert builtin.project_id is None and builtin.builtin
    assert not Config.objects.filter(builtin=False, project__isnull=True).exists()


def test_applications_instances_and_tokens_are_kept_and_names_become_per_project(old_apps):
    ids = seed(old_apps)
    new_apps = migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    Application = new_apps.get_model("deployments", "Application")
    Instance = new_apps.get_model("deployments", "Instance")
    Token = new_apps.get_model("deployments", "RegistrationToken")
    Config = new_apps.get_model("deployments", "DeploymentConfig")
    projects = ids["projects"]
    assert sorted(Application.objects.values_list("name", "project_id")) == sorted(
        (f"{slug}-app", projects[slug]) for slug in ("north", "south", "east")
    )
    assert sorted(Instance.objects.values_list("name", "project_id")) == [
        ("web-1", projects["north"]),
        ("web-2", projects["south"]),
    ]
    token = Token.objects.get()
    assert (token.uses, token.max_uses) == (0, None)
    assert list(token.instances.values_list("name", flat=True)) == ["web-1"]

    # From now on a name is unique within its project only.
    Application.objects.create(name="north-app", project_id=projects["south"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(name="north-app", project_id=projects["north"])
    Instance.objects.create(name="web-1", project_id=projects["south"], credential_hash="b" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        Instance.objects.create(name="web-1", project_id=projects["north"], credential_hash="c" * 64)
    Instance.objects.filter(name="web-1", project_id=projects["north"]).update(
        deregistered_at="2026-01-01T00:00Z"
    )
    Instance.objects.create(name="web-1", project_id=projects["north"], credential_hash="d" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        Config.objects.create(
            name="solo",
            project_id=projects["north"],
            minimum_healthy_type="HOST_COUNT",
            minimum_healthy_value=0,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Config.objects.create(
            name="global",
            builtin=True,
            project_id=projects["north"],
            minimum_healthy_type="HOST_COUNT",
            minimum_healthy_value=0,
        )


def test_migrating_back_merges_the_copies_into_one_global_config(old_apps):
    ids = seed(old_apps)
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(leaves)
    back = migrate(BEFORE)
    Config = back.get_model("deployments", "DeploymentConfig")
    Group = back.get_model("deployments", "DeploymentGroup")
    assert Config.objects.filter(name="shared").count() == 1
    assert Config.objects.filter(name="unused").count() == 1
    assert Group.objects.get(pk=ids["groups"]["south"]).deployment_config_id == ids["configs"]["shared"]

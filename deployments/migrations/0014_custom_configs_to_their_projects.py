"""Give each existing custom deployment config to the project(s) that use it (issue 14, item 6).

Before this, custom configs were global: any contributor of any project could create, use, edit or
delete any of them. Now each belongs to one project. For each custom config:

* used (by a deployment group, or by a past deployment) in one project: it goes to that project;
* used in several projects: the project with the lowest id keeps it, and every other project gets an
  identical copy of its own, to which that project's groups and past deployments are re-pointed (so
  a later edit in one project changes nothing in another);
* used nowhere: every project could use it until now, and a script may name it (`fleetdeck deploy
  --config NAME`), so every project gets it (the first the original, the others copies). Owners
  delete the copies they do not want. With no project at all it stays unassigned, where no one sees it.

Groups and deployments of applications outside any project (there are none outside tests) do not
count as users. The reverse merges identical copies back into one global config, and refuses when
copies of one name have come to differ.
"""

from django.db import migrations


def give_custom_configs_to_projects(apps, schema_editor):
    Config = apps.get_model("deployments", "DeploymentConfig")
    Group = apps.get_model("deployments", "DeploymentGroup")
    Deployment = apps.get_model("deployments", "Deployment")
    Project = apps.get_model("dashboard", "Project")
    every_project = list(Project.objects.order_by("pk").values_list("pk", flat=True))
    for config in Config.objects.filter(builtin=False, project__isnull=True).order_by("pk"):
        users = set(
            Group.objects.filter(deployment_config=config, application__project__isnull=False).values_list(
                "application__project_id", flat=True
            )
        )
        users |= set(
            Deployment.objects.filter(deployment_config=config, application__project__isnull=False).values_list(
                "application__project_id", flat=True
            )
        )
        targets = sorted(users) or every_project
        if not targets:
            continue
        first, *others = targets
        config.project_id = first
        config.save(update_fields=["project"])
        for project_id in others:
            copy = Config.objects.create(
                project_id=project_id,
                name=config.name,
                minimum_healthy_type=config.minimum_healthy_type,
                minimum_healthy_value=config.minimum_healthy_value,
                builtin=False,
            )
            Config.objects.filter(pk=copy.pk).update(created_at=config.created_at)
            Group.objects.filter(deployment_config=config, application__project_id=project_id).update(
                deployment_config=copy
            )
            Deployment.objects.filter(deployment_config=config, application__project_id=project_id).update(
                deployment_config=copy
            )


def merge_back(apps, schema_editor):
    Config = apps.get_model("deployments", "DeploymentConfig")
    Group = apps.get_model("deployments", "DeploymentGroup")
    Deployment = apps.get_model("deployments", "Deployment")
    custom = Config.objects.filter(builtin=False).order_by("name", "pk")
    by_name: dict = {}
    for config in custom:
        by_name.setdefault(config.name, []).append(config)
    for name, configs in by_name.items():
        kept, *copies = configs
        rules = {(c.minimum_healthy_type, c.minimum_healthy_value) for c in configs}
        if len(rules) > 1:
            raise RuntimeError(
                f"Cannot make deployment configs global again: projects have different configs named {name}. "
                "Rename or delete all but one of them, then migrate back."
            )
        for copy in copies:
            Group.objects.filter(deployment_config=copy).update(deployment_config=kept)
            Deployment.objects.filter(deployment_config=copy).update(deployment_config=kept)
            copy.delete()
    custom.update(project=None)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_api_token_expiry"),
        ("deployments", "0013_deploymentconfig_project"),
    ]

    operations = [migrations.RunPython(give_custom_configs_to_projects, merge_back)]

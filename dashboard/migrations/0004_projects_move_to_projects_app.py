"""Project, Membership and ApiToken now belong to projects/ (its 0001 took them over, tables and all).

Here they leave dashboard's state; no table changes. Their content types are renamed with them, so
permissions and admin history that point at them keep pointing at them.
"""

from django.db import migrations

MOVED = ("project", "membership", "apitoken")


def rename_content_types(apps, schema_editor, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        # A content type created for the new label already (a partly applied upgrade) wins.
        if not ContentType.objects.using(db).filter(app_label=target, model=model).exists():
            ContentType.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, "dashboard", "projects")


def backwards(apps, schema_editor) -> None:
    rename_content_types(apps, schema_editor, "projects", "dashboard")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("dashboard", "0003_api_token_expiry"),
        ("projects", "0001_initial"),
        # Nothing may point at dashboard.Project any more when it leaves the state.
        ("deployments", "0016_project_foreign_keys_to_projects_app"),
        ("integrations", "0004_project_foreign_keys_to_projects_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ApiToken"),
                migrations.DeleteModel(name="Membership"),
                migrations.DeleteModel(name="Project"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]

from django.apps import AppConfig

from deployments import integration_points
from deployments.signals import deployment_changed

# What this app provides to deployments/ (deployments/integration_points.py): dotted paths, imported
# on first use, so loading Django does not load boto3 or PyGithub.
PROVIDES = {
    "aws_for_project": "integrations.aws.client.for_project",
    "revision_download": "integrations.aws.revisions.revision_fetch",
    "fetch_revision": "integrations.github.archive.fetch_archive",
    "register_s3_revision": "integrations.aws.revisions.register_s3_revision",
    "upload_s3_revision": "integrations.aws.revisions.upload_s3_revision",
    "register_github_revision": "integrations.github.revisions.register_github_revision",
    "issue_links": "integrations.links.links_for",
    "has_issue_links": "integrations.links.has_links",
    "commit_url": "integrations.revision_links.commit_url",
    "revision_source_links": "integrations.revision_links.source_links",
}


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from .receivers import on_deployment_changed  # imports the models: not before the registry is ready

        deployment_changed.connect(on_deployment_changed, dispatch_uid="integrations.deployment_changed")
        for point, dotted_path in PROVIDES.items():
            integration_points.provide(point, dotted_path)

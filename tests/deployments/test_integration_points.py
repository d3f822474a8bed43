"""deployments/integration_points.py: how the rollout core reaches outside systems without importing
integrations/. Each point is provided by integrations/ (a dotted path, imported on first use); without
a provider, each has a default that says what is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

from deployments import integration_points
from deployments.integration_points import NotConfigured, RevisionRefused, RevisionUnavailable
from integrations.apps import PROVIDES

ROOT = Path(__file__).resolve().parents[2]


def test_integrations_provides_every_point_with_a_function_that_imports():
    assert set(PROVIDES) == set(integration_points.POINTS)
    for point, dotted_path in PROVIDES.items():
        assert integration_points.provided(point)
        assert callable(import_string(dotted_path)), point


def test_an_unknown_point_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="no integration point 'traffic'; known: aws_for_project"):
        integration_points.provide("traffic", "integrations.aws.client.for_project")


@pytest.fixture
def nothing_provided(monkeypatch):
    monkeypatch.setattr(integration_points, "_providers", {})
    monkeypatch.setattr(integration_points, "_resolved", {})


class Revision:
    source = "github"
    location: dict = {}


def test_without_integrations_nothing_is_linked_and_nothing_is_downloaded(nothing_provided):
    assert integration_points.revision_download(Revision()) is None
    assert integration_points.issue_links("d-ABCDEF123") == []
    assert integration_points.commit_url(Revision()) == ""
    assert integration_points.revision_source_links(project=None)(Revision()) == ("github", "")


def test_without_integrations_outside_revisions_are_refused_saying_why(nothing_provided):
    with pytest.raises(NotConfigured, match="no AWS integration"):
        integration_points.aws_for_project(None, region="eu-west-1")
    with pytest.raises(RevisionRefused, match="no GitHub integration"):
        integration_points.register_github_revision(None, "acme/shop", "abc1234")
    with pytest.raises(RevisionRefused, match="no S3 integration"):
        integration_points.register_s3_revision(None, "s3://bucket/key.tgz", bundle_type="tgz")
    with pytest.raises(RevisionUnavailable) as caught:
        integration_points.fetch_revision(Revision())
    assert caught.value.code == "REVISION_MISSING"


def test_the_integrations_errors_are_the_points_errors():
    """deployments/ catches the point's errors; the integrations raise their own subclasses."""
    from integrations.aws.client import AwsNotConfigured
    from integrations.aws.revisions import S3RevisionError
    from integrations.github.revisions import GitHubRevisionError

    assert issubclass(AwsNotConfigured, NotConfigured)
    assert issubclass(S3RevisionError, RevisionRefused)
    refused = GitHubRevisionError("Not a commit.", "commit")
    assert isinstance(refused, RevisionRefused) and (refused.message, refused.field) == (
        "Not a commit.",
        "commit",
    )


def test_importing_the_rollout_core_imports_no_integration():
    """Without Django set up, so no AppConfig.ready() imports anything on its behalf."""
    probe = (
        "import sys; import deployments.integration_points, deployments.signals, deployments.planner; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('integrations', 'dashboard')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

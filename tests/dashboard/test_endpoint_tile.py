"""The application-endpoint tile: the load balancer's DNS name (moto), else the health-check URL, else a host."""

from __future__ import annotations

import re

import pytest
from aws_fixtures import target_group_behind_a_load_balancer
from django.test import Client
from factories import make_app, make_group, make_instance, make_member, make_project

from deployments.models import DeploymentGroup
from integrations.models import AwsConnection

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return make_project("shop")


def endpoint_tile(project) -> str:
    client = Client()
    client.force_login(make_member(project, f"viewer{id(client)}", "viewer"))
    answer = client.get("/p/shop/")
    assert answer.status_code == 200
    match = re.search(r'<section[^>]*id="tile-endpoint"[^>]*>(.*?)</section>', answer.content.decode(), re.S)
    assert match, "no endpoint tile"
    return match.group(0)


def load_balancer(endpoint_url: str) -> tuple[str, str]:
    """An application load balancer forwarding to a target group; returns (target group ARN, DNS name)."""
    _vpc, arn, dns = target_group_behind_a_load_balancer(endpoint_url, 30, name="shop-web")
    return arn, dns


def elb_group(project, arn: str):
    group = make_group(make_app("shop", project=project), "web")
    DeploymentGroup.objects.filter(pk=group.pk).update(
        deployment_option="WITH_TRAFFIC_CONTROL",
        load_balancer_info={"router": "elbv2", "target_groups": [arn]},
    )
    make_instance("web-1", project=project, hostname="web-1.example.internal", role="web")
    return group


def test_a_group_behind_elb_target_groups_shows_the_load_balancers_dns_name(project, aws_env):
    arn, dns = load_balancer(aws_env)
    elb_group(project, arn)
    connection = AwsConnection.objects.create(
        project=project, endpoint_url=aws_env, access_key_id="testing", secret_access_key="testing"
    )
    html = endpoint_tile(project)
    assert dns in html and "load balancer" in html
    assert "web-1.example.internal" not in html

    # Cached: a second page view makes no AWS call, even with AWS gone.
    AwsConnection.objects.filter(pk=connection.pk).update(endpoint_url="http://127.0.0.1:9")
    assert dns in endpoint_tile(project)


def test_aws_errors_fall_back_to_the_host_with_the_reason(project, aws_env, settings):
    settings.FLEETDECK_INTEGRATIONS_INTERACTIVE_TIMEOUT = 1.0
    elb_group(
        project, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcdef"
    )
    AwsConnection.objects.create(
        project=project, endpoint_url="http://127.0.0.1:9", access_key_id="testing", secret_access_key="x"
    )
    html = endpoint_tile(project)
    assert "web-1.example.internal" in html and "fallback" in html
    assert "could not be read from AWS" in html and "Could not connect" in html


def test_without_an_aws_connection_the_tile_says_how_to_get_the_dns_name(project):
    elb_group(project, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef")
    html = endpoint_tile(project)
    assert "Connect AWS" in html and "web-1.example.internal" in html


def test_the_health_check_url_comes_before_the_host_fallback(project):
    app = make_app("shop", project=project)
    checked = make_group(app, "web")
    make_group(app, "api")
    DeploymentGroup.objects.filter(pk=checked.pk).update(
        health_check={"url": "http://{hostname}:8080/health"}
    )
    make_instance("web-1", project=project, hostname="web-1.example.internal", role="web")
    make_instance("api-1", project=project, hostname="api-1.example.internal", role="api")
    html = endpoint_tile(project)
    assert 'href="http://web-1.example.internal:8080/health"' in html and "health-check URL" in html
    assert "<code>api-1.example.internal</code>" in html and "fallback" in html


def test_a_bare_host_is_not_offered_as_a_link_but_the_tile_says_where_to_give_the_url(project):
    make_group(make_app("shop", project=project), "api")
    make_instance("api-1", project=project, hostname="api-1.example.internal", role="api")
    html = endpoint_tile(project)
    assert 'href="http://api-1' not in html and 'href="api-1' not in html  # no port known: no dead link
    assert 'href="/p/shop/groups/shop/api/#id_health_check_url"' in html
    assert "Set a health check URL" in html

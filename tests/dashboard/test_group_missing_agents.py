"""'Agent missing' on the group page: EC2 instances of the group with no registered agent (moto)."""

from __future__ import annotations

import pytest
from aws_fixtures import aws_client
from django.test import Client
from factories import make_app, make_aws, make_group, make_instance, make_member, make_project

from integrations.models import AwsConnection, Ec2Discovery
from integrations.tasks import discover_ec2

pytestmark = pytest.mark.django_db

URL = "/p/shop/groups/shop/web/"


@pytest.fixture
def group():
    return make_group(make_app("shop", project=make_project("shop")), "web")


def page(group, role: str = "viewer") -> str:
    client = Client()
    client.force_login(make_member(group.application.project, role, role))
    answer = client.get(URL)
    assert answer.status_code == 200
    return answer.content.decode()


def test_without_an_aws_connection_the_page_says_nothing_about_ec2(group):
    assert "Agent missing" not in page(group)


def test_ec2_instances_without_an_agent_are_listed_with_the_install_hint(group, aws_env):
    ec2 = aws_client("ec2", aws_env)
    ids = sorted(
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-12345678",
            MinCount=3,
            MaxCount=3,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"}]}],
        )["Instances"]
    )
    make_aws(group.application.project, aws_env)
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "role", "value": "web"}])
    host = make_instance("web-1", project=group.application.project, role="web")
    host.ec2_instance_id = ids[0]
    host.save(update_fields=["ec2_instance_id"])

    discover_ec2.delay(group.pk)

    html = page(group)
    assert "Agent missing" in html
    assert "no registered agent (2)" in html
    assert ids[0] not in html.split("Agent missing")[1].split("</section>")[0]
    for missing in ids[1:]:
        assert f'<code class="missing-agent">{missing}</code>' in html
    assert "/p/shop/fleet/install/" in html


def test_an_unreachable_aws_is_a_clear_message_not_a_500(group, aws_env):
    make_aws(group.application.project, aws_env)
    AwsConnection.objects.update(endpoint_url="http://127.0.0.1:9")
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "role", "value": "web"}])
    discover_ec2.delay(group.pk)

    html = page(group, "owner")
    assert "AWS could not be asked which instances belong to this group" in html
    assert "Could not connect" in html
    assert "/integrations/p/shop/" in html  # the owner gets the way to fix it


def test_a_discovery_that_has_not_run_yet_claims_nothing(group, aws_env):
    make_aws(group.application.project, aws_env)
    Ec2Discovery.objects.create(group=group, tag_filters=[{"key": "role", "value": "web"}])
    html = page(group)
    assert "Not checked yet" in html and "Every EC2 instance" not in html


def test_a_group_without_discovery_says_so(group, aws_env):
    make_aws(group.application.project, aws_env)
    html = page(group, "contributor")
    assert "EC2 discovery is not set up for this group" in html
    agents = html[html.index('id="agents-h"') : html.index("</section>", html.index('id="agents-h"'))]
    assert "/integrations/p/shop/" not in agents  # only owners manage integrations

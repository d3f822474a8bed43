"""One moto server for the whole test session (per xdist worker), on 127.0.0.1.

Fixtures (registered for every test by tests/conftest.py):

* ``moto_server``: the endpoint URL of the session's server; state is shared, nothing is reset.
* ``aws_env``: the same URL, after a reset of every moto backend (``/moto-api/reset``) and with
  fake credentials in the environment (no real AWS credentials anywhere near a test).

Starting a server costs about a second and every server holds its own state, so tests share this one
and start from a clean slate through ``aws_env`` instead of starting their own.
"""

from __future__ import annotations

import boto3
import pytest
import requests

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def aws_client(service: str, endpoint_url: str, region: str = REGION):
    """A boto3 client for the test's own set-up and assertions, against the moto server."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **CREDENTIALS)


def reset_moto(endpoint_url: str) -> None:
    """Forget every bucket, instance, alarm… the server holds."""
    requests.post(f"{endpoint_url}/moto-api/reset", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, moto_server, settings):
    """Fresh moto state for this test, and only fake credentials in the environment, which the server's
    own credential chain may use for every project (as an operator allows with
    FLEETDECK_AWS_DEFAULT_CREDENTIALS=all; tests/security checks the default, none)."""
    reset_moto(moto_server)
    settings.AWS_DEFAULT_CREDENTIALS = ["all"]
    monkeypatch.setenv("FLEETDECK_AWS_DEFAULT_CREDENTIALS", "all")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return moto_server


def target_group_behind_a_load_balancer(
    endpoint_url: str, octet: int, name: str = "web"
) -> tuple[str, str, str]:
    """A VPC in 10.<octet>.0.0/16 with an application load balancer whose listener forwards to a new
    instance target group; returns (VPC id, target group ARN, the load balancer's DNS name)."""
    ec2, elbv2 = aws_client("ec2", endpoint_url), aws_client("elbv2", endpoint_url)
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name=f"{name}-lb", Subnets=subnets)["LoadBalancers"][0]
    arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
    )
    return vpc, arn, balancer["DNSName"]

"""The agent's EC2 instance id from instance metadata (IMDSv2), against a local fake metadata server."""

from __future__ import annotations

import time

import pytest
from fakes import imds_fake
from fleetdeck_agent import ec2

from config.stack import free_port


@pytest.fixture
def imds():
    fake = imds_fake()
    yield fake
    fake.stop()


def test_it_asks_for_a_token_then_reads_the_instance_id_with_it(imds):
    assert ec2.instance_id(imds.url) == "i-0123456789abcdef0"
    put, get = imds.requests
    assert (put.method, put.path) == ("PUT", "/latest/api/token")
    assert int(put.headers["x-aws-ec2-metadata-token-ttl-seconds"]) > 0
    assert (get.method, get.path) == ("GET", "/latest/meta-data/instance-id")
    assert get.headers["x-aws-ec2-metadata-token"] == "imds-session-token"


def test_the_metadata_url_comes_from_the_environment(imds, monkeypatch):
    monkeypatch.setenv("FLEETDECK_AGENT_EC2_METADATA_URL", imds.url)
    assert ec2.metadata_url() == imds.url
    assert ec2.instance_id() == "i-0123456789abcdef0"
    monkeypatch.delenv("FLEETDECK_AGENT_EC2_METADATA_URL")
    assert ec2.metadata_url() == "http://169.254.169.254"


def test_off_ec2_nothing_listening_means_no_id():
    assert ec2.instance_id(f"http://127.0.0.1:{free_port()}") is None


def test_a_metadata_server_that_never_answers_costs_only_the_short_timeout(imds):
    imds.delay = 3
    started = time.monotonic()
    assert ec2.instance_id(imds.url, timeout=0.3) is None
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("status", [403, 404, 500])
def test_a_refused_token_means_no_id(imds, status):
    imds.next_statuses = [status]
    assert ec2.instance_id(imds.url) is None
    assert len(imds.requests) == 1  # no instance-id request without a token


def test_something_that_is_not_an_instance_id_is_ignored(imds):
    imds.instance_id = "<html>captive portal</html>"
    assert ec2.instance_id(imds.url) is None

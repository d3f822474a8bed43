"""CodeDeploy endpoint benchmark: boto3 calls answered in process, per wire protocol.

Seeds an application, a group of 3 instances and N finished deployments into a fresh test database (a
throwaway SQLite file unless DATABASE_URL is set, in which case Django's test database beside it), then
times real boto3 calls (signed, validated, encoded) sent through Django's test client instead of a
socket: the whole view, signature check included, without the network. Prints p50/p95 in ms and
queries per call; asserts nothing.

    python bench/codedeploy.py [--calls 200] [--deployments 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = "target: p95 < 50 ms per call (the endpoint's own cost; AWS's CLI adds its start-up)"


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(round(q / 100 * (len(values) - 1)), len(values) - 1)]


def seed(deployments: int):
    from django.contrib.auth import get_user_model

    from deployments.models import (
        Application,
        Deployment,
        DeploymentConfig,
        DeploymentGroup,
        DeploymentTarget,
        Instance,
        LifecycleEvent,
        Revision,
    )
    from projects.models import AccessKey, Membership, Project, Role

    user = get_user_model().objects.create_user("bench", password="bench")
    project = Project.objects.create(name="Bench", slug="bench")
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    config = DeploymentConfig.objects.get(name="CodeDeployDefault.OneAtATime")
    app = Application.objects.create(project=project, name="shop")
    group = DeploymentGroup.objects.create(
        application=app, name="web", deployment_config=config, tag_filters=[{"key": "role", "value": "web"}]
    )
    hosts = []
    for n in range(3):
        host = Instance(name=f"web-{n}", project=project, tags={"role": "web"})
        host.rotate_credential()
        host.save()
        hosts.append(host)
    revision = Revision.objects.create(application=app, bundle_type="tgz", sha256="c" * 64)
    ids = []
    for _ in range(deployments):
        deployment = Deployment.objects.create(
            application=app,
            deployment_group=group,
            revision=revision,
            deployment_config=config,
            status="Succeeded",
            file_exists_behavior="DISALLOW",
        )
        ids.append(deployment.pk)
    last = Deployment.objects.get(pk=ids[-1])
    for position, host in enumerate(hosts):
        target = DeploymentTarget.objects.create(
            deployment=last, instance=host, position=position, status="Succeeded"
        )
        for number, name in enumerate(
            ("ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart")
        ):
            LifecycleEvent.objects.create(target=target, name=name, position=number, status="Succeeded")
    key, secret = AccessKey.issue(user, project)
    return key, secret, ids


def client_for(key, secret: str, protocol: str, django_client):
    import boto3
    import botocore.session
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("codedeploy", "service-2")
    wire = {"json": "json", "cbor": "smithy-rpc-v2-cbor"}[protocol]
    model["metadata"]["protocols"], model["metadata"]["protocol"] = [wire], wire
    base = Path(tempfile.mkdtemp(prefix=f"bench-codedeploy-{protocol}-"))
    folder = base / "codedeploy" / loader.determine_latest_version("codedeploy", "service-2")
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(base))
    boto = boto3.Session(botocore_session=session).client(
        "codedeploy",
        endpoint_url="http://testserver/codedeploy",
        region_name="us-east-1",
        aws_access_key_id=key.key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )

    class Raw:
        def __init__(self, content):
            self.content = content

        def stream(self, **kwargs):
            yield self.content

    def send(request, **kwargs):
        url = urlsplit(request.url)
        text = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        meta = {
            "HTTP_" + k.upper().replace("-", "_"): v for k, v in text.items() if k.lower() != "content-type"
        }
        response = django_client.generic(
            "POST",
            url.path,
            data=request.body or b"",
            content_type=text.get("Content-Type", ""),
            HTTP_HOST=url.netloc,
            **meta,
        )
        return AWSResponse(request.url, response.status_code, dict(response.items()), Raw(response.content))

    boto.meta.events.register_first("before-send.codedeploy", send)
    return boto


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--deployments", type=int, default=500)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeck-bench-codedeploy-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False, serialize=False)
    try:
        key, secret, ids = seed(args.deployments)
        print(f"seeded {args.deployments} deployments ({connection.vendor}); {args.calls} calls each")
        print(TARGET)
        calls = [
            ("GetDeployment (3 instances)", lambda c: c.get_deployment(deploymentId=ids[-1])),
            ("ListDeployments (a page of 100)", lambda c: c.list_deployments(applicationName="shop")),
            ("BatchGetDeployments (25)", lambda c: c.batch_get_deployments(deploymentIds=ids[:25])),
            (
                "BatchGetDeploymentInstances (3)",
                lambda c: c.batch_get_deployment_instances(
                    deploymentId=ids[-1], instanceIds=["web-0", "web-1", "web-2"]
                ),
            ),
            (
                "GetDeploymentGroup",
                lambda c: c.get_deployment_group(applicationName="shop", deploymentGroupName="web"),
            ),
        ]
        for protocol in ("json", "cbor"):
            boto = client_for(key, secret, protocol, Client())
            for label, call in calls:
                call(boto)  # warm
                times, queries = [], 0
                with override_settings(DEBUG=True):
                    for _ in range(args.calls):
                        reset_queries()
                        started = time.perf_counter()
                        call(boto)
                        times.append((time.perf_counter() - started) * 1000)
                        queries = len(connection.queries)
                print(
                    f"{protocol:4} {label:34} p50 {statistics.median(times):6.1f} ms  "
                    f"p95 {percentile(times, 95):6.1f} ms  {queries} queries"
                )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

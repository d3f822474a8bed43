"""Traffic routers: how the server takes hosts out of, and puts them back into, a load balancer.

A deployment group's `load_balancer_info` names one:

* ``{"router": "elbv2", "target_groups": ["arn:…"], "region": "eu-west-1", "endpoint_url": null,
  "port": null, "drain_timeout": 300, "health_timeout": 300}``: AWS ELBv2 target groups, by the
  hosts' EC2 instance ids (reported by the agent).
* ``{"router": "command", "command": "haproxy"}``: an operator-configured command, for on-premises
  balancers (nginx, HAProxy…). The command itself comes from the server's environment,
  ``FLEETDECK_TRAFFIC_COMMAND_HAPROXY=/usr/local/bin/lb-switch``, never from a user, and is run as
  ``<command> allow|block <instance-name>=<hostname> …`` with FLEETDECK_* variables describing the
  deployment. Exit status 0 means done.

Every call returns a `Shift` saying what happened and how long the wait for health or draining took:
on CodeDeploy that wait is the top source of slowness, so Fleetdeck shows it on the timeline.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from . import integration_points

ALLOW, BLOCK = "allow", "block"


class RouterError(Exception):
    def __init__(self, message: str, *, code: str = "UnknownError"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Shift:
    ok: bool
    message: str
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class Host:
    name: str
    hostname: str
    ec2_instance_id: str = ""


class Router(Protocol):
    def shift(self, action: str, hosts: list[Host], context: dict) -> Shift: ...


def configured_commands() -> dict[str, str]:
    """The operator's routers, FLEETDECK_TRAFFIC_COMMAND_<NAME>, as read at start (settings)."""
    return settings.TRAFFIC_COMMANDS


class CommandRouter:
    def __init__(self, name: str, timeout: float = 300.0):
        commands = configured_commands()
        if name.lower() not in commands:
            known = ", ".join(sorted(commands)) or "none"
            raise RouterError(
                f"No traffic command named {name!r} is configured on the server (configured: {known}). "
                f"Set FLEETDECK_TRAFFIC_COMMAND_{name.upper()} for the web server and workers."
            )
        self.argv = shlex.split(commands[name.lower()])
        self.timeout = timeout

    def shift(self, action: str, hosts: list[Host], context: dict) -> Shift:
        env = {**os.environ, **{f"FLEETDECK_{k.upper()}": str(v) for k, v in context.items()}}
        argv = [*self.argv, action, *(f"{h.name}={h.hostname or h.name}" for h in hosts)]
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return Shift(False, f"{argv[0]} {action} did not finish within {self.timeout:g} s", self.timeout)
        except OSError as exc:
            return Shift(False, f"{argv[0]} could not be run: {exc.strerror}")
        took = time.monotonic() - started
        output = (done.stdout + done.stderr).strip()[-2000:]
        if done.returncode != 0:
            return Shift(False, f"{argv[0]} {action} exited with {done.returncode}: {output}", took)
        return Shift(True, f"{argv[0]} {action} took {took:.2f} s" + (f": {output}" if output else ""), took)


class Elbv2Router:
    def __init__(self, info: dict, project=None):
        from botocore.config import Config

        if not info.get("target_groups"):
            raise RouterError("The elbv2 router needs at least one target group ARN in target_groups.")
        self.target_groups = list(info["target_groups"])
        self.port = info.get("port")
        self.drain_timeout = float(info.get("drain_timeout", 300))
        self.health_timeout = float(info.get("health_timeout", 300))
        self.poll = float(info.get("poll_interval", 2))
        self._aws_args = {
            "region": info.get("region") or None,
            "endpoint_url": info.get("endpoint_url") or None,
            "config": Config(
                connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"}
            ),
        }
        self.project = project
        self._aws = self._client = None

    @property
    def aws(self):
        """The project's AWS connection (its keys or role; the server's chain only where the operator
        allows it), made on first use so a misconfiguration is reported by the event that needs it."""
        if self._aws is None:
            try:
                self._aws = integration_points.aws_for_project(self.project, **self._aws_args)
            except integration_points.NotConfigured as exc:
                raise RouterError(str(exc), code="ELASTIC_LOAD_BALANCING_INVALID") from None
        return self._aws

    @property
    def client(self):
        if self._client is None:
            self._client = self.aws.client("elbv2")
        return self._client

    def _targets(self, hosts: list[Host]) -> list[dict]:
        missing = [h.name for h in hosts if not h.ec2_instance_id]
        if missing:
            raise RouterError(
                f"{', '.join(missing)} reported no EC2 instance id, so it cannot be registered with a target group.",
                code="ELB_INVALID_INSTANCE",
            )
        unknown = self.aws.verify_instances([h.ec2_instance_id for h in hosts])
        if unknown:
            named = ", ".join(
                f"{h.name} ({h.ec2_instance_id})" for h in hosts if h.ec2_instance_id in unknown
            )
            raise RouterError(
                f"{named} reported an EC2 instance id that this project's AWS account does not have "
                f"(DescribeInstances in {self.aws.region} found none), so it is not registered with a "
                "load balancer. Check the host's agent and the project's AWS connection (account and region).",
                code="ELB_INVALID_INSTANCE",
            )
        return [{"Id": h.ec2_instance_id, **({"Port": int(self.port)} if self.port else {})} for h in hosts]

    def _states(self, arn: str, targets: list[dict]) -> dict[str, str]:
        answer = self.client.describe_target_health(TargetGroupArn=arn, Targets=targets)
        return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in answer["TargetHealthDescriptions"]}

    def _check_attached(self) -> None:
        """A target group no load balancer forwards to moves no traffic, and AWS reports its targets
        `unused` for ever: say so at once instead of waiting out health_timeout on every host."""
        try:
            groups = self.client.describe_target_groups(TargetGroupArns=self.target_groups)["TargetGroups"]
        except self.client.exceptions.TargetGroupNotFoundException as exc:
            raise RouterError(
                f"A target group in target_groups does not exist: {exc}",
                code="ELASTIC_LOAD_BALANCING_INVALID",
            ) from None
        loose = sorted(g["TargetGroupName"] for g in groups if not g.get("LoadBalancerArns"))
        if loose:
            raise RouterError(
                f"Target group(s) {', '.join(loose)} are not attached to any load balancer, so registering "
                "hosts there moves no traffic. Add a listener rule that forwards to them, or fix target_groups.",
                code="ELASTIC_LOAD_BALANCING_INVALID",
            )

    def shift(self, action: str, hosts: list[Host], context: dict) -> Shift:
        targets = self._targets(hosts)
        self._check_attached()
        started = time.monotonic()
        for arn in self.target_groups:
            if action == BLOCK:
                self.client.deregister_targets(TargetGroupArn=arn, Targets=targets)
            else:
                self.client.register_targets(TargetGroupArn=arn, Targets=targets)
        wanted = ("unused",) if action == BLOCK else ("healthy",)
        limit = self.drain_timeout if action == BLOCK else self.health_timeout
        while True:
            pending = {
                f"{target_id} in {arn.rsplit('/', 2)[-2] if '/' in arn else arn}": state
                for arn in self.target_groups
                for target_id, state in self._states(arn, targets).items()
                if state not in wanted
            }
            waited = time.monotonic() - started
            if not pending:
                verb = "drained from" if action == BLOCK else "healthy in"
                return Shift(
                    True, f"{verb} {len(self.target_groups)} target group(s) after {waited:.1f} s", waited
                )
            if waited > limit:
                what = ", ".join(f"{k}: {v}" for k, v in sorted(pending.items()))
                return Shift(False, f"Still not {wanted[0]} after {limit:g} s: {what}", waited)
            time.sleep(self.poll)


def router_for(info: dict, project=None) -> Router:
    """`project` (a Project or its id) is whose AWS connection an elbv2 router acts with."""
    kind = (info or {}).get("router")
    if kind == "elbv2":
        return Elbv2Router(info, project)
    if kind == "command":
        return CommandRouter(str(info.get("command", "")), float(info.get("timeout", 300)))
    raise RouterError(f"Unknown traffic router {kind!r}; use 'elbv2' or 'command'.")

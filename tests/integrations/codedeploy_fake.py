"""moto's CodeDeploy, plus what it lacks, on 127.0.0.1: a small proxy in front of the moto server.

moto (5.2) answers CreateApplication, ListApplications, BatchGetApplications, Create/Get/ListDeploymentGroups
and Create/GetDeployment (some members of a group empty),
but not ListDeploymentConfigs, GetDeploymentConfig, BatchGetDeploymentGroups,
ListApplicationRevisions or a deployment that ever succeeds. This proxy answers those from `state`
(BatchGetDeploymentGroups from moto's own GetDeploymentGroup, plus the group's last successful deployment
the test sets) in whichever protocol the client spoke, and forwards everything else (S3, EC2…) to moto.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2
import requests
from aws_fixtures import aws_client

from deployments.codedeploy import protocol

MARKER = "/service/CodeDeploy_20141006/operation/"


@dataclass
class State:
    configs: dict[str, dict] = field(default_factory=dict)  # name -> deploymentConfigInfo
    revisions: dict[str, list[dict]] = field(default_factory=dict)  # application -> locations, newest first
    succeeded: dict[tuple[str, str], dict] = field(default_factory=dict)  # (app, group) -> deploymentInfo
    # Members of a group's info that moto leaves out or empties (alarmConfiguration, autoScalingGroups'
    # names and hooks), as AWS answers them: (app, group) -> members laid over moto's answer.
    overlay: dict[tuple[str, str], dict] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)


class CodeDeployFake:
    def __init__(self, moto_url: str):
        self.moto_url, self.state = moto_url, State()
        self.moto = aws_client("codedeploy", moto_url)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the operations moto lacks ------------------------------------------------------------

    def answer(self, operation: str, params: dict) -> dict | None:
        state = self.state
        if operation == "ListDeploymentConfigs":
            return {"deploymentConfigsList": ["CodeDeployDefault.OneAtATime", *state.configs]}
        if operation == "GetDeploymentConfig":
            return {"deploymentConfigInfo": state.configs[params["deploymentConfigName"]]}
        if operation == "ListApplicationRevisions":
            return {"revisions": state.revisions.get(params["applicationName"], [])}
        if operation == "BatchGetDeploymentGroups":
            app, found = params["applicationName"], []
            for name in params["deploymentGroupNames"]:
                info = self.moto.get_deployment_group(applicationName=app, deploymentGroupName=name)
                info = info["deploymentGroupInfo"]
                info.update(state.overlay.get((app, name), {}))
                if (app, name) in state.succeeded:
                    deployment = state.succeeded[(app, name)]
                    info["lastSuccessfulDeployment"] = {
                        "deploymentId": deployment["deploymentId"],
                        "status": "Succeeded",
                        "endTime": deployment["completeTime"],
                        "createTime": deployment["createTime"],
                    }
                found.append(info)
            return {"deploymentGroupsInfo": found}
        if operation == "GetDeployment":
            for deployment in state.succeeded.values():
                if deployment["deploymentId"] == params["deploymentId"]:
                    return {"deploymentInfo": deployment}
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                cbor = MARKER in self.path
                target = self.headers.get("X-Amz-Target", "")
                operation = self.path.split(MARKER, 1)[1] if cbor else target.partition(".")[2]
                answer = None
                if operation:
                    fake.state.calls.append(operation)
                    params = (cbor2.loads(body) if cbor else json.loads(body)) if body else {}
                    answer = fake.answer(operation, params)
                if answer is not None:
                    wire = protocol.CBOR if cbor else protocol.JSON
                    shape = protocol.operation_model(operation).output_shape
                    data, ctype = protocol.encode(wire, protocol.shape_out(shape, answer, wire))
                    status, headers = 200, {"Content-Type": ctype}
                    if cbor:
                        headers["smithy-protocol"] = "rpc-v2-cbor"
                else:
                    forwarded = requests.request(
                        self.command,
                        fake.moto_url + self.path,
                        data=body,
                        headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                        timeout=30,
                    )
                    status, data = forwarded.status_code, forwarded.content
                    dropped = ("transfer-encoding", "connection", "content-encoding")
                    if self.command != "HEAD":
                        dropped += ("content-length",)
                    headers = {k: v for k, v in forwarded.headers.items() if k.lower() not in dropped}
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler

"""A tiny in-process fake of the server's `/agent/v1/` API, for run-loop and register tests.

It is the network boundary, not our code: the agent under test runs as a real subprocess.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # agents under test hang up mid-poll when they stop


class FakeAgentApi:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list = []
        self.commands: list = []  # pending until acked
        self.acked: list = []
        self.logs: dict = {}
        self.completes: dict = {}  # command id -> (time, body) of its first completion
        self.completions: list = []  # every completion, in order: a command completed twice shows here
        self.log_repeats: list = []  # (command id, seq) of every log line received again
        self.heartbeats = 0
        self.register_answer = {"instance_id": 1, "name": "x", "credential": "fdi_x"}
        self.register_status = 201
        self.ack_status: dict = {}
        self.hand_over: dict = {}  # command id -> commands the answer to its completion hands over
        self.bundles: dict = {}
        self.poll_delay = 0.2
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, data=None, raw=None):
                body = raw if raw is not None else json.dumps(data or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urlsplit(self.path).path
                if path in api.bundles:
                    self._send(200, raw=api.bundles[path])
                else:
                    self._send(404, {"detail": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = urlsplit(self.path)
                with api.lock:
                    api.requests.append(
                        {"path": parts.path, "body": body, "authorization": self.headers.get("Authorization")}
                    )
                self._send(*api.answer(parts.path, parse_qs(parts.query), body))

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, path: str, query: dict, body: dict):
        if path == "/agent/v1/register/":
            if self.register_status != 201:
                return self.register_status, {"detail": "Invalid registration token"}
            return 201, self.register_answer
        if path == "/agent/v1/poll/":
            deadline = time.monotonic() + min(float(query.get("wait", ["1"])[0]), self.poll_delay)
            while time.monotonic() < deadline:
                with self.lock:
                    if self.commands:
                        break
                time.sleep(0.02)
            with self.lock:
                return 200, {"commands": list(self.commands)}
        if path == "/agent/v1/heartbeat/":
            with self.lock:
                self.heartbeats += 1
            return 200, {}
        command_id, action = path.rstrip("/").split("/")[-2:]
        with self.lock:
            if action == "ack":
                status = self.ack_status.get(command_id, 200)
                self.commands = [c for c in self.commands if c["id"] != command_id]
                if status == 200:
                    self.acked.append(command_id)
                    return 200, {"status": "InProgress"}
                return status, {"detail": "cancelled"}
            if action == "log":
                stored = self.logs.setdefault(command_id, {})
                for line in body["lines"]:
                    if line["seq"] in stored:
                        self.log_repeats.append((command_id, line["seq"]))
                        continue
                    stored[line["seq"]] = (time.monotonic(), line)
                return 200, {"stored": len(body["lines"])}
            if action == "complete":
                self.completions.append((command_id, body))
                self.completes.setdefault(command_id, (time.monotonic(), body))
                return 200, {"status": body["status"], "commands": self.hand_over.pop(command_id, [])}
        return 404, {"detail": "unknown"}

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def repeated(self) -> dict:
        """Commands completed more than once, and log lines sent more than once. The protocol makes a
        repeat harmless, but an agent talking to a server that answers every call never needs one."""
        with self.lock:
            ids = [command_id for command_id, _body in self.completions]
            twice = sorted({command_id for command_id in ids if ids.count(command_id) > 1})
            return {"completions": twice, "log_lines": list(self.log_repeats)}

    def wait_for(self, predicate, timeout=10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.05)
        return False

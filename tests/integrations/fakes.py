"""Small local HTTP fakes of the GitHub and JIRA REST endpoints Fleetdeck uses, plus a receiver for
trigger webhooks. Each runs http.server in a thread on 127.0.0.1 and records every request."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


class FakeServer:
    """Routes are (method, regex) -> handler(request, match) -> (status, body[, headers])."""

    def __init__(self):
        self.routes: list[tuple[str, re.Pattern, object]] = []
        self.requests: list[Request] = []
        # Set to an HTTP status to answer every request with it, or to seconds to stall.
        self.fail_status: int | None = None
        self.delay: float = 0.0
        # Statuses handed out to the next requests before routing (e.g. [500, 500]).
        self.next_statuses: list[int] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, pattern: str, handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def requests_to(self, method: str, pattern: str) -> list[Request]:
        rx = re.compile(f"^{pattern}$")
        return [r for r in self.requests if r.method == method and rx.match(r.path)]

    def _dispatch(self, request: Request):
        if self.delay:
            time.sleep(self.delay)
        if self.fail_status:
            return self.fail_status, {"message": "fake failure"}
        if self.next_statuses:
            return self.next_statuses.pop(0), {"message": "scripted failure"}
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                return handler(request, match)
        return 404, {"message": "Not Found"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                fake.requests.append(request)
                result = fake._dispatch(request)
                status, payload = result[0], result[1]
                headers = result[2] if len(result) > 2 else {}
                if isinstance(payload, bytes):
                    data, ctype = payload, "application/octet-stream"
                else:
                    data, ctype = json.dumps(payload).encode(), "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler


@contextmanager
def running(make):
    """A fake from ``github_fake``/``jira_fake``, its state as ``fake.state``, stopped afterwards."""
    fake, state = make()
    fake.state = state
    try:
        yield fake
    finally:
        fake.stop()


def sha(n: int) -> str:
    return f"{n:040x}"


def tarball_of(files: dict[str, str], prefix: str = "acme-shop-0000000/") -> bytes:
    """A gzipped tarball laid out as GitHub serves a commit: every file under one top-level folder."""
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# What the fake serves for any commit unless a test sets its own: a valid bundle with no hooks.
MINIMAL_TARBALL = tarball_of({"appspec.yml": "version: 0.0\nos: linux\n"})


@dataclass
class GitHubState:
    repo: str = "acme/shop"
    branches: dict = field(default_factory=lambda: {"main": sha(3), "develop": sha(9)})
    # Commits, oldest first: {"sha", "message"}.
    commits: list = field(
        default_factory=lambda: [
            {"sha": sha(1), "message": "Start the shop"},
            {"sha": sha(2), "message": "Fix checkout totals, fixes #12 and SHOP-7"},
            {"sha": sha(3), "message": "Speed up search (#15)\n\nAlso touches OPS-3."},
        ]
    )
    issues: dict = field(
        default_factory=lambda: {
            12: {"title": "Checkout totals are wrong", "state": "open"},
            15: {"title": "Search is slow", "state": "open"},
            20: {"title": "Dark mode", "state": "open"},
        }
    )
    combined_state: str = "success"
    check_runs: list = field(
        default_factory=lambda: [{"name": "tests", "status": "completed", "conclusion": "success"}]
    )
    tarball: bytes = MINIMAL_TARBALL
    # The token the tarball endpoint wants ("Authorization: token <t>" or "Bearer <t>").
    token: str = "gh-secret-token"
    deployments: list = field(default_factory=list)
    deployment_statuses: list = field(default_factory=list)
    # The git data API (integrations/github/branches.py): objects by sha, and whether the token may push.
    blobs: dict = field(default_factory=dict)
    trees: dict = field(default_factory=dict)
    git_commits: dict = field(default_factory=dict)
    push_allowed: bool = True


def github_fake(state: GitHubState | None = None) -> tuple[FakeServer, GitHubState]:
    state = state or GitHubState()
    fake = FakeServer()
    repo = re.escape(state.repo)
    web = "https://github.example/" + state.repo

    def commit_json(c):
        return {
            "sha": c["sha"],
            "html_url": f"{web}/commit/{c['sha']}",
            "commit": {"message": c["message"], "author": {"name": "Ada", "date": "2026-11-20T10:00:00Z"}},
        }

    def index_of(ref):
        ref = state.branches.get(ref, ref)
        for i, c in enumerate(state.commits):
            if c["sha"] == ref:
                return i
        return None

    def user(req, m):
        return 200, {"login": "fleetdeck-bot"}

    def repository(req, m):
        return 200, {"full_name": state.repo, "private": True, "permissions": {"push": True}}

    def branches(req, m):
        return 200, [{"name": n, "commit": {"sha": s}} for n, s in state.branches.items()]

    def branch(req, m):
        name = m.group(1)
        if name not in state.branches:
            return 404, {"message": "Branch not found"}
        return 200, {"name": name, "commit": {"sha": state.branches[name]}}

    def commits(req, m):
        ref = req.query.get("sha", ["main"])[0]
        end = index_of(ref)
        if end is None:
            return 404, {"message": "No commit found"}
        per_page = int(req.query.get("per_page", ["30"])[0])
        return 200, [commit_json(c) for c in reversed(state.commits[: end + 1])][:per_page]

    def commit(req, m):
        i = index_of(m.group(1))
        return (404, {"message": "No commit found"}) if i is None else (200, commit_json(state.commits[i]))

    def compare(req, m):
        base, head = index_of(m.group(1)), index_of(m.group(2))
        if base is None or head is None:
            return 404, {"message": "Not Found"}
        return 200, {
            "status": "ahead",
            "commits": [commit_json(c) for c in state.commits[base + 1 : head + 1]],
        }

    def status(req, m):
        return 200, {
            "state": state.combined_state,
            "statuses": [
                {"context": "ci/lint", "state": state.combined_state, "target_url": "https://ci.example/1"}
            ],
        }

    def check_runs(req, m):
        runs = [{**r, "html_url": f"{web}/runs/{i}"} for i, r in enumerate(state.check_runs)]
        return 200, {"total_count": len(runs), "check_runs": runs}

    def issues(req, m):
        return 200, [
            {
                "number": n,
                "title": i["title"],
                "state": i["state"],
                "html_url": f"{web}/issues/{n}",
                "labels": [],
            }
            for n, i in state.issues.items()
            if i["state"] == "open"
        ]

    def issue(req, m):
        n = int(m.group(1))
        if n not in state.issues:
            return 404, {"message": "Not Found"}
        i = state.issues[n]
        return 200, {"number": n, "title": i["title"], "state": i["state"], "html_url": f"{web}/issues/{n}"}

    def create_deployment(req, m):
        body = req.json()
        dep = {"id": 1000 + len(state.deployments), **body}
        state.deployments.append(dep)
        return 201, dep

    def create_status(req, m):
        state.deployment_statuses.append({"deployment": int(m.group(1)), **req.json()})
        return 201, {"id": len(state.deployment_statuses)}

    def tarball(req, m):
        if req.headers.get("authorization", "") not in (f"token {state.token}", f"Bearer {state.token}"):
            return 404, {"message": "Not Found"}
        return 200, state.tarball, {"Content-Type": "application/x-gzip"}

    fake.route("GET", "/user", user)
    fake.route("GET", f"/repos/{repo}", repository)
    fake.route("GET", f"/repos/{repo}/branches", branches)
    fake.route("GET", f"/repos/{repo}/branches/([^/]+)", branch)
    fake.route("GET", f"/repos/{repo}/commits", commits)
    fake.route("GET", f"/repos/{repo}/commits/([^/]+)", commit)
    fake.route("GET", f"/repos/{repo}/compare/([^.]+)\\.\\.\\.(.+)", compare)
    fake.route("GET", f"/repos/{repo}/commits/([^/]+)/status", status)
    fake.route("GET", f"/repos/{repo}/commits/([^/]+)/check-runs", check_runs)
    fake.route("GET", f"/repos/{repo}/issues", issues)
    fake.route("GET", f"/repos/{repo}/issues/(\\d+)", issue)
    fake.route("POST", f"/repos/{repo}/deployments", create_deployment)
    fake.route("POST", f"/repos/{repo}/deployments/(\\d+)/statuses", create_status)
    fake.route("GET", f"/repos/{repo}/tarball/([0-9a-f]+)", tarball)
    _git_data_routes(fake, state, repo)
    return fake.start(), state


def _git_data_routes(fake: FakeServer, state: GitHubState, repo: str) -> None:
    """Blobs, trees, commits and refs, enough to commit files to a new branch; content-addressed."""
    import base64
    import hashlib

    def object_sha(kind: str, payload) -> str:
        return hashlib.sha1(
            f"{kind}:{json.dumps(payload, sort_keys=True)}".encode(), usedforsecurity=False
        ).hexdigest()

    def refused():
        return 403, {"message": "Resource not accessible by integration"}

    def branch_with_slash(req, m):
        name = m.group(1)
        if name not in state.branches:
            return 404, {"message": "Branch not found"}
        return 200, {"name": name, "commit": {"sha": state.branches[name]}}

    def get_commit(req, m):
        sha_ = m.group(1)
        if sha_ in state.git_commits:
            return 200, state.git_commits[sha_]
        if not any(c["sha"] == sha_ for c in state.commits):
            return 404, {"message": "Not Found"}
        # A commit of the seeded history: its tree is the empty tree.
        return 200, {"sha": sha_, "tree": {"sha": object_sha("tree", [])}, "parents": [], "message": ""}

    def create_blob(req, m):
        if not state.push_allowed:
            return refused()
        body = req.json()
        content = (
            base64.b64decode(body["content"])
            if body.get("encoding") == "base64"
            else body["content"].encode()
        )
        sha_ = hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
        state.blobs[sha_] = content
        return 201, {"sha": sha_, "url": f"{fake.url}/repos/{state.repo}/git/blobs/{sha_}"}

    def create_tree(req, m):
        if not state.push_allowed:
            return refused()
        body = req.json()
        base = state.trees.get(body.get("base_tree"), {})
        entries = {**base, **{e["path"]: {"mode": e["mode"], "sha": e["sha"]} for e in body["tree"]}}
        missing = [p for p, e in entries.items() if e["sha"] not in state.blobs]
        if missing:
            return 422, {"message": f"tree.sha {missing[0]} is not a valid blob"}
        sha_ = object_sha("tree", sorted(entries.items()))
        state.trees[sha_] = entries
        return 201, {"sha": sha_, "tree": [{"path": p, **e, "type": "blob"} for p, e in entries.items()]}

    def create_commit(req, m):
        if not state.push_allowed:
            return refused()
        body = req.json()
        if body["tree"] not in state.trees:
            return 422, {"message": "Tree SHA does not exist"}
        sha_ = object_sha("commit", body)
        state.git_commits[sha_] = {
            "sha": sha_,
            "message": body["message"],
            "tree": {"sha": body["tree"]},
            "parents": [{"sha": p} for p in body["parents"]],
        }
        return 201, state.git_commits[sha_]

    def create_ref(req, m):
        if not state.push_allowed:
            return refused()
        body = req.json()
        name = body["ref"].removeprefix("refs/heads/")
        if name in state.branches:
            return 422, {"message": "Reference already exists"}
        state.branches[name] = body["sha"]
        return 201, {"ref": body["ref"], "object": {"sha": body["sha"], "type": "commit"}}

    fake.route("GET", f"/repos/{repo}/branches/(.+/.+)", branch_with_slash)
    fake.route("GET", f"/repos/{repo}/git/commits/([0-9a-f]+)", get_commit)
    fake.route("POST", f"/repos/{repo}/git/blobs", create_blob)
    fake.route("POST", f"/repos/{repo}/git/trees", create_tree)
    fake.route("POST", f"/repos/{repo}/git/commits", create_commit)
    fake.route("POST", f"/repos/{repo}/git/refs", create_ref)


@dataclass
class JiraState:
    issues: dict = field(
        default_factory=lambda: {
            "SHOP-7": {"summary": "Totals are off by one cent", "status": "In Progress"},
            "OPS-3": {"summary": "Tune the search cluster", "status": "To Do"},
        }
    )
    comments: list = field(default_factory=list)
    transitions: list = field(default_factory=list)


def jira_fake(state: JiraState | None = None) -> tuple[FakeServer, JiraState]:
    state = state or JiraState()
    fake = FakeServer()

    def issue_json(key):
        i = state.issues[key]
        return {
            "key": key,
            "id": str(abs(hash(key)) % 10000),
            "fields": {"summary": i["summary"], "status": {"name": i["status"]}},
        }

    def myself(req, m):
        return 200, {"displayName": "Fleetdeck Bot", "name": "fleetdeck"}

    def search(req, m):
        return 200, {
            "startAt": 0,
            "maxResults": 10,
            "total": len(state.issues),
            "issues": [issue_json(k) for k in state.issues],
        }

    def issue(req, m):
        key = m.group(1)
        if key not in state.issues:
            return 404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}}
        return 200, issue_json(key)

    def comment(req, m):
        key = m.group(1)
        if key not in state.issues:
            return 404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}}
        state.comments.append({"key": key, "body": req.json()["body"]})
        return 201, {"id": str(len(state.comments)), "body": req.json()["body"]}

    def transitions(req, m):
        return 200, {"transitions": [{"id": "31", "name": "Done", "to": {"name": "Done"}}]}

    def transition(req, m):
        state.transitions.append({"key": m.group(1), **req.json()})
        state.issues[m.group(1)]["status"] = "Done"
        return 204, b""

    fake.route("GET", "/rest/api/2/myself", myself)
    fake.route("GET", "/rest/api/2/field", lambda req, m: (200, [{"id": "summary", "name": "Summary"}]))
    fake.route("GET", "/rest/api/2/search", search)
    fake.route("GET", "/rest/api/2/search/jql", search)
    fake.route("POST", "/rest/api/2/search/jql", search)
    fake.route("GET", "/rest/api/2/issue/([A-Z0-9]+-\\d+)", issue)
    fake.route("POST", "/rest/api/2/issue/([A-Z0-9]+-\\d+)/comment", comment)
    fake.route("GET", "/rest/api/2/issue/([A-Z0-9]+-\\d+)/transitions", transitions)
    fake.route("POST", "/rest/api/2/issue/([A-Z0-9]+-\\d+)/transitions", transition)
    return fake.start(), state


def receiver_fake() -> FakeServer:
    """Accepts POSTs on /hook with 200 (unless told to fail first via next_statuses)."""
    fake = FakeServer()
    fake.route("POST", "/hook", lambda req, m: (200, {"ok": True}))
    return fake.start()


IMDS_TOKEN = "imds-session-token"


def imds_fake(instance_id: str = "i-0123456789abcdef0") -> FakeServer:
    """EC2 instance metadata that enforces IMDSv2: the instance id only for a PUT /latest/api/token token.

    Change ``fake.instance_id`` to hand out another id.
    """
    fake = FakeServer()
    fake.instance_id = instance_id
    text = {"Content-Type": "text/plain"}

    def token(req, m):
        if not req.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return 400, b"", text
        return 200, IMDS_TOKEN.encode(), text

    def instance(req, m):
        if req.headers.get("x-aws-ec2-metadata-token") != IMDS_TOKEN:
            return 401, b"", text
        return 200, fake.instance_id.encode(), text

    fake.route("PUT", "/latest/api/token", token)
    fake.route("GET", "/latest/meta-data/instance-id", instance)
    return fake.start()

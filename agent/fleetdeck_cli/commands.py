"""The `fleetdeck` commands: each takes the parsed arguments and returns the exit code."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import urllib.parse
from typing import Iterator, Optional

from fleetdeck_cli import bundle as bundles
from fleetdeck_cli.api import Api, ApiError, not_found
from fleetdeck_cli.config import DEFAULT_PROFILE, Settings, config_path, read_profiles, resolve, save_profile
from fleetdeck_cli.errors import ERROR, OK, USAGE, CliError
from fleetdeck_cli.watch import Watcher, emit_json, exit_code, log_line, summary


def _api(args: argparse.Namespace) -> Api:
    return Api(resolve(args.url, args.profile, args.ca_bundle, args.project))


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


@contextlib.contextmanager
def _in_application(name: str) -> Iterator[None]:
    """A 404 from a call under /applications/{name}/ means the application (for this token) is missing."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 404:
            raise not_found(exc, f"Application {name!r}") from None
        raise


def _in_project(api: Api) -> dict:
    """The query parameter that says which project an application name is in, when one is set."""
    return {"project": api.settings.project} if api.settings.project else {}


def _application_path(api: Api, name: str, rest: str = "") -> str:
    """/api/v1/applications/NAME/REST, with ?project= for a write (a GET takes it as a parameter)."""
    query = "?" + urllib.parse.urlencode(_in_project(api)) if api.settings.project else ""
    return f"/api/v1/applications/{_quote(name)}/{rest}{query}"


def _application(api: Api, name: str) -> dict:
    with _in_application(name):
        return api.get(f"/api/v1/applications/{_quote(name)}/", _in_project(api))


def _deployment(api: Api, deployment_id: str) -> dict:
    try:
        return api.get(f"/api/v1/deployments/{_quote(deployment_id)}/")
    except ApiError as exc:
        if exc.status == 404:
            raise not_found(exc, f"Deployment {deployment_id!r}") from None
        raise


def _page_url(api: Api, application: dict, deployment_id: str) -> str:
    project = application.get("project")
    return f"{api.base}/p/{project}/deployments/{deployment_id}/" if project else ""


# -- configure ------------------------------------------------------------------------------------


def cmd_configure(args: argparse.Namespace) -> int:
    path = config_path()
    profile = args.profile or os.environ.get("FLEETDECK_PROFILE") or DEFAULT_PROFILE
    profiles = read_profiles(path)
    current = dict(profiles[profile]) if profiles.has_section(profile) else {}
    url = args.url or current.get("url") or ""
    if not args.url and sys.stdin.isatty() and not args.token_stdin:
        url = input(f"Fleetdeck URL [{url}]: ").strip() or url
    if not url:
        raise CliError("configure needs the server URL: pass --url https://fleetdeck.example.com", USAGE)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"The URL must look like https://fleetdeck.example.com (got {url!r})", USAGE)
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        token = getpass.getpass("API token (fdp_… from /profile/tokens/; input hidden): ").strip()
    else:
        raise CliError("No terminal to prompt for the token: pipe it in with --token-stdin", USAGE)
    if not token:
        raise CliError("The token is empty", USAGE)
    url = url.rstrip("/")
    ca_bundle = os.path.abspath(args.ca_bundle) if args.ca_bundle else current.get("ca_bundle", "")
    project = (args.project if args.project is not None else current.get("project", "")).strip()
    if not args.no_verify:
        settings = Settings(url=url, token=token, ca_bundle=ca_bundle or None, source="the token given")
        api = Api(settings)
        projects = api.get("/api/v1/projects/", retries=0)
        names = ", ".join(p["slug"] for p in projects.get("results", [])) or "none yet"
        _say(f"The token works; its projects: {names}")
        if project:
            try:
                api.get(f"/api/v1/projects/{_quote(project)}/", retries=0)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                raise CliError(
                    f"--project {project}: the token is not a member of a project of that slug "
                    f"(its projects: {names})",
                    USAGE,
                ) from None
    save_profile(path, profile, {"url": url, "token": token, "ca_bundle": ca_bundle, "project": project})
    if project:
        _say(f"Default project: {project}")
    _say(f"Wrote profile [{profile}] to {path} (mode 0600)")
    return OK


# -- push -----------------------------------------------------------------------------------------


def cmd_push(args: argparse.Namespace) -> int:
    # Check first: an invalid bundle is refused before the server is even contacted.
    prepared = bundles.prepare(args.source, ignore_hidden=args.ignore_hidden_files)
    for warning in prepared.warnings:
        _say(f"fleetdeck: warning: {warning}")
    try:
        hooks = sum(len(h) for h in prepared.appspec.hooks.values())
        packed = f"{prepared.files} files, " if prepared.files else ""
        _say(
            f"Bundle OK: {prepared.bundle_type}, {packed}{os.path.getsize(prepared.path)} bytes, "
            f"{hooks} hook script(s)"
        )
        if args.dry_run:
            return OK
        api = _api(args)
        fields = {"description": args.description}
        if args.s3:
            fields["s3_location"] = args.s3
        with _in_application(args.application):
            revision = api.upload(
                _application_path(api, args.application, "revisions/"), prepared.path, fields
            )
    finally:
        prepared.discard()
    return _created(args, revision)


def _where(revision: dict) -> str:
    """Where a revision lives: s3://bucket/key, owner/repo@commit, or "" for a bundle on the server."""
    location = revision.get("location") or {}
    if revision.get("source") == "s3":
        return f"s3://{location.get('bucket')}/{location.get('key')}"
    if revision.get("source") == "github":
        return f"{location.get('repository')}@{str(location.get('commit'))[:12]}"
    return ""


def _created(args: argparse.Namespace, revision: dict) -> int:
    """push and register: the id on stdout (or the JSON), the next step on stderr."""
    if args.json:
        emit_json(revision)
    else:
        print(revision["id"])
    where = _where(revision)
    _say(
        f"Revision {revision['id']} of {args.application}{' at ' + where if where else ''}. Deploy it with:\n"
        f"  fleetdeck deploy --application {args.application} --group GROUP "
        f"--revision {revision['id']} --wait"
    )
    return OK


# -- register -------------------------------------------------------------------------------------


def _register_body(args: argparse.Namespace) -> dict:
    """The JSON body for a revision in S3 or GitHub; usage mistakes are refused before any request."""
    if args.github:
        stray = [
            f
            for f, v in (
                ("--bundle-type", args.bundle_type),
                ("--version", args.s3_version),
                ("--etag", args.etag),
            )
            if v
        ]
        if stray:
            raise CliError(f"{', '.join(stray)} {'go' if len(stray) > 1 else 'goes'} only with --s3", USAGE)
        if not args.commit:
            raise CliError("--github needs --commit SHA (the commit to register)", USAGE)
        return {"github": {"repository": args.github, "commit": args.commit}, "description": args.description}
    if args.commit:
        raise CliError("--commit goes only with --github", USAGE)
    bucket, _, key = args.s3[5:].partition("/") if args.s3.startswith("s3://") else ("", "", "")
    if not bucket or not key:
        raise CliError(f"--s3 must look like s3://BUCKET/KEY (got {args.s3!r})", USAGE)
    location = {"bucket": bucket, "key": key}
    if args.bundle_type:
        location["bundle_type"] = args.bundle_type
    if args.s3_version:
        location["version"] = args.s3_version
    if args.etag:
        location["etag"] = args.etag
    return {"s3": location, "description": args.description}


def cmd_register(args: argparse.Namespace) -> int:
    body = _register_body(args)
    api = _api(args)
    with _in_application(args.application):
        revision = api.post(_application_path(api, args.application, "revisions/"), body)
    return _created(args, revision)


# -- plan and deploy ------------------------------------------------------------------------------


def _target_body(args: argparse.Namespace, api: Api) -> dict:
    body = {"application": args.application, "deployment_group": args.group, **_in_project(api)}
    if args.config:
        body["deployment_config"] = args.config
    return body


def _explain(exc: ApiError, args: argparse.Namespace) -> CliError:
    errors = exc.body.get("errors") if isinstance(exc.body, dict) else None
    if exc.status == 400 and isinstance(errors, dict) and "application" in errors:
        return CliError(
            f"Application {args.application!r} not found, or you are not a member of its project."
        )
    return exc


def cmd_plan(args: argparse.Namespace) -> int:
    api = _api(args)
    body = _target_body(args, api)
    if args.revision is not None:
        body["revision"] = args.revision
    try:
        plan = api.post("/api/v1/deployment-plans/", body)
    except ApiError as exc:
        raise _explain(exc, args) from None
    if args.json:
        emit_json(plan)
    else:
        print(f"{args.application} / {args.group}: {plan['fleet_size']} instance(s)")
        if plan.get("arithmetic"):
            print(f"  {plan['arithmetic']}")
        for number, batch in enumerate(plan.get("batches", []), 1):
            print(f"  batch {number}: {', '.join(batch)}")
        if not plan["valid"]:
            print(f"  cannot deploy: {plan.get('reason', '')} ({plan.get('error_code', '')})")
    return OK if plan["valid"] else ERROR


def _latest_revision(api: Api, application: str) -> int:
    page = api.get(f"/api/v1/applications/{_quote(application)}/revisions/", _in_project(api))
    results = page.get("results", [])
    if not results:
        raise CliError(
            f"{application} has no revisions yet; upload one with: fleetdeck push --application {application}"
        )
    return results[0]["id"]


def cmd_deploy(args: argparse.Namespace) -> int:
    api = _api(args)
    application = _application(api, args.application)
    revision = args.revision if not args.latest else _latest_revision(api, args.application)
    body = {**_target_body(args, api), "revision": revision, "description": args.description}
    if args.file_exists_behavior:
        body["file_exists_behavior"] = args.file_exists_behavior
    if args.ignore_application_stop_failures:
        body["ignore_application_stop_failures"] = True
    try:
        deployment = api.post("/api/v1/deployments/", body)
    except ApiError as exc:
        raise _explain(exc, args) from None
    if args.json and not args.wait:
        emit_json(deployment)
    elif not args.json:
        print(deployment["id"])
    page = _page_url(api, application, deployment["id"])
    _say(
        f"Deployment {deployment['id']} of revision {revision} to {args.application}/{args.group}: "
        f"{deployment['status']}" + (f"\n  {page}" if page else "")
    )
    if not args.wait:
        return OK
    return _follow(api, deployment["id"], args, show_logs=args.logs)


def _follow(api: Api, deployment_id: str, args: argparse.Namespace, *, show_logs: bool = False) -> int:
    watcher = Watcher(api, deployment_id, show_logs=show_logs, quiet=getattr(args, "quiet", False))
    detail = watcher.run(timeout=args.timeout)
    if args.json:
        emit_json(detail)
    for line in summary(detail):
        _say(line)
    return exit_code(detail)


# -- listings ------------------------------------------------------------------------------------


def _pages(api: Api, path: str, params: dict, limit: int) -> list:
    rows: list = []
    page = 1
    while len(rows) < limit:
        answer = api.get(path, {**params, "page": page})
        rows.extend(answer.get("results", []))
        if not answer.get("next"):
            break
        page += 1
    return rows[:limit]


def cmd_deployments(args: argparse.Namespace) -> int:
    if args.group and not args.application:
        raise CliError("--group needs --application (group names are per application)", USAGE)
    api = _api(args)
    group = f"{args.application}/{args.group}" if args.group else None
    params = {
        "application": args.application,
        "deployment_group": group,
        "status": args.status,
        **_in_project(api),
    }
    rows = _pages(api, "/api/v1/deployments/", params, max(args.limit, 1))
    if args.json:
        emit_json(rows)
        return OK
    for row in rows:
        code = f" {row['error_code']}" if row.get("error_code") else ""
        who = row.get("created_by") or row["creator"]
        print(
            f"{row['id']}  {row['status'] + code:<28} {row['application']}/{row['deployment_group']}  "
            f"rev {row['revision']}  {row.get('created_at', '')[:19]}  {who}"
        )
    if not rows:
        _say("No deployments match.")
    return OK


def cmd_revisions(args: argparse.Namespace) -> int:
    api = _api(args)
    with _in_application(args.application):
        rows = _pages(
            api,
            f"/api/v1/applications/{_quote(args.application)}/revisions/",
            _in_project(api),
            max(args.limit, 1),
        )
    if args.json:
        emit_json(rows)
        return OK
    for row in rows:
        where = _where(row) or row["source"]
        print(
            f"{row['id']:>6}  {row.get('created_at', '')[:19]}  {row['bundle_type']:<4} {where}  "
            f"{row.get('description', '')}"
        )
    if not rows:
        _say(f"{args.application} has no revisions yet.")
    return OK


# -- status, wait, stop, logs ---------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    api = _api(args)
    detail = _deployment(api, args.deployment_id)
    if args.json:
        emit_json(detail)
        return OK
    overview = detail.get("overview") or {}
    counts = ", ".join(f"{n} {status}" for status, n in overview.items() if n)
    code = f" ({detail['error_code']})" if detail.get("error_code") else ""
    print(f"{detail['id']}  {detail['status']}{code}")
    if detail.get("error_message"):
        print(f"  {detail['error_message']}")
    print(
        f"  {detail['application']} / {detail['deployment_group']}, revision {detail['revision']}, "
        f"{detail['deployment_config']}"
    )
    print(f"  created {detail.get('created_at', '')} by {detail.get('created_by') or detail.get('creator')}")
    print(f"  hosts: {sum(overview.values())}" + (f" ({counts})" if counts else ""))
    for line in summary(detail)[1:]:
        print(line)
    return OK


def cmd_wait(args: argparse.Namespace) -> int:
    api = _api(args)
    _deployment(api, args.deployment_id)
    return _follow(api, args.deployment_id, args, show_logs=args.logs)


def _deployment_action(api: Api, deployment_id: str, action: str) -> dict:
    try:
        return api.post(f"/api/v1/deployments/{_quote(deployment_id)}/{action}/")
    except ApiError as exc:
        if exc.status == 404:
            raise not_found(exc, f"Deployment {deployment_id!r}") from None
        raise


def cmd_stop(args: argparse.Namespace) -> int:
    api = _api(args)
    answer = _deployment_action(api, args.deployment_id, "stop")
    if args.json and not args.wait:
        emit_json(answer)
    elif not args.json:
        print(f"{answer['id']} {answer['status']}")
    if not args.wait:
        return OK
    return _follow(api, args.deployment_id, args)


def cmd_continue_(args: argparse.Namespace) -> int:
    answer = _deployment_action(_api(args), args.deployment_id, "continue")
    if args.json:
        emit_json(answer)
    else:
        print(f"{answer['id']} {answer['status']}")
    return OK


def cmd_logs(args: argparse.Namespace) -> int:
    api = _api(args)
    detail = _deployment(api, args.deployment_id)
    hosts = [t["instance"] for t in detail.get("targets", [])]
    if args.instance and args.instance not in hosts:
        raise CliError(
            f"{args.deployment_id} has no instance {args.instance!r}; "
            f"its instances: {', '.join(hosts) or 'none'}"
        )
    cursor, printed = 0, 0
    colours = sys.stdout.isatty()  # plain colours on a terminal; nothing but text into a pipe or file
    from fleetdeck_cli.watch import poll_interval

    interval = poll_interval()
    while True:
        page = api.get(
            f"/api/v1/deployments/{_quote(args.deployment_id)}/events/", {"after": cursor, "limit": 2000}
        )
        for event in page["events"]:
            if event.get("kind") != "log" or not _wanted(event, args.instance, args.event):
                continue
            printed += 1
            print(json.dumps(event, sort_keys=True) if args.json else log_line(event, colours), flush=True)
        cursor = page["last_seq"]
        if page["has_more"]:
            continue
        if not args.follow or page["done"]:
            break
        import time

        time.sleep(interval)
    if not printed:
        _say(f"No hook output{' yet' if not page['done'] else ''} for {args.deployment_id}" + _filters(args))
    return OK


def _wanted(event: dict, instance: Optional[str], lifecycle_event: Optional[str]) -> bool:
    return (not instance or event.get("instance") == instance) and (
        not lifecycle_event or event.get("event") == lifecycle_event
    )


def _filters(args: argparse.Namespace) -> str:
    parts = [
        f"instance {args.instance}" if args.instance else "",
        f"event {args.event}" if args.event else "",
    ]
    parts = [p for p in parts if p]
    return f" ({', '.join(parts)})" if parts else ""

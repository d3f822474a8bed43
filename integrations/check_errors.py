"""What a failed "Test connection" check tells its owner: what went wrong and what to change, in their
words. Never the raw exception: a class name, urllib3's pool text or the remote server's body helps
no one, and a body can be any internal page's content.

`explain(exc, system, check)` looks through the exception and what it wraps (requests wraps urllib3,
which wraps the socket error) for the first thing it recognises: the outbound policy's refusal, a
name that does not resolve, a refused connection, a timeout, a TLS failure, or an HTTP status.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from core.outbound import OutboundRefused
from deployments.integration_points import NotConfigured


@dataclass(frozen=True)
class Target:
    """What was being checked: the system's name ("GitHub", "JIRA"), the URL field the user set, its
    value, and per-status advice for this check (e.g. 404 on "Repository")."""

    system: str
    url_field: str
    url: str
    by_status: dict[int, str]
    timeout: float


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        todo.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))


def _status(exc: BaseException) -> int | None:
    for found in _chain(exc):
        status = getattr(found, "status", None) or getattr(found, "status_code", None)
        response = getattr(found, "response", None)
        if status is None and response is not None:
            status = getattr(response, "status_code", None)
        if isinstance(status, int) and 100 <= status < 600:
            return status
    return None


def _text(exc: BaseException) -> str:
    return " ".join(str(found) for found in _chain(exc)).lower()


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def explain(exc: BaseException, target: Target) -> str:
    text = _explain(exc, target)
    return text[:1].upper() + text[1:]


def _explain(exc: BaseException, target: Target) -> str:
    system, field, where = target.system, target.url_field, _host_port(target.url)
    chain = list(_chain(exc))
    refused = next((e for e in chain if isinstance(e, OutboundRefused)), None)
    if refused is not None:
        return (
            f"The server does not connect to {refused.host}: it is a {refused.reason} address. Use a "
            f"public address in {field}, or ask the operator to allow it with FLEETDECK_OUTBOUND_ALLOW."
        )
    status = _status(exc)
    if status is not None:
        return _for_status(status, target)
    text = _text(exc)
    if any(isinstance(e, socket.gaierror) for e in chain) or "could not be resolved" in text:
        return (
            f"The host name {urlsplit(target.url).hostname or where} does not resolve: check {field} "
            "for a typo. A name only your network knows needs the server to use that network's DNS."
        )
    if any(isinstance(e, ssl.SSLError | requests.exceptions.SSLError) for e in chain):
        return (
            f"The TLS connection to {where} failed: check that {field} starts with the right scheme "
            f"(https:// for a TLS server) and that {system}'s certificate is valid and issued by an "
            "authority the server trusts."
        )
    if any(isinstance(e, requests.Timeout | socket.timeout | TimeoutError) for e in chain) or (
        "timed out" in text
    ):
        return (
            f"{system} at {where} did not answer within {target.timeout:g} s: check that it is up, and "
            "that no firewall between this server and it drops the connection."
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return (
            f"Nothing answers at {where}: check {field} (host and port) and that {system} is running there."
        )
    if any(isinstance(e, requests.ConnectionError | OSError) for e in chain):
        return f"{where} could not be reached: check {field} and the network between this server and it."
    return f"The check failed unexpectedly ({type(exc).__name__}): check {field} and try again."


def _for_status(status: int, target: Target) -> str:
    if status in target.by_status:
        return target.by_status[status]
    system = target.system
    if status >= 500:
        return f"{system} answered HTTP {status} (an error on its side): try again later."
    if status == 429:
        return f"{system} answered HTTP 429 (too many requests): wait a minute and try again."
    return f"{system} answered HTTP {status}: check {target.url_field} and the credentials."


def github_target(connection, check: str, timeout: float) -> Target:
    repository, branch = connection.repository, connection.default_branch
    token = (
        "Create a new token (fine-grained, with read access to the repository's Contents and Metadata, "
        "or a classic token with the repo scope) and paste it in Token."
    )
    by_status = {
        401: f"GitHub refused the token (HTTP 401): it is wrong, expired or revoked. {token}",
        403: (
            "GitHub refused access (HTTP 403): the token lacks a permission for this repository, or its "
            "rate limit is used up. Give the token the Contents and Metadata read permission (and "
            "Deployments write to mirror deployments), or try again in an hour."
        ),
        404: {
            "Token": "GitHub has no API at API URL: use https://api.github.com, or "
            "https://<host>/api/v3 for GitHub Enterprise.",
            "Repository": f"GitHub has no repository {repository} that this token can see: check the "
            f"spelling (owner/name), or give the token access to it (GitHub answers 404 for a private "
            f"repository the token may not read).",
            "Default branch": f"{repository} has no branch {branch}: set Default branch to an existing "
            f"branch.",
        }.get(check, f"GitHub answered HTTP 404 for {repository}: check the repository and API URL."),
    }
    return Target("GitHub", "API URL", connection.api_url, by_status, timeout)


def jira_target(connection, check: str, timeout: float) -> Target:
    if connection.auth == "cloud":
        credentials = "the email address and the API token (id.atlassian.com → Security → API tokens)"
    else:
        credentials = "the personal access token (your JIRA profile → Personal Access Tokens)"
    by_status = {
        401: f"JIRA refused the credentials (HTTP 401): check {credentials}.",
        403: (
            "JIRA refused access (HTTP 403): the account lacks permission to use the REST API or to "
            "browse the projects the JQL names. Grant it Browse projects, or use another account."
        ),
        404: "No JIRA REST API at Server URL: use the address you open JIRA at (for example "
        "https://acme.atlassian.net), without /rest/… or a page's path.",
    }
    if check == "JQL":
        by_status[400] = (
            "JIRA refused the JQL for the issues tile: fix the query (try it in JIRA's issue search)."
        )
    return Target("JIRA", "Server URL", connection.server_url, by_status, timeout)


AWS_CODES = {
    "InvalidClientTokenId": "AWS does not know this access key: check Access key id (and that the key is active).",
    "SignatureDoesNotMatch": "AWS refused the secret access key: paste the key's secret again.",
    "ExpiredToken": "The AWS credentials have expired: create a new access key, or check the role.",
    "AccessDenied": "AWS refused the {check} call: give the key or role the permission it needs for {check}.",
    "UnauthorizedOperation": "AWS refused the {check} call: give the key or role the permission it needs.",
}


def aws_explain(exc: BaseException, check: str, endpoint_url: str, timeout: float) -> str:
    """botocore's errors: a ClientError's code, never its message; our own NotConfigured says what to set."""
    if isinstance(exc, NotConfigured):
        return str(exc)
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    if code:
        if code in AWS_CODES:
            return AWS_CODES[code].format(check=check)
        if "AccessDenied" in code or "Unauthorized" in code:
            return AWS_CODES["AccessDenied"].format(check=check)
        return f"AWS answered {code} to the {check} call: check the connection's region and credentials."
    name = type(exc).__name__
    if name == "NoCredentialsError":
        return "No AWS credentials: set an access key, or a role ARN the server can assume."
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "SSLError") or any(
        isinstance(e, OutboundRefused | requests.RequestException | OSError) for e in _chain(exc)
    ):
        url = endpoint_url or "https://amazonaws.com"
        return explain(exc, Target("AWS", "Endpoint URL", url, {}, timeout))
    return f"The {check} check failed unexpectedly ({name}): check the connection's credentials and region."

"""A small client for /api/v1/ on urllib (stdlib only).

Every failure becomes a CliError whose message says what went wrong and what to do, with the
exit code CI scripts branch on: 7 for a refused token or role, 6 when the server cannot be
reached, 1 for anything else the server refused.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, Optional

from fleetdeck_cli import __version__
from fleetdeck_cli.config import Settings
from fleetdeck_cli.errors import AUTH, ERROR, NETWORK, USAGE, CliError

RETRY_STATUSES = (429, 502, 503, 504)


class ApiError(CliError):
    def __init__(self, status: int, message: str, body: Optional[dict] = None):
        self.status = status
        self.body = body or {}
        super().__init__(message, AUTH if status in (401, 403) else ERROR)


class Api:
    def __init__(self, settings: Settings, timeout: float = 60.0):
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self.timeout = timeout
        self.context: Optional[ssl.SSLContext] = None
        if settings.ca_bundle:
            self.context = ssl.create_default_context(cafile=settings.ca_bundle)

    # -- requests ---------------------------------------------------------------------------------

    def get(self, path: str, params: Optional[Dict[str, Any]] = None, *, retries: int = 3) -> dict:
        """GETs are retried on network errors and 429/5xx-from-a-proxy, since they change nothing."""
        query = ""
        if params:
            query = "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        attempt = 0
        while True:
            try:
                return self._send("GET", path + query)
            except CliError as exc:
                status = getattr(exc, "status", None)
                retryable = exc.code == NETWORK or status in RETRY_STATUSES
                if not retryable or attempt >= retries:
                    raise
                attempt += 1
                time.sleep(min(0.5 * 2**attempt, 5.0))

    def post(self, path: str, body: Optional[dict] = None) -> dict:
        data = json.dumps(body or {}).encode()
        return self._send("POST", path, data, {"Content-Type": "application/json"})

    def upload(self, path: str, bundle: str, fields: Dict[str, str]) -> dict:
        """multipart/form-data with the bundle streamed from a spooled temp file, never held in memory."""
        boundary = f"fleetdeck-{uuid.uuid4().hex}"
        with tempfile.TemporaryFile() as body:
            for name, value in fields.items():
                head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                body.write(f"{head}{value}\r\n".encode())
            filename = os.path.basename(bundle).replace('"', "")
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n".encode()
            )
            with open(bundle, "rb") as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    body.write(chunk)
            body.write(f"\r\n--{boundary}--\r\n".encode())
            length = body.tell()
            body.seek(0)
            headers = {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            }
            return self._send("POST", path, body, headers)

    def _send(
        self, method: str, path: str, data: Any = None, headers: Optional[Dict[str, str]] = None
    ) -> dict:
        url = self.base + path
        if not url.startswith(("http://", "https://")):
            raise CliError(f"The server URL must start with http:// or https:// (got {self.base!r})", USAGE)
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
        request.add_header("Authorization", f"Token {self.settings.token}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", f"fleetdeck-cli/{__version__}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:  # noqa: S310
                raw = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise self._error(exc.code, _decode(raw), exc.headers.get("Content-Type", "")) from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(
                f"Cannot reach the Fleetdeck server at {self.base}: {reason}. "
                "Check FLEETDECK_URL (or --url) and your network.",
                NETWORK,
            ) from None
        if not raw:
            return {}
        body = _decode(raw)
        if body is None or "json" not in content_type:
            raise CliError(
                f"{self.base} answered {method} {path} with {content_type or 'no content type'}, "
                "not the Fleetdeck API's JSON; check FLEETDECK_URL (it is the server's base URL).",
                ERROR,
            )
        return body

    def _error(self, status: int, body: Optional[dict], content_type: str) -> ApiError:
        detail = ""
        if isinstance(body, dict):
            detail = str(body.get("detail") or "") or json.dumps(body)[:500]
        if status == 401:
            return ApiError(
                status,
                f"The server refused the API token from {self.settings.source or 'the configuration'} "
                f"({detail or 'HTTP 401'}). Create a personal token at {self.base}/profile/tokens/ "
                "and set FLEETDECK_TOKEN or run `fleetdeck configure`.",
                body if isinstance(body, dict) else None,
            )
        if not detail:
            detail = f"HTTP {status}" + (f" ({content_type})" if content_type else "")
        errors = body.get("errors") if isinstance(body, dict) else None
        if status == 400 and isinstance(errors, dict) and "project" in errors:
            # A name in several of the user's projects: say how to pick one from the command line.
            detail += (
                f" Pass --project SLUG, or set a default with `fleetdeck configure --project SLUG`"
                f"{'' if self.settings.profile == 'default' else ' --profile ' + self.settings.profile}."
            )
        return ApiError(status, detail, body if isinstance(body, dict) else None)


def _decode(raw: bytes) -> Optional[dict]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else {"detail": value}


def not_found(exc: ApiError, what: str) -> CliError:
    """A 404 from a scoped lookup: the thing is missing or belongs to a project the user is not in."""
    return CliError(f"{what} not found, or you are not a member of its project ({exc.message}).", ERROR)

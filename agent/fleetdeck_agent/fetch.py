"""Download a revision bundle to disk, streaming, with a sha256 check.

Sources: the Fleetdeck server (bearer credential), S3 presigned URLs (no auth header),
GitHub tarball URLs (`Authorization: token ...`), and local paths / file:// URLs.
Redirects are followed by hand so the auth header is dropped when the host changes (an S3
presigned redirect target rejects, or worse, logs a foreign Authorization header).
"""

from __future__ import annotations

import errno
import hashlib
import os
from typing import Dict, Optional
from urllib.parse import unquote, urljoin, urlsplit

from fleetdeck_agent.bundle import CHUNK, BundleError, no_space_error

MAX_REDIRECTS = 10


def _connection(url: str, timeout: float, ca_bundle: Optional[str]):
    import http.client

    parts = urlsplit(url)
    if parts.scheme == "https":
        import ssl

        context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    raise BundleError(f"Unsupported bundle URL scheme {parts.scheme!r}")


def download(
    url: str,
    dest: str,
    headers: Optional[Dict[str, str]] = None,
    sha256: Optional[str] = None,
    ca_bundle: Optional[str] = None,
    timeout: float = 60.0,
    root: Optional[str] = None,
) -> str:
    """Fetch `url` into `dest`; return the sha256 hex digest. Raises BundleError."""
    root = root or os.path.dirname(dest)
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return _copy_local(unquote(parts.path) if parts.scheme == "file" else url, dest, sha256, root)
    headers = dict(headers or {})
    headers.setdefault("User-Agent", "fleetdeck-agent")
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        conn = _connection(current, timeout, None if urlsplit(current).scheme == "http" else ca_bundle)
        target = urlsplit(current)
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                response.read()
                if not location:
                    raise BundleError(
                        f"Bundle download got a redirect without a Location from {_safe_url(current)}"
                    )
                following = urljoin(current, location)
                if urlsplit(following).netloc != target.netloc:
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                current = following
                continue
            if response.status != 200:
                body = response.read(500).decode("utf-8", "replace")
                raise BundleError(
                    f"Bundle download from {_safe_url(current)} failed with HTTP "
                    f"{response.status}: {body.strip()}"
                )
            return _write_stream(response, dest, sha256, root)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            raise BundleError(f"Bundle download from {_safe_url(current)} failed: {exc}") from None
        finally:
            conn.close()
    raise BundleError(f"Bundle download from {_safe_url(url)} redirected more than {MAX_REDIRECTS} times")


def _safe_url(url: str) -> str:
    """Presigned URLs carry credentials in the query string: never show it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _copy_local(path: str, dest: str, sha256: Optional[str], root: str) -> str:
    if not os.path.isfile(path):
        raise BundleError(f"The bundle {path} does not exist")
    with open(path, "rb") as src:
        return _write_stream(src, dest, sha256, root)


def _write_stream(src, dest: str, sha256: Optional[str], root: str) -> str:
    digest = hashlib.sha256()
    tmp = dest + ".download"
    try:
        with open(tmp, "wb") as out:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if exc.errno == errno.ENOSPC:
            raise no_space_error(dest, root) from None
        raise
    actual = digest.hexdigest()
    if sha256 and actual.lower() != sha256.lower():
        os.unlink(tmp)
        raise BundleError(f"Bundle checksum mismatch: expected sha256 {sha256.lower()}, got {actual}")
    os.replace(tmp, dest)
    return actual

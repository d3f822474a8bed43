"""Minimal JSON-over-HTTP client for `/agent/v1/` (stdlib only).

One persistent keep-alive connection per thread; any transport error drops the connection
so the next call reconnects. Retryable failures (network, 5xx, 429) raise TransportError;
other 4xx raise ApiError with the server's detail.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Optional, Tuple
from urllib.parse import urlsplit

from fleetdeck_agent import __version__


class TransportError(Exception):
    """The call may be retried: the server is unreachable or answered 5xx/429."""


class ApiError(Exception):
    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


class Client:
    def __init__(
        self,
        server: str,
        credential: Optional[str] = None,
        ca_bundle: Optional[str] = None,
        timeout: float = 30.0,
    ):
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"The server URL must look like https://fleetdeck.example (got {server!r})")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.credential = credential
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self._local = threading.local()
        self._context = None

    def _connection(self, timeout: float):
        import http.client

        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                if self._context is None:
                    import ssl

                    self._context = ssl.create_default_context(cafile=self.ca_bundle)
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def post(
        self, path: str, body: Optional[dict] = None, timeout: Optional[float] = None, auth: bool = True
    ) -> Tuple[int, dict]:
        import http.client

        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"fleetdeck-agent/{__version__}",
        }
        if auth and self.credential:
            headers["Authorization"] = f"Bearer {self.credential}"
        payload = json.dumps(body or {}).encode()
        conn = self._connection(timeout or self.timeout)
        try:
            conn.request("POST", self.base_path + path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"detail": raw[:300].decode("utf-8", "replace")}
        if not isinstance(data, dict):
            data = {"detail": data}
        if response.status >= 500 or response.status == 429:
            raise TransportError(f"HTTP {response.status}: {data.get('detail', '')}".strip())
        if response.status >= 400:
            raise ApiError(response.status, str(data.get("detail", data)))
        return response.status, data


class Backoff:
    """Capped exponential backoff with jitter (each delay is 50-100% of the nominal value)."""

    def __init__(self, start: float = 0.5, cap: float = 30.0):
        self.start = start
        self.cap = cap
        self.attempt = 0

    def next(self) -> float:
        nominal = min(self.cap, self.start * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return nominal * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.attempt = 0

"""The one policy for every request the server makes to an address that a user can name.

Any signed-in user can create a project, so the URLs of its integrations (a JIRA server, a GitHub
Enterprise base URL, a trigger webhook, a custom AWS endpoint) are attacker-chosen. Without this policy
they reach the server's own network: Redis on 127.0.0.1, the cloud metadata service on
169.254.169.254, an admin panel on 10.0.0.5. So every server-side connection resolves its host here,
refuses addresses that are not public unless the operator opened them (``FLEETDECK_OUTBOUND_ALLOW``),
and then connects to the very address it checked, so a DNS answer that changes between the check and
the connection (rebinding) cannot switch the target.

Transports and how each is bound (docs/security.md has the operator's view):

* requests (triggers, Slack, and through them jira and PyGithub): `session()` is requests-hardened's
  `HTTPSession` (no redirects unless asked, a default timeout) with `PolicyAdapter` mounted, which pins
  each connection to the checked address while TLS still verifies the host name. `mount()` binds a
  session a library builds itself (jira), `PolicyHTTPConnection` classes bind PyGithub.
* health checks: `session(peer=...)`: the URL's host must be (or resolve to) the instance's peer address,
  which may be private; loopback, link-local and metadata addresses stay refused unless allowed.
* smtplib: `SMTPBackend` (Django's SMTP backend) connects to the checked address of the relay.
* botocore: `bind_boto_client()` sends a client's requests to a custom ``endpoint_url`` through
  `session()`; AWS's own endpoints are left to botocore.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import smtplib
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "FLEETDECK_OUTBOUND_ALLOW"
HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Reasons that stay refused for a health check even at the instance's own peer address.
NEVER_FOR_PEERS = frozenset({"loopback", "link-local", "cloud metadata", "unspecified", "multicast"})


class OutboundRefused(InvalidIPAddress):
    """The policy refused a destination. A requests exception (so an OSError too), which every caller
    of a transport already handles; the message names the host and the way to open it, never more."""

    def __init__(self, host: str, reason: str, message: str = ""):
        self.host, self.reason = host, reason
        super().__init__(
            message
            or f"{host}: the server does not connect to {reason} addresses. "
            f"An operator can allow it with {ALLOW_SETTING} (CIDRs or host names)."
        )


@dataclass(frozen=True)
class Allowed:
    networks: tuple[Network, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    def name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def address(self, ip: Address) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)


def parse_allow(entries: Iterable[str]) -> Allowed:
    """CIDRs (``10.0.0.0/8``), single addresses, host names (``jira.corp.example``) and domain suffixes
    (``.corp.example``). Raises ValueError naming the first entry that is none of these."""
    networks: list[Network] = []
    names: set[str] = set()
    suffixes: list[str] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        if entry.startswith(".") and HOSTNAME_RE.match(entry[1:]):
            suffixes.append(entry.lower().rstrip("."))
        elif HOSTNAME_RE.match(entry):
            names.add(entry.lower().rstrip("."))
        else:
            raise ValueError(
                f"{entry!r} is neither a CIDR (10.0.0.0/8), an address, a host name nor a .domain suffix"
            )
    return Allowed(tuple(networks), frozenset(names), tuple(suffixes))


@functools.lru_cache(maxsize=8)
def _parsed(entries: tuple[str, ...]) -> Allowed:
    return parse_allow(entries)


def allowed() -> Allowed:
    """The operator's allow list, read on every use so tests can change it with the settings fixture."""
    return _parsed(tuple(getattr(settings, "OUTBOUND_ALLOW", ()) or ()))


def unmap(ip: Address) -> Address:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it carries."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def blocked_reason(ip: Address) -> str | None:
    """Why an address is not public, in words a user understands; None for a public address."""
    ip = unmap(ip)
    if ip in METADATA:
        return "cloud metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.version == 4 and ip in CGNAT:
        return "carrier-grade NAT (100.64.0.0/10)"
    if ip.is_reserved or any(ip in net for net in EXTRA_BLOCKED_NET_RANGES if net.version == ip.version):
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int | None) -> list[Address]:
    """Every address the host resolves to, in the resolver's order. The policy's own resolver: tests
    stub `socket.getaddrinfo` (the socket layer), never the decision below."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    except (UnicodeError, socket.gaierror) as exc:
        raise requests.ConnectionError(f"{host} could not be resolved ({exc})") from None
    found: list[Address] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise requests.ConnectionError(f"{host} has no IPv4 or IPv6 address")
    return found


def check(
    host: str, port: int | None = None, *, peer: str | None = None, extra_names: Iterable[str] = ()
) -> str:
    """The address to connect to for `host`, after the policy; raises OutboundRefused.

    Every address the name resolves to must pass (so a name cannot hide a private address behind a
    public one); the first is returned and the caller connects to it, never to the name again.
    `peer`: a health check's instance address. The host must be it, or resolve to it; it may be a
    private address (the project's own host), but loopback, link-local and metadata stay refused.
    `extra_names`: names one transport trusts on top of the allow list (the operator's SMTP relay).
    """
    if not host:
        raise requests.exceptions.InvalidURL("the URL has no host")
    policy = allowed()
    addresses = resolve(host, port)
    if peer is not None:
        wanted = unmap(ipaddress.ip_address(peer))
        if wanted not in {unmap(a) for a in addresses}:
            raise OutboundRefused(
                host,
                "other",
                f"{host}: a health check connects only to the address the instance's agent connects from "
                f"({wanted}), and {host} does not resolve to it.",
            )
        addresses = [wanted]
    named = policy.name(host) or any(host.lower().rstrip(".") == n.lower().rstrip(".") for n in extra_names)
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason is None or named or policy.address(unmap(ip)):
            continue
        if peer is not None and reason not in NEVER_FOR_PEERS:
            continue
        raise OutboundRefused(host, reason)
    return str(unmap(addresses[0]))


def check_url(url: str, *, peer: str | None = None) -> str:
    """`check` for a URL's host: for forms and clients that want to refuse before any request."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise requests.exceptions.InvalidURL(f"{url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise requests.exceptions.InvalidURL(f"{url!r} has an invalid port") from None
    return check(parts.hostname or "", port, peer=peer)


def describe_error(exc: BaseException) -> str:
    """What a user may see of a failed outside call: the status and a short reason, never the remote
    body (a "Test connection" that echoed bodies turned the server into a reader of internal pages)."""
    import http

    if isinstance(exc, OutboundRefused):
        return str(exc)
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(status, int):
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "unexpected status"
        return f"{type(exc).__name__}: HTTP {status} {phrase}"
    if isinstance(exc, requests.Timeout):
        return f"{type(exc).__name__}: no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return f"{type(exc).__name__}: the server could not be reached"
    return f"{type(exc).__name__}: {str(exc)[:500]}"


# --- requests ------------------------------------------------------------------------------------


class PolicyAdapter(HTTPAdapter):
    """requests-hardened's IPFilterAdapter pins the connection to the address it checked, but its check
    has no allow list. This adapter does the same pinning with `check` as the decision: the pool
    connects to the checked address, while the Host header, SNI and certificate check keep the name."""

    def __init__(self, *, https: bool, peer: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self._https, self._peer = https, peer

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        request.headers = CaseInsensitiveDict(request.headers or {})
        name = host_params["host"]
        port = host_params["port"] or (443 if self._https else 80)
        header = f"[{name}]" if ":" in name else name
        if host_params["port"] is not None:
            header += f":{host_params['port']}"
        request.headers["Host"] = header
        if self._https:
            pool_kwargs["assert_hostname"] = name
            pool_kwargs["server_hostname"] = name
        host_params["host"] = check(name, port, peer=self._peer)
        return host_params, pool_kwargs

    def get_connection(self, url, proxies=None):  # the pre-2.32 path skips the pinning above
        raise NotImplementedError("use requests>=2.32.2 (get_connection_with_tls_context)")


def mount(session: requests.Session, *, peer: str | None = None) -> requests.Session:
    """Bind a session that a library built itself (jira's ResilientSession) to the policy."""
    session.trust_env = False  # an HTTP(S)_PROXY from the environment would skip the pinning
    session.mount("http://", PolicyAdapter(https=False, peer=peer))
    session.mount("https://", PolicyAdapter(https=True, peer=peer))
    return session


def session(
    *, timeout: float | tuple[float, float] = 10.0, redirects: bool = False, peer: str | None = None
) -> requests.Session:
    """A hardened requests session under the policy: for triggers, health checks and streaming GETs
    (``with outbound.session().get(url, stream=True) as r``). Redirects are off unless asked for; when
    on, every hop goes through the same check."""
    pair = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    config = Config(
        ip_filter_enable=False,  # our PolicyAdapter filters, with the operator's allow list
        ip_filter_allow_loopback_ips=False,
        never_redirect=not redirects,
        default_timeout=pair,
    )
    return mount(HTTPSession(config), peer=peer)


def _pygithub_classes():
    from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass

    class PolicyHTTPConnection(HTTPRequestsConnectionClass):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            mount(self.session)

    class PolicyHTTPSConnection(HTTPSRequestsConnectionClass):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            mount(self.session)

    return PolicyHTTPConnection, PolicyHTTPSConnection


def bind_pygithub() -> None:
    """PyGithub builds its own sessions per Requester; its documented hook swaps the connection classes
    for every Requester in the process, which is what we want: no GitHub call escapes the policy."""
    from github.Requester import Requester

    Requester.injectConnectionClasses(*_pygithub_classes())


# --- smtplib -------------------------------------------------------------------------------------


class _PinnedSMTP:
    """Connects to the checked address of the relay; STARTTLS and implicit TLS still verify its name
    (smtplib keeps the name in `_host`). The relay is the operator's FLEETDECK_EMAIL_HOST, never a
    user's input, so it is trusted by name for SMTP alone (no other transport gains it)."""

    def _get_socket(self, host, port, timeout):
        relay = getattr(settings, "EMAIL_HOST", "") or ""
        address = check(host, port, extra_names=(relay,) if relay else ())
        return super()._get_socket(address, port, timeout)


class PolicySMTP(_PinnedSMTP, smtplib.SMTP):
    pass


class PolicySMTPSSL(_PinnedSMTP, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """Django's SMTP backend with its connection bound to the policy (settings.EMAIL_BACKEND)."""

    @property
    def connection_class(self):
        return PolicySMTPSSL if self.use_ssl else PolicySMTP


# --- botocore ------------------------------------------------------------------------------------


def bind_boto_client(client, endpoint_url: str | None):
    """Send a boto3 client's requests to a custom endpoint (MinIO, LocalStack) through `session()`.

    botocore's documented ``before-send`` event lets a handler answer a request itself; ours sends it
    with the policy's pinned connection and hands botocore the raw response, so signing, parsing and
    retries stay botocore's. The endpoint is checked once here too, so a refused one fails when the
    client is made, with the policy's message. AWS's own endpoints (no endpoint_url) are left alone."""
    if not endpoint_url:
        return client
    from botocore.exceptions import BotoCoreError

    class EndpointRefused(BotoCoreError):
        fmt = "{message}"

    try:
        check_url(endpoint_url)
    except (OutboundRefused, requests.RequestException) as exc:
        raise EndpointRefused(message=f"The AWS endpoint_url {endpoint_url} is refused: {exc}") from None
    config = client.meta.config
    http = session(timeout=(config.connect_timeout or 10, config.read_timeout or 60))
    client.meta.events.register("before-send", functools.partial(_send_boto, http, EndpointRefused))
    return client


def _send_boto(http: requests.Session, refused: type, request, **_):
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    headers.pop("Expect", None)  # requests sends the body at once; no 100-continue round trip
    try:
        response = http.request(request.method, request.url, headers=headers, data=request.body, stream=True)
    except OutboundRefused as exc:
        raise refused(message=str(exc)) from None
    except requests.Timeout as exc:
        raise ReadTimeoutError(endpoint_url=request.url, error=exc) from None
    except requests.RequestException as exc:
        raise EndpointConnectionError(endpoint_url=request.url, error=exc) from None
    return AWSResponse(request.url, response.status_code, response.headers, response.raw)

"""SigV4 for the CodeDeploy endpoint: which access key signed a request, checked with botocore's signer.

The request is rebuilt as botocore's `AWSRequest` (method, path, query, the headers the client said it
signed, the body) and signed again with botocore's `SigV4Auth` and the key's secret, at the client's
own `X-Amz-Date`, in the client's region (any string: a project is the "account", and Fleetdeck has no
regions). The two signatures are compared with `hmac.compare_digest`. No signing code of our own.

Refusals are AWS's: `IncompleteSignatureException` for a malformed Authorization header,
`UnrecognizedClientException` for an unknown or revoked key, `InvalidSignatureException` for a
signature that does not match or a request more than 15 minutes from the server's clock.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from django.utils import timezone

from projects.models import AccessKey

from .protocol import CodeDeployError

SERVICE = "codedeploy"
MAX_SKEW = dt.timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


class _Resigner(SigV4Auth):
    """botocore's SigV4, over exactly the headers the client listed as signed."""

    def __init__(self, credentials, region: str, signed: list[str]):
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request):
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen

    def signature_at(self, request: AWSRequest, timestamp: str) -> str:
        request.context["timestamp"] = timestamp
        canonical = self.canonical_request(request)
        return self.signature(self.string_to_sign(request, canonical), request)


def _headers(meta) -> dict[str, str]:
    """The request's headers, but X-Amz-Content-SHA256: the payload's hash is computed from the body."""
    headers = {}
    for name, value in meta.items():
        if name.startswith("HTTP_"):
            headers[name[5:].replace("_", "-").lower()] = value
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH") and value != "":
            headers[name.replace("_", "-").lower()] = value
    headers.pop("x-amz-content-sha256", None)
    return headers


def authenticate(request, body: bytes, now: dt.datetime | None = None) -> AccessKey:
    """The active access key that signed `request`, or CodeDeployError; changes nothing but last use."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise CodeDeployError(
            "MissingAuthenticationTokenException",
            "Sign requests with a Fleetdeck access key (AWS Signature Version 4); create one on your profile.",
        )
    match = _AUTHORIZATION.match(header.strip())
    if match is None:
        raise CodeDeployError(
            "IncompleteSignatureException",
            "The Authorization header is not an AWS4-HMAC-SHA256 signature with Credential, SignedHeaders "
            "and Signature.",
        )
    if match["service"] != SERVICE:
        raise CodeDeployError(
            "InvalidSignatureException", f"The credential is scoped to {match['service']}, not {SERVICE}."
        )
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise CodeDeployError("IncompleteSignatureException", "The signature must cover host and x-amz-date.")
    stamp = request.META.get("HTTP_X_AMZ_DATE", "")
    try:
        when = dt.datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        raise CodeDeployError(
            "IncompleteSignatureException", "X-Amz-Date must be a time such as 20260101T120000Z."
        ) from None
    now = now or timezone.now()
    if abs(now - when) > MAX_SKEW:
        raise CodeDeployError(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {(now - MAX_SKEW).strftime(SIGV4_TIMESTAMP)} "
            f"or later than {(now + MAX_SKEW).strftime(SIGV4_TIMESTAMP)} (15 minutes either side of the "
            "server's clock). Check the client's clock.",
        )
    if match["date"] != stamp[:8]:
        raise CodeDeployError(
            "InvalidSignatureException", "The credential's date is not the date of X-Amz-Date."
        )
    key = AccessKey.active_by_id(match["key"])
    if key is None or not key.user.is_active or not key.secret:
        # The same words for an unknown, revoked or unreadable key: nothing is said of which.
        raise CodeDeployError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    headers = _headers(request.META)
    scheme = "https" if request.is_secure() else "http"
    rebuilt = AWSRequest(
        method=request.method,
        url=f"{scheme}://{request.META.get('HTTP_HOST', '')}{request.get_full_path()}",
        data=body,
        headers=headers,
    )
    credentials = Credentials(key.key_id, key.secret)
    expected = _Resigner(credentials, match["region"], signed).signature_at(rebuilt, stamp)
    if not hmac.compare_digest(expected, match["signature"]):
        raise CodeDeployError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your "
            "Fleetdeck access key's secret and signing method.",
        )
    key.touch()
    return key

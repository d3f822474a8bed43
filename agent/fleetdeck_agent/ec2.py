"""The EC2 instance id from instance metadata (IMDSv2), so the server can match EC2 discovery to agents.

Off EC2 nothing answers at 169.254.169.254: every call has a short timeout and any failure means
"not on EC2" (None), never an error. FLEETDECK_AGENT_EC2_METADATA_URL points it elsewhere (tests
run a tiny local metadata server; some hosts reach IMDS through a proxy).
"""

from __future__ import annotations

import http.client
import os
import re
from typing import Optional
from urllib.parse import urlsplit

DEFAULT_METADATA_URL = "http://169.254.169.254"
TOKEN_TTL = "60"
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def metadata_url() -> str:
    return os.environ.get("FLEETDECK_AGENT_EC2_METADATA_URL") or DEFAULT_METADATA_URL


def instance_id(url: Optional[str] = None, timeout: float = 0.5) -> Optional[str]:
    """PUT /latest/api/token, then GET /latest/meta-data/instance-id with it; None when not on EC2.

    IMDSv2 only: a token is required, as on instances that enforce IMDSv2 (the AWS default now).
    """
    parts = urlsplit(url or metadata_url())
    if parts.scheme != "http" or not parts.hostname:
        return None
    base = parts.path.rstrip("/")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request(
            "PUT", f"{base}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL}
        )
        response = conn.getresponse()
        token = response.read().decode("ascii", "replace").strip()
        if response.status != 200 or not token:
            return None
        conn.request(
            "GET", f"{base}/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
        )
        response = conn.getresponse()
        body = response.read().decode("ascii", "replace").strip()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return body if response.status == 200 and INSTANCE_ID.match(body) else None

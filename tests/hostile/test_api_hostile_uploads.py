"""Hostile bundles uploaded through the API: a 400 whose JSON names the problem, and no revision stored.

Each case once escaped the agent's bundle or appspec code as an uncaught exception, which the upload
view turned into a 500 (found by tests/hostile/test_fuzz_archive.py and test_fuzz_appspec.py).
"""

from __future__ import annotations

import io
import struct
import tarfile

import pytest
from hostile_archives import APPSPEC, build, zip_bytes
from rest_framework.test import APIClient

from deployments.models import Application, Revision
from projects.models import Membership, Project, Role

URL = "/api/v1/applications/shop/revisions/"


@pytest.fixture
def owner_client(db, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    project = Project.objects.create(name="Team", slug="team", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    Application.objects.create(name="shop", project=project, created_by=user)
    client = APIClient()
    client.force_authenticate(user)
    return client


def zip_with_header_field(signature_offsets: tuple[tuple[bytes, int], ...], value: bytes) -> bytes:
    data = bytearray(zip_bytes([("file", "appspec.yml", "", APPSPEC)]))
    for signature, offset in signature_offsets:
        at = data.find(signature)
        data[at + offset : at + offset + len(value)] = value
    return bytes(data)


def tar_with_pax_path(path: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("appspec.yml")
        info.size = len(APPSPEC)
        tar.addfile(info, io.BytesIO(APPSPEC))
        evil = tarfile.TarInfo("placeholder")
        evil.pax_headers = {"path": path}
        tar.addfile(evil, io.BytesIO(b""))
    return buffer.getvalue()


def appspec_zip(appspec: str) -> bytes:
    return build("zip", [("file", "appspec.yml", "", appspec.encode())], False)


def utf8_flagged_zip_with_bad_name() -> bytes:
    data = bytearray(zip_bytes([("file", "appspec.yml", "", APPSPEC), ("file", "abc.txt", "", b"x")]))
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at : at + name_at + 7] == b"abc.txt":
                data[at + flag_at + 1] |= 0x08  # bit 11: the name is UTF-8
                data[at + name_at] = 0xFF  # which it is not
            at = data.find(signature, at + 4)
    return bytes(data)


CASES = {
    "encrypted zip entry": (
        zip_with_header_field(((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)), b"\x01"),
        "appspec.yml",
    ),
    "unsupported zip compression": (
        zip_with_header_field(((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)), struct.pack("<H", 99)),
        "appspec.yml",
    ),
    "zip name flagged UTF-8 that is not": (utf8_flagged_zip_with_bad_name(), "not a readable zip"),
    "non-UTF-8 name that escapes": (build("tar", [("file", "../caf\udce9", "", b"")], True), '".."'),
    "NUL in a pax path": (tar_with_pax_path("app/a\0b"), "NUL"),
    "appspec nested too deeply": (
        appspec_zip("version: 0.0\nos: linux\nfiles: " + "[" * 5000 + "]" * 5000),
        "deeply",
    ),
    "appspec timeout past the limit": (
        appspec_zip(
            "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a.sh\n      timeout: 9"
            + "9" * 40
        ),
        "invalid timeout value",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_bundle_gets_a_400_naming_the_problem_and_stores_nothing(owner_client, tmp_path, case):
    data, expected = CASES[case]
    path = tmp_path / "bundle.bin"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        response = owner_client.post(URL, {"bundle": fh}, format="multipart")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert expected in body["detail"]
    assert body["detail"].startswith("bundle: ")
    assert Revision.objects.count() == 0

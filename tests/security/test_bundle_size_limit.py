"""FLEETDECK_MAX_BUNDLE_SIZE holds everywhere a bundle enters the server:

* an upload past it is a 413 that states the limit, and nothing is kept (no row, no stored file, no
  temporary file), whether Django or the ASGI layer in front of it notices first;
* an S3 object past it is refused when registered, a GitHub archive past it while it streams in, and
  a revision past a limit lowered since it was added fails its deployment;
* the archive check decompresses no more than the limit allows, and refuses archives with more
  entries than FLEETDECK_MAX_BUNDLE_FILES (zip bombs, tar bombs).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
import tempfile
import tracemalloc
import zipfile

import pytest
from aws_fixtures import aws_client
from django.test import Client
from django.urls import reverse
from factories import make_app, make_aws, make_github, make_group, make_instance, make_member, make_project
from fakes import github_fake, running, sha, tarball_of
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from deployments import engine
from deployments.api import bundles
from deployments.models import Deployment, Revision
from integrations.aws.revisions import S3RevisionError, register_s3_revision
from integrations.github.revisions import register_github_revision
from projects.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 64 * 1024
APPSPEC = "version: 0.0\nos: linux\n"


def tgz(files: dict[str, bytes], **pax) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=9) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.pax_headers = dict(pax)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


# Incompressible filler, so an archive's size on the wire is what it says.
BIG = tgz({"appspec.yml": APPSPEC.encode(), "blob.bin": os.urandom(4 * LIMIT)})


@pytest.fixture
def limits(settings, tmp_path):
    settings.MAX_BUNDLE_SIZE = LIMIT
    settings.MEDIA_ROOT = tmp_path / "media"
    # Django spools uploads past this many bytes to FILE_UPLOAD_TEMP_DIR: watch that folder too.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    return tmp_path


@pytest.fixture
def project(limits):
    project = make_project("shop")
    make_app("shop", project=project)
    return project


def contributor(project) -> object:
    return make_member(project, "ada", Role.CONTRIBUTOR)


def nothing_kept(tmp_path) -> list[str]:
    """Rows, stored bundles and temporary files that an upload left behind."""
    left = [f"{Revision.objects.count()} revision rows"] if Revision.objects.exists() else []
    left += [str(p) for p in (tmp_path / "media").rglob("*") if p.is_file()]
    left += [str(p) for p in (tmp_path / "spool").iterdir()]
    left += [name for name in os.listdir(tempfile.gettempdir()) if name.startswith("fleetdeck-upload-")]
    return left


def states_the_limit(text: str) -> bool:
    return "FLEETDECK_MAX_BUNDLE_SIZE" in text and f"{LIMIT} bytes" in text


# -- uploads ------------------------------------------------------------------------------------


def test_an_api_upload_past_the_limit_is_a_413_that_states_it_and_keeps_nothing(project, limits):
    api = APIClient()
    api.force_authenticate(contributor(project))
    response = api.post(
        "/api/v1/applications/shop/revisions/",
        {"bundle": io.BytesIO(BIG), "description": "too big"},
        format="multipart",
    )
    assert response.status_code == 413, response.content[:300]
    assert states_the_limit(response.json()["detail"])
    assert response.json()["limit"] == LIMIT
    assert nothing_kept(limits) == []


def test_an_upload_just_under_the_limit_is_stored(project, limits):
    api = APIClient()
    api.force_authenticate(contributor(project))
    fits = tgz({"appspec.yml": APPSPEC.encode(), "blob.bin": os.urandom(LIMIT // 2)})
    response = api.post(
        "/api/v1/applications/shop/revisions/", {"bundle": io.BytesIO(fits)}, format="multipart"
    )
    assert response.status_code == 201, response.content[:300]
    assert Revision.objects.get().size == len(fits)


def test_an_upload_whose_declared_length_is_far_past_the_limit_is_refused_before_it_is_read(project, limits):
    client = Client()
    client.force_login(contributor(project))
    response = client.generic(
        "POST",
        "/api/v1/applications/shop/revisions/",
        b"x" * 100,
        content_type="multipart/form-data; boundary=zz",
        CONTENT_LENGTH=str(LIMIT + 8 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert states_the_limit(response.json()["detail"])


def test_a_page_upload_past_the_limit_is_a_413_that_states_it_and_keeps_nothing(project, limits):
    client = Client()
    client.force_login(contributor(project))
    response = client.post(
        reverse("revision_upload", args=[project.slug]),
        {"application": "shop", "bundle": io.BytesIO(BIG), "description": "too big"},
    )
    assert response.status_code == 413
    assert states_the_limit(response.content.decode())
    assert nothing_kept(limits) == []


def asgi_post(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
    """POST through the ASGI application uvicorn serves; returns the status, the body and how many
    body chunks the application asked for."""
    from config.asgi import application

    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    taken = 0
    sent: list[dict] = []

    async def receive():
        nonlocal taken
        if not pending:
            await asyncio.sleep(3600)  # the client says nothing more
        taken += 1
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    asyncio.run(asyncio.wait_for(application(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, taken


def test_a_streamed_upload_without_a_length_stops_being_read_past_the_limit(limits):
    chunk = b"z" * (256 * 1024)
    headers = [(b"content-type", b"multipart/form-data; boundary=zz")]
    status, body, taken = asgi_post("/api/v1/applications/shop/revisions/", [chunk] * 200, headers)
    assert status == 413
    assert states_the_limit(json.loads(body)["detail"])
    allowed = LIMIT + bundles.UPLOAD_OVERHEAD
    assert taken <= allowed // len(chunk) + 2, "the server stopped reading soon after the limit"


def test_an_upload_with_a_length_past_the_limit_is_refused_without_reading_it(limits):
    headers = [
        (b"content-type", b"multipart/form-data; boundary=zz"),
        (b"content-length", str(LIMIT + bundles.UPLOAD_OVERHEAD + 1).encode()),
    ]
    status, body, taken = asgi_post("/p/shop/deployments/revisions/upload", [b"z" * 1024], headers)
    assert status == 413 and taken == 0
    assert states_the_limit(body.decode())


# -- the archive check --------------------------------------------------------------------------


def inspect_bytes(data: bytes, tmp_path) -> tuple[str, int]:
    """The server's archive check on `data`: its refusal ("" if none) and the peak memory it took."""
    path = tmp_path / "bundle"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        bundles.inspect(str(path))
        refusal = ""
    except ValidationError as exc:
        refusal = str(exc.detail["bundle"][0])
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return refusal, peak


def test_a_tgz_bomb_of_zeros_is_refused_after_no_more_than_the_limit(limits):
    bomb = tgz({"appspec.yml": APPSPEC.encode(), "zeros.bin": bytes(64 * LIMIT)})
    assert len(bomb) < LIMIT // 4, "small on the wire"
    refusal, _ = inspect_bytes(bomb, limits)
    assert "expands past the 64 KiB limit" in refusal


def test_a_tar_header_bomb_is_refused_without_holding_it_in_memory(limits):
    # One 24 MiB pax header (a "comment"): tiny compressed, and tarfile would read it whole.
    bomb = tgz({"appspec.yml": APPSPEC.encode()}, comment="a" * (24 * 1024 * 1024))
    assert len(bomb) < LIMIT
    refusal, peak = inspect_bytes(bomb, limits)
    assert "expands past the 64 KiB limit" in refusal
    assert peak < 4 * 1024 * 1024, f"the check held {peak} bytes"


def test_an_agent_extracting_a_tar_header_bomb_refuses_it_without_holding_it(tmp_path):
    # S3 objects reach hosts unchecked by the server: the agent's own extraction is bounded the same way.
    from fleetdeck_agent.bundle import BundleError, extract_bundle

    path = tmp_path / "bomb.tgz"
    path.write_bytes(tgz({"appspec.yml": APPSPEC.encode()}, comment="a" * (24 * 1024 * 1024)))
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as refused:
            extract_bundle(str(path), str(tmp_path / "out"), max_size=LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "expands past the 64 KiB limit" in refused.value.message
    assert peak < 4 * 1024 * 1024, f"the agent held {peak} bytes"
    assert not (tmp_path / "out").exists()


def test_a_zip_whose_entries_expand_past_the_limit_is_refused(limits):
    bomb = zipped({"appspec.yml": APPSPEC.encode(), "zeros.bin": bytes(64 * LIMIT)})
    assert len(bomb) < LIMIT // 4
    refusal, peak = inspect_bytes(bomb, limits)
    assert "expands past the 64 KiB limit" in refusal
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_an_archive_with_more_entries_than_allowed_is_refused_naming_the_count(limits, settings, kind):
    settings.MAX_BUNDLE_FILES = 50
    files = {"appspec.yml": APPSPEC.encode(), **{f"f/{n}": b"" for n in range(60)}}
    refusal, _ = inspect_bytes(tgz(files) if kind == "tgz" else zipped(files), limits)
    assert "more than 50 entries" in refusal and "FLEETDECK_MAX_BUNDLE_FILES" in refusal


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_an_archive_with_as_many_entries_as_allowed_passes(limits, settings, kind):
    settings.MAX_BUNDLE_FILES = 50
    files = {"appspec.yml": APPSPEC.encode(), **{f"f/{n}": b"" for n in range(49)}}
    assert inspect_bytes(tgz(files) if kind == "tgz" else zipped(files), limits)[0] == ""


# -- S3 and GitHub ------------------------------------------------------------------------------


def test_an_s3_object_past_the_limit_is_refused_when_registered(project, aws_env):
    s3 = aws_client("s3", aws_env)
    s3.create_bucket(Bucket="releases")
    s3.put_object(Bucket="releases", Key="big.tgz", Body=BIG)
    make_aws(project, aws_env)
    with pytest.raises(S3RevisionError) as refused:
        register_s3_revision(project.applications.get(), "s3://releases/big.tgz", bundle_type="tgz")
    assert states_the_limit(str(refused.value)) and str(len(BIG)) in str(refused.value)
    assert not Revision.objects.exists()


def test_a_github_archive_past_the_limit_fails_its_deployment_and_keeps_nothing(project, limits):
    with running(github_fake) as github:
        github.state.tarball = BIG
        app = project.applications.get()
        make_github(project, github.url)
        make_instance("web-1", project=project, role="web")
        revision = register_github_revision(app, "", sha(3))
        deployment = engine.create_deployment(group=make_group(app, "web", role="web"), revision=revision)
    deployment.refresh_from_db()
    assert (deployment.status, deployment.error_code) == ("Failed", "INVALID_REVISION")
    assert states_the_limit(deployment.error_message)
    revision.refresh_from_db()
    assert not revision.bundle and not revision.sha256
    assert [p for p in (limits / "media").rglob("*") if p.is_file()] == []
    assert [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("fleetdeck-github-")] == []


def test_a_github_archive_under_the_limit_is_kept(project, limits):
    small = tarball_of({"appspec.yml": APPSPEC})
    with running(github_fake) as github:
        github.state.tarball = small
        app = project.applications.get()
        make_github(project, github.url)
        make_instance("web-1", project=project, role="web")
        revision = register_github_revision(app, "", sha(3))
        engine.create_deployment(group=make_group(app, "web", role="web"), revision=revision)
    revision.refresh_from_db()
    assert revision.size == len(small) and Deployment.objects.get().status == "InProgress"


def test_a_revision_past_a_limit_lowered_since_it_was_added_fails_its_deployment(project, limits):
    app = project.applications.get()
    make_instance("web-1", project=project, role="web")
    revision = Revision.objects.create(
        application=app, source="s3", bundle_type="tgz", size=LIMIT + 1, location={"bucket": "b", "key": "k"}
    )
    deployment = engine.create_deployment(group=make_group(app, "web", role="web"), revision=revision)
    deployment.refresh_from_db()
    assert (deployment.status, deployment.error_code) == ("Failed", "INVALID_REVISION")
    assert states_the_limit(deployment.error_message)
    assert not deployment.targets.exists(), "no host was asked to download it"

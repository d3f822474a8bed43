from __future__ import annotations

import hashlib

import pytest
from api_helpers import build_archive, bundle_files

from deployments.models import Revision

pytestmark = pytest.mark.django_db

URL = "/api/v1/applications/shop/revisions/"


def upload(api_client, path, **extra):
    with open(path, "rb") as fh:
        return api_client.post(URL, {"bundle": fh, **extra}, format="multipart")


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_it_stores_an_uploaded_bundle(api_client, application, tmp_path, media_root, kind):
    path = build_archive(tmp_path / f"bundle.{kind}", kind, bundle_files())
    response = upload(api_client, path, description="first cut")
    assert response.status_code == 201, response.json()
    body = response.json()
    data = path.read_bytes()
    assert body["bundle_type"] == kind
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["appspec"].startswith("version: 0.0")
    assert body["uploaded_by"] == "alice"
    assert body["description"] == "first cut"
    revision = Revision.objects.get(pk=body["id"])
    assert revision.bundle.read() == data
    assert str(media_root) in revision.bundle.path


def test_it_finds_the_appspec_inside_a_single_top_level_folder(api_client, application, tmp_path):
    files = {f"shop-1.0/{name}": data for name, data in bundle_files().items()}
    response = upload(api_client, build_archive(tmp_path / "b.tgz", "tgz", files))
    assert response.status_code == 201, response.json()


def test_it_rejects_a_file_that_is_not_an_archive(api_client, application, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some text, not an archive\n" * 20)
    response = upload(api_client, path)
    assert response.status_code == 400
    body = response.json()
    assert "not a zip, tar or tgz archive" in body["errors"]["bundle"][0]
    assert body["detail"].startswith("bundle: ")
    assert not Revision.objects.exists()


def test_it_rejects_an_archive_without_an_appspec(api_client, application, tmp_path):
    response = upload(api_client, build_archive(tmp_path / "b.zip", "zip", bundle_files(appspec=None)))
    assert response.status_code == 400
    assert "no appspec.yml" in response.json()["errors"]["bundle"][0]


def test_it_rejects_an_invalid_appspec_quoting_the_parser_and_the_line(api_client, application, tmp_path):
    appspec = "version: 0.0\nos: windows\n"
    response = upload(api_client, build_archive(tmp_path / "b.zip", "zip", bundle_files(appspec=appspec)))
    assert response.status_code == 400
    message = response.json()["errors"]["bundle"][0]
    assert "appspec.yml, line 2" in message
    assert "unsupported operating system" in message


def test_it_rejects_an_unsafe_archive_naming_the_entry(api_client, application, tmp_path):
    files = {**bundle_files(), "../escape.sh": b"echo gotcha\n"}
    response = upload(api_client, build_archive(tmp_path / "b.tar", "tar", files))
    assert response.status_code == 400
    assert "../escape.sh" in response.json()["errors"]["bundle"][0]


def test_it_requires_a_bundle(api_client, application):
    response = api_client.post(URL, {"description": "nothing"}, format="multipart")
    assert response.status_code == 400
    assert "bundle" in response.json()["errors"]


def test_it_lists_revisions_newest_first(api_client, application, tmp_path):
    first = upload(api_client, build_archive(tmp_path / "1.zip", "zip", bundle_files())).json()
    second = upload(api_client, build_archive(tmp_path / "2.tgz", "tgz", bundle_files())).json()
    results = api_client.get(URL).json()["results"]
    assert [r["id"] for r in results] == [second["id"], first["id"]]
    detail = api_client.get(f"{URL}{first['id']}/").json()
    assert detail["bundle_type"] == "zip"


def test_it_hides_other_applications_revisions(api_client, application, revision):
    api_client.post("/api/v1/applications/", {"name": "blog", "project": "team"}, format="json")
    assert api_client.get(f"/api/v1/applications/blog/revisions/{revision.pk}/").status_code == 404

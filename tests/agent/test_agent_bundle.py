"""Bundles: type detection, top-level folder stripping, safe extraction, checksums, downloads."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile

import pytest
from agent_helpers import SIMPLE_APPSPEC, tar_with, write_tree
from fleetdeck_agent.bundle import BundleError, detect_bundle_type, extract_bundle, inspect_bundle
from fleetdeck_agent.fetch import download


@pytest.fixture
def revision(tmp_path):
    return write_tree(
        tmp_path / "src", {"appspec.yml": SIMPLE_APPSPEC, "app/index.html": "hi", "run.sh": "#!/bin/sh\n"}
    )


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_it_detects_the_bundle_type_from_content(revision, make_bundle, tmp_path, kind):
    bundle = make_bundle(revision, kind)
    renamed = tmp_path / "bundle.bin"
    bundle.rename(renamed)
    assert detect_bundle_type(str(renamed)) == kind
    assert detect_bundle_type(str(revision)) == "directory"


def test_it_does_not_detect_a_type_for_other_content(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"just some text")
    assert detect_bundle_type(str(path)) is None
    with pytest.raises(BundleError, match=r"not a zip, tar or tgz"):
        inspect_bundle(str(path))


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_it_finds_the_appspec_at_the_root(revision, make_bundle, kind):
    info = inspect_bundle(str(make_bundle(revision, kind)))
    assert (info.bundle_type, info.appspec_name, info.prefix) == (kind, "appspec.yml", "")
    assert info.appspec_text == SIMPLE_APPSPEC


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_it_strips_a_single_top_level_folder_that_holds_the_appspec(revision, make_bundle, tmp_path, kind):
    bundle = make_bundle(revision, kind, top="myapp-1.2/")
    assert inspect_bundle(str(bundle)).prefix == "myapp-1.2/"
    dest = tmp_path / "out"
    extract_bundle(str(bundle), str(dest))
    assert (dest / "appspec.yml").read_text() == SIMPLE_APPSPEC
    assert (dest / "app" / "index.html").read_text() == "hi"
    assert (dest / "run.sh").stat().st_mode & 0o111


def test_it_accepts_appspec_yaml(tmp_path, make_bundle):
    src = write_tree(tmp_path / "y", {"appspec.yaml": SIMPLE_APPSPEC})
    assert inspect_bundle(str(make_bundle(src, "zip"))).appspec_name == "appspec.yaml"


def test_it_rejects_a_bundle_without_appspec(tmp_path, make_bundle):
    src = write_tree(tmp_path / "n", {"a/appspec.yml": SIMPLE_APPSPEC, "b/readme": "x"})
    with pytest.raises(BundleError, match=r"no appspec.yml or appspec.yaml at its root"):
        inspect_bundle(str(make_bundle(src, "tar")))


def test_it_rejects_a_declared_type_that_does_not_match_the_content(revision, make_bundle):
    with pytest.raises(BundleError, match=r"declared as zip but its content is tgz"):
        inspect_bundle(str(make_bundle(revision, "tgz")), bundle_type="zip")


def test_it_rejects_zip_slip_naming_the_entry(tmp_path):
    bundle = tmp_path / "slip.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("appspec.yml", SIMPLE_APPSPEC)
        zf.writestr("app/../../evil.sh", "boom")
    with pytest.raises(BundleError, match=r'"app/\.\./\.\./evil\.sh".*"\.\." path components') as info:
        extract_bundle(str(bundle), str(tmp_path / "out"))
    assert info.value.entry == "app/../../evil.sh"
    assert not (tmp_path / "evil.sh").exists()


def test_it_rejects_an_absolute_path_naming_the_entry(tmp_path, tar_info):
    bundle = tar_with(tmp_path / "abs.tar", [(tar_info("/etc/cron.d/evil", 4), b"boom")])
    with pytest.raises(BundleError, match=r'"/etc/cron.d/evil".*absolute paths'):
        inspect_bundle(str(bundle))


def test_it_rejects_a_symlink_pointing_outside_the_archive(tmp_path, tar_info):
    bundle = tar_with(
        tmp_path / "sym.tgz", [(tar_info("app/link", kind=tarfile.SYMTYPE, link="../../etc"), None)], gz=True
    )
    with pytest.raises(BundleError, match=r'"app/link".*symlink to "../../etc" points outside'):
        extract_bundle(str(bundle), str(tmp_path / "out"))


def test_it_rejects_an_absolute_symlink(tmp_path, tar_info):
    bundle = tar_with(
        tmp_path / "sym.tar", [(tar_info("passwd", kind=tarfile.SYMTYPE, link="/etc/passwd"), None)]
    )
    with pytest.raises(BundleError, match=r'"passwd".*points outside'):
        inspect_bundle(str(bundle))


def test_it_rejects_a_write_through_a_symlink_chain_that_escapes(tmp_path, tar_info):
    members = [
        (tar_info("a", kind=tarfile.DIRTYPE), None),
        (tar_info("a/b", kind=tarfile.SYMTYPE, link=".."), None),  # inside: resolves to the root
        (tar_info("c", kind=tarfile.SYMTYPE, link="a/b/.."), None),  # lexically "a", really the parent
        (tar_info("c/escaped", 4), b"boom"),
    ]
    bundle = tar_with(tmp_path / "chain.tar", members)
    out = tmp_path / "deep" / "out"
    with pytest.raises(BundleError, match=r'"c/escaped".*outside the archive'):
        extract_bundle(str(bundle), str(out))
    assert not (tmp_path / "deep" / "escaped").exists()


def test_it_keeps_symlinks_that_stay_inside(tmp_path, tar_info):
    members = [
        (tar_info("real.txt", 2), b"ok"),
        (tar_info("alias.txt", kind=tarfile.SYMTYPE, link="real.txt"), None),
    ]
    out = tmp_path / "out"
    extract_bundle(str(tar_with(tmp_path / "ok.tar", members)), str(out))
    assert (out / "alias.txt").read_text() == "ok" and (out / "alias.txt").is_symlink()


def test_it_rejects_a_hardlink_pointing_outside_the_archive(tmp_path, tar_info):
    bundle = tar_with(
        tmp_path / "hard.tar", [(tar_info("shadow", kind=tarfile.LNKTYPE, link="../../etc/shadow"), None)]
    )
    with pytest.raises(BundleError, match=r'"shadow".*hardlink to "../../etc/shadow" points outside'):
        extract_bundle(str(bundle), str(tmp_path / "out"))


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_it_rejects_device_files_and_fifos(tmp_path, tar_info, kind):
    bundle = tar_with(tmp_path / "dev.tar", [(tar_info("dev/thing", kind=kind), None)])
    with pytest.raises(BundleError, match=r'"dev/thing".*device files, fifos'):
        inspect_bundle(str(bundle))


def test_it_rejects_an_archive_that_expands_past_the_size_limit(tmp_path, tar_info):
    members = [(tar_info(f"data/{i}.bin", 4000), b"x" * 4000) for i in range(5)]
    bundle = tar_with(tmp_path / "big.tgz", members, gz=True)
    with pytest.raises(BundleError, match=r'expands past the 9.766 KiB limit at entry "data/2.bin"'):
        extract_bundle(str(bundle), str(tmp_path / "out"), max_size=10000)
    assert not (tmp_path / "out").exists()


def test_it_counts_bytes_written_against_the_limit_for_lying_zip_headers(tmp_path):
    bundle = tmp_path / "lie.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("appspec.yml", SIMPLE_APPSPEC)
        zf.writestr("bomb.bin", b"\0" * 50000)
    # Declare 1 byte in both headers: the entry must still not expand unchecked.
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        offset = zf.getinfo("bomb.bin").header_offset
    data[offset + 22 : offset + 26] = (1).to_bytes(4, "little")
    central = bytes(data).find(b"PK\x01\x02", bytes(data).find(b"PK\x01\x02") + 4)
    data[central + 24 : central + 28] = (1).to_bytes(4, "little")
    bundle.write_bytes(bytes(data))
    with pytest.raises(BundleError):
        extract_bundle(str(bundle), str(tmp_path / "out"), max_size=20000)
    assert not (tmp_path / "out").exists()


def test_it_extracts_a_directory_bundle(revision, tmp_path):
    out = tmp_path / "out"
    info = extract_bundle(str(revision), str(out))
    assert info.bundle_type == "directory" and (out / "app" / "index.html").read_text() == "hi"


class _BundleServer(http.server.BaseHTTPRequestHandler):
    payload = b""
    seen: list = []

    def do_GET(self):
        self.seen.append((self.headers.get("Host"), self.path, self.headers.get("Authorization")))
        if self.path.startswith("/redirect"):
            target = self.path.split("to=", 1)[1]
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def bundle_server(revision, make_bundle):
    handler = type(
        "Handler", (_BundleServer,), {"payload": make_bundle(revision, "tgz").read_bytes(), "seen": []}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def test_it_downloads_with_the_bearer_header_and_verifies_the_checksum(bundle_server, tmp_path):
    server, handler = bundle_server
    url = f"http://127.0.0.1:{server.server_port}/agent/v1/bundles/1/"
    digest = hashlib.sha256(handler.payload).hexdigest()
    actual = download(url, str(tmp_path / "b.tgz"), {"Authorization": "Bearer fdi_x"}, digest)
    assert actual == digest and (tmp_path / "b.tgz").read_bytes() == handler.payload
    assert handler.seen[-1][2] == "Bearer fdi_x"


def test_it_rejects_a_checksum_mismatch_naming_expected_and_actual(bundle_server, tmp_path):
    server, handler = bundle_server
    digest = hashlib.sha256(handler.payload).hexdigest()
    with pytest.raises(BundleError, match=f"expected sha256 {'0' * 64}, got {digest}"):
        download(f"http://127.0.0.1:{server.server_port}/b", str(tmp_path / "b.tgz"), sha256="0" * 64)
    assert not (tmp_path / "b.tgz").exists()


def test_it_drops_the_auth_header_on_a_cross_host_redirect(bundle_server, tmp_path):
    server, handler = bundle_server
    port = server.server_port
    url = f"http://127.0.0.1:{port}/redirect?to=http://localhost:{port}/bundle.tgz"
    download(url, str(tmp_path / "b.tgz"), {"Authorization": "token ghp_secret"})
    assert handler.seen[0][2] == "token ghp_secret"
    assert handler.seen[1][1] == "/bundle.tgz" and handler.seen[1][2] is None


def test_it_keeps_the_auth_header_on_a_same_host_redirect(bundle_server, tmp_path):
    server, handler = bundle_server
    port = server.server_port
    download(
        f"http://127.0.0.1:{port}/redirect?to=/final.tgz",
        str(tmp_path / "b.tgz"),
        {"Authorization": "token t"},
    )
    assert handler.seen[1][2] == "token t"


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 256 KiB tmpfs, so ENOSPC is real. Needs root (mount): a failure in CI, a skip on a laptop."""
    import os
    import subprocess

    from fleetdeck_testing import require

    path = tmp_path / "tiny"
    path.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(path)], capture_output=True, check=False
        ).returncode
        == 0
    )
    require(mounted, "mounting a small tmpfs (root)")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_it_reports_no_space_left_while_downloading(tiny_filesystem, tmp_path):
    big = tmp_path / "big.tgz"
    big.write_bytes(b"\0" * 600 * 1024)
    dest = tiny_filesystem / "bundle.tgz"
    with pytest.raises(
        BundleError,
        match=f"No space left on device while writing {dest}: free space under {tiny_filesystem} and retry",
    ):
        download(str(big), str(dest), root=str(tiny_filesystem))
    assert not list(tiny_filesystem.iterdir())


def test_it_reports_no_space_left_while_extracting(tiny_filesystem, tmp_path, tar_info):
    bundle = tar_with(tmp_path / "big.tgz", [(tar_info("big.bin", 600 * 1024), b"x" * 600 * 1024)], gz=True)
    with pytest.raises(
        BundleError, match=r"No space left on device while writing .*big.bin: free space under"
    ):
        extract_bundle(str(bundle), str(tiny_filesystem / "out"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [("fleetdeck", "Bearer fdi_agent"), ("s3", None), ("github", "token ghp_from_command")],
)
def test_download_bundle_sends_the_right_auth_header_for_each_source(
    bundle_server, root, command, source, expected
):
    from fleetdeck_agent.executor import ExecutorOptions, execute

    server, handler = bundle_server
    cmd = command("DownloadBundle")
    cmd["revision"] = {
        "id": 1,
        "source": source,
        "bundle_type": "tgz",
        "token": "ghp_from_command",
        "url": f"http://127.0.0.1:{server.server_port}/bundle",
        "env": {},
        "sha256": hashlib.sha256(handler.payload).hexdigest(),
    }
    result = execute(cmd, root, options=ExecutorOptions(credential="fdi_agent"))
    assert result["status"] == "Succeeded", result
    assert handler.seen[-1][2] == expected
    assert os.path.isfile(root.bundle_path("dg-1", "d-TEST00001", "tgz"))


def test_download_bundle_fails_on_a_checksum_mismatch(bundle_server, root, command):
    from fleetdeck_agent.executor import execute

    server, _handler = bundle_server
    cmd = command("DownloadBundle")
    cmd["revision"] = {"source": "s3", "url": f"http://127.0.0.1:{server.server_port}/b", "sha256": "ab" * 32}
    result = execute(cmd, root)
    assert result["status"] == "Failed"
    assert f"Bundle checksum mismatch: expected sha256 {'ab' * 32}, got " in result["diagnostics"]["message"]

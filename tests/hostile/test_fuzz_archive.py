"""Hostile bundles: inspect_bundle and extract_bundle return a BundleInfo or raise BundleError, never more.

Archives are generated (zip, tar, tgz) from entries with hostile names and kinds, then optionally
damaged byte by byte. Whatever happens, nothing is written outside the destination, and a bundle
that extracts holds no link that leads out and no special file.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest
from fleetdeck_agent.bundle import BundleError, BundleInfo, extract_bundle, inspect_bundle
from hostile_archives import APPSPEC, build, zip_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

MAX_SIZE = 1024 * 1024
DEPTH = 8  # folders between the work folder and the destination: more than any entry below climbs
FUZZ = settings(
    max_examples=int(os.environ.get("FLEETDECK_FUZZ_EXAMPLES", "300")),  # raise it to fuzz longer
    deadline=None,
    # The suite replays the same examples every run (no flaky CI); `make fuzz` explores new ones.
    derandomize=os.environ.get("FLEETDECK_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- building archives --------------------------------------------------------------------------

KINDS = ("file", "dir", "symlink", "hardlink", "chr", "blk", "fifo")
name_parts = st.sampled_from(
    [
        "appspec.yml",
        "app",
        "a",
        "b",
        "..",
        ".",
        "",
        "x\\..\\y",
        "C:",
        "\udcff\udcfe",
        "é",
        "sub dir",
        "a" * 120,
    ]
)
hostile_names = st.one_of(
    st.lists(name_parts, min_size=1, max_size=4).map("/".join),
    st.lists(name_parts, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=30),
)
entries = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        hostile_names,
        st.one_of(hostile_names, st.sampled_from(["/etc/passwd", "../../etc", ".", "..", "a/../.."])),
        st.binary(max_size=64),
    ),
    max_size=8,
)


def damage(data: bytes, how: str, where: int, byte: int) -> bytes:
    if not data:
        return data
    where %= len(data)
    if how == "truncate":
        return data[:where]
    if how == "flip":
        return data[:where] + bytes([data[where] ^ (byte or 1)]) + data[where + 1 :]
    return data[:where] + bytes([byte]) * 16 + data[where:]  # insert


# -- the properties -----------------------------------------------------------------------------


def check_outcome(tmp_path: Path, data: bytes, max_size: int = MAX_SIZE) -> BundleInfo | BundleError:
    """Inspect, then extract; both must agree on refusing, and nothing may land outside the box.

    Each call gets a fresh box (hypothesis reuses tmp_path across examples); the last one is `box`.
    """
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    bundle = work / "bundle.bin"
    bundle.write_bytes(data)
    # The destination sits DEPTH folders down, so an entry that climbs any number of levels (up to
    # more than a name of the strategies can hold) lands in a folder the check below looks at.
    levels = [work / "lv0"]
    for depth in range(1, DEPTH):
        levels.append(levels[-1] / f"lv{depth}")
    box = levels[-1] / "box"
    box.mkdir(parents=True)
    (tmp_path / "box").unlink(missing_ok=True)
    (tmp_path / "box").symlink_to(box)
    dest = box / "dest"
    try:
        inspected: BundleInfo | BundleError = inspect_bundle(str(bundle), max_size=max_size)
    except BundleError as error:
        inspected = error
    try:
        extracted: BundleInfo | BundleError = extract_bundle(str(bundle), str(dest), max_size=max_size)
    except BundleError as error:
        extracted = error
    for error in (inspected, extracted):
        if isinstance(error, BundleError):
            assert error.message.strip()
            assert str(error).isprintable()  # lone surrogates and control characters are escaped
    # Whatever happened, only dest may exist in the box, and the staging folder is gone; every folder
    # above it, up to the work folder, holds nothing but the way down.
    assert {path.name for path in box.iterdir()} <= {"dest"}
    for above, below in zip([work, *levels], [*levels, box], strict=True):
        expected = {below.name, "bundle.bin"} if above == work else {below.name}
        assert {path.name for path in above.iterdir()} == expected, f"something was written into {above}"
    if isinstance(extracted, BundleInfo):
        assert isinstance(inspected, BundleInfo), "extraction accepted what inspection refused"
        assert_contained(dest)
    else:
        assert not dest.exists()
    return extracted


def assert_contained(root: Path) -> None:
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), path
            real = os.path.realpath(path)
            assert real == real_root or real.startswith(real_root + os.sep), f"{path} leads to {real}"


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_cleanly(tmp_path, data):
    assert isinstance(check_outcome(tmp_path, data), BundleError)


@FUZZ
@given(st.sampled_from(["zip", "tar", "tgz"]), entries, st.booleans())
def test_generated_archives_with_hostile_entries_are_extracted_safely_or_refused(
    tmp_path, kind, items, with_appspec
):
    check_outcome(tmp_path, build(kind, items, with_appspec))


@FUZZ
@given(
    st.sampled_from(["zip", "tar", "tgz"]),
    entries,
    st.sampled_from(["truncate", "flip", "insert"]),
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=255),
)
def test_damaged_archives_are_refused_or_still_safe(tmp_path, kind, items, how, where, byte):
    check_outcome(tmp_path, damage(build(kind, items, True), how, where, byte))


# -- fixed worst cases --------------------------------------------------------------------------


def refused(tmp_path: Path, data: bytes, max_size: int = MAX_SIZE) -> BundleError:
    outcome = check_outcome(tmp_path, data, max_size)
    assert isinstance(outcome, BundleError), outcome
    return outcome


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (("file", "../evil", "", b"x"), '".." path components'),
        (("file", "app/../../evil", "", b"x"), '".." path components'),
        (("file", "/etc/evil", "", b"x"), "absolute paths"),
        (("symlink", "link", "../outside", b""), "points outside"),
        (("symlink", "link", "/etc/passwd", b""), "points outside"),
        (("chr", "null", "", b""), "device files"),
        (("fifo", "pipe", "", b""), "device files"),
    ],
)
def test_each_known_attack_is_refused_naming_the_entry(tmp_path, kind, entry, why):
    error = refused(tmp_path, build(kind, [entry], True))
    assert why in error.message
    assert entry[1] in error.message


@pytest.mark.parametrize("kind", ["tar", "tgz"])
@pytest.mark.parametrize("link", ["../outside", "/etc/passwd"])
def test_a_hardlink_out_of_the_archive_is_refused(tmp_path, kind, link):
    error = refused(tmp_path, build(kind, [("hardlink", "hard", link, b"")], True))
    assert "hard" in error.message


def test_a_symlink_made_to_lead_out_by_a_later_entry_is_refused(tmp_path):
    # "b" -> "." makes "b/c" -> "../x" (textually inside) land in the root, pointing out of it.
    items = [("symlink", "b", ".", b""), ("symlink", "b/c", "../x", b"")]
    assert "outside the archive" in refused(tmp_path, build("tar", items, True)).message


@pytest.mark.parametrize("depth", range(1, DEPTH))
@pytest.mark.parametrize("kind", ["tar", "tgz", "zip"])
def test_an_entry_climbing_any_number_of_levels_is_refused_and_writes_nothing(tmp_path, kind, depth):
    """The containment check looks at every level above the destination, not only the one above."""
    outcome = check_outcome(tmp_path, build(kind, [("file", "../" * depth + "escaped", "", b"x")], True))
    assert isinstance(outcome, BundleError)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_duplicate_entries_keep_the_last_and_stay_inside(tmp_path, kind):
    items = [("file", "app/a.txt", "", b"first"), ("file", "app/a.txt", "", b"second")]
    outcome = check_outcome(tmp_path, build(kind, items, True))
    assert isinstance(outcome, BundleInfo)
    assert (tmp_path / "box" / "dest" / "app" / "a.txt").read_bytes() == b"second"


def test_a_file_over_an_earlier_directory_is_refused(tmp_path):
    items = [("dir", "app", "", b""), ("file", "app", "", b"x")]
    assert "replaces a directory" in refused(tmp_path, build("tar", items, True)).message


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_archives_truncated_inside_their_entries_are_refused(tmp_path, kind):
    # A tar cut only inside its end-of-archive padding is whole; the agent's sha256 check covers that.
    items = [("file", "appspec.yml", "", APPSPEC), ("file", "app/big.bin", "", os.urandom(8192))]
    data = build(kind, items, False)
    for cut in (10, 700, 5000):  # in a header, in the appspec, in app/big.bin
        refused(tmp_path, data[:cut])


def test_a_huge_declared_tar_size_is_refused_before_reading(tmp_path):
    header = tarfile.TarInfo("app/huge.bin")
    header.size = 10**12  # a terabyte declared, nothing behind it
    data = header.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    error = refused(tmp_path, data)
    assert "limit" in error.message
    assert "app/huge.bin" in error.message


def test_a_zip_bomb_is_stopped_at_the_size_limit(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("bomb.bin", b"\0" * (20 * MAX_SIZE))  # 20 MiB in about 20 KiB
    assert len(buffer.getvalue()) < MAX_SIZE // 20
    error = refused(tmp_path, buffer.getvalue())
    assert "bomb.bin" in error.message


def lie_about_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size of `name` in the local header and the central directory."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = out.find(signature + b"")
        while start >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if out[name_at : name_at + len(name)] == name:
                out[start + offset : start + offset + 4] = struct.pack("<I", size)
            start = out.find(signature, start + 4)
    return bytes(out)


def test_a_zip_bomb_that_declares_a_small_size_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("appspec.yml", APPSPEC)
        archive.writestr("bomb.bin", b"\0" * (4 * MAX_SIZE))
    data = lie_about_size(buffer.getvalue(), b"bomb.bin", 100)
    assert "bomb.bin" in refused(tmp_path, data).message


def test_an_encrypted_zip_entry_is_refused(tmp_path):
    data = bytearray(zip_bytes([("file", "appspec.yml", "", APPSPEC)]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1  # the "encrypted" flag bit
    error = refused(tmp_path, bytes(data))
    assert "appspec.yml" in error.message


def test_an_unsupported_zip_compression_method_is_refused(tmp_path):
    data = bytearray(zip_bytes([("file", "appspec.yml", "", APPSPEC)]))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        data[at + offset : at + offset + 2] = struct.pack("<H", 99)  # AES, which zipfile cannot read
    error = refused(tmp_path, bytes(data))
    assert "appspec.yml" in error.message


def test_a_corrupt_deflate_stream_is_refused(tmp_path):
    data = zip_bytes([("file", "appspec.yml", "", APPSPEC * 50)])
    at = data.find(b"appspec.yml") + len("appspec.yml")  # the local header's name, then the data
    broken = data[:at] + bytes(b ^ 0xFF for b in data[at : at + 8]) + data[at + 8 :]
    refused(tmp_path, broken)


def test_non_utf8_tar_names_extract_under_the_root(tmp_path):
    items = [
        ("file", "app/caf\udce9.txt", "", b"latin-1 name"),
        ("symlink", "app/l\udcff", "caf\udce9.txt", b""),
    ]
    outcome = check_outcome(tmp_path, build("tar", items, True))
    assert isinstance(outcome, BundleInfo)
    assert (tmp_path / "box" / "dest" / "app" / "caf\udce9.txt").read_bytes() == b"latin-1 name"


def test_a_refusal_of_a_non_utf8_name_is_printable_text(tmp_path):
    error = refused(tmp_path, build("tar", [("file", "../caf\udce9", "", b"")], True))
    error.message.encode("utf-8")  # no lone surrogates: it goes into JSON answers and logs


def test_a_gzip_of_garbage_is_refused(tmp_path):
    refused(tmp_path, b"\x1f\x8b\x08\x00" + zlib.compress(b"not a tar at all" * 10))


def test_a_zip_entry_with_an_empty_name_is_handled(tmp_path):
    """Found by atheris: ZipInfo.is_dir() raised IndexError on a central directory entry without a name."""
    data = bytearray(zip_bytes([("file", "appspec.yml", "", APPSPEC), ("file", "x", "", b"data")]))
    central = data.rfind(b"PK\x01\x02")  # the last central directory entry, "x"
    assert data[central + 46 : central + 47] == b"x"
    data[central + 28 : central + 30] = struct.pack("<H", 0)
    del data[central + 46]
    end = data.rfind(b"PK\x05\x06")
    (size,) = struct.unpack("<I", data[end + 12 : end + 16])
    data[end + 12 : end + 16] = struct.pack("<I", size - 1)
    check_outcome(tmp_path, bytes(data))

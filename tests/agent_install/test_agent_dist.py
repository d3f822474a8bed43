"""The wheelhouse the server builds and serves at /agent/dist/, and the install script's download."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from fleetdeck_agent import __version__ as agent_version
from install_helpers import fetch

from deployments.agent_dist import build


@pytest.fixture
def wheelhouse():
    return build.wheelhouse()


def names(directory) -> list[str]:
    return [f.name for f in build.dist_files(directory)]


def test_it_holds_the_agent_and_pyyaml_for_this_platform_and_in_pure_python(wheelhouse):
    files = names(wheelhouse)
    assert f"fleetdeck_agent-{agent_version}-py3-none-any.whl" in files
    assert any(re.fullmatch(r"pyyaml-[\d.]+-cp3\d+-cp3\d+-.+\.whl", name) for name in files), files
    assert any(re.fullmatch(r"pyyaml-[\d.]+-py3-none-any\.whl", name) for name in files), files


def test_the_pure_pyyaml_wheel_has_no_extension_and_a_record_that_matches(wheelhouse):
    pure = next(wheelhouse / n for n in names(wheelhouse) if n.startswith("pyyaml-") and "py3-none-any" in n)
    with zipfile.ZipFile(pure) as archive:
        members = archive.namelist()
        record = next(m for m in members if m.endswith(".dist-info/RECORD"))
        wheel = archive.read(record.replace("RECORD", "WHEEL")).decode()
        listed = [line.split(",")[0] for line in archive.read(record).decode().splitlines()]
    assert "yaml/__init__.py" in members
    assert not [m for m in members if m.endswith((".so", ".pyd", ".pyc"))]
    assert sorted(listed) == sorted(members)
    assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel


def test_a_build_is_reused_until_the_agent_sources_change(wheelhouse, tmp_path):
    assert build.wheelhouse() == wheelhouse  # no second build
    agent = tmp_path / "agent"
    for source in build.agent_sources():
        dest = agent / source.relative_to(build.AGENT_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    assert build.sources_digest(agent) == build.sources_digest()
    (agent / "fleetdeck_agent" / "paths.py").write_text(
        (agent / "fleetdeck_agent" / "paths.py").read_text() + "\n# changed\n"
    )
    assert build.sources_digest(agent) != build.sources_digest()


def test_the_index_links_every_file_with_its_hash(client, wheelhouse):
    response = client.get("/agent/dist/")
    assert response.status_code == 200
    html = response.content.decode()
    for dist in build.dist_files(wheelhouse):
        assert f'<a href="{dist.name}#sha256={dist.sha256}">' in html


def test_only_listed_files_are_served(client, wheelhouse):
    name = names(wheelhouse)[0]
    response = client.get(f"/agent/dist/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (wheelhouse / name).read_bytes()
    assert client.get(f"/agent/dist/{build.MANIFEST}").status_code == 404
    assert client.get("/agent/dist/..%2F..%2Fsecret_key").status_code == 404


def test_the_install_script_names_this_server_and_carries_the_unit(client, settings):
    script = client.get("/agent/install.sh").content.decode()
    assert script.startswith("#!/bin/sh\n")
    assert "DEFAULT_SERVER=http://testserver\n" in script
    assert "KillMode=process" in script and "ExecStart=@VENV@/bin/fleetdeck-agent run" in script
    assert "__FLEETDECK_" not in script
    # Behind a TLS proxy (FLEETDECK_BEHIND_TLS_PROXY), the proxy's X-Forwarded-Proto decides the scheme.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = client.get("/agent/install.sh", HTTP_HOST="fd.internal", HTTP_X_FORWARDED_PROTO="https")
    assert "DEFAULT_SERVER=https://fd.internal\n" in proxied.content.decode()
    settings.PUBLIC_URL = "https://fleetdeck.example"
    assert "DEFAULT_SERVER=https://fleetdeck.example\n" in client.get("/agent/install.sh").content.decode()


def test_a_fresh_venv_installs_the_agent_with_no_index_from_the_served_wheelhouse(live_server, tmp_path):
    venv = tmp_path / "venv"
    # Without its own pip, which the test's pip drives (--python): the same install, seconds sooner.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    report = tmp_path / "report.json"
    env = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "HOME": str(tmp_path)}
    dist = f"{live_server.url}/agent/dist/"
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-cache-dir"]
    pip += ["--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "--no-index", "--find-links", dist, "--report", report, "fleetdeck-agent"], check=True, env=env
    )
    urls = {
        item["metadata"]["name"].lower(): item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    assert set(urls) == {"fleetdeck-agent", "pyyaml"}
    assert all(url.startswith(dist) for url in urls.values()), urls
    version = subprocess.run(
        [venv / "bin" / "fleetdeck-agent", "--version"], capture_output=True, text=True, env=env
    )
    assert version.stdout.strip() == f"fleetdeck-agent {agent_version}"
    # The pure-Python PyYAML, for hosts whose Python differs from the server's, works without libyaml.
    pure = re.search(r'href="(pyyaml-[\d.]+-py3-none-any\.whl)', fetch(dist).decode()).group(1)
    subprocess.run(
        [*pip, "--no-deps", "--force-reinstall", dist + pure],
        check=True,
        env=env,
    )
    check = "import yaml; assert not yaml.__with_libyaml__; print(yaml.safe_load('a: [1, 2]'))"
    assert (
        subprocess.run([venv / "bin" / "python", "-c", check], capture_output=True, text=True, env=env).stdout
        == "{'a': [1, 2]}\n"
    )

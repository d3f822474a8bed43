"""The demo's sample bundle, run by the real agent in local mode: its hooks start, check and stop
a real HTTP service on the host's port."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tarfile
import urllib.request

from demo_helpers import quiet_ports
from fleetdeck_agent.appspec import parse_appspec

from dashboard.demo import DemoHost
from dashboard.demo.sample import alive, build_bundle, prepare_host, stop_services


def _host(tmp_path, port: int) -> DemoHost:
    host = DemoHost(name="demo-web-9", az="a", port=port, home=tmp_path / "agents" / "demo-web-9")
    prepare_host(host, watch_pid=os.getpid())
    return host


def _local(tmp_path, host: DemoHost, label: str) -> subprocess.CompletedProcess:
    bundle = tmp_path / f"{label.replace(' ', '-')}.tgz"
    bundle.write_bytes(build_bundle(label))
    return subprocess.run(
        [sys.executable, "-m", "fleetdeck_agent", "local", "--bundle", str(bundle), "--root", str(host.root)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _page(host: DemoHost) -> str:
    with urllib.request.urlopen(host.url, timeout=10) as response:  # noqa: S310 - loopback
        return response.read().decode()


def test_the_bundle_has_the_label_an_appspec_the_agent_parses_and_executable_hooks():
    with tarfile.open(fileobj=io.BytesIO(build_bundle("demo v7"))) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert archive.extractfile("app/REVISION").read() == b"demo v7\n"
        spec = parse_appspec(archive.extractfile("appspec.yml").read().decode())
    assert set(spec.hooks) == {"ApplicationStop", "AfterInstall", "ApplicationStart", "ValidateService"}
    for event in spec.hooks.values():
        for hook in event:
            assert members[hook.location].mode == 0o755, hook.location


def test_a_second_revision_stops_the_first_server_and_serves_its_own_label(tmp_path):
    host = _host(tmp_path, quiet_ports(1))
    try:
        first = _local(tmp_path, host, "demo v1")
        assert first.returncode == 0, first.stdout + first.stderr
        first_pid = int(host.pidfile.read_text())
        assert "Revision: demo v1" in _page(host)

        second = _local(tmp_path, host, "demo v2")
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"Stopped the demo web server on demo-web-9 (pid {first_pid})" in second.stdout
        assert int(host.pidfile.read_text()) != first_pid
        assert "Revision: demo v2" in _page(host)
    finally:
        stopped = stop_services([host])
    assert len(stopped) == 1
    assert not host.pidfile.exists()
    assert not alive(stopped[0])


def test_application_start_fails_and_says_so_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host = _host(tmp_path, taken.getsockname()[1])
        result = _local(tmp_path, host, "demo v1")
    assert result.returncode == 1
    assert f"The demo web server did not start on port {host.port}" in result.stdout + result.stderr
    assert "Address already in use" in result.stdout + result.stderr
    assert stop_services([host]) == []

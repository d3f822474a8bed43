"""One agent talks to the server through a proxy the test cuts mid-hook; the rest of the fleet goes on."""

from __future__ import annotations

import time

import pytest
from django.utils.dateparse import parse_datetime
from e2e_harness import Fleet
from fault_harness import TcpProxy, assert_no_event_ran_twice, command_rows, running
from test_in_place_rollout import AGENT_EVENTS, Rollout, by_host


@pytest.fixture
def proxy(fault_stack):
    proxy = TcpProxy(fault_stack.port)
    yield proxy
    proxy.close()


def test_an_agent_cut_off_the_network_is_failed_by_the_sweep_and_the_others_finish(fleet, proxy, tmp_path):
    r = Rollout(fleet, tmp_path, "CodeDeployDefault.AllAtOnce", hosts=["host-1", "host-2"])
    # The third host registers and polls through the proxy.
    remote = Fleet(server=proxy.url, api=fleet.api, base=tmp_path / "remote", env=fleet.env, tag=fleet.tag)
    remote._project = fleet.project
    cut_host = f"host-3-{fleet.tag}"
    (r.ctl / f"{cut_host}.AfterInstall.sleep").write_text("20")
    remote.start([cut_host])
    try:
        deployment = r.deploy(r.revision("v1"))
        r.api.wait(deployment, until=lambda d: running(d, cut_host, "AfterInstall"))
        proxy.cut()
        cut_at = time.time()
        detail = r.api.wait(deployment, timeout=60)
    finally:
        remote.kill(cut_host)

    # AllAtOnce needs one success; the two reachable hosts carry it.
    assert detail["status"] == "Succeeded", detail
    targets = by_host(detail)
    assert [targets[h]["status"] for h in r.hosts] == ["Succeeded", "Succeeded"]
    assert targets[cut_host]["status"] == "Failed"
    event = {e["name"]: e for e in targets[cut_host]["lifecycle_events"]}["AfterInstall"]
    assert event["diagnostics"]["error_code"] == "AGENT_ISSUE"
    assert f"The agent on {cut_host} stopped responding" in event["diagnostics"]["message"]
    # Offline after 4 s of silence, swept every second: "in time" with room for a loaded machine.
    assert parse_datetime(event["ended_at"]).timestamp() - cut_at < 20

    ran = assert_no_event_ran_twice(r, deployment)  # the cut-off host included
    assert {k: v for k, v in ran.items() if k[0] in r.hosts} == {
        (host, name): 1 for host in r.hosts for name in AGENT_EVENTS[1:]
    }
    rows = command_rows(deployment)
    assert [row["status"] for row in rows if row["instance__name"] == cut_host].count("Completed") == 5

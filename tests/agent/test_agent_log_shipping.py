"""How a running agent ships a hook's output: quiet lines at once, chatty output in few requests.

A real agent subprocess against the fake `/agent/v1/` API, which records when each line arrives.
"""

from __future__ import annotations

import statistics
import time

from test_agent_server import HEAD, bundle_command, start_agent  # noqa: F401  (the module's fixture)

QUIET = """#!/bin/sh
i=0
while [ $i -lt 8 ]; do echo "LAT $(date +%s.%N)"; sleep 0.3; i=$((i+1)); done
"""

# Steady output, a line every 5 ms for 3 s, then a flood of 5,000 lines at once.
CHATTY = """#!/usr/bin/env python3
import sys, time
start = time.monotonic()
n = 0
while time.monotonic() - start < 3.0:
    print(f"steady {n}", flush=True)
    n += 1
    time.sleep(0.005)
sys.stdout.write("".join(f"flood {i}\\n" for i in range(5000)))
sys.stdout.flush()
time.sleep(0.5)
"""


def _run(fake_server, start_agent, make_revision, make_bundle, script: str, command_id: str):  # noqa: F811
    spec = HEAD + "hooks:\n  AfterInstall:\n    - location: s.sh\n      timeout: 60\n"
    bundle = make_bundle(make_revision(spec, {"s.sh": script}), "tgz")
    fake_server.commands = [
        bundle_command(fake_server, bundle, "DownloadBundle", "c1"),
        bundle_command(fake_server, bundle, "AfterInstall", command_id),
    ]
    agent = start_agent(fake_server.url).start()
    assert fake_server.wait_for(lambda: command_id in fake_server.completes, timeout=60), agent.log()
    assert fake_server.completes[command_id][1]["status"] == "Succeeded"
    assert agent.terminate() == 0
    with fake_server.lock:
        posts = [r for r in fake_server.requests if r["path"] == f"/agent/v1/commands/{command_id}/log/"]
        streamed = dict(fake_server.logs.get(command_id, {}))
    with_completion = fake_server.completes[command_id][1].get("lines", [])
    return posts, streamed, with_completion


def test_a_line_printed_after_a_quiet_spell_reaches_the_server_at_once(
    fake_server,
    start_agent,  # noqa: F811
    make_revision,
    make_bundle,
):
    posts, streamed, _ = _run(fake_server, start_agent, make_revision, make_bundle, QUIET, "c2")
    to_wall = time.time() - time.monotonic()  # the fake records arrivals on the monotonic clock
    latencies = [
        arrived + to_wall - float(line["text"][4:])
        for arrived, line in streamed.values()
        if line["text"].startswith("LAT ")
    ]
    assert len(latencies) >= 6, streamed  # the last one or two may ride with the completion
    # Agents before this one held every line for 200 ms (twice: the pipe reader, then the shipper).
    assert statistics.median(latencies) < 0.15, sorted(latencies)
    assert len(posts) == len(latencies), "each quiet line is its own request"


def test_a_chatty_hook_sends_no_more_requests_than_fixed_200_ms_batches_of_100_lines(
    fake_server,
    start_agent,  # noqa: F811
    make_revision,
    make_bundle,
):
    posts, streamed, with_completion = _run(
        fake_server, start_agent, make_revision, make_bundle, CHATTY, "c3"
    )
    lines = [entry[1] for _, entry in sorted(streamed.items())] + with_completion
    texts = [ln["text"] for ln in lines if ln["script"] != "agent"]  # not the agent's own notes
    steady = [t for t in texts if t.startswith("steady ")]
    assert len(steady) > 200 and texts.count("flood 4999") == 1 and len(texts) == len(steady) + 5000
    seqs = sorted([*streamed, *(ln["seq"] for ln in with_completion)])
    assert seqs == list(range(1, len(lines) + 1)), "every line once, in order"
    # The earlier agents' floor for this output: one request per 200 ms of steady output (3 s) and
    # one per 100 lines of the flood.
    steady_posts = [p for p in posts if not any(ln["text"].startswith("flood ") for ln in p["body"]["lines"])]
    assert len(steady_posts) <= 3.0 / 0.2, len(steady_posts)
    fixed_batches = 3.0 / 0.2 + 5000 / 100
    assert len(posts) <= fixed_batches / 2, len(posts)
    assert max(len(p["body"]["lines"]) for p in posts) <= 1000, "the server takes at most 1,000 a request"

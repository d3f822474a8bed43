"""Benchmark the host agent: idle RSS, per-event overhead, extraction peak RSS.

    .venv/bin/python bench/agent.py [--events 50] [--bundle-mb 100]

Prints figures and compares them with the targets; asserts nothing. Needs the
`fleetdeck-agent` package installed (pip install -e agent) and Linux /proc.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path

TARGETS = {"idle": 40.0, "overhead": 20.0, "extract": 80.0}


def proc_status_kb(pid: int | str, field: str) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return float("nan")


class SlowPoll(http.server.BaseHTTPRequestHandler):
    """Answers every poll with no commands after a delay, like an idle server."""

    protocol_version = "HTTP/1.1"
    delay = 1.0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/poll/" in self.path:
            time.sleep(self.delay)
        body = json.dumps({"commands": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the agent hangs up mid-poll when it stops


def bench_idle_rss(workdir: Path, seconds: float) -> tuple[float, float]:
    server = QuietServer(("127.0.0.1", 0), SlowPoll)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = workdir / "agent.yml"
    config.write_text(
        json.dumps(
            {
                "server": f"http://127.0.0.1:{server.server_port}",
                "credential": "fdi_bench",
                "name": "bench",
                "root": str(workdir / "root"),
                "poll_wait": 2,
                "ec2_metadata": False,
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetdeck_agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(seconds)
        rss = proc_status_kb(proc.pid, "VmRSS") / 1024
        hwm = proc_status_kb(proc.pid, "VmHWM") / 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        server.shutdown()
        server.server_close()
    return rss, hwm


def bench_event_overhead(workdir: Path, events: int) -> tuple[float, float, float, float]:
    from fleetdeck_agent.executor import execute

    revision = workdir / "revision"
    (revision / "scripts").mkdir(parents=True)
    (revision / "appspec.yml").write_text(
        "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/noop.sh\n"
    )
    script = revision / "scripts" / "noop.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    root = str(workdir / "event-root")
    base = {
        "deployment_id": "d-BENCH",
        "deployment_group_id": "dg-bench",
        "application_name": "bench",
        "deployment_group_name": "bench",
        "revision": {"source": "local", "bundle_type": "directory", "url": str(revision)},
    }
    execute(dict(base, id="c0", lifecycle_event="DownloadBundle"), root)
    execute(dict(base, id="warm", lifecycle_event="AfterInstall"), root)

    batches = []
    began = time.perf_counter()
    for index in range(events):
        result = execute(dict(base, id=f"c{index}", lifecycle_event="AfterInstall"), root, batches.append)
        assert result["status"] == "Succeeded", result
    per_event = (time.perf_counter() - began) / events * 1000

    began = time.perf_counter()
    for _ in range(events):
        subprocess.run([str(script)], capture_output=True, check=True, start_new_session=True)
    per_script = (time.perf_counter() - began) / events * 1000

    began = time.perf_counter()
    for index in range(events):
        execute(dict(base, id=f"s{index}", lifecycle_event="ValidateService"), root)  # no scripts: Skipped
    per_skipped = (time.perf_counter() - began) / events * 1000
    return per_event, per_script, per_event - per_script, per_skipped


def make_bundle(path: Path, megabytes: int, kind: str) -> None:
    chunk = 4 * 1024 * 1024
    files = max(1, megabytes * 1024 * 1024 // chunk)
    appspec = b"version: 0.0\nos: linux\n"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("app/appspec.yml", appspec)
            for index in range(files):
                zf.writestr(f"app/data/blob-{index}.bin", os.urandom(chunk))
        return
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        info = tarfile.TarInfo("app/appspec.yml")
        info.size = len(appspec)
        import io

        tf.addfile(info, io.BytesIO(appspec))
        for index in range(files):
            data = os.urandom(chunk)
            info = tarfile.TarInfo(f"app/data/blob-{index}.bin")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


EXTRACT = """
import sys, time
from fleetdeck_agent.bundle import extract_bundle
began = time.perf_counter()
extract_bundle(sys.argv[1], sys.argv[2])
elapsed = time.perf_counter() - began
with open("/proc/self/status") as fh:
    hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
print(elapsed, int(hwm) / 1024)
"""


def bench_extraction(workdir: Path, megabytes: int, kind: str) -> tuple[float, float, float]:
    bundle = workdir / f"big.{kind}"
    make_bundle(bundle, megabytes, kind)
    out = subprocess.run(
        [sys.executable, "-c", EXTRACT, str(bundle), str(workdir / f"out-{kind}")],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed, hwm = (float(value) for value in out.stdout.split())
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fleetdeck_agent.bundle;"
            "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return elapsed, hwm, float(baseline.stdout) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--bundle-mb", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="fleetdeck-bench-") as tmp:
        work = Path(tmp)
        rss, hwm = bench_idle_rss(work, args.idle_seconds)
        rows.append(
            (
                "idle agent RSS (run, long-polling)",
                f"{rss:.1f} MB",
                f"< {TARGETS['idle']:.0f} MB",
                rss < TARGETS["idle"],
            )
        )
        rows.append(("idle agent peak RSS (VmHWM)", f"{hwm:.1f} MB", "", None))

        per_event, per_script, overhead, skipped = bench_event_overhead(work, args.events)
        rows.append((f"no-op hook event, mean of {args.events}", f"{per_event:.1f} ms", "", None))
        rows.append(("  the hook's own runtime (spawn+exit)", f"{per_script:.1f} ms", "", None))
        rows.append(
            (
                "  agent overhead per event",
                f"{overhead:.1f} ms",
                f"< {TARGETS['overhead']:.0f} ms",
                overhead < TARGETS["overhead"],
            )
        )
        rows.append(("event with no scripts (Skipped)", f"{skipped:.1f} ms", "", None))

        for kind in ("tgz", "zip"):
            elapsed, peak, baseline = bench_extraction(work, args.bundle_mb, kind)
            rows.append((f"extract {args.bundle_mb} MB {kind}: time", f"{elapsed:.2f} s", "", None))
            rows.append(
                (
                    f"extract {args.bundle_mb} MB {kind}: peak RSS",
                    f"{peak:.1f} MB",
                    f"< {TARGETS['extract']:.0f} MB",
                    peak < TARGETS["extract"],
                )
            )
        rows.append(("  (interpreter + import baseline)", f"{baseline:.1f} MB", "", None))

    width = max(len(row[0]) for row in rows)
    print(f"{'metric':<{width}}  {'value':>10}  {'target':>9}  ok")
    print("-" * (width + 28))
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<{width}}  {value:>10}  {target:>9}  {mark}")


if __name__ == "__main__":
    main()

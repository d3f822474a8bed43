"""Run only the setup steps of `make demo` in a fresh process, report, and stop on a line from stdin.

usage: python demo_driver.py WEB_PORT   (FLEETDECK_VAR_DIR and FLEETDECK_DEMO_PORT_BASE from the env)

Prints one JSON line once setup has returned: the pids of every process the demo started (stack
children, agents, the sample services from their pidfiles, the embedded Redis), then waits.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config.stack import Stack, configure, shutdown


def main() -> int:
    settings = configure()
    from config.demo import Demo  # after Django is set up

    demo = Demo(Stack(port=int(sys.argv[1]), log_dir=settings.VAR_DIR / "logs"), settings.VAR_DIR)
    demo.out = lambda line: print(
        f"[{time.monotonic() - demo.started:5.1f} s] {line}", file=sys.stderr, flush=True
    )
    try:
        demo.setup()
        redis_pid = settings.VAR_DIR / "redis.pid"
        pids = {name: proc.pid for name, proc in demo.stack.processes.items()}
        pids.update({f"app-{h.name}": int(h.pidfile.read_text()) for h in demo.hosts if h.pidfile.exists()})
        if redis_pid.exists():
            pids["redis"] = int(redis_pid.read_text())
        print(
            json.dumps(
                {"status": demo.status, "error": demo.error, "deployment": demo.deployment_id, "pids": pids}
            ),
            flush=True,
        )
        sys.stdin.readline()
    finally:
        shutdown(demo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

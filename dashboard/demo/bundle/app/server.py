"""The demo's sample service: one page naming the host and the revision it runs, and /health.

Started detached by scripts/start_server.sh. It writes its pidfile once it listens, removes it
when it stops, and exits by itself when the process named by --watch-pid (the demo) is gone, so
a demo killed without cleanup leaves no server behind.
"""

import argparse
import html
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{host}: {revision}</title>
<style>body{{font-family:system-ui,sans-serif;margin:3rem;color:#1f2937}}
.rev{{font-size:2rem;color:#2563eb}}</style></head>
<body><h1>Fleetdeck demo app on {host}</h1>
<p class="rev">Revision: {revision}</p>
<p>Deployed by {deployment}, running since {since}.</p></body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host-name", required=True)
    parser.add_argument("--app-dir", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--watch-pid", type=int, default=0)
    args = parser.parse_args()
    app = Path(args.app_dir)
    page = PAGE.format(
        host=html.escape(args.host_name),
        revision=html.escape((app / "REVISION").read_text().strip()),
        deployment=html.escape((app / "DEPLOYMENT").read_text().strip()),
        since=time.strftime("%Y-%m-%d %H:%M:%S"),
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok\n" if self.path == "/health" else page
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path == "/health" else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {format % args}\n")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    pidfile = Path(args.pidfile)
    tmp = pidfile.with_name(pidfile.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(pidfile)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(args.watch_pid, 0)
            except ProcessLookupError:
                sys.stderr.write(f"process {args.watch_pid} is gone: stopping\n")
                stop()
                return
            except PermissionError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_pid > 0:
        threading.Thread(target=watch, daemon=True).start()
    sys.stderr.write(f"serving {args.host_name} on http://127.0.0.1:{args.port}/\n")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
            pidfile.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

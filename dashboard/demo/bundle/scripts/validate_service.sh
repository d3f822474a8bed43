#!/bin/sh
# ValidateService: the page must answer with this revision's label, within about 10 seconds.
. "$(dirname "$0")/common.sh"
exec python3 - "http://127.0.0.1:$DEMO_PORT/" "$(cat "$APP_DIR/REVISION")" <<'PY'
import sys
import time
import urllib.request

url, label = sys.argv[1], sys.argv[2]
for attempt in range(1, 21):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read().decode()
        if label in body:
            print(f"{url} answered {response.status} with revision {label!r} (attempt {attempt})")
            sys.exit(0)
        print(f"{url} answered, but not with revision {label!r}")
    except OSError as exc:
        print(f"attempt {attempt}: {url}: {exc}")
    time.sleep(0.5)
print(f"{url} never served revision {label!r}", file=sys.stderr)
sys.exit(1)
PY

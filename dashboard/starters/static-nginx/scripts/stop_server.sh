#!/bin/sh
# ApplicationStop: runs from the previous revision before a new one is installed.
# Static files need no stop; nginx keeps serving until the new files are in place and it reloads.
set -eu
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx; then
    echo "nginx keeps running; the new revision reloads it"
else
    echo "nginx is not running; nothing to stop"
fi

#!/bin/sh
# ApplicationStop: stop the server the last revision started, by its pidfile.
. "$(dirname "$0")/common.sh"
if [ ! -s "$PIDFILE" ]; then
  echo "No demo web server is running on $DEMO_HOST"
  exit 0
fi
pid=$(cat "$PIDFILE")
# Only signal our own server: the pid may have been reused since.
if kill -0 "$pid" 2>/dev/null && grep -q server.py "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  echo "Stopped the demo web server on $DEMO_HOST (pid $pid)"
else
  echo "The demo web server on $DEMO_HOST (pid $pid) had already stopped"
fi
rm -f "$PIDFILE"

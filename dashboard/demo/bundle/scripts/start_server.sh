#!/bin/sh
# ApplicationStart: start the server detached (its own session, no inherited output), so the
# hook returns at once and the agent's process handling does not matter; wait for its pidfile.
. "$(dirname "$0")/common.sh"
rm -f "$PIDFILE"
detach=""
if command -v setsid >/dev/null 2>&1; then detach=setsid; fi
$detach nohup python3 "$APP_DIR/server.py" --port "$DEMO_PORT" --host-name "$DEMO_HOST" \
  --app-dir "$APP_DIR" --pidfile "$PIDFILE" --watch-pid "${DEMO_WATCH_PID:-0}" \
  >>"$HOST_DIR/app.log" 2>&1 </dev/null &
child=$!
i=0
while [ ! -s "$PIDFILE" ]; do
  if ! kill -0 "$child" 2>/dev/null || [ $i -ge 100 ]; then
    echo "The demo web server did not start on port $DEMO_PORT. Its log says:" >&2
    tail -n 20 "$HOST_DIR/app.log" >&2
    exit 1
  fi
  sleep 0.1
  i=$((i + 1))
done
echo "Started the demo web server on $DEMO_HOST (pid $(cat "$PIDFILE")): http://127.0.0.1:$DEMO_PORT/"

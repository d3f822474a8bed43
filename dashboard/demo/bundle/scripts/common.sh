# Sourced by every hook. Finds this host's demo-host.env (DEMO_HOST, DEMO_PORT, DEMO_WATCH_PID)
# in the first folder above the revision that has one: the agent's home.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
while [ "$dir" != / ] && [ ! -f "$dir/demo-host.env" ]; do
  dir=$(dirname "$dir")
done
if [ ! -f "$dir/demo-host.env" ]; then
  echo "No demo-host.env above $(pwd): this bundle is meant for the agents that make demo starts" >&2
  exit 2
fi
HOST_DIR=$dir
. "$HOST_DIR/demo-host.env"
APP_DIR=$HOST_DIR/app
PIDFILE=$HOST_DIR/app.pid

#!/bin/sh
# ApplicationStop: runs from the previous revision. Stop the service if it exists.
set -eu
if systemctl list-unit-files fleetdeck-node.service >/dev/null 2>&1 && systemctl is-active --quiet fleetdeck-node; then
    systemctl stop fleetdeck-node
    echo "fleetdeck-node stopped"
else
    echo "fleetdeck-node is not running; nothing to stop"
fi

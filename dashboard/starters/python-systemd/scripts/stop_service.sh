#!/bin/sh
# ApplicationStop: runs from the previous revision. Stop the service if it exists.
set -eu
if systemctl list-unit-files fleetdeck-app.service >/dev/null 2>&1 && systemctl is-active --quiet fleetdeck-app; then
    systemctl stop fleetdeck-app
    echo "fleetdeck-app stopped"
else
    echo "fleetdeck-app is not running; nothing to stop"
fi

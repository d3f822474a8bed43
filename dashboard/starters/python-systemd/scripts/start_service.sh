#!/bin/sh
# ApplicationStart: enable and (re)start the unit.
set -eu
systemctl enable fleetdeck-app
systemctl restart fleetdeck-app
echo "fleetdeck-app started"

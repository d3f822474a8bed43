#!/bin/sh
# ApplicationStart: enable and (re)start the unit.
set -eu
systemctl enable fleetdeck-node
systemctl restart fleetdeck-node
echo "fleetdeck-node started"

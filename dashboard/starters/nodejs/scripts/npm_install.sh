#!/bin/sh
# AfterInstall: install production dependencies and reload systemd units.
set -eu
cd /opt/fleetdeck-node
npm install --omit=dev --no-audit --no-fund
chown -R fleetdeck-node:fleetdeck-node /opt/fleetdeck-node
systemctl daemon-reload
echo "dependencies installed"

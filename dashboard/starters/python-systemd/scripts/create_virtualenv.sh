#!/bin/sh
# AfterInstall: install the requirements into /opt/fleetdeck-app/.venv and reload systemd units.
set -eu
cd /opt/fleetdeck-app
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements.txt
chown -R fleetdeck-app:fleetdeck-app /opt/fleetdeck-app
systemctl daemon-reload
echo "virtualenv ready: $(.venv/bin/gunicorn --version)"

#!/bin/sh
# BeforeInstall: python3 with venv, a system user for the service, and a clean install directory.
set -eu
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv curl
    elif command -v dnf >/dev/null 2>&1; then
        dnf install -y python3 curl
    else
        echo "Install python3 with the venv module first" >&2
        exit 1
    fi
fi
if ! id fleetdeck-app >/dev/null 2>&1; then
    useradd --system --home-dir /opt/fleetdeck-app --shell /usr/sbin/nologin fleetdeck-app
fi
# Keep the virtualenv between revisions; replace everything else.
mkdir -p /opt/fleetdeck-app
find /opt/fleetdeck-app -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
echo "python3 $(python3 -c 'import sys; print(sys.version.split()[0])') is ready"

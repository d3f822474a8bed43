#!/bin/sh
# BeforeInstall: node and npm, a system user for the service, and a clean install directory.
set -eu
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm curl
    elif command -v dnf >/dev/null 2>&1; then
        dnf install -y nodejs npm curl
    else
        echo "Install node and npm first" >&2
        exit 1
    fi
fi
if ! id fleetdeck-node >/dev/null 2>&1; then
    useradd --system --home-dir /opt/fleetdeck-node --shell /usr/sbin/nologin fleetdeck-node
fi
rm -rf /opt/fleetdeck-node
mkdir -p /opt/fleetdeck-node
echo "node $(node --version) is ready"

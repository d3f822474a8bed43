#!/bin/sh
# BeforeInstall: make sure nginx is installed, and clear the files of the previous revision.
set -eu
if ! command -v nginx >/dev/null 2>&1; then
    echo "Installing nginx"
    if command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx
    elif command -v dnf >/dev/null 2>&1; then
        dnf install -y nginx
    else
        echo "No apt-get or dnf here: install nginx yourself" >&2
        exit 1
    fi
fi
rm -f /etc/nginx/sites-enabled/default
rm -rf /var/www/fleetdeck-site
mkdir -p /var/www/fleetdeck-site
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') is ready"

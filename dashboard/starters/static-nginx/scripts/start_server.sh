#!/bin/sh
# ApplicationStart: check the configuration, then start nginx or reload it with the new site.
set -eu
nginx -t
if systemctl is-active --quiet nginx; then
    systemctl reload nginx
else
    systemctl enable --now nginx
fi
echo "nginx is serving /var/www/fleetdeck-site"

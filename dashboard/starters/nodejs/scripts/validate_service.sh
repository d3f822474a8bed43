#!/bin/sh
# ValidateService: /healthz must answer within 30 seconds.
set -eu
URL="http://127.0.0.1:${PORT:-3000}/healthz"
echo "ValidateService: checking $URL"
i=0
while [ "$i" -lt 30 ]; do
    if curl -fsS "$URL" >/dev/null 2>&1; then
        echo "ValidateService: $URL answers"
        exit 0
    fi
    i=$((i + 1))
    sleep 1
done
echo "ValidateService: $URL did not answer after 30 s; see: journalctl -u fleetdeck-node" >&2
exit 1

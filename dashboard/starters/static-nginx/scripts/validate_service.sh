#!/bin/sh
# ValidateService: the page must answer 200 and contain the expected heading, within 30 seconds.
set -eu
URL="http://127.0.0.1:${PORT:-80}/"
echo "ValidateService: checking $URL"
i=0
while [ "$i" -lt 30 ]; do
    if curl -fsS "$URL" 2>/dev/null | grep -q "Hello from Fleetdeck"; then
        echo "ValidateService: $URL answers"
        exit 0
    fi
    i=$((i + 1))
    sleep 1
done
echo "ValidateService: $URL did not answer with the expected page after 30 s" >&2
exit 1

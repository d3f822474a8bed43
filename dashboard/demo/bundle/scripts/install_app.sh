#!/bin/sh
# AfterInstall: put this revision's app where ApplicationStart runs it from, in one rename.
. "$(dirname "$0")/common.sh"
revision=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$APP_DIR.new"
cp -R "$revision/app" "$APP_DIR.new"
echo "$DEPLOYMENT_ID" > "$APP_DIR.new/DEPLOYMENT"
rm -rf "$APP_DIR"
mv "$APP_DIR.new" "$APP_DIR"
echo "Installed revision \"$(cat "$APP_DIR/REVISION")\" into $APP_DIR"

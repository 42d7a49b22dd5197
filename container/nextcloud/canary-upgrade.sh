#!/bin/sh
# Canary step of the webroot publish Job, run in the NEW web image on a webroot that
# fetch-webroot filled with the CURRENT snapshot:
#   1. the official image's own upgrade procedure (/entrypoint.sh with NEXTCLOUD_UPDATE=1:
#      rsync of the new release, `occ upgrade`), a no-op when the versions match;
#   2. the occ commands of OCC_COMMANDS, one per line (app:install, app:update --all, ...);
#   3. config/config.php is rewritten to hold the installed version only. Nextcloud
#      compares it with its code on every request, and occ and cron.php want the file to
#      exist; every other setting, secrets included, comes from the pods' mounted
#      *.config.php fragments, so the published config.php carries no secret.
set -eu

webroot=/var/www/html
cd "$webroot"

NEXTCLOUD_UPDATE=1 /entrypoint.sh true

if [ -n "${OCC_COMMANDS:-}" ]; then
    printf '%s\n' "$OCC_COMMANDS" | while IFS= read -r command; do
        [ -n "$command" ] || continue
        echo "canary-upgrade: occ $command" >&2
        # shellcheck disable=SC2086 # one occ command line, split into its arguments
        php occ --no-interaction $command
    done
fi

version=$(php occ config:system:get version)
case $version in
    [0-9]*.[0-9]*) ;;
    *) echo "canary-upgrade: unexpected Nextcloud version '$version'" >&2; exit 1 ;;
esac
# occ wrote every merged value into config.php; keep the version alone.
printf "<?php\n\$CONFIG = array (\n  'version' => '%s',\n);\n" "$version" >config/config.php.new
mv config/config.php.new config/config.php
rm -f nextcloud-init-sync.lock
echo "canary-upgrade: webroot ready to publish (Nextcloud $version)" >&2

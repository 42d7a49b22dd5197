#!/bin/sh
# Starts the web server on the webroot that the fetch-webroot init container unpacked.
# Nothing is downloaded, copied or chowned here.
set -eu

webroot=${WEBROOT:-/var/www/html}
if [ ! -f "$webroot/version.php" ]; then
    echo "webroot-entrypoint: $webroot/version.php is missing: the fetch-webroot init container must fill $webroot" >&2
    exit 1
fi

# With its files in object storage, Nextcloud still wants a local data directory that
# holds the .ocdata marker (an emptyDir).
data_dir=${NEXTCLOUD_DATA_DIR:-/var/lib/nextcloud/data}
mkdir -p "$data_dir"
[ -e "$data_dir/.ocdata" ] || : >"$data_dir/.ocdata"

exec "$@"

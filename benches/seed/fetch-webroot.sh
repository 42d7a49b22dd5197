#!/bin/sh
# fetch-webroot.sh — the seed entrypoint step that `cachegate fetch-webroot` replaces, as
# stateless Nextcloud images run it at every pod start before the web server: download
# the archive, unpack it into the (empty) webroot, hand the files to the web server user.
# Kept as the baseline of benches/webroot_vs_scripts.sh.
#
#   S3_BUCKET=nextcloud-webroot fetch-webroot.sh
#
# WEBROOT  where to unpack                             [/var/www/html]
# S3_BUCKET, S3_KEY  the archive                       [-, webroot.tar.gz]
# OWNER    owner of the files                          [www-data:www-data]
# Credentials and endpoint: the AWS CLI's variables (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
set -eu

WEBROOT=${WEBROOT:-/var/www/html}
S3_BUCKET=${S3_BUCKET:?S3_BUCKET is not set}
S3_KEY=${S3_KEY:-webroot.tar.gz}
OWNER=${OWNER:-www-data:www-data}

ARCHIVE=$(mktemp "${TMPDIR:-/tmp}/webroot.XXXXXX")
trap 'rm -f "$ARCHIVE"' EXIT

mkdir -p "$WEBROOT"
aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} s3 cp --only-show-errors \
    "s3://$S3_BUCKET/$S3_KEY" "$ARCHIVE"
tar -xzf "$ARCHIVE" -C "$WEBROOT"
chown -R "$OWNER" "$WEBROOT"
echo "unpacked s3://$S3_BUCKET/$S3_KEY into $WEBROOT"

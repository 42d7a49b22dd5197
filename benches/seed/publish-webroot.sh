#!/bin/sh
# publish-webroot.sh — the seed script that `cachegate publish-snapshot` replaces, as
# operators of stateless Nextcloud images run it after an upgrade or an app install: pack
# the webroot with tar and gzip on one core, then upload the archive with the AWS CLI.
# Kept as the baseline of benches/webroot_vs_scripts.sh.
#
#   S3_BUCKET=nextcloud-webroot publish-webroot.sh
#
# WEBROOT  webroot to pack                            [/var/www/html]
# S3_BUCKET, S3_KEY  where the archive goes            [-, webroot.tar.gz]
# Credentials and endpoint: the AWS CLI's variables (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL).
set -eu

WEBROOT=${WEBROOT:-/var/www/html}
S3_BUCKET=${S3_BUCKET:?S3_BUCKET is not set}
S3_KEY=${S3_KEY:-webroot.tar.gz}

ARCHIVE=$(mktemp "${TMPDIR:-/tmp}/webroot.XXXXXX")
trap 'rm -f "$ARCHIVE"' EXIT

# data/ and the instance's config.php stay out of the image of the code.
tar -czf "$ARCHIVE" -C "$WEBROOT" --exclude=./data --exclude=./config/config.php .
aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} s3 cp --only-show-errors \
    "$ARCHIVE" "s3://$S3_BUCKET/$S3_KEY"
echo "published $(wc -c < "$ARCHIVE") bytes to s3://$S3_BUCKET/$S3_KEY"

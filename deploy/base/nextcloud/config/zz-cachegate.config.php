<?php
// Nextcloud settings of a stateless web pod, mounted from a ConfigMap into config/.
//
// The objectstore goes through the namespace's cachegate Service. It is configured from
// the same OBJECTSTORE_S3_* variables that the official image's config/s3.config.php
// reads, so either file alone is enough; this one is named zz-... so that it is loaded
// after s3.config.php and its 'objectstore' replaces that one (Nextcloud merges config
// files key by key at the top level). It adds what the variables cannot say: no bucket
// check on every request (the bucket is created once, by the operator) and no autocreate.

$cachegate_env_or_file = static function (string $name): string {
    $file = getenv($name . '_FILE');
    if (is_string($file) && $file !== '') {
        return trim((string) file_get_contents($file));
    }
    return (string) getenv($name);
};
$cachegate_flag = static function (string $name, bool $default): bool {
    $value = getenv($name);
    if (!is_string($value) || $value === '') {
        return $default;
    }
    return filter_var($value, FILTER_VALIDATE_BOOLEAN);
};

$CONFIG = [
    'objectstore' => [
        'class' => '\\OC\\Files\\ObjectStore\\S3',
        'arguments' => [
            'bucket' => (string) getenv('OBJECTSTORE_S3_BUCKET'),
            'hostname' => getenv('OBJECTSTORE_S3_HOST') ?: 'cachegate',
            'port' => (int) (getenv('OBJECTSTORE_S3_PORT') ?: 9000),
            'use_ssl' => $cachegate_flag('OBJECTSTORE_S3_SSL', false),
            'use_path_style' => $cachegate_flag('OBJECTSTORE_S3_USEPATH_STYLE', true),
            'region' => getenv('OBJECTSTORE_S3_REGION') ?: 'us-east-1',
            'key' => $cachegate_env_or_file('OBJECTSTORE_S3_KEY'),
            'secret' => $cachegate_env_or_file('OBJECTSTORE_S3_SECRET'),
            'autocreate' => false,
            'verify_bucket_exists' => false,
        ],
    ],
    // Nextcloud keeps only its .ocdata marker here; the files live in the objectstore.
    'datadirectory' => getenv('NEXTCLOUD_DATA_DIR') ?: '/var/lib/nextcloud/data',
    // To the web server's error log, which the image sends to stderr.
    'log_type' => 'errorlog',
    'memcache.local' => '\\OC\\Memcache\\APCu',
];

// Redis for file locking and the distributed cache (PHP sessions: the image's
// zz-redis-session.ini). Unset in the publish Job, which runs occ alone.
if (getenv('REDIS_HOST')) {
    $CONFIG['memcache.distributed'] = '\\OC\\Memcache\\Redis';
    $CONFIG['memcache.locking'] = '\\OC\\Memcache\\Redis';
    $CONFIG['redis'] = [
        'host' => getenv('REDIS_HOST'),
        'port' => (int) (getenv('REDIS_HOST_PORT') ?: 6379),
        'password' => $cachegate_env_or_file('REDIS_HOST_PASSWORD'),
    ];
}

<?php
// Web pods never write their configuration: it comes from the snapshot (config.php holds
// the installed version only) and from mounted fragments. The publish Job, which runs
// `occ upgrade`, does not mount this file.
$CONFIG = [
    'config_is_read_only' => true,
];

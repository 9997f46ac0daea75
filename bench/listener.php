<?php
// The PHP listener bench/run compares against: what a PHP shop would write instead of
// contact-listener. $_POST (PHP's own decoding) plus a little metadata, as one JSON line
// appended under LOCK_EX; with BENCH_FSYNC=1, fdatasync() before the answer (no group
// commit). Runs under PHP-FPM (FastCGI) and php-cgi (CGI) alike.
$path = getenv('BENCH_OUT') ?: (__DIR__ . '/events.jsonl');
$event = $_POST;
$event['meta'] = [
    'received_at' => gmdate('Y-m-d\TH:i:s') . sprintf('.%03dZ', (int)(microtime(true) * 1000) % 1000),
    'remote_addr' => $_SERVER['REMOTE_ADDR'] ?? null,
    'request_id' => bin2hex(random_bytes(6)),
    'method' => $_SERVER['REQUEST_METHOD'] ?? 'POST',
];
$line = json_encode($event, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE) . "\n";
$ok = false;
if (getenv('BENCH_FSYNC') === '1') {
    $f = fopen($path, 'a');
    if ($f && flock($f, LOCK_EX)) {
        $ok = fwrite($f, $line) === strlen($line) && fdatasync($f);
        flock($f, LOCK_UN);
    }
    if ($f) fclose($f);
} else {
    $ok = file_put_contents($path, $line, FILE_APPEND | LOCK_EX) === strlen($line);
}
header('Content-Type: application/json');
if (!$ok) http_response_code(503);
echo json_encode(['ok' => $ok, 'transactionid' => $_POST['transactionid'] ?? null, 'request_id' => $event['meta']['request_id']]), "\n";

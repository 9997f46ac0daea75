<?php
// PHP's side of the decoder benchmark: parse_str() on every payload of the corpus, in a
// loop inside one process, for at least SECONDS; prints one machine-readable line.
//   php -d max_input_vars=10000000 parse-str.php SECONDS FILE...
// With BENCH_JSON=1 each decoded array is also json_encode()d (closer to what the
// listener does per event: decode, then serialize).
$seconds = (float)$argv[1];
$bodies = [];
foreach (array_slice($argv, 2) as $file) $bodies[] = file_get_contents($file);
$bytes = array_sum(array_map('strlen', $bodies));
$json = getenv('BENCH_JSON') === '1';
$events = 0; $passes = 0;
$start = hrtime(true);
do {
    foreach ($bodies as $body) {
        parse_str($body, $result);
        if ($json) $out = json_encode($result, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
        $events++;
    }
    $passes++;
    $elapsed = (hrtime(true) - $start) / 1e9;
} while ($elapsed < $seconds);
printf("BENCH events=%d bytes=%d seconds=%.6f\n", $events, $bytes * $passes, $elapsed);

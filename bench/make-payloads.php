<?php
// Writes the benchmark payloads, encoded exactly as the platform sends them
// (http_build_query on the nested array, so application/x-www-form-urlencoded):
//   OUT/realistic.txt  every section, 10 custom fields, about 4 KB
//   OUT/large.txt      the same with 500 custom fields
//   OUT/corpus/NNN.txt 200 varied contacts (deterministic) for the decoder benchmark
// The transactionid is left out: bench/post.lua prepends a unique one per request,
// so the spool's deduplication never folds two benchmark requests into one.
// Usage: php make-payloads.php OUT
if ($argc < 2) { fwrite(STDERR, "usage: php make-payloads.php OUTDIR\n"); exit(2); }
$out = $argv[1];
@mkdir("$out/corpus", 0777, true);
mt_srand(20261129);

function words(int $n): string {
    static $w = ['spring', 'offer', 'newsletter', 'Oslo', 'München', 'São Paulo', 'premium', 'trial',
        'renewal', 'webinar', 'café', 'invoice', 'quarterly', 'report', 'launch', 'partner', 'B2B', 'EMEA'];
    $r = [];
    for ($i = 0; $i < $n; $i++) $r[] = $w[mt_rand(0, count($w) - 1)];
    return implode(' ', $r);
}
function date_at(int $i): string { return date('Y-m-d H:i:s', 1764000000 - $i * 3671); }

function contact(int $customFields, int $scale = 1): array {
    $id = mt_rand(100000, 999999);
    $c = [
        'contact' => [
            'id' => (string)$id,
            'email' => "contact.$id+test@example.com",
            'phone' => '+47 ' . mt_rand(40000000, 99999999),
            'profile_url' => "https://app.example.com/contacts/view/$id?list=" . mt_rand(1000, 9999),
        ],
    ];
    $names = ['First Name', 'Last Name', 'Company', 'Job Title', 'City', 'Country', 'Interests',
        'Source', 'Signup Date', 'Notes'];
    $c['fields'] = [];
    for ($i = 0; $i < $customFields; $i++) {
        $name = $names[$i % count($names)] . ($i >= count($names) ? ' ' . intdiv($i, count($names)) : '');
        $value = match ($i % 10) {
            0 => 'Ann-Kristin', 1 => 'Øvergård', 2 => 'Nordic Widgets AS', 3 => 'Head of Marketing & Sales',
            4 => 'Tromsø', 5 => 'Norway', 6 => words(6), 7 => 'utm_source=google&utm_medium=cpc',
            8 => date_at($i), default => words(18) . ' — "quoted" 100% sure; a/b?c=d',
        };
        $c['fields'][] = ['id' => (string)(1000 + $i), 'name' => $name, 'value' => $value];
    }
    for ($i = 0; $i < 3 * $scale; $i++)
        $c['campaigns-opened'][] = ['id' => (string)(500 + $i), 'name' => 'Campaign ' . words(3), 'open_date' => date_at($i)];
    for ($i = 0; $i < 3 * $scale; $i++)
        $c['links-clicked'][] = ['url' => "https://www.example.com/landing/offer-$i?utm_source=newsletter&utm_campaign=spring+2026&ref=" . mt_rand(), 'clicks' => (string)mt_rand(1, 9)];
    for ($i = 0; $i < 4 * $scale; $i++)
        $c['pages-visited'][] = ['page' => "https://www.example.com/products/item-$i/details?color=blue&size=M", 'visit_date' => date_at($i + 7)];
    for ($i = 0; $i < 2 * $scale; $i++)
        $c['automation-triggered'][] = ['id' => (string)(70 + $i), 'name' => 'Journey ' . words(2), 'trigger_date' => date_at($i + 3)];
    for ($i = 0; $i < 2 * $scale; $i++)
        $c['goals-reached'][] = ['id' => (string)(90 + $i), 'name' => 'Goal ' . words(2), 'reach_date' => date_at($i + 5)];
    for ($i = 0; $i < 1 * $scale; $i++)
        $c['webhooks-triggered'][] = ['id' => (string)(30 + $i), 'name' => 'Sync to CRM', 'trigger_date' => date_at($i + 1)];
    for ($i = 0; $i < 2 * $scale; $i++)
        $c['lead-score'][] = ['id' => (string)(10 + $i), 'name' => 'Engagement ' . $i, 'score' => (string)mt_rand(1, 100), 'score_date' => date_at($i + 2)];
    $c['lead-status'] = ['score' => (string)mt_rand(1, 100), 'label' => 'Marketing Qualified'];
    return $c;
}

file_put_contents("$out/realistic.txt", http_build_query(contact(10)));
file_put_contents("$out/large.txt", http_build_query(contact(500)));

// The corpus: varied sizes and shapes; some sections missing, as the platform leaves
// empty arrays out. Each file carries its own transactionid.
for ($n = 0; $n < 200; $n++) {
    $c = contact(mt_rand(0, 40), mt_rand(1, 3));
    foreach (['campaigns-opened', 'links-clicked', 'pages-visited', 'automation-triggered',
              'goals-reached', 'webhooks-triggered', 'lead-score', 'lead-status'] as $section)
        if (mt_rand(0, 3) === 0) unset($c[$section]);
    $c = ['transactionid' => sprintf('corpus-%03d', $n)] + $c;
    file_put_contents(sprintf('%s/corpus/%03d.txt', $out, $n), http_build_query($c));
}

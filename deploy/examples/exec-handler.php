#!/usr/bin/env php
<?php
// Keep your existing PHP listener code as a contact-listener handler.
//
// contact-listener.yaml:
//   handlers:
//     - type: exec
//       command: [php, /srv/listener/exec-handler.php]
//       timeout: 30s
//
// The event arrives as JSON on stdin (any size); the main values are in the environment
// (CONTACT_EMAIL, CONTACT_ID, CONTACT_PHONE, TRANSACTION_ID, REQUEST_ID, RECEIVED_AT,
// DELIVERY_IN_DOUBT=1 when an earlier attempt may already have stored it). Exit 0 when the
// contact is stored; any other exit status makes contact-listener retry later (what you
// print on stderr goes to its log).

$event = json_decode(file_get_contents('php://stdin'), true);
if (!is_array($event)) {
    fwrite(STDERR, "no event on stdin\n");
    exit(2);
}

// $event has the platform's key names, as your old listener saw them in $_POST:
// $event['contact']['email'], $event['fields'][0]['name'], $event['lead-status'][0]['label'], …
$email = $event['contact']['email'] ?? getenv('CONTACT_EMAIL');
$fields = [];
foreach ($event['fields'] as $field) {
    $fields[$field['name'] ?? $field['id']] = $field['value'];
}

// Your code here: insert into your database, call your CRM, … Example: append a CSV row.
$out = getenv('EXEC_HANDLER_CSV') ?: __DIR__ . '/contacts.csv';
$row = [$event['transactionid'], $email, $fields['First Name'] ?? '', $event['meta']['received_at']];
$file = fopen($out, 'a');
if ($file === false || !flock($file, LOCK_EX) || fputcsv($file, $row) === false || !fflush($file)) {
    fwrite(STDERR, "cannot write $out\n");
    exit(1);   // contact-listener will retry
}
flock($file, LOCK_UN);
fclose($file);
exit(0);

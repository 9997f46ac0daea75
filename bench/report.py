#!/usr/bin/env python3
"""Turns the TSV files bench/run wrote into the Markdown tables of BENCHMARKS.md.

    python3 bench/report.py RESULTS_DIR

Medians over rounds; the ratios are medians of per-round ratios (each pair measured
minutes apart at most, so drift on a shared machine cancels out as far as it can).
"""
import csv
import json
import os
import statistics
import sys

LABELS = {
    "nginx": "1. nginx `return 200` (ceiling)",
    "c": "2. thin C libfcgi, raw body appended",
    "php": "3. PHP-FPM `$_POST`→JSON, `LOCK_EX`",
    "ours": "4. contact-listener, jsonl `fsync: false`",
    "ours-static": "4. the same, static build (`make release`)",
    "c-fsync": "5. thin C, fdatasync per request",
    "php-fsync": "5. PHP-FPM, fdatasync per request",
    "ours-fsync": "6. contact-listener, jsonl `fsync: true` (group commit)",
    "ours-spool": "6. contact-listener, spool (SQLite WAL, FULL) + jsonl delivery",
}
ORDER = list(LABELS)


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def http_tables(rows, payload, out):
    rows = [r for r in rows if r["payload"] == payload]
    if not rows:
        return {}
    by = {}
    for r in rows:
        by.setdefault(r["config"], []).append(r)
    out.append("| configuration | req/s (median; min–max) | p50 ms | p99 ms | backend CPU µs/req | nginx CPU µs/req | peak RSS MB | stored = 2xx |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    summary = {}
    for config in ORDER:
        if config not in by:
            continue
        rs = by[config]
        rps = [float(r["rps"]) for r in rs]
        checks = {r["check"] for r in rs}
        stored = sum(int(r["stored"]) for r in rs)
        ok = sum(int(r["wrk_2xx"]) for r in rs)
        check = "n/a" if checks == {"n/a"} else ("yes" if checks == {"ok"} else "**NO** " + ",".join(sorted(checks)))
        if check == "yes":
            check = f"yes ({stored:,} stored, {ok:,} 2xx at wrk)"
        rss = max(int(r["peak_rss_kb"]) for r in rs) / 1024
        summary[config] = {
            "rps": med(rps),
            "cpu": med([float(r["cpu_us_req"]) for r in rs]),
            "rss": rss,
        }
        cpu = "–" if config == "nginx" else fmt(summary[config]["cpu"])
        out.append(
            f"| {LABELS[config]} | **{fmt(med(rps))}** ({fmt(min(rps))}–{fmt(max(rps))}) "
            f"| {fmt(med([float(r['p50_ms']) for r in rs]), 2)} | {fmt(med([float(r['p99_ms']) for r in rs]), 2)} "
            f"| {cpu} | {fmt(med([float(r['nginx_cpu_us_req']) for r in rs]))} "
            f"| {fmt(rss, 1)}{' (nginx worker)' if config == 'nginx' else ''} | {check} |")
    out.append("")

    rounds = {}
    for r in rows:
        rounds.setdefault(r["round"], {})[r["config"]] = r

    def ratio(a, b, field="rps", invert=False):
        values = []
        for cfgs in rounds.values():
            if a in cfgs and b in cfgs:
                x, y = float(cfgs[a][field]), float(cfgs[b][field])
                if x > 0 and y > 0:
                    values.append(y / x if invert else x / y)
        return med(values)

    out.append("| ratio (median of per-round ratios) | throughput | CPU per request (ours ÷ theirs; < 1 is cheaper) |")
    out.append("|---|---:|---:|")
    pairs = [
        ("ours", "c", "non-durable: ours ÷ thin C"),
        ("ours", "php", "non-durable: ours ÷ PHP-FPM"),
        ("ours", "nginx", "non-durable: ours ÷ nginx ceiling"),
        ("ours-static", "c", "non-durable, static build: ours ÷ thin C"),
        ("ours-static", "php", "non-durable, static build: ours ÷ PHP-FPM"),
        ("ours-fsync", "c-fsync", "durable jsonl ÷ thin C with fdatasync"),
        ("ours-spool", "c-fsync", "durable spool ÷ thin C with fdatasync"),
        ("ours-fsync", "php-fsync", "durable jsonl ÷ PHP-FPM with fdatasync"),
        ("ours-spool", "php-fsync", "durable spool ÷ PHP-FPM with fdatasync"),
        ("ours-fsync", "php", "durable jsonl ÷ PHP-FPM without fsync"),
        ("ours-spool", "php", "durable spool ÷ PHP-FPM without fsync"),
    ]
    ratios = {}
    for a, b, label in pairs:
        r = ratio(a, b)
        if r is None:
            continue
        c = ratio(a, b, "cpu_us_req") if b != "nginx" else None
        ratios[(a, b)] = r
        out.append(f"| {label} | **{r:.2f}×** | {fmt(c, 2) + '×' if c else '–'} |")
    out.append("")
    return {"summary": summary, "ratios": ratios}


def cgi_table(rows, startup, out):
    if not rows:
        return {}
    by = {}
    for r in rows:
        by.setdefault(r["program"], []).append(r)
    labels = {
        "php-cgi": "php-cgi running bench/listener.php",
        "c-cgi": "thin C CGI (raw body appended)",
        "ours-cgi": "contact-listener (CGI binary, see above)",
        "ours-dynamic": "contact-listener, dynamic release build",
    }
    out.append("| program | requests/s (median) | wall ms/request | CPU ms/request | peak RSS MB | stored = 200s |")
    out.append("|---|---:|---:|---:|---:|---|")
    result = {}
    for name in ["php-cgi", "c-cgi", "ours-cgi", "ours-dynamic"]:
        if name not in by:
            continue
        rs = by[name]
        ms = med([float(r["wall_s"]) * 1000 / int(r["requests"]) for r in rs])
        cpu = med([float(r["cpu_s"]) * 1000 / int(r["requests"]) for r in rs])
        rss = max(int(r["maxrss_kb"]) for r in rs) / 1024
        checks = {r["check"] for r in rs}
        total = sum(int(r["requests"]) for r in rs)
        result[name] = ms
        out.append(f"| {labels[name]} | **{fmt(1000 / ms, 1)}** | {ms:.3f} | {cpu:.3f} | {rss:.1f} | "
                   f"{'yes (' + format(total, ',') + ')' if checks == {'ok'} else '**NO**'} |")
    out.append("")
    rounds = {}
    for r in rows:
        rounds.setdefault(r["round"], {})[r["program"]] = float(r["wall_s"]) / int(r["requests"])
    def ratio(a, b):
        return med([v[a] / v[b] for v in rounds.values() if a in v and b in v])
    if "ours-cgi" in result:
        r1, r2 = ratio("php-cgi", "ours-cgi"), ratio("ours-cgi", "c-cgi")
        result["vs_php"], result["vs_c"] = r1, r2
        out.append(f"Per request, contact-listener is **{r1:.2f}×** faster than php-cgi and takes "
                   f"**{r2:.2f}×** the C CGI program's time (medians of per-round ratios).")
        out.append("")
    if startup:
        out.append("Start-up alone (hyperfine `-N`, ≥ 100 runs; `--version` parses arguments only, a CGI GET "
                   "runs the whole CGI path on a two-parameter query and stores one event):")
        out.append("")
        out.append("| command | mean ms | σ ms | median ms | min ms |")
        out.append("|---|---:|---:|---:|---:|")
        for res in startup:
            out.append(f"| {res['command']} | {res['mean'] * 1000:.3f} | {res['stddev'] * 1000:.3f} "
                       f"| {res['median'] * 1000:.3f} | {res['min'] * 1000:.3f} |")
        out.append("")
    return result


def decode_table(rows, out):
    if not rows:
        return {}
    by = {}
    for r in rows:
        by.setdefault(r["what"], []).append(r)
    startup = None
    if "ours-startup-only" in by:
        r = by["ours-startup-only"][0]
        startup = float(r["seconds"]) / int(r["events"])
    out.append("| what | events/s | MB/s | note |")
    out.append("|---|---:|---:|---|")
    result = {}
    for what, note in [
        ("ours-per-process", "one `contact-listener decode FILE` process per payload (decode + event + JSON on stdout), start-up included"),
        ("ours-startup-only", "`contact-listener --version` per process, for scale (`decode` also pays one-time initialization that `--version` does not, so the difference is no decoder figure)"),
        ("ours-concatenated", "the corpus ×10 joined by `&`, one process (start-up subtracted)"),
        ("php-parse_str-concatenated", "the same body, one `parse_str` call, timed inside PHP (start-up excluded)"),
        ("php-parse_str-loop", "`parse_str` on each payload in a php-cli loop"),
        ("php-parse_str+json_encode-loop", "`parse_str` + `json_encode` in a php-cli loop"),
    ]:
        if what not in by:
            continue
        rs = by[what]
        sub = 0.0
        if what == "ours-concatenated" and startup:
            sub = startup
        if what == "php-parse_str-concatenated":
            sub = 0.0  # parse-str.php times inside PHP (hrtime), start-up excluded already
        eps = med([int(r["events"]) / max(float(r["seconds"]) - sub, 1e-9) for r in rs])
        mbs = med([int(r["bytes"]) / 1e6 / max(float(r["seconds"]) - sub, 1e-9) for r in rs])
        result[what] = (eps, mbs)
        out.append(f"| {what} | {fmt(eps)} | {fmt(mbs, 1)} | {note} |")
    out.append("")
    return result


def main():
    results = sys.argv[1]
    out = []
    machine = open(os.path.join(results, "machine.txt")).read().strip() if os.path.exists(os.path.join(results, "machine.txt")) else ""
    out.append("## Results")
    out.append("")
    for line in machine.splitlines():
        out.append(f"- {line}")
    out.append("")
    http = read_tsv(os.path.join(results, "http.tsv"))
    sections = {}
    for payload, title in [("realistic", "Realistic payload (every section, 10 custom fields, ~4.4 KB)"),
                           ("large", "Large payload (500 custom fields, ~70 KB)")]:
        if any(r["payload"] == payload for r in http):
            out.append(f"### FastCGI behind nginx: {title}")
            out.append("")
            sections[payload] = http_tables(http, payload, out)
    startup = []
    for name in ("startup.json", "startup-get.json"):
        path = os.path.join(results, name)
        if os.path.exists(path):
            startup += json.load(open(path))["results"]
    cgi_rows = read_tsv(os.path.join(results, "cgi.tsv"))
    cgi = {}
    if cgi_rows:
        out.append("### CGI: exec loop, realistic payload")
        out.append("")
        cgi = cgi_table(cgi_rows, startup, out)
    dec_rows = read_tsv(os.path.join(results, "decode.tsv"))
    dec = {}
    if dec_rows:
        out.append("### The decoder alone (corpus of 200 payloads)")
        out.append("")
        dec = decode_table(dec_rows, out)

    # Targets
    out.append("### Targets")
    out.append("")
    out.append("| target | measured | met |")
    out.append("|---|---:|---|")
    def row(label, value, ok, unit="×"):
        if value is None:
            return
        out.append(f"| {label} | {value:.2f}{unit} | {'yes' if ok else '**no**'} |")
    for payload in ["realistic", "large"]:
        s = sections.get(payload)
        if not s:
            continue
        r = s["ratios"]
        tag = "" if payload == "realistic" else " (500 fields)"
        v = r.get(("ours", "c")); row(f"non-durable ≥ 0.9× thin C{tag}", v, v is not None and v >= 0.9)
        v = r.get(("ours", "php")); row(f"non-durable ≥ 2.5× PHP-FPM{tag}", v, v is not None and v >= 2.5)
        v = r.get(("ours-static", "c")); row(f"non-durable ≥ 0.9× thin C, static build{tag}", v, v is not None and v >= 0.9)
        v = r.get(("ours-static", "php")); row(f"non-durable ≥ 2.5× PHP-FPM, static build{tag}", v, v is not None and v >= 2.5)
        for a, name in [("ours-fsync", "jsonl"), ("ours-spool", "spool")]:
            v = r.get((a, "c-fsync")); row(f"durable ({name}) ≥ 3× thin C with fdatasync{tag}", v, v is not None and v >= 3)
            v = r.get((a, "php")); row(f"durable ({name}) ahead of PHP-FPM without fsync{tag}", v, v is not None and v > 1)
        for c, name in (("ours", "jsonl"), ("ours-static", "jsonl, static build"), ("ours-fsync", "jsonl, fsync"), ("ours-spool", "spool")):
            if c in s["summary"]:
                v = s["summary"][c]["rss"]
                row(f"listener peak RSS ≤ 30 MB ({name}){tag}", v, v <= 30, " MB")
    if cgi.get("vs_php"):
        row("CGI: ≥ 4× faster per request than php-cgi", cgi["vs_php"], cgi["vs_php"] >= 4)
        row("CGI: within 2× of the C CGI program", cgi["vs_c"], cgi["vs_c"] <= 2)
    if "ours-concatenated" in dec and "php-parse_str-concatenated" in dec:
        v = dec["ours-concatenated"][1] / dec["php-parse_str-concatenated"][1]
        row("decoder faster than parse_str (same concatenated body, MB/s ratio)", v, v > 1)
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()

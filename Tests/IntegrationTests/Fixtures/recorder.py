#!/usr/bin/env python3
"""A tiny HTTP backend for the integration tests: it records every request and answers
according to a plan the test writes (and may rewrite while it runs).

    python3 recorder.py --log requests.jsonl --plan plan.json --port-file port

- It binds 127.0.0.1 port 0 and writes the port it got to --port-file (written to a temp
  file and renamed, so a reader never sees half a number).
- Every request becomes one JSON line in --log, written with one write() and flushed:
  {"time": <unix seconds, float>, "method", "path", "headers": [[name, value], ...],
   "body": <text, UTF-8 with invalid bytes as U+FFFD>, "body_bytes": <length>,
   "status": <what was answered>, "index": <0-based number of this request since the
   plan last changed, for this path>}
- The plan is JSON, read again for every request:
    {"steps": [{"status": 500, "times": 3}, {"status": 200}],
     "paths": {"/other": [{"status": 400, "body": "bad email"}]},
     "delay": 0.05}
  A step answers `times` requests (omitted: every request from then on) with `status`,
  optional `headers` (a mapping, e.g. {"Location": "/elsewhere"}) and `body` (text; default
  a small JSON), or `body_size` (a number of bytes: that many "x", written 64 KiB at a time
  and never held whole; a client that hangs up early ends the answer). "paths" picks
  steps by the request path without its query ("steps" is the fallback). "delay" (seconds)
  is slept before answering; a step's own "delay" overrides it for the requests that step
  answers. Counters restart whenever the plan file's contents change.
  "count_by": a request header (e.g. "Idempotency-Key") whose values keep counters of their
  own, so that a plan like "fail twice, then 200" holds for every event however their
  attempts interleave; "index" is then per path and header value.
  "bodies": [{"contains": "tx-a1", "steps": [...]}, ...]: the first entry whose text the
  request body contains picks the steps (before "paths" and "steps"), with a counter of its
  own, so one event can fail while the others succeed.
  "window": {"count": 22, "seconds": 1}: a CRM's rate limit, as a sliding window; a
  request that would make more than "count" within "seconds" is answered 429 (and recorded
  so) whatever the steps say.
- SIGTERM or SIGINT ends it.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"plan_text": None, "counters": {}, "window": []}


def load_plan(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = "{}"
    return text


def matching_body(plan, body):
    """The first "bodies" entry whose "contains" text is in the body, or None."""
    text = body.decode("utf-8", errors="replace")
    for entry in plan.get("bodies", []):
        if entry.get("contains") and entry["contains"] in text:
            return entry
    return None


def pick(plan, path, index, entry=None):
    if entry is not None:
        steps = entry.get("steps", [{"status": 200}])
    else:
        steps = plan.get("paths", {}).get(path, plan.get("steps", [{"status": 200}]))
    remaining = index
    for step in steps:
        times = step.get("times")
        if times is None or remaining < times:
            return step
        remaining -= times
    return steps[-1] if steps else {"status": 200}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "recorder/1"
    # The head and the body go out in two writes: with Nagle's algorithm the body waits for
    # the client's delayed ACK of the head, 40 ms per request on a kept-alive connection,
    # which capped the recorder near 22 requests/s.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # quiet: the JSON log is the record
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        received = time.time()
        path = self.path.split("?", 1)[0]
        with LOCK:
            text = load_plan(self.server.plan_path)
            if text != STATE["plan_text"]:
                STATE["plan_text"] = text
                STATE["counters"] = {}
                STATE["window"] = []
            try:
                plan = json.loads(text or "{}")
            except ValueError:
                plan = {}
            entry = matching_body(plan, body)
            counter = path if entry is None else "body\n" + entry["contains"]
            if plan.get("count_by"):
                counter = counter + "\n" + (self.headers.get(plan["count_by"]) or "")
            index = STATE["counters"].get(counter, 0)
            STATE["counters"][counter] = index + 1
            step = pick(plan, path, index, entry)
            window = plan.get("window")
            if window:
                seconds = float(window["seconds"])
                recent = [t for t in STATE["window"] if t > received - seconds]
                if len(recent) >= int(window["count"]):
                    step = {"status": 429, "body": "{\"message\":\"rate limit exceeded\"}"}
                else:
                    recent.append(received)
                STATE["window"] = recent
            status = int(step.get("status", 200))
            record = {
                "time": received, "method": self.command, "path": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "body": body.decode("utf-8", errors="replace"), "body_bytes": len(body),
                "status": status, "index": index,
            }
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            self.server.log.write(line)
            self.server.log.flush()
        delay = float(step.get("delay", plan.get("delay", 0)) or 0)
        if delay > 0:
            time.sleep(delay)
        size = step.get("body_size")
        answer = step.get("body")
        if answer is None:
            answer = json.dumps({"recorded": True, "status": status})
        payload = answer.encode("utf-8")
        self.send_response(status)
        for name, value in (step.get("headers") or {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Type", "application/json" if size is None else "text/plain")
        self.send_header("Content-Length", str(len(payload) if size is None else int(size)))
        self.end_headers()
        if size is None:
            self.wfile.write(payload)
            return
        chunk = b"x" * 65536
        remaining = int(size)
        try:
            while remaining > 0:
                self.wfile.write(chunk[:remaining])
                remaining -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = handle_any
    do_PUT = handle_any
    do_PATCH = handle_any
    do_GET = handle_any
    do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--port-file", required=True)
    options = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.plan_path = options.plan
    server.log = open(options.log, "ab", buffering=0)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    temporary = options.port_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(str(server.server_address[1]))
    os.rename(temporary, options.port_file)
    server.serve_forever(poll_interval=0.1)
    server.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

-- wrk script: POSTs a form-encoded payload with a unique transactionid per request,
-- and prints one machine-readable line at the end for bench/run.
--   wrk ... -s post.lua URL -- PAYLOAD_FILE SALT
local threads = {}
local body_rest, salt

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body_rest = "&" .. f:read("*a")
  f:close()
  salt = args[2] or "x"
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, "transactionid=" .. salt .. "-" .. tid .. "-" .. counter .. body_rest)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

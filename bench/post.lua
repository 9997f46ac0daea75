-- wrk script: POSTs a form-encoded payload with a unique transactionid and contact id per
-- request (a campaign reaches many contacts; the spool delivers one contact's events one at
-- a time, in order), and prints one machine-readable line at the end for bench/run.
--   wrk ... -s post.lua URL -- PAYLOAD_FILE SALT
local threads = {}
local body_rest, salt
-- The payload around its contact id, when it has one.
local before_id, after_id

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body_rest = "&" .. f:read("*a")
  f:close()
  salt = args[2] or "x"
  local first, last = string.find(body_rest, "contact%%5Bid%%5D=%d+")
  if first then
    before_id = body_rest:sub(1, first - 1) .. "contact%5Bid%5D="
    after_id = body_rest:sub(last + 1)
  end
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  counter = counter + 1
  if before_id then
    return wrk.format(nil, nil, nil, "transactionid=" .. salt .. "-" .. tid .. "-" .. counter .. before_id .. tid .. "0" .. counter .. after_id)
  end
  return wrk.format(nil, nil, nil, "transactionid=" .. salt .. "-" .. tid .. "-" .. counter .. body_rest)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

-- wrk script: POST /api/orders with a unique Idempotency-Key per request.
--
--   OMS_TOKEN=<jwt> wrk -t2 -c32 -d20s --timeout 10s -s bench/create_orders.lua http://127.0.0.1:PORT
--
-- Environment:
--   OMS_TOKEN           bearer token (required by OMS; without it every request is a 401)
--   OMS_BENCH_PRODUCT   productId of the order line (default bench-1)
--   OMS_BENCH_PRICE     price of the order line, a JSON number (default 1.00)
--   OMS_BENCH_EMAIL     customerEmail (default bench@example.com)
--   OMS_BENCH_PATH      request path (default /api/orders)
--
-- done() prints one machine-readable line starting with {"bench":"create_orders", ...}.
-- Latencies in that line are milliseconds (wrk measures microseconds).

local token   = os.getenv("OMS_TOKEN")
local product = os.getenv("OMS_BENCH_PRODUCT") or "bench-1"
local price   = os.getenv("OMS_BENCH_PRICE") or "1.00"
local email   = os.getenv("OMS_BENCH_EMAIL") or "bench@example.com"
local path    = os.getenv("OMS_BENCH_PATH") or "/api/orders"

-- ---------------------------------------------------------------- setup phase (main env)

local threads = {}
local next_tid = 0

local function run_prefix()
  -- 8 random bytes from the kernel; fall back to time + math.random.
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(8)
    f:close()
    if b and #b == 8 then
      return (b:gsub(".", function(c) return string.format("%02x", string.byte(c)) end))
    end
  end
  math.randomseed(os.time())
  return string.format("%x%08x", os.time(), math.random(0, 0x7fffffff))
end

local run_id = run_prefix()   -- computed in every env; the main env's value is shared via thread:set

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  thread:set("prefix", run_id)
  table.insert(threads, thread)
  if next_tid == 1 and (token == nil or token == "") then
    io.stderr:write("create_orders.lua: OMS_TOKEN is not set; requests will be rejected with 401\n")
  end
end

-- ---------------------------------------------------------------- running phase (per thread)

tid = 0            -- set by setup()
prefix = run_id    -- overwritten by setup() with the main env's run id
local counter = 0
local headers = {}
local body = nil

-- per-thread response counters, read by done() through thread:get()
ok2xx = 0
non2xx = 0
replayed = 0       -- answers with Idempotent-Replayed: true (would mean a key was reused)
statuses = {}

function init(args)
  headers["Content-Type"] = "application/json"
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  body = string.format(
    '{"customerEmail":"%s","items":[{"productId":"%s","quantity":1,"price":%s}],"currency":"USD"}',
    email, product, price)
end

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, tid, counter)
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, resp_body)
  if hdrs["idempotent-replayed"] or hdrs["Idempotent-Replayed"] then
    replayed = replayed + 1
  end
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
  end
end

-- ---------------------------------------------------------------- done phase (main env)

local function ms(us)
  return string.format("%.3f", (us or 0) / 1000.0)
end

function done(summary, latency, requests)
  local ok, bad, rep = 0, 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok2xx") or 0)
    bad = bad + (t:get("non2xx") or 0)
    rep = rep + (t:get("replayed") or 0)
    local st = t:get("statuses") or {}
    for k, v in pairs(st) do
      by_status[k] = (by_status[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(by_status) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  table.sort(parts)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"bench":"create_orders","duration_s":%.3f,"requests":%d,"ok_2xx":%d,"non_2xx":%d,' ..
    '"non_2xx_by_status":{%s},"replayed":%d,"requests_per_s":%.1f,"ok_per_s":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status_gt_399":%d,"timeout":%d},' ..
    '"latency_ms":{"mean":%s,"p50":%s,"p90":%s,"p99":%s,"max":%s}}\n',
    secs, summary.requests, ok, bad, table.concat(parts, ","), rep,
    summary.requests / secs, ok / secs,
    e.connect, e.read, e.write, e.status, e.timeout,
    ms(latency.mean), ms(latency:percentile(50)), ms(latency:percentile(90)),
    ms(latency:percentile(99)), ms(latency.max)))
end

-- wrk script: POST a distinct body per request, built from a JSON template.
--
-- Environment (set by `python -m bench`):
--   BENCH_TEMPLATE   path of a JSON template; every "{{T}}" becomes a 24-hex token
--   BENCH_PATH       request path
--   BENCH_PREFIX     10 hex digits, unique per wrk invocation (threads add 2 more)
--   BENCH_DUP_EVERY  every Nth request repeats an earlier body exactly (0: never)
--   BENCH_DUP_BACK   how many requests back the repeated body is
--   BENCH_CONTENT_TYPE  request Content-Type (the browser sends text/plain)
--   BENCH_EVENTS_PER_OK  >0: answers carry no results[] (Segment's {"success": true});
--                        each 2xx acknowledges this many events
--
-- Per response it tallies HTTP statuses and the per-event `status` of `results[]`, and
-- done() prints one line `BENCHJSON {...}` that the harness reads.

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local frags = {}
local path, prefix
local dup_every, dup_back
local content_type
local events_per_ok = 0
local n = 0
-- counters are globals so that done() can read them with thread:get()
sent, ok2xx, other_status, unparsed = 0, 0, 0, 0
accepted, duplicate, conflict, rejected, other = 0, 0, 0, 0, 0

local function split(s, sep)
  local out, start = {}, 1
  while true do
    local i, j = string.find(s, sep, start, true)
    if not i then
      table.insert(out, string.sub(s, start))
      return out
    end
    table.insert(out, string.sub(s, start, i - 1))
    start = j + 1
  end
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_TEMPLATE"), "rb"))
  local template = f:read("*a")
  f:close()
  template = string.gsub(template, "%s+$", "")
  frags = split(template, "{{T}}")
  path = os.getenv("BENCH_PATH") or "/"
  prefix = (os.getenv("BENCH_PREFIX") or "0000000000") .. string.format("%02x", tid or 1)
  dup_every = tonumber(os.getenv("BENCH_DUP_EVERY") or "0")
  dup_back = tonumber(os.getenv("BENCH_DUP_BACK") or "7")
  content_type = os.getenv("BENCH_CONTENT_TYPE") or "text/plain"
  events_per_ok = tonumber(os.getenv("BENCH_EVENTS_PER_OK") or "0")
end

-- A browser's User-Agent: without one the request would count as a bot's (docs/privacy.md#bots).
local user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

function request()
  local k = n
  n = n + 1
  if dup_every > 0 and (k % dup_every) == (dup_every - 1) and k >= dup_back then
    k = k - dup_back
  end
  local token = prefix .. string.format("%012x", k)
  sent = sent + 1
  local body = table.concat(frags, token)
  return wrk.format("POST", path, { ["Content-Type"] = content_type, ["User-Agent"] = user_agent }, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    other_status = other_status + 1
  end
  if events_per_ok > 0 then
    if status >= 200 and status < 300 then
      accepted = accepted + events_per_ok
    end
    return
  end
  if body == nil or body == "" then
    return
  end
  -- every results[] entry holds an "index" key; its first "status" is the event's
  local pos = 1
  local found = false
  while true do
    local i = string.find(body, '"index"', pos, true)
    if not i then
      break
    end
    found = true
    local nxt = string.find(body, '"index"', i + 7, true)
    local seg = string.sub(body, i, (nxt or 0) - 1)
    local st = string.match(seg, '"status"%s*:%s*"(%a+)"')
    if st == "accepted" then
      accepted = accepted + 1
    elseif st == "duplicate" then
      duplicate = duplicate + 1
    elseif st == "conflict" then
      conflict = conflict + 1
    elseif st == "rejected" then
      rejected = rejected + 1
    else
      other = other + 1
    end
    if not nxt then
      break
    end
    pos = nxt
  end
  if not found and status == 200 then
    unparsed = unparsed + 1
  end
end

function done(summary, latency, requests)
  local t = { sent = 0, ok2xx = 0, other_status = 0, unparsed = 0,
              accepted = 0, duplicate = 0, conflict = 0, rejected = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(t) do
      t[key] = t[key] + (thread:get(key) or 0)
    end
  end
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},' ..
    '"sent":%d,"ok2xx":%d,"other_status":%d,"unparsed":%d,' ..
    '"events":{"accepted":%d,"duplicate":%d,"conflict":%d,"rejected":%d,"other":%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    t.sent, t.ok2xx, t.other_status, t.unparsed,
    t.accepted, t.duplicate, t.conflict, t.rejected, t.other)
  io.write("BENCHJSON " .. out .. "\n")
end

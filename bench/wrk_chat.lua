-- wrk script for bench/gateways.py: closed-loop POST of a ~1 KB OpenAI-style
-- chat request, with an Authorization header, and a machine-readable summary.
--
-- Arguments (after `--` on the wrk command line), each one of:
--   "Header-Name: value"   add/replace a request header (e.g. Authorization)
--   "model=NAME"           model name in the request body (default bench-model)
--   "count-status"         count every non-2xx answer (costs a Lua call per
--                          response; without it only wrk's own >=400 count)
--
-- done() prints one line "BENCH_JSON {...}" with requests, errors and latency
-- percentiles in microseconds, so the orchestrator never parses wrk's text.

local model = "bench-model"
local count_status = false

-- ~1 KB of user content, fixed so every run sends identical bytes.
local filler = "Summarise the following release notes for an operations audience. "
  .. "The gateway now validates configuration at start-up, rejects unknown keys, "
  .. "reports per-deployment circuit breaker state, enforces virtual-key budgets "
  .. "atomically under concurrency, and exports Prometheus metrics for request "
  .. "counts, latency histograms and token usage per model and per key. "
  .. "Rate limits are shared across replicas through the store rather than being "
  .. "multiplied by the number of processes. Streaming responses that fail midway "
  .. "now end with an explicit error event instead of a clean end of stream. "
  .. "Mention any change that affects on-call runbooks, dashboards or alert "
  .. "thresholds, and flag anything that needs a configuration migration first. "
  .. "Please answer in three short bullet points and keep each under twenty words."

local function body_for(m)
  return '{"model":"' .. m .. '","messages":['
    .. '{"role":"system","content":"You are a concise assistant for platform engineers."},'
    .. '{"role":"user","content":"' .. filler .. '"}],'
    .. '"temperature":0.2,"max_tokens":64,"user":"bench"}'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-none"

function init(args)
  for _, a in ipairs(args) do
    local name, value = a:match("^([%w%-]+):%s*(.*)$")
    if name then
      wrk.headers[name] = value
    elseif a:match("^model=") then
      model = a:sub(7)
    elseif a == "count-status" then
      count_status = true
    end
  end
  wrk.body = body_for(model)
  body_len = #wrk.body
  if count_status then
    -- Defined only on request: wrk checks for a global `response` right
    -- after init() and only then hands every response to Lua.
    non2xx = 0
    first_bad = nil
    response = function(status, headers, body)
      if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if first_bad == nil then
          first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
        end
      end
    end
  end
end

-- setup() runs in the main thread for every wrk thread; keep them for done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local function jstr(s)
  s = tostring(s)
  s = s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ')
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local non2xx, counted, first_bad = 0, false, nil
  local blen = threads[1] and threads[1]:get("body_len") or nil
  for _, t in ipairs(threads) do
    local n = t:get("non2xx")
    if n ~= nil then
      counted = true
      non2xx = non2xx + n
      if first_bad == nil then first_bad = t:get("first_bad") end
    end
  end
  local e = summary.errors
  local parts = {
    '"requests":' .. summary.requests,
    '"duration_us":' .. summary.duration,
    '"bytes":' .. summary.bytes,
    '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read
      .. ',"write":' .. e.write .. ',"status_ge_400":' .. e.status
      .. ',"timeout":' .. e.timeout .. '}',
    '"request_body_bytes":' .. (blen and tostring(blen) or 'null'),
    '"non2xx":' .. (counted and tostring(non2xx) or 'null'),
    '"first_bad":' .. (first_bad and jstr(first_bad) or 'null'),
    '"latency_us":{"min":' .. latency.min .. ',"mean":' .. string.format("%.1f", latency.mean)
      .. ',"max":' .. latency.max
      .. ',"p50":' .. latency:percentile(50)
      .. ',"p90":' .. latency:percentile(90)
      .. ',"p99":' .. latency:percentile(99)
      .. ',"p999":' .. latency:percentile(99.9) .. '}',
  }
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end

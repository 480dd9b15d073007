-- The load of `make bench` (bench/run.sh), one wrk script with three modes:
--
--   wrk ... -s bench.lua URL -- get THREADS [COOKIE]
--       GET of URL, with a Cookie header when given (a signed-in dashboard).
--   wrk ... -s bench.lua URL -- post THREADS FILE FIRST COUNT NONCE BODY
--       each request answers a link never answered before: lines FIRST to FIRST+COUNT-1 of
--       FILE ("token csrf"), split between the threads, posted with the CSRF nonce cookie
--       the csrf values were issued for and the answers in BODY (urlencoded, without csrf).
--   wrk ... -s bench.lua URL -- fetch THREADS FILE OUT NONCE
--       GETs every token of FILE once with the nonce cookie, as a participant's phone does
--       before it posts, and writes "token csrf" lines to OUT.<thread>; stops when done.
--
-- Every mode ends with one machine-readable line for run.sh:
--   RESULT requests=N seconds=S rps=R p50_us=A p99_us=B errors=E
-- where errors counts failed connections, timeouts and statuses >= 400.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local mode, reqs, next_req, fetch_out, fetch_want, fetch_got, fetched

local function slice(file, first, count, nthreads)
   local out, i = {}, 0
   for line in io.lines(file) do
      if i >= first + count then break end
      if i >= first and (i - first) % nthreads == tid then
         local token, csrf = line:match("^(%S+)%s*(%S*)$")
         table.insert(out, {token, csrf})
      end
      i = i + 1
   end
   return out
end

function init(args)
   mode = args[1]
   local nthreads = tonumber(args[2])
   reqs, next_req = {}, 0
   if mode == "get" then
      local headers = {}
      if args[3] and args[3] ~= "" then headers["Cookie"] = args[3] end
      reqs[1] = wrk.format("GET", nil, headers)
   elseif mode == "post" then
      local nonce, body = args[6], args[7]
      local headers = {["Content-Type"] = "application/x-www-form-urlencoded",
                       ["Cookie"] = "anketa_csrf=" .. nonce}
      -- Built here: building requests in request() would make wrk the bottleneck.
      for _, t in ipairs(slice(args[3], tonumber(args[4]), tonumber(args[5]), nthreads)) do
         table.insert(reqs, wrk.format("POST", "/s/" .. t[1], headers,
                                       "csrf=" .. t[2] .. "&" .. body))
      end
   elseif mode == "fetch" then
      local headers = {["Cookie"] = "anketa_csrf=" .. args[5]}
      for _, t in ipairs(slice(args[3], 0, math.huge, nthreads)) do
         table.insert(reqs, wrk.format("GET", "/s/" .. t[1], headers))
      end
      fetch_out = io.open(args[4] .. "." .. tid, "w")
      fetch_want, fetch_got, fetched = #reqs, 0, {}
   else
      error("bench.lua: unknown mode " .. tostring(mode))
   end
   if mode ~= "fetch" then response = nil end
end

function request()
   next_req = next_req + 1
   if mode == "get" then return reqs[1] end
   -- Past the end, start again: posts repeat (run.sh sizes the slices so they do not);
   -- fetches ask again for what they lack (wrk calls request() once before the load to
   -- check it, so the first request of one thread is never sent).
   if next_req > #reqs then next_req = 1 end
   return reqs[next_req]
end

function response(status, headers, body)
   local token = body:match('action="/s/([%w_-]+)"')
   local csrf = body:match('name="csrf" value="([%w_-]+)"')
   if status == 200 and token and csrf and not fetched[token] then
      fetched[token] = true
      fetch_out:write(token, " ", csrf, "\n")
      fetch_got = fetch_got + 1
      if fetch_got == fetch_want then
         fetch_out:close()
         wrk.thread:stop()
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d errors=%d\n",
                          summary.requests, seconds, summary.requests / seconds,
                          latency:percentile(50), latency:percentile(99),
                          e.connect + e.read + e.write + e.status + e.timeout))
end

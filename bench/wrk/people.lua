-- wrk script of `arus bench api` and `arus bench serving`: GET the path wrk
-- was given (the first page of /api/v1/transactions, a dashboard) as many
-- different people, each request with the next person's bearer token.
--
--   wrk ... -s bench/wrk/people.lua URL -- TOKENS_FILE
--
-- TOKENS_FILE holds one access token per line. With ARUS_WRK_RATE set (requests
-- per second of one wrk thread), requests leave on a fixed schedule, one every
-- 1/rate s, whatever the response times (while a connection is free): a
-- constant offered load, as wrk2 would give.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } arus_timeval;
  int gettimeofday(arus_timeval *tv, void *tz);
]]
local tv = ffi.new("arus_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local tokens = {}
local next_token = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  assert(#tokens > 0, "no tokens in " .. tostring(args[1]))
  -- Threads start at different people.
  math.randomseed(now_ms())
  next_token = math.random(#tokens)
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

local rate = tonumber(os.getenv("ARUS_WRK_RATE") or "")
if rate and rate > 0 then
  local interval = 1000 / rate
  local next_slot = nil
  -- Called when a connection may send again: it takes the next free slot.
  function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now - 1000 then next_slot = now end
    local slot = next_slot
    next_slot = next_slot + interval
    return math.max(0, math.floor(slot - now))
  end
end

-- wrk script of `arus bench api`: GET the path wrk was given (the first page
-- of /api/v1/transactions) as many different people, each request with the
-- next person's bearer token.
--
--   wrk ... -s bench/wrk/transactions.lua URL -- TOKENS_FILE
--
-- TOKENS_FILE holds one access token per line. With ARUS_WRK_DELAY_MS set,
-- every connection waits that long after each response (a paced load:
-- connections * 1000 / delay requests per second at most).

local tokens = {}
local next_token = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  assert(#tokens > 0, "no tokens in " .. tostring(args[1]))
  -- Threads start at different people.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
  next_token = math.random(#tokens)
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

local pace = tonumber(os.getenv("ARUS_WRK_DELAY_MS") or "")
if pace and pace > 0 then
  function delay()
    -- ±20 % jitter so connections do not fire in lock step.
    return math.floor(pace * (0.8 + 0.4 * math.random()))
  end
end

-- ANALYTICS_GET (the rules are in src/ngx_http_otp_store.h, "Analytics").
--   KEYS[1] otp:{a}     the hash tag of every hour's counters,
--                       otp:{a}:HOUR (message_put.lua, status_set.lua):
--                       one slot, so that a Cluster answers a range here
--   ARGV    from, to: unix seconds, aligned to the hour, to exclusive;
--           "sum" for the aggregate read (below), "rows" otherwise;
--           budget: the fields to read at most, but one hour always
--   answer  {0, next, hour, {field, value, ...}, hour, {...}, ...}: the
--           hours with counters, newest first, from to - 1h down to next
--           (included); next = from when the range is read whole, or the
--           exclusive end of what is left to read, with another call
--
-- Read-only.  A range is at most otp_analytics_retention long (the
-- endpoint refuses longer ones): 192 hours with the default 8 days.  A
-- call reads hours until it has read budget fields (HLEN, O(1)), so that
-- Redis never runs one call over a week of hashes, nor hands one reply of
-- that size to a worker: the store (ngx_http_otp_store_redis.c) calls
-- again for the rest, newest hours first, and stops once its rows are
-- full.
--
-- "sum" (op->sum, otp_smart_channels): the sent and delivered counters
-- ("c|CH|PROV|CC|s" and "|d") of those hours summed, answered as one
-- hour, next: {0, next, next, {field, sum, ...}}.  HSCAN's MATCH picks
-- those 2 of an hour's 16 counters of a row inside Redis, so this script
-- adds only them, and the answer is one row per provider, country and
-- channel, not per hour.  One HSCAN call with a COUNT above any hour's
-- size walks the whole hash (no element twice: nothing changes it
-- between the calls of a script).

local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])
local sum = ARGV[3] == 'sum'
local budget = tonumber(ARGV[4])
local out = {0, from}
local read = 0
local sums, names = {}, {}
local h = to - 3600

while h >= from do
  local key = KEYS[1] .. ':' .. string.format('%d', h)

  if read >= budget then
    out[2] = h + 3600
    break
  end

  read = read + redis.call('HLEN', key)

  if sum then
    local cursor = '0'
    repeat
      local r = redis.call('HSCAN', key, cursor, 'MATCH', 'c|*|[sd]',
                           'COUNT', 1000000)
      cursor = r[1]
      local f = r[2]
      for i = 1, #f, 2 do
        local v = tonumber(f[i + 1])
        if v then
          local n = f[i]
          if sums[n] == nil then
            names[#names + 1] = n
            sums[n] = v
          else
            sums[n] = sums[n] + v
          end
        end
      end
    until cursor == '0'
  else
    local f = redis.call('HGETALL', key)
    if #f > 0 then
      out[#out + 1] = h
      out[#out + 1] = f
    end
  end

  h = h - 3600
end

if sum and #names > 0 then
  local f = {}
  for i = 1, #names do
    f[#f + 1] = names[i]
    f[#f + 1] = sums[names[i]]
  end
  out[3] = out[2]
  out[4] = f
end

return out

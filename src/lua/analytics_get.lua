-- ANALYTICS_GET (the rules are in src/ngx_http_otp_store.h, "Analytics").
--   KEYS[1] otp:{a}     the hash tag of every hour's counters,
--                       otp:{a}:HOUR (message_put.lua, status_set.lua):
--                       one slot, so that a Cluster answers a range here
--   ARGV    from, to: unix seconds, aligned to the hour, to exclusive;
--           "sum" for the aggregate read (below), "rows" otherwise
--   answer  {0, hour, {field, value, ...}, hour, {...}, ...}: the hours
--           with counters, newest first (a reader that runs out of room
--           keeps the newest)
--
-- Read-only.  A range is at most otp_analytics_retention long (the
-- endpoint refuses longer ones): 192 hours with the default 8 days.
--
-- "sum" (op->sum, otp_smart_channels): the sent and delivered counters
-- ("c|CH|PROV|CC|s" and "|d") summed over the range, answered as one hour,
-- from: {0, from, {field, sum, ...}} ({0} when there are none).  HSCAN's
-- MATCH picks those 2 of an hour's 16 counters of a row inside Redis, so
-- this script adds only them, and the answer is one row per provider,
-- country and channel, not per hour.  One HSCAN call with a COUNT above
-- any hour's size walks the whole hash (no element twice: nothing
-- changes it between the calls of a script).

local out = {0}
local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])

if ARGV[3] == 'sum' then
  local sums, names = {}, {}
  local h = from
  while h < to do
    local key = KEYS[1] .. ':' .. string.format('%d', h)
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
    h = h + 3600
  end
  if #names == 0 then return out end
  local f = {}
  for i = 1, #names do
    f[#f + 1] = names[i]
    f[#f + 1] = sums[names[i]]
  end
  out[2] = from
  out[3] = f
  return out
end

local h = to - 3600
while h >= from do
  local f = redis.call('HGETALL', KEYS[1] .. ':' .. string.format('%d', h))
  if #f > 0 then
    out[#out + 1] = h
    out[#out + 1] = f
  end
  h = h - 3600
end
return out

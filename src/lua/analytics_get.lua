-- ANALYTICS_GET (the rules are in src/ngx_http_otp_store.h, "Analytics").
--   KEYS[1] otp:{a}     the hash tag of every hour's counters,
--                       otp:{a}:HOUR (message_put.lua, status_set.lua):
--                       one slot, so that a Cluster answers a range here
--   ARGV    from, to: unix seconds, aligned to the hour, to exclusive
--   answer  {0, hour, {field, value, ...}, hour, {...}, ...}: the hours
--           with counters, newest first (a reader that runs out of room
--           keeps the newest)
--
-- Read-only.  A range is at most otp_analytics_retention long (the
-- endpoint refuses longer ones): 192 hours with the default 8 days.

local out = {0}
local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])
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

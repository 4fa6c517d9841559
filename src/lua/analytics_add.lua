-- ANALYTICS_ADD, on a Redis Cluster: the counters that message_put.lua
-- or status_set.lua answered (given a negative retention) added to the
-- hour's hash, which is in another slot than the message record.
--   KEYS[1] otp:{a}     the hash tag of every hour's counters
--   ARGV    the retention in ms, then field, increment, ...
--   answer  {0}
--
-- The hour is that of this script's TIME, a round trip after the event's.
-- Not atomic with the script that decided the count: lost if this one
-- never runs (README, "Delivery analytics").

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hour = math.floor(now / 3600000) * 3600
local k = KEYS[1] .. ':' .. string.format('%d', hour)
for i = 2, #ARGV - 1, 2 do
  redis.call('HINCRBY', k, ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIREAT', k,
  string.format('%d', (hour + 3600) * 1000 + tonumber(ARGV[1])))
return {0}

-- MESSAGE_PUT (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:m:{ID}  the message record: status, channel, provider,
--                       phone, created, updated; error, next, prev, fb
--                       (the fallback blob) when not empty
--   ARGV    channel, provider, phone key, message_ttl, prev ("" none),
--           fallback blob ("" none), cost (millionths, "" unknown),
--           country calling code ("" none), analytics retention in ms
--           (0: nothing counted; negative, on a Redis Cluster: not
--           counted here but answered, see below)
--   answer  {0}, or {0, {field, increment, ...}} with a negative
--           retention
--
-- Analytics: the message is counted as sent in otp:{a}:HOUR (the hour of
-- created, unix seconds), a hash of counters "c|CHANNEL|PROVIDER|COUNTRY|
-- s" and "...|cost", kept until the end of the hour plus the retention.
-- The key is not in KEYS: it is named from Redis's clock, here; on one
-- Redis (or Sentinel's master) that is allowed, and on a Cluster, where it
-- would be in another slot than the message's, the caller passes minus
-- the retention and gets the counters to add back: it adds them with
-- analytics_add.lua, in the hour's slot (README, "Delivery analytics").
--
-- The id comes from the provider's answer: it reaches Redis only as a
-- key, never inside the text of a script.  The record replaces one with
-- the same id whole, fields that status updates added included.  The
-- blob is bytes: Redis strings are binary-safe, and it is only ever
-- handed back whole.

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'status', 'queued', 'channel', ARGV[1],
  'provider', ARGV[2], 'phone', ARGV[3], 'created', now, 'updated', now,
  'cost', ARGV[7] or '', 'cc', ARGV[8] or '')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'prev', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'fb', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local keep = tonumber(ARGV[9]) or 0
if keep ~= 0 then
  local row = 'c|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. (ARGV[8] or '')
    .. '|'
  local add = {row .. 's', 1}
  local cost = tonumber(ARGV[7])
  if cost and cost > 0 then
    add[3] = row .. 'cost'
    add[4] = string.format('%d', cost)
  end
  if keep < 0 then return {0, add} end
  local hour = math.floor(now / 3600000) * 3600
  local k = 'otp:{a}:' .. string.format('%d', hour)
  for i = 1, #add, 2 do redis.call('HINCRBY', k, add[i], add[i + 1]) end
  redis.call('PEXPIREAT', k, string.format('%d', (hour + 3600) * 1000 + keep))
end
return {0}

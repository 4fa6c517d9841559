-- MESSAGE_PUT (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:m:{ID}  the message record: status, channel, provider,
--                       phone, created, updated; error, next, prev, fb
--                       (the fallback blob) when not empty
--   ARGV    channel, provider, phone key, message_ttl, prev ("" none),
--           fallback blob ("" none)
--   answer  {0}
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
  'provider', ARGV[2], 'phone', ARGV[3], 'created', now, 'updated', now)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'prev', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'fb', ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {0}

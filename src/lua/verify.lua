-- VERIFY (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record
--   ARGV    the code key of the guess
--   answer  {status, retry_after_ms, attempts_remaining}; status 0 OK,
--           1 INVALID, 2 EXPIRED, 3 EXHAUSTED
--
-- The guess is compared with Lua's ==, which is not constant-time: both
-- sides are HMAC-SHA256 keys under a secret Redis never sees, so timing
-- can tell an attacker how many leading characters of a keyed hash
-- match, which does not help him choose the next guess.

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'att', 'max',
  'lock', 'lockout')
local exp = tonumber(r[2]) or 0
local lock = tonumber(r[5]) or 0
if math.max(exp, lock) <= now then return {2, 0, 0} end
if lock > now then return {3, lock - now, 0} end
if not r[1] or exp <= now then return {2, 0, 0} end
local att = tonumber(r[3]) or 0
local max = tonumber(r[4]) or 0
local lockout = tonumber(r[6]) or 0
if att >= max then
  lock = now + lockout
  redis.call('HDEL', KEYS[1], 'code', 'exp')
  redis.call('HSET', KEYS[1], 'lock', lock)
  redis.call('PEXPIREAT', KEYS[1], lock)
  return {3, lockout, 0}
end
att = att + 1
if r[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {0, 0, 0}
end
if att >= max then
  lock = now + lockout
  redis.call('HDEL', KEYS[1], 'code', 'exp')
  redis.call('HSET', KEYS[1], 'att', att, 'lock', lock)
  redis.call('PEXPIREAT', KEYS[1], lock)
else
  redis.call('HSET', KEYS[1], 'att', att)
end
return {1, 0, max - att}

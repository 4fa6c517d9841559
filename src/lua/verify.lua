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
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'lock', 'max',
  'lockout', 'fails', 'fend', 'lmax', 'lwin', 'lfails', 'lfend')
local exp = tonumber(r[2]) or 0
local lock = tonumber(r[3]) or 0
local fails = tonumber(r[6]) or 0
local fend = tonumber(r[7]) or 0
local lfails = tonumber(r[10]) or 0
local lfend = tonumber(r[11]) or 0
if math.max(exp, lock, fend, lfend) <= now then return {2, 0, 0} end
if lock > now then return {3, lock - now, 0} end
if not r[1] or exp <= now then return {2, 0, 0} end
local max = tonumber(r[4]) or 0
local lockout = tonumber(r[5]) or 0
local lmax = tonumber(r[8]) or math.huge
if fend <= now then fails = 0; fend = 0 end
if lfend <= now then lfails = 0; lfend = 0 end
local guess = fails < max and lfails < lmax
if guess then
  if r[1] == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return {0, 0, 0}
  end
  -- the short window runs lockout from the last failure: any
  -- max_attempts failures within lockout of each other lock the number
  fend = now + lockout
  if lfails == 0 then lfend = now + (tonumber(r[9]) or 0) end
  fails = fails + 1
  lfails = lfails + 1
  local left = math.min(max - fails, lmax - lfails)
  if left > 0 then
    redis.call('HSET', KEYS[1], 'fails', fails, 'fend', fend,
      'lfails', lfails, 'lfend', lfend)
    redis.call('PEXPIREAT', KEYS[1], math.max(exp, fend, lfend))
    return {1, 0, left}
  end
end
-- The code dies and the number is locked: after the guess that used the
-- last failure allowed (401, 0 left), or at once if the limits were
-- already reached without a lock (which cannot happen, but if it does).
lock = 0
if fails >= max then lock = now + lockout end
if lfails >= lmax then lock = math.max(lock, lfend) end
redis.call('HDEL', KEYS[1], 'code', 'exp')
redis.call('HSET', KEYS[1], 'lock', lock, 'fails', fails, 'fend', fend,
  'lfails', lfails, 'lfend', lfend)
redis.call('PEXPIREAT', KEYS[1], math.max(lock, fend, lfend))
if guess then return {1, 0, 0} end
return {3, lock - now, 0}

-- ISSUE (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record
--   KEYS[2] otp:{P}:w   the phone's send window: count, end
--   KEYS[3] otp:c:{C}   the client's send window: count, end
--   ARGV    code key, ttl, resend_after, lockout, max_attempts,
--           send_limit, send_window, client_limit, client_window
--   answer  {status, retry_after_ms, 0}; status 0 OK, 1 LOCKED,
--           2 COOLDOWN, 3 LIMITED, 4 CLIENT_LIMITED
--
-- KEYS[3] is in another hash slot than the other two: under Redis
-- Cluster the client window would have to become a second script (not
-- done: one Redis, or Sentinel, runs this as it is).

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local resend = tonumber(ARGV[3])
local slimit = tonumber(ARGV[6])
local climit = tonumber(ARGV[8])
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'lock', 'sent',
  'att')
local exp = tonumber(r[2]) or 0
local lock = tonumber(r[3]) or 0
local sent = tonumber(r[4]) or 0
local live = math.max(exp, lock) > now
if live and lock > now then return {1, lock - now, 0} end
if live and r[1] and exp > now and now < sent + resend then
  return {2, sent + resend - now, 0}
end
local w = redis.call('HMGET', KEYS[2], 'count', 'end')
local wend = tonumber(w[2]) or 0
if wend > now and (tonumber(w[1]) or 0) >= slimit then
  return {3, wend - now, 0}
end
local cend = 0
if climit > 0 then
  local c = redis.call('HMGET', KEYS[3], 'count', 'end')
  cend = tonumber(c[2]) or 0
  if cend > now and (tonumber(c[1]) or 0) >= climit then
    return {4, cend - now, 0}
  end
end
if wend > now then
  redis.call('HINCRBY', KEYS[2], 'count', 1)
else
  wend = now + tonumber(ARGV[7])
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'count', 1, 'end', wend)
  redis.call('PEXPIREAT', KEYS[2], wend)
end
if climit > 0 then
  if cend > now then
    redis.call('HINCRBY', KEYS[3], 'count', 1)
  else
    cend = now + tonumber(ARGV[9])
    redis.call('DEL', KEYS[3])
    redis.call('HSET', KEYS[3], 'count', 1, 'end', cend)
    redis.call('PEXPIREAT', KEYS[3], cend)
  end
end
local att = 0
if live then
  att = tonumber(r[5]) or 0
else
  redis.call('DEL', KEYS[1])
end
exp = now + ttl
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'exp', exp, 'att', att,
  'max', ARGV[5], 'lock', 0, 'lockout', ARGV[4], 'sent', now)
redis.call('PEXPIREAT', KEYS[1], exp)
return {0, 0, 0}

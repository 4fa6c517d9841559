-- ISSUE (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record: code, exp, sent, lock, max,
--                       lockout, fails, fend, lmax, lwin, lfails, lfend
--   KEYS[2] otp:{P}:w   the phone's send window: count, end, start
--   KEYS[3] otp:c:{C}   the client's send window: count, end, start
--   KEYS[4] otp:{P}:o   the number's opt-out (optout.lua)
--   ARGV    code key, ttl, resend_after, lockout, max_attempts,
--           send_limit, send_window, client_limit, client_window,
--           max_failures (0: no limit), failure_window
--   answer  {status, retry_after_ms, 0}; status 0 OK, 1 LOCKED,
--           2 COOLDOWN, 3 LIMITED, 4 CLIENT_LIMITED, 5 OPTED_OUT
--
-- KEYS[3] is in another hash slot than the other three: on a Redis
-- Cluster the client window is client.lua's, run before this script in
-- its own slot, and this one is given client_limit 0 and the phone's
-- window again as KEYS[3] (ngx_http_otp_redis_cluster.c).

if redis.call('EXISTS', KEYS[4]) == 1 then return {5, 0, 0} end
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local resend = tonumber(ARGV[3])
local lockout = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local slimit = tonumber(ARGV[6])
local climit = tonumber(ARGV[8])
local lmax = tonumber(ARGV[10])
if lmax == 0 then lmax = 4294967295 end
local lwin = tonumber(ARGV[11])
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'sent', 'lock',
  'max', 'lockout', 'fails', 'fend', 'lmax', 'lwin', 'lfails', 'lfend')
local exp = tonumber(r[2]) or 0
local sent = tonumber(r[3]) or 0
local lock = tonumber(r[4]) or 0
local fails = tonumber(r[7]) or 0
local fend = tonumber(r[8]) or 0
local lfails = tonumber(r[11]) or 0
local lfend = tonumber(r[12]) or 0
if fend <= now then fails = 0; fend = 0 end
if lfend <= now then lfails = 0; lfend = 0 end
local live = math.max(exp, lock, fend, lfend) > now
if live then
  -- the strictest of the live record's limits and the new ones
  max = math.min(max, tonumber(r[5]) or max)
  lockout = math.max(lockout, tonumber(r[6]) or 0)
  lmax = math.min(lmax, tonumber(r[9]) or lmax)
  lwin = math.max(lwin, tonumber(r[10]) or 0)
end
if lock > now then return {1, lock - now, 0} end
local retry = 0
if fails >= max then retry = fend - now end
if lfails >= lmax then retry = math.max(retry, lfend - now) end
if retry > 0 then return {1, retry, 0} end
if r[1] and exp > now and now < sent + resend then
  return {2, sent + resend - now, 0}
end
-- a window lasts the longest of the windows that see it, from its start:
-- a looser location never shortens one a stricter location counts in
local function window(key, win)
  local w = redis.call('HMGET', key, 'count', 'end', 'start')
  local e = tonumber(w[2]) or 0
  if e <= now then return 0, 0 end
  local s = tonumber(w[3]) or (e - win)
  return tonumber(w[1]) or 0, math.max(e, s + win)
end
local function count(key, wend, win)
  if wend > now then
    redis.call('HINCRBY', key, 'count', 1)
    redis.call('HSET', key, 'end', wend)
  else
    wend = now + win
    redis.call('DEL', key)
    redis.call('HSET', key, 'count', 1, 'end', wend, 'start', now)
  end
  redis.call('PEXPIREAT', key, wend)
end
local swin = tonumber(ARGV[7])
local wcount, wend = window(KEYS[2], swin)
if wend > now and wcount >= slimit then
  return {3, wend - now, 0}
end
local cwin = tonumber(ARGV[9])
local ccount, cend = 0, 0
if climit > 0 then
  ccount, cend = window(KEYS[3], cwin)
  if cend > now and ccount >= climit then
    return {4, cend - now, 0}
  end
end
count(KEYS[2], wend, swin)
if climit > 0 then
  count(KEYS[3], cend, cwin)
end
exp = now + ttl
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'exp', exp, 'sent', now,
  'lock', 0, 'max', max, 'lockout', lockout, 'fails', fails,
  'fend', fend, 'lmax', lmax, 'lwin', lwin, 'lfails', lfails,
  'lfend', lfend)
redis.call('PEXPIREAT', KEYS[1], math.max(exp, fend, lfend))
return {0, 0, 0}

-- CODE_LIVE (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record
--   ARGV    the code key of the code a fallback would resend
--   answer  {status}; status 0 OK (that code, unexpired, the number not
--           locked), 1 EXPIRED
--
-- Reads only: counts no attempt.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'lock')
if r[1] == ARGV[1] and (tonumber(r[2]) or 0) > now
   and (tonumber(r[3]) or 0) <= now then
  return {0}
end
return {1}

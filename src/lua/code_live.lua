-- CODE_LIVE (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record
--   KEYS[2] otp:{P}:o   the number's opt-out (optout.lua)
--   ARGV    the code key of the code a fallback would resend
--   answer  {status}; status 0 OK (that code, unexpired, the number not
--           locked), 1 EXPIRED, 2 OPTED_OUT (checked first)
--
-- Reads only: counts no attempt.

if redis.call('EXISTS', KEYS[2]) == 1 then return {2} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'code', 'exp', 'lock')
if r[1] == ARGV[1] and (tonumber(r[2]) or 0) > now
   and (tonumber(r[3]) or 0) <= now then
  return {0}
end
return {1}

-- REVOKE (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:r   the phone record
--   ARGV    the code key of the code to revoke
--   answer  {status, 0, 0}; status 0 OK (revoked), 1 EXPIRED (the
--           record holds no such code: expired, used, or replaced by a
--           newer send, which is left alone)

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local r = redis.call('HMGET', KEYS[1], 'code', 'lock', 'fend', 'lfend')
if r[1] ~= ARGV[1] then return {1, 0, 0} end
redis.call('HDEL', KEYS[1], 'code', 'exp', 'sent')
local keep = math.max(tonumber(r[2]) or 0, tonumber(r[3]) or 0,
  tonumber(r[4]) or 0)
if keep > now then
  redis.call('PEXPIREAT', KEYS[1], keep)
else
  redis.call('DEL', KEYS[1])
end
return {0, 0, 0}

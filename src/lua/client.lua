-- CLIENT, ISSUE's client window on its own: Redis Cluster only, where
-- otp:c:{C} lives in another hash slot than the number's keys (the rules
-- are in src/ngx_http_otp_store.h; one Redis runs it inside issue.lua,
-- whose window rules this repeats).
--   KEYS[1] otp:c:{C}   the client's send window: count, end, start
--   ARGV    client_limit (> 0), client_window
--   answer  {status, retry_after_ms, 0}; status 0 OK (the send counted),
--           4 CLIENT_LIMITED
--
-- Run before ISSUE (which is then given client_limit 0): a send is
-- counted here even when ISSUE then refuses it (locked, cooldown, the
-- number's limit, opted out) or the store fails, so a client's window
-- fills at least as fast as on one Redis, never slower.

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local climit = tonumber(ARGV[1])
local cwin = tonumber(ARGV[2])
-- a window lasts the longest of the windows that see it, from its start
local c = redis.call('HMGET', KEYS[1], 'count', 'end', 'start')
local ccount, cend = 0, tonumber(c[2]) or 0
if cend > now then
  local s = tonumber(c[3]) or (cend - cwin)
  ccount = tonumber(c[1]) or 0
  cend = math.max(cend, s + cwin)
  if ccount >= climit then return {4, cend - now, 0} end
  redis.call('HINCRBY', KEYS[1], 'count', 1)
  redis.call('HSET', KEYS[1], 'end', cend)
else
  cend = now + cwin
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'count', 1, 'end', cend, 'start', now)
end
redis.call('PEXPIREAT', KEYS[1], cend)
return {0, 0, 0}

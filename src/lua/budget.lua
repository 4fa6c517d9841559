-- BUDGET (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:b:{N}   the provider's budget; the counter itself is
--                       KEYS[1] .. ":" .. the hour since the epoch,
--                       which only the script knows (from TIME), in
--                       the same hash slot as KEYS[1] (hash tag)
--   ARGV    budget_limit, slack
--   answer  {status, retry_after_ms, first_over};
--           status 0 OK, 1 LIMITED
--
-- INCR makes exactly one caller take the count to limit + 1, however
-- many nginx instances count at once: that one logs the alert.

if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hour = math.floor(tonumber(t[1]) / 3600)
local hend = (hour + 1) * 3600000
local key = KEYS[1] .. ':' .. string.format('%d', hour)
local limit = tonumber(ARGV[1])
local n = redis.call('INCR', key)
redis.call('PEXPIREAT', key, hend + tonumber(ARGV[2]))
if n <= limit then return {0, 0, 0} end
if n == limit + 1 then return {1, hend - now, 1} end
return {1, hend - now, 0}

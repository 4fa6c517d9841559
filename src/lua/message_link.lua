-- MESSAGE_LINK (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:m:{ID}  the message record
--   ARGV    next: the id of the message the fallback sent
--   answer  {status}; status 0 OK, 1 NOT_FOUND
--
-- HSET keeps the record's TTL.

if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
redis.call('HSET', KEYS[1], 'next', ARGV[1])
return {0}

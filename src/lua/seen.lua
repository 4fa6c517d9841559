-- SEEN (the rule is in src/ngx_http_otp_store.h).
--   KEYS[1] otp:s:{K}   a webhook id accepted (K: its HMAC key)
--   ARGV    ttl in ms (> 0)
--   answer  {status}; status 0 OK (stored now), 1 SEEN (there already)
--
-- One SET NX: Redis keeps the key for ttl, and evicts it no earlier
-- under the "noeviction" policy (the store warns of any other when it
-- connects).  No TIME: PX counts on Redis's own clock.

if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then
  return {0}
end
return {1}

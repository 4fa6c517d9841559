-- OPTOUT_SET and OPTOUT_CLEAR (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:{P}:o   the number's opt-out, in its phone's hash slot
--                       (ISSUE reads it in the same script as the
--                       phone record)
--   ARGV    1 to set, 0 to clear
--   answer  {0}; clearing a number that was not listed {1} (NOT_FOUND)
--
-- No TTL: a STOP is for good, until a START.

if ARGV[1] == '1' then
  redis.call('SET', KEYS[1], 1)
  return {0}
end
if redis.call('DEL', KEYS[1]) == 0 then
  return {1}
end
return {0}

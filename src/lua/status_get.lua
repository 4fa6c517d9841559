-- STATUS_GET (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:m:{ID}  the message record
--   answer  {1} NOT_FOUND, or {0, status, channel, provider, error_code,
--           next, prev, updated}: status as NGX_OTP_STATUS_* (1 queued,
--           2 sent, 3 delivered, 4 read, 5 undelivered, 6 failed; 0 for
--           a name the module does not know), missing strings "".  The
--           fallback blob is never read out.

local code = {queued = 1, sent = 2, delivered = 3, read = 4,
  undelivered = 5, failed = 6}
local r = redis.call('HMGET', KEYS[1], 'status', 'channel', 'provider',
  'error', 'next', 'prev', 'updated')
if not r[1] then return {1} end
return {0, code[r[1]] or 0, r[2] or '', r[3] or '', r[4] or '',
  r[5] or '', r[6] or '', tonumber(r[7]) or 0}

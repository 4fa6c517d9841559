-- STATUS_SET, a delivery report (the rules are in src/ngx_http_otp_store.h).
--   KEYS[1] otp:m:{ID}  the message record
--   ARGV    provider, the new status as NGX_OTP_STATUS_* (1 queued,
--           2 sent, 3 delivered, 4 read, 5 undelivered, 6 failed),
--           error_code ("" none), the message id (announced), the
--           analytics retention in ms (0: nothing counted; negative, on
--           a Redis Cluster: the counters answered, not added; see
--           message_put.lua)
--   answer  {1} NOT_FOUND (no record, or another provider's), or
--           {s, status, channel, provider, error_code, next, prev,
--           updated, fallback, phone, created[, counters]}: s 0 OK, 2
--           UNCHANGED; counters {field, increment, ...} only with a
--           negative retention and something to count; the record
--           after the change (OK) or as it is (UNCHANGED); fallback and
--           phone "" but when a failed or undelivered report takes the
--           blob out
--
-- Statuses move forward only, as ngx_otp_status_advances() says: queued,
-- sent, delivered, read by rank; undelivered and failed from queued or
-- sent only; read, undelivered and failed final, delivered only to read;
-- the same status again is no step.  Providers report out of order and
-- twice: a late "sent" after "delivered" changes nothing.
--
-- A terminal status (delivered, read, undelivered, failed) takes the
-- fallback blob out of the record, so that exactly one report ever gets
-- it: handed out on failed and undelivered (the fallback's copy of the
-- code, sealed), dropped on the others.  Every change that answers OK is
-- PUBLISHed on "otp:status" with the message id, for the watchers of
-- every nginx instance (ngx_http_otp_store_redis_sub.c).
--
-- Analytics (message_put.lua says where): a change that answers OK to
-- delivered or read, from neither, counts "d", the delivery time since
-- created in "ms", "n" and the histogram bucket "h0".."h10" (bounds 1, 2,
-- 5, 10, 20, 30, 60, 120, 300, 600 s, +Inf); to failed or undelivered,
-- "f", and "e|CHANNEL|PROVIDER|COUNTRY|ERROR" ("unknown" for none); in
-- the hour of the report.

local name = {'queued', 'sent', 'delivered', 'read', 'undelivered',
  'failed'}
local code = {queued = 1, sent = 2, delivered = 3, read = 4,
  undelivered = 5, failed = 6}
local r = redis.call('HMGET', KEYS[1], 'status', 'channel', 'provider',
  'error', 'next', 'prev', 'updated', 'phone', 'created', 'cc')
if not r[1] or r[3] ~= ARGV[1] then return {1} end
local from = code[r[1]]
local to = tonumber(ARGV[2])
local advances = false
if from and to and name[to] and from ~= to and from ~= 4 and from < 5 then
  if to >= 5 then advances = from <= 2 else advances = to > from end
end
if not advances then
  return {2, from or 0, r[2] or '', r[3], r[4] or '', r[5] or '',
    r[6] or '', tonumber(r[7]) or 0, '', '', tonumber(r[9]) or 0}
end
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local err = r[4] or ''
if ARGV[3] ~= '' then err = ARGV[3] end
redis.call('HSET', KEYS[1], 'status', name[to], 'updated', now,
  'error', err)
local fb, phone = '', ''
if to >= 3 then
  if to >= 5 then
    fb = redis.call('HGET', KEYS[1], 'fb') or ''
    if fb ~= '' then phone = r[8] or '' end
  end
  redis.call('HDEL', KEYS[1], 'fb')
end
local keep = tonumber(ARGV[5]) or 0
local add = {}
if keep ~= 0 and (to >= 5 or (to >= 3 and from ~= 3)) then
  local row = (r[2] or '') .. '|' .. r[3] .. '|' .. (r[10] or '') .. '|'
  if to >= 5 then
    local why = err
    if why == '' then why = 'unknown' end
    add = {'c|' .. row .. 'f', 1, 'e|' .. row .. why, 1}
  else
    local ms = now - (tonumber(r[9]) or now)
    if ms < 0 then ms = 0 end
    local b = 10
    for i, le in ipairs({1000, 2000, 5000, 10000, 20000, 30000, 60000,
        120000, 300000, 600000}) do
      if ms <= le then b = i - 1; break end
    end
    add = {'c|' .. row .. 'd', 1, 'c|' .. row .. 'ms',
      string.format('%d', ms), 'c|' .. row .. 'n', 1,
      'c|' .. row .. 'h' .. b, 1}
  end
  if keep > 0 then
    local hour = math.floor(now / 3600000) * 3600
    local k = 'otp:{a}:' .. string.format('%d', hour)
    for i = 1, #add, 2 do redis.call('HINCRBY', k, add[i], add[i + 1]) end
    redis.call('PEXPIREAT', k,
      string.format('%d', (hour + 3600) * 1000 + keep))
  end
end
redis.call('PUBLISH', 'otp:status', ARGV[4])
if keep < 0 and #add > 0 then
  return {0, to, r[2] or '', r[3], err, r[5] or '', r[6] or '', now, fb,
    phone, tonumber(r[9]) or 0, add}
end
return {0, to, r[2] or '', r[3], err, r[5] or '', r[6] or '', now, fb,
  phone, tonumber(r[9]) or 0}

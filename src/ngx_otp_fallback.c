
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The fallback's record of a code (otp_fallback): what the next channel
 * of a send's chain needs to send the same code again, as the bytes that
 * ngx_otp_seal() encrypts into the message record.  The layout is in
 * ngx_otp_core.h.  Decoding reads sealed, authenticated bytes, yet
 * trusts no length in them: a record written by another version, or a
 * store's bytes opened with a reused key, must not overrun a buffer.
 */


#include <string.h>

#include "ngx_otp_core.h"


#define NGX_OTP_FALLBACK_VERSION    1


static u_char *ngx_otp_fallback_put(u_char *p, const u_char *s, size_t len);
static int ngx_otp_fallback_get(const u_char **pos, const u_char *last,
    u_char *dst, size_t cap, size_t *len);


int
ngx_otp_fallback_encode(const ngx_otp_fallback_record_t *r, u_char *out,
    size_t cap, size_t *len)
{
    int       i;
    u_char   *p;
    size_t    n;
    uint64_t  v;

    if (r->phone_len > sizeof(r->phone) || r->code_len > sizeof(r->code)
        || r->provider_len > sizeof(r->provider)
        || r->locale_len > sizeof(r->locale)
        || r->text_len > sizeof(r->text))
    {
        return NGX_OTP_ETOOBIG;
    }

    if ((r->channel & NGX_OTP_ALL_CHANNELS) == 0 || r->channel > 255
        || r->phone_len < 2 || r->code_len == 0)
    {
        return NGX_OTP_EINVAL;
    }

    n = 2 + 1 + r->phone_len + 1 + r->code_len + 1 + r->provider_len
        + 1 + r->locale_len + 8 + 8 + 2 + r->text_len;

    *len = n;

    if (out == NULL) {
        return NGX_OTP_OK;
    }

    if (cap < n) {
        return NGX_OTP_ETOOBIG;
    }

    p = out;
    *p++ = NGX_OTP_FALLBACK_VERSION;
    *p++ = (u_char) r->channel;

    p = ngx_otp_fallback_put(p, r->phone, r->phone_len);
    p = ngx_otp_fallback_put(p, r->code, r->code_len);
    p = ngx_otp_fallback_put(p, r->provider, r->provider_len);
    p = ngx_otp_fallback_put(p, r->locale, r->locale_len);

    v = (uint64_t) r->expires;
    for (i = 7; i >= 0; i--) {
        *p++ = (u_char) (v >> (8 * i));
    }

    v = r->message_ttl;
    for (i = 7; i >= 0; i--) {
        *p++ = (u_char) (v >> (8 * i));
    }

    *p++ = (u_char) (r->text_len >> 8);
    *p++ = (u_char) r->text_len;
    memcpy(p, r->text, r->text_len);

    return NGX_OTP_OK;
}


int
ngx_otp_fallback_decode(const u_char *in, size_t len,
    ngx_otp_fallback_record_t *r)
{
    int            i;
    size_t         n;
    uint64_t       v;
    const u_char  *p, *last;

    memset(r, 0, sizeof(ngx_otp_fallback_record_t));

    p = in;
    last = in + len;

    if (len < 2 || p[0] != NGX_OTP_FALLBACK_VERSION
        || (p[1] & NGX_OTP_ALL_CHANNELS) == 0
        || (p[1] & ~NGX_OTP_ALL_CHANNELS) != 0)
    {
        goto invalid;
    }

    r->channel = p[1];
    p += 2;

    if (ngx_otp_fallback_get(&p, last, r->phone, sizeof(r->phone),
                             &r->phone_len)
        != NGX_OTP_OK
        || ngx_otp_fallback_get(&p, last, r->code, sizeof(r->code),
                                &r->code_len)
           != NGX_OTP_OK
        || ngx_otp_fallback_get(&p, last, r->provider, sizeof(r->provider),
                                &r->provider_len)
           != NGX_OTP_OK
        || ngx_otp_fallback_get(&p, last, r->locale, sizeof(r->locale),
                                &r->locale_len)
           != NGX_OTP_OK)
    {
        goto invalid;
    }

    if (last - p < 8 + 8 + 2) {
        goto invalid;
    }

    for (v = 0, i = 0; i < 8; i++) {
        v = (v << 8) | *p++;
    }

    r->expires = (int64_t) v;

    for (v = 0, i = 0; i < 8; i++) {
        v = (v << 8) | *p++;
    }

    r->message_ttl = v;

    n = (size_t) p[0] << 8 | p[1];
    p += 2;

    if (n > sizeof(r->text) || (size_t) (last - p) != n
        || r->phone_len < 2 || r->code_len == 0)
    {
        goto invalid;
    }

    memcpy(r->text, p, n);
    r->text_len = n;

    return NGX_OTP_OK;

invalid:

    memset(r, 0, sizeof(ngx_otp_fallback_record_t));

    return NGX_OTP_EINVAL;
}


static u_char *
ngx_otp_fallback_put(u_char *p, const u_char *s, size_t len)
{
    *p++ = (u_char) len;
    memcpy(p, s, len);

    return p + len;
}


/* a field of one length byte and its bytes, at most cap of them */

static int
ngx_otp_fallback_get(const u_char **pos, const u_char *last, u_char *dst,
    size_t cap, size_t *len)
{
    size_t         n;
    const u_char  *p;

    p = *pos;

    if (p >= last) {
        return NGX_OTP_EINVAL;
    }

    n = *p++;

    if (n > cap || (size_t) (last - p) < n) {
        return NGX_OTP_EINVAL;
    }

    memcpy(dst, p, n);
    *len = n;
    *pos = p + n;

    return NGX_OTP_OK;
}

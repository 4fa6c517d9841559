
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_fallback.c: the fallback's record of a code encodes to the
 * documented bytes, decodes back to itself, and decoding refuses
 * anything but exactly one well-formed record, leaving nothing behind.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


static void
fill(ngx_otp_fallback_record_t *r)
{
    memset(r, 0, sizeof(*r));

    r->channel = NGX_OTP_SMS;
    memcpy(r->phone, "+15550100001", 12);
    r->phone_len = 12;
    memcpy(r->code, "123456", 6);
    r->code_len = 6;
    memcpy(r->provider, "dev", 3);
    r->provider_len = 3;
    memcpy(r->locale, "en", 2);
    r->locale_len = 2;
    memcpy(r->text, "Your code is 123456", 19);
    r->text_len = 19;
    r->expires = 0x0102030405060708LL;
    r->message_ttl = 86400000;
}


static const u_char  known[] =
    "\x01\x01"
    "\x0c+15550100001"
    "\x06" "123456"
    "\x03" "dev"
    "\x02" "en"
    "\x01\x02\x03\x04\x05\x06\x07\x08"
    "\x00\x00\x00\x00\x05\x26\x5c\x00"
    "\x00\x13" "Your code is 123456";


static void
test_known(void)
{
    size_t                     len;
    u_char                     out[2048];
    ngx_otp_fallback_record_t  r, d;

    fill(&r);

    is_int(ngx_otp_fallback_encode(&r, NULL, 0, &len), NGX_OTP_OK,
           "measure");
    is_int(len, sizeof(known) - 1, "measured length");
    is_int(ngx_otp_fallback_encode(&r, out, sizeof(out), &len), NGX_OTP_OK,
           "encode");
    is_mem(out, len, known, sizeof(known) - 1, "the documented bytes");

    is_int(ngx_otp_fallback_encode(&r, out, len - 1, &len), NGX_OTP_ETOOBIG,
           "a short buffer is ETOOBIG");

    is_int(ngx_otp_fallback_decode(known, sizeof(known) - 1, &d), NGX_OTP_OK,
           "decode");
    ok(d.channel == r.channel && d.expires == r.expires
       && d.message_ttl == r.message_ttl, "channel, expiry, ttl");
    is_mem(d.phone, d.phone_len, r.phone, r.phone_len, "phone");
    is_mem(d.code, d.code_len, r.code, r.code_len, "code");
    is_mem(d.provider, d.provider_len, r.provider, r.provider_len,
           "provider");
    is_mem(d.locale, d.locale_len, r.locale, r.locale_len, "locale");
    is_mem(d.text, d.text_len, r.text, r.text_len, "text");
}


static void
test_limits(void)
{
    size_t                     len;
    u_char                     out[2048];
    ngx_otp_fallback_record_t  r, d;

    /* the largest record: every field full */

    fill(&r);
    r.channel = NGX_OTP_WHATSAPP;
    memset(r.phone, '9', sizeof(r.phone));
    r.phone_len = sizeof(r.phone);
    memset(r.code, '1', sizeof(r.code));
    r.code_len = sizeof(r.code);
    memset(r.provider, 'p', sizeof(r.provider));
    r.provider_len = sizeof(r.provider);
    memset(r.locale, 'l', sizeof(r.locale));
    r.locale_len = sizeof(r.locale);
    memset(r.text, 't', sizeof(r.text));
    r.text_len = sizeof(r.text);
    r.expires = -1;

    is_int(ngx_otp_fallback_encode(&r, out, sizeof(out), &len), NGX_OTP_OK,
           "every field full encodes");
    ok(ngx_otp_fallback_decode(out, len, &d) == NGX_OTP_OK
       && memcmp(&d, &r, sizeof(r)) == 0, "and decodes to itself");

    r.text_len++;
    is_int(ngx_otp_fallback_encode(&r, out, sizeof(out), &len),
           NGX_OTP_ETOOBIG, "a text over its buffer is ETOOBIG");

    fill(&r);
    r.channel = 0;
    is_int(ngx_otp_fallback_encode(&r, out, sizeof(out), &len),
           NGX_OTP_EINVAL, "no channel is EINVAL");

    fill(&r);
    r.code_len = 0;
    is_int(ngx_otp_fallback_encode(&r, out, sizeof(out), &len),
           NGX_OTP_EINVAL, "no code is EINVAL");
}


static void
test_invalid(void)
{
    size_t                     i, n;
    u_char                     buf[256];
    ngx_otp_fallback_record_t  d;

    n = sizeof(known) - 1;

    /* every truncation, and one byte more */

    for (i = 0; i < n; i++) {
        if (ngx_otp_fallback_decode(known, i, &d) != NGX_OTP_EINVAL) {
            break;
        }
    }

    is_int(i, n, "every truncation is EINVAL");

    memcpy(buf, known, n);
    buf[n] = 'x';
    is_int(ngx_otp_fallback_decode(buf, n + 1, &d), NGX_OTP_EINVAL,
           "a byte more is EINVAL");
    ok(d.code_len == 0 && d.code[0] == 0, "and leaves no code behind");

    memcpy(buf, known, n);
    buf[0] = 2;
    is_int(ngx_otp_fallback_decode(buf, n, &d), NGX_OTP_EINVAL,
           "another version is EINVAL");

    memcpy(buf, known, n);
    buf[1] = 0x08;
    is_int(ngx_otp_fallback_decode(buf, n, &d), NGX_OTP_EINVAL,
           "an unknown channel is EINVAL");

    memcpy(buf, known, n);
    buf[2] = 17;    /* a phone longer than its buffer */
    is_int(ngx_otp_fallback_decode(buf, n, &d), NGX_OTP_EINVAL,
           "a phone over its buffer is EINVAL");

    memcpy(buf, known, n);
    buf[15] = 11;   /* a code longer than NGX_OTP_CODE_MAX_LEN */
    is_int(ngx_otp_fallback_decode(buf, n, &d), NGX_OTP_EINVAL,
           "a code over its buffer is EINVAL");

    memcpy(buf, known, n);
    buf[n - 20] = 0x14;    /* the text's length one more than there is */
    is_int(ngx_otp_fallback_decode(buf, n, &d), NGX_OTP_EINVAL,
           "a text length past the end is EINVAL");
}


int
main(void)
{
    test_known();
    test_limits();
    test_invalid();

    return tap_done();
}

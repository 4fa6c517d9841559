
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_phone.c: E.164 normalisation (API.md "Phone numbers") and the
 * mask that logs carry.
 */


#include "ngx_otp_core.h"
#include "tap.h"


#define CANARY  0xa5


typedef struct {
    const char  *in;
    size_t       len;            /* 0: strlen(in) */
    const char  *cc;             /* default country code or NULL */
    int          rc;
    const char  *out;
    const char  *why;
} normalize_case_t;


typedef struct {
    const char  *in;
    const char  *out;
} mask_case_t;


static const normalize_case_t  cases[] = {

    /* the cases API.md spells out */

    { "+1 (555) 123-4567", 0, NULL, NGX_OTP_OK, "+15551234567",
      "punctuation removed" },
    { "0044 20 7946 0958", 0, NULL, NGX_OTP_OK, "+442079460958",
      "leading 00 reads as +" },
    { "0712345678", 0, "254", NGX_OTP_OK, "+254712345678",
      "default cc after dropping the trunk 0" },
    { "712345678", 0, "254", NGX_OTP_OK, "+254712345678",
      "default cc, no trunk 0" },
    { "0712345678", 0, NULL, NGX_OTP_EINVAL, NULL,
      "no +, no 00, no default cc" },
    { "0712345678", 0, "", NGX_OTP_EINVAL, NULL,
      "empty default cc is none" },

    /* the other accepted shapes */

    { "+15551234567", 0, NULL, NGX_OTP_OK, "+15551234567",
      "already E.164" },
    { "+1.555.123.4567", 0, NULL, NGX_OTP_OK, "+15551234567", "dots" },
    { " +44 20 7946 0958 ", 0, NULL, NGX_OTP_OK, "+442079460958",
      "surrounding spaces" },
    { "(+44) 20 7946 0958", 0, NULL, NGX_OTP_OK, "+442079460958",
      "+ first after punctuation" },
    { "+15551234567", 0, "254", NGX_OTP_OK, "+15551234567",
      "+ wins over the default cc" },
    { "0044 20 7946 0958", 0, "254", NGX_OTP_OK, "+442079460958",
      "00 wins over the default cc" },
    { "+12345678", 0, NULL, NGX_OTP_OK, "+12345678", "8 digits: shortest" },
    { "+123456789012345", 0, NULL, NGX_OTP_OK, "+123456789012345",
      "15 digits: longest" },
    { "5551234567", 0, "1", NGX_OTP_OK, "+15551234567",
      "one-digit default cc" },

    /* refused */

    { "", 0, NULL, NGX_OTP_EINVAL, NULL, "empty" },
    { "", 0, "254", NGX_OTP_EINVAL, NULL, "empty with a default cc" },
    { "+", 0, NULL, NGX_OTP_EINVAL, NULL, "a lone +" },
    { "+0123456789", 0, NULL, NGX_OTP_EINVAL, NULL, "first digit 0" },
    { "000123456789", 0, NULL, NGX_OTP_EINVAL, NULL,
      "00 then a 0: first digit 0" },
    { "+1234567", 0, NULL, NGX_OTP_EINVAL, NULL, "7 digits" },
    { "+1234567890123456", 0, NULL, NGX_OTP_EINVAL, NULL, "16 digits" },
    { "0123456789012345", 0, "1", NGX_OTP_EINVAL, NULL,
      "16 digits with the default cc" },
    { "1+2345678901", 0, NULL, NGX_OTP_EINVAL, NULL, "+ not first" },
    { "++15551234567", 0, NULL, NGX_OTP_EINVAL, NULL, "two +" },
    { "+1555123456+7", 0, NULL, NGX_OTP_EINVAL, NULL, "+ at the end" },
    { "+1555CALLNOW", 0, NULL, NGX_OTP_EINVAL, NULL, "letters" },
    { "+1 555 123 4567 ext 9", 0, NULL, NGX_OTP_EINVAL, NULL,
      "extension" },
    { "+1\t555 123 4567", 0, NULL, NGX_OTP_EINVAL, NULL, "tab" },
    { "+1/555/1234567", 0, NULL, NGX_OTP_EINVAL, NULL, "slash" },
    { "+15551234567\0" "99", 15, NULL, NGX_OTP_EINVAL, NULL,
      "embedded NUL" },
    { "\0+15551234567", 13, NULL, NGX_OTP_EINVAL, NULL, "leading NUL" },
    { "\xef\xbc\x8b" "15551234567", 0, NULL, NGX_OTP_EINVAL, NULL,
      "fullwidth plus" },
    { "+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7\xd9\xa8",
      0, NULL, NGX_OTP_EINVAL, NULL, "Arabic-Indic digits" },
    { "0712345678", 0, "+254", NGX_OTP_EINVAL, NULL,
      "default cc with a +" },
    { "0712345678", 0, "2a4", NGX_OTP_EINVAL, NULL,
      "default cc not digits" },
    { "0712345678", 0, "0254", NGX_OTP_EINVAL, NULL,
      "default cc of 4 digits" },
    { "0712345678", 0, "054", NGX_OTP_EINVAL, NULL,
      "default cc starting with 0" },
};


static const mask_case_t  masks[] = {
    { "+15551234567", "+1******4567" },
    { "+12345678", "+1***5678" },
    { "+442079460958", "+4*******0958" },
    { "+123456789012345", "+1**********2345" },

    /* whatever is not E.164 shows nothing at all */

    { "15551234567", "+***" },
    { "+0123456789", "+***" },
    { "+1234567", "+***" },
    { "+1234567890123456", "+***" },
    { "+1555123456a", "+***" },
    { "+1 555 123 4567", "+***" },
    { "+", "+***" },
    { "", "+***" },
};


static void
test_normalize(void)
{
    u_char                   out[NGX_OTP_PHONE_MAX_LEN + 1];
    u_char                   again[NGX_OTP_PHONE_MAX_LEN + 1];
    size_t                   i, len, out_len, again_len, cc_len;
    int                      rc;
    const normalize_case_t  *c;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        len = c->len ? c->len : strlen(c->in);
        cc_len = c->cc ? strlen(c->cc) : 0;

        memset(out, CANARY, sizeof(out));
        out_len = 0;

        rc = ngx_otp_phone_normalize((u_char *) c->in, len,
                                     (u_char *) c->cc, cc_len, out,
                                     &out_len);

        is_int(rc, c->rc, "normalize: %s", c->why);

        if (c->rc == NGX_OTP_OK) {
            is_str(out, rc == NGX_OTP_OK ? out_len : 0, c->out,
                   "normalize: %s: result", c->why);

            /* the result is a fixed point */

            rc = ngx_otp_phone_normalize(out, out_len, NULL, 0, again,
                                         &again_len);
            ok(rc == NGX_OTP_OK && again_len == out_len
               && memcmp(again, out, out_len) == 0,
               "normalize: %s: normalising again changes nothing", c->why);
        }

        is_int(out[NGX_OTP_PHONE_MAX_LEN], CANARY,
               "normalize: %s: nothing written past %d bytes", c->why,
               NGX_OTP_PHONE_MAX_LEN);
    }
}


static void
test_mask(void)
{
    u_char              out[NGX_OTP_PHONE_MAX_LEN + 1];
    size_t              i, j, len, n, shown;
    const mask_case_t  *m;

    for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        m = &masks[i];
        len = strlen(m->in);

        memset(out, CANARY, sizeof(out));
        n = ngx_otp_phone_mask((u_char *) m->in, len, out);

        is_str(out, n, m->out, "mask \"%s\"", m->in);

        shown = 0;

        for (j = 0; j < n && j < sizeof(out); j++) {
            if (out[j] >= '0' && out[j] <= '9') {
                shown++;
            }
        }

        ok(shown <= 5, "mask \"%s\": %zu digits shown", m->in, shown);
        is_int(out[n > 4 ? n : 4], CANARY,
               "mask \"%s\": nothing written past the result", m->in);
    }

    /* every normalised number masks to its own length */

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].rc != NGX_OTP_OK) {
            continue;
        }

        len = strlen(cases[i].out);
        memset(out, CANARY, sizeof(out));
        n = ngx_otp_phone_mask((u_char *) cases[i].out, len, out);

        ok(n == len && out[0] == '+' && out[1] == cases[i].out[1]
           && memcmp(out + len - 4, cases[i].out + len - 4, 4) == 0
           && strspn((char *) out + 2, "*") == len - 6,
           "mask %s: + first digit, stars, last 4", cases[i].out);
    }
}


static void
test_input_limit(void)
{
    u_char  in[NGX_OTP_PHONE_INPUT_MAX + 1], out[NGX_OTP_PHONE_MAX_LEN];
    size_t  out_len;

    /* the limit is on raw input, before the padding is removed */

    memset(in, ' ', sizeof(in));
    memcpy(in, "+15551234567", 12);

    is_int(ngx_otp_phone_normalize(in, NGX_OTP_PHONE_INPUT_MAX, NULL, 0, out,
                                   &out_len),
           NGX_OTP_OK, "normalize: 64 bytes of input accepted");
    is_str(out, out_len, "+15551234567", "normalize: 64 bytes: result");

    is_int(ngx_otp_phone_normalize(in, NGX_OTP_PHONE_INPUT_MAX + 1, NULL, 0,
                                   out, &out_len),
           NGX_OTP_EINVAL, "normalize: 65 bytes of input refused");
}


int
main(void)
{
    test_normalize();
    test_input_limit();
    test_mask();

    return tap_done();
}

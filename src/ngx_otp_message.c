
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The text of a code message: a template with $code, $app and
 * $ttl_minutes filled in, and what that text costs as an SMS (GSM 03.38
 * or UCS-2, and how many segments).
 */


#include <string.h>

#include "ngx_otp_core.h"


#define NGX_OTP_UTF8_MAX            0x10ffff
#define NGX_OTP_UINT64_LEN          20      /* digits of 2^64 - 1 */


static const u_char *ngx_otp_message_var(const u_char *name, size_t len,
    const ngx_otp_message_vars_t *vars, u_char *tmp, size_t *value_len);
static int ngx_otp_message_name_char(u_char c);
static size_t ngx_otp_gsm7_septets(uint32_t cp);


/*
 * The GSM 03.38 default alphabet beyond ASCII, in Unicode; with the ASCII
 * it holds (all printable but '`' and the extension's "[\]^{|}~", and LF
 * and CR), 127 characters: code 0x1b is the escape, not a character.
 */

static const uint16_t  ngx_otp_gsm7_basic[] = {
    0x00a1, 0x00a3, 0x00a4, 0x00a5, 0x00a7, 0x00bf, 0x00c4, 0x00c5,
    0x00c6, 0x00c7, 0x00c9, 0x00d1, 0x00d6, 0x00d8, 0x00dc, 0x00df,
    0x00e0, 0x00e4, 0x00e5, 0x00e6, 0x00e8, 0x00e9, 0x00ec, 0x00f1,
    0x00f2, 0x00f6, 0x00f8, 0x00f9, 0x00fc,
    0x0393, 0x0394, 0x0398, 0x039b, 0x039e, 0x03a0, 0x03a3, 0x03a6,
    0x03a8, 0x03a9
};


int
ngx_otp_message_render(const u_char *tpl, size_t tpl_len,
    const ngx_otp_message_vars_t *vars, u_char *out, size_t out_cap,
    size_t *out_len)
{
    u_char         tmp[NGX_OTP_UINT64_LEN];
    size_t         i, j, n, start, end, value_len, braces;
    const u_char  *value;

    if (tpl == NULL) {
        tpl = (const u_char *) NGX_OTP_MESSAGE_DEFAULT_NO_APP;

        if (vars->app && vars->app_len) {
            tpl = (const u_char *) NGX_OTP_MESSAGE_DEFAULT;
        }

        tpl_len = strlen((const char *) tpl);
    }

    n = 0;
    i = 0;

    while (i < tpl_len) {

        value = &tpl[i];
        value_len = 1;
        end = i + 1;

        if (tpl[i] == '$' && i + 1 < tpl_len) {

            if (tpl[i + 1] == '$') {
                end = i + 2;

            } else {
                braces = (tpl[i + 1] == '{') ? 1 : 0;
                start = i + 1 + braces;

                for (j = start;
                     j < tpl_len && ngx_otp_message_name_char(tpl[j]);
                     j++)
                {
                    /* void */
                }

                if (braces && (j == tpl_len || tpl[j] != '}')) {
                    j = start;      /* "${" unclosed: not a name */
                }

                if (j > start) {
                    value = ngx_otp_message_var(&tpl[start], j - start,
                                                vars, tmp, &value_len);
                    if (value) {
                        end = j + braces;

                    } else {
                        value = &tpl[i];
                        value_len = 1;
                    }
                }
            }
        }

        if (value_len > out_cap - n) {
            return NGX_OTP_ETOOBIG;
        }

        if (value_len) {
            memcpy(out + n, value, value_len);
            n += value_len;
        }

        i = end;
    }

    *out_len = n;

    return NGX_OTP_OK;
}


/* the value of a name, or NULL for a name that is not one of ours */

int
ngx_otp_message_shows_code(const u_char *tpl, size_t tpl_len)
{
    int                      rc;
    size_t                   len, i;
    ngx_otp_message_vars_t   vars;
    u_char                   out[NGX_OTP_MESSAGE_MAX_LEN];

    /* NUL bytes: nginx's configuration parser has no way to write one */
    static const u_char      sentinel[] = "\0otp\0code\0";

    memset(&vars, 0, sizeof(ngx_otp_message_vars_t));
    vars.code = sentinel;
    vars.code_len = sizeof(sentinel) - 1;
    vars.ttl = 60;

    rc = ngx_otp_message_render(tpl, tpl_len, &vars, out, sizeof(out), &len);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    for (i = 0; i + vars.code_len <= len; i++) {
        if (memcmp(out + i, sentinel, vars.code_len) == 0) {
            return NGX_OTP_OK;
        }
    }

    return NGX_OTP_EINVAL;
}


static const u_char *
ngx_otp_message_var(const u_char *name, size_t len,
    const ngx_otp_message_vars_t *vars, u_char *tmp, size_t *value_len)
{
    u_char    *p;
    uint64_t   minutes;

    if (len == 4 && memcmp(name, "code", 4) == 0) {
        *value_len = vars->code_len;
        return vars->code_len ? vars->code : (const u_char *) "";
    }

    if (len == 3 && memcmp(name, "app", 3) == 0) {
        *value_len = vars->app ? vars->app_len : 0;
        return vars->app_len && vars->app ? vars->app : (const u_char *) "";
    }

    if (len == 11 && memcmp(name, "ttl_minutes", 11) == 0) {
        /* rounded up: "valid for 0 minutes" would be a lie */
        minutes = vars->ttl / 60 + (vars->ttl % 60 != 0);

        p = tmp + NGX_OTP_UINT64_LEN;

        do {
            *--p = (u_char) ('0' + minutes % 10);
            minutes /= 10;
        } while (minutes);

        *value_len = (size_t) (tmp + NGX_OTP_UINT64_LEN - p);
        return p;
    }

    return NULL;
}


static int
ngx_otp_message_name_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}


size_t
ngx_otp_utf8_decode(const u_char *p, size_t len, uint32_t *cp)
{
    size_t    i, n;
    uint32_t  c, min;

    if (len == 0) {
        return 0;
    }

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {
        /* a continuation byte, or the start of an overlong 2-byte form */
        return 0;
    }

    if (c < 0xe0) {
        n = 2;
        c &= 0x1f;
        min = 0x80;

    } else if (c < 0xf0) {
        n = 3;
        c &= 0x0f;
        min = 0x800;

    } else if (c < 0xf5) {
        n = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = c << 6 | (p[i] & 0x3f);
    }

    if (c < min || c > NGX_OTP_UTF8_MAX || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


int
ngx_otp_message_gsm7(const u_char *text, size_t len, size_t *septets)
{
    size_t    i, k, n, s;
    uint32_t  cp;

    n = 0;

    for (i = 0; i < len; i += k) {

        k = ngx_otp_utf8_decode(&text[i], len - i, &cp);
        if (k == 0) {
            return 0;
        }

        s = ngx_otp_gsm7_septets(cp);
        if (s == 0) {
            return 0;
        }

        n += s;
    }

    if (septets) {
        *septets = n;
    }

    return 1;
}


int
ngx_otp_message_segments(const u_char *text, size_t len,
    ngx_otp_sms_info_t *info)
{
    size_t    i, k, u, units, chars, single, part, used, segments;
    uint32_t  cp;
    int       gsm7;

    gsm7 = ngx_otp_message_gsm7(text, len, NULL);

    units = 0;
    chars = 0;

    for (i = 0; i < len; i += k) {

        k = ngx_otp_utf8_decode(&text[i], len - i, &cp);
        if (k == 0) {
            return NGX_OTP_EINVAL;
        }

        chars++;
        units += gsm7 ? ngx_otp_gsm7_septets(cp) : (cp > 0xffff ? 2 : 1);
    }

    single = gsm7 ? NGX_OTP_SMS_GSM7_SINGLE : NGX_OTP_SMS_UCS2_SINGLE;
    part = gsm7 ? NGX_OTP_SMS_GSM7_PART : NGX_OTP_SMS_UCS2_PART;

    if (units <= single) {
        segments = (units > 0);

    } else {
        /* a part ends early rather than split an escape or a pair */

        segments = 1;
        used = 0;

        for (i = 0; i < len; i += k) {
            k = ngx_otp_utf8_decode(&text[i], len - i, &cp);
            u = gsm7 ? ngx_otp_gsm7_septets(cp) : (cp > 0xffff ? 2 : 1);

            if (used + u > part) {
                segments++;
                used = 0;
            }

            used += u;
        }
    }

    info->encoding = gsm7 ? NGX_OTP_SMS_GSM7 : NGX_OTP_SMS_UCS2;
    info->chars = chars;
    info->units = units;
    info->segments = segments;

    return NGX_OTP_OK;
}


/* 1 for the default alphabet, 2 for the extension table, 0: not GSM */

static size_t
ngx_otp_gsm7_septets(uint32_t cp)
{
    size_t  i;

    if (cp < 0x80) {

        if (cp == '\n' || cp == '\r') {
            return 1;
        }

        if (cp == '\f') {
            return 2;
        }

        if (cp < 0x20 || cp == 0x7f || cp == '`') {
            return 0;
        }

        if (strchr("[\\]^{|}~", (int) cp) != NULL) {
            return 2;
        }

        return 1;
    }

    if (cp == 0x20ac) {                     /* the euro sign */
        return 2;
    }

    for (i = 0; i < sizeof(ngx_otp_gsm7_basic) / sizeof(uint16_t); i++) {
        if (ngx_otp_gsm7_basic[i] == cp) {
            return 1;
        }
    }

    return 0;
}

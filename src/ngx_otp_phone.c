
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Phone numbers: what a user types, turned into the one E.164 form that
 * store keys are derived from, and the masked form that logs may carry.
 */


#include <string.h>

#include "ngx_otp_core.h"


#define NGX_OTP_PHONE_CC_MAX_DIGITS   3     /* ITU-T E.164 country codes */
#define NGX_OTP_PHONE_MASK_SHOWN      4     /* trailing digits left clear */


static int ngx_otp_phone_is_e164(const u_char *phone, size_t len);


int
ngx_otp_phone_normalize(const u_char *in, size_t len,
    const u_char *default_cc, size_t default_cc_len, u_char *out,
    size_t *out_len)
{
    /* room for the longest cc and the longest national number and more */
    u_char   digits[NGX_OTP_PHONE_INPUT_MAX + NGX_OTP_PHONE_CC_MAX_DIGITS];
    u_char  *d;
    size_t   i, n, start;
    int      plus;

    if (len > NGX_OTP_PHONE_INPUT_MAX) {
        return NGX_OTP_EINVAL;
    }

    plus = 0;
    n = 0;

    for (i = 0; i < len; i++) {

        switch (in[i]) {

        case ' ':
        case '-':
        case '.':
        case '(':
        case ')':
            continue;

        case '+':
            /* only as the first character that is not punctuation */
            if (plus || n > 0) {
                return NGX_OTP_EINVAL;
            }

            plus = 1;
            continue;

        default:
            if (in[i] < '0' || in[i] > '9') {
                return NGX_OTP_EINVAL;
            }

            digits[n++] = in[i];
        }
    }

    start = 0;

    if (!plus) {

        if (n >= 2 && digits[0] == '0' && digits[1] == '0') {
            start = 2;

        } else {
            if (default_cc == NULL || default_cc_len == 0
                || default_cc_len > NGX_OTP_PHONE_CC_MAX_DIGITS
                || default_cc[0] == '0')
            {
                return NGX_OTP_EINVAL;
            }

            for (i = 0; i < default_cc_len; i++) {
                if (default_cc[i] < '0' || default_cc[i] > '9') {
                    return NGX_OTP_EINVAL;
                }
            }

            /* the national trunk prefix is not dialled after a cc */

            start = (n > 0 && digits[0] == '0') ? 1 : 0;

            memmove(digits + default_cc_len, digits + start, n - start);
            memcpy(digits, default_cc, default_cc_len);

            n = n - start + default_cc_len;
            start = 0;
        }
    }

    n -= start;

    if (n < NGX_OTP_PHONE_MIN_DIGITS || n > NGX_OTP_PHONE_MAX_DIGITS
        || digits[start] == '0')
    {
        return NGX_OTP_EINVAL;
    }

    d = out;
    *d++ = '+';
    memcpy(d, digits + start, n);

    *out_len = 1 + n;

    return NGX_OTP_OK;
}


size_t
ngx_otp_phone_mask(const u_char *phone, size_t len, u_char *out)
{
    size_t  i;

    /* the same mask whatever the input, so that nothing of it leaks */

    if (!ngx_otp_phone_is_e164(phone, len)) {
        memcpy(out, "+***", 4);
        return 4;
    }

    /* with 8 digits at least, 3 at least stay hidden */

    out[0] = '+';
    out[1] = phone[1];

    for (i = 2; i < len - NGX_OTP_PHONE_MASK_SHOWN; i++) {
        out[i] = '*';
    }

    memcpy(out + i, phone + i, NGX_OTP_PHONE_MASK_SHOWN);

    return len;
}


static int
ngx_otp_phone_is_e164(const u_char *phone, size_t len)
{
    size_t  i;

    if (len < 1 + NGX_OTP_PHONE_MIN_DIGITS || len > NGX_OTP_PHONE_MAX_LEN
        || phone[0] != '+' || phone[1] == '0')
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (phone[i] < '0' || phone[i] > '9') {
            return 0;
        }
    }

    return 1;
}

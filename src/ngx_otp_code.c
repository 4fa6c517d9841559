
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * One-time codes: uniform decimal digits from the CSPRNG, and the format
 * check a submitted code must pass before it is hashed.
 */


#include <openssl/rand.h>

#include "ngx_otp_core.h"


/*
 * 250 is the largest multiple of 10 that fits in a byte: taking byte % 10
 * of bytes below it gives each digit exactly 25 chances in 256, whereas
 * accepting 250-255 too would favour the digits 0-5.
 */
#define NGX_OTP_CODE_BYTE_LIMIT    250

/*
 * A working CSPRNG rejects 6 bytes in 256, so a code needs more than a
 * couple of rounds only by bad luck; a thousand rounds means the source is
 * broken (or stuck), and looping on it forever would hang the worker.
 */
#define NGX_OTP_CODE_MAX_ROUNDS    1000


static int ngx_otp_code_rand_bytes(u_char *buf, size_t n);


int
ngx_otp_code_generate(u_char *out, size_t len, ngx_otp_rand_pt rand)
{
    u_char    buf[NGX_OTP_CODE_MAX_LEN];
    size_t    filled, need, i;
    unsigned  round;

    if (len < NGX_OTP_CODE_MIN_LEN || len > NGX_OTP_CODE_MAX_LEN) {
        return NGX_OTP_EINVAL;
    }

    if (rand == NULL) {
        rand = ngx_otp_code_rand_bytes;
    }

    filled = 0;

    for (round = 0; filled < len; round++) {

        if (round == NGX_OTP_CODE_MAX_ROUNDS) {
            return NGX_OTP_ERROR;
        }

        /*
         * Asking for exactly the digits still missing consumes no byte
         * that is then thrown away, so an injected source sees the same
         * sequence of requests whatever it returns.
         */

        need = len - filled;

        if (rand(buf, need) != NGX_OTP_OK) {
            return NGX_OTP_ERROR;
        }

        for (i = 0; i < need; i++) {
            if (buf[i] < NGX_OTP_CODE_BYTE_LIMIT) {
                out[filled++] = (u_char) ('0' + buf[i] % 10);
            }
        }
    }

    return NGX_OTP_OK;
}


int
ngx_otp_code_check_format(const u_char *code, size_t code_len, size_t len)
{
    size_t  i;

    if (len < NGX_OTP_CODE_MIN_LEN || len > NGX_OTP_CODE_MAX_LEN
        || code_len != len)
    {
        return NGX_OTP_EINVAL;
    }

    for (i = 0; i < len; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return NGX_OTP_EINVAL;
        }
    }

    return NGX_OTP_OK;
}


static int
ngx_otp_code_rand_bytes(u_char *buf, size_t n)
{
    return RAND_bytes(buf, (int) n) == 1 ? NGX_OTP_OK : NGX_OTP_ERROR;
}

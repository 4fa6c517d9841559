
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_twilio_validate() and ngx_otp_twilio_sign().  The input
 * is the URL, a '\n', and the body (no '\n': all of it the URL).
 *
 * Invariants: a signature that was not computed never passes; what sign
 * refuses validate refuses (the same way, or for its URL); a signature
 * sign made is 28 base64 characters and passes validate, unless validate
 * cannot read the URL (EINVAL) or the URL's bodySHA256 (possibly
 * percent-encoded) does not match the body (ESIG); one character changed,
 * it fails; the pairs of the body in reverse order sign the same (the
 * parameters are sorted).
 */


#define _GNU_SOURCE                  /* memmem() */

#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define TOKEN  "12345"


static int
sign(const u_char *url, size_t url_len, const u_char *body, size_t body_len,
    u_char out[28])
{
    return ngx_otp_twilio_sign((const u_char *) TOKEN, 5, url, url_len,
                               body, body_len, out);
}


static int
validate(const u_char *url, size_t url_len, const u_char *body,
    size_t body_len, const u_char *sig, size_t sig_len)
{
    return ngx_otp_twilio_validate((const u_char *) TOKEN, 5, url, url_len,
                                   body, body_len, sig, sig_len);
}


/* "a&b&c" -> "c&b&a" */

static void
reverse_pairs(const u_char *body, size_t len, u_char *out)
{
    size_t         n;
    const u_char  *end, *p;

    end = body + len;
    n = 0;

    while (end > body) {
        p = end;

        while (p > body && p[-1] != '&') {
            p--;
        }

        memcpy(out + n, p, (size_t) (end - p));
        n += (size_t) (end - p);

        if (p > body) {
            out[n++] = '&';
            end = p - 1;

        } else {
            end = body;
        }
    }

    fuzz_check(n == len);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, rc_v, rc_r;
    size_t         url_len, body_len, i;
    u_char         c, sig[28], sig_r[28], *rev;
    const u_char  *url, *body, *nl;

    nl = memchr(data, '\n', size);

    url = data;
    url_len = nl ? (size_t) (nl - data) : size;
    body = nl ? nl + 1 : data + size;
    body_len = nl ? size - url_len - 1 : 0;

    rc_v = validate(url, url_len, body, body_len,
                    (const u_char *) "0000000000000000000000000000", 28);

    fuzz_check(rc_v == NGX_OTP_ESIG || rc_v == NGX_OTP_EINVAL
               || rc_v == NGX_OTP_ETOOBIG || rc_v == NGX_OTP_ERROR);

    rc = sign(url, url_len, body, body_len, sig);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL
               || rc == NGX_OTP_ETOOBIG || rc == NGX_OTP_ERROR);

    /* validate reads the URL's authority first: it may refuse it first */

    if (rc != NGX_OTP_OK) {
        fuzz_check(rc_v == rc || rc_v == NGX_OTP_EINVAL);
        return 0;
    }

    for (i = 0; i < 27; i++) {
        fuzz_check((sig[i] >= 'A' && sig[i] <= 'Z')
                   || (sig[i] >= 'a' && sig[i] <= 'z')
                   || (sig[i] >= '0' && sig[i] <= '9')
                   || sig[i] == '+' || sig[i] == '/');
    }

    fuzz_check(sig[27] == '=');

    rc_v = validate(url, url_len, body, body_len, sig, 28);

    fuzz_check(rc_v == NGX_OTP_OK || rc_v == NGX_OTP_EINVAL
               || rc_v == NGX_OTP_ESIG);

    if (rc_v == NGX_OTP_ESIG) {
        fuzz_check(memchr(url, '%', url_len) != NULL
                   || (url_len >= 10
                       && memmem(url, url_len, "bodySHA256", 10) != NULL));
    }

    if (rc_v == NGX_OTP_OK) {
        c = sig[5];
        sig[5] = (c == 'A') ? 'B' : 'A';
        fuzz_check(validate(url, url_len, body, body_len, sig, 28)
                   == NGX_OTP_ESIG);
        sig[5] = c;
    }

    /* the order of the pairs does not matter */

    rev = malloc(body_len ? body_len : 1);
    fuzz_check(rev != NULL);

    reverse_pairs(body, body_len, rev);

    rc_r = sign(url, url_len, rev, body_len, sig_r);
    fuzz_check(rc_r == NGX_OTP_OK);
    fuzz_check(memcmp(sig, sig_r, 28) == 0);

    free(rev);

    return 0;
}

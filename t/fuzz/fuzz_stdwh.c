
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_stdwh_validate().  The input is split on its first three
 * '\n' into webhook-id, webhook-timestamp, webhook-signature and the body
 * (parts missing are empty); the secret is the Standard Webhooks vector's,
 * now its timestamp, the tolerance 300 s.
 *
 * Invariants, against a signature computed here independently (OpenSSL's
 * HMAC() and EVP_EncodeBlock()): EINVAL exactly when the id or timestamp
 * cannot be read; otherwise ESIG exactly when no space-separated entry of
 * the header is "v1," and that signature, and then EEXPIRED exactly when
 * the timestamp is over 300 s from now.  Adding the right signature to
 * the header always passes (OK or EEXPIRED); the secret without its
 * "whsec_" prefix answers the same.
 */


#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define NOW        1614265330
#define TOLERANCE  300


static const char  secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";


static const u_char *
part(const u_char **p, const u_char *end, size_t *len)
{
    const u_char  *start, *nl;

    start = *p;
    nl = memchr(start, '\n', (size_t) (end - start));

    if (nl == NULL) {
        *len = (size_t) (end - start);
        *p = end;

    } else {
        *len = (size_t) (nl - start);
        *p = nl + 1;
    }

    return start;
}


static int
validate(const char *key, const u_char *id, size_t id_len,
    const u_char *ts, size_t ts_len, const u_char *sigs, size_t sigs_len,
    const u_char *body, size_t body_len)
{
    return ngx_otp_stdwh_validate((const u_char *) key, strlen(key),
                                  id, id_len, ts, ts_len, sigs, sigs_len,
                                  body, body_len, NOW, TOLERANCE);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, rc2, readable, match;
    size_t         id_len, ts_len, sigs_len, body_len, i, n, tok_len;
    u_char         key[64], mac[EVP_MAX_MD_SIZE], expected[3 + 64];
    u_char        *content, *sigs2;
    int64_t        t;
    unsigned int   mac_len;
    const u_char  *p, *end, *id, *ts, *sigs, *body, *tok;

    p = data;
    end = data + size;

    id = part(&p, end, &id_len);
    ts = part(&p, end, &ts_len);
    sigs = part(&p, end, &sigs_len);
    body = p;
    body_len = (size_t) (end - p);

    rc = validate(secret, id, id_len, ts, ts_len, sigs, sigs_len, body,
                  body_len);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_ESIG
               || rc == NGX_OTP_EEXPIRED || rc == NGX_OTP_EINVAL);

    fuzz_check(validate(secret + 6, id, id_len, ts, ts_len, sigs, sigs_len,
                        body, body_len)
               == rc);

    /* readable: an id of printable ASCII without '.', digits for ts */

    readable = id_len >= 1 && id_len <= 256 && ts_len >= 1 && ts_len <= 18;

    for (i = 0; readable && i < id_len; i++) {
        readable = id[i] >= '!' && id[i] <= '~' && id[i] != '.';
    }

    t = 0;

    for (i = 0; readable && i < ts_len; i++) {
        readable = ts[i] >= '0' && ts[i] <= '9';
        t = t * 10 + (ts[i] - '0');
    }

    fuzz_check((rc == NGX_OTP_EINVAL) == !readable);

    if (!readable) {
        return 0;
    }

    /* the signature, computed here */

    n = (size_t) EVP_DecodeBlock(key, (const u_char *) secret + 6, 32);
    fuzz_check(n == 24);

    content = malloc(id_len + ts_len + body_len + 2);
    fuzz_check(content != NULL);

    memcpy(content, id, id_len);
    content[id_len] = '.';
    memcpy(content + id_len + 1, ts, ts_len);
    content[id_len + 1 + ts_len] = '.';

    if (body_len) {
        memcpy(content + id_len + ts_len + 2, body, body_len);
    }

    fuzz_check(HMAC(EVP_sha256(), key, 24, content,
                    id_len + ts_len + body_len + 2, mac, &mac_len)
               != NULL);
    free(content);

    memcpy(expected, "v1,", 3);
    n = 3 + (size_t) EVP_EncodeBlock(expected + 3, mac, (int) mac_len);

    match = 0;

    for (p = sigs, end = sigs + sigs_len; p < end; p += tok_len + 1) {
        tok = p;
        tok_len = 0;

        while (p + tok_len < end && p[tok_len] != ' ') {
            tok_len++;
        }

        if (tok_len == n && memcmp(tok, expected, n) == 0) {
            match = 1;
        }
    }

    fuzz_check((rc == NGX_OTP_ESIG) == !match);

    if (match) {
        fuzz_check((rc == NGX_OTP_EEXPIRED)
                   == (t > NOW + TOLERANCE || t < NOW - TOLERANCE));
    }

    /* with the right signature added it passes */

    sigs2 = malloc(sigs_len + 1 + n);
    fuzz_check(sigs2 != NULL);

    if (sigs_len) {
        memcpy(sigs2, sigs, sigs_len);
    }

    sigs2[sigs_len] = ' ';
    memcpy(sigs2 + sigs_len + 1, expected, n);

    rc2 = validate(secret, id, id_len, ts, ts_len, sigs2, sigs_len + 1 + n,
                   body, body_len);

    fuzz_check(rc2 == ((t > NOW + TOLERANCE || t < NOW - TOLERANCE)
                       ? NGX_OTP_EEXPIRED : NGX_OTP_OK));

    free(sigs2);

    return 0;
}

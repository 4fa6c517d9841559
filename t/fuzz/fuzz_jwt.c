
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_jwt_verify() and ngx_otp_jwt_issue().  The input is first
 * verified as a token against two fixed keys, then read as the claims of
 * a token to issue (see check_issue() for the layout).
 *
 * Invariants: verify returns only the documented codes, ETOOBIG for
 * anything over NGX_OTP_JWT_MAX_LEN, and accepts nothing whose signature
 * is not the HMAC of its first two parts under one of the keys; every
 * token issue() writes verifies with its own sub, fails on the wrong iss,
 * expires at exp, and stops verifying when any one byte of it changes or
 * its last one is cut.
 */


#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define KEY1      "fuzz-key-1-0123456789abcdef0123"
#define KEY2      "fuzz-key-2-0123456789abcdef0123"
#define KEY_LEN   (sizeof(KEY1) - 1)
#define NOW       1700000000
#define SUB_CAP   64


static const ngx_otp_jwt_key_t  keys[] = {
    { (const u_char *) "k1", 2, (const u_char *) KEY1, KEY_LEN },
    { (const u_char *) "k2", 2, (const u_char *) KEY2, KEY_LEN }
};


static int
verify(const u_char *token, size_t len, int64_t now, const char *iss,
    size_t iss_len, const u_char *sub, size_t sub_len)
{
    int      rc;
    u_char  *buf;
    size_t   n;

    /* with sub known, the buffer is exactly its size */

    buf = malloc(sub ? sub_len : SUB_CAP);
    fuzz_check(buf != NULL);

    rc = ngx_otp_jwt_verify(token, len, keys, 2, now, 0,
                            (const u_char *) iss, iss_len, NULL, 0, buf,
                            sub ? sub_len : SUB_CAP, &n);

    if (rc == NGX_OTP_OK) {
        fuzz_check(n > 0 && n <= (sub ? sub_len : SUB_CAP));
        fuzz_check(memchr(buf, '\0', n) == NULL);

        if (sub) {
            fuzz_check(n == sub_len && memcmp(buf, sub, n) == 0);
        }
    }

    free(buf);

    return rc;
}


/* an accepted token carries the HMAC of its first two parts */

static void
check_signed(const u_char *token, size_t len)
{
    u_char         sig[64];
    size_t         sig_len, i;
    const u_char  *dot;

    dot = NULL;

    for (i = 0; i < len; i++) {
        if (token[i] == '.') {
            dot = token + i;
        }
    }

    fuzz_check(dot != NULL);

    for (i = 0; i < 2; i++) {
        fuzz_check(ngx_otp_jwt_sign_input(keys[i].key, keys[i].key_len,
                                          token, (size_t) (dot - token),
                                          sig, sizeof(sig), &sig_len)
                   == NGX_OTP_OK);

        if (sig_len == (size_t) (token + len - dot - 1)
            && memcmp(sig, dot + 1, sig_len) == 0)
        {
            return;
        }
    }

    fuzz_check(0 && "accepted token not signed with either key");
}


static void
check_verify(const uint8_t *data, size_t size)
{
    int  rc;

    rc = verify(data, size, NOW, "otp", 3, NULL, 0);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL
               || rc == NGX_OTP_ETOOBIG || rc == NGX_OTP_ESIG
               || rc == NGX_OTP_EEXPIRED || rc == NGX_OTP_ECLAIM);

    if (size > NGX_OTP_JWT_MAX_LEN) {
        fuzz_check(rc == NGX_OTP_ETOOBIG);
    }

    if (rc == NGX_OTP_OK) {
        check_signed(data, size);

        /* asking for less cannot make a good token bad */

        fuzz_check(verify(data, size, NOW, NULL, 0, NULL, 0) == NGX_OTP_OK);
    }
}


/* what jansson takes for a JSON string: no NUL, valid UTF-8 */

static int
json_ok(const u_char *s, size_t len)
{
    json_t  *v;

    if (memchr(s, '\0', len) != NULL) {
        return 0;
    }

    v = json_stringn((const char *) s, len);
    if (v == NULL) {
        return 0;
    }

    json_decref(v);

    return 1;
}


/*
 * An upper bound on the claims' JSON: each string escaped at worst, plus
 * the names, numbers and punctuation (under 100 bytes).  Base64url of
 * JSON_FITS bytes, the header (under 64 bytes encoded), two dots and a
 * signature fit in NGX_OTP_JWT_MAX_LEN.
 */

#define JSON_FITS  ((NGX_OTP_JWT_MAX_LEN - 64 - 2 - 43) / 4 * 3)

static size_t
json_size(const u_char **strs, const size_t *lens)
{
    size_t  i, j, n;

    n = 100;

    for (i = 0; i < 4; i++) {
        for (j = 0; j < lens[i]; j++) {
            n += (strs[i][j] < 0x20) ? 6
                 : (strs[i][j] == '"' || strs[i][j] == '\\') ? 2 : 1;
        }
    }

    return n;
}


/*
 * Layout: flags, then the lengths of sub, jti, iss and aud, then two bytes
 * of lifetime and one of age, then the strings one after the other.  Flag
 * bits 0-1: no kid (first key), "k1", "k2", or an unknown "k3".
 */

static void
check_issue(const uint8_t *data, size_t size)
{
    int                   rc, valid;
    u_char               *out, *copy, other[32];
    size_t                i, len, lens[4];
    const u_char         *strs[4], *key, *p;
    ngx_otp_jwt_claims_t  c;

    if (size < 8) {
        return;
    }

    lens[0] = data[1] % 48;
    lens[1] = data[2] % 40;
    lens[2] = data[3] % 24;
    lens[3] = data[4] % 24;

    p = data + 8;
    valid = 1;

    for (i = 0; i < 4; i++) {
        if (lens[i] > (size_t) (data + size - p)) {
            lens[i] = (size_t) (data + size - p);
        }

        strs[i] = p;
        p += lens[i];

        if (!json_ok(strs[i], lens[i])) {
            valid = 0;
        }
    }

    memset(&c, 0, sizeof(c));
    c.sub = strs[0];
    c.sub_len = lens[0];
    c.jti = strs[1];
    c.jti_len = lens[1];
    c.iss = strs[2];
    c.iss_len = lens[2];
    c.aud = strs[3];
    c.aud_len = lens[3];
    c.iat = NOW - data[7];
    c.exp = NOW + 1 + (data[5] | data[6] << 8);

    key = keys[0].key;

    switch (data[0] & 3) {

    case 1:
        c.kid = keys[0].kid;
        c.kid_len = keys[0].kid_len;
        break;

    case 2:
        c.kid = keys[1].kid;
        c.kid_len = keys[1].kid_len;
        key = keys[1].key;
        break;

    case 3:
        c.kid = (const u_char *) "k3";
        c.kid_len = 2;
        key = keys[1].key;
        break;
    }

    out = malloc(NGX_OTP_JWT_MAX_LEN);
    fuzz_check(out != NULL);

    rc = ngx_otp_jwt_issue(&c, key, KEY_LEN, out, NGX_OTP_JWT_MAX_LEN, &len);

    if (c.sub_len == 0 || !valid) {
        fuzz_check(rc == NGX_OTP_EINVAL);
        free(out);
        return;
    }

    /*
     * Too long only when JSON escapes (\u0013 for one byte) swell the
     * claims: strings of at most 136 bytes fit otherwise.
     */

    if (rc == NGX_OTP_ETOOBIG) {
        fuzz_check(json_size(strs, lens) > JSON_FITS);
        free(out);
        return;
    }

    fuzz_check(rc == NGX_OTP_OK);
    fuzz_check(len <= NGX_OTP_JWT_MAX_LEN);

    /* a copy of exactly len bytes: verify may not read past it */

    copy = malloc(len);
    fuzz_check(copy != NULL);
    memcpy(copy, out, len);
    free(out);

    if ((data[0] & 3) == 3) {
        fuzz_check(verify(copy, len, NOW, NULL, 0, NULL, 0)
                   == NGX_OTP_ECLAIM);
        free(copy);
        return;
    }

    fuzz_check(verify(copy, len, NOW, (const char *) c.iss, c.iss_len,
                      c.sub, c.sub_len)
               == NGX_OTP_OK);

    /* another iss: the token's own one byte longer */

    memcpy(other, c.iss, c.iss_len);
    other[c.iss_len] = 'x';

    fuzz_check(verify(copy, len, NOW, (const char *) other, c.iss_len + 1,
                      NULL, 0)
               == NGX_OTP_ECLAIM);

    fuzz_check(verify(copy, len, c.exp, NULL, 0, NULL, 0)
               == NGX_OTP_EEXPIRED);

    fuzz_check(verify(copy, len - 1, NOW, NULL, 0, NULL, 0) != NGX_OTP_OK);

    i = (size_t) (data[5] ^ data[6] << 8 ^ data[7] << 3) % len;
    copy[i] ^= (u_char) (1 + data[1] % 255);

    fuzz_check(verify(copy, len, NOW, NULL, 0, NULL, 0) != NGX_OTP_OK);

    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_verify(data, size);
    check_issue(data, size);

    return 0;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_jwt.c: the RFC 7515 A.1 signature, the exact token issue()
 * writes, and every reason verify() refuses one.
 */


#include <stdio.h>

#include "ngx_otp_core.h"
#include "tap.h"


/*
 * RFC 7515 appendix A.1, as copied into /work/shared/test-vectors.json
 * ("jwt_hs256"): the key (JWK "k"), the JWS signing input and the
 * signature.  RFC_KEY_BYTES is the same key as the RFC lists it.
 */

#define RFC_KEY_B64                                                          \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h"  \
    "cgUuTwjAzZr1Z9CAow"

#define RFC_SIGNING_INPUT                                                    \
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"                               \
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl" \
    "LmNvbS9pc19yb290Ijp0cnVlfQ"

#define RFC_SIGNATURE  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

/* the RFC's claims: {"iss":"joe", "exp":1300819380, ...}; no "sub" */
#define RFC_EXP        1300819380

static const u_char  rfc_key_bytes[] = {
    3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166, 143,
    90, 179, 40, 230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80, 46, 191,
    211, 251, 90, 146, 210, 6, 71, 239, 150, 138, 180, 195, 119, 98, 61, 34,
    61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103, 208, 128, 163
};


#define KEY_A      "key-a-0123456789abcdef0123456789"
#define KEY_B      "key-b-0123456789abcdef0123456789"
#define KEY_LEN    32
#define NOW        1700000000

#define S(s)       (const u_char *) (s), sizeof(s) - 1


static ngx_otp_jwt_key_t  key_a[] = {
    { NULL, 0, (const u_char *) KEY_A, KEY_LEN }
};

static ngx_otp_jwt_key_t  two_keys[] = {
    { (const u_char *) "old", 3, (const u_char *) KEY_A, KEY_LEN },
    { (const u_char *) "new", 3, (const u_char *) KEY_B, KEY_LEN }
};


static u_char  sub[64];
static size_t  sub_len;


static int
verify(const char *token, const ngx_otp_jwt_key_t *keys, size_t nkeys,
    int64_t now, const char *iss, const char *aud)
{
    sub_len = 0;

    return ngx_otp_jwt_verify((const u_char *) token, strlen(token), keys,
                              nkeys, now, 0, (const u_char *) iss,
                              iss ? strlen(iss) : 0, (const u_char *) aud,
                              aud ? strlen(aud) : 0, sub, sizeof(sub),
                              &sub_len);
}


/*
 * A token with any header and claims, correctly signed: what an attacker
 * holding the key could not do, and what isolates one check at a time.
 */

static const char *
craft(const char *header, const char *claims, const char *key)
{
    u_char         *p;
    size_t          sig_len;
    static u_char   token[2048];

    p = token;
    p += ngx_otp_base64url_encode(p, (u_char *) header, strlen(header));
    *p++ = '.';
    p += ngx_otp_base64url_encode(p, (u_char *) claims, strlen(claims));

    if (ngx_otp_jwt_sign_input((u_char *) key, strlen(key), token,
                               (size_t) (p - token), p + 1, 64, &sig_len)
        != NGX_OTP_OK)
    {
        return "";
    }

    *p++ = '.';
    p[sig_len] = '\0';

    return (const char *) token;
}


#define HS256      "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS     "{\"sub\":\"+15551234567\",\"exp\":1700000100}"


static void
test_rfc7515(void)
{
    u_char                   key[64], sig[64];
    size_t                   key_len, sig_len;
    char                     token[256];
    ngx_otp_jwt_key_t        k;

    is_int(ngx_otp_base64url_decode(key, sizeof(key), &key_len,
                                    S(RFC_KEY_B64)),
           NGX_OTP_OK, "RFC 7515 A.1: key decodes");
    is_mem(key, key_len, rfc_key_bytes, sizeof(rfc_key_bytes),
           "RFC 7515 A.1: key is the RFC's 64 octets");

    is_int(ngx_otp_jwt_sign_input(key, key_len, S(RFC_SIGNING_INPUT), sig,
                                  sizeof(sig), &sig_len),
           NGX_OTP_OK, "RFC 7515 A.1: signed");
    is_str(sig, sig_len, RFC_SIGNATURE, "RFC 7515 A.1: signature");

    is_int(ngx_otp_jwt_sign_input(key, key_len, S(RFC_SIGNING_INPUT), sig,
                                  42, &sig_len),
           NGX_OTP_ETOOBIG, "sign_input: 42 bytes cannot hold 43");

    /*
     * The RFC's whole token: its signature is accepted, then it fails on
     * what it lacks (a "sub") or carries (its "exp", its "iss").
     */

    k.kid = NULL;
    k.kid_len = 0;
    k.key = rfc_key_bytes;
    k.key_len = sizeof(rfc_key_bytes);

    snprintf(token, sizeof(token), "%s.%s", RFC_SIGNING_INPUT,
             RFC_SIGNATURE);

    is_int(verify(token, &k, 1, RFC_EXP - 1, "joe", NULL), NGX_OTP_EINVAL,
           "RFC token: valid signature, but no sub");
    is_int(verify(token, &k, 1, RFC_EXP, NULL, NULL), NGX_OTP_EEXPIRED,
           "RFC token: expired at exp");
    is_int(verify(token, &k, 1, RFC_EXP - 1, "bob", NULL), NGX_OTP_ECLAIM,
           "RFC token: iss mismatch");
    is_int(verify(token, key_a, 1, RFC_EXP - 1, NULL, NULL), NGX_OTP_ESIG,
           "RFC token: another key");

    /* the last character carries 2 bits and 4 unused ones */

    token[strlen(token) - 1] = 'o';
    is_int(verify(token, &k, 1, RFC_EXP - 1, NULL, NULL), NGX_OTP_ESIG,
           "RFC token: signature altered");

    token[strlen(token) - 1] = 'l';
    is_int(verify(token, &k, 1, RFC_EXP - 1, NULL, NULL), NGX_OTP_EINVAL,
           "RFC token: non-canonical signature encoding refused");
}


static void
test_issue(void)
{
    int                   rc;
    u_char                token[NGX_OTP_JWT_MAX_LEN];
    u_char                part[NGX_OTP_JWT_MAX_LEN], sig[64];
    size_t                len, part_len, sig_len;
    const u_char         *dot1, *dot2;
    ngx_otp_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.sub = (u_char *) "+15551234567";
    c.sub_len = 12;
    c.jti = (u_char *) "tok_1";
    c.jti_len = 5;
    c.iss = (u_char *) "otp";
    c.iss_len = 3;
    c.aud = (u_char *) "app";
    c.aud_len = 3;
    c.kid = (u_char *) "new";
    c.kid_len = 3;
    c.iat = NOW;
    c.exp = NOW + 300;

    rc = ngx_otp_jwt_issue(&c, (u_char *) KEY_B, KEY_LEN, token,
                           sizeof(token), &len);
    is_int(rc, NGX_OTP_OK, "issue");

    if (rc != NGX_OTP_OK) {
        return;
    }

    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token))
                : NULL;
    ok(dot1 && dot2 && !memchr(dot2 + 1, '.', token + len - dot2 - 1),
       "issue: three parts");

    if (dot1 == NULL || dot2 == NULL) {
        return;
    }

    /* the exact JSON: member order and compact form are the format */

    ngx_otp_base64url_decode(part, sizeof(part), &part_len, token,
                             (size_t) (dot1 - token));
    is_str(part, part_len,
           "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"new\"}",
           "issue: header");

    ngx_otp_base64url_decode(part, sizeof(part), &part_len, dot1 + 1,
                             (size_t) (dot2 - dot1 - 1));
    is_str(part, part_len,
           "{\"sub\":\"+15551234567\",\"iat\":1700000000,\"exp\":1700000300,"
           "\"jti\":\"tok_1\",\"iss\":\"otp\",\"aud\":\"app\"}",
           "issue: claims");

    ngx_otp_jwt_sign_input((u_char *) KEY_B, KEY_LEN, token,
                           (size_t) (dot2 - token), sig, sizeof(sig),
                           &sig_len);
    is_mem(dot2 + 1, (size_t) (token + len - dot2 - 1), sig, sig_len,
           "issue: signature is sign_input over header.claims");

    /* round trip */

    token[len] = '\0';

    is_int(verify((char *) token, two_keys, 2, NOW + 299, "otp", "app"),
           NGX_OTP_OK, "verify: issued token");
    is_str(sub, sub_len, "+15551234567", "verify: sub copied");

    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_OK,
           "verify: iss and aud not required");

    /* expiry: exp > now, with leeway */

    is_int(verify((char *) token, two_keys, 2, NOW + 300, NULL, NULL),
           NGX_OTP_EEXPIRED, "verify: expired at exp");
    is_int(verify((char *) token, two_keys, 2, NOW + 10000, NULL, NULL),
           NGX_OTP_EEXPIRED, "verify: expired long ago");
    is_int(ngx_otp_jwt_verify(token, len, two_keys, 2, NOW + 309, 10, NULL,
                              0, NULL, 0, sub, sizeof(sub), &sub_len),
           NGX_OTP_OK, "verify: leeway of 10 s at exp + 9");
    is_int(ngx_otp_jwt_verify(token, len, two_keys, 2, NOW + 310, 10, NULL,
                              0, NULL, 0, sub, sizeof(sub), &sub_len),
           NGX_OTP_EEXPIRED, "verify: leeway of 10 s at exp + 10");
    is_int(ngx_otp_jwt_verify(token, len, two_keys, 2, NOW + 300, -5, NULL,
                              0, NULL, 0, sub, sizeof(sub), &sub_len),
           NGX_OTP_EEXPIRED, "verify: negative leeway counts as none");

    /* claims */

    is_int(verify((char *) token, two_keys, 2, NOW, "other", NULL),
           NGX_OTP_ECLAIM, "verify: iss mismatch");
    is_int(verify((char *) token, two_keys, 2, NOW, "ot", NULL),
           NGX_OTP_ECLAIM, "verify: iss prefix is a mismatch");
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, "other"),
           NGX_OTP_ECLAIM, "verify: aud mismatch");
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, "apps"),
           NGX_OTP_ECLAIM, "verify: aud longer is a mismatch");

    /* keys */

    is_int(verify((char *) token, key_a, 1, NOW, NULL, NULL), NGX_OTP_ECLAIM,
           "verify: kid \"new\" unknown to a key set without it");
    is_int(verify((char *) token, two_keys, 1, NOW, NULL, NULL),
           NGX_OTP_ECLAIM, "verify: kid of a key not in the first nkeys");

    ok(ngx_otp_jwt_verify(token, len, two_keys, 2, NOW, 0, NULL, 0, NULL, 0,
                          sub, 11, &sub_len) == NGX_OTP_ETOOBIG,
       "verify: sub longer than sub_cap");

    /* tampering */

    token[(dot2 - token) - 2] ^= 0x01;
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL),
           NGX_OTP_ESIG, "verify: claims altered by one bit");
    token[(dot2 - token) - 2] ^= 0x01;

    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_OK,
           "verify: restored");
}


static void
test_issue_limits(void)
{
    u_char                token[NGX_OTP_JWT_MAX_LEN + 64], big[800];
    size_t                len, exact;
    ngx_otp_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.sub = (u_char *) "+15551234567";
    c.sub_len = 12;
    c.exp = NOW + 300;

    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &exact),
           NGX_OTP_OK, "issue: minimal claims");
    token[exact] = '\0';
    is_int(verify((char *) token, key_a, 1, NOW, NULL, NULL), NGX_OTP_OK,
           "issue: minimal claims verify with the first key");

    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token, exact,
                             &len),
           NGX_OTP_OK, "issue: exact capacity");
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             exact - 1, &len),
           NGX_OTP_ETOOBIG, "issue: capacity one short");

    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, NGX_OTP_SECRET_MIN_LEN - 1,
                             token, sizeof(token), &len),
           NGX_OTP_EINVAL, "issue: key under 16 bytes");

    c.sub_len = 0;
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &len),
           NGX_OTP_EINVAL, "issue: empty sub");

    c.sub = (u_char *) "+1555\0" "1234567";
    c.sub_len = 13;
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &len),
           NGX_OTP_EINVAL, "issue: NUL in sub");

    c.sub = (u_char *) "\xff\xfe";
    c.sub_len = 2;
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &len),
           NGX_OTP_EINVAL, "issue: sub not UTF-8");

    /* what verify would refuse as too long is never issued */

    memset(big, 'a', sizeof(big));
    c.sub = big;
    c.sub_len = sizeof(big);
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &len),
           NGX_OTP_ETOOBIG, "issue: token over NGX_OTP_JWT_MAX_LEN");

    c.sub = (u_char *) "+15551234567";
    c.sub_len = 12;
    c.iss = big;
    c.iss_len = 700;
    is_int(ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token,
                             sizeof(token), &len),
           NGX_OTP_ETOOBIG, "issue: long iss over the limit");
}


static void
test_keys(void)
{
    u_char                token[NGX_OTP_JWT_MAX_LEN];
    size_t                len;
    ngx_otp_jwt_key_t     short_key;
    ngx_otp_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.sub = (u_char *) "+15551234567";
    c.sub_len = 12;
    c.exp = NOW + 300;

    /* kid picks the key, among two */

    c.kid = (u_char *) "old";
    c.kid_len = 3;
    ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_OK,
           "kid \"old\" verifies with the first key");

    c.kid = (u_char *) "new";
    ngx_otp_jwt_issue(&c, (u_char *) KEY_B, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_OK,
           "kid \"new\" verifies with the second key");

    ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_ESIG,
           "kid \"new\" signed with the old key");

    c.kid = (u_char *) "neww";
    c.kid_len = 4;
    ngx_otp_jwt_issue(&c, (u_char *) KEY_B, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL),
           NGX_OTP_ECLAIM, "unknown kid");

    /* no kid: the first key */

    c.kid = NULL;
    c.kid_len = 0;
    ngx_otp_jwt_issue(&c, (u_char *) KEY_A, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_OK,
           "no kid: the first key");

    ngx_otp_jwt_issue(&c, (u_char *) KEY_B, KEY_LEN, token, sizeof(token),
                      &len);
    token[len] = '\0';
    is_int(verify((char *) token, two_keys, 2, NOW, NULL, NULL), NGX_OTP_ESIG,
           "no kid: the second key is not tried");

    is_int(verify(craft("{\"alg\":\"HS256\",\"kid\":7}", CLAIMS, KEY_A),
                  two_keys, 2, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "kid not a string");

    /* the server's own mistakes are errors, not bad tokens */

    is_int(verify((char *) token, two_keys, 0, NOW, NULL, NULL),
           NGX_OTP_ERROR, "no keys");

    short_key.kid = NULL;
    short_key.kid_len = 0;
    short_key.key = (u_char *) "short";
    short_key.key_len = 5;
    is_int(verify(craft(HS256, CLAIMS, "short"), &short_key, 1, NOW, NULL,
                  NULL),
           NGX_OTP_ERROR, "a configured key under 16 bytes");
}


static void
test_alg(void)
{
    const char  *hp;
    char         token[512];

    is_int(verify(craft(HS256, CLAIMS, KEY_A), key_a, 1, NOW, NULL, NULL),
           NGX_OTP_OK, "crafted HS256 token verifies");
    is_str(sub, sub_len, "+15551234567", "crafted token: sub");

    is_int(verify(craft("{\"alg\":\"HS256\"}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_OK, "typ is optional");

    /* even correctly MACed, only "HS256" itself passes */

    is_int(verify(craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS, KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "alg none, signed anyway");
    is_int(verify(craft("{\"alg\":\"HS512\"}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "alg HS512");
    is_int(verify(craft("{\"alg\":\"RS256\"}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "alg RS256");
    is_int(verify(craft("{\"alg\":\"hs256\"}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "alg hs256");
    is_int(verify(craft("{\"alg\":\"HS256 \"}", CLAIMS, KEY_A), key_a, 1,
                  NOW, NULL, NULL),
           NGX_OTP_EINVAL, "alg \"HS256 \"");
    is_int(verify(craft("{\"typ\":\"JWT\"}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "no alg");
    is_int(verify(craft("{\"alg\":null}", CLAIMS, KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "alg null");
    is_int(verify(craft("{\"alg\":\"none\",\"alg\":\"HS256\"}", CLAIMS, KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "alg given twice");
    is_int(verify(craft("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", CLAIMS,
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "crit header");

    /* the classic unsigned token: "alg":"none" and an empty signature */

    hp = craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS, KEY_A);
    snprintf(token, sizeof(token), "%s", hp);
    *(strrchr(token, '.') + 1) = '\0';
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
           "alg none, empty signature");

    hp = craft(HS256, CLAIMS, KEY_A);
    snprintf(token, sizeof(token), "%s", hp);
    *(strrchr(token, '.') + 1) = '\0';
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
           "HS256, empty signature");
}


static void
test_claims(void)
{
    is_int(verify(craft(HS256, "{\"exp\":1700000100}", KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "no sub");
    is_int(verify(craft(HS256, "{\"sub\":15551234567,\"exp\":1700000100}",
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "sub a number");
    is_int(verify(craft(HS256, "{\"sub\":\"\",\"exp\":1700000100}", KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "sub empty");
    is_int(verify(craft(HS256, "{\"sub\":\"+15551234567\"}", KEY_A), key_a, 1,
                  NOW, NULL, NULL),
           NGX_OTP_EINVAL, "no exp");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":\"1700000100\"}",
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "exp a string");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100.5}",
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "exp not an integer");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":-9223372036854775808}",
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EEXPIRED, "exp INT64_MIN: expired, no overflow");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":9223372036854775807}",
                        KEY_A),
                  key_a, 1, INT64_MIN, NULL, NULL),
           NGX_OTP_OK, "exp INT64_MAX: no overflow");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"sub\":\"+2\","
                               "\"exp\":1700000100}", KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "sub given twice");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100,"
                               "\"nbf\":1700000050}", KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_ECLAIM, "nbf in the future");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100,"
                               "\"nbf\":1700000000}", KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_OK, "nbf now");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100,"
                               "\"aud\":[\"x\",\"app\"]}", KEY_A),
                  key_a, 1, NOW, NULL, "app"),
           NGX_OTP_OK, "aud array containing ours");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100,"
                               "\"aud\":[\"x\",\"y\"]}", KEY_A),
                  key_a, 1, NOW, NULL, "app"),
           NGX_OTP_ECLAIM, "aud array without ours");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100}", KEY_A),
                  key_a, 1, NOW, "otp", NULL),
           NGX_OTP_ECLAIM, "iss required but absent");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100}", KEY_A),
                  key_a, 1, NOW, NULL, "app"),
           NGX_OTP_ECLAIM, "aud required but absent");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\",\"exp\":1700000100,"
                               "\"iss\":7}", KEY_A),
                  key_a, 1, NOW, "7", NULL),
           NGX_OTP_ECLAIM, "iss a number");
    is_int(verify(craft(HS256, "[\"+1\",1700000100]", KEY_A), key_a, 1, NOW,
                  NULL, NULL),
           NGX_OTP_EINVAL, "claims an array");
    is_int(verify(craft(HS256, "{\"sub\":\"+1\\u0000\",\"exp\":1700000100}",
                        KEY_A),
                  key_a, 1, NOW, NULL, NULL),
           NGX_OTP_EINVAL, "NUL in sub");
    is_int(verify(craft(HS256, "not json", KEY_A), key_a, 1, NOW, NULL,
                  NULL),
           NGX_OTP_EINVAL, "claims not JSON, signed");
}


static void
test_malformed(void)
{
    char         token[NGX_OTP_JWT_MAX_LEN + 2];
    const char  *good;
    size_t       i;

    static const char  *bad[] = {
        "", ".", "..", "...", "abc", "abc.def", "a.b.c.d",
        ".eyJ9.c2ln", "eyJ9..c2ln", "eyJ9.eyJ9.",
        "@@@@.eyJ9.c2ln",
        "eyJhbGciOiJIUzI1NiJ9.eyJ9.@@@@",           /* signature */
        "eyJhbGciOiJIUzI1NiJ9=.eyJ9.c2ln",          /* padding */
        "W10.eyJ9.c2ln",                            /* header [] */
        "bnVsbA.eyJ9.c2ln",                         /* header null */
        "e30.eyJ9.c2ln",                            /* header {} */
        NULL
    };

    for (i = 0; bad[i]; i++) {
        is_int(verify(bad[i], key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
               "malformed \"%s\"", bad[i]);
    }

    good = craft(HS256, CLAIMS, KEY_A);

    snprintf(token, sizeof(token), "%s=", good);
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
           "padding after the signature");

    snprintf(token, sizeof(token), "%s.", good);
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
           "four parts");

    snprintf(token, sizeof(token), " %s", good);
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_EINVAL,
           "leading space");

    snprintf(token, sizeof(token), "%sAAAA", good);
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_ESIG,
           "signature too long");

    snprintf(token, sizeof(token), "%s", good);
    token[strlen(token) - 3] = '\0';
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_ESIG,
           "signature too short");

    memset(token, 'A', sizeof(token));
    token[NGX_OTP_JWT_MAX_LEN + 1] = '\0';
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_ETOOBIG,
           "token over NGX_OTP_JWT_MAX_LEN");

    /* signature checked before the claims are even decoded */

    snprintf(token, sizeof(token), "%s", good);
    memcpy(strchr(token, '.') + 1, "@@", 2);
    is_int(verify(token, key_a, 1, NOW, NULL, NULL), NGX_OTP_ESIG,
           "garbage claims under a wrong signature: ESIG, not EINVAL");
}


int
main(void)
{
    test_rfc7515();
    test_issue();
    test_issue_limits();
    test_keys();
    test_alg();
    test_claims();
    test_malformed();

    return tap_done();
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_crypto.c: HMAC-SHA256 and SHA-256 against published vectors,
 * the store keys exactly as ngx_otp_core.h defines them, constant-time
 * compare, hex, strict base64url and random identifiers.
 */


#include <stdlib.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define HEX_LEN  (2 * NGX_OTP_HASH_LEN)


static const u_char  secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN  (sizeof(secret) - 1)


static void
hmac_hex(const u_char *key, size_t key_len, const u_char *msg,
    size_t msg_len, u_char hex[HEX_LEN])
{
    u_char  mac[NGX_OTP_HASH_LEN];

    memset(hex, '?', HEX_LEN);

    if (ngx_otp_hmac_sha256(key, key_len, msg, msg_len, mac) == NGX_OTP_OK)
    {
        ngx_otp_hex_encode(hex, mac, NGX_OTP_HASH_LEN);
    }
}


static void
test_hmac(void)
{
    u_char  key[131], hex[HEX_LEN], md[NGX_OTP_HASH_LEN];

    /* RFC 4231 test case 1 */

    memset(key, 0x0b, 20);
    hmac_hex(key, 20, (u_char *) "Hi There", 8, hex);
    is_str(hex, HEX_LEN,
           "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
           "HMAC-SHA256: RFC 4231 test case 1");

    /* RFC 4231 test case 2 */

    hmac_hex((u_char *) "Jefe", 4,
             (u_char *) "what do ya want for nothing?", 28, hex);
    is_str(hex, HEX_LEN,
           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "HMAC-SHA256: RFC 4231 test case 2");

    /* RFC 4231 test case 6: a key longer than the block is hashed first */

    memset(key, 0xaa, 131);
    hmac_hex(key, 131, (u_char *)
             "Test Using Larger Than Block-Size Key - Hash Key First", 54,
             hex);
    is_str(hex, HEX_LEN,
           "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
           "HMAC-SHA256: RFC 4231 test case 6");

    /*
     * /work/shared/test-vectors.json "hub_signature_256", from GitHub's
     * webhook documentation: X-Hub-Signature-256 is the hex HMAC of the
     * raw payload.
     */

    hmac_hex((u_char *) "It's a Secret to Everybody", 26,
             (u_char *) "Hello, World!", 13, hex);
    is_str(hex, HEX_LEN,
           "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
           "HMAC-SHA256: hub_signature_256 vector");

    /* an empty key and message are valid HMAC inputs */

    hmac_hex(NULL, 0, NULL, 0, hex);
    is_str(hex, HEX_LEN,
           "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
           "HMAC-SHA256: empty key, empty message");

    /* FIPS 180-2 appendix B.1, and the empty message */

    memset(hex, '?', HEX_LEN);
    is_int(ngx_otp_sha256((u_char *) "abc", 3, md), NGX_OTP_OK, "sha256 ok");
    ngx_otp_hex_encode(hex, md, NGX_OTP_HASH_LEN);
    is_str(hex, HEX_LEN,
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "SHA-256(\"abc\")");

    memset(hex, '?', HEX_LEN);
    is_int(ngx_otp_sha256(NULL, 0, md), NGX_OTP_OK, "sha256 of nothing ok");
    ngx_otp_hex_encode(hex, md, NGX_OTP_HASH_LEN);
    is_str(hex, HEX_LEN,
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "SHA-256(\"\")");
}


static void
test_keys(void)
{
    u_char  phone[NGX_OTP_HASH_LEN], code[NGX_OTP_HASH_LEN];
    u_char  client[NGX_OTP_HASH_LEN], expect[NGX_OTP_HASH_LEN];
    u_char  other[NGX_OTP_HASH_LEN], again[NGX_OTP_HASH_LEN];

    static const u_char  p1[] = "+15551234567";
    static const u_char  p2[] = "+15551234568";

    /* the derivations are the documented ones, byte for byte */

    is_int(ngx_otp_key_phone(secret, SECRET_LEN, p1, 12, phone), NGX_OTP_OK,
           "phone key derived");
    ngx_otp_hmac_sha256(secret, SECRET_LEN,
                        (u_char *) "otp-phone\0+15551234567", 22, expect);
    is_mem(phone, NGX_OTP_HASH_LEN, expect, NGX_OTP_HASH_LEN,
           "phone key = HMAC(secret, \"otp-phone\\0\" || phone)");

    is_int(ngx_otp_key_code(secret, SECRET_LEN, p1, 12, (u_char *) "123456",
                            6, code),
           NGX_OTP_OK, "code key derived");
    ngx_otp_hmac_sha256(secret, SECRET_LEN,
                        (u_char *) "otp-code\0+15551234567\0" "123456", 28,
                        expect);
    is_mem(code, NGX_OTP_HASH_LEN, expect, NGX_OTP_HASH_LEN,
           "code key = HMAC(secret, \"otp-code\\0\" || phone || \"\\0\" || "
           "code)");

    is_int(ngx_otp_key_client(secret, SECRET_LEN, (u_char *) "192.0.2.1", 9,
                              client),
           NGX_OTP_OK, "client key derived");
    ngx_otp_hmac_sha256(secret, SECRET_LEN,
                        (u_char *) "otp-client\0" "192.0.2.1", 20, expect);
    is_mem(client, NGX_OTP_HASH_LEN, expect, NGX_OTP_HASH_LEN,
           "client key = HMAC(secret, \"otp-client\\0\" || address)");

    /* domain separation: the same bytes under two labels differ */

    ngx_otp_key_client(secret, SECRET_LEN, p1, 12, client);
    ok(memcmp(phone, client, NGX_OTP_HASH_LEN) != 0,
       "phone key != client key for the same bytes");

    ngx_otp_key_code(secret, SECRET_LEN, p1, 12, NULL, 0, code);
    ok(memcmp(phone, code, NGX_OTP_HASH_LEN) != 0,
       "phone key != code key for the same phone and an empty code");

    ngx_otp_hmac_sha256(secret, SECRET_LEN, p1, 12, other);
    ok(memcmp(phone, other, NGX_OTP_HASH_LEN) != 0,
       "phone key != plain HMAC of the phone");

    /* a code hash is bound to its phone */

    ngx_otp_key_code(secret, SECRET_LEN, p1, 12, (u_char *) "123456", 6,
                     code);
    ngx_otp_key_code(secret, SECRET_LEN, p2, 12, (u_char *) "123456", 6,
                     other);
    ok(memcmp(code, other, NGX_OTP_HASH_LEN) != 0,
       "same code, different phones: different code keys");

    /* the NUL between phone and code keeps the boundary */

    ngx_otp_key_code(secret, SECRET_LEN, (u_char *) "+1555123456", 11,
                     (u_char *) "7123456", 7, other);
    ok(memcmp(code, other, NGX_OTP_HASH_LEN) != 0,
       "moving a digit across the phone/code boundary changes the key");

    ngx_otp_key_code(secret, SECRET_LEN, p1, 12, (u_char *) "123457", 6,
                     other);
    ok(memcmp(code, other, NGX_OTP_HASH_LEN) != 0,
       "different codes, same phone: different code keys");

    ngx_otp_key_code(secret, SECRET_LEN, p1, 12, (u_char *) "123456", 6,
                     again);
    is_mem(again, NGX_OTP_HASH_LEN, code, NGX_OTP_HASH_LEN,
           "code key is deterministic");

    ngx_otp_key_phone((u_char *) "0123456789abcdef0123456789abcdeF",
                      SECRET_LEN, p1, 12, other);
    ok(memcmp(phone, other, NGX_OTP_HASH_LEN) != 0,
       "another secret, another phone key");

    /* a short secret is a configuration error, not a weak key */

    is_int(ngx_otp_key_phone(secret, NGX_OTP_SECRET_MIN_LEN - 1, p1, 12,
                             other),
           NGX_OTP_EINVAL, "phone key: secret under 16 bytes refused");
    is_int(ngx_otp_key_code(secret, 0, p1, 12, (u_char *) "1234", 4, other),
           NGX_OTP_EINVAL, "code key: empty secret refused");
    is_int(ngx_otp_key_client(secret, NGX_OTP_SECRET_MIN_LEN - 1, p1, 12,
                              other),
           NGX_OTP_EINVAL, "client key: short secret refused");
    is_int(ngx_otp_key_phone(secret, NGX_OTP_SECRET_MIN_LEN, p1, 12, other),
           NGX_OTP_OK, "phone key: 16-byte secret accepted");
}


static void
test_ct_equal(void)
{
    u_char  a[NGX_OTP_HASH_LEN], b[NGX_OTP_HASH_LEN];

    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));

    is_int(ngx_otp_ct_equal(a, b, sizeof(a)), 1, "ct_equal: equal");

    b[0] ^= 0x01;
    is_int(ngx_otp_ct_equal(a, b, sizeof(a)), 0,
           "ct_equal: first byte differs");

    b[0] ^= 0x01;
    b[NGX_OTP_HASH_LEN - 1] ^= 0x80;
    is_int(ngx_otp_ct_equal(a, b, sizeof(a)), 0,
           "ct_equal: last byte differs");

    is_int(ngx_otp_ct_equal(a, b, sizeof(a) - 1), 1,
           "ct_equal: compares len bytes only");
    is_int(ngx_otp_ct_equal(a, b, 0), 1, "ct_equal: empty is equal");
}


static void
test_hex(void)
{
    int     i;
    char    want[2 * 256 + 1];
    u_char  out[2 * 256], all[256];

    static const u_char  in[] = { 0x00, 0xff, 0x10, 0xab };

    memset(out, '?', sizeof(out));
    is_int(ngx_otp_hex_encode(out, in, 4), 8, "hex: 2 digits per byte");
    is_str(out, 8, "00ff10ab", "hex: lower case, high nibble first");
    is_int(ngx_otp_hex_encode(out, in, 0), 0, "hex: empty");

    /* every byte value, against the C library's */

    for (i = 0; i < 256; i++) {
        all[i] = (u_char) i;
        snprintf(&want[2 * i], 3, "%02x", i);
    }

    is_int(ngx_otp_hex_encode(out, all, 256), 512, "hex: 256 bytes");
    is_str(out, 512, want, "hex: every byte value, as snprintf writes it");
}


static void
test_base64url(void)
{
    u_char   src[64], enc[96], dec[64];
    size_t   i, n, elen, dlen, bad;
    int      rc;
    const char  **s;

    /* RFC 4648 section 10, padding removed */

    static const char  *rfc[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" }
    };

    static const char  *reject[] = {
        "Zg==", "Zg=", "Zm9vYg==", "=", "Z", "Zm9vY",   /* padding, len */
        "Zm9v!", "Zm 9v", "Zm9v\n", "Zm+v", "Zm/v",     /* alphabet */
        "Zh", "Zm9", "Zm9vYh",                       /* non-canonical */
        NULL
    };

    for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
        n = strlen(rfc[i][0]);
        elen = ngx_otp_base64url_encode(enc, (u_char *) rfc[i][0], n);
        is_str(enc, elen, rfc[i][1], "base64url encode \"%s\"", rfc[i][0]);
        is_int(ngx_otp_base64url_encoded_len(n), elen,
               "encoded_len(%zu) is what encode writes", n);

        rc = ngx_otp_base64url_decode(dec, sizeof(dec), &dlen,
                                      (u_char *) rfc[i][1],
                                      strlen(rfc[i][1]));
        is_int(rc, NGX_OTP_OK, "base64url decode \"%s\"", rfc[i][1]);
        is_str(dec, rc == NGX_OTP_OK ? dlen : 0, rfc[i][0],
               "base64url decode \"%s\" gives \"%s\"", rfc[i][1],
               rfc[i][0]);
    }

    /* the URL alphabet: 0xfb 0xff is "+/8=" in standard base64 */

    src[0] = 0xfb;
    src[1] = 0xff;
    elen = ngx_otp_base64url_encode(enc, src, 2);
    is_str(enc, elen, "-_8", "base64url uses '-' and '_'");

    rc = ngx_otp_base64url_decode(dec, sizeof(dec), &dlen,
                                  (u_char *) "-_8", 3);
    is_mem(dec, rc == NGX_OTP_OK ? dlen : 0, src, 2, "decodes '-' and '_'");

    /* round trips of every length up to 64 */

    srand(7);
    bad = 0;

    for (n = 0; n <= sizeof(src); n++) {
        for (i = 0; i < n; i++) {
            src[i] = (u_char) rand();
        }

        elen = ngx_otp_base64url_encode(enc, src, n);

        if (elen != ngx_otp_base64url_encoded_len(n)
            || ngx_otp_base64url_decode(dec, n, &dlen, enc, elen)
               != NGX_OTP_OK
            || dlen != n || memcmp(dec, src, n) != 0)
        {
            bad++;
            tap_diag("round trip of %zu bytes failed", n);
        }

        for (i = 0; i < elen; i++) {
            if (enc[i] == '=' || enc[i] == '+' || enc[i] == '/') {
                bad++;
                tap_diag("%zu bytes: '%c' in output", n, enc[i]);
            }
        }
    }

    is_int(bad, 0, "round trips of 0..64 bytes, exact capacity");

    for (s = reject; *s; s++) {
        is_int(ngx_otp_base64url_decode(dec, sizeof(dec), &dlen,
                                        (u_char *) *s, strlen(*s)),
               NGX_OTP_EINVAL, "base64url decode rejects \"%s\"", *s);
    }

    is_int(ngx_otp_base64url_decode(dec, sizeof(dec), &dlen,
                                    (u_char *) "Zm\0v", 4),
           NGX_OTP_EINVAL, "base64url decode rejects NUL");
    is_int(ngx_otp_base64url_decode(dec, 5, &dlen, (u_char *) "Zm9vYmFy",
                                    8),
           NGX_OTP_EINVAL, "base64url decode: 6 bytes do not fit in 5");
    is_int(ngx_otp_base64url_decode(dec, 0, &dlen, (u_char *) "", 0),
           NGX_OTP_OK, "base64url decode: empty into nothing");
    is_int(dlen, 0, "base64url decode: empty gives 0 bytes");
}


static void
test_random_id(void)
{
    u_char  a[64], b[64];
    size_t  alen, blen, i;

    memset(a, '?', sizeof(a));
    is_int(ngx_otp_random_id(a, sizeof(a), &alen, "msg_"), NGX_OTP_OK,
           "random id ok");
    is_int(alen, 36, "random id: prefix + 32 hex digits");
    ok(memcmp(a, "msg_", 4) == 0, "random id: prefix kept");

    for (i = 4; i < alen; i++) {
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'))) {
            break;
        }
    }

    is_int(i, alen, "random id: lower-case hex after the prefix");
    is_int(a[36], '?', "random id: nothing written past it");

    ngx_otp_random_id(b, sizeof(b), &blen, "msg_");
    ok(blen == alen && memcmp(a, b, alen) != 0, "random ids differ");

    is_int(ngx_otp_random_id(a, 32, &alen, NULL), NGX_OTP_OK,
           "random id without prefix, exact capacity");
    is_int(alen, 32, "random id without prefix: 32 digits");
    is_int(ngx_otp_random_id(a, 35, &alen, "msg_"), NGX_OTP_ETOOBIG,
           "random id: capacity one short");
    is_int(ngx_otp_random_id(a, 3, &alen, "msg_"), NGX_OTP_ETOOBIG,
           "random id: capacity under the prefix");
}


int
main(void)
{
    test_hmac();
    test_keys();
    test_ct_equal();
    test_hex();
    test_base64url();
    test_random_id();

    return tap_done();
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Keys, comparison and encodings: HMACs (the HMAC-SHA256 store keys, and
 * the webhook signatures' SHA1 / SHA256 ones), the constant-time compare
 * every secret-dependent check goes through, hex, base64 and base64url,
 * and random identifiers.
 */


#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ngx_otp_core.h"


#define NGX_OTP_RANDOM_ID_BYTES    16


static size_t ngx_otp_base64_encode_alphabet(u_char *dst, const u_char *src,
    size_t len, const u_char *alphabet, int pad);
static int ngx_otp_base64_value(u_char c, const u_char *alphabet);

static const u_char  ngx_otp_base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const u_char  ngx_otp_base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


int
ngx_otp_hmac_sha256(const u_char *key, size_t key_len,
    const u_char *msg, size_t msg_len, u_char out[NGX_OTP_HASH_LEN])
{
    ngx_otp_hmac_part_t  part;

    part.data = msg;
    part.len = msg_len;

    return ngx_otp_hmac("SHA256", key, key_len, &part, 1, out,
                        NGX_OTP_HASH_LEN);
}


int
ngx_otp_sha256(const u_char *msg, size_t msg_len,
    u_char out[NGX_OTP_HASH_LEN])
{
    unsigned int  len;

    if (EVP_Digest(msg_len ? msg : (const u_char *) "", msg_len, out, &len,
                   EVP_sha256(), NULL)
        != 1 || len != NGX_OTP_HASH_LEN)
    {
        return NGX_OTP_ERROR;
    }

    return NGX_OTP_OK;
}


/*
 * Each label ends with a NUL, which no phone, code or address contains,
 * so no input under one label can produce the HMAC input of another.
 */

int
ngx_otp_key_phone(const u_char *secret, size_t secret_len,
    const u_char *phone, size_t phone_len, u_char out[NGX_OTP_HASH_LEN])
{
    ngx_otp_hmac_part_t  parts[2];

    if (secret_len < NGX_OTP_SECRET_MIN_LEN) {
        return NGX_OTP_EINVAL;
    }

    parts[0].data = (const u_char *) "otp-phone";
    parts[0].len = sizeof("otp-phone");
    parts[1].data = phone;
    parts[1].len = phone_len;

    return ngx_otp_hmac("SHA256", secret, secret_len, parts, 2, out,
                        NGX_OTP_HASH_LEN);
}


int
ngx_otp_key_code(const u_char *secret, size_t secret_len,
    const u_char *phone, size_t phone_len, const u_char *code,
    size_t code_len, u_char out[NGX_OTP_HASH_LEN])
{
    ngx_otp_hmac_part_t  parts[4];

    if (secret_len < NGX_OTP_SECRET_MIN_LEN) {
        return NGX_OTP_EINVAL;
    }

    parts[0].data = (const u_char *) "otp-code";
    parts[0].len = sizeof("otp-code");
    parts[1].data = phone;
    parts[1].len = phone_len;
    parts[2].data = (const u_char *) "";
    parts[2].len = 1;
    parts[3].data = code;
    parts[3].len = code_len;

    return ngx_otp_hmac("SHA256", secret, secret_len, parts, 4, out,
                        NGX_OTP_HASH_LEN);
}


int
ngx_otp_key_client(const u_char *secret, size_t secret_len,
    const u_char *addr, size_t addr_len, u_char out[NGX_OTP_HASH_LEN])
{
    ngx_otp_hmac_part_t  parts[2];

    if (secret_len < NGX_OTP_SECRET_MIN_LEN) {
        return NGX_OTP_EINVAL;
    }

    parts[0].data = (const u_char *) "otp-client";
    parts[0].len = sizeof("otp-client");
    parts[1].data = addr;
    parts[1].len = addr_len;

    return ngx_otp_hmac("SHA256", secret, secret_len, parts, 2, out,
                        NGX_OTP_HASH_LEN);
}


int
ngx_otp_ct_equal(const u_char *a, const u_char *b, size_t len)
{
    if (len == 0) {
        return 1;
    }

    return CRYPTO_memcmp(a, b, len) == 0;
}


/* the two hex digits of each byte: one load a byte instead of two */

static const char  ngx_otp_hex_pairs[] =
    "000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f"
    "303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f"
    "505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f"
    "707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f"
    "909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";


size_t
ngx_otp_hex_encode(u_char *dst, const u_char *src, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        memcpy(&dst[2 * i], &ngx_otp_hex_pairs[2 * src[i]], 2);
    }

    return 2 * len;
}


size_t
ngx_otp_base64url_encode(u_char *dst, const u_char *src, size_t len)
{
    return ngx_otp_base64_encode_alphabet(dst, src, len,
                                          ngx_otp_base64url_alphabet, 0);
}


size_t
ngx_otp_base64_encode(u_char *dst, const u_char *src, size_t len)
{
    return ngx_otp_base64_encode_alphabet(dst, src, len,
                                          ngx_otp_base64_alphabet, 1);
}


/*
 * Strict on purpose: no padding, no whitespace, and the unused low bits
 * of the last character must be zero.  Otherwise several strings decode
 * to the same bytes, and a token could be altered without breaking its
 * signature.
 */

int
ngx_otp_base64url_decode(u_char *dst, size_t dst_cap, size_t *dst_len,
    const u_char *src, size_t len)
{
    int            a, b, c, e;
    size_t         n, rest, need;
    u_char        *d;
    const u_char  *u;

    u = ngx_otp_base64url_alphabet;
    rest = len % 4;

    if (rest == 1) {
        return NGX_OTP_EINVAL;
    }

    need = len / 4 * 3 + (rest ? rest - 1 : 0);

    if (need > dst_cap) {
        return NGX_OTP_EINVAL;
    }

    d = dst;

    for (n = 0; n + 4 <= len; n += 4) {
        a = ngx_otp_base64_value(src[n], u);
        b = ngx_otp_base64_value(src[n + 1], u);
        c = ngx_otp_base64_value(src[n + 2], u);
        e = ngx_otp_base64_value(src[n + 3], u);

        if ((a | b | c | e) < 0) {
            return NGX_OTP_EINVAL;
        }

        *d++ = (u_char) (a << 2 | b >> 4);
        *d++ = (u_char) ((b & 0x0f) << 4 | c >> 2);
        *d++ = (u_char) ((c & 0x03) << 6 | e);
    }

    if (rest) {
        a = ngx_otp_base64_value(src[n], u);
        b = ngx_otp_base64_value(src[n + 1], u);
        c = (rest == 3) ? ngx_otp_base64_value(src[n + 2], u) : 0;

        if ((a | b | c) < 0) {
            return NGX_OTP_EINVAL;
        }

        /* the bits past the last whole byte must be zero */

        if (rest == 2 ? (b & 0x0f) : (c & 0x03)) {
            return NGX_OTP_EINVAL;
        }

        *d++ = (u_char) (a << 2 | b >> 4);

        if (rest == 3) {
            *d++ = (u_char) ((b & 0x0f) << 4 | c >> 2);
        }
    }

    *dst_len = (size_t) (d - dst);

    return NGX_OTP_OK;
}


/*
 * Unlike base64url_decode(), lenient: a configured secret is taken as
 * the Standard Webhooks libraries take it, so that every secret they
 * accept is accepted here too.
 */

int
ngx_otp_base64_decode(u_char *dst, size_t dst_cap, size_t *dst_len,
    const u_char *src, size_t len)
{
    int       v;
    size_t    i, n;
    uint32_t  acc;
    unsigned  bits;

    if (len % 4 == 0 && len >= 2) {
        if (src[len - 1] == '=') {
            len--;

            if (src[len - 1] == '=') {
                len--;
            }
        }
    }

    if (len % 4 == 1) {
        return NGX_OTP_EINVAL;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {

        v = ngx_otp_base64_value(src[i], ngx_otp_base64_alphabet);
        if (v < 0) {
            return NGX_OTP_EINVAL;
        }

        acc = (acc << 6 | (uint32_t) v) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;

            if (n == dst_cap) {
                return NGX_OTP_EINVAL;
            }

            dst[n++] = (u_char) (acc >> bits);
        }
    }

    *dst_len = n;

    return NGX_OTP_OK;
}


int
ngx_otp_random_id(u_char *dst, size_t dst_cap, size_t *dst_len,
    const char *prefix)
{
    u_char  bytes[NGX_OTP_RANDOM_ID_BYTES];
    size_t  plen;

    plen = prefix ? strlen(prefix) : 0;

    if (dst_cap < plen || dst_cap - plen < 2 * NGX_OTP_RANDOM_ID_BYTES) {
        return NGX_OTP_ETOOBIG;
    }

    if (RAND_bytes(bytes, NGX_OTP_RANDOM_ID_BYTES) != 1) {
        return NGX_OTP_ERROR;
    }

    if (plen) {
        memcpy(dst, prefix, plen);
    }

    *dst_len = plen + ngx_otp_hex_encode(dst + plen, bytes,
                                         NGX_OTP_RANDOM_ID_BYTES);

    return NGX_OTP_OK;
}


/*
 * OpenSSL 3 looks a MAC and a digest up by name (a search under a lock,
 * allocations) at each EVP_MAC_fetch() and at each EVP_MAC_init() that
 * names the digest: more work than the HMAC of a phone number itself.  A
 * context with its digest set is made once per digest and process, and
 * copied for each HMAC (EVP_MAC_CTX_dup(): no lookup).
 */

#define NGX_OTP_HMAC_DIGESTS  4

typedef struct {
    char          name[16];
    EVP_MAC_CTX  *ctx;
} ngx_otp_hmac_template_t;

static ngx_otp_hmac_template_t  ngx_otp_hmac_templates[NGX_OTP_HMAC_DIGESTS];


static EVP_MAC_CTX *
ngx_otp_hmac_ctx(const char *digest)
{
    size_t                    i;
    EVP_MAC                  *mac;
    OSSL_PARAM                params[2];
    EVP_MAC_CTX              *ctx;
    ngx_otp_hmac_template_t  *t;

    for (i = 0; i < NGX_OTP_HMAC_DIGESTS; i++) {
        t = &ngx_otp_hmac_templates[i];

        if (t->ctx == NULL) {
            break;
        }

        if (strcmp(t->name, digest) == 0) {
            return EVP_MAC_CTX_dup(t->ctx);
        }
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    /* the context holds its own reference to the MAC */
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    if (i == NGX_OTP_HMAC_DIGESTS || strlen(digest) >= sizeof(t->name)) {
        /* not kept: this one is used once */
        return ctx;
    }

    memcpy(t->name, digest, strlen(digest) + 1);
    t->ctx = ctx;

    return EVP_MAC_CTX_dup(ctx);
}


int
ngx_otp_hmac(const char *digest, const u_char *key, size_t key_len,
    const ngx_otp_hmac_part_t *parts, size_t n, u_char *out, size_t out_len)
{
    int           rc;
    size_t        i, len;
    EVP_MAC_CTX  *ctx;

    /*
     * EVP_MAC rather than HMAC(): it takes the input in parts, so a key
     * is derived from its label and fields without copying them into a
     * buffer whose size would then be one more limit.
     */

    ctx = ngx_otp_hmac_ctx(digest);
    if (ctx == NULL) {
        return NGX_OTP_ERROR;
    }

    rc = NGX_OTP_ERROR;

    /* a NULL key means "no key yet" to EVP_MAC_init, not an empty key */

    if (EVP_MAC_init(ctx, key_len ? key : (const u_char *) "", key_len,
                     NULL)
        != 1)
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (parts[i].len
            && EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
        {
            goto done;
        }
    }

    if (EVP_MAC_final(ctx, out, &len, out_len) != 1 || len != out_len) {
        goto done;
    }

    rc = NGX_OTP_OK;

done:

    EVP_MAC_CTX_free(ctx);

    return rc;
}


/* RFC 4648's encoding; pad adds the '='s that make a multiple of 4 */

static size_t
ngx_otp_base64_encode_alphabet(u_char *dst, const u_char *src, size_t len,
    const u_char *alphabet, int pad)
{
    u_char  *d;

    d = dst;

    while (len >= 3) {
        *d++ = alphabet[src[0] >> 2];
        *d++ = alphabet[((src[0] & 0x03) << 4) | (src[1] >> 4)];
        *d++ = alphabet[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = alphabet[src[2] & 0x3f];

        src += 3;
        len -= 3;
    }

    if (len > 0) {
        *d++ = alphabet[src[0] >> 2];

        if (len == 1) {
            *d++ = alphabet[(src[0] & 0x03) << 4];

            if (pad) {
                *d++ = '=';
            }

        } else {
            *d++ = alphabet[((src[0] & 0x03) << 4) | (src[1] >> 4)];
            *d++ = alphabet[(src[1] & 0x0f) << 2];
        }

        if (pad) {
            *d++ = '=';
        }
    }

    return (size_t) (d - dst);
}


/* the value of c in alphabet (they differ in 62 and 63 only), or -1 */

static int
ngx_otp_base64_value(u_char c, const u_char *alphabet)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == alphabet[62]) {
        return 62;
    }

    if (c == alphabet[63]) {
        return 63;
    }

    return -1;
}

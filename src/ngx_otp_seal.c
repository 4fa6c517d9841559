
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * A sealed blob: AES-256-GCM under a key derived from the module's
 * secret.  The fallback keeps the code it may have to send again on
 * another channel; the store never holds it in the clear (a Redis dump or
 * a replica must not give codes away), and the aad (the message id) binds
 * a blob to its record so that one cannot be moved onto another.
 *
 *   key  = HMAC-SHA256(secret, "otp-seal-v1")
 *   blob = nonce (12 random bytes) || ciphertext || tag (16 bytes)
 *
 * A random 96-bit nonce is safe for far more blobs under one key than
 * codes will ever be sent (NIST SP 800-38D, 8.3: 2^32 invocations).
 */


#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_otp_core.h"


#define NGX_OTP_SEAL_NONCE_LEN      12
#define NGX_OTP_SEAL_TAG_LEN        16
#define NGX_OTP_SEAL_LABEL          "otp-seal-v1"


static int ngx_otp_seal_key(const u_char *secret, size_t secret_len,
    u_char key[NGX_OTP_HASH_LEN]);
static int ngx_otp_seal_rand(u_char *buf, size_t n);


int
ngx_otp_seal(const u_char *secret, size_t secret_len,
    const u_char *aad, size_t aad_len, const u_char *in, size_t len,
    u_char *out, size_t cap, size_t *outlen, ngx_otp_rand_pt rand)
{
    int              rc, n, fin;
    u_char           key[NGX_OTP_HASH_LEN], *nonce, *ct, *tag;
    EVP_CIPHER_CTX  *ctx;

    if (len > (size_t) 0x7fffffff - NGX_OTP_SEAL_OVERHEAD
        || aad_len > 0x7fffffff)
    {
        return NGX_OTP_ETOOBIG;
    }

    if (cap < len + NGX_OTP_SEAL_OVERHEAD) {
        return NGX_OTP_ETOOBIG;
    }

    rc = ngx_otp_seal_key(secret, secret_len, key);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    nonce = out;
    ct = out + NGX_OTP_SEAL_NONCE_LEN;
    tag = ct + len;

    if (rand == NULL) {
        rand = ngx_otp_seal_rand;
    }

    rc = NGX_OTP_ERROR;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        goto done;
    }

    if (rand(nonce, NGX_OTP_SEAL_NONCE_LEN) != NGX_OTP_OK) {
        goto done;
    }

    /* GCM's default IV length is 12 bytes: no EVP_CTRL_GCM_SET_IVLEN */

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        goto done;
    }

    if (aad_len
        && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int) aad_len) != 1)
    {
        goto done;
    }

    n = 0;

    if (len && EVP_EncryptUpdate(ctx, ct, &n, in, (int) len) != 1) {
        goto done;
    }

    if (EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1
        || (size_t) (n + fin) != len)
    {
        goto done;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, NGX_OTP_SEAL_TAG_LEN,
                            tag)
        != 1)
    {
        goto done;
    }

    *outlen = len + NGX_OTP_SEAL_OVERHEAD;
    rc = NGX_OTP_OK;

done:

    /* the context holds the expanded key schedule: freeing wipes it */

    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(key, sizeof(key));

    if (rc != NGX_OTP_OK) {
        OPENSSL_cleanse(out, cap < len + NGX_OTP_SEAL_OVERHEAD
                             ? cap : len + NGX_OTP_SEAL_OVERHEAD);
    }

    return rc;
}


int
ngx_otp_open(const u_char *secret, size_t secret_len,
    const u_char *aad, size_t aad_len, const u_char *in, size_t len,
    u_char *out, size_t cap, size_t *outlen)
{
    int              rc, n, fin;
    size_t           plen;
    u_char           key[NGX_OTP_HASH_LEN], tag[NGX_OTP_SEAL_TAG_LEN];
    const u_char    *nonce, *ct;
    EVP_CIPHER_CTX  *ctx;

    /* too short to be a blob at all: nothing was sealed into it */

    if (len < NGX_OTP_SEAL_OVERHEAD) {
        return NGX_OTP_ESIG;
    }

    plen = len - NGX_OTP_SEAL_OVERHEAD;

    if (plen > 0x7fffffff || aad_len > 0x7fffffff) {
        return NGX_OTP_ETOOBIG;
    }

    if (cap < plen) {
        return NGX_OTP_ETOOBIG;
    }

    rc = ngx_otp_seal_key(secret, secret_len, key);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    nonce = in;
    ct = in + NGX_OTP_SEAL_NONCE_LEN;

    /* a copy: EVP_CTRL_GCM_SET_TAG takes a non-const pointer */

    memcpy(tag, ct + plen, NGX_OTP_SEAL_TAG_LEN);

    rc = NGX_OTP_ERROR;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        goto done;
    }

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1) {
        goto done;
    }

    if (aad_len
        && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int) aad_len) != 1)
    {
        goto done;
    }

    n = 0;

    if (plen && EVP_DecryptUpdate(ctx, out, &n, ct, (int) plen) != 1) {
        goto done;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, NGX_OTP_SEAL_TAG_LEN,
                            tag)
        != 1)
    {
        goto done;
    }

    /* the tag is checked here, in constant time, by OpenSSL */

    if (EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
        rc = NGX_OTP_ESIG;
        goto done;
    }

    if ((size_t) (n + fin) != plen) {
        goto done;
    }

    *outlen = plen;
    rc = NGX_OTP_OK;

done:

    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(key, sizeof(key));

    /* what an unauthenticated blob decrypted to is not given out */

    if (rc != NGX_OTP_OK && plen) {
        OPENSSL_cleanse(out, plen);
    }

    return rc;
}


/*
 * The label, not the secret, is the HMAC's message: the seal key differs
 * from every store key (those are HMACs of labels ending in NUL and
 * data), so no blob key is ever a value the store holds.
 */

static int
ngx_otp_seal_key(const u_char *secret, size_t secret_len,
    u_char key[NGX_OTP_HASH_LEN])
{
    if (secret_len < NGX_OTP_SECRET_MIN_LEN) {
        return NGX_OTP_EINVAL;
    }

    return ngx_otp_hmac_sha256(secret, secret_len,
                               (const u_char *) NGX_OTP_SEAL_LABEL,
                               sizeof(NGX_OTP_SEAL_LABEL) - 1, key);
}


static int
ngx_otp_seal_rand(u_char *buf, size_t n)
{
    return RAND_bytes(buf, (int) n) == 1 ? NGX_OTP_OK : NGX_OTP_ERROR;
}

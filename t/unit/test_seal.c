
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_seal.c: a known blob (computed independently, with Python's
 * cryptography AESGCM and hmac, for the key and layout ngx_otp_core.h
 * defines), round trips, and every way a blob must fail to open: another
 * secret, another aad, any bit flipped, cut short.
 */


#define _GNU_SOURCE                  /* memmem() */

#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


static const u_char  secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN  (sizeof(secret) - 1)

/*
 * key = HMAC-SHA256(secret, "otp-seal-v1"), nonce 01..0c, "123456" under
 * aad "msg_1":
 *   AESGCM(key).encrypt(bytes(range(1, 13)), b"123456", b"msg_1")
 */
static const char  known[] =
    "0102030405060708090a0b0c4a5bc088c2abaa808ccf368d2c82f379496d43b0b0d3";


static int  rand_calls;


static int
counting_rand(u_char *buf, size_t n)
{
    size_t  i;

    rand_calls++;

    for (i = 0; i < n; i++) {
        buf[i] = (u_char) (i + 1);
    }

    return NGX_OTP_OK;
}


static int
failing_rand(u_char *buf, size_t n)
{
    (void) buf;
    (void) n;

    return NGX_OTP_ERROR;
}


static int
seal(const char *aad, const char *in, u_char *out, size_t cap, size_t *len,
    ngx_otp_rand_pt rand)
{
    return ngx_otp_seal(secret, SECRET_LEN, (const u_char *) aad,
                        strlen(aad), (const u_char *) in, strlen(in), out,
                        cap, len, rand);
}


static int
open_blob(const u_char *s, size_t s_len, const char *aad, const u_char *in,
    size_t len, u_char *out, size_t cap, size_t *out_len)
{
    return ngx_otp_open(s, s_len, (const u_char *) aad, strlen(aad), in, len,
                        out, cap, out_len);
}


int
main(void)
{
    int     bad;
    size_t  len, len2, out_len, i, bit;
    u_char  blob[64], blob2[64], hex[128], out[64];

    /* the known blob */

    rand_calls = 0;
    len = 0;

    is_int(seal("msg_1", "123456", blob, sizeof(blob), &len, counting_rand),
           NGX_OTP_OK, "seal: OK");
    is_int(len, 6 + NGX_OTP_SEAL_OVERHEAD, "seal: length is len + overhead");
    is_int(rand_calls, 1, "seal: one call of the rand callback");
    ngx_otp_hex_encode(hex, blob, len);
    is_str(hex, 2 * len, known, "seal: nonce || ciphertext || tag, known");

    out_len = 0;
    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob, len, out, 6,
                     &out_len),
           NGX_OTP_OK, "open: OK with cap exactly len");
    is_str(out, out_len, "123456", "open: the code back");

    /* random nonces: the same input seals differently each time */

    is_int(seal("msg_1", "123456", blob, sizeof(blob), &len, NULL),
           NGX_OTP_OK, "seal with RAND_bytes: OK");
    is_int(seal("msg_1", "123456", blob2, sizeof(blob2), &len2, NULL),
           NGX_OTP_OK, "seal with RAND_bytes again: OK");
    ok(len == len2 && memcmp(blob, blob2, len) != 0,
       "two seals of the same code differ");
    ok(memmem(blob, len, "123456", 6) == NULL,
       "the code is not in the blob");

    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob2, len2, out,
                     sizeof(out), &out_len),
           NGX_OTP_OK, "open the second: OK");
    is_str(out, out_len, "123456", "open the second: the code");

    /* what must not open */

    is_int(open_blob((const u_char *) "0123456789abcdef0123456789abcdeF",
                     SECRET_LEN, "msg_1", blob, len, out, sizeof(out),
                     &out_len),
           NGX_OTP_ESIG, "open: another secret");
    is_int(open_blob(secret, SECRET_LEN, "msg_2", blob, len, out,
                     sizeof(out), &out_len),
           NGX_OTP_ESIG, "open: another aad (message id)");
    is_int(open_blob(secret, SECRET_LEN, "", blob, len, out, sizeof(out),
                     &out_len),
           NGX_OTP_ESIG, "open: no aad");
    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob, len - 1, out,
                     sizeof(out), &out_len),
           NGX_OTP_ESIG, "open: cut short by one byte");
    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob,
                     NGX_OTP_SEAL_OVERHEAD - 1, out, sizeof(out), &out_len),
           NGX_OTP_ESIG, "open: shorter than the overhead");
    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob, 0, out, sizeof(out),
                     &out_len),
           NGX_OTP_ESIG, "open: empty");

    bad = 0;

    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            blob[i] ^= (u_char) (1 << bit);

            memset(out, 'x', sizeof(out));

            if (open_blob(secret, SECRET_LEN, "msg_1", blob, len, out,
                          sizeof(out), &out_len)
                != NGX_OTP_ESIG
                || memmem(out, sizeof(out), "123456", 6) != NULL)
            {
                bad++;
            }

            blob[i] ^= (u_char) (1 << bit);
        }
    }

    is_int(bad, 0, "open: each of %zu bits flipped is ESIG, nothing "
           "decrypted is left in out", 8 * len);

    /* limits */

    is_int(seal("msg_1", "123456", blob, 6 + NGX_OTP_SEAL_OVERHEAD - 1,
                &len, NULL),
           NGX_OTP_ETOOBIG, "seal: cap one byte short");
    is_int(seal("msg_1", "123456", blob, sizeof(blob), &len, failing_rand),
           NGX_OTP_ERROR, "seal: the rand callback fails");
    is_int(ngx_otp_seal(secret, NGX_OTP_SECRET_MIN_LEN - 1,
                        (const u_char *) "m", 1, (const u_char *) "1234", 4,
                        blob, sizeof(blob), &len, NULL),
           NGX_OTP_EINVAL, "seal: a secret under the minimum");

    is_int(seal("msg_1", "123456", blob, sizeof(blob), &len, NULL),
           NGX_OTP_OK, "seal again");
    is_int(open_blob(secret, SECRET_LEN, "msg_1", blob, len, out, 5,
                     &out_len),
           NGX_OTP_ETOOBIG, "open: cap one byte short");
    is_int(open_blob(secret, NGX_OTP_SECRET_MIN_LEN - 1, "msg_1", blob, len,
                     out, sizeof(out), &out_len),
           NGX_OTP_EINVAL, "open: a secret under the minimum");

    /* an empty plaintext and an empty aad work too */

    is_int(ngx_otp_seal(secret, SECRET_LEN, NULL, 0, NULL, 0, blob,
                        sizeof(blob), &len, NULL),
           NGX_OTP_OK, "seal: nothing, no aad");
    is_int(len, NGX_OTP_SEAL_OVERHEAD, "seal: nothing is the overhead");
    is_int(ngx_otp_open(secret, SECRET_LEN, NULL, 0, blob, len, out, 0,
                        &out_len),
           NGX_OTP_OK, "open: nothing, no aad");
    is_int(out_len, 0, "open: nothing back");

    return tap_done();
}

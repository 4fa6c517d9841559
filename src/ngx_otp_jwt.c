
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * HS256 tokens (RFC 7519 / RFC 7515): the proof of a verified phone that
 * the access gate, or an upstream holding the key, accepts.
 */


#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"


#define NGX_OTP_JWT_SIG_LEN                                                  \
    ngx_otp_base64url_encoded_len(NGX_OTP_HASH_LEN)

/* the longest header or payload that fits in a token, decoded */
#define NGX_OTP_JWT_PART_MAX       (NGX_OTP_JWT_MAX_LEN / 4 * 3 + 2)


static int ngx_otp_jwt_encode_header(const ngx_otp_jwt_claims_t *claims,
    u_char *buf, size_t cap, size_t *len);
static int ngx_otp_jwt_encode_claims(const ngx_otp_jwt_claims_t *claims,
    u_char *buf, size_t cap, size_t *len);
static int ngx_otp_jwt_set_string(json_t *obj, const char *name,
    const u_char *s, size_t len);
static int ngx_otp_jwt_dump(json_t *obj, u_char *buf, size_t cap,
    size_t *len);
static json_t *ngx_otp_jwt_load(const u_char *src, size_t len);
static int ngx_otp_jwt_check_header(json_t *header,
    const ngx_otp_jwt_key_t *keys, size_t nkeys,
    const ngx_otp_jwt_key_t **key);
static int ngx_otp_jwt_check_claims(json_t *claims, int64_t now,
    int64_t leeway, const u_char *iss, size_t iss_len, const u_char *aud,
    size_t aud_len);
static int ngx_otp_jwt_string_is(json_t *v, const u_char *s, size_t len);


int
ngx_otp_jwt_sign_input(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *sig, size_t sig_cap,
    size_t *sig_len)
{
    int     rc;
    u_char  mac[NGX_OTP_HASH_LEN];

    if (sig_cap < NGX_OTP_JWT_SIG_LEN) {
        return NGX_OTP_ETOOBIG;
    }

    rc = ngx_otp_hmac_sha256(key, key_len, input, input_len, mac);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    *sig_len = ngx_otp_base64url_encode(sig, mac, NGX_OTP_HASH_LEN);

    return NGX_OTP_OK;
}


int
ngx_otp_jwt_issue(const ngx_otp_jwt_claims_t *claims,
    const u_char *key, size_t key_len, u_char *out, size_t out_cap,
    size_t *out_len)
{
    int      rc;
    u_char   header[NGX_OTP_JWT_PART_MAX], payload[NGX_OTP_JWT_PART_MAX];
    u_char  *p;
    size_t   header_len, payload_len, need, sig_len;

    /* a short key would let anyone who guesses it mint tokens */

    if (key_len < NGX_OTP_SECRET_MIN_LEN
        || claims->sub == NULL || claims->sub_len == 0)
    {
        return NGX_OTP_EINVAL;
    }

    rc = ngx_otp_jwt_encode_header(claims, header, sizeof(header),
                                   &header_len);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    rc = ngx_otp_jwt_encode_claims(claims, payload, sizeof(payload),
                                   &payload_len);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    /*
     * Never issue what verify would refuse as too long: a token has to
     * come back through the same limit.
     */

    need = ngx_otp_base64url_encoded_len(header_len) + 1
           + ngx_otp_base64url_encoded_len(payload_len) + 1
           + NGX_OTP_JWT_SIG_LEN;

    if (need > out_cap || need > NGX_OTP_JWT_MAX_LEN) {
        return NGX_OTP_ETOOBIG;
    }

    p = out;
    p += ngx_otp_base64url_encode(p, header, header_len);
    *p++ = '.';
    p += ngx_otp_base64url_encode(p, payload, payload_len);

    rc = ngx_otp_jwt_sign_input(key, key_len, out, (size_t) (p - out),
                                p + 1, out_cap - (size_t) (p + 1 - out),
                                &sig_len);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    *p++ = '.';
    *out_len = (size_t) (p - out) + sig_len;

    return NGX_OTP_OK;
}


int
ngx_otp_jwt_verify(const u_char *token, size_t len,
    const ngx_otp_jwt_key_t *keys, size_t nkeys, int64_t now,
    int64_t leeway, const u_char *iss, size_t iss_len, const u_char *aud,
    size_t aud_len, u_char *sub_buf, size_t sub_cap, size_t *sub_len)
{
    int                       rc;
    u_char                    mac[NGX_OTP_HASH_LEN];
    u_char                    sig[NGX_OTP_HASH_LEN + 3];
    size_t                    sig_len, sub_n;
    json_t                   *header, *claims, *sub;
    const u_char             *dot1, *dot2, *end;
    const ngx_otp_jwt_key_t  *key;

    if (keys == NULL || nkeys == 0) {
        return NGX_OTP_ERROR;
    }

    if (len > NGX_OTP_JWT_MAX_LEN) {
        return NGX_OTP_ETOOBIG;
    }

    if (len == 0) {
        return NGX_OTP_EINVAL;
    }

    end = token + len;

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return NGX_OTP_EINVAL;
    }

    dot2 = memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1));
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t) (end - dot2 - 1))) {
        return NGX_OTP_EINVAL;
    }

    if (dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == end) {
        return NGX_OTP_EINVAL;
    }

    /* the header is read before the signature: it says which key to use */

    header = ngx_otp_jwt_load(token, (size_t) (dot1 - token));
    if (header == NULL) {
        return NGX_OTP_EINVAL;
    }

    rc = ngx_otp_jwt_check_header(header, keys, nkeys, &key);

    json_decref(header);

    if (rc != NGX_OTP_OK) {
        return rc;
    }

    if (ngx_otp_base64url_decode(sig, sizeof(sig), &sig_len, dot2 + 1,
                                 (size_t) (end - dot2 - 1))
        != NGX_OTP_OK)
    {
        return NGX_OTP_EINVAL;
    }

    rc = ngx_otp_hmac_sha256(key->key, key->key_len, token,
                             (size_t) (dot2 - token), mac);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    if (sig_len != NGX_OTP_HASH_LEN
        || !ngx_otp_ct_equal(sig, mac, NGX_OTP_HASH_LEN))
    {
        return NGX_OTP_ESIG;
    }

    /* only now are the claims worth parsing: they come from us */

    claims = ngx_otp_jwt_load(dot1 + 1, (size_t) (dot2 - dot1 - 1));
    if (claims == NULL) {
        return NGX_OTP_EINVAL;
    }

    rc = ngx_otp_jwt_check_claims(claims, now, leeway, iss, iss_len, aud,
                                  aud_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    sub = json_object_get(claims, "sub");

    if (!json_is_string(sub) || json_string_length(sub) == 0) {
        rc = NGX_OTP_EINVAL;
        goto done;
    }

    sub_n = json_string_length(sub);

    if (sub_n > sub_cap) {
        rc = NGX_OTP_ETOOBIG;
        goto done;
    }

    memcpy(sub_buf, json_string_value(sub), sub_n);
    *sub_len = sub_n;

done:

    json_decref(claims);

    return rc;
}


int
ngx_otp_jwt_claim(const u_char *token, size_t len, const char *name,
    u_char *buf, size_t cap, size_t *out_len)
{
    int            rc;
    size_t         n;
    json_t        *claims, *v;
    const u_char  *dot1, *dot2;

    *out_len = 0;

    if (len == 0 || len > NGX_OTP_JWT_MAX_LEN) {
        return NGX_OTP_EINVAL;
    }

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return NGX_OTP_EINVAL;
    }

    dot2 = memchr(dot1 + 1, '.', (size_t) (token + len - dot1 - 1));
    if (dot2 == NULL) {
        return NGX_OTP_EINVAL;
    }

    claims = ngx_otp_jwt_load(dot1 + 1, (size_t) (dot2 - dot1 - 1));
    if (claims == NULL) {
        return NGX_OTP_EINVAL;
    }

    v = json_object_get(claims, name);

    if (!json_is_string(v)) {
        rc = NGX_OTP_EINVAL;
        goto done;
    }

    n = json_string_length(v);

    if (n > cap) {
        rc = NGX_OTP_ETOOBIG;
        goto done;
    }

    memcpy(buf, json_string_value(v), n);
    *out_len = n;
    rc = NGX_OTP_OK;

done:

    json_decref(claims);

    return rc;
}


/* the member order is part of the format: tests compare whole tokens */

static int
ngx_otp_jwt_encode_header(const ngx_otp_jwt_claims_t *claims, u_char *buf,
    size_t cap, size_t *len)
{
    int      rc;
    json_t  *h;

    h = json_object();
    if (h == NULL) {
        return NGX_OTP_ERROR;
    }

    rc = ngx_otp_jwt_set_string(h, "alg", (const u_char *) "HS256", 5);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_set_string(h, "typ", (const u_char *) "JWT", 3);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_set_string(h, "kid", claims->kid, claims->kid_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_dump(h, buf, cap, len);

done:

    json_decref(h);

    return rc;
}


static int
ngx_otp_jwt_encode_claims(const ngx_otp_jwt_claims_t *claims, u_char *buf,
    size_t cap, size_t *len)
{
    int      rc;
    json_t  *c;

    c = json_object();
    if (c == NULL) {
        return NGX_OTP_ERROR;
    }

    rc = ngx_otp_jwt_set_string(c, "sub", claims->sub, claims->sub_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    if (json_object_set_new(c, "iat", json_integer(claims->iat)) != 0
        || json_object_set_new(c, "exp", json_integer(claims->exp)) != 0)
    {
        rc = NGX_OTP_ERROR;
        goto done;
    }

    rc = ngx_otp_jwt_set_string(c, "jti", claims->jti, claims->jti_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_set_string(c, "iss", claims->iss, claims->iss_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_set_string(c, "aud", claims->aud, claims->aud_len);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    rc = ngx_otp_jwt_dump(c, buf, cap, len);

done:

    json_decref(c);

    return rc;
}


/* an empty value means the member is absent */

static int
ngx_otp_jwt_set_string(json_t *obj, const char *name, const u_char *s,
    size_t len)
{
    json_t  *v;

    if (s == NULL || len == 0) {
        return NGX_OTP_OK;
    }

    /*
     * jansson would escape a NUL as \u0000, which verify refuses; and it
     * refuses invalid UTF-8 itself.  Both fail here rather than yield a
     * token that never verifies.
     */

    if (memchr(s, '\0', len) != NULL) {
        return NGX_OTP_EINVAL;
    }

    v = json_stringn((const char *) s, len);
    if (v == NULL) {
        return NGX_OTP_EINVAL;
    }

    if (json_object_set_new(obj, name, v) != 0) {
        return NGX_OTP_ERROR;
    }

    return NGX_OTP_OK;
}


static int
ngx_otp_jwt_dump(json_t *obj, u_char *buf, size_t cap, size_t *len)
{
    size_t  n;

    *len = 0;

    n = json_dumpb(obj, (char *) buf, cap,
                   JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (n == 0) {
        return NGX_OTP_ERROR;
    }

    if (n > cap) {
        return NGX_OTP_ETOOBIG;
    }

    *len = n;

    return NGX_OTP_OK;
}


/*
 * Decodes and parses one part; NULL unless it is a JSON object.  A member
 * given twice is refused: other verifiers may read the other one.  NULs
 * are refused by jansson by default, so no claim hides one.
 */

static json_t *
ngx_otp_jwt_load(const u_char *src, size_t len)
{
    u_char        buf[NGX_OTP_JWT_PART_MAX];
    size_t        n;
    json_t       *obj;
    json_error_t  err;

    if (ngx_otp_base64url_decode(buf, sizeof(buf), &n, src, len)
        != NGX_OTP_OK)
    {
        return NULL;
    }

    obj = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, &err);

    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


static int
ngx_otp_jwt_check_header(json_t *header, const ngx_otp_jwt_key_t *keys,
    size_t nkeys, const ngx_otp_jwt_key_t **key)
{
    size_t   i;
    json_t  *kid;

    /*
     * Only HS256: "none" would make the signature optional, and an
     * asymmetric alg would have the HMAC key used as a public key.
     */

    if (!ngx_otp_jwt_string_is(json_object_get(header, "alg"),
                               (const u_char *) "HS256", 5))
    {
        return NGX_OTP_EINVAL;
    }

    /* no extension is understood, so none marked critical can be (7.2) */

    if (json_object_get(header, "crit") != NULL) {
        return NGX_OTP_EINVAL;
    }

    kid = json_object_get(header, "kid");

    if (kid == NULL) {
        *key = &keys[0];

    } else {
        if (!json_is_string(kid)) {
            return NGX_OTP_EINVAL;
        }

        *key = NULL;

        for (i = 0; i < nkeys; i++) {
            if (ngx_otp_jwt_string_is(kid, keys[i].kid, keys[i].kid_len)) {
                *key = &keys[i];
                break;
            }
        }

        if (*key == NULL) {
            return NGX_OTP_ECLAIM;
        }
    }

    /* a misconfigured key is the server's fault, not the token's */

    if ((*key)->key == NULL || (*key)->key_len < NGX_OTP_SECRET_MIN_LEN) {
        return NGX_OTP_ERROR;
    }

    return NGX_OTP_OK;
}


static int
ngx_otp_jwt_check_claims(json_t *claims, int64_t now, int64_t leeway,
    const u_char *iss, size_t iss_len, const u_char *aud, size_t aud_len)
{
    size_t    i;
    json_t   *v;
    int64_t   t;
    uint64_t  slack;

    if (leeway < 0) {
        leeway = 0;
    }

    slack = (uint64_t) leeway;

    /*
     * Differences are taken in unsigned arithmetic, where they are exact
     * for any two int64_t in order, so that no claim can overflow them.
     */

    v = json_object_get(claims, "exp");
    if (!json_is_integer(v)) {
        return NGX_OTP_EINVAL;
    }

    t = json_integer_value(v);

    if (t <= now && (uint64_t) now - (uint64_t) t >= slack) {
        return NGX_OTP_EEXPIRED;
    }

    v = json_object_get(claims, "nbf");

    if (v != NULL) {
        if (!json_is_integer(v)) {
            return NGX_OTP_EINVAL;
        }

        t = json_integer_value(v);

        if (t > now && (uint64_t) t - (uint64_t) now > slack) {
            return NGX_OTP_ECLAIM;
        }
    }

    if (iss != NULL && iss_len > 0
        && !ngx_otp_jwt_string_is(json_object_get(claims, "iss"), iss,
                                  iss_len))
    {
        return NGX_OTP_ECLAIM;
    }

    if (aud == NULL || aud_len == 0) {
        return NGX_OTP_OK;
    }

    /* RFC 7519 4.1.3: one audience, or an array of them */

    v = json_object_get(claims, "aud");

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++) {
            if (ngx_otp_jwt_string_is(json_array_get(v, i), aud, aud_len)) {
                return NGX_OTP_OK;
            }
        }

        return NGX_OTP_ECLAIM;
    }

    if (!ngx_otp_jwt_string_is(v, aud, aud_len)) {
        return NGX_OTP_ECLAIM;
    }

    return NGX_OTP_OK;
}


static int
ngx_otp_jwt_string_is(json_t *v, const u_char *s, size_t len)
{
    if (!json_is_string(v) || json_string_length(v) != len) {
        return 0;
    }

    return len == 0 || memcmp(json_string_value(v), s, len) == 0;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Webhook signatures: Twilio's X-Twilio-Signature, the X-Hub-Signature-256
 * of Meta (and GitHub), and Standard Webhooks (webhook-id, -timestamp,
 * -signature).  Pure functions over the bytes the glue hands in; every
 * comparison of a computed MAC with a received one is constant-time.
 */


#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ngx_otp_core.h"


#define NGX_OTP_SHA1_LEN            20
#define NGX_OTP_TWILIO_SIG_LEN      28      /* base64 of 20 bytes */
#define NGX_OTP_STDWH_SIG_LEN       44      /* base64 of 32 bytes */
#define NGX_OTP_STDWH_KEY_MAX       256     /* decoded secret, bytes */
#define NGX_OTP_STDWH_ID_MAX        256
#define NGX_OTP_STDWH_TS_MAX        18      /* digits: no int64 overflow */

#define NGX_OTP_HUB_PREFIX          "sha256="
#define NGX_OTP_STDWH_PREFIX        "whsec_"


typedef struct {
    const u_char   *name;
    size_t          name_len;
    const u_char   *value;
    size_t          value_len;
} ngx_otp_sig_param_t;


/* a Twilio request made ready for signing */

typedef struct {
    const u_char          *url;
    size_t                 url_len;

    /* the URL again with its port removed or the default port added */
    u_char                 other[NGX_OTP_SIG_URL_MAX + sizeof(":65535")];
    size_t                 other_len;

    ngx_otp_sig_param_t    params[NGX_OTP_SIG_MAX_PARAMS];
    size_t                 nparams;
    u_char                *scratch;

    unsigned               json:1;      /* bodySHA256 in the query */
    unsigned               body_ok:1;   /* its hash matches the body */
} ngx_otp_twilio_req_t;


static int ngx_otp_twilio_prepare(ngx_otp_twilio_req_t *r, const u_char *url,
    size_t url_len, const u_char *body, size_t body_len, int variant);
static int ngx_otp_twilio_other_url(ngx_otp_twilio_req_t *r);
static int ngx_otp_twilio_query(ngx_otp_twilio_req_t *r,
    const u_char **hash, size_t *hash_len);
static int ngx_otp_twilio_form(ngx_otp_twilio_req_t *r, const u_char *body,
    size_t len);
static int ngx_otp_sig_param_cmp(const void *one, const void *two);
static int ngx_otp_twilio_compute(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const ngx_otp_twilio_req_t *r,
    u_char out[NGX_OTP_TWILIO_SIG_LEN]);


int
ngx_otp_twilio_validate(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const u_char *body, size_t body_len,
    const u_char *sig, size_t sig_len)
{
    int                    rc, match;
    u_char                 mine[NGX_OTP_TWILIO_SIG_LEN];
    ngx_otp_twilio_req_t  *r;

    r = malloc(sizeof(ngx_otp_twilio_req_t));
    if (r == NULL) {
        return NGX_OTP_ERROR;
    }

    rc = ngx_otp_twilio_prepare(r, url, url_len, body, body_len, 1);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    /*
     * An empty auth token is a configuration fault; an HMAC under it
     * anyone could compute, so nothing is accepted (fail closed).
     */

    if (token_len == 0 || sig_len != NGX_OTP_TWILIO_SIG_LEN) {
        rc = NGX_OTP_ESIG;
        goto done;
    }

    /* both variants are always computed: the time says nothing of which */

    match = 0;

    rc = ngx_otp_twilio_compute(token, token_len, r->url, r->url_len, r,
                                mine);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    match |= ngx_otp_ct_equal(mine, sig, NGX_OTP_TWILIO_SIG_LEN);

    rc = ngx_otp_twilio_compute(token, token_len, r->other, r->other_len, r,
                                mine);
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    match |= ngx_otp_ct_equal(mine, sig, NGX_OTP_TWILIO_SIG_LEN);

    rc = (match && r->body_ok) ? NGX_OTP_OK : NGX_OTP_ESIG;

done:

    free(r->scratch);
    free(r);

    return rc;
}


int
ngx_otp_twilio_sign(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const u_char *body, size_t body_len,
    u_char out[28])
{
    int                    rc;
    ngx_otp_twilio_req_t  *r;

    r = malloc(sizeof(ngx_otp_twilio_req_t));
    if (r == NULL) {
        return NGX_OTP_ERROR;
    }

    rc = ngx_otp_twilio_prepare(r, url, url_len, body, body_len, 0);

    if (rc == NGX_OTP_OK) {
        rc = ngx_otp_twilio_compute(token, token_len, url, url_len, r, out);
    }

    free(r->scratch);
    free(r);

    return rc;
}


/*
 * Reads the URL (and with variant its other form) and the parameters;
 * r->scratch is always set (NULL or an allocation) for the caller to free.
 */

static int
ngx_otp_twilio_prepare(ngx_otp_twilio_req_t *r, const u_char *url,
    size_t url_len, const u_char *body, size_t body_len, int variant)
{
    int            rc;
    size_t         hash_len;
    u_char         hex[2 * NGX_OTP_HASH_LEN], got[2 * NGX_OTP_HASH_LEN];
    u_char         md[NGX_OTP_HASH_LEN];
    const u_char  *hash;
    size_t         i;

    r->scratch = NULL;
    r->url = url;
    r->url_len = url_len;
    r->nparams = 0;
    r->json = 0;
    r->body_ok = 1;

    if (url_len > NGX_OTP_SIG_URL_MAX
        || body_len > NGX_OTP_HOOK_BODY_MAX_LEN)
    {
        return NGX_OTP_ETOOBIG;
    }

    if (url_len == 0) {
        return NGX_OTP_EINVAL;
    }

    for (i = 0; i < url_len; i++) {
        if (url[i] <= ' ' || url[i] >= 0x7f) {
            return NGX_OTP_EINVAL;
        }
    }

    if (variant) {
        rc = ngx_otp_twilio_other_url(r);
        if (rc != NGX_OTP_OK) {
            return rc;
        }
    }

    rc = ngx_otp_twilio_query(r, &hash, &hash_len);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    if (!r->json) {
        return ngx_otp_twilio_form(r, body, body_len);
    }

    /*
     * A JSON body is not signed itself: the signed URL carries its hash.
     * Twilio sends it in lower case; either case is read.
     */

    if (ngx_otp_sha256(body, body_len, md) != NGX_OTP_OK) {
        return NGX_OTP_ERROR;
    }

    ngx_otp_hex_encode(hex, md, NGX_OTP_HASH_LEN);

    if (hash_len != sizeof(hex)) {
        r->body_ok = 0;
        return NGX_OTP_OK;
    }

    for (i = 0; i < hash_len; i++) {
        got[i] = (hash[i] >= 'A' && hash[i] <= 'F') ? hash[i] | 0x20
                                                     : hash[i];
    }

    r->body_ok = ngx_otp_ct_equal(hex, got, sizeof(hex));

    return NGX_OTP_OK;
}


/*
 * The URL with its port removed when it has one, or else with the
 * scheme's default port added: with the URL as given, the two forms
 * Twilio's SDK validators try (twilio-python request_validator.py
 * remove_port() and add_port()).  Twilio signs the URL it was configured
 * with, which a proxy in front may have rewritten either way.
 */

static int
ngx_otp_twilio_other_url(ngx_otp_twilio_req_t *r)
{
    size_t         scheme_len, n;
    const u_char  *url, *end, *p, *auth, *auth_end, *host, *colon;
    const char    *port;

    url = r->url;
    end = url + r->url_len;

    p = memchr(url, ':', r->url_len);

    if (p == NULL || end - p < 3 || p[1] != '/' || p[2] != '/') {
        return NGX_OTP_EINVAL;
    }

    scheme_len = (size_t) (p - url);

    if (scheme_len == 5 && strncasecmp((const char *) url, "https", 5) == 0)
    {
        port = ":443";

    } else if (scheme_len == 4
               && strncasecmp((const char *) url, "http", 4) == 0)
    {
        port = ":80";

    } else {
        return NGX_OTP_EINVAL;
    }

    auth = p + 3;

    for (auth_end = auth; auth_end < end; auth_end++) {
        if (*auth_end == '/' || *auth_end == '?' || *auth_end == '#') {
            break;
        }
    }

    /* the host starts after any userinfo */

    host = auth;

    for (p = auth; p < auth_end; p++) {
        if (*p == '@') {
            host = p + 1;
        }
    }

    if (host == auth_end) {
        return NGX_OTP_EINVAL;
    }

    p = host;

    if (*p == '[') {
        p = memchr(p, ']', (size_t) (auth_end - p));
        if (p == NULL) {
            return NGX_OTP_EINVAL;
        }

        p++;

    } else {
        while (p < auth_end && *p != ':') {
            p++;
        }
    }

    if (p == host) {
        return NGX_OTP_EINVAL;
    }

    colon = p;

    if (colon < auth_end) {
        if (*colon != ':' || auth_end - colon < 2 || auth_end - colon > 6) {
            return NGX_OTP_EINVAL;
        }

        for (p = colon + 1; p < auth_end; p++) {
            if (*p < '0' || *p > '9') {
                return NGX_OTP_EINVAL;
            }
        }

        /* the port removed */

        n = (size_t) (colon - url);
        memcpy(r->other, url, n);
        memcpy(r->other + n, auth_end, (size_t) (end - auth_end));
        r->other_len = n + (size_t) (end - auth_end);

        return NGX_OTP_OK;
    }

    /* the default port added */

    n = (size_t) (auth_end - url);
    memcpy(r->other, url, n);
    memcpy(r->other + n, port, strlen(port));
    n += strlen(port);
    memcpy(r->other + n, auth_end, (size_t) (end - auth_end));
    r->other_len = n + (size_t) (end - auth_end);

    return NGX_OTP_OK;
}


/* finds bodySHA256 in the query; given twice, the URL cannot be read */

static int
ngx_otp_twilio_query(ngx_otp_twilio_req_t *r, const u_char **hash,
    size_t *hash_len)
{
    size_t                name_len;
    const u_char         *p, *end, *hash_end;
    ngx_otp_form_pair_t   pair;

    *hash = NULL;
    *hash_len = 0;

    p = memchr(r->url, '?', r->url_len);
    if (p == NULL) {
        return NGX_OTP_OK;
    }

    p++;
    end = r->url + r->url_len;

    hash_end = memchr(p, '#', (size_t) (end - p));
    if (hash_end) {
        end = hash_end;
    }

    while (ngx_otp_form_next(&p, end, &pair)) {

        /* a pair without '=', or a name with a bad escape, is skipped */

        if (!pair.eq
            || ngx_otp_form_unescape(pair.name, pair.name_len, NULL, 0,
                                     &name_len, 0)
               != NGX_OTP_OK
            || !ngx_otp_form_name_is(pair.name, pair.name_len, "bodySHA256"))
        {
            continue;
        }

        if (r->json) {
            return NGX_OTP_EINVAL;
        }

        r->json = 1;
        *hash = pair.value;
        *hash_len = pair.value_len;
    }

    return NGX_OTP_OK;
}


/* decodes the form into r->params, sorted, repeated pairs dropped */

static int
ngx_otp_twilio_form(ngx_otp_twilio_req_t *r, const u_char *body, size_t len)
{
    int                   rc;
    size_t                i, n;
    u_char               *s;
    const u_char         *p;
    ngx_otp_sig_param_t  *a;
    ngx_otp_form_pair_t   pair;

    if (len == 0) {
        return NGX_OTP_OK;
    }

    /* decoding never lengthens: every name and value fits body's size */

    r->scratch = malloc(len);
    if (r->scratch == NULL) {
        return NGX_OTP_ERROR;
    }

    s = r->scratch;
    n = 0;
    p = body;

    while (ngx_otp_form_next(&p, body + len, &pair)) {

        if (n == NGX_OTP_SIG_MAX_PARAMS) {
            return NGX_OTP_ETOOBIG;
        }

        a = &r->params[n++];

        rc = ngx_otp_form_unescape(pair.name, pair.name_len, s,
                                   (size_t) (r->scratch + len - s),
                                   &a->name_len, 0);
        if (rc != NGX_OTP_OK) {
            return rc;
        }

        a->name = s;
        s += a->name_len;

        rc = ngx_otp_form_unescape(pair.value, pair.value_len, s,
                                   (size_t) (r->scratch + len - s),
                                   &a->value_len, 0);
        if (rc != NGX_OTP_OK) {
            return rc;
        }

        a->value = s;
        s += a->value_len;
    }

    qsort(r->params, n, sizeof(ngx_otp_sig_param_t), ngx_otp_sig_param_cmp);

    /* a name's values each once: as the SDKs' sorted(set(values)) */

    r->nparams = 0;

    for (i = 0; i < n; i++) {
        if (r->nparams
            && ngx_otp_sig_param_cmp(&r->params[r->nparams - 1],
                                     &r->params[i])
               == 0)
        {
            continue;
        }

        r->params[r->nparams++] = r->params[i];
    }

    return NGX_OTP_OK;
}


/* by name, then value, bytewise (which for UTF-8 is code point order) */

static int
ngx_otp_sig_param_cmp(const void *one, const void *two)
{
    int                         rc;
    size_t                      n;
    const ngx_otp_sig_param_t  *a, *b;

    a = one;
    b = two;

    n = a->name_len < b->name_len ? a->name_len : b->name_len;
    rc = n ? memcmp(a->name, b->name, n) : 0;

    if (rc != 0 || a->name_len != b->name_len) {
        return rc ? rc : (a->name_len < b->name_len ? -1 : 1);
    }

    n = a->value_len < b->value_len ? a->value_len : b->value_len;
    rc = n ? memcmp(a->value, b->value, n) : 0;

    if (rc != 0 || a->value_len != b->value_len) {
        return rc ? rc : (a->value_len < b->value_len ? -1 : 1);
    }

    return 0;
}


static int
ngx_otp_twilio_compute(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const ngx_otp_twilio_req_t *r,
    u_char out[NGX_OTP_TWILIO_SIG_LEN])
{
    int                   rc;
    size_t                i, n;
    u_char                mac[NGX_OTP_SHA1_LEN];
    ngx_otp_hmac_part_t  *parts;

    parts = malloc((1 + 2 * r->nparams) * sizeof(ngx_otp_hmac_part_t));
    if (parts == NULL) {
        return NGX_OTP_ERROR;
    }

    parts[0].data = url;
    parts[0].len = url_len;
    n = 1;

    for (i = 0; i < r->nparams; i++) {
        parts[n].data = r->params[i].name;
        parts[n++].len = r->params[i].name_len;
        parts[n].data = r->params[i].value;
        parts[n++].len = r->params[i].value_len;
    }

    rc = ngx_otp_hmac("SHA1", token, token_len, parts, n, mac, sizeof(mac));

    free(parts);

    if (rc == NGX_OTP_OK) {
        (void) ngx_otp_base64_encode(out, mac, sizeof(mac));
    }

    return rc;
}


int
ngx_otp_hub_validate(const u_char *secret, size_t secret_len,
    const u_char *body, size_t body_len, const u_char *header,
    size_t header_len)
{
    size_t  i, plen;
    u_char  mac[NGX_OTP_HASH_LEN], hex[2 * NGX_OTP_HASH_LEN];
    u_char  got[2 * NGX_OTP_HASH_LEN];

    plen = sizeof(NGX_OTP_HUB_PREFIX) - 1;

    /* an empty secret is a configuration fault: nothing passes */

    if (secret_len == 0
        || header_len != plen + sizeof(hex)
        || memcmp(header, NGX_OTP_HUB_PREFIX, plen) != 0)
    {
        return NGX_OTP_ESIG;
    }

    if (ngx_otp_hmac_sha256(secret, secret_len, body, body_len, mac)
        != NGX_OTP_OK)
    {
        return NGX_OTP_ESIG;
    }

    ngx_otp_hex_encode(hex, mac, sizeof(mac));

    for (i = 0; i < sizeof(got); i++) {
        got[i] = header[plen + i];

        if (got[i] >= 'A' && got[i] <= 'F') {
            got[i] |= 0x20;
        }
    }

    return ngx_otp_ct_equal(hex, got, sizeof(hex)) ? NGX_OTP_OK
                                                   : NGX_OTP_ESIG;
}


/*
 * The MAC of "<id>.<ts>.<body>" under the secret ("whsec_" optional),
 * base64 into mine: NGX_OTP_EINVAL for a secret, id or timestamp that
 * cannot be read, as the validation and the signing both say.
 */

static int
ngx_otp_stdwh_mac(const u_char *secret, size_t secret_len,
    const u_char *id, size_t id_len, const u_char *ts, size_t ts_len,
    const u_char *body, size_t body_len, int64_t *time,
    u_char mine[NGX_OTP_STDWH_SIG_LEN])
{
    int                  rc;
    size_t               i, key_len, plen;
    int64_t              t;
    u_char               key[NGX_OTP_STDWH_KEY_MAX];
    u_char               mac[NGX_OTP_HASH_LEN];
    ngx_otp_hmac_part_t  parts[5];

    plen = sizeof(NGX_OTP_STDWH_PREFIX) - 1;

    if (secret_len >= plen
        && memcmp(secret, NGX_OTP_STDWH_PREFIX, plen) == 0)
    {
        secret += plen;
        secret_len -= plen;
    }

    if (ngx_otp_base64_decode(key, sizeof(key), &key_len, secret,
                              secret_len)
        != NGX_OTP_OK
        || key_len == 0)
    {
        OPENSSL_cleanse(key, sizeof(key));
        return NGX_OTP_EINVAL;
    }

    rc = NGX_OTP_EINVAL;

    /* the id and timestamp are signed between dots: neither holds one */

    if (id_len == 0 || id_len > NGX_OTP_STDWH_ID_MAX) {
        goto done;
    }

    for (i = 0; i < id_len; i++) {
        if (id[i] < '!' || id[i] > '~' || id[i] == '.') {
            goto done;
        }
    }

    if (ts_len == 0 || ts_len > NGX_OTP_STDWH_TS_MAX) {
        goto done;
    }

    t = 0;

    for (i = 0; i < ts_len; i++) {
        if (ts[i] < '0' || ts[i] > '9') {
            goto done;
        }

        t = t * 10 + (ts[i] - '0');
    }

    *time = t;

    parts[0].data = id;
    parts[0].len = id_len;
    parts[1].data = (const u_char *) ".";
    parts[1].len = 1;
    parts[2].data = ts;
    parts[2].len = ts_len;
    parts[3].data = (const u_char *) ".";
    parts[3].len = 1;
    parts[4].data = body;
    parts[4].len = body_len;

    rc = ngx_otp_hmac("SHA256", key, key_len, parts, 5, mac, sizeof(mac));
    if (rc != NGX_OTP_OK) {
        goto done;
    }

    (void) ngx_otp_base64_encode(mine, mac, sizeof(mac));

done:

    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(mac, sizeof(mac));

    return rc;
}


int
ngx_otp_stdwh_sign(const u_char *secret, size_t secret_len,
    const u_char *id, size_t id_len, const u_char *ts, size_t ts_len,
    const u_char *body, size_t body_len, u_char out[NGX_OTP_STDWH_HEADER_LEN])
{
    int      rc;
    int64_t  t;

    rc = ngx_otp_stdwh_mac(secret, secret_len, id, id_len, ts, ts_len, body,
                           body_len, &t, out + 3);

    if (rc == NGX_OTP_OK) {
        memcpy(out, "v1,", 3);
    }

    return rc;
}


int
ngx_otp_stdwh_validate(const u_char *secret, size_t secret_len,
    const u_char *id, size_t id_len, const u_char *ts, size_t ts_len,
    const u_char *sigs, size_t sigs_len, const u_char *body,
    size_t body_len, time_t now, time_t tolerance)
{
    int            rc, match;
    int64_t        t, diff;
    u_char         mine[NGX_OTP_STDWH_SIG_LEN];
    const u_char  *p, *end, *tok;

    rc = ngx_otp_stdwh_mac(secret, secret_len, id, id_len, ts, ts_len, body,
                           body_len, &t, mine);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    /*
     * Several signatures may be given while a secret is rotated; each
     * "v1," entry is compared in full, other versions are skipped.
     */

    match = 0;
    end = sigs + sigs_len;

    for (p = sigs; p < end; /* void */ ) {

        if (*p == ' ') {
            p++;
            continue;
        }

        tok = p;

        while (p < end && *p != ' ') {
            p++;
        }

        if ((size_t) (p - tok) == 3 + NGX_OTP_STDWH_SIG_LEN
            && memcmp(tok, "v1,", 3) == 0)
        {
            match |= ngx_otp_ct_equal(mine, tok + 3, NGX_OTP_STDWH_SIG_LEN);
        }
    }

    if (!match) {
        return NGX_OTP_ESIG;
    }

    /*
     * The time is checked after the signature, so that EEXPIRED says a
     * genuine message came too late (a replay, or a clock off), never
     * anything about a forged one.
     */

    diff = (int64_t) now - t;

    if (diff < 0) {
        diff = -diff;
    }

    return (tolerance >= 0 && diff <= (int64_t) tolerance)
           ? NGX_OTP_OK : NGX_OTP_EEXPIRED;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_signature.c: every case of the published vectors in
 * t/unit/vectors.json (a copy of /work/shared/test-vectors.json; t/00-unit.t
 * checks the two agree), read here with jansson, and the ways a forged or
 * altered request must fail under each scheme.
 */


#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define TW_TOKEN     "12345"
#define TW_URL       "https://mycompany.com/myapp.php?foo=1&bar=2"


static json_t  *vectors;


static const char *
str(json_t *o, const char *key)
{
    const char  *s;

    s = json_string_value(json_object_get(o, key));

    if (s == NULL) {
        tap_diag("vectors.json: no string \"%s\"", key);
        s = "";
    }

    return s;
}


static json_t *
load_vectors(const char *argv0)
{
    char          path[4096], *copy;
    json_t       *root;
    json_error_t  err;

    /* next to the test's source: t/unit/build/test_signature -> t/unit */

    copy = strdup(argv0);
    if (copy == NULL) {
        return NULL;
    }

    snprintf(path, sizeof(path), "%s/../vectors.json", dirname(copy));
    free(copy);

    root = json_load_file(path, 0, &err);

    if (root == NULL) {
        root = json_load_file("vectors.json", 0, &err);
    }

    if (root == NULL) {
        root = json_load_file("t/unit/vectors.json", 0, &err);
    }

    return root;
}


/* appends name=value to a form body, value percent-encoded */

static size_t
form_add(u_char *body, size_t len, const char *name, const char *value)
{
    if (len) {
        body[len++] = '&';
    }

    memcpy(body + len, name, strlen(name));
    len += strlen(name);
    body[len++] = '=';

    return len + ngx_otp_form_escape(body + len, (const u_char *) value,
                                     strlen(value));
}


/* params {"name": "value"} or {"name": ["v1", "v2"]} as a form body */

static size_t
form_from(json_t *params, u_char *body)
{
    size_t       len, i;
    json_t      *v, *item;
    const char  *name;

    len = 0;

    json_object_foreach(params, name, v) {
        if (json_is_array(v)) {
            json_array_foreach(v, i, item) {
                len = form_add(body, len, name, json_string_value(item));
            }

        } else {
            len = form_add(body, len, name, json_string_value(v));
        }
    }

    return len;
}


static int
tw(const char *token, const char *url, const u_char *body, size_t len,
    const char *sig)
{
    return ngx_otp_twilio_validate((const u_char *) token, strlen(token),
                                   (const u_char *) url, strlen(url),
                                   body, len, (const u_char *) sig,
                                   sig ? strlen(sig) : 0);
}


static int
tws(const char *url, const char *body)
{
    return tw(TW_TOKEN, url, (const u_char *) body, strlen(body), NULL);
}


static void
test_twilio_vectors(void)
{
    int          rc;
    size_t       len, i;
    u_char       body[4096], sig[28];
    json_t      *t, *cases, *c, *mv, *jb;
    const char  *url, *token;

    t = json_object_get(vectors, "twilio_request_validator");
    token = str(t, "auth_token");
    cases = json_object_get(t, "cases");

    ok(json_array_size(cases) >= 6, "twilio: %zu cases in vectors.json",
       json_array_size(cases));

    len = form_from(json_object_get(t, "params"), body);

    json_array_foreach(cases, i, c) {
        url = str(c, "url");

        rc = tw(token, url, body, len, str(c, "signature"));

        is_int(rc, json_is_true(json_object_get(c, "valid")) ? NGX_OTP_OK
                                                             : NGX_OTP_ESIG,
               "twilio case %zu: %s %s", i, url,
               json_is_true(json_object_get(c, "valid")) ? "valid"
                                                         : "invalid");
    }

    /* the signature itself, for the URL as given */

    c = json_array_get(cases, 0);
    url = str(c, "url");

    is_int(ngx_otp_twilio_sign((const u_char *) token, strlen(token),
                               (const u_char *) url, strlen(url), body, len,
                               sig),
           NGX_OTP_OK, "twilio sign: OK");
    is_mem(sig, 28, str(c, "signature"), 28, "twilio sign: the signature");

    /* the negative cases, against case 0 */

    is_int(tw("12346", url, body, len, str(c, "signature")), NGX_OTP_ESIG,
           "twilio: wrong token");
    is_int(tw("", url, body, len, str(c, "signature")), NGX_OTP_ESIG,
           "twilio: an empty token accepts nothing");
    is_int(tw(token, url, body, len, NULL), NGX_OTP_ESIG,
           "twilio: empty signature");
    is_int(tw(token, url, body, len, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
           NGX_OTP_ESIG, "twilio: signature one character short");
    is_int(tw(token, url, body, len, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="),
           NGX_OTP_ESIG, "twilio: signature one character long");
    is_int(tw(token, "https://mycompany.com/myapp.php?foo=1&bar=3", body,
              len, str(c, "signature")),
           NGX_OTP_ESIG, "twilio: other query");
    is_int(tw(token, "https://mycompany.com/myapp2.php?foo=1&bar=2", body,
              len, str(c, "signature")),
           NGX_OTP_ESIG, "twilio: other path");
    is_int(tw(token, "https://evil.com/myapp.php?foo=1&bar=2", body, len,
              str(c, "signature")),
           NGX_OTP_ESIG, "twilio: other host");
    is_int(tw(token, "http://mycompany.com/myapp.php?foo=1&bar=2", body,
              len, str(c, "signature")),
           NGX_OTP_ESIG, "twilio: other scheme");
    is_int(tw(token, "https://mycompany.com:443/myapp.php?foo=1&bar=2", body,
              len, str(c, "signature")),
           NGX_OTP_OK, "twilio: signed without the port, called with :443");
    is_int(tw(token, url, body, len - 1, str(c, "signature")), NGX_OTP_ESIG,
           "twilio: a parameter's value cut short");

    memcpy(body + len, "&Extra=1", 8);
    is_int(tw(token, url, body, len + 8, str(c, "signature")), NGX_OTP_ESIG,
           "twilio: an extra parameter");
    memcpy(body + len, "&Digits=1234", 12);
    is_int(tw(token, url, body, len + 12, str(c, "signature")), NGX_OTP_OK,
           "twilio: a pair given again changes nothing (values de-duplicated)");
    memcpy(body + len, "&Digits=1235", 12);
    is_int(tw(token, url, body, len + 12, str(c, "signature")), NGX_OTP_ESIG,
           "twilio: a second value for a parameter");

    /* a tampered parameter: one digit of "Digits=1234" */

    body[len] = '\0';
    {
        u_char  *d = (u_char *) strstr((char *) body, "Digits=1234");

        ok(d != NULL, "twilio: the body has Digits=1234");

        if (d) {
            d[7] = '9';
            is_int(tw(token, url, body, len, str(c, "signature")),
                   NGX_OTP_ESIG, "twilio: a tampered parameter");
            d[7] = '1';
        }
    }

    /* multi_value_case */

    mv = json_object_get(t, "multi_value_case");
    len = form_from(json_object_get(mv, "params"), body);
    url = str(mv, "url");

    is_int(tw(token, url, body, len, str(mv, "signature")), NGX_OTP_OK,
           "twilio multi_value_case: valid");
    is_int(ngx_otp_twilio_sign((const u_char *) token, strlen(token),
                               (const u_char *) url, strlen(url), body, len,
                               sig),
           NGX_OTP_OK, "twilio multi_value_case: sign");
    is_mem(sig, 28, str(mv, "signature"), 28,
           "twilio multi_value_case: signature (%s)", str(mv, "signed_tail"));

    /* the same, the values in another order */

    is_int(tws(url, "Digits=5678&Sid=CA123&Digits=1234&SidAccount=AC123"
               "&Digits=1234"),
           NGX_OTP_ESIG, "twilio multi_value_case: unsigned is ESIG");
    is_int(tw(token, url,
              (const u_char *) "Digits=1234&SidAccount=AC123&Digits=5678"
              "&Sid=CA123", 50, str(mv, "signature")),
           NGX_OTP_OK, "twilio multi_value_case: another order, same");
    is_int(tw(token, url,
              (const u_char *) "Digits=1234&SidAccount=AC123&Sid=CA123", 38,
              str(mv, "signature")),
           NGX_OTP_ESIG, "twilio multi_value_case: a value left out");

    /* json_body_case */

    jb = json_object_get(t, "json_body_case");
    url = str(jb, "url");
    memcpy(body, str(jb, "body"), strlen(str(jb, "body")));
    len = strlen(str(jb, "body"));

    is_int(tw(token, url, body, len, str(jb, "signature")), NGX_OTP_OK,
           "twilio json_body_case: valid");

    for (i = 0; i < len; i++) {
        body[i] ^= 0x01;
        rc = tw(token, url, body, len, str(jb, "signature"));
        body[i] ^= 0x01;

        if (rc != NGX_OTP_ESIG) {
            break;
        }
    }

    is_int(i, len, "twilio json_body_case: each changed body byte fails");

    is_int(tw(token, url, body, len - 1, str(jb, "signature")),
           NGX_OTP_ESIG, "twilio json_body_case: body cut short");
    is_int(tw("54321", url, body, len, str(jb, "signature")), NGX_OTP_ESIG,
           "twilio json_body_case: wrong token");

    {
        /* the hash in upper case is the same hash */

        char  up[512];

        snprintf(up, sizeof(up), "%s", url);

        for (i = strlen(up) - 64; up[i]; i++) {
            if (up[i] >= 'a' && up[i] <= 'f') {
                up[i] -= 0x20;
            }
        }

        is_int(ngx_otp_twilio_sign((const u_char *) token, strlen(token),
                                   (const u_char *) up, strlen(up), body,
                                   len, sig),
               NGX_OTP_OK, "twilio bodySHA256 upper case: sign");
        is_int(tw(token, up, body, len, (const char *) memcpy(up + 300, sig,
                                                             28)),
               NGX_OTP_OK, "twilio bodySHA256 upper case: valid");
    }
}


static void
test_twilio_input(void)
{
    size_t   i, len;
    u_char   sig1[28], sig2[28], *big;
    char     url[NGX_OTP_SIG_URL_MAX + 2];

    /* decoding: '+' and %20 are the same space, %21 is '!' */

    is_int(ngx_otp_twilio_sign((const u_char *) TW_TOKEN, 5,
                               (const u_char *) TW_URL, strlen(TW_URL),
                               (const u_char *) "Body=Hello+World%21", 19,
                               sig1),
           NGX_OTP_OK, "twilio sign: '+' form");
    is_int(ngx_otp_twilio_sign((const u_char *) TW_TOKEN, 5,
                               (const u_char *) TW_URL, strlen(TW_URL),
                               (const u_char *) "Body=Hello%20World!", 19,
                               sig2),
           NGX_OTP_OK, "twilio sign: '%%20' form");
    is_mem(sig1, 28, sig2, 28, "twilio: the decoded values are signed");

    is_int(tws(TW_URL, "Body=%2"), NGX_OTP_EINVAL, "twilio: bad escape");
    is_int(tws(TW_URL, "Bo%zzdy=1"), NGX_OTP_EINVAL,
           "twilio: bad escape in a name");
    is_int(tws("ftp://mycompany.com/x", "a=1"), NGX_OTP_EINVAL,
           "twilio: ftp URL");
    is_int(tws("mycompany.com/x", "a=1"), NGX_OTP_EINVAL,
           "twilio: URL without a scheme");
    is_int(tws("https://mycompany.com:44x3/x", "a=1"), NGX_OTP_EINVAL,
           "twilio: URL with a bad port");
    is_int(tws("https:///x", "a=1"), NGX_OTP_EINVAL,
           "twilio: URL without a host");
    is_int(tws("https://mycompany.com/a b", "a=1"), NGX_OTP_EINVAL,
           "twilio: URL with a space");
    is_int(tws("", "a=1"), NGX_OTP_EINVAL, "twilio: empty URL");
    is_int(tws(TW_URL "&bodySHA256=00&bodySHA256=00", ""), NGX_OTP_EINVAL,
           "twilio: bodySHA256 twice");
    is_int(tws("https://[::1]:8443/x?y", "a=1"), NGX_OTP_ESIG,
           "twilio: IPv6 host with a port is read");
    is_int(tws("https://user:pw@host/x", "a=1"), NGX_OTP_ESIG,
           "twilio: userinfo is read");

    memset(url, 'a', sizeof(url));
    memcpy(url, "https://x/", 10);
    url[NGX_OTP_SIG_URL_MAX + 1] = '\0';
    is_int(tws(url, "a=1"), NGX_OTP_ETOOBIG, "twilio: URL over the limit");
    url[NGX_OTP_SIG_URL_MAX] = '\0';
    is_int(tws(url, "a=1"), NGX_OTP_ESIG, "twilio: URL at the limit");

    big = malloc(NGX_OTP_HOOK_BODY_MAX_LEN + 1);

    if (big) {
        memset(big, 'a', NGX_OTP_HOOK_BODY_MAX_LEN + 1);
        is_int(tw(TW_TOKEN, TW_URL, big, NGX_OTP_HOOK_BODY_MAX_LEN + 1, "x"),
               NGX_OTP_ETOOBIG, "twilio: body over the limit");
        is_int(tw(TW_TOKEN, TW_URL, big, NGX_OTP_BODY_MAX_LEN + 1, "x"),
               NGX_OTP_ESIG, "twilio: a body over the API's limit is read");

        len = 0;

        for (i = 0; i <= NGX_OTP_SIG_MAX_PARAMS; i++) {
            len += (size_t) sprintf((char *) big + len, "%sp%zu=1",
                                    i ? "&" : "", i);
        }

        is_int(tw(TW_TOKEN, TW_URL, big, len, "x"), NGX_OTP_ETOOBIG,
               "twilio: %d parameters", NGX_OTP_SIG_MAX_PARAMS + 1);

        len = (size_t) (strrchr((char *) big, '&') - (char *) big);
        is_int(tw(TW_TOKEN, TW_URL, big, len, "x"), NGX_OTP_ESIG,
               "twilio: %d parameters are read", NGX_OTP_SIG_MAX_PARAMS);

        free(big);
    }
}


static int
hub(const char *secret, const char *body, const char *header)
{
    return ngx_otp_hub_validate((const u_char *) secret, strlen(secret),
                                (const u_char *) body, strlen(body),
                                (const u_char *) header, strlen(header));
}


static void
test_hub(void)
{
    char         up[128];
    size_t       i;
    json_t      *h;
    const char  *secret, *payload, *header;

    h = json_object_get(vectors, "hub_signature_256");
    secret = str(h, "secret");
    payload = str(h, "payload");
    header = str(h, "header");

    is_int(hub(secret, payload, header), NGX_OTP_OK, "hub: the vector");

    snprintf(up, sizeof(up), "%s", header);

    for (i = 7; up[i]; i++) {
        if (up[i] >= 'a' && up[i] <= 'f') {
            up[i] -= 0x20;
        }
    }

    is_int(hub(secret, payload, up), NGX_OTP_OK, "hub: upper-case hex");

    is_int(hub("It's a Secret to Everybody!", payload, header), NGX_OTP_ESIG,
           "hub: wrong secret");
    is_int(hub("", payload, header), NGX_OTP_ESIG,
           "hub: an empty secret accepts nothing");
    is_int(hub(secret, "Hello, World?", header), NGX_OTP_ESIG,
           "hub: tampered body");
    is_int(hub(secret, "Hello, World! ", header), NGX_OTP_ESIG,
           "hub: a byte added to the body");
    is_int(hub(secret, payload, ""), NGX_OTP_ESIG, "hub: missing header");
    is_int(hub(secret, payload, header + 7), NGX_OTP_ESIG,
           "hub: hex without sha256=");

    up[0] = 'S';
    is_int(hub(secret, payload, up), NGX_OTP_ESIG, "hub: SHA256= prefix");

    snprintf(up, sizeof(up), "%.*s", (int) strlen(header) - 1, header);
    is_int(hub(secret, payload, up), NGX_OTP_ESIG, "hub: one hex digit short");

    snprintf(up, sizeof(up), "%s0", header);
    is_int(hub(secret, payload, up), NGX_OTP_ESIG, "hub: one hex digit more");

    snprintf(up, sizeof(up), "sha1=%s", header + 7);
    is_int(hub(secret, payload, up), NGX_OTP_ESIG, "hub: sha1=");
}


static int
wh(const char *secret, const char *id, const char *ts, const char *sigs,
    const char *body, time_t now, time_t tolerance)
{
    return ngx_otp_stdwh_validate((const u_char *) secret, strlen(secret),
                                  (const u_char *) id, strlen(id),
                                  (const u_char *) ts, strlen(ts),
                                  (const u_char *) sigs, strlen(sigs),
                                  (const u_char *) body, strlen(body),
                                  now, tolerance);
}


static void
test_stdwh(void)
{
    char         ts[32], sigs[512], other[64];
    time_t       t;
    json_t      *w;
    const char  *secret, *id, *payload, *sig;

    w = json_object_get(vectors, "standard_webhooks");
    secret = str(w, "secret");
    id = str(w, "msg_id");
    payload = str(w, "payload");
    sig = str(w, "signature");
    t = (time_t) json_integer_value(json_object_get(w, "timestamp"));
    snprintf(ts, sizeof(ts), "%lld", (long long) t);

    is_int(wh(secret, id, ts, sig, payload, t, 300), NGX_OTP_OK,
           "stdwh: the vector");
    is_int(wh(secret + 6, id, ts, sig, payload, t, 300), NGX_OTP_OK,
           "stdwh: the secret without whsec_");
    is_int(wh(secret, id, ts, sig, payload, t + 300, 300), NGX_OTP_OK,
           "stdwh: 300 s late, tolerance 300");
    is_int(wh(secret, id, ts, sig, payload, t - 300, 300), NGX_OTP_OK,
           "stdwh: 300 s early, tolerance 300");
    is_int(wh(secret, id, ts, sig, payload, t + 301, 300), NGX_OTP_EEXPIRED,
           "stdwh: tolerance exceeded (late)");
    is_int(wh(secret, id, ts, sig, payload, t - 301, 300), NGX_OTP_EEXPIRED,
           "stdwh: tolerance exceeded (early)");
    is_int(wh(secret, id, ts, sig, payload, 0, 300), NGX_OTP_EEXPIRED,
           "stdwh: now 0");

    is_int(wh(secret, id, ts, sig, "{\"test\": 2432232315}", t, 300),
           NGX_OTP_ESIG, "stdwh: tampered body");
    is_int(wh(secret, "msg_p5jXN8AQM9LWM0D4loKWxJeK", ts, sig, payload, t,
              300),
           NGX_OTP_ESIG, "stdwh: tampered id");
    snprintf(other, sizeof(other), "%lld", (long long) t + 1);
    is_int(wh(secret, id, other, sig, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: tampered timestamp (within the tolerance)");
    snprintf(other, sizeof(other), "0%lld", (long long) t);
    is_int(wh(secret, id, other, sig, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: the timestamp written otherwise is another text");

    is_int(wh("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", id, ts, sig,
              payload, t, 300),
           NGX_OTP_ESIG, "stdwh: wrong secret");
    is_int(wh(secret, id, ts, "", payload, t, 300), NGX_OTP_ESIG,
           "stdwh: no signature");
    is_int(wh(secret, id, ts, "v1,", payload, t, 300), NGX_OTP_ESIG,
           "stdwh: empty v1 signature");
    is_int(wh(secret, id, ts, sig + 3, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: a signature without its version");

    snprintf(sigs, sizeof(sigs),
             "v1,Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm8= %s "
             "v1,YmF6", sig);
    is_int(wh(secret, id, ts, sigs, payload, t, 300), NGX_OTP_OK,
           "stdwh: one of several signatures matches");

    snprintf(sigs, sizeof(sigs), "  %s  ", sig);
    is_int(wh(secret, id, ts, sigs, payload, t, 300), NGX_OTP_OK,
           "stdwh: spaces around the list");

    snprintf(sigs, sizeof(sigs), "v2,%s", sig + 3);
    is_int(wh(secret, id, ts, sigs, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: the right MAC as v2 is ignored");

    snprintf(sigs, sizeof(sigs), "v1a,%s v1,%.43s", sig + 3, sig + 3);
    is_int(wh(secret, id, ts, sigs, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: v1a, and a v1 one character short");

    snprintf(sigs, sizeof(sigs), "%s,", sig);
    is_int(wh(secret, id, ts, sigs, payload, t, 300), NGX_OTP_ESIG,
           "stdwh: a character more");

    is_int(wh("whsec_!!!!", id, ts, sig, payload, t, 300), NGX_OTP_EINVAL,
           "stdwh: a secret that is not base64");
    is_int(wh("whsec_", id, ts, sig, payload, t, 300), NGX_OTP_EINVAL,
           "stdwh: an empty secret");
    is_int(wh(secret, "", ts, sig, payload, t, 300), NGX_OTP_EINVAL,
           "stdwh: no id");
    is_int(wh(secret, "msg.1", ts, sig, payload, t, 300), NGX_OTP_EINVAL,
           "stdwh: an id with a dot");
    is_int(wh(secret, id, "", sig, payload, t, 300), NGX_OTP_EINVAL,
           "stdwh: no timestamp");
    is_int(wh(secret, id, "-1614265330", sig, payload, t, 300),
           NGX_OTP_EINVAL, "stdwh: a negative timestamp");
    is_int(wh(secret, id, "1614265330.5", sig, payload, t, 300),
           NGX_OTP_EINVAL, "stdwh: a fractional timestamp");
    is_int(wh(secret, id, "99999999999999999999", sig, payload, t, 300),
           NGX_OTP_EINVAL, "stdwh: a timestamp that overflows");
}


static void
test_stdwh_sign(void)
{
    char         ts[32];
    u_char       out[NGX_OTP_STDWH_HEADER_LEN + 1];
    time_t       t;
    json_t      *w;
    const char  *secret, *id, *payload, *sig;

    w = json_object_get(vectors, "standard_webhooks");
    secret = str(w, "secret");
    id = str(w, "msg_id");
    payload = str(w, "payload");
    sig = str(w, "signature");
    t = (time_t) json_integer_value(json_object_get(w, "timestamp"));
    snprintf(ts, sizeof(ts), "%lld", (long long) t);

    memset(out, 0, sizeof(out));
    is_int(ngx_otp_stdwh_sign((const u_char *) secret, strlen(secret),
                              (const u_char *) id, strlen(id),
                              (const u_char *) ts, strlen(ts),
                              (const u_char *) payload, strlen(payload),
                              out),
           NGX_OTP_OK, "stdwh sign: the vector signs");
    is_str(out, NGX_OTP_STDWH_HEADER_LEN, sig,
           "stdwh sign: the vector's signature");
    is_int(wh(secret, id, ts, (char *) out, payload, t, 300), NGX_OTP_OK,
           "stdwh sign: what is signed validates");

    memset(out, 0, sizeof(out));
    is_int(ngx_otp_stdwh_sign((const u_char *) secret + 6,
                              strlen(secret) - 6,
                              (const u_char *) id, strlen(id),
                              (const u_char *) ts, strlen(ts),
                              (const u_char *) payload, strlen(payload),
                              out),
           NGX_OTP_OK, "stdwh sign: the secret without whsec_");
    is_str(out, NGX_OTP_STDWH_HEADER_LEN, sig,
           "stdwh sign: the same signature");

    is_int(ngx_otp_stdwh_sign((const u_char *) "whsec_", 6,
                              (const u_char *) id, strlen(id),
                              (const u_char *) ts, strlen(ts),
                              (const u_char *) payload, strlen(payload),
                              out),
           NGX_OTP_EINVAL, "stdwh sign: an empty secret");
    is_int(ngx_otp_stdwh_sign((const u_char *) secret, strlen(secret),
                              (const u_char *) "a.b", 3,
                              (const u_char *) ts, strlen(ts),
                              (const u_char *) payload, strlen(payload),
                              out),
           NGX_OTP_EINVAL, "stdwh sign: an id with a dot");
}


int
main(int argc, char **argv)
{
    (void) argc;

    vectors = load_vectors(argv[0]);

    if (!ok(vectors != NULL, "vectors.json loaded")) {
        return tap_done();
    }

    test_twilio_vectors();
    test_twilio_input();
    test_hub();
    test_stdwh();
    test_stdwh_sign();

    json_decref(vectors);

    return tap_done();
}

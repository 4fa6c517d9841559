
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Request body fields: the few named values an endpoint wants, taken from
 * an x-www-form-urlencoded or a JSON body, and nothing taken on trust.
 */


#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"


static int ngx_otp_fields_form(const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad);
static int ngx_otp_hex_value(u_char c);
static int ngx_otp_fields_json(const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad);
static const char *ngx_otp_json_dup_name(const u_char *body, size_t len,
    size_t pos, ngx_otp_field_t *fields, size_t n);


int
ngx_otp_fields_parse(int type, const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad)
{
    size_t       i;
    const char  *dummy;

    if (bad == NULL) {
        bad = &dummy;
    }

    *bad = NULL;

    for (i = 0; i < n; i++) {
        fields[i].len = 0;
        fields[i].found = 0;
    }

    if (len > NGX_OTP_BODY_MAX_LEN) {
        return NGX_OTP_ETOOBIG;
    }

    switch (type) {

    case NGX_OTP_BODY_FORM:
        return ngx_otp_fields_form(body, len, fields, n, bad);

    case NGX_OTP_BODY_JSON:
        return ngx_otp_fields_json(body, len, fields, n, bad);

    default:
        return NGX_OTP_EINVAL;
    }
}


static int
ngx_otp_fields_form(const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad)
{
    int                   rc;
    size_t                i, dummy;
    const u_char         *p;
    ngx_otp_field_t      *f;
    ngx_otp_form_pair_t   pair;

    p = body;

    while (ngx_otp_form_next(&p, body + len, &pair)) {

        rc = ngx_otp_form_unescape(pair.name, pair.name_len, NULL, 0, &dummy,
                                   0);
        if (rc != NGX_OTP_OK) {
            return rc;
        }

        f = NULL;

        for (i = 0; i < n; i++) {
            if (ngx_otp_form_name_is(pair.name, pair.name_len,
                                     fields[i].name))
            {
                f = &fields[i];
                break;
            }
        }

        if (f == NULL) {
            rc = ngx_otp_form_unescape(pair.value, pair.value_len, NULL, 0,
                                       &dummy, 0);
            if (rc != NGX_OTP_OK) {
                return rc;
            }

            continue;
        }

        if (f->found) {
            *bad = f->name;
            return NGX_OTP_EDUP;
        }

        /*
         * values end up in C strings and store keys where a NUL would cut
         * them short or make two different values collide
         */

        rc = ngx_otp_form_unescape(pair.value, pair.value_len, f->buf, f->cap,
                                   &f->len, NGX_OTP_FORM_NO_NUL);
        if (rc != NGX_OTP_OK) {
            f->len = 0;
            *bad = f->name;
            return rc;
        }

        f->found = 1;
    }

    return NGX_OTP_OK;
}


int
ngx_otp_form_next(const u_char **pos, const u_char *end,
    ngx_otp_form_pair_t *pair)
{
    const u_char  *p, *pair_end, *eq;

    for (p = *pos; p < end; p = pair_end + 1) {

        pair_end = memchr(p, '&', (size_t) (end - p));
        if (pair_end == NULL) {
            pair_end = end;
        }

        if (pair_end == p) {
            /* "a=1&&b=2" and a trailing '&' are what browsers send too */
            continue;
        }

        eq = memchr(p, '=', (size_t) (pair_end - p));

        pair->name = p;

        if (eq) {
            pair->name_len = (size_t) (eq - p);
            pair->value = eq + 1;
            pair->value_len = (size_t) (pair_end - pair->value);
            pair->eq = 1;

        } else {
            pair->name_len = (size_t) (pair_end - p);
            pair->value = pair_end;
            pair->value_len = 0;
            pair->eq = 0;
        }

        *pos = (pair_end < end) ? pair_end + 1 : end;

        return 1;
    }

    *pos = end;

    return 0;
}


int
ngx_otp_form_unescape(const u_char *src, size_t len, u_char *dst,
    size_t cap, size_t *dst_len, unsigned flags)
{
    int     hi, lo;
    size_t  i, n;
    u_char  c;

    n = 0;

    for (i = 0; i < len; i++) {

        c = src[i];

        if (c == '+') {
            c = ' ';

        } else if (c == '%') {
            if (len - i < 3) {
                return NGX_OTP_EINVAL;
            }

            hi = ngx_otp_hex_value(src[i + 1]);
            lo = ngx_otp_hex_value(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return NGX_OTP_EINVAL;
            }

            c = (u_char) (hi << 4 | lo);
            i += 2;
        }

        if (dst) {
            if (c == '\0' && (flags & NGX_OTP_FORM_NO_NUL)) {
                return NGX_OTP_EINVAL;
            }

            if (n == cap) {
                return NGX_OTP_ETOOBIG;
            }

            dst[n] = c;
        }

        n++;
    }

    *dst_len = n;

    return NGX_OTP_OK;
}


int
ngx_otp_form_name_is(const u_char *src, size_t len, const char *name)
{
    size_t  i, j;
    u_char  c;

    j = 0;

    for (i = 0; i < len; i++) {

        c = src[i];

        if (c == '+') {
            c = ' ';

        } else if (c == '%') {
            c = (u_char) (ngx_otp_hex_value(src[i + 1]) << 4
                          | ngx_otp_hex_value(src[i + 2]));
            i += 2;
        }

        /* a decoded NUL meets the terminator and so never matches */

        if (name[j] == '\0' || (u_char) name[j] != c) {
            return 0;
        }

        j++;
    }

    return name[j] == '\0';
}


static int
ngx_otp_hex_value(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static int
ngx_otp_fields_json(const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad)
{
    int           rc;
    size_t        i, vlen, max;
    json_t       *root, *v;
    const char   *s;
    json_error_t  err;

    /*
     * jansson parses recursively; a body of brackets only would cost a
     * stack frame each, and no form this module reads nests at all.
     */

    (void) ngx_otp_json_depth(body, len, &max);

    if (max > NGX_OTP_JSON_MAX_DEPTH) {
        return NGX_OTP_EINVAL;
    }

    /*
     * A key given twice is refused wherever it is: parsers disagree on
     * which of the two wins, so a proxy in front could have checked the
     * other one.  NULs are let through so that the field they are in can
     * be named.
     */

    root = json_loadb((const char *) body, len,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);

    if (root == NULL) {
        switch (json_error_code(&err)) {

        case json_error_duplicate_key:
            *bad = ngx_otp_json_dup_name(body, len, (size_t) err.position,
                                         fields, n);
            return NGX_OTP_EDUP;

        case json_error_out_of_memory:
            return NGX_OTP_ERROR;

        default:
            return NGX_OTP_EINVAL;
        }
    }

    rc = NGX_OTP_EINVAL;

    if (!json_is_object(root)) {
        goto done;
    }

    for (i = 0; i < n; i++) {

        v = json_object_get(root, fields[i].name);
        if (v == NULL) {
            continue;
        }

        *bad = fields[i].name;

        if (!json_is_string(v)) {
            rc = NGX_OTP_ETYPE;
            goto done;
        }

        s = json_string_value(v);
        vlen = json_string_length(v);

        if (memchr(s, '\0', vlen) != NULL) {
            rc = NGX_OTP_EINVAL;
            goto done;
        }

        if (vlen > fields[i].cap) {
            rc = NGX_OTP_ETOOBIG;
            goto done;
        }

        memcpy(fields[i].buf, s, vlen);
        fields[i].len = vlen;
        fields[i].found = 1;
    }

    *bad = NULL;
    rc = NGX_OTP_OK;

done:

    json_decref(root);

    return rc;
}


size_t
ngx_otp_json_depth(const u_char *body, size_t len, size_t *max)
{
    size_t  i, depth;
    int     in_string, escaped;

    depth = 0;
    *max = 0;
    in_string = 0;
    escaped = 0;

    for (i = 0; i < len; i++) {

        if (in_string) {
            if (escaped) {
                escaped = 0;

            } else if (body[i] == '\\') {
                escaped = 1;

            } else if (body[i] == '"') {
                in_string = 0;
            }

            continue;
        }

        switch (body[i]) {

        case '"':
            in_string = 1;
            break;

        case '{':
        case '[':
            if (++depth > *max) {
                *max = depth;
            }

            break;

        case '}':
        case ']':
            if (depth > 0) {
                depth--;
            }

            break;
        }
    }

    return depth;
}


/*
 * Names the wanted field a duplicate-key error is about, or NULL when the
 * repeated key is another one or sits in a nested object.  jansson reports
 * the position just past the repeated key; should that ever change, the
 * checks below fail and the error is still EDUP, only unnamed.
 */

static const char *
ngx_otp_json_dup_name(const u_char *body, size_t len, size_t pos,
    ngx_otp_field_t *fields, size_t n)
{
    size_t        i, q, k, klen, max;
    json_t       *key;
    const char   *name, *s;
    json_error_t  err;

    if (pos < 2 || pos > len || body[pos - 1] != '"') {
        return NULL;
    }

    /* back to the opening quote: the first one not escaped */

    q = pos - 1;

    for ( ;; ) {

        if (q == 0) {
            return NULL;
        }

        q--;

        if (body[q] != '"') {
            continue;
        }

        for (k = q; k > 0 && body[k - 1] == '\\'; k--) {
            /* void */
        }

        if ((q - k) % 2 == 0) {
            break;
        }
    }

    if (ngx_otp_json_depth(body, q, &max) != 1) {
        return NULL;
    }

    key = json_loadb((const char *) body + q, pos - q, JSON_DECODE_ANY,
                     &err);
    if (key == NULL) {
        return NULL;
    }

    name = NULL;

    if (json_is_string(key)) {
        s = json_string_value(key);
        klen = json_string_length(key);

        for (i = 0; i < n; i++) {
            if (strlen(fields[i].name) == klen
                && memcmp(fields[i].name, s, klen) == 0)
            {
                name = fields[i].name;
                break;
            }
        }
    }

    json_decref(key);

    return name;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_fields_parse().  The first byte picks the body type (odd:
 * JSON, even: form); the rest is the body.  Each field's buffer is exactly
 * its cap, so ASan sees any write past it.
 *
 * Invariants: only the documented codes come back; on success *bad is NULL
 * and every found value fits its cap and holds no NUL, and a value found
 * is found again, unchanged, when re-encoded alone; on error *bad is NULL
 * or one of the names asked for; the same body parses the same twice.
 */


#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define NFIELDS  4


static const char  *names[NFIELDS] = { "phone", "code", "channel", "x" };
static const size_t caps[NFIELDS] = { 64, 10, 16, 1 };


static int
parse(int type, const u_char *body, size_t len, ngx_otp_field_t *fields,
    const char **bad)
{
    size_t  i;

    for (i = 0; i < NFIELDS; i++) {
        fields[i].name = names[i];
        fields[i].cap = caps[i];
        fields[i].found = 0;
        fields[i].len = 0;
    }

    return ngx_otp_fields_parse(type, body, len, fields, NFIELDS, bad);
}


/* the value alone, as the other side would encode it, parses back */

static void
check_reencoded(int type, ngx_otp_field_t *f)
{
    int              rc;
    u_char          *body, *p, *copy;
    size_t           i, len;
    char            *dump;
    json_t          *obj;
    const char      *bad;
    ngx_otp_field_t  again[NFIELDS];

    static const char  hex[] = "0123456789ABCDEF";

    copy = malloc(f->len + 1);
    fuzz_check(copy != NULL);
    memcpy(copy, f->buf, f->len);

    for (i = 0; i < NFIELDS; i++) {
        again[i].buf = malloc(caps[i]);
        fuzz_check(again[i].buf != NULL);
    }

    if (type == NGX_OTP_BODY_FORM) {
        body = malloc(strlen(f->name) + 1 + 3 * f->len);
        fuzz_check(body != NULL);

        len = strlen(f->name);
        memcpy(body, f->name, len);
        p = body + len;
        *p++ = '=';

        for (i = 0; i < f->len; i++) {
            *p++ = '%';
            *p++ = hex[copy[i] >> 4];
            *p++ = hex[copy[i] & 0x0f];
        }

        len = (size_t) (p - body);
        dump = NULL;

    } else {
        obj = json_object();
        fuzz_check(obj != NULL);

        /* a JSON value came out of jansson: it is valid UTF-8 */

        fuzz_check(json_object_set_new(obj, f->name,
                                       json_stringn((char *) copy, f->len))
                   == 0);

        dump = json_dumps(obj, JSON_COMPACT);
        fuzz_check(dump != NULL);
        json_decref(obj);

        body = (u_char *) dump;
        len = strlen(dump);
    }

    rc = parse(type, body, len, again, &bad);

    fuzz_check(rc == NGX_OTP_OK);

    for (i = 0; i < NFIELDS; i++) {
        if (again[i].name == f->name) {
            fuzz_check(again[i].found);
            fuzz_check(again[i].len == f->len);
            fuzz_check(memcmp(again[i].buf, copy, f->len) == 0);

        } else {
            fuzz_check(!again[i].found);
        }

        free(again[i].buf);
    }

    if (dump) {
        free(dump);

    } else {
        free(body);
    }

    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc, rc2, type;
    size_t           i;
    const char      *bad, *bad2;
    ngx_otp_field_t  fields[NFIELDS];

    if (size == 0) {
        return 0;
    }

    type = (data[0] & 1) ? NGX_OTP_BODY_JSON : NGX_OTP_BODY_FORM;
    data++;
    size--;

    for (i = 0; i < NFIELDS; i++) {
        fields[i].buf = malloc(caps[i]);
        fuzz_check(fields[i].buf != NULL);
    }

    rc = parse(type, data, size, fields, &bad);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL
               || rc == NGX_OTP_ETOOBIG || rc == NGX_OTP_EDUP
               || rc == NGX_OTP_ETYPE || rc == NGX_OTP_ERROR);

    if (type == NGX_OTP_BODY_FORM) {
        fuzz_check(rc != NGX_OTP_ETYPE);
    }

    if (rc == NGX_OTP_OK) {
        fuzz_check(bad == NULL);

        for (i = 0; i < NFIELDS; i++) {
            if (!fields[i].found) {
                fuzz_check(fields[i].len == 0);
                continue;
            }

            fuzz_check(fields[i].len <= fields[i].cap);
            fuzz_check(memchr(fields[i].buf, '\0', fields[i].len) == NULL);

            check_reencoded(type, &fields[i]);
        }

    } else {
        fuzz_check(bad == NULL || bad == names[0] || bad == names[1]
                   || bad == names[2] || bad == names[3]);
    }

    rc2 = parse(type, data, size, fields, &bad2);

    fuzz_check(rc2 == rc);
    fuzz_check(bad2 == bad);

    for (i = 0; i < NFIELDS; i++) {
        free(fields[i].buf);
    }

    return 0;
}

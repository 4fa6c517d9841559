
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_json_escape(), which writes a client's URI into the
 * audit log.  Invariants: at most NGX_OTP_JSON_ESCAPED_MAX bytes out a
 * byte in; the output, quoted, is a JSON string that jansson (a strict
 * UTF-8 reader) accepts; it decodes to the input itself when jansson
 * takes the input as UTF-8 too; otherwise every ASCII byte decodes to
 * itself, in order, and each run of other bytes to a run of non-ASCII
 * characters.
 */


#include <string.h>
#include <jansson.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define FUZZ_JSON_MAX  4096


/* the input quoted with only ASCII escaped: jansson judges the rest */

static json_t *
fuzz_as_utf8(const uint8_t *data, size_t size)
{
    size_t         i, n;
    json_error_t   err;
    static u_char  buf[2 + 6 * FUZZ_JSON_MAX];

    n = 0;
    buf[n++] = '"';

    for (i = 0; i < size; i++) {
        if (data[i] == '"' || data[i] == '\\' || data[i] < 0x20) {
            n += snprintf((char *) buf + n, 7, "\\u%04x", data[i]);

        } else {
            buf[n++] = data[i];
        }
    }

    buf[n++] = '"';

    return json_loadb((const char *) buf, n, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                      &err);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i, k, dlen;
    json_t        *j, *u;
    json_error_t   err;
    const u_char  *d;
    u_char        *end;
    static u_char  out[2 + NGX_OTP_JSON_ESCAPED_MAX * FUZZ_JSON_MAX];

    if (size > FUZZ_JSON_MAX) {
        return 0;
    }

    out[0] = '"';
    end = ngx_otp_json_escape(out + 1, data, size);
    fuzz_check((size_t) (end - (out + 1)) <= NGX_OTP_JSON_ESCAPED_MAX * size);
    *end++ = '"';

    j = json_loadb((const char *) out, end - out,
                   JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    fuzz_check(j != NULL && json_is_string(j));

    d = (const u_char *) json_string_value(j);
    dlen = json_string_length(j);

    u = fuzz_as_utf8(data, size);

    if (u != NULL) {
        /* valid UTF-8 in: itself out */
        fuzz_check(dlen == size && memcmp(d, data, size) == 0);
        json_decref(u);
    }

    for (i = 0, k = 0; i < size; i++) {
        if (data[i] < 0x80) {
            fuzz_check(k < dlen && d[k] == data[i]);
            k++;
            continue;
        }

        fuzz_check(k < dlen && d[k] >= 0x80);

        while (k < dlen && d[k] >= 0x80) {
            k++;
        }

        while (i + 1 < size && data[i + 1] >= 0x80) {
            i++;
        }
    }

    fuzz_check(k == dlen);

    json_decref(j);

    return 0;
}

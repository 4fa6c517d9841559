
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_redis_info_field().  The first byte picks the field; the
 * rest is the INFO reply as Redis (or anything at its address) sent it.
 *
 * Invariants: a value found lies inside the reply, is 1 to
 * NGX_OTP_REDIS_INFO_VALUE_MAX plain name characters, and follows
 * "field:" at the start of a line; the reply is never read past its
 * length (ASan sees a copy of exactly that size).
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    u_char        *info, c;
    size_t         i, flen, vlen;
    const char    *field;
    const u_char  *v, *start;

    static const char  *fields[] = { "maxmemory_policy", "maxmemory", "m",
                                     "redis_version", "" };

    if (size == 0) {
        return 0;
    }

    field = fields[data[0] % (sizeof(fields) / sizeof(fields[0]))];
    flen = strlen(field);

    size--;

    info = malloc(size ? size : 1);
    fuzz_check(info != NULL);
    memcpy(info, data + 1, size);

    v = NULL;
    vlen = 0;

    rc = ngx_otp_redis_info_field(info, size, field, &v, &vlen);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc == NGX_OTP_OK) {
        fuzz_check(flen > 0);
        fuzz_check(v >= info + flen + 1 && v + vlen <= info + size);
        fuzz_check(vlen >= 1 && vlen <= NGX_OTP_REDIS_INFO_VALUE_MAX);

        for (i = 0; i < vlen; i++) {
            c = v[i];
            fuzz_check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                       || (c >= '0' && c <= '9') || c == '-' || c == '_'
                       || c == '.');
        }

        start = v - flen - 1;

        fuzz_check(memcmp(start, field, flen) == 0 && start[flen] == ':');
        fuzz_check(start == info || start[-1] == '\n');

        /* the value is the whole rest of its line */
        fuzz_check(v + vlen == info + size || v[vlen] == '\r'
                   || v[vlen] == '\n');
    }

    free(info);

    return 0;
}

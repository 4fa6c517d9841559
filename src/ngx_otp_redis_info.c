
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Redis's INFO text, as the store's Redis backend reads it when it
 * connects: the value of one "field:value" line, such as
 * "maxmemory_policy:noeviction".  The text comes from the network, so a
 * value is returned only when it is a plain name that can be logged and
 * compared as it is.
 */


#include <string.h>

#include "ngx_otp_core.h"


static int ngx_otp_redis_info_name_char(u_char c);


int
ngx_otp_redis_info_field(const u_char *info, size_t len, const char *field,
    const u_char **value, size_t *value_len)
{
    size_t         i, n, flen;
    const u_char  *p, *last, *eol, *v;

    flen = strlen(field);

    if (flen == 0) {
        return NGX_OTP_EINVAL;
    }

    p = info;
    last = info + len;

    while (p < last) {
        eol = memchr(p, '\n', last - p);

        if (eol == NULL) {
            eol = last;
        }

        n = eol - p;

        if (n && p[n - 1] == '\r') {
            n--;
        }

        /* a line of its own: "xfield:" and "field_x:" are other fields */

        if (n > flen && p[flen] == ':' && memcmp(p, field, flen) == 0) {
            v = p + flen + 1;
            n -= flen + 1;

            if (n == 0 || n > NGX_OTP_REDIS_INFO_VALUE_MAX) {
                return NGX_OTP_EINVAL;
            }

            for (i = 0; i < n; i++) {
                if (!ngx_otp_redis_info_name_char(v[i])) {
                    return NGX_OTP_EINVAL;
                }
            }

            *value = v;
            *value_len = n;

            return NGX_OTP_OK;
        }

        if (eol == last) {
            break;
        }

        p = eol + 1;
    }

    return NGX_OTP_EINVAL;
}


static int
ngx_otp_redis_info_name_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

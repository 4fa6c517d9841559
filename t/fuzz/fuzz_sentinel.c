
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_sentinel.c: what a sentinel (or anything at its address,
 * or anyone who may PUBLISH on it) says of a master.  The first byte picks
 * the function: even, a "+switch-master" message (the rest of the input)
 * for the master "mymaster"; odd, SENTINEL get-master-addr-by-name's two
 * strings, the rest split at its first 0xff byte (not at a NUL: a NUL may
 * be part of what a sentinel sends).
 *
 * Invariants: an address accepted is 1 to NGX_OTP_SENTINEL_IP_MAX - 1
 * bytes, NUL-terminated, made of hex digits, '.' and ':' only (numeric: no
 * host name gets through), and the same bytes as the input's address
 * field; its port is 1..65535; a switch accepted names "mymaster"; the
 * input is never read past its length.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


static void
check_addr(const ngx_otp_sentinel_addr_t *a, const u_char *ip, size_t len)
{
    size_t  i;
    u_char  c;

    fuzz_check(a->ip_len >= 1 && a->ip_len < NGX_OTP_SENTINEL_IP_MAX);
    fuzz_check(a->ip[a->ip_len] == '\0');
    fuzz_check(a->port >= 1 && a->port <= 65535);
    fuzz_check(len == a->ip_len && memcmp(a->ip, ip, len) == 0);

    for (i = 0; i < a->ip_len; i++) {
        c = a->ip[i];
        fuzz_check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                   || (c >= 'A' && c <= 'F') || c == '.' || c == ':');
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                      rc;
    u_char                  *in, *sep, *sp;
    size_t                   n, i, f;
    const u_char            *field[5];
    size_t                   flen[5];
    ngx_otp_sentinel_addr_t  a;

    if (size == 0) {
        return 0;
    }

    n = size - 1;

    in = malloc(n ? n : 1);
    fuzz_check(in != NULL);
    memcpy(in, data + 1, n);

    memset(&a, 0, sizeof(a));

    if (data[0] % 2 == 0) {
        rc = ngx_otp_sentinel_switch(in, n, (const u_char *) "mymaster", 8,
                                     &a);

        fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EDUP
                   || rc == NGX_OTP_EINVAL);

        if (rc == NGX_OTP_OK) {
            /* five fields, one blank apart, the first "mymaster" */
            f = 0;
            field[0] = in;

            for (i = 0; i < n && f < 5; i++) {
                if (in[i] == ' ') {
                    flen[f] = in + i - field[f];
                    f++;
                    fuzz_check(f < 5);
                    field[f] = in + i + 1;
                }
            }

            fuzz_check(f == 4);
            flen[4] = in + n - field[4];

            fuzz_check(flen[0] == 8 && memcmp(field[0], "mymaster", 8) == 0);
            check_addr(&a, field[3], flen[3]);
        }

    } else {
        sep = memchr(in, 0xff, n);

        if (sep == NULL) {
            free(in);
            return 0;
        }

        rc = ngx_otp_sentinel_addr(in, sep - in, sep + 1,
                                   in + n - sep - 1, &a);

        fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

        if (rc == NGX_OTP_OK) {
            check_addr(&a, in, sep - in);

            for (sp = sep + 1; sp < in + n; sp++) {
                fuzz_check(*sp >= '0' && *sp <= '9');
            }
        }

        (void) ngx_otp_sentinel_name_valid(in, n);
    }

    free(in);

    return 0;
}

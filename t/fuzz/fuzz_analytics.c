
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes the analytics query's parsers: ngx_otp_time_parse() (from= and
 * to=), ngx_otp_country_code() (country=, and every number sent), and
 * ngx_otp_delivery_quantile() over histograms made of the input.
 *
 * Invariants: a parsed time is 0 .. 9999-12-31T23:59:59Z, formats in
 * NGX_OTP_TIME_LEN bytes and parses back to itself; a country code is
 * 0 to 3 digits of the number (after its '+'), and the number with more
 * digits after it has the same code; a quantile is -1 for an empty
 * histogram and otherwise within 0 .. the highest finite bound, and
 * never falls when q rises.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    size_t         n, m, i;
    int64_t        sec, again, q, prev;
    u_char        *copy, longer[64];
    u_char         out[NGX_OTP_TIME_LEN];
    uint64_t       hist[NGX_OTP_DELIVERY_BUCKETS];
    unsigned       permille;
    const u_char  *cc, *cc2;

    /* an exact copy: ASan sees a read past the input */

    copy = malloc(size ? size : 1);
    fuzz_check(copy != NULL);
    memcpy(copy, data, size);

    rc = ngx_otp_time_parse(copy, size, &sec);
    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc == NGX_OTP_OK) {
        fuzz_check(sec >= 0 && sec <= 253402300799LL);
        fuzz_check(ngx_otp_time_format(sec, out) == NGX_OTP_TIME_LEN);
        fuzz_check(ngx_otp_time_parse(out, NGX_OTP_TIME_LEN, &again)
                   == NGX_OTP_OK);
        fuzz_check(again == sec);

    } else {
        fuzz_check(sec == 0);
    }

    cc = NULL;
    n = ngx_otp_country_code(copy, size, &cc);
    fuzz_check(n <= NGX_OTP_COUNTRY_MAX);

    if (n) {
        fuzz_check(cc >= copy && cc + n <= copy + size);

        for (i = 0; i < n; i++) {
            fuzz_check(cc[i] >= '0' && cc[i] <= '9');
        }

        if (size + 8 <= sizeof(longer)) {
            memcpy(longer, copy, size);
            memcpy(longer + size, "12345678", 8);
            m = ngx_otp_country_code(longer, size + 8, &cc2);
            fuzz_check(m == n);
            fuzz_check(memcmp(cc2, cc, n) == 0);
        }
    }

    free(copy);

    /* a histogram of the first bytes */

    memset(hist, 0, sizeof(hist));

    for (i = 0; i < size && i < NGX_OTP_DELIVERY_BUCKETS; i++) {
        hist[i] = data[i];
    }

    prev = -1;

    for (permille = 1; permille <= 1000; permille += 37) {
        q = ngx_otp_delivery_quantile(hist, permille);

        fuzz_check(q >= -1);
        fuzz_check(q <= (int64_t) ngx_otp_delivery_bounds[
                                      NGX_OTP_DELIVERY_BUCKETS - 2]);
        fuzz_check(q >= prev || q == -1);
        fuzz_check((q == -1) == (prev == -1) || permille == 1);

        prev = q;
    }

    return 0;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes the analytics query's parsers: ngx_otp_time_parse() (from= and
 * to=), ngx_otp_country_code() (country=, and every number sent),
 * ngx_otp_delivery_quantile() over histograms made of the input, and
 * ngx_otp_analytics_field_parse() (a Redis hour hash's field, Redis's
 * text).
 *
 * Invariants: a parsed time is 0 .. 9999-12-31T23:59:59Z, formats in
 * NGX_OTP_TIME_LEN bytes and parses back to itself; a country code is
 * 0 to 3 digits of the number (after its '+'), and the number with more
 * digits after it has the same code; a quantile is -1 for an empty
 * histogram and otherwise within 0 .. the highest finite bound, and
 * never falls when q rises.  A field read is within the input and the
 * limits, of a channel the core knows, and is made of its parts again:
 * kind, channel name, provider, country and the counter name or error.
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

    ngx_otp_analytics_field_t  f;

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

    rc = ngx_otp_analytics_field_parse(copy, size, 49, 32, &f);
    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc == NGX_OTP_OK) {
        fuzz_check(ngx_otp_channel_name(f.channel) != NULL);
        fuzz_check(f.provider > copy && f.provider + f.provider_len
                                        <= copy + size);
        fuzz_check(f.provider_len >= 1 && f.provider_len <= 49);
        fuzz_check(f.country_len <= NGX_OTP_COUNTRY_MAX);
        fuzz_check(f.country > f.provider
                   && f.country + f.country_len <= copy + size);
        fuzz_check(memchr(f.provider, '|', f.provider_len) == NULL);
        fuzz_check(memchr(f.country, '|', f.country_len) == NULL);
        fuzz_check(f.counter >= NGX_OTP_COUNTER_UNKNOWN
                   && f.counter < NGX_OTP_COUNTER_HIST
                                  + NGX_OTP_DELIVERY_BUCKETS);

        if (f.failure) {
            fuzz_check(copy[0] == 'e');
            fuzz_check(f.error_len <= 32);
            fuzz_check(f.error + f.error_len == copy + size);
            fuzz_check(f.counter == NGX_OTP_COUNTER_UNKNOWN);

        } else {
            fuzz_check(copy[0] == 'c' && f.error_len == 0);
        }

        fuzz_check(copy[1] == '|'
                   && f.provider[-1] == '|'
                   && f.country[-1] == '|'
                   && f.country[f.country_len] == '|');
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

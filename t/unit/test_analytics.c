
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_analytics.c: country calling codes (longest assigned match),
 * the analytics query's times (RFC 3339 and unix seconds, both ways),
 * the quantile read from the delivery-time buckets, and the Redis hour
 * hashes' fields.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


static void
cc_is(const char *number, const char *expected)
{
    size_t         n;
    const u_char  *cc;

    cc = NULL;
    n = ngx_otp_country_code((const u_char *) number, strlen(number), &cc);

    if (expected == NULL) {
        is_int(n, 0, "%s: no country code", number);
        return;
    }

    ok(n == strlen(expected) && cc && memcmp(cc, expected, n) == 0,
       "%s: country code %s (got %zu)", number, expected, n);
}


static void
time_is(const char *text, int64_t expected)
{
    int      rc;
    int64_t  sec;

    rc = ngx_otp_time_parse((const u_char *) text, strlen(text), &sec);

    if (expected < 0) {
        ok(rc == NGX_OTP_EINVAL, "\"%s\" refused", text);
        return;
    }

    ok(rc == NGX_OTP_OK && sec == expected, "\"%s\" is %lld (got %lld)",
       text, (long long) expected, (long long) sec);
}


static void
format_is(int64_t sec, const char *expected)
{
    size_t  n;
    u_char  buf[NGX_OTP_TIME_LEN + 8];

    memset(buf, 'x', sizeof(buf));
    n = ngx_otp_time_format(sec, buf);

    if (expected == NULL) {
        ok(n == 0 && buf[0] == 'x', "%lld not formatted", (long long) sec);
        return;
    }

    is_str(buf, n, expected, "%lld formats", (long long) sec);
    ok(buf[NGX_OTP_TIME_LEN] == 'x', "%lld: nothing past the text",
       (long long) sec);
}


/* expected: "CHANNEL PROVIDER COUNTRY COUNTER|eERROR", or NULL: skipped */

static void
field_is(const char *field, const char *expected)
{
    int                        rc;
    char                       got[256];
    ngx_otp_analytics_field_t  f;

    rc = ngx_otp_analytics_field_parse((const u_char *) field, strlen(field),
                                       49, 32, &f);

    if (expected == NULL) {
        is_int(rc, NGX_OTP_EINVAL, "field %s skipped", field);
        return;
    }

    if (rc != NGX_OTP_OK) {
        ok(0, "field %s read", field);
        return;
    }

    if (f.failure) {
        snprintf(got, sizeof(got), "%s %.*s %.*s e%.*s",
                 ngx_otp_channel_name(f.channel), (int) f.provider_len,
                 f.provider, (int) f.country_len, f.country,
                 (int) f.error_len, f.error);

    } else {
        snprintf(got, sizeof(got), "%s %.*s %.*s %d",
                 ngx_otp_channel_name(f.channel), (int) f.provider_len,
                 f.provider, (int) f.country_len, f.country, f.counter);
    }

    is_str((u_char *) got, strlen(got), expected, "field %s", field);
}


int
main(void)
{
    int64_t   sec, s;
    unsigned  i;
    uint64_t  hist[NGX_OTP_DELIVERY_BUCKETS];
    u_char    buf[NGX_OTP_TIME_LEN];

    /* zones 1 and 7, complete 2-digit codes, 3-digit ones, spares */

    cc_is("+14155550100", "1");
    cc_is("+79161234567", "7");
    cc_is("+77011234567", "7");
    cc_is("+447700900123", "44");
    cc_is("447700900123", "44");
    cc_is("+201001234567", "20");
    cc_is("+27821234567", "27");
    cc_is("+254712345678", "254");
    cc_is("+2341234567", "234");
    cc_is("+35312345678", "353");
    cc_is("+4201234567", "420");
    cc_is("+9981234567", "998");
    cc_is("+8521234567", "852");
    cc_is("+8001234567", "800");
    cc_is("+2101234567", NULL);          /* spare */
    cc_is("+2591234567", NULL);
    cc_is("+3841234567", NULL);
    cc_is("+6841234567", NULL);          /* American Samoa moved to +1 */
    cc_is("+0441234567", NULL);
    cc_is("+", NULL);
    cc_is("", NULL);
    cc_is("+4", NULL);
    cc_is("+2", NULL);
    cc_is("+25", NULL);
    cc_is("+1", "1");
    cc_is("+44", "44");
    cc_is("+4a4", NULL);
    cc_is("abc", NULL);

    /* times */

    time_is("2026-11-30T18:00:00Z", 1796061600);
    time_is("2026-11-30t18:00:00z", 1796061600);
    time_is("2026-11-30T18:59:59.999Z", 1796065199);
    time_is("2026-11-30T20:00:00+02:00", 1796061600);
    time_is("2026-11-30T17:30:00-00:30", 1796061600);
    time_is("1970-01-01T00:00:00Z", 0);
    time_is("2024-02-29T00:00:00Z", 1709164800);
    time_is("2000-02-29T12:00:00Z", 951825600);
    time_is("9999-12-31T23:59:59Z", 253402300799LL);
    time_is("1796061600", 1796061600);
    time_is("0", 0);
    time_is("253402300799", 253402300799LL);   /* 9999's last second */
    time_is("253402300800", -1);
    time_is("999999999999", -1);
    time_is("1000000000000", -1);        /* 13 digits */
    time_is("99999999999", 99999999999LL);
    time_is("2023-02-29T00:00:00Z", -1);
    time_is("1900-02-29T00:00:00Z", -1);
    time_is("2026-04-31T00:00:00Z", -1);
    time_is("2026-13-01T00:00:00Z", -1);
    time_is("2026-00-01T00:00:00Z", -1);
    time_is("2026-11-00T00:00:00Z", -1);
    time_is("2026-11-30T24:00:00Z", -1);
    time_is("2026-11-30T23:60:00Z", -1);
    time_is("2026-12-31T23:59:60Z", -1);     /* leap seconds: none here */
    time_is("1969-12-31T23:59:59Z", -1);
    time_is("1970-01-01T00:30:00+01:00", -1);
    time_is("2026-11-30T18:00:00", -1);
    time_is("2026-11-30T18:00:00.Z", -1);
    time_is("2026-11-30T18:00:00+0200", -1);
    time_is("2026-11-30T18:00:00+24:00", -1);
    time_is("2026-11-30 18:00:00Z", -1);
    time_is("2026-11-30T18:00:00ZZ", -1);
    time_is("2026-11-30", -1);
    time_is("", -1);
    time_is("-1", -1);
    time_is("+1796061600", -1);
    time_is("1796061600 ", -1);
    time_is("1e9", -1);

    format_is(0, "1970-01-01T00:00:00Z");
    format_is(1796061600, "2026-11-30T18:00:00Z");
    format_is(951825600, "2000-02-29T12:00:00Z");
    format_is(253402300799LL, "9999-12-31T23:59:59Z");
    format_is(-1, NULL);
    format_is(253402300800LL, NULL);

    /* every hour of 1970..2100 formats and parses back */

    for (sec = 0; sec < 4102444800LL; sec += 3607 * 13) {
        if (ngx_otp_time_format(sec, buf) != NGX_OTP_TIME_LEN
            || ngx_otp_time_parse(buf, NGX_OTP_TIME_LEN, &s) != NGX_OTP_OK
            || s != sec)
        {
            break;
        }
    }

    ok(sec >= 4102444800LL, "format and parse agree 1970..2100 (%lld)",
       (long long) sec);

    /* buckets */

    is_int(ngx_otp_delivery_bucket(0), 0, "0 ms: first bucket");
    is_int(ngx_otp_delivery_bucket(1000), 0, "1000 ms: le 1000");
    is_int(ngx_otp_delivery_bucket(1001), 1, "1001 ms: le 2000");
    is_int(ngx_otp_delivery_bucket(600000), 9, "600000 ms: le 600000");
    is_int(ngx_otp_delivery_bucket(600001), 10, "600001 ms: +Inf");

    memset(hist, 0, sizeof(hist));
    is_int(ngx_otp_delivery_quantile(hist, 950), -1, "empty: no p95");

    hist[1] = 3;        /* three in (1000, 2000] */
    is_int(ngx_otp_delivery_quantile(hist, 950), 1950,
           "3 in (1000,2000]: rank 2.85 interpolates to 1950");

    memset(hist, 0, sizeof(hist));
    hist[0] = 19;
    hist[3] = 1;        /* one in (5000, 10000] */
    is_int(ngx_otp_delivery_quantile(hist, 950), 1000,
           "19 under 1 s, 1 slow: p95 at rank 19 is 1000");
    is_int(ngx_otp_delivery_quantile(hist, 1000), 10000,
           "p100: the slow one's bucket's upper bound");

    memset(hist, 0, sizeof(hist));
    hist[10] = 5;
    is_int(ngx_otp_delivery_quantile(hist, 950), 600000,
           "all in +Inf: the highest finite bound");

    for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS; i++) {
        hist[i] = 1;
    }

    is_int(ngx_otp_delivery_quantile(hist, 0), -1, "q 0 refused");
    is_int(ngx_otp_delivery_quantile(hist, 1001), -1, "q > 1 refused");

    /* the hour hashes' fields */

    field_is("c|sms|tw|44|s", "sms tw 44 0");
    field_is("c|whatsapp|a1b2c3d4e5f60718:tw|1|d", "whatsapp "
             "a1b2c3d4e5f60718:tw 1 1");
    field_is("c|voice|tw|44|f", "voice tw 44 2");
    field_is("c|sms|tw|44|n", "sms tw 44 3");
    field_is("c|sms|tw|44|ms", "sms tw 44 4");
    field_is("c|sms|tw|44|cost", "sms tw 44 5");
    field_is("c|sms|tw|44|h0", "sms tw 44 6");
    field_is("c|sms|tw|44|h10", "sms tw 44 16");
    field_is("c|sms|tw|44|h11", "sms tw 44 -1");     /* no such bucket */
    field_is("c|sms|tw|44|h01", "sms tw 44 -1");
    field_is("c|sms|tw|44|x", "sms tw 44 -1");       /* a newer counter */
    field_is("c|sms|tw||s", "sms tw  0");            /* no country */
    field_is("e|sms|tw|44|30008", "sms tw 44 e30008");
    field_is("e|sms|tw|44|a|b", "sms tw 44 ea|b");
    field_is("e|sms|tw|44|", "sms tw 44 e");
    field_is("e|sms|tw|44|" "0123456789abcdef0123456789abcdef",
             "sms tw 44 e0123456789abcdef0123456789abcdef");
    field_is("e|sms|tw|44|" "0123456789abcdef0123456789abcdefX", NULL);
    field_is("c|fax|tw|44|s", NULL);                 /* unknown channel */
    field_is("c|sms||44|s", NULL);
    field_is("c|sms|0123456789abcdef:0123456789abcdef0123456789abcdef|1|s",
             "sms 0123456789abcdef:0123456789abcdef0123456789abcdef 1 0");
    field_is("c|sms|0123456789abcdef:0123456789abcdef0123456789abcdefX|1|s",
             NULL);                                  /* 50 bytes */
    field_is("c|sms|tw|1234|s", NULL);
    field_is("x|sms|tw|44|s", NULL);
    field_is("cc|sms|tw|44|s", NULL);
    field_is("c|sms|tw|44", NULL);
    field_is("", NULL);

    return tap_done();
}

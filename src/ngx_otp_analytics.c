
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Delivery analytics, the pure part: the country calling code a number
 * is counted under, the times of an analytics query, and the p95 of
 * delivery times read from fixed histogram buckets.
 */


#include <string.h>

#include "ngx_otp_core.h"


/*
 * ITU-T E.164 assigned country codes (the ITU's "List of ITU-T
 * Recommendation E.164 assigned country codes", 2023).  Zones 1 and 7
 * are single codes; every 2-digit code below is complete (no 3-digit
 * code starts with it); the other 2-digit prefixes hold 3-digit codes,
 * of which those assigned are listed.  Spare codes (210, 259, 384, ...)
 * count under no country.
 */

static const char  *ngx_otp_cc2[] = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
    "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
    "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
    "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    NULL
};

static const char  *ngx_otp_cc3[] = {
    "211", "212", "213", "216", "218",
    "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
    "230", "231", "232", "233", "234", "235", "236", "237", "238", "239",
    "240", "241", "242", "243", "244", "245", "246", "247", "248", "249",
    "250", "251", "252", "253", "254", "255", "256", "257", "258",
    "260", "261", "262", "263", "264", "265", "266", "267", "268", "269",
    "290", "291", "297", "298", "299",
    "350", "351", "352", "353", "354", "355", "356", "357", "358", "359",
    "370", "371", "372", "373", "374", "375", "376", "377", "378", "379",
    "380", "381", "382", "383", "385", "386", "387", "389",
    "420", "421", "423",
    "500", "501", "502", "503", "504", "505", "506", "507", "508", "509",
    "590", "591", "592", "593", "594", "595", "596", "597", "598", "599",
    "670", "672", "673", "674", "675", "676", "677", "678", "679",
    "680", "681", "682", "683", "685", "686", "687", "688", "689",
    "690", "691", "692",
    "800", "808",
    "850", "852", "853", "855", "856",
    "870", "878",
    "880", "881", "882", "883", "886", "888",
    "960", "961", "962", "963", "964", "965", "966", "967", "968",
    "970", "971", "972", "973", "974", "975", "976", "977", "979",
    "991", "992", "993", "994", "995", "996", "998",
    NULL
};


const uint64_t  ngx_otp_delivery_bounds[NGX_OTP_DELIVERY_BUCKETS - 1] = {
    1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000, 600000
};


static int ngx_otp_in(const char **list, const u_char *p, size_t n);
static int ngx_otp_digits(const u_char *p, size_t n, int64_t *v);


size_t
ngx_otp_country_code(const u_char *number, size_t len, const u_char **cc)
{
    size_t  i;

    if (len && number[0] == '+') {
        number++;
        len--;
    }

    for (i = 0; i < len && i < NGX_OTP_COUNTRY_MAX; i++) {
        if (number[i] < '0' || number[i] > '9') {
            return 0;
        }
    }

    *cc = number;

    if (len >= 1 && (number[0] == '1' || number[0] == '7')) {
        return 1;
    }

    if (len >= 2 && ngx_otp_in(ngx_otp_cc2, number, 2)) {
        return 2;
    }

    if (len >= 3 && ngx_otp_in(ngx_otp_cc3, number, 3)) {
        return 3;
    }

    return 0;
}


static int
ngx_otp_in(const char **list, const u_char *p, size_t n)
{
    for ( /* void */ ; *list; list++) {
        if (memcmp(*list, p, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil) */

static int64_t
ngx_otp_days(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


static int
ngx_otp_digits(const u_char *p, size_t n, int64_t *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return 1;
}


int
ngx_otp_time_parse(const u_char *text, size_t len, int64_t *sec)
{
    size_t   i;
    int64_t  y, mo, d, h, mi, s, oh, om, off, mdays;

    static const int  days_in[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    *sec = 0;

    /* unix seconds, up to the end of 9999 (12 digits), as RFC 3339 */

    if (len >= 1 && len <= 12 && ngx_otp_digits(text, len, &s)) {
        if (s > 253402300799LL) {
            return NGX_OTP_EINVAL;
        }

        *sec = s;
        return NGX_OTP_OK;
    }

    if (len < 20
        || !ngx_otp_digits(text, 4, &y) || text[4] != '-'
        || !ngx_otp_digits(text + 5, 2, &mo) || text[7] != '-'
        || !ngx_otp_digits(text + 8, 2, &d)
        || (text[10] != 'T' && text[10] != 't')
        || !ngx_otp_digits(text + 11, 2, &h) || text[13] != ':'
        || !ngx_otp_digits(text + 14, 2, &mi) || text[16] != ':'
        || !ngx_otp_digits(text + 17, 2, &s))
    {
        return NGX_OTP_EINVAL;
    }

    i = 19;

    if (text[i] == '.') {
        for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
            /* void */
        }

        if (i == 20) {
            return NGX_OTP_EINVAL;
        }
    }

    if (i == len) {
        return NGX_OTP_EINVAL;
    }

    if (text[i] == 'Z' || text[i] == 'z') {
        off = 0;
        i++;

    } else if ((text[i] == '+' || text[i] == '-') && len - i >= 6
               && ngx_otp_digits(text + i + 1, 2, &oh)
               && text[i + 3] == ':'
               && ngx_otp_digits(text + i + 4, 2, &om)
               && oh <= 23 && om <= 59)
    {
        off = (oh * 60 + om) * 60;
        off = (text[i] == '+') ? off : -off;
        i += 6;

    } else {
        return NGX_OTP_EINVAL;
    }

    if (i != len || y < 1970 || mo < 1 || mo > 12 || d < 1
        || h > 23 || mi > 59 || s > 59)
    {
        return NGX_OTP_EINVAL;
    }

    mdays = days_in[mo - 1];

    if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
        mdays = 29;
    }

    if (d > mdays) {
        return NGX_OTP_EINVAL;
    }

    s = ngx_otp_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;

    if (s < 0 || s > 253402300799LL) {
        return NGX_OTP_EINVAL;
    }

    *sec = s;

    return NGX_OTP_OK;
}


size_t
ngx_otp_time_format(int64_t sec, u_char *out)
{
    int64_t   z, era, doe, yoe, y, doy, mp, d, m, t;
    unsigned  i, v[6];

    if (sec < 0 || sec > 253402300799LL) {
        return 0;
    }

    /* H. Hinnant's civil_from_days */

    z = sec / 86400 + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    t = sec % 86400;

    v[0] = (unsigned) y;
    v[1] = (unsigned) m;
    v[2] = (unsigned) d;
    v[3] = (unsigned) (t / 3600);
    v[4] = (unsigned) (t / 60 % 60);
    v[5] = (unsigned) (t % 60);

    out[0] = (u_char) ('0' + v[0] / 1000);
    out[1] = (u_char) ('0' + v[0] / 100 % 10);
    out[2] = (u_char) ('0' + v[0] / 10 % 10);
    out[3] = (u_char) ('0' + v[0] % 10);

    for (i = 1; i < 6; i++) {
        out[1 + 3 * i] = "--T::"[i - 1];
        out[2 + 3 * i] = (u_char) ('0' + v[i] / 10);
        out[3 + 3 * i] = (u_char) ('0' + v[i] % 10);
    }

    out[19] = 'Z';

    return NGX_OTP_TIME_LEN;
}


unsigned
ngx_otp_delivery_bucket(uint64_t ms)
{
    unsigned  i;

    for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS - 1; i++) {
        if (ms <= ngx_otp_delivery_bounds[i]) {
            return i;
        }
    }

    return NGX_OTP_DELIVERY_BUCKETS - 1;
}


int64_t
ngx_otp_delivery_quantile(const uint64_t *hist, unsigned permille)
{
    unsigned  i;
    uint64_t  total, cum, lower, upper;
    double    rank;

    total = 0;

    for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS; i++) {
        total += hist[i];
    }

    if (total == 0 || permille == 0 || permille > 1000) {
        return -1;
    }

    rank = (double) total * permille / 1000;
    cum = 0;

    for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS - 1; i++) {

        if (hist[i] && (double) (cum + hist[i]) >= rank) {
            lower = i ? ngx_otp_delivery_bounds[i - 1] : 0;
            upper = ngx_otp_delivery_bounds[i];

            return (int64_t) (lower + (double) (upper - lower)
                                      * (rank - (double) cum)
                                      / (double) hist[i]
                              + 0.5);
        }

        cum += hist[i];
    }

    return (int64_t) ngx_otp_delivery_bounds[NGX_OTP_DELIVERY_BUCKETS - 2];
}


int
ngx_otp_analytics_field_parse(const u_char *field, size_t len,
    size_t provider_max, size_t error_max, ngx_otp_analytics_field_t *f)
{
    size_t         n[5];
    unsigned       k;
    const u_char  *p, *last, *part[5], *bar;

    memset(f, 0, sizeof(ngx_otp_analytics_field_t));
    f->counter = NGX_OTP_COUNTER_UNKNOWN;

    /* five parts, the last (an error code) may hold '|' */

    p = field;
    last = field + len;

    for (k = 0; k < 4; k++) {
        part[k] = p;
        bar = memchr(p, '|', last - p);

        if (bar == NULL) {
            return NGX_OTP_EINVAL;
        }

        n[k] = bar - p;
        p = bar + 1;
    }

    part[4] = p;
    n[4] = last - p;

    if (n[0] != 1 || (part[0][0] != 'c' && part[0][0] != 'e')) {
        return NGX_OTP_EINVAL;
    }

    f->failure = (part[0][0] == 'e');
    f->channel = ngx_otp_channel_parse(part[1], n[1]);

    if (f->channel == 0 || n[2] == 0 || n[2] > provider_max
        || n[3] > NGX_OTP_COUNTRY_MAX
        || (f->failure && n[4] > error_max))
    {
        return NGX_OTP_EINVAL;
    }

    f->provider = part[2];
    f->provider_len = n[2];
    f->country = part[3];
    f->country_len = n[3];
    f->error = (const u_char *) "";       /* never NULL for memcmp() */

    if (f->failure) {
        f->error = part[4];
        f->error_len = n[4];
        return NGX_OTP_OK;
    }

    p = part[4];

    if (n[4] == 1 && p[0] == 's') {
        f->counter = NGX_OTP_COUNTER_SENT;

    } else if (n[4] == 1 && p[0] == 'd') {
        f->counter = NGX_OTP_COUNTER_DELIVERED;

    } else if (n[4] == 1 && p[0] == 'f') {
        f->counter = NGX_OTP_COUNTER_FAILED;

    } else if (n[4] == 1 && p[0] == 'n') {
        f->counter = NGX_OTP_COUNTER_MS_COUNT;

    } else if (n[4] == 2 && p[0] == 'm' && p[1] == 's') {
        f->counter = NGX_OTP_COUNTER_MS_SUM;

    } else if (n[4] == 4 && memcmp(p, "cost", 4) == 0) {
        f->counter = NGX_OTP_COUNTER_COST;

    } else if (n[4] >= 2 && n[4] <= 3 && p[0] == 'h'
               && p[1] >= '0' && p[1] <= '9'
               && (n[4] == 2 || (p[1] != '0' && p[2] >= '0' && p[2] <= '9')))
    {
        k = (n[4] == 2) ? (unsigned) (p[1] - '0')
                        : (unsigned) (p[1] - '0') * 10 + (p[2] - '0');

        if (k < NGX_OTP_DELIVERY_BUCKETS) {
            f->counter = NGX_OTP_COUNTER_HIST + (int) k;
        }
    }

    return NGX_OTP_OK;
}

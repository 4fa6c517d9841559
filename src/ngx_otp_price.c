
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The price table's text: one entry "PROVIDER CHANNEL PREFIX PRICE" of
 * otp_price's arguments, or a file of them ended by ";" as nginx's own
 * map and geo include files are, and a price read exactly into integer
 * millionths: a float would make 0.0079 x 3 a different sum on every
 * platform, and the metrics' counter and the analytics add these up for
 * months.
 */


#include <string.h>

#include "ngx_otp_core.h"


static int ngx_otp_price_name(const ngx_otp_price_word_t *w);
static int ngx_otp_price_prefix(const ngx_otp_price_word_t *w,
    ngx_otp_price_word_t *prefix);


int
ngx_otp_price_amount(const u_char *s, size_t len, int64_t *millionths)
{
    size_t   i, n;
    int64_t  v, f, scale;

    v = 0;

    for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (i == NGX_OTP_PRICE_INT_DIGITS) {
            return NGX_OTP_EINVAL;
        }

        v = v * 10 + (s[i] - '0');
    }

    if (i == 0) {
        return NGX_OTP_EINVAL;
    }

    f = 0;
    scale = NGX_OTP_PRICE_SCALE;

    if (i < len) {
        if (s[i++] != '.' || i == len) {
            return NGX_OTP_EINVAL;
        }

        for (n = 0; i < len; i++, n++) {
            if (s[i] < '0' || s[i] > '9') {
                return NGX_OTP_EINVAL;
            }

            if (n < NGX_OTP_PRICE_FRAC_DIGITS) {
                scale /= 10;
                f += (s[i] - '0') * scale;

            } else if (s[i] != '0') {
                /* not a whole number of millionths: no exact value */
                return NGX_OTP_EINVAL;
            }
        }
    }

    *millionths = v * NGX_OTP_PRICE_SCALE + f;

    return NGX_OTP_OK;
}


size_t
ngx_otp_price_format(int64_t millionths, u_char *buf)
{
    int       i, n;
    u_char    tmp[NGX_OTP_PRICE_STR_LEN];
    size_t    len;
    uint64_t  whole, frac;

    if (millionths < 0) {
        return 0;
    }

    whole = (uint64_t) millionths / NGX_OTP_PRICE_SCALE;
    frac = (uint64_t) millionths % NGX_OTP_PRICE_SCALE;

    /* the integer part, backwards */

    n = 0;

    do {
        tmp[n++] = (u_char) ('0' + whole % 10);
        whole /= 10;
    } while (whole);

    len = 0;

    while (n) {
        buf[len++] = tmp[--n];
    }

    buf[len++] = '.';

    for (i = NGX_OTP_PRICE_FRAC_DIGITS - 1; i >= 0; i--) {
        tmp[i] = (u_char) ('0' + frac % 10);
        frac /= 10;
    }

    /* cents at least, as money is written; no zero past them */

    for (n = NGX_OTP_PRICE_FRAC_DIGITS; n > 2 && tmp[n - 1] == '0'; n--) {
        /* void */
    }

    memcpy(buf + len, tmp, n);

    return len + n;
}


int
ngx_otp_price_entry(const ngx_otp_price_word_t *w, ngx_otp_price_t *p,
    const char **err)
{
    memset(p, 0, sizeof(ngx_otp_price_t));

    if (ngx_otp_price_name(&w[0]) != NGX_OTP_OK) {
        *err = "invalid provider name";
        return NGX_OTP_EINVAL;
    }

    p->provider = w[0];

    p->channel = ngx_otp_channel_parse(w[1].data, w[1].len);

    if (p->channel == 0) {
        *err = "unknown channel: expected \"sms\", \"whatsapp\" or \"voice\"";
        return NGX_OTP_EINVAL;
    }

    if (ngx_otp_price_prefix(&w[2], &p->prefix) != NGX_OTP_OK) {
        *err = "invalid prefix: expected 1-15 digits (\"+44\"), or "
               "\"default\"";
        return NGX_OTP_EINVAL;
    }

    if (ngx_otp_price_amount(w[3].data, w[3].len, &p->price) != NGX_OTP_OK) {
        *err = "invalid price: expected a decimal such as \"0.0079\", of "
               "at most 6 integer and 6 fraction digits";
        return NGX_OTP_EINVAL;
    }

    return NGX_OTP_OK;
}


int
ngx_otp_price_parse(const u_char *text, size_t len, ngx_otp_price_add_pt add,
    void *data, size_t *line, const char **err)
{
    int                   rc;
    size_t                i, n, at, start;
    ngx_otp_price_t       p;
    ngx_otp_price_word_t  w[4];

    *line = 1;
    at = 1;         /* the line an entry starts on: where it is told */
    n = 0;
    i = 0;

    while (i < len) {

        switch (text[i]) {

        case '\n':
            (*line)++;
            /* fall through */

        case ' ':
        case '\t':
        case '\r':
            i++;
            continue;

        case '#':
            while (i < len && text[i] != '\n') {
                i++;
            }

            continue;

        case ';':
            if (n != 4) {
                *line = at;
                *err = "expected \"PROVIDER CHANNEL PREFIX PRICE;\"";
                return NGX_OTP_EINVAL;
            }

            if (ngx_otp_price_entry(w, &p, err) != NGX_OTP_OK) {
                *line = at;
                return NGX_OTP_EINVAL;
            }

            p.line = at;

            rc = add(data, &p, err);

            if (rc != NGX_OTP_OK) {
                *line = at;
                return rc;
            }

            n = 0;
            i++;
            continue;

        case '\0':
            *err = "a NUL byte";
            return NGX_OTP_EINVAL;
        }

        /* a word: up to a space, ";" or the end */

        if (n == 0) {
            at = *line;
        }

        if (n == 4) {
            *line = at;
            *err = "expected \"PROVIDER CHANNEL PREFIX PRICE;\": "
                   "\";\" missing, or a word too many";
            return NGX_OTP_EINVAL;
        }

        start = i;

        while (i < len && text[i] != ' ' && text[i] != '\t'
               && text[i] != '\r' && text[i] != '\n' && text[i] != ';'
               && text[i] != '\0')
        {
            i++;
        }

        w[n].data = text + start;
        w[n].len = i - start;
        n++;
    }

    if (n) {
        *line = at;
        *err = "unexpected end of file, expecting \";\"";
        return NGX_OTP_EINVAL;
    }

    return NGX_OTP_OK;
}


int64_t
ngx_otp_price_cost(int64_t price, unsigned channel, const u_char *text,
    size_t len)
{
    ngx_otp_sms_info_t  info;

    if (channel != NGX_OTP_SMS) {
        return price;
    }

    if (ngx_otp_message_segments(text, len, &info) != NGX_OTP_OK) {
        return -1;
    }

    /* a provider bills an empty message as one */
    return price * (int64_t) (info.segments ? info.segments : 1);
}


static int
ngx_otp_price_name(const ngx_otp_price_word_t *w)
{
    size_t  i;
    u_char  c;

    if (w->len == 0 || w->len > NGX_OTP_PRICE_NAME_MAX) {
        return NGX_OTP_EINVAL;
    }

    for (i = 0; i < w->len; i++) {
        c = w->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return NGX_OTP_EINVAL;
        }
    }

    return NGX_OTP_OK;
}


/* "+44" or "44" -> "44"; "default" -> ""; as otp_route writes a prefix */

static int
ngx_otp_price_prefix(const ngx_otp_price_word_t *w,
    ngx_otp_price_word_t *prefix)
{
    size_t  i;

    *prefix = *w;

    if (w->len == 7 && memcmp(w->data, "default", 7) == 0) {
        prefix->len = 0;
        return NGX_OTP_OK;
    }

    if (prefix->len && prefix->data[0] == '+') {
        prefix->data++;
        prefix->len--;
    }

    if (prefix->len == 0 || prefix->len > NGX_OTP_PRICE_PREFIX_MAX) {
        return NGX_OTP_EINVAL;
    }

    for (i = 0; i < prefix->len; i++) {
        if (prefix->data[i] < '0' || prefix->data[i] > '9') {
            return NGX_OTP_EINVAL;
        }
    }

    return NGX_OTP_OK;
}

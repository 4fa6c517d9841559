
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_price_parse(), the reader of otp_price_file.
 * Invariants: every entry handed over lies within the input, with a
 * valid name, a known channel, a prefix of 0-15 digits and a price under
 * a million; an error names a line of the input; the entries written
 * back in the canonical form parse to the same entries; a price written
 * by ngx_otp_price_format() reads back to itself.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define FUZZ_PRICE_MAX  64


typedef struct {
    const u_char     *in;
    size_t            len;
    size_t            n;
    ngx_otp_price_t   p[FUZZ_PRICE_MAX];
} fuzz_price_t;


static int
fuzz_within(const fuzz_price_t *f, const ngx_otp_price_word_t *w)
{
    return w->data >= f->in && w->len <= f->len
           && (size_t) (w->data - f->in) <= f->len - w->len;
}


static int
fuzz_add(void *data, const ngx_otp_price_t *p, const char **err)
{
    size_t         i;
    u_char         buf[NGX_OTP_PRICE_STR_LEN];
    size_t         n;
    int64_t        back;
    fuzz_price_t  *f = data;

    fuzz_check(fuzz_within(f, &p->provider));
    fuzz_check(fuzz_within(f, &p->prefix));
    fuzz_check(p->provider.len >= 1
               && p->provider.len <= NGX_OTP_PRICE_NAME_MAX);
    fuzz_check(p->channel == NGX_OTP_SMS || p->channel == NGX_OTP_WHATSAPP
               || p->channel == NGX_OTP_VOICE);
    fuzz_check(p->prefix.len <= NGX_OTP_PRICE_PREFIX_MAX);

    for (i = 0; i < p->prefix.len; i++) {
        fuzz_check(p->prefix.data[i] >= '0' && p->prefix.data[i] <= '9');
    }

    fuzz_check(p->price >= 0 && p->price < 1000000LL * NGX_OTP_PRICE_SCALE);

    n = ngx_otp_price_format(p->price, buf);
    fuzz_check(n > 0 && n <= sizeof(buf));
    fuzz_check(ngx_otp_price_amount(buf, n, &back) == NGX_OTP_OK);
    fuzz_check(back == p->price);

    if (f->n == FUZZ_PRICE_MAX) {
        *err = "enough";
        return NGX_OTP_ERROR;
    }

    f->p[f->n++] = *p;

    return NGX_OTP_OK;
}


/* the entries again, one a line, as an operator would write them */

static size_t
fuzz_write(const fuzz_price_t *f, u_char *out)
{
    size_t                  i;
    u_char                 *p;
    const char             *ch;
    const ngx_otp_price_t  *e;

    p = out;

    for (i = 0; i < f->n; i++) {
        e = &f->p[i];
        ch = ngx_otp_channel_name(e->channel);

        memcpy(p, e->provider.data, e->provider.len);
        p += e->provider.len;
        *p++ = ' ';
        memcpy(p, ch, strlen(ch));
        p += strlen(ch);
        *p++ = ' ';

        if (e->prefix.len) {
            *p++ = '+';
            memcpy(p, e->prefix.data, e->prefix.len);
            p += e->prefix.len;

        } else {
            memcpy(p, "default", 7);
            p += 7;
        }

        *p++ = ' ';
        p += ngx_otp_price_format(e->price, p);
        *p++ = ';';
        *p++ = '\n';
    }

    return p - out;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    size_t         i, nl, line, len;
    const char    *err;
    fuzz_price_t  *f, *g;
    static u_char  out[FUZZ_PRICE_MAX * 128];
    static fuzz_price_t  a, b;

    f = &a;
    g = &b;

    memset(f, 0, sizeof(*f));
    f->in = data;
    f->len = size;

    err = NULL;
    rc = ngx_otp_price_parse(data, size, fuzz_add, f, &line, &err);

    nl = 1;

    for (i = 0; i < size; i++) {
        nl += (data[i] == '\n');
    }

    if (rc != NGX_OTP_OK) {
        fuzz_check(err != NULL);
        fuzz_check(line >= 1 && line <= nl);
        return 0;
    }

    len = fuzz_write(f, out);

    memset(g, 0, sizeof(*g));
    g->in = out;
    g->len = len;

    fuzz_check(ngx_otp_price_parse(out, len, fuzz_add, g, &line, &err)
               == NGX_OTP_OK);
    fuzz_check(g->n == f->n);

    for (i = 0; i < f->n; i++) {
        fuzz_check(g->p[i].channel == f->p[i].channel);
        fuzz_check(g->p[i].price == f->p[i].price);
        fuzz_check(g->p[i].provider.len == f->p[i].provider.len
                   && memcmp(g->p[i].provider.data, f->p[i].provider.data,
                             f->p[i].provider.len) == 0);
        fuzz_check(g->p[i].prefix.len == f->p[i].prefix.len
                   && memcmp(g->p[i].prefix.data, f->p[i].prefix.data,
                             f->p[i].prefix.len) == 0);
    }

    return 0;
}

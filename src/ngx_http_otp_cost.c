
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Cost: what each accepted message is estimated to cost, from a price
 * table read at configuration time.  An entry prices one provider's
 * channel for a number prefix (the longest matching prefix wins, as
 * otp_route chooses; "default" matches every number); SMS are priced
 * per segment of the text actually sent, WhatsApp per message, voice
 * per call.  The entries are the provider's, so they belong to the app
 * that declares it: otp_price and otp_price_file go where its
 * otp_provider is (http level, or the app's server{}), after it.
 *
 * Prices are integers of millionths (ngx_otp_price.c reads them
 * exactly), in one currency per nginx (otp_price_currency): the metrics'
 * counter adds every app's costs into series of one unit.
 *
 * A file is read once, at configuration time, as map and geo read theirs
 * (ngx_http_map_module's include): a worker never touches it, and a bad
 * line fails "nginx -t" with the file's name and line, so a reload with a
 * broken table keeps the running configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_cost.h"


/* a price file larger than this is a mistake (every prefix of the world
 * for every provider and channel is a few hundred kB) */
#define NGX_HTTP_OTP_PRICE_FILE_MAX  (4 * 1024 * 1024)

#define NGX_HTTP_OTP_PRICE_ERR_LEN   256


typedef struct {
    ngx_conf_t                     *cf;
    ngx_http_otp_app_t             *app;
    ngx_str_t                      *file;       /* where the entries are */
    ngx_uint_t                      line;       /* a directive's */
    u_char                          err[NGX_HTTP_OTP_PRICE_ERR_LEN];
} ngx_http_otp_price_ctx_t;


static int ngx_http_otp_price_add(void *data, const ngx_otp_price_t *e,
    const char **err);
static ngx_int_t ngx_http_otp_price_sort(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p);
static int ngx_libc_cdecl ngx_http_otp_price_cmp(const void *one,
    const void *two);
static ngx_http_otp_price_t *ngx_http_otp_price_match(
    ngx_http_otp_provider_t *p, ngx_uint_t channel, u_char *phone,
    size_t len);


static ngx_str_t  ngx_http_otp_default_currency = ngx_string("USD");


/* otp_price PROVIDER CHANNEL PREFIX|default PRICE */

char *
ngx_http_otp_price(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    const char                *err;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_otp_price_t            e;
    ngx_otp_price_word_t       w[4];
    ngx_http_otp_price_ctx_t   ctx;

    ctx.cf = cf;
    ctx.app = ngx_http_otp_app_conf(cf, conf);

    if (ctx.app == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx.file = &cf->conf_file->file.name;
    ctx.line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 0; i < 4; i++) {
        w[i].data = value[i + 1].data;
        w[i].len = value[i + 1].len;
    }

    if (ngx_otp_price_entry(w, &e, &err) != NGX_OTP_OK
        || ngx_http_otp_price_add(&ctx, &e, &err) != NGX_OTP_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* otp_price_file PATH: otp_price's arguments, each entry ended by ";" */

char *
ngx_http_otp_price_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    int                        rc;
    char                      *rv;
    u_char                    *buf;
    size_t                     size, line;
    ssize_t                    n;
    ngx_fd_t                   fd;
    ngx_str_t                 *value, name;
    ngx_file_t                 file;
    const char                *err;
    ngx_file_info_t            fi;
    ngx_http_otp_price_ctx_t   ctx;

    ctx.cf = cf;
    ctx.app = ngx_http_otp_app_conf(cf, conf);

    if (ctx.app == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;
    name = value[1];

    /* relative to the configuration's prefix, as "include" is */

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* for a duplicate found at postconfiguration */
    ctx.file = ngx_palloc(cf->pool, sizeof(ngx_str_t));
    if (ctx.file == NULL) {
        return NGX_CONF_ERROR;
    }

    *ctx.file = name;
    ctx.line = 0;

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > NGX_HTTP_OTP_PRICE_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "price file \"%V\" is larger than %d bytes",
                           &name, NGX_HTTP_OTP_PRICE_FILE_MAX);
        goto done;
    }

    /* the entries point into the buffer: it lives as long as the cycle */

    buf = ngx_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto done;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = name;
    file.log = cf->log;

    n = ngx_read_file(&file, buf, size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if ((size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only "
                           "%z bytes instead of %uz", &name, n, size);
        goto done;
    }

    rc = ngx_otp_price_parse(buf, size, ngx_http_otp_price_add, &ctx, &line,
                             &err);

    if (rc != NGX_OTP_OK) {
        /* where nginx says it of its own files: "... in FILE:LINE" */
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "%s in %V:%uz", err, &name,
                      line);
        goto done;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "otp price file \"%V\" read", &name);

    rv = NGX_CONF_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    return rv;
}


/* otp_price_currency CODE: ISO 4217's three capital letters */

char *
ngx_http_otp_price_currency(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (omcf->currency.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len != 3) {
        goto invalid;
    }

    for (i = 0; i < 3; i++) {
        if (value[1].data[i] < 'A' || value[1].data[i] > 'Z') {
            goto invalid;
        }
    }

    omcf->currency = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid currency \"%V\": expected an ISO 4217 code "
                       "such as \"USD\"", &value[1]);

    return NGX_CONF_ERROR;
}


ngx_str_t *
ngx_http_otp_cost_currency(ngx_http_otp_main_conf_t *omcf)
{
    if (omcf == NULL || omcf->currency.len == 0) {
        return &ngx_http_otp_default_currency;
    }

    return &omcf->currency;
}


/*
 * An entry for a provider of the app: declared before, in the same
 * server (or both at http level), as otp_route wants it.  Duplicates are
 * found once all are read (ngx_http_otp_cost_postconf): a scan here
 * would make a file of n entries cost n^2 / 2 comparisons.
 */

static int
ngx_http_otp_price_add(void *data, const ngx_otp_price_t *e,
    const char **err)
{
    ngx_http_otp_price_ctx_t *ctx = data;

    ngx_uint_t                i;
    ngx_http_otp_price_t     *price;
    ngx_http_otp_provider_t  *p;

    p = ctx->app->providers.elts;

    for (i = 0; i < ctx->app->providers.nelts; i++) {
        if (p[i].name.len == e->provider.len
            && ngx_strncmp(p[i].name.data, e->provider.data, e->provider.len)
               == 0)
        {
            break;
        }
    }

    if (i == ctx->app->providers.nelts) {
        *ngx_snprintf(ctx->err, sizeof(ctx->err) - 1,
                      "unknown provider \"%*s\": declare it with "
                      "\"otp_provider\" before its prices, in the same "
                      "server (or both at http level)",
                      e->provider.len, e->provider.data) = '\0';
        *err = (const char *) ctx->err;
        return NGX_OTP_EINVAL;
    }

    p = &p[i];

    if (!(p->channels & e->channel)) {
        *ngx_snprintf(ctx->err, sizeof(ctx->err) - 1,
                      "provider \"%V\" cannot carry %s", &p->name,
                      ngx_otp_channel_name(e->channel)) = '\0';
        *err = (const char *) ctx->err;
        return NGX_OTP_EINVAL;
    }

    if (p->prices == NULL) {
        p->prices = ngx_array_create(ctx->cf->pool, 8,
                                     sizeof(ngx_http_otp_price_t));
        if (p->prices == NULL) {
            *err = "out of memory";
            return NGX_OTP_ERROR;
        }
    }

    price = ngx_array_push(p->prices);
    if (price == NULL) {
        *err = "out of memory";
        return NGX_OTP_ERROR;
    }

    price->channel = e->channel;
    price->prefix.data = (u_char *) e->prefix.data;
    price->prefix.len = e->prefix.len;
    price->price = e->price;
    price->file = ctx->file;
    price->line = e->line ? e->line : ctx->line;
    price->seq = p->prices->nelts - 1;

    return NGX_OTP_OK;
}


ngx_int_t
ngx_http_otp_cost_postconf(ngx_conf_t *cf)
{
    ngx_uint_t                 i, j;
    ngx_http_otp_app_t       **apps;
    ngx_http_otp_provider_t   *p;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    apps = omcf->apps.elts;

    for (i = 0; i < omcf->apps.nelts; i++) {
        p = apps[i]->providers.elts;

        for (j = 0; j < apps[i]->providers.nelts; j++) {
            if (p[j].prices
                && ngx_http_otp_price_sort(cf, &p[j]) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * By channel, prefix length and prefix, then the order written: a lookup
 * is then a binary search per prefix length of the number, and two
 * entries for the same channel and prefix are neighbours.
 */

static ngx_int_t
ngx_http_otp_price_sort(ngx_conf_t *cf, ngx_http_otp_provider_t *p)
{
    ngx_uint_t             i;
    ngx_http_otp_price_t  *price;

    price = p->prices->elts;

    ngx_qsort(price, p->prices->nelts, sizeof(ngx_http_otp_price_t),
              ngx_http_otp_price_cmp);

    for (i = 1; i < p->prices->nelts; i++) {
        if (price[i].channel == price[i - 1].channel
            && price[i].prefix.len == price[i - 1].prefix.len
            && ngx_memcmp(price[i].prefix.data, price[i - 1].prefix.data,
                          price[i].prefix.len)
               == 0)
        {
            /* the later one, where nginx says it: "in FILE:LINE" */
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "duplicate price for \"%V\" %s %s%V in %V:%ui "
                          "(first in %V:%ui)", &p->name,
                          ngx_otp_channel_name(price[i].channel),
                          price[i].prefix.len ? "+" : "default",
                          &price[i].prefix, price[i].file, price[i].line,
                          price[i - 1].file, price[i - 1].line);
            return NGX_ERROR;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "otp provider \"%V\": %ui prices", &p->name,
                   p->prices->nelts);

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_otp_price_cmp(const void *one, const void *two)
{
    const ngx_http_otp_price_t  *a = one;
    const ngx_http_otp_price_t  *b = two;

    int  rc;

    if (a->channel != b->channel) {
        return a->channel < b->channel ? -1 : 1;
    }

    if (a->prefix.len != b->prefix.len) {
        return a->prefix.len < b->prefix.len ? -1 : 1;
    }

    rc = ngx_memcmp(a->prefix.data, b->prefix.data, a->prefix.len);

    if (rc) {
        return rc;
    }

    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}


void
ngx_http_otp_cost_send(ngx_http_otp_send_t *send)
{
    ngx_http_otp_price_t  *price;
#if (NGX_DEBUG)
    u_char                 buf[NGX_OTP_PRICE_STR_LEN];
#endif

    send->cost = -1;

    price = ngx_http_otp_price_match(send->provider, send->channel,
                                     send->phone, send->phone_len);

    if (price == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, send->log, 0,
                       "otp provider \"%V\": no price",
                       &send->provider->name);
        return;
    }

    /* the text the provider got: its segments are what it bills */
    send->cost = ngx_otp_price_cost(price->price, send->channel,
                                    send->text.data, send->text.len);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, send->log, 0,
                   "otp provider \"%V\": cost %*s", &send->provider->name,
                   ngx_otp_price_format(send->cost, buf), buf);
}


/*
 * The longest prefix of the number's digits among the channel's entries:
 * a binary search of the sorted entries for each of its prefixes, the
 * longest first (at most 16 searches of log2(n) steps).
 */

static ngx_http_otp_price_t *
ngx_http_otp_price_match(ngx_http_otp_provider_t *p, ngx_uint_t channel,
    u_char *phone, size_t len)
{
    size_t                 n;
    ngx_uint_t             lo, hi, mid;
    ngx_http_otp_price_t  *price, key;

    if (p->prices == NULL) {
        return NULL;
    }

    if (len && phone[0] == '+') {
        phone++;
        len--;
    }

    price = p->prices->elts;

    key.channel = channel;
    key.prefix.data = phone;
    key.seq = 0;

    n = ngx_min(len, NGX_OTP_PRICE_PREFIX_MAX);

    for ( ;; ) {
        key.prefix.len = n;

        lo = 0;
        hi = p->prices->nelts;

        while (lo < hi) {
            mid = lo + (hi - lo) / 2;

            /* seq 0 sorts first: equal entries compare as greater */
            if (ngx_http_otp_price_cmp(&price[mid], &key) < 0) {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        if (lo < p->prices->nelts
            && price[lo].channel == channel
            && price[lo].prefix.len == n
            && ngx_memcmp(price[lo].prefix.data, phone, n) == 0)
        {
            return &price[lo];
        }

        if (n == 0) {
            return NULL;
        }

        n--;
    }
}

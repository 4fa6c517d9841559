
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Smart channel choice.  With otp_smart_channels on, a send that names no
 * channel (or "auto") tries the location's channels in the order of their
 * delivery rate (delivered / sent) to the number's country calling code
 * over the last otp_smart_window, from the delivery analytics that every
 * instance writes to the store; a channel with fewer than min= sends
 * there keeps its configured place (ngx_otp_channel_order()).
 *
 * The rates are read in the background, never on a send's path: each
 * worker reloads them every refresh= with one ANALYTICS_GET from a timer
 * (cancelable, so that it never holds a worker's graceful exit), summed
 * by the store over the window (op->sum: a row per provider, country and
 * channel, not per hour), and a send ranks its channels from the copy in
 * memory.  A worker that has not read them yet, or cannot, sends in the
 * configured order.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_smart.h"


#define NGX_HTTP_OTP_SMART_MIN          20
#define NGX_HTTP_OTP_SMART_WINDOW       86400           /* s */
#define NGX_HTTP_OTP_SMART_REFRESH      60000           /* ms */
#define NGX_HTTP_OTP_SMART_RETRY        5000            /* ms, at most */
#define NGX_HTTP_OTP_SMART_MAX          8               /* channels */


/* one app's sends by one channel to one country, over the window */
typedef struct {
    u_char                      app[16];
    size_t                      app_len;
    u_char                      cc[NGX_OTP_COUNTRY_MAX];
    size_t                      cc_len;
    ngx_uint_t                  channel;
    uint64_t                    sent;
    uint64_t                    delivered;
} ngx_http_otp_smart_rate_t;


static void ngx_http_otp_smart_refresh(ngx_event_t *ev);
static void ngx_http_otp_smart_loaded(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_smart_rates(ngx_http_otp_store_op_t *op);
static int ngx_libc_cdecl ngx_http_otp_smart_cmp(const void *one,
    const void *two);
static void ngx_http_otp_smart_row_app(ngx_http_otp_analytics_row_t *row,
    ngx_str_t *app);


/* this worker's */
static ngx_event_t                  ngx_http_otp_smart_event;
static ngx_http_otp_store_op_t     *ngx_http_otp_smart_op;
static ngx_http_otp_smart_rate_t   *ngx_http_otp_smart_table;
static ngx_uint_t                   ngx_http_otp_smart_n;
static ngx_uint_t                   ngx_http_otp_smart_failing;
static ngx_uint_t                   ngx_http_otp_smart_truncated;


/* otp_smart_channels off | on [min=N] */

char *
ngx_http_otp_smart_channels(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value, s;
    ngx_uint_t                 i, min;
    ngx_http_otp_main_conf_t  *omcf;

    if (olcf->smart_min != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {

        if (cf->args->nelts > 2) {
            return "takes no parameters after \"off\"";
        }

        olcf->smart_min = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"on\" or "
                           "\"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    min = NGX_HTTP_OTP_SMART_MIN;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "min=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            n = ngx_atoi(s.data, s.len);

            if (n < 1 || n > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": min= is a number of "
                                   "sends from 1 to 1000000", &value[i]);
                return NGX_CONF_ERROR;
            }

            min = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    olcf->smart_min = min;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    omcf->smart = 1;

    return NGX_CONF_OK;
}


/* otp_smart_window TIME [refresh=TIME] */

char *
ngx_http_otp_smart_window(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    time_t       window;
    ngx_str_t   *value, s;
    ngx_msec_t   refresh;

    if (omcf->smart_window) {
        return "is duplicate";
    }

    value = cf->args->elts;

    window = ngx_parse_time(&value[1], 1);

    /* whole clock hours, as the analytics count them */
    if (window == (time_t) NGX_ERROR || window < 1 || window > 366 * 86400) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid window \"%V\" (1h to 366d)", &value[1]);
        return NGX_CONF_ERROR;
    }

    omcf->smart_window = (window + 3599) / 3600 * 3600;
    omcf->smart_refresh = NGX_HTTP_OTP_SMART_REFRESH;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "refresh=", 8) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 8;
        s.len = value[2].len - 8;

        refresh = ngx_parse_time(&s, 0);

        if (refresh == (ngx_msec_t) NGX_ERROR || refresh < 1000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": refresh= is 1s at least",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        omcf->smart_refresh = refresh;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_smart_init_process(ngx_cycle_t *cycle)
{
    ngx_event_t               *ev;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    if (!omcf->smart) {
        return NGX_OK;
    }

    if (omcf->smart_window == 0) {
        omcf->smart_window = NGX_HTTP_OTP_SMART_WINDOW;
        omcf->smart_refresh = NGX_HTTP_OTP_SMART_REFRESH;
    }

    ev = &ngx_http_otp_smart_event;

    ev->handler = ngx_http_otp_smart_refresh;
    ev->data = omcf;
    ev->log = cycle->log;

    /* a pending reload must not keep an exiting worker alive */
    ev->cancelable = 1;

    /* the first read once the store's connections are under way */
    ngx_add_timer(ev, 1);

    return NGX_OK;
}


void
ngx_http_otp_smart_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_otp_smart_op) {
        /* the store frees it; its handler never runs */
        ngx_http_otp_store_op_cancel(ngx_http_otp_smart_op);
        ngx_http_otp_smart_op = NULL;
    }

    if (ngx_http_otp_smart_table) {
        ngx_free(ngx_http_otp_smart_table);
        ngx_http_otp_smart_table = NULL;
        ngx_http_otp_smart_n = 0;
    }
}


static void
ngx_http_otp_smart_refresh(ngx_event_t *ev)
{
    time_t                     now;
    ngx_http_otp_store_op_t   *op;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    op = ngx_http_otp_store_op_create(ngx_cycle->log);
    if (op == NULL) {
        ngx_add_timer(ev, omcf->smart_refresh);
        return;
    }

    now = ngx_time();

    /* the hours of the window, the current one included */
    op->type = NGX_HTTP_OTP_OP_ANALYTICS_GET;
    op->to = now - now % 3600 + 3600;
    op->from = op->to - omcf->smart_window;
    op->provider_len = 0;
    op->sum = 1;        /* summed in the store: one row per provider,
                           country and channel */
    op->handler = ngx_http_otp_smart_loaded;
    op->data = omcf;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "otp smart: read the rates from %L to %L: op %p",
                   (int64_t) op->from, (int64_t) op->to, op);

    ngx_http_otp_smart_op = op;

    ngx_http_otp_store_start(&omcf->store, op);
}


static void
ngx_http_otp_smart_loaded(ngx_http_otp_store_op_t *op)
{
    ngx_msec_t                 next;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = op->data;
    ngx_http_otp_smart_op = NULL;

    next = omcf->smart_refresh;

    if (op->status == NGX_HTTP_OTP_STORE_OK
        && ngx_http_otp_smart_rates(op) == NGX_OK)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, op->log, 0,
                       "otp smart: %ui rows, %ui rates", op->nrows,
                       ngx_http_otp_smart_n);

        if (op->truncated && !ngx_http_otp_smart_truncated) {
            ngx_log_error(NGX_LOG_WARN, op->log, 0,
                          "otp smart channels: more than %d analytics rows "
                          "in otp_smart_window, the rates are read from "
                          "its newest hours only",
                          NGX_HTTP_OTP_ANALYTICS_ROWS_MAX);
        }

        ngx_http_otp_smart_truncated = op->truncated;

        if (ngx_http_otp_smart_failing) {
            ngx_log_error(NGX_LOG_NOTICE, op->log, 0,
                          "otp smart channels: delivery rates read again");
            ngx_http_otp_smart_failing = 0;
        }

    } else {
        /* the last rates read stay; told once, tried again soon */

        if (!ngx_http_otp_smart_failing) {
            ngx_log_error(NGX_LOG_WARN, op->log, 0,
                          "otp smart channels: the delivery rates could not "
                          "be read (store %s); the last ones read stay in "
                          "use", op->status == NGX_HTTP_OTP_STORE_OK
                                 ? "answered, out of memory"
                                 : "unavailable");
            ngx_http_otp_smart_failing = 1;
        }

        next = ngx_min(next, NGX_HTTP_OTP_SMART_RETRY);
    }

    if (!(ngx_exiting || ngx_terminate || ngx_quit)) {
        ngx_add_timer(&ngx_http_otp_smart_event, next);
    }
}


/* the rows summed by app, country and channel into a new table */

static ngx_int_t
ngx_http_otp_smart_rates(ngx_http_otp_store_op_t *op)
{
    ngx_str_t                      app;
    ngx_uint_t                     i, n;
    ngx_http_otp_smart_rate_t     *table, *t;
    ngx_http_otp_analytics_row_t  *row;

    table = NULL;
    n = 0;

    if (op->nrows) {
        table = ngx_alloc(op->nrows * sizeof(ngx_http_otp_smart_rate_t),
                          op->log);
        if (table == NULL) {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < op->nrows; i++) {
        row = &op->rows[i];

        if (row->failure || row->country_len == 0) {
            continue;
        }

        t = &table[n++];

        ngx_http_otp_smart_row_app(row, &app);

        t->app_len = ngx_min(app.len, sizeof(t->app));
        ngx_memcpy(t->app, app.data, t->app_len);
        t->cc_len = ngx_min(row->country_len, sizeof(t->cc));
        ngx_memcpy(t->cc, row->country, t->cc_len);
        t->channel = row->channel;
        t->sent = row->sent;
        t->delivered = row->delivered;
    }

    /* hours and providers of one (app, country, channel) summed */

    if (n > 1) {
        ngx_qsort(table, n, sizeof(ngx_http_otp_smart_rate_t),
                  ngx_http_otp_smart_cmp);

        t = table;

        for (i = 1; i < n; i++) {
            if (ngx_http_otp_smart_cmp(t, &table[i]) == 0) {
                t->sent += table[i].sent;
                t->delivered += table[i].delivered;
                continue;
            }

            *++t = table[i];
        }

        n = t - table + 1;
    }

    if (ngx_http_otp_smart_table) {
        ngx_free(ngx_http_otp_smart_table);
    }

    ngx_http_otp_smart_table = table;
    ngx_http_otp_smart_n = n;

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_otp_smart_cmp(const void *one, const void *two)
{
    const ngx_http_otp_smart_rate_t  *a = one, *b = two;

    if (a->app_len != b->app_len) {
        return a->app_len < b->app_len ? -1 : 1;
    }

    if (a->cc_len != b->cc_len) {
        return a->cc_len < b->cc_len ? -1 : 1;
    }

    if (a->channel != b->channel) {
        return a->channel < b->channel ? -1 : 1;
    }

    if (a->app_len && ngx_memcmp(a->app, b->app, a->app_len) != 0) {
        return ngx_memcmp(a->app, b->app, a->app_len);
    }

    return ngx_memcmp(a->cc, b->cc, a->cc_len);
}


/* a provider's store_name is "APP-ID:NAME" for a server's own app, the
 * name alone for the http level's (ngx_http_otp_app.c) */

static void
ngx_http_otp_smart_row_app(ngx_http_otp_analytics_row_t *row, ngx_str_t *app)
{
    u_char  *colon;

    colon = ngx_strlchr(row->provider, row->provider + row->provider_len,
                        ':');

    app->data = row->provider;
    app->len = colon ? (size_t) (colon - row->provider) : 0;
}


void
ngx_http_otp_smart_order(ngx_http_request_t *r, ngx_http_otp_app_t *app,
    u_char *phone, size_t phone_len, ngx_uint_t *channels, ngx_uint_t n)
{
    size_t                      cc_len;
    unsigned                    ch[NGX_HTTP_OTP_SMART_MAX];
    uint64_t                    sent[NGX_HTTP_OTP_SMART_MAX];
    uint64_t                    delivered[NGX_HTTP_OTP_SMART_MAX];
    ngx_uint_t                  i;
    const u_char               *cc;
    ngx_http_otp_smart_rate_t   key, *t;
    ngx_http_otp_loc_conf_t    *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    if (olcf->smart_min == 0 || olcf->smart_min == NGX_CONF_UNSET_UINT
        || n < 2 || n > NGX_HTTP_OTP_SMART_MAX
        || ngx_http_otp_smart_n == 0)
    {
        return;
    }

    cc_len = ngx_otp_country_code(phone, phone_len, &cc);

    if (cc_len == 0 || app->id.len > sizeof(key.app)) {
        return;
    }

    ngx_memzero(&key, sizeof(key));
    key.app_len = app->id.len;

    if (app->id.len) {
        /* the http level's app: no id, and no data */
        ngx_memcpy(key.app, app->id.data, app->id.len);
    }

    key.cc_len = cc_len;
    ngx_memcpy(key.cc, cc, cc_len);

    for (i = 0; i < n; i++) {
        key.channel = channels[i];

        t = bsearch(&key, ngx_http_otp_smart_table, ngx_http_otp_smart_n,
                    sizeof(ngx_http_otp_smart_rate_t),
                    ngx_http_otp_smart_cmp);

        ch[i] = (unsigned) channels[i];
        sent[i] = t ? t->sent : 0;
        delivered[i] = t ? t->delivered : 0;
    }

    ngx_otp_channel_order(ch, sent, delivered, n, olcf->smart_min);

    for (i = 0; i < n; i++) {
        channels[i] = ch[i];
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp smart: country %*s: %s first of %ui",
                   cc_len, cc, ngx_otp_channel_name(ch[0]), n);
}

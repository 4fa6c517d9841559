
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * GET /otp/analytics?from=..&to=..[&channel=..][&provider=..][&country=..]:
 * delivery analytics of a time range, from the store's hourly rows
 * (ngx_http_otp_store.h, "Analytics"; the JSON is the contract in
 * README's "Delivery analytics").  One ANALYTICS_GET reads the rows of
 * the range, whose provider is the server's app's; the sums, rates and
 * quantiles are made here, per request, in the request's pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_analytics.h"
#include "ngx_http_otp_cost.h"


#define NGX_HTTP_OTP_ANALYTICS_FAILURES  20     /* the contract's */
#define NGX_HTTP_OTP_ANALYTICS_ARG_MAX   64     /* a time, once unescaped */
#define NGX_HTTP_OTP_ANALYTICS_DEFAULT   (24 * 3600)


typedef struct {
    ngx_http_request_t             *request;
    ngx_http_otp_store_op_t        *op;
    int64_t                         from;
    int64_t                         to;
    ngx_uint_t                      channel;      /* 0: any */
    ngx_str_t                       provider;     /* empty: any */
    ngx_str_t                       country;      /* empty: any */
} ngx_http_otp_analytics_ctx_t;


/* a row of the range, after the filters, with its provider's own name */
typedef struct {
    ngx_http_otp_analytics_row_t   *row;
    ngx_str_t                       provider;
} ngx_http_otp_analytics_item_t;


/* the sums of a group of rows */
typedef struct {
    ngx_http_otp_analytics_item_t  *first;        /* the group's key */
    uint64_t                        sent;
    uint64_t                        delivered;
    uint64_t                        failed;
    uint64_t                        ms_sum;
    uint64_t                        ms_count;
    int64_t                         cost;
    uint64_t                        hist[NGX_OTP_DELIVERY_BUCKETS];
} ngx_http_otp_analytics_sum_t;


typedef int (*ngx_http_otp_analytics_cmp_pt)(const void *a, const void *b);


static ngx_int_t ngx_http_otp_analytics_args(ngx_http_request_t *r,
    ngx_http_otp_analytics_ctx_t *ctx, const char **err);
static ngx_int_t ngx_http_otp_analytics_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static void ngx_http_otp_analytics_done(ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_analytics_answer(
    ngx_http_otp_analytics_ctx_t *ctx, ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_analytics_items(
    ngx_http_otp_analytics_ctx_t *ctx, ngx_http_otp_store_op_t *op,
    ngx_array_t *counts, ngx_array_t *failures);
static ngx_http_otp_analytics_sum_t *ngx_http_otp_analytics_group(
    ngx_pool_t *pool, ngx_array_t *items,
    ngx_http_otp_analytics_cmp_pt cmp, ngx_uint_t *n);
static void ngx_http_otp_analytics_add(ngx_http_otp_analytics_sum_t *s,
    ngx_http_otp_analytics_row_t *row);
static int ngx_http_otp_analytics_fill(json_t *o,
    ngx_http_otp_analytics_sum_t *s, ngx_uint_t timing);
static json_t *ngx_http_otp_analytics_str(u_char *data, size_t len);
static json_t *ngx_http_otp_analytics_time(int64_t sec);
static json_t *ngx_http_otp_analytics_currency(ngx_http_request_t *r);
static json_t *ngx_http_otp_analytics_cost(int64_t cost);
static int ngx_http_otp_analytics_cmp_by(const void *a, const void *b);
static int ngx_http_otp_analytics_cmp_country(const void *a, const void *b);
static int ngx_http_otp_analytics_cmp_failure(const void *a, const void *b);
static int ngx_http_otp_analytics_cmp_hour(const void *a, const void *b);
static int ngx_http_otp_analytics_cmp_count(const void *a, const void *b);
static void ngx_http_otp_analytics_cleanup(void *data);


char *
ngx_http_otp_analytics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                      *rv;
    ngx_http_core_loc_conf_t  *clcf;

    /* an endpoint of the server's app, like otp_status */

    rv = ngx_http_otp_handler_directive(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /*
     * The operator's to protect (allow, deny), as otp_metrics is: the
     * gate passes every location with an otp handler (olcf->handler,
     * ngx_http_otp_gate.c), this one among them.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_otp_analytics_handler;

    return NGX_CONF_OK;
}


/* otp_analytics_retention TIME: an hour at least, so a range fits */

char *
ngx_http_otp_analytics_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    ngx_str_t   *value;
    ngx_int_t    sec;

    if (omcf->store.analytics_retention != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    sec = ngx_parse_time(&value[1], 1);

    if (sec == NGX_ERROR || sec < 3600 || sec > 366 * 24 * 3600) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid retention \"%V\": from 1h to 366d",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    omcf->store.analytics_retention = (ngx_msec_t) sec * 1000;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_analytics_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    const char                    *err;
    ngx_http_otp_app_t            *app;
    ngx_pool_cleanup_t            *cln;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_main_conf_t      *omcf;
    ngx_http_otp_analytics_ctx_t  *ctx;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_otp_not_allowed(r, "GET, HEAD",
                                        "Use GET for this endpoint.");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_analytics_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;

    err = NULL;
    rc = ngx_http_otp_analytics_args(r, ctx, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_otp_error(r, NGX_HTTP_BAD_REQUEST, "invalid_request",
                                  err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_otp_analytics_cleanup;
    cln->data = ctx;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    app = ngx_http_otp_get_app(r);

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_ANALYTICS_GET,
                                ngx_http_otp_analytics_done);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->data = ctx;
    op->from = ctx->from;
    op->to = ctx->to;

    /* the store keeps the app's rows only, before it counts them against
     * its limit: by the app's "APP-ID:", or for the http level's app,
     * whose names have none, by that */

    if (app->id.len) {
        op->provider_len = ngx_min(app->id.len + 1, sizeof(op->provider));
        ngx_memcpy(op->provider, app->id.data, op->provider_len - 1);
        op->provider[op->provider_len - 1] = ':';

    } else {
        op->unprefixed = 1;
    }

    ctx->op = op;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp analytics %L..%L, channel %ui, op %p",
                   ctx->from, ctx->to, ctx->channel, op);

    ngx_http_otp_store_start(&omcf->store, op);

    /*
     * Held as ngx_http_otp_status.c holds a request: a client that goes
     * away is noticed (ngx_http_test_reading) and its pool cleanup
     * cancels the operation.
     */

    r->main->count++;

    if (!r->discard_body) {
        r->read_event_handler = ngx_http_test_reading;

        if (r->connection->read->ready) {
            ngx_post_event(r->connection->read, &ngx_posted_events);

        } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DONE;
}


/* NGX_DECLINED with *err: a 400 */

static ngx_int_t
ngx_http_otp_analytics_args(ngx_http_request_t *r,
    ngx_http_otp_analytics_ctx_t *ctx, const char **err)
{
    size_t                     i;
    int64_t                    now, retention;
    ngx_int_t                  rc;
    ngx_str_t                  v;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    retention = (int64_t) (omcf->store.analytics_retention / 1000);

    now = (int64_t) ngx_time();

    /* to: exclusive, the next hour by default (this one included) */

    rc = ngx_http_otp_analytics_arg(r, "to", &v);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (ngx_otp_time_parse(v.data, v.len, &ctx->to) != NGX_OTP_OK) {
            *err = "to must be an RFC 3339 time or unix seconds.";
            return NGX_DECLINED;
        }

        ctx->to -= ctx->to % 3600;

    } else {
        ctx->to = now - now % 3600 + 3600;
    }

    rc = ngx_http_otp_analytics_arg(r, "from", &v);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (ngx_otp_time_parse(v.data, v.len, &ctx->from) != NGX_OTP_OK) {
            *err = "from must be an RFC 3339 time or unix seconds.";
            return NGX_DECLINED;
        }

        ctx->from -= ctx->from % 3600;

    } else {
        /* a day, or the retention when that is shorter */
        ctx->from = ctx->to - ngx_min(NGX_HTTP_OTP_ANALYTICS_DEFAULT,
                                      retention - retention % 3600);

        if (ctx->from < 0) {
            ctx->from = 0;
        }
    }

    if (ctx->from >= ctx->to) {
        *err = "from must be before to, an hour at least.";
        return NGX_DECLINED;
    }

    if (ctx->to - ctx->from > retention) {
        *err = "The range is longer than the analytics retention.";
        return NGX_DECLINED;
    }

    rc = ngx_http_otp_analytics_arg(r, "channel", &v);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        ctx->channel = ngx_otp_channel_parse(v.data, v.len);

        if (ctx->channel == 0) {
            *err = "channel must be sms, whatsapp or voice.";
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_otp_analytics_arg(r, "provider", &v);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (v.len == 0 || v.len > NGX_HTTP_OTP_NAME_LEN) {
            *err = "provider must be a provider's name.";
            return NGX_DECLINED;
        }

        ctx->provider = v;
    }

    rc = ngx_http_otp_analytics_arg(r, "country", &v);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (v.len > 0 && v.data[0] == '+') {
            v.data++;
            v.len--;
        }

        if (v.len == 0 || v.len > NGX_OTP_COUNTRY_MAX) {
            *err = "country must be a country calling code, such as 44.";
            return NGX_DECLINED;
        }

        for (i = 0; i < v.len; i++) {
            if (v.data[i] < '0' || v.data[i] > '9') {
                *err = "country must be a country calling code, such as 44.";
                return NGX_DECLINED;
            }
        }

        ctx->country = v;
    }

    return NGX_OK;
}


/* an argument, unescaped: NGX_OK, NGX_DECLINED when absent, NGX_ERROR */

static ngx_int_t
ngx_http_otp_analytics_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* longer than anything valid: keep it short, it is refused anyway */

    raw.len = ngx_min(raw.len, NGX_HTTP_OTP_ANALYTICS_ARG_MAX * 3);

    dst = ngx_pnalloc(r->pool, raw.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}


static void
ngx_http_otp_analytics_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                      rc;
    ngx_http_request_t            *r;
    ngx_http_otp_analytics_ctx_t  *ctx;

    ctx = op->data;
    ctx->op = NULL;
    r = ctx->request;

    /* from the store's event: the request's log context again */
    ngx_http_set_log_request(r->connection->log, r);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp analytics op %p done: status %d, %ui rows%s",
                   op, (int) op->status, op->nrows,
                   op->truncated ? ", truncated" : "");

    if (op->status == NGX_HTTP_OTP_STORE_OK) {
        rc = ngx_http_otp_analytics_answer(ctx, op);

    } else {
        rc = ngx_http_otp_store_unavailable(r);
    }

    ngx_http_otp_resume(r, rc);
}


static ngx_int_t
ngx_http_otp_analytics_answer(ngx_http_otp_analytics_ctx_t *ctx,
    ngx_http_otp_store_op_t *op)
{
    char                          *text;
    size_t                         len;
    u_char                        *body;
    ngx_int_t                      rc;
    ngx_uint_t                     i, n;
    ngx_array_t                    counts, failures;
    json_t                        *root, *totals, *arr, *o;
    ngx_http_request_t            *r;
    ngx_http_otp_analytics_sum_t  *s, total;

    r = ctx->request;

    if (ngx_http_otp_analytics_items(ctx, op, &counts, &failures) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    root = json_object();
    totals = json_object();

    if (root == NULL || totals == NULL) {
        json_decref(root);
        json_decref(totals);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    ngx_memzero(&total, sizeof(ngx_http_otp_analytics_sum_t));

    for (i = 0; i < counts.nelts; i++) {
        ngx_http_otp_analytics_add(&total,
            ((ngx_http_otp_analytics_item_t *) counts.elts)[i].row);
    }

    if (json_object_set_new(root, "from",
                            ngx_http_otp_analytics_time(ctx->from))
        || json_object_set_new(root, "to",
                               ngx_http_otp_analytics_time(ctx->to))
        || json_object_set_new(root, "currency",
                               ngx_http_otp_analytics_currency(r))
        || json_object_set_new(root, "truncated",
                               json_boolean(op->truncated))
        || ngx_http_otp_analytics_fill(totals, &total, 1)
        || json_object_set_new(root, "totals", totals))
    {
        totals = NULL;
        goto failed;
    }

    /* by channel and provider */

    s = ngx_http_otp_analytics_group(r->pool, &counts,
                                     ngx_http_otp_analytics_cmp_by, &n);
    arr = json_array();

    if ((s == NULL && n) || arr == NULL
        || json_object_set_new(root, "by", arr))
    {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        o = json_object();

        if (o == NULL || json_array_append_new(arr, o)
            || json_object_set_new(o, "channel", json_string(
                   ngx_otp_channel_name(s[i].first->row->channel)))
            || json_object_set_new(o, "provider",
                   ngx_http_otp_analytics_str(s[i].first->provider.data,
                                              s[i].first->provider.len))
            || ngx_http_otp_analytics_fill(o, &s[i], 1))
        {
            goto failed;
        }
    }

    /* by country and channel */

    s = ngx_http_otp_analytics_group(r->pool, &counts,
                                     ngx_http_otp_analytics_cmp_country, &n);
    arr = json_array();

    if ((s == NULL && n) || arr == NULL
        || json_object_set_new(root, "countries", arr))
    {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        o = json_object();

        if (o == NULL || json_array_append_new(arr, o)
            || json_object_set_new(o, "country",
                   ngx_http_otp_analytics_str(s[i].first->row->country,
                                              s[i].first->row->country_len))
            || json_object_set_new(o, "channel", json_string(
                   ngx_otp_channel_name(s[i].first->row->channel)))
            || ngx_http_otp_analytics_fill(o, &s[i], 0))
        {
            goto failed;
        }
    }

    /* failures by error code, most frequent first */

    s = ngx_http_otp_analytics_group(r->pool, &failures,
                                     ngx_http_otp_analytics_cmp_failure, &n);
    arr = json_array();

    if ((s == NULL && n) || arr == NULL
        || json_object_set_new(root, "failures", arr))
    {
        goto failed;
    }

    if (n) {
        ngx_qsort(s, n, sizeof(ngx_http_otp_analytics_sum_t),
                  ngx_http_otp_analytics_cmp_count);
    }

    for (i = 0; i < n && i < NGX_HTTP_OTP_ANALYTICS_FAILURES; i++) {
        o = json_object();

        if (o == NULL || json_array_append_new(arr, o)
            || json_object_set_new(o, "error_code",
                   ngx_http_otp_analytics_str(s[i].first->row->error_code,
                                          s[i].first->row->error_code_len))
            || json_object_set_new(o, "channel", json_string(
                   ngx_otp_channel_name(s[i].first->row->channel)))
            || json_object_set_new(o, "provider",
                   ngx_http_otp_analytics_str(s[i].first->provider.data,
                                              s[i].first->provider.len))
            || json_object_set_new(o, "count", json_integer(
                                       (json_int_t) s[i].failed)))
        {
            goto failed;
        }
    }

    /* the hourly series */

    s = ngx_http_otp_analytics_group(r->pool, &counts,
                                     ngx_http_otp_analytics_cmp_hour, &n);
    arr = json_array();

    if ((s == NULL && n) || arr == NULL
        || json_object_set_new(root, "hours", arr))
    {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        o = json_object();

        if (o == NULL || json_array_append_new(arr, o)
            || json_object_set_new(o, "hour", ngx_http_otp_analytics_time(
                                                  s[i].first->row->hour))
            || json_object_set_new(o, "channel", json_string(
                   ngx_otp_channel_name(s[i].first->row->channel)))
            || json_object_set_new(o, "provider",
                   ngx_http_otp_analytics_str(s[i].first->provider.data,
                                              s[i].first->provider.len))
            || json_object_set_new(o, "sent",
                                   json_integer((json_int_t) s[i].sent))
            || json_object_set_new(o, "delivered",
                                   json_integer((json_int_t) s[i].delivered))
            || json_object_set_new(o, "failed",
                                   json_integer((json_int_t) s[i].failed))
            || json_object_set_new(o, "delivery_ms_sum",
                                   json_integer((json_int_t) s[i].ms_sum))
            || json_object_set_new(o, "delivery_count",
                                   json_integer((json_int_t) s[i].ms_count))
            || json_object_set_new(o, "cost",
                                   ngx_http_otp_analytics_cost(s[i].cost)))
        {
            goto failed;
        }
    }

    if (op->truncated) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "otp analytics: more than %d rows in the range, "
                      "the answer counts the newest hours that fit "
                      "(\"truncated\": true)",
                      NGX_HTTP_OTP_ANALYTICS_ROWS_MAX);
    }

    /* %.15g: 0.9167 stays 0.9167, and a cost keeps its 6 decimals */

    text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));

    if (text == NULL) {
        goto failed;
    }

    len = ngx_strlen(text);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        free(text);
        goto failed;
    }

    ngx_memcpy(body, text, len);
    free(text);

    json_decref(root);

    return ngx_http_otp_json(r, NGX_HTTP_OK, body, len);

failed:

    json_decref(totals);
    json_decref(root);

    return rc;
}


/*
 * The rows of the answer: the app's (the http level's app: names with no
 * "APP-ID:"), through the filters, split into counts and failure rows.
 */

static ngx_int_t
ngx_http_otp_analytics_items(ngx_http_otp_analytics_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, ngx_array_t *counts, ngx_array_t *failures)
{
    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_request_t             *r;
    ngx_http_otp_app_t             *app;
    ngx_http_otp_analytics_row_t   *row;
    ngx_http_otp_analytics_item_t  *item;

    r = ctx->request;
    app = ngx_http_otp_get_app(r);

    if (ngx_array_init(counts, r->pool, op->nrows ? op->nrows : 1,
                       sizeof(ngx_http_otp_analytics_item_t))
        != NGX_OK
        || ngx_array_init(failures, r->pool, 4,
                          sizeof(ngx_http_otp_analytics_item_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < op->nrows; i++) {
        row = &op->rows[i];

        if (ngx_http_otp_app_provider(app, row->provider, row->provider_len,
                                      &name)
            != NGX_OK)
        {
            continue;
        }

        if ((ctx->channel && row->channel != ctx->channel)
            || (ctx->provider.len
                && (name.len != ctx->provider.len
                    || ngx_memcmp(name.data, ctx->provider.data, name.len)
                       != 0))
            || (ctx->country.len
                && (row->country_len != ctx->country.len
                    || ngx_memcmp(row->country, ctx->country.data,
                                  row->country_len)
                       != 0)))
        {
            continue;
        }

        item = ngx_array_push(row->failure ? failures : counts);
        if (item == NULL) {
            return NGX_ERROR;
        }

        item->row = row;
        item->provider = name;
    }

    return NGX_OK;
}


/* the items sorted by cmp, equal neighbours summed: *n sums */

static ngx_http_otp_analytics_sum_t *
ngx_http_otp_analytics_group(ngx_pool_t *pool, ngx_array_t *items,
    ngx_http_otp_analytics_cmp_pt cmp, ngx_uint_t *n)
{
    ngx_uint_t                      i;
    ngx_http_otp_analytics_sum_t   *sums, *s;
    ngx_http_otp_analytics_item_t  *item;

    *n = 0;

    if (items->nelts == 0) {
        return NULL;
    }

    item = items->elts;

    ngx_qsort(item, items->nelts, sizeof(ngx_http_otp_analytics_item_t),
              cmp);

    sums = ngx_pcalloc(pool,
                       items->nelts * sizeof(ngx_http_otp_analytics_sum_t));
    if (sums == NULL) {
        *n = 1;
        return NULL;
    }

    s = NULL;

    for (i = 0; i < items->nelts; i++) {

        if (s == NULL || cmp(s->first, &item[i]) != 0) {
            s = &sums[(*n)++];
            s->first = &item[i];
        }

        ngx_http_otp_analytics_add(s, item[i].row);
    }

    return sums;
}


static void
ngx_http_otp_analytics_add(ngx_http_otp_analytics_sum_t *s,
    ngx_http_otp_analytics_row_t *row)
{
    ngx_uint_t  i;

    s->sent += row->sent;
    s->delivered += row->delivered;
    s->failed += row->failed;
    s->ms_sum += row->ms_sum;
    s->ms_count += row->ms_count;
    s->cost += row->cost;

    for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS; i++) {
        s->hist[i] += row->hist[i];
    }
}


/* sent, delivered, failed, delivery_rate [, the times and the cost] */

static int
ngx_http_otp_analytics_fill(json_t *o, ngx_http_otp_analytics_sum_t *s,
    ngx_uint_t timing)
{
    double   rate;
    int64_t  p95;
    json_t  *v;

    if (s->sent) {
        rate = (double) s->delivered / (double) s->sent;
        v = json_real((double) (int64_t) (rate * 10000 + 0.5) / 10000);

    } else {
        v = json_null();
    }

    if (json_object_set_new(o, "sent", json_integer((json_int_t) s->sent))
        || json_object_set_new(o, "delivered",
                               json_integer((json_int_t) s->delivered))
        || json_object_set_new(o, "failed",
                               json_integer((json_int_t) s->failed))
        || json_object_set_new(o, "delivery_rate", v))
    {
        return -1;
    }

    if (!timing) {
        return 0;
    }

    p95 = ngx_otp_delivery_quantile(s->hist, 950);

    return json_object_set_new(o, "avg_delivery_ms", s->ms_count
               ? json_integer((json_int_t) ((s->ms_sum + s->ms_count / 2)
                                            / s->ms_count))
               : json_null())
           || json_object_set_new(o, "p95_delivery_ms", p95 >= 0
                                  ? json_integer((json_int_t) p95)
                                  : json_null())
           || json_object_set_new(o, "cost",
                                  ngx_http_otp_analytics_cost(s->cost));
}


/* a stored string: an error code is the provider's text, maybe not UTF-8 */

static json_t *
ngx_http_otp_analytics_str(u_char *data, size_t len)
{
    size_t  i;
    u_char  buf[NGX_HTTP_OTP_ERROR_CODE_MAX + NGX_HTTP_OTP_PROVIDER_NAME_MAX];

    len = ngx_min(len, sizeof(buf));

    for (i = 0; i < len; i++) {
        buf[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? data[i] : '?';
    }

    return json_stringn((char *) buf, len);
}


static json_t *
ngx_http_otp_analytics_time(int64_t sec)
{
    size_t  n;
    u_char  buf[NGX_OTP_TIME_LEN];

    n = ngx_otp_time_format(sec, buf);

    return n ? json_stringn((char *) buf, n) : json_null();
}


/* the price table's currency, "" when no provider of the app has prices */

static json_t *
ngx_http_otp_analytics_currency(ngx_http_request_t *r)
{
    ngx_str_t                 *c;
    ngx_uint_t                 i;
    ngx_http_otp_app_t        *app;
    ngx_http_otp_provider_t   *p;
    ngx_http_otp_main_conf_t  *omcf;

    app = ngx_http_otp_get_app(r);
    p = app->providers.elts;

    for (i = 0; i < app->providers.nelts; i++) {
        if (p[i].prices && p[i].prices->nelts) {
            omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
            c = ngx_http_otp_cost_currency(omcf);
            return json_stringn((char *) c->data, c->len);
        }
    }

    return json_string("");
}


/* millionths as currency units, 6 decimals at most */

static json_t *
ngx_http_otp_analytics_cost(int64_t cost)
{
    return json_real((double) cost / 1000000);
}


#define ngx_http_otp_analytics_cmp_mem(a, alen, b, blen)                      \
    do {                                                                      \
        int  rc_;                                                             \
        rc_ = ngx_memn2cmp(a, b, alen, blen);                                 \
        if (rc_) {                                                            \
            return rc_;                                                       \
        }                                                                     \
    } while (0)

#define ngx_http_otp_analytics_cmp_int(a, b)                                  \
    do {                                                                      \
        if ((a) != (b)) {                                                     \
            return ((a) < (b)) ? -1 : 1;                                      \
        }                                                                     \
    } while (0)


static int
ngx_http_otp_analytics_cmp_by(const void *one, const void *two)
{
    const ngx_http_otp_analytics_item_t  *a = one, *b = two;

    ngx_http_otp_analytics_cmp_int(a->row->channel, b->row->channel);
    ngx_http_otp_analytics_cmp_mem(a->provider.data, a->provider.len,
                                   b->provider.data, b->provider.len);
    return 0;
}


static int
ngx_http_otp_analytics_cmp_country(const void *one, const void *two)
{
    const ngx_http_otp_analytics_item_t  *a = one, *b = two;

    ngx_http_otp_analytics_cmp_mem(a->row->country, a->row->country_len,
                                   b->row->country, b->row->country_len);
    ngx_http_otp_analytics_cmp_int(a->row->channel, b->row->channel);
    return 0;
}


static int
ngx_http_otp_analytics_cmp_failure(const void *one, const void *two)
{
    const ngx_http_otp_analytics_item_t  *a = one, *b = two;

    ngx_http_otp_analytics_cmp_mem(a->row->error_code, a->row->error_code_len,
                                   b->row->error_code,
                                   b->row->error_code_len);
    ngx_http_otp_analytics_cmp_int(a->row->channel, b->row->channel);
    ngx_http_otp_analytics_cmp_mem(a->provider.data, a->provider.len,
                                   b->provider.data, b->provider.len);
    return 0;
}


static int
ngx_http_otp_analytics_cmp_hour(const void *one, const void *two)
{
    const ngx_http_otp_analytics_item_t  *a = one, *b = two;

    ngx_http_otp_analytics_cmp_int(a->row->hour, b->row->hour);
    ngx_http_otp_analytics_cmp_int(a->row->channel, b->row->channel);
    ngx_http_otp_analytics_cmp_mem(a->provider.data, a->provider.len,
                                   b->provider.data, b->provider.len);
    return 0;
}


/* failures: the most first; equal counts in the order grouped */

static int
ngx_http_otp_analytics_cmp_count(const void *one, const void *two)
{
    const ngx_http_otp_analytics_sum_t  *a = one, *b = two;

    ngx_http_otp_analytics_cmp_int(b->failed, a->failed);
    return ngx_http_otp_analytics_cmp_failure(a->first, b->first);
}


size_t
ngx_http_otp_country(u_char *phone, size_t len, u_char *cc)
{
    size_t         n;
    const u_char  *p;

    p = NULL;
    n = ngx_otp_country_code(phone, len, &p);

    if (n) {
        ngx_memcpy(cc, p, n);
    }

    return n;
}


static void
ngx_http_otp_analytics_cleanup(void *data)
{
    ngx_http_otp_analytics_ctx_t *ctx = data;

    if (ctx->op) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp analytics request gone: cancel op %p", ctx->op);

        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }
}

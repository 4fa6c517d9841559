
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Prometheus metrics.  Every series is one ngx_atomic_t in a shared-memory
 * zone ("otp_metrics"), laid out at postconfiguration when the providers,
 * channels, results and bucket bounds are all known: a counter is one
 * slot, a histogram nb + 2 (a count per bucket, not cumulative, then the
 * sum in ms).  Workers add with ngx_atomic_fetch_add and never lock: a
 * scrape reads each slot once, so a histogram read while a worker adds to
 * it may be off by that one observation between its buckets and its sum,
 * as with any lock-free exposition.
 *
 * The zone is kept across reloads as ngx_http_limit_req_module keeps its
 * own: nginx hands init_zone the old zone's data when the name, tag and
 * size are the same.  The zone's name carries the layout (a CRC of every
 * series' labels and the bucket bounds): another layout is another zone,
 * started at zero (said at notice), while the old workers, shutting down
 * gracefully, go on adding to the old one, which nginx frees when they
 * are gone.  One zone never holds two layouts: an old worker can never
 * write into the new configuration's slots.
 *
 * The hot path finds the zone through ngx_cycle, not through a static,
 * so that a failed reload leaves nothing of its configuration behind.
 *
 * No series carries a code, a phone or anything a client sent: labels
 * are the configuration's names and the module's fixed results.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_cost.h"
#include "ngx_http_otp_alert.h"


#define NGX_HTTP_OTP_METRICS_ZONE   "otp_metrics_"    /* and the layout */

#define NGX_HTTP_OTP_METRICS_NCH    3       /* sms, whatsapp, voice */
#define NGX_HTTP_OTP_METRICS_NCAT   12      /* accepted, the categories */
#define NGX_HTTP_OTP_METRICS_NLP    64      /* long-poll entries: workers
                                               of two generations */
#define NGX_HTTP_OTP_METRICS_NST    7       /* 0, NGX_OTP_STATUS_* */
#define NGX_HTTP_OTP_METRICS_NOP    15      /* 0, NGX_HTTP_OTP_OP_* */
#define NGX_HTTP_OTP_METRICS_NREASON  5

#define NGX_HTTP_OTP_METRICS_MAX_BUCKETS  32

/* histograms */
#define NGX_HTTP_OTP_METRICS_H_PROVIDER  0
#define NGX_HTTP_OTP_METRICS_H_STORE     1
#define NGX_HTTP_OTP_METRICS_H_DELIVERY  2
#define NGX_HTTP_OTP_METRICS_NH          3

/* a line never exceeds this: names and labels are bounded */
#define NGX_HTTP_OTP_METRICS_LINE   1024
#define NGX_HTTP_OTP_METRICS_BUF    16384


typedef struct {
    ngx_str_t                       app;        /* "": the http level's */
    ngx_str_t                       name;
    ngx_uint_t                      channels;
} ngx_http_otp_metrics_provider_t;


typedef struct {
    uint32_t                        layout;
    ngx_uint_t                      nslots;
    ngx_atomic_t                   *slot;
} ngx_http_otp_metrics_sh_t;


struct ngx_http_otp_metrics_s {
    ngx_shm_zone_t                 *zone;
    ngx_atomic_t                   *slot;       /* NULL until the zone is */

    ngx_array_t                     providers;  /* ..._metrics_provider_t */
    ngx_msec_t                     *bounds[NGX_HTTP_OTP_METRICS_NH];
    ngx_uint_t                      nbounds[NGX_HTTP_OTP_METRICS_NH];

    ngx_uint_t                      b_attempt;
    ngx_uint_t                      b_status;
    ngx_uint_t                      b_plat;
    ngx_uint_t                      b_dlat;
    ngx_uint_t                      b_budget;
    ngx_uint_t                      b_send;
    ngx_uint_t                      b_verify;
    ngx_uint_t                      b_refused;
    ngx_uint_t                      b_geo;
    ngx_uint_t                      b_optout;
    ngx_uint_t                      b_ops;
    ngx_uint_t                      b_slat;
    ngx_uint_t                      b_longpoll;
    ngx_uint_t                      b_cost;     /* millionths (otp_price) */
    ngx_uint_t                      nslots;
    uint32_t                        layout;

    ngx_uint_t                      used;       /* an otp_metrics */
};


typedef struct {
    ngx_http_request_t             *r;
    ngx_chain_t                    *out;
    ngx_chain_t                   **last;
    ngx_buf_t                      *b;
} ngx_http_otp_metrics_out_t;


static ngx_http_otp_metrics_t *ngx_http_otp_metrics_conf(ngx_conf_t *cf);
static ngx_inline ngx_http_otp_metrics_t *ngx_http_otp_metrics_get(void);
static ngx_uint_t ngx_http_otp_metrics_alive(ngx_atomic_uint_t pid);
static ngx_uint_t ngx_http_otp_metrics_channel(ngx_uint_t channel);
static ngx_uint_t ngx_http_otp_metrics_result(const char **names,
    const char *result);
static void ngx_http_otp_metrics_observe(ngx_http_otp_metrics_t *m,
    ngx_uint_t h, ngx_uint_t base, ngx_msec_t ms);
static ngx_int_t ngx_http_otp_metrics_providers(ngx_conf_t *cf,
    ngx_http_otp_metrics_t *m);
static ngx_int_t ngx_http_otp_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_uint_t ngx_http_otp_metrics_zone_existed(ngx_shm_zone_t *zone);
static ngx_int_t ngx_http_otp_metrics_log(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_otp_metrics_line(ngx_http_otp_metrics_out_t *o);
static ngx_int_t ngx_http_otp_metrics_render(ngx_http_otp_metrics_out_t *o,
    ngx_http_otp_metrics_t *m);
static ngx_int_t ngx_http_otp_metrics_family(ngx_http_otp_metrics_out_t *o,
    const char *name, const char *type, const char *help);
static u_char *ngx_http_otp_metrics_labels(u_char *p,
    ngx_http_otp_metrics_provider_t *pr, ngx_uint_t channel);
static u_char *ngx_http_otp_metrics_escape(u_char *p, ngx_str_t *s);
static ngx_int_t ngx_http_otp_metrics_sample(ngx_http_otp_metrics_out_t *o,
    const char *name, u_char *labels, size_t len, ngx_atomic_uint_t value);
static ngx_int_t ngx_http_otp_metrics_histogram(
    ngx_http_otp_metrics_out_t *o, ngx_http_otp_metrics_t *m,
    const char *name, u_char *labels, size_t len, ngx_uint_t h,
    ngx_uint_t base);
static u_char *ngx_http_otp_metrics_seconds(u_char *p, ngx_uint_t ms);
static ngx_int_t ngx_http_otp_metrics_cost(ngx_http_otp_metrics_out_t *o,
    ngx_http_otp_metrics_t *m);


/* the default bounds, ms: providers answer in tens of ms to seconds, the
 * store in a ms or so (the time cache's resolution), a phone in seconds
 * to minutes */

static ngx_msec_t  ngx_http_otp_metrics_default_provider[] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000
};

static ngx_msec_t  ngx_http_otp_metrics_default_store[] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000
};

static ngx_msec_t  ngx_http_otp_metrics_default_delivery[] = {
    1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000, 600000,
    1800000
};


static const char  *ngx_http_otp_metrics_hist_names[] = {
    "provider", "store", "delivery"
};


static const char  *ngx_http_otp_metrics_send_results[] = {
    "sent", "delivery_failed", "rate_limited", "destination_blocked",
    "opted_out", "invalid_phone", "invalid_channel", "invalid_request",
    "store_unavailable", "method_not_allowed", "client_closed", "other",
    NULL
};

static const char  *ngx_http_otp_metrics_verify_results[] = {
    "verified", "invalid_code", "expired", "too_many_attempts",
    "invalid_phone", "invalid_request", "store_unavailable",
    "method_not_allowed", "client_closed", "other", NULL
};

static const char  *ngx_http_otp_metrics_reasons[] = {
    "locked", "cooldown", "phone_limit", "client_limit", "budget"
};

static const char  *ngx_http_otp_metrics_ops[] = {
    NULL, "issue", "verify", "budget", "message_put", "revoke",
    "message_link", "status_set", "status_get", "optout_set",
    "optout_clear", "code_live", "seen", "analytics_get", "analytics_add"
};

static const unsigned  ngx_http_otp_metrics_channels[] = {
    NGX_OTP_SMS, NGX_OTP_WHATSAPP, NGX_OTP_VOICE
};


#define ngx_http_otp_metrics_nresults(names)                                 \
    (sizeof(names) / sizeof(names[0]) - 1)

#define ngx_http_otp_metrics_add(m, i, n)                                    \
    (void) ngx_atomic_fetch_add(&(m)->slot[i], (ngx_atomic_int_t) (n))


/* configuration */

static ngx_http_otp_metrics_t *
ngx_http_otp_metrics_conf(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->metrics == NULL) {
        omcf->metrics = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_metrics_t));
    }

    return omcf->metrics;
}


char *
ngx_http_otp_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char                    *rv;
    ngx_http_otp_metrics_t  *m;

    if (olcf->handler || olcf->logout) {
        return "is duplicate";
    }

    m = ngx_http_otp_metrics_conf(cf);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    m->used = 1;

    /* a scrape is the operator's to protect (allow, deny): no otp_gate
     * inherited from the server gets in its way */
    if (olcf->gate == NGX_CONF_UNSET) {
        olcf->gate = 0;
    }

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_metrics_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return NGX_CONF_OK;
}


/* otp_metrics_buckets provider|store|delivery TIME ... */

char *
ngx_http_otp_metrics_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                ms;
    ngx_str_t               *value;
    ngx_uint_t               i, h, n;
    ngx_msec_t              *bounds;
    ngx_http_otp_metrics_t  *m;

    value = cf->args->elts;

    for (h = 0; h < NGX_HTTP_OTP_METRICS_NH; h++) {
        if (ngx_strcmp(value[1].data, ngx_http_otp_metrics_hist_names[h])
            == 0)
        {
            break;
        }
    }

    if (h == NGX_HTTP_OTP_METRICS_NH) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not provider, store or delivery",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    m = ngx_http_otp_metrics_conf(cf);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    if (m->bounds[h]) {
        return "is duplicate";
    }

    n = cf->args->nelts - 2;

    if (n > NGX_HTTP_OTP_METRICS_MAX_BUCKETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "at most %d bucket bounds",
                           NGX_HTTP_OTP_METRICS_MAX_BUCKETS);
        return NGX_CONF_ERROR;
    }

    bounds = ngx_palloc(cf->pool, n * sizeof(ngx_msec_t));
    if (bounds == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        ms = ngx_parse_time(&value[i + 2], 0);

        if (ms == NGX_ERROR || ms == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket bound \"%V\": a time "
                               "above 0 (\"250ms\", \"2s\")", &value[i + 2]);
            return NGX_CONF_ERROR;
        }

        if (i > 0 && (ngx_msec_t) ms <= bounds[i - 1]) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "bucket bounds must increase: \"%V\"",
                               &value[i + 2]);
            return NGX_CONF_ERROR;
        }

        bounds[i] = (ngx_msec_t) ms;
    }

    m->bounds[h] = bounds;
    m->nbounds[h] = n;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_metrics_postconf(ngx_conf_t *cf)
{
    uint32_t                    crc;
    ngx_uint_t                  i, h, np;
    ngx_http_handler_pt        *hp;
    ngx_http_otp_metrics_t     *m;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_otp_main_conf_t   *omcf;
    ngx_http_otp_metrics_provider_t  *pr;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    m = omcf->metrics;

    if (m == NULL || !m->used) {
        /* otp_metrics_buckets alone: nothing is counted */
        omcf->metrics = NULL;
        return NGX_OK;
    }

    if (m->bounds[NGX_HTTP_OTP_METRICS_H_PROVIDER] == NULL) {
        m->bounds[0] = ngx_http_otp_metrics_default_provider;
        m->nbounds[0] = sizeof(ngx_http_otp_metrics_default_provider)
                        / sizeof(ngx_msec_t);
    }

    if (m->bounds[NGX_HTTP_OTP_METRICS_H_STORE] == NULL) {
        m->bounds[1] = ngx_http_otp_metrics_default_store;
        m->nbounds[1] = sizeof(ngx_http_otp_metrics_default_store)
                        / sizeof(ngx_msec_t);
    }

    if (m->bounds[NGX_HTTP_OTP_METRICS_H_DELIVERY] == NULL) {
        m->bounds[2] = ngx_http_otp_metrics_default_delivery;
        m->nbounds[2] = sizeof(ngx_http_otp_metrics_default_delivery)
                        / sizeof(ngx_msec_t);
    }

    if (ngx_http_otp_metrics_providers(cf, m) != NGX_OK) {
        return NGX_ERROR;
    }

    np = m->providers.nelts;

    m->b_attempt = 0;
    m->b_status = m->b_attempt
                  + np * NGX_HTTP_OTP_METRICS_NCH * NGX_HTTP_OTP_METRICS_NCAT;
    m->b_plat = m->b_status
                + np * NGX_HTTP_OTP_METRICS_NCH * NGX_HTTP_OTP_METRICS_NST;
    m->b_dlat = m->b_plat + np * (m->nbounds[0] + 2);
    m->b_budget = m->b_dlat
                  + np * NGX_HTTP_OTP_METRICS_NCH * (m->nbounds[2] + 2);
    m->b_send = m->b_budget + np * 2;
    m->b_verify = m->b_send
               + ngx_http_otp_metrics_nresults(ngx_http_otp_metrics_send_results);
    m->b_refused = m->b_verify
             + ngx_http_otp_metrics_nresults(ngx_http_otp_metrics_verify_results);
    m->b_geo = m->b_refused + NGX_HTTP_OTP_METRICS_NREASON;
    m->b_optout = m->b_geo + 1;
    m->b_ops = m->b_optout + 2;
    m->b_slat = m->b_ops + NGX_HTTP_OTP_METRICS_NOP * 2;
    m->b_longpoll = m->b_slat
                    + NGX_HTTP_OTP_METRICS_NOP * (m->nbounds[1] + 2);
    m->b_cost = m->b_longpoll + 2 * NGX_HTTP_OTP_METRICS_NLP;
    m->nslots = m->b_cost + np * NGX_HTTP_OTP_METRICS_NCH;

    /* the layout: what every slot means */

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, (u_char *) "otp-metrics-1", 13);
    ngx_crc32_update(&crc, (u_char *) &m->nslots, sizeof(ngx_uint_t));

    pr = m->providers.elts;

    for (i = 0; i < np; i++) {
        ngx_crc32_update(&crc, pr[i].app.data, pr[i].app.len);
        ngx_crc32_update(&crc, (u_char *) "/", 1);
        ngx_crc32_update(&crc, pr[i].name.data, pr[i].name.len);
        ngx_crc32_update(&crc, (u_char *) &pr[i].channels,
                         sizeof(ngx_uint_t));
    }

    for (h = 0; h < NGX_HTTP_OTP_METRICS_NH; h++) {
        ngx_crc32_update(&crc, (u_char *) m->bounds[h],
                         m->nbounds[h] * sizeof(ngx_msec_t));
        ngx_crc32_update(&crc, (u_char *) "|", 1);
    }

    ngx_crc32_final(crc);
    m->layout = crc;

    m->zone = ngx_http_otp_layout_zone(cf, NGX_HTTP_OTP_METRICS_ZONE,
                  m->layout,
                  m->nslots * sizeof(ngx_atomic_t)
                  + sizeof(ngx_http_otp_metrics_sh_t),
                  &ngx_http_otp_module, ngx_http_otp_metrics_init_zone, m);
    if (m->zone == NULL) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    hp = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (hp == NULL) {
        return NGX_ERROR;
    }

    *hp = ngx_http_otp_metrics_log;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "otp metrics: %ui slots, layout %08xD", m->nslots,
                   m->layout);

    return NGX_OK;
}


/*
 * Every app's providers, each given the index of its series.  Two apps
 * with the same id (one app in two servers) have the same providers:
 * they share their series, so that no two series have the same labels.
 */

static ngx_int_t
ngx_http_otp_metrics_providers(ngx_conf_t *cf, ngx_http_otp_metrics_t *m)
{
    ngx_uint_t                        i, j, k;
    ngx_http_otp_app_t              **apps;
    ngx_http_otp_provider_t          *p;
    ngx_http_otp_main_conf_t         *omcf;
    ngx_http_otp_metrics_provider_t  *pr;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (ngx_array_init(&m->providers, cf->pool, 4,
                       sizeof(ngx_http_otp_metrics_provider_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    apps = omcf->apps.elts;

    for (i = 0; i < omcf->apps.nelts; i++) {
        p = apps[i]->providers.elts;

        for (j = 0; j < apps[i]->providers.nelts; j++) {
            pr = m->providers.elts;

            for (k = 0; k < m->providers.nelts; k++) {
                /* the http level's app has no id: data NULL, len 0,
                 * which strncmp() must not be given (UBSan says so) */
                if (pr[k].app.len == apps[i]->id.len
                    && (apps[i]->id.len == 0
                        || ngx_strncmp(pr[k].app.data, apps[i]->id.data,
                                       apps[i]->id.len) == 0)
                    && pr[k].name.len == p[j].name.len
                    && ngx_strncmp(pr[k].name.data, p[j].name.data,
                                   p[j].name.len) == 0)
                {
                    break;
                }
            }

            if (k == m->providers.nelts) {
                pr = ngx_array_push(&m->providers);
                if (pr == NULL) {
                    return NGX_ERROR;
                }

                pr->app = apps[i]->id;
                pr->name = p[j].name;
                pr->channels = 0;
            }

            pr = m->providers.elts;
            pr[k].channels |= p[j].channels;
            p[j].metrics = k;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_otp_metrics_t  *m = shm_zone->data;

    size_t                      size;
    ngx_slab_pool_t            *shpool;
    ngx_http_otp_metrics_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    size = m->nslots * sizeof(ngx_atomic_t);

    if (data) {
        /* a reload of the same layout (the zone's name): its counters */
        sh = shpool->data;

        if (sh->layout != m->layout || sh->nslots != m->nslots) {
            /* a CRC collision, in theory: never mix two layouts */
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "otp metrics: zone \"%V\" holds another "
                          "layout", &shm_zone->shm.name);
            return NGX_ERROR;
        }

        m->slot = sh->slot;
        return NGX_OK;
    }

    if (ngx_http_otp_metrics_zone_existed(shm_zone)) {
        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "otp metrics: the series changed with the "
                      "configuration: every counter starts at zero");
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_otp_metrics_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->slot = ngx_slab_calloc(shpool, size);
    if (sh->slot == NULL) {
        return NGX_ERROR;
    }

    sh->layout = m->layout;
    sh->nslots = m->nslots;
    shpool->data = sh;
    m->slot = sh->slot;

    return NGX_OK;
}


/*
 * init_zone runs inside ngx_init_cycle(), when ngx_cycle is still the
 * old cycle (ngx_master_process_cycle() switches after it returns): a
 * zone of ours there, of another name, means a reload that changed the
 * layout.
 */

static ngx_uint_t
ngx_http_otp_metrics_zone_existed(ngx_shm_zone_t *zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *z;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    z = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            z = part->elts;
            i = 0;
        }

        if (i >= part->nelts) {
            continue;
        }

        if (z[i].tag == zone->tag
            && z[i].shm.name.len > sizeof(NGX_HTTP_OTP_METRICS_ZONE) - 1
            && ngx_strncmp(z[i].shm.name.data, NGX_HTTP_OTP_METRICS_ZONE,
                           sizeof(NGX_HTTP_OTP_METRICS_ZONE) - 1)
               == 0)
        {
            return 1;
        }
    }
}


/* the hot path */

static ngx_inline ngx_http_otp_metrics_t *
ngx_http_otp_metrics_get(void)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_otp_module);

    if (omcf == NULL || omcf->metrics == NULL) {
        return NULL;
    }

    return omcf->metrics->slot ? omcf->metrics : NULL;
}


static ngx_uint_t
ngx_http_otp_metrics_channel(ngx_uint_t channel)
{
    switch (channel) {
    case NGX_OTP_WHATSAPP:
        return 1;
    case NGX_OTP_VOICE:
        return 2;
    default:
        return 0;
    }
}


static ngx_uint_t
ngx_http_otp_metrics_result(const char **names, const char *result)
{
    ngx_uint_t  i;

    for (i = 0; names[i + 1]; i++) {
        if (ngx_strcmp(names[i], result) == 0) {
            return i;
        }
    }

    /* the last: "other" */
    return i;
}


static void
ngx_http_otp_metrics_observe(ngx_http_otp_metrics_t *m, ngx_uint_t h,
    ngx_uint_t base, ngx_msec_t ms)
{
    ngx_uint_t   i, n;
    ngx_msec_t  *bounds;

    n = m->nbounds[h];
    bounds = m->bounds[h];

    for (i = 0; i < n; i++) {
        if (ms <= bounds[i]) {
            break;
        }
    }

    ngx_http_otp_metrics_add(m, base + i, 1);
    ngx_http_otp_metrics_add(m, base + n + 1, ms);
}


void
ngx_http_otp_metrics_send(ngx_http_otp_send_t *send)
{
    ngx_uint_t               ch, cat, p;
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m == NULL || send->provider->metrics >= m->providers.nelts) {
        return;
    }

    p = send->provider->metrics;
    ch = ngx_http_otp_metrics_channel(send->channel);
    cat = send->rc == NGX_OK ? 0 : send->category;

    /* a failure is never counted as accepted (category 0), whatever a
     * path that failed to name one left there */
    if (cat >= NGX_HTTP_OTP_METRICS_NCAT || (cat == 0 && send->rc != NGX_OK))
    {
        cat = NGX_OTP_DELIVERY_INTERNAL;
    }

    ngx_http_otp_metrics_add(m, m->b_attempt
                                + (p * NGX_HTTP_OTP_METRICS_NCH + ch)
                                  * NGX_HTTP_OTP_METRICS_NCAT
                                + cat, 1);

    ngx_http_otp_metrics_observe(m, NGX_HTTP_OTP_METRICS_H_PROVIDER,
                                 m->b_plat + p * (m->nbounds[0] + 2),
                                 ngx_current_msec - send->start);

    if (send->rc == NGX_OK && send->cost > 0) {
        ngx_http_otp_metrics_add(m, m->b_cost
                                    + p * NGX_HTTP_OTP_METRICS_NCH + ch,
                                 send->cost);
    }
}


void
ngx_http_otp_metrics_store(ngx_http_otp_store_op_t *op)
{
    ngx_uint_t               type;
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m == NULL) {
        return;
    }

    type = op->type;

    if (type >= NGX_HTTP_OTP_METRICS_NOP) {
        type = 0;
    }

    ngx_http_otp_metrics_add(m, m->b_ops + type * 2
                    + (op->status == NGX_HTTP_OTP_STORE_UNAVAILABLE), 1);

    ngx_http_otp_metrics_observe(m, NGX_HTTP_OTP_METRICS_H_STORE,
                                 m->b_slat + type * (m->nbounds[1] + 2),
                                 ngx_current_msec - op->start);
}


void
ngx_http_otp_metrics_refused(ngx_uint_t reason)
{
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m && reason < NGX_HTTP_OTP_METRICS_NREASON) {
        ngx_http_otp_metrics_add(m, m->b_refused + reason, 1);
    }
}


void
ngx_http_otp_metrics_budget(ngx_http_otp_provider_t *p, ngx_uint_t over)
{
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m && p->metrics < m->providers.nelts) {
        ngx_http_otp_metrics_add(m, m->b_budget + p->metrics * 2
                                    + (over ? 1 : 0), 1);
    }
}


void
ngx_http_otp_metrics_status(ngx_http_otp_provider_t *p,
    ngx_http_otp_message_t *msg)
{
    ngx_uint_t               ch, base;
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m == NULL || p->metrics >= m->providers.nelts
        || msg->status >= NGX_HTTP_OTP_METRICS_NST)
    {
        return;
    }

    ch = ngx_http_otp_metrics_channel(msg->channel);

    ngx_http_otp_metrics_add(m, m->b_status
                                + (p->metrics * NGX_HTTP_OTP_METRICS_NCH + ch)
                                  * NGX_HTTP_OTP_METRICS_NST
                                + msg->status, 1);

    /* the time to delivery, where the store tells when it was sent */

    if (msg->status != NGX_OTP_STATUS_DELIVERED || msg->created == 0
        || msg->updated < msg->created)
    {
        return;
    }

    base = m->b_dlat + (p->metrics * NGX_HTTP_OTP_METRICS_NCH + ch)
                       * (m->nbounds[2] + 2);

    ngx_http_otp_metrics_observe(m, NGX_HTTP_OTP_METRICS_H_DELIVERY, base,
                                 (ngx_msec_t) (msg->updated - msg->created));
}


void
ngx_http_otp_metrics_optout(ngx_uint_t set)
{
    ngx_http_otp_metrics_t  *m;

    m = ngx_http_otp_metrics_get();

    if (m == NULL) {
        return;
    }

    ngx_http_otp_metrics_add(m, m->b_optout + (set ? 0 : 1), 1);
}


/*
 * The long-polls held are a gauge, which a worker that dies holding some
 * (a crash, a kill -9) must not leave raised for the life of the zone:
 * each worker counts in an entry of its own, {pid, count}, claimed at its
 * first long-poll (a free entry, or one whose process is gone), and a
 * scrape adds the entries of live processes only.  An exited worker's
 * count is 0 anyway; a dead one's is dropped.  With every entry taken,
 * the first one is shared.
 */

void
ngx_http_otp_metrics_longpoll(ngx_int_t delta)
{
    ngx_uint_t               i;
    ngx_atomic_t            *pid;
    ngx_atomic_uint_t        old;
    ngx_http_otp_metrics_t  *m;

    static ngx_int_t         entry = -1;
    static ngx_http_otp_metrics_t  *claimed;

    m = ngx_http_otp_metrics_get();

    if (m == NULL) {
        return;
    }

    if (entry < 0 || claimed != m) {
        entry = 0;
        claimed = m;

        for (i = 0; i < NGX_HTTP_OTP_METRICS_NLP; i++) {
            pid = &m->slot[m->b_longpoll + 2 * i];
            old = *pid;

            if (old == (ngx_atomic_uint_t) ngx_pid) {
                entry = i;
                break;
            }

            if ((old == 0 || !ngx_http_otp_metrics_alive(old))
                && ngx_atomic_cmp_set(pid, old, ngx_pid))
            {
                /* a dead process's count goes with it */
                m->slot[m->b_longpoll + 2 * i + 1] = 0;
                entry = i;
                break;
            }
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "otp metrics: long-polls of pid %P in entry %i",
                       ngx_pid, entry);
    }

    ngx_http_otp_metrics_add(m, m->b_longpoll + 2 * entry + 1, delta);
}


static ngx_uint_t
ngx_http_otp_metrics_alive(ngx_atomic_uint_t pid)
{
    return kill((ngx_pid_t) pid, 0) == 0 || ngx_errno == NGX_EPERM;
}


/*
 * Requests by result, once each, at the log phase: what the request came
 * to in the end ($otp_result), whichever of its paths set it.
 */

static ngx_int_t
ngx_http_otp_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                i;
    const char               *result;
    ngx_http_otp_metrics_t   *m;
    ngx_http_otp_loc_conf_t  *olcf;

    if (ngx_http_otp_outcome_get(r, &result) == NULL) {
        return NGX_OK;
    }

    m = ngx_http_otp_metrics_get();

    if (m == NULL) {
        return NGX_OK;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    switch (olcf->handler) {

    case NGX_HTTP_OTP_HANDLER_SEND:
        i = ngx_http_otp_metrics_result(ngx_http_otp_metrics_send_results,
                                        result);
        ngx_http_otp_metrics_add(m, m->b_send + i, 1);

        if (ngx_strcmp(result, "destination_blocked") == 0) {
            ngx_http_otp_metrics_add(m, m->b_geo, 1);
        }

        break;

    case NGX_HTTP_OTP_HANDLER_VERIFY:
        i = ngx_http_otp_metrics_result(ngx_http_otp_metrics_verify_results,
                                        result);
        ngx_http_otp_metrics_add(m, m->b_verify + i, 1);
        break;

    }

    return NGX_OK;
}


/* the scrape */

static ngx_int_t
ngx_http_otp_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_chain_t                 *cl;
    ngx_http_otp_metrics_t      *m;
    ngx_http_otp_main_conf_t    *omcf;
    ngx_http_otp_metrics_out_t   o;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    m = omcf->metrics;

    if (m == NULL || m->slot == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.status = NGX_HTTP_OK;

    ngx_memzero(&o, sizeof(ngx_http_otp_metrics_out_t));
    o.r = r;
    o.last = &o.out;

    if (ngx_http_otp_metrics_render(&o, m) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_length_n = 0;

    for (cl = o.out; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;
    }

    o.b->last_buf = (r == r->main) ? 1 : 0;
    o.b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, o.out);
}


/* room for one more line, in a new buffer when the last one is full */

static u_char *
ngx_http_otp_metrics_line(ngx_http_otp_metrics_out_t *o)
{
    ngx_chain_t  *cl;

    if (o->b && (size_t) (o->b->end - o->b->last)
                >= NGX_HTTP_OTP_METRICS_LINE)
    {
        return o->b->last;
    }

    o->b = ngx_create_temp_buf(o->r->pool, NGX_HTTP_OTP_METRICS_BUF);
    if (o->b == NULL) {
        return NULL;
    }

    cl = ngx_alloc_chain_link(o->r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = o->b;
    cl->next = NULL;
    *o->last = cl;
    o->last = &cl->next;

    return o->b->last;
}


static ngx_int_t
ngx_http_otp_metrics_family(ngx_http_otp_metrics_out_t *o, const char *name,
    const char *type, const char *help)
{
    u_char  *p;

    p = ngx_http_otp_metrics_line(o);
    if (p == NULL) {
        return NGX_ERROR;
    }

    o->b->last = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                             name, help, name, type);

    return NGX_OK;
}


/* app="..",provider="..",channel=".." (app left out for the http level's,
 * channel when 0); no braces */

static u_char *
ngx_http_otp_metrics_labels(u_char *p, ngx_http_otp_metrics_provider_t *pr,
    ngx_uint_t channel)
{
    if (pr->app.len) {
        p = ngx_cpymem(p, "app=\"", 5);
        p = ngx_http_otp_metrics_escape(p, &pr->app);
        p = ngx_cpymem(p, "\",", 2);
    }

    p = ngx_cpymem(p, "provider=\"", 10);
    p = ngx_http_otp_metrics_escape(p, &pr->name);
    *p++ = '"';

    if (channel) {
        p = ngx_sprintf(p, ",channel=\"%s\"", ngx_otp_channel_name(channel));
    }

    return p;
}


/* a label value as the exposition format wants it: \\, \" and \n; the
 * names come from the configuration, at most NGX_HTTP_OTP_NAME_LEN */

static u_char *
ngx_http_otp_metrics_escape(u_char *p, ngx_str_t *s)
{
    size_t  i, n;

    n = ngx_min(s->len, NGX_HTTP_OTP_PROVIDER_NAME_MAX);

    for (i = 0; i < n; i++) {
        switch (s->data[i]) {
        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = s->data[i];
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        default:
            *p++ = s->data[i];
        }
    }

    return p;
}


static u_char *
ngx_http_otp_metrics_seconds(u_char *p, ngx_uint_t ms)
{
    return ngx_sprintf(p, "%ui.%03ui", ms / 1000, ms % 1000);
}


/* name_bucket{labels,le=".."} cumulative, then _sum and _count */

/* one sample line: NAME{LABELS} VALUE, or NAME VALUE without labels */

static ngx_int_t
ngx_http_otp_metrics_sample(ngx_http_otp_metrics_out_t *o, const char *name,
    u_char *labels, size_t len, ngx_atomic_uint_t value)
{
    u_char  *p;

    p = ngx_http_otp_metrics_line(o);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (len) {
        o->b->last = ngx_sprintf(p, "%s{%*s} %uA\n", name, len, labels,
                                 value);

    } else {
        o->b->last = ngx_sprintf(p, "%s %uA\n", name, value);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_metrics_histogram(ngx_http_otp_metrics_out_t *o,
    ngx_http_otp_metrics_t *m, const char *name, u_char *labels, size_t len,
    ngx_uint_t h, ngx_uint_t base)
{
    u_char                *p;
    ngx_uint_t             i, n;
    ngx_atomic_uint_t      count, sum;

    n = m->nbounds[h];
    count = 0;

    for (i = 0; i <= n; i++) {
        count += m->slot[base + i];

        p = ngx_http_otp_metrics_line(o);
        if (p == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(p, "%s_bucket{%*s%sle=\"", name, len, labels,
                        len ? "," : "");

        if (i < n) {
            p = ngx_http_otp_metrics_seconds(p, m->bounds[h][i]);

        } else {
            p = ngx_cpymem(p, "+Inf", 4);
        }

        o->b->last = ngx_sprintf(p, "\"} %uA\n", count);
    }

    sum = m->slot[base + n + 1];

    p = ngx_http_otp_metrics_line(o);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(p, "%s_sum%s%*s%s ", name, len ? "{" : "", len, labels,
                    len ? "}" : "");
    p = ngx_http_otp_metrics_seconds(p, sum);
    o->b->last = ngx_sprintf(p, "\n%s_count%s%*s%s %uA\n", name,
                             len ? "{" : "", len, labels, len ? "}" : "",
                             count);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_metrics_render(ngx_http_otp_metrics_out_t *o,
    ngx_http_otp_metrics_t *m)
{
    u_char                           *p, *l;
    size_t                            len;
    ngx_uint_t                        i, c, k, np, ch;
    ngx_atomic_int_t                  held;
    ngx_atomic_uint_t                 pid;
    ngx_http_otp_metrics_provider_t  *pr;
    ngx_http_otp_alert_figures_t      f;
    u_char                            labels[NGX_HTTP_OTP_METRICS_LINE / 2];

    pr = m->providers.elts;
    np = m->providers.nelts;

    /* provider attempts */

    if (ngx_http_otp_metrics_family(o, "otp_provider_sends_total", "counter",
            "Messages handed to providers, by app, provider, channel and "
            "result: accepted, or the failure category.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < np; i++) {
        for (c = 0; c < NGX_HTTP_OTP_METRICS_NCH; c++) {
            ch = ngx_http_otp_metrics_channels[c];

            if (!(pr[i].channels & ch)) {
                continue;
            }

            for (k = 0; k < NGX_HTTP_OTP_METRICS_NCAT; k++) {

                /* a provider over its budget is not asked: those sends
                 * are otp_provider_budget_checks_total's "over" */
                if (k == NGX_OTP_DELIVERY_BUDGET_EXHAUSTED) {
                    continue;
                }

                l = ngx_http_otp_metrics_labels(labels, &pr[i], ch);
                l = ngx_sprintf(l, ",result=\"%s\"",
                                k ? ngx_otp_delivery_error_name(k)
                                  : "accepted");

                if (ngx_http_otp_metrics_sample(o,
                        "otp_provider_sends_total", labels, l - labels,
                        m->slot[m->b_attempt
                                + (i * NGX_HTTP_OTP_METRICS_NCH + c)
                                  * NGX_HTTP_OTP_METRICS_NCAT
                                + k])
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    /* send and verify requests */

    if (ngx_http_otp_metrics_family(o, "otp_send_requests_total", "counter",
            "Send requests by result (the $otp_result of each).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; ngx_http_otp_metrics_send_results[i]; i++) {
        l = ngx_sprintf(labels, "result=\"%s\"",
                        ngx_http_otp_metrics_send_results[i]);

        if (ngx_http_otp_metrics_sample(o, "otp_send_requests_total",
                                        labels, l - labels,
                                        m->slot[m->b_send + i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_otp_metrics_family(o, "otp_verify_requests_total",
            "counter", "Verify requests by result.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; ngx_http_otp_metrics_verify_results[i]; i++) {
        l = ngx_sprintf(labels, "result=\"%s\"",
                        ngx_http_otp_metrics_verify_results[i]);

        if (ngx_http_otp_metrics_sample(o, "otp_verify_requests_total",
                                        labels, l - labels,
                                        m->slot[m->b_verify + i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* delivery statuses */

    if (ngx_http_otp_metrics_family(o, "otp_delivery_statuses_total",
            "counter",
            "Delivery statuses applied from providers' status callbacks, "
            "by app, provider, channel and status.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < np; i++) {
        for (c = 0; c < NGX_HTTP_OTP_METRICS_NCH; c++) {
            ch = ngx_http_otp_metrics_channels[c];

            if (!(pr[i].channels & ch)) {
                continue;
            }

            for (k = 1; k < NGX_HTTP_OTP_METRICS_NST; k++) {
                l = ngx_http_otp_metrics_labels(labels, &pr[i], ch);
                l = ngx_sprintf(l, ",status=\"%s\"", ngx_otp_status_name(k));

                if (ngx_http_otp_metrics_sample(o,
                        "otp_delivery_statuses_total", labels, l - labels,
                        m->slot[m->b_status
                                + (i * NGX_HTTP_OTP_METRICS_NCH + c)
                                  * NGX_HTTP_OTP_METRICS_NST
                                + k])
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }
        }
    }

    /* provider latency */

    if (ngx_http_otp_metrics_family(o,
            "otp_provider_request_duration_seconds", "histogram",
            "Time from handing a message to a provider to its answer.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < np; i++) {
        l = ngx_http_otp_metrics_labels(labels, &pr[i], 0);

        if (ngx_http_otp_metrics_histogram(o, m,
                "otp_provider_request_duration_seconds", labels, l - labels,
                NGX_HTTP_OTP_METRICS_H_PROVIDER,
                m->b_plat + i * (m->nbounds[0] + 2))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* time to delivery */

    if (ngx_http_otp_metrics_family(o, "otp_delivery_duration_seconds",
            "histogram",
            "Time from a provider accepting a message to its delivered "
            "status.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < np; i++) {
        for (c = 0; c < NGX_HTTP_OTP_METRICS_NCH; c++) {
            ch = ngx_http_otp_metrics_channels[c];

            if (!(pr[i].channels & ch)) {
                continue;
            }

            l = ngx_http_otp_metrics_labels(labels, &pr[i], ch);

            if (ngx_http_otp_metrics_histogram(o, m,
                    "otp_delivery_duration_seconds", labels, l - labels,
                    NGX_HTTP_OTP_METRICS_H_DELIVERY,
                    m->b_dlat + (i * NGX_HTTP_OTP_METRICS_NCH + c)
                                * (m->nbounds[2] + 2))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    /* budgets */

    if (ngx_http_otp_metrics_family(o, "otp_provider_budget_checks_total",
            "counter",
            "Sends checked against a provider's hourly budget: within it, "
            "or over it (refused).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < np; i++) {
        for (k = 0; k < 2; k++) {
            l = ngx_http_otp_metrics_labels(labels, &pr[i], 0);
            l = ngx_sprintf(l, ",result=\"%s\"", k ? "over" : "within");

            if (ngx_http_otp_metrics_sample(o,
                    "otp_provider_budget_checks_total", labels, l - labels,
                    m->slot[m->b_budget + i * 2 + k])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    /* refusals */

    if (ngx_http_otp_metrics_family(o, "otp_rate_limited_total", "counter",
            "Sends refused with rate_limited, by reason.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_OTP_METRICS_NREASON; i++) {
        l = ngx_sprintf(labels, "reason=\"%s\"",
                        ngx_http_otp_metrics_reasons[i]);

        if (ngx_http_otp_metrics_sample(o, "otp_rate_limited_total", labels,
                                        l - labels, m->slot[m->b_refused + i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_otp_metrics_family(o, "otp_geo_refusals_total", "counter",
            "Sends refused by geo permissions (destination_blocked).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_otp_metrics_sample(o, "otp_geo_refusals_total", NULL, 0,
                                    m->slot[m->b_geo])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* opt-outs */

    if (ngx_http_otp_metrics_family(o, "otp_optout_changes_total", "counter",
            "Numbers that opted out (stop) or back in (start) by message.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < 2; k++) {
        l = ngx_sprintf(labels, "action=\"%s\"", k ? "start" : "stop");

        if (ngx_http_otp_metrics_sample(o, "otp_optout_changes_total",
                                        labels, l - labels,
                                        m->slot[m->b_optout + k])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the store */

    if (ngx_http_otp_metrics_family(o, "otp_store_operations_total",
            "counter",
            "Store operations by type and result (error: the store was "
            "unavailable).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 1; i < NGX_HTTP_OTP_METRICS_NOP; i++) {
        for (k = 0; k < 2; k++) {
            l = ngx_sprintf(labels, "op=\"%s\",result=\"%s\"",
                            ngx_http_otp_metrics_ops[i], k ? "error" : "ok");

            if (ngx_http_otp_metrics_sample(o, "otp_store_operations_total",
                                            labels, l - labels,
                                            m->slot[m->b_ops + i * 2 + k])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (ngx_http_otp_metrics_family(o,
            "otp_store_operation_duration_seconds", "histogram",
            "Time from starting a store operation to its answer (the time "
            "cache's resolution: a ms).")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 1; i < NGX_HTTP_OTP_METRICS_NOP; i++) {
        len = ngx_sprintf(labels, "op=\"%s\"", ngx_http_otp_metrics_ops[i])
              - labels;

        if (ngx_http_otp_metrics_histogram(o, m,
                "otp_store_operation_duration_seconds", labels, len,
                NGX_HTTP_OTP_METRICS_H_STORE,
                m->b_slat + i * (m->nbounds[1] + 2))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the failure alerts (ngx_http_otp_alert.c), where otp_alert is */

    if (ngx_http_otp_alert_enabled()) {

        if (ngx_http_otp_metrics_family(o, "otp_alert_firing", "gauge",
                "1 while the failure rate of a channel or provider over "
                "otp_alert's window is over its threshold.")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; ngx_http_otp_alert_figures(i, &f) == NGX_OK; i++) {
            l = ngx_sprintf(labels, "kind=\"%s\",", f.kind);

            if (f.app.len) {
                l = ngx_cpymem(l, "app=\"", 5);
                l = ngx_http_otp_metrics_escape(l, &f.app);
                l = ngx_cpymem(l, "\",", 2);
            }

            l = ngx_cpymem(l, "name=\"", 6);
            l = ngx_http_otp_metrics_escape(l, &f.name);
            *l++ = '"';

            if (ngx_http_otp_metrics_sample(o, "otp_alert_firing", labels,
                                            l - labels, f.firing)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    /* long-polls */

    if (ngx_http_otp_metrics_family(o, "otp_longpolls_held", "gauge",
            "Status long-polls waiting now, in every worker.")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_http_otp_metrics_line(o);
    if (p == NULL) {
        return NGX_ERROR;
    }

    held = 0;

    for (i = 0; i < NGX_HTTP_OTP_METRICS_NLP; i++) {
        pid = m->slot[m->b_longpoll + 2 * i];

        if (pid && ngx_http_otp_metrics_alive(pid)) {
            held += (ngx_atomic_int_t) m->slot[m->b_longpoll + 2 * i + 1];
        }
    }

    o->b->last = ngx_sprintf(p, "otp_longpolls_held %A\n", held);

    return ngx_http_otp_metrics_cost(o, m);
}


/*
 * otp_cost_total: the estimated cost of what providers accepted, kept in
 * millionths (integers add exactly, atomically) and written as a decimal
 * in the currency's units, which a counter may be.
 */

static ngx_int_t
ngx_http_otp_metrics_cost(ngx_http_otp_metrics_out_t *o,
    ngx_http_otp_metrics_t *m)
{
    u_char                           *p, *l;
    ngx_str_t                        *currency;
    ngx_uint_t                        i, c, np, ch;
    ngx_http_otp_main_conf_t         *omcf;
    ngx_http_otp_metrics_provider_t  *pr;
    u_char                            help[128];
    u_char                            labels[NGX_HTTP_OTP_METRICS_LINE / 2];

    omcf = ngx_http_get_module_main_conf(o->r, ngx_http_otp_module);
    currency = ngx_http_otp_cost_currency(omcf);

    /* the currency is 3 capital letters (otp_price_currency) */
    *ngx_snprintf(help, sizeof(help) - 1,
                  "Estimated cost of the messages providers accepted, in "
                  "%V (otp_price), by app, provider and channel.",
                  currency) = '\0';

    if (ngx_http_otp_metrics_family(o, "otp_cost_total", "counter",
                                    (const char *) help)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pr = m->providers.elts;
    np = m->providers.nelts;

    for (i = 0; i < np; i++) {
        for (c = 0; c < NGX_HTTP_OTP_METRICS_NCH; c++) {
            ch = ngx_http_otp_metrics_channels[c];

            if (!(pr[i].channels & ch)) {
                continue;
            }

            l = ngx_http_otp_metrics_labels(labels, &pr[i], ch);

            p = ngx_http_otp_metrics_line(o);
            if (p == NULL) {
                return NGX_ERROR;
            }

            p = ngx_sprintf(p, "otp_cost_total{%*s} ", l - labels, labels);
            p += ngx_otp_price_format((int64_t)
                                      m->slot[m->b_cost
                                              + i * NGX_HTTP_OTP_METRICS_NCH
                                              + c],
                                      p);
            *p++ = '\n';
            o->b->last = p;
        }
    }

    return NGX_OK;
}

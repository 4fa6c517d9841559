
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Recent outcomes and the failure alert.
 *
 * A series per channel (sms, whatsapp, voice) and per provider (one per
 * app and name, as the metrics count them) holds a sliding window of
 * NGX_HTTP_OTP_ALERT_NB sub-buckets of attempts and failures, in a
 * shared-memory zone of all workers.  An attempt is a provider's answer;
 * a failure is an answer that refused the message (its category) or a
 * delivery report that says failed or undelivered for a message the
 * provider had accepted.  A report of delivered or read adds nothing: its
 * message was counted as an attempt when the provider accepted it, and
 * counting it again would make every delivered message two successes
 * and a failed delivery only half a failure.
 *
 * The window is the last NB sub-buckets of window / NB each, the current
 * one included: it covers between window - window / NB and window.
 *
 * The zone is locked (shpool->mutex, as ngx_http_limit_req_module locks
 * its own) for a record: a rotation of a sub-bucket, two additions, a
 * sum of NB pairs and the alert's state.  A record comes once per
 * provider answer or delivery report, each of which already cost an
 * HTTPS exchange; atomics alone could not make a rotation and its reset
 * one step, nor decide the alert's transition once for all workers.
 *
 * The alert: a series whose failure rate over the window, with at least
 * min attempts, reaches the threshold fires; it resolves when, again with
 * at least min attempts, the rate is under recover= (by default three
 * quarters of the threshold: a rate that wavers about the threshold does
 * not fire and resolve, and post, at every other outcome).  The state is
 * in the zone: the worker whose record changes it is the one that logs
 * and posts, exactly once for all workers.  Fewer than min attempts
 * change nothing either way: too few messages are no evidence of a
 * failure, nor of a recovery (no traffic through a broken provider is
 * no sign that it works again).  The check runs when an outcome is
 * recorded: no timer wakes any worker.
 *
 * Both lines are at "alert" level: whoever watches the error log at that
 * level (error_log ... alert, a log shipper's filter on [alert]) must see
 * the line that closes an alert as well as the one that opened it, or
 * the alert never ends for them.
 *
 * Kept across reloads as the metrics are (ngx_http_otp_metrics.c): the
 * zone's name carries the layout (the series and the sub-bucket width),
 * so a reload that keeps them keeps the window and the alerts' states,
 * and does not fire an alert that is already firing; a reload that
 * changes them carries over what the old zone knew of the series that
 * stay (ngx_http_otp_alert_carry()).
 *
 * No series carries a phone, a code or anything a client sent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_alert.h"
#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_http.h"
#include "ngx_http_otp_alert_post.h"


#define NGX_HTTP_OTP_ALERT_ZONE     "otp_outcomes_"   /* and the layout */
#define NGX_HTTP_OTP_ALERT_NB       10
#define NGX_HTTP_OTP_ALERT_NCH      3

/* a delivery report's failure: NGX_HTTP_OTP_ALERT_STATUS + status */
#define NGX_HTTP_OTP_ALERT_STATUS   100




typedef struct {
    const char                     *kind;
    ngx_str_t                       app;
    ngx_str_t                       name;
} ngx_http_otp_alert_series_t;


typedef struct {
    uint64_t                        period[NGX_HTTP_OTP_ALERT_NB];
    uint32_t                        attempts[NGX_HTTP_OTP_ALERT_NB];
    uint32_t                        failures[NGX_HTTP_OTP_ALERT_NB];
    ngx_uint_t                      firing;
    ngx_uint_t                      last_error;   /* 0: none */
    time_t                          last_error_at;
} ngx_http_otp_alert_node_t;


typedef struct {
    uint32_t                        layout;
    ngx_uint_t                      nseries;
    ngx_http_otp_alert_node_t      *node;
} ngx_http_otp_alert_sh_t;


struct ngx_http_otp_alert_s {
    ngx_shm_zone_t                 *zone;
    ngx_slab_pool_t                *shpool;     /* NULL until the zone is */
    ngx_http_otp_alert_sh_t        *sh;

    ngx_array_t                     series;     /* ..._alert_series_t */
    uint32_t                        layout;

    ngx_msec_t                      window;
    ngx_msec_t                      width;      /* window / NB */
    ngx_uint_t                      threshold;  /* basis points */
    ngx_uint_t                      recover;    /* basis points: a firing
                                                   alert resolves under */
    ngx_uint_t                      min;

    ngx_str_t                       webhook;    /* "": none */
    ngx_str_t                       secret;     /* "whsec_..." */

    ngx_uint_t                      alert;      /* otp_alert given */
    ngx_uint_t                      health;     /* an otp_health */
};


typedef struct {
    ngx_http_otp_alert_series_t    *series;
    ngx_uint_t                      firing;     /* 1: fired; 0: resolved */
    ngx_uint_t                      attempts;
    ngx_uint_t                      failures;
} ngx_http_otp_alert_event_t;


static ngx_http_otp_alert_t *ngx_http_otp_alert_conf(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_alert_providers(ngx_conf_t *cf,
    ngx_http_otp_alert_t *a);
static ngx_int_t ngx_http_otp_alert_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_otp_alert_carry(ngx_shm_zone_t *zone,
    ngx_http_otp_alert_t *a);
static ngx_uint_t ngx_http_otp_alert_same(ngx_str_t *a, ngx_str_t *b);
static ngx_inline ngx_http_otp_alert_t *ngx_http_otp_alert_get(void);
static ngx_int_t ngx_http_otp_alert_channel(ngx_uint_t channel);
static void ngx_http_otp_alert_record(ngx_uint_t channel,
    ngx_http_otp_provider_t *p, ngx_uint_t attempt, ngx_uint_t error);
static void ngx_http_otp_alert_add(ngx_http_otp_alert_t *a,
    ngx_uint_t s, uint64_t period, ngx_uint_t attempt, ngx_uint_t error,
    ngx_http_otp_alert_event_t *ev);
static void ngx_http_otp_alert_sum(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_node_t *node, uint64_t period, ngx_uint_t *attempts,
    ngx_uint_t *failures);
static ngx_int_t ngx_http_otp_alert_percent(ngx_str_t *value, size_t skip);
static ngx_uint_t ngx_http_otp_alert_over(ngx_http_otp_alert_t *a,
    ngx_uint_t attempts, ngx_uint_t failures, ngx_uint_t bp);
static uint64_t ngx_http_otp_alert_period(ngx_http_otp_alert_t *a);
static ngx_uint_t ngx_http_otp_alert_rate(ngx_uint_t attempts,
    ngx_uint_t failures);
static void ngx_http_otp_alert_fire(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_event_t *ev);
static void ngx_http_otp_alert_post(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_event_t *ev);
static const char *ngx_http_otp_alert_error_name(ngx_uint_t error);


static const unsigned  ngx_http_otp_alert_channels[] = {
    NGX_OTP_SMS, NGX_OTP_WHATSAPP, NGX_OTP_VOICE
};


static ngx_http_otp_alert_t *
ngx_http_otp_alert_conf(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->alert == NULL) {
        omcf->alert = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_alert_t));
        if (omcf->alert == NULL) {
            return NULL;
        }

        /* the defaults, which otp_health alone judges by too */
        omcf->alert->window = 300000;
        omcf->alert->threshold = 2000;
        omcf->alert->min = 20;
    }

    return omcf->alert;
}


/* otp_alert [window=TIME] [threshold=N%] [recover=N%] [min=N]
 *           [webhook=URL secret_file=PATH] */

char *
ngx_http_otp_alert_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_int_t                  n;
    ngx_str_t                 *value, s, file;
    ngx_uint_t                 i;
    ngx_http_otp_alert_t      *a;
    ngx_http_otp_main_conf_t  *omcf;
    u_char                     sig[NGX_OTP_STDWH_HEADER_LEN];

    omcf = conf;

    a = ngx_http_otp_alert_conf(cf);
    if (a == NULL) {
        return NGX_CONF_ERROR;
    }

    if (a->alert) {
        return "is duplicate";
    }

    a->alert = 1;

    value = cf->args->elts;
    ngx_str_null(&file);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            a->window = ngx_parse_time(&s, 0);

            if (a->window == (ngx_msec_t) NGX_ERROR
                || a->window < 1000 || a->window > 86400000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a time from 1s to 1d",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "threshold=", 10) == 0
            || ngx_strncmp(value[i].data, "recover=", 8) == 0)
        {
            n = ngx_http_otp_alert_percent(&value[i],
                                           value[i].data[0] == 't' ? 10 : 8);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a percentage above 0%% "
                                   "and at most 100%%, e.g. 20%% or 12.5%%",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 't') {
                a->threshold = n;

            } else {
                a->recover = n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "min=", 4) == 0) {
            n = ngx_atoi(value[i].data + 4, value[i].len - 4);

            if (n == NGX_ERROR || n < 1 || n > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a number of attempts "
                                   "from 1 to 1000000", &value[i]);
                return NGX_CONF_ERROR;
            }

            a->min = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "webhook=", 8) == 0) {
            a->webhook.data = value[i].data + 8;
            a->webhook.len = value[i].len - 8;

            /* resolved now, as a provider's base URL is: a worker never
             * resolves (ngx_http_otp_http.h) */
            if (ngx_http_otp_http_add_host(cf, &omcf->http, &a->webhook)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "secret_file=", 12) == 0) {
            file.data = value[i].data + 12;
            file.len = value[i].len - 12;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (a->recover == 0) {
        a->recover = a->threshold - a->threshold / 4;

    } else if (a->recover > a->threshold) {
        return "has \"recover=\" above \"threshold=\": an alert would "
               "resolve before it fired";
    }

    if (a->webhook.len == 0 && file.len == 0) {
        return NGX_CONF_OK;
    }

    /* an alert's POST is always signed: a receiver must be able to tell
     * it from anyone's */

    if (a->webhook.len == 0 || file.len == 0) {
        return "needs both \"webhook=\" and \"secret_file=\"";
    }

    if (ngx_http_otp_read_file(cf, &file, 1, &a->secret) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_otp_stdwh_sign(a->secret.data, a->secret.len,
                           (u_char *) "msg_check", 9, (u_char *) "0", 1,
                           (u_char *) "", 0, sig)
        != NGX_OTP_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" holds no Standard Webhooks secret "
                           "(\"whsec_\" and base64)", &file);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_alert_want(ngx_conf_t *cf)
{
    ngx_http_otp_alert_t  *a;

    a = ngx_http_otp_alert_conf(cf);
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->health = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_alert_postconf(ngx_conf_t *cf)
{
    uint32_t                      crc;
    ngx_uint_t                    i;
    ngx_http_otp_alert_t         *a;
    ngx_http_otp_main_conf_t     *omcf;
    ngx_http_otp_alert_series_t  *s;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    a = omcf->alert;

    if (a == NULL) {
        return NGX_OK;
    }

    if (ngx_array_init(&a->series, cf->pool, 8,
                       sizeof(ngx_http_otp_alert_series_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_OTP_ALERT_NCH; i++) {
        s = ngx_array_push(&a->series);
        if (s == NULL) {
            return NGX_ERROR;
        }

        s->kind = "channel";
        ngx_str_null(&s->app);
        s->name.data = (u_char *)
                       ngx_otp_channel_name(ngx_http_otp_alert_channels[i]);
        s->name.len = ngx_strlen(s->name.data);
    }

    if (ngx_http_otp_alert_providers(cf, a) != NGX_OK) {
        return NGX_ERROR;
    }

    a->width = a->window / NGX_HTTP_OTP_ALERT_NB;

    /* the layout: what every series and sub-bucket means */

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, (u_char *) "otp-outcomes-1", 14);
    ngx_crc32_update(&crc, (u_char *) &a->width, sizeof(ngx_msec_t));

    s = a->series.elts;

    for (i = 0; i < a->series.nelts; i++) {
        ngx_crc32_update(&crc, (u_char *) s[i].kind, ngx_strlen(s[i].kind));
        ngx_crc32_update(&crc, (u_char *) "/", 1);
        ngx_crc32_update(&crc, s[i].app.data, s[i].app.len);
        ngx_crc32_update(&crc, (u_char *) "/", 1);
        ngx_crc32_update(&crc, s[i].name.data, s[i].name.len);
        ngx_crc32_update(&crc, (u_char *) "|", 1);
    }

    ngx_crc32_final(crc);
    a->layout = crc;

    a->zone = ngx_http_otp_layout_zone(cf, NGX_HTTP_OTP_ALERT_ZONE, a->layout,
                  a->series.nelts * sizeof(ngx_http_otp_alert_node_t)
                  + sizeof(ngx_http_otp_alert_sh_t),
                  &ngx_http_otp_module, ngx_http_otp_alert_init_zone, a);
    if (a->zone == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                   "otp outcomes: %ui series, %M ms sub-buckets, layout "
                   "%08xD", a->series.nelts, a->width, a->layout);

    return NGX_OK;
}


/* every app's providers, one series per app and name (as the metrics) */

static ngx_int_t
ngx_http_otp_alert_providers(ngx_conf_t *cf, ngx_http_otp_alert_t *a)
{
    ngx_uint_t                    i, j, k;
    ngx_http_otp_app_t          **apps;
    ngx_http_otp_provider_t      *p;
    ngx_http_otp_main_conf_t     *omcf;
    ngx_http_otp_alert_series_t  *s;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    apps = omcf->apps.elts;

    for (i = 0; i < omcf->apps.nelts; i++) {
        p = apps[i]->providers.elts;

        for (j = 0; j < apps[i]->providers.nelts; j++) {
            s = a->series.elts;

            for (k = NGX_HTTP_OTP_ALERT_NCH; k < a->series.nelts; k++) {
                if (ngx_http_otp_alert_same(&s[k].app, &apps[i]->id)
                    && ngx_http_otp_alert_same(&s[k].name, &p[j].name))
                {
                    break;
                }
            }

            if (k == a->series.nelts) {
                s = ngx_array_push(&a->series);
                if (s == NULL) {
                    return NGX_ERROR;
                }

                s->kind = "provider";
                s->app = apps[i]->id;
                s->name = p[j].name;
            }

            /* 0: none, so that a provider never counted is never one of
             * the channels' series */
            p[j].outcome = k + 1;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_alert_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_otp_alert_t  *a = shm_zone->data;

    ngx_slab_pool_t          *shpool;
    ngx_http_otp_alert_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        /* a reload of the same layout: its windows and alerts go on */
        sh = shpool->data;

        if (sh->layout != a->layout || sh->nseries != a->series.nelts) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "otp outcomes: zone \"%V\" holds another layout",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        a->shpool = shpool;
        a->sh = sh;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_otp_alert_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->node = ngx_slab_calloc(shpool, a->series.nelts
                                       * sizeof(ngx_http_otp_alert_node_t));
    if (sh->node == NULL) {
        return NGX_ERROR;
    }

    sh->layout = a->layout;
    sh->nseries = a->series.nelts;
    shpool->data = sh;

    a->shpool = shpool;
    a->sh = sh;

    ngx_http_otp_alert_carry(shm_zone, a);

    return NGX_OK;
}


/*
 * A reload that changed the layout (a provider added, another window):
 * what the old zone knew of the series that stay goes on in the new one,
 * so that an alert firing during the change (a provider added in an
 * outage) neither fires twice nor is never resolved.  The alerts' states
 * and the last errors always; the windows' sub-buckets when their width
 * is the same.  init_zone runs inside ngx_init_cycle(), when ngx_cycle is
 * still the old cycle, whose zones are still mapped (as the metrics find
 * theirs, ngx_http_otp_metrics.c).
 */

static void
ngx_http_otp_alert_carry(ngx_shm_zone_t *zone, ngx_http_otp_alert_t *a)
{
    ngx_uint_t                    i, j, k, n;
    ngx_list_part_t              *part;
    ngx_shm_zone_t               *z;
    ngx_http_otp_alert_t         *old;
    ngx_http_otp_alert_node_t    *from, *to;
    ngx_http_otp_alert_series_t  *s, *os;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    z = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            z = part->elts;
            i = 0;
        }

        if (i >= part->nelts) {
            continue;
        }

        if (z[i].tag == zone->tag
            && z[i].shm.name.len > sizeof(NGX_HTTP_OTP_ALERT_ZONE) - 1
            && ngx_strncmp(z[i].shm.name.data, NGX_HTTP_OTP_ALERT_ZONE,
                           sizeof(NGX_HTTP_OTP_ALERT_ZONE) - 1)
               == 0)
        {
            break;
        }
    }

    old = z[i].data;

    if (old == NULL || old->sh == NULL) {
        return;
    }

    s = a->series.elts;
    os = old->series.elts;
    n = 0;

    ngx_shmtx_lock(&old->shpool->mutex);

    for (j = 0; j < a->series.nelts; j++) {
        for (k = 0; k < old->sh->nseries && k < old->series.nelts; k++) {
            if (ngx_strcmp(s[j].kind, os[k].kind) == 0
                && ngx_http_otp_alert_same(&s[j].app, &os[k].app)
                && ngx_http_otp_alert_same(&s[j].name, &os[k].name))
            {
                break;
            }
        }

        if (k == old->sh->nseries || k == old->series.nelts) {
            continue;
        }

        from = &old->sh->node[k];
        to = &a->sh->node[j];

        if (old->width == a->width) {
            *to = *from;

        } else {
            to->firing = from->firing;
            to->last_error = from->last_error;
            to->last_error_at = from->last_error_at;
        }

        n++;
    }

    ngx_shmtx_unlock(&old->shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, zone->shm.log, 0,
                  "otp outcomes: the series changed with the "
                  "configuration: %ui of them carried over%s", n,
                  old->width == a->width ? ""
                  : ", their alerts' states only (another window)");
}


/* "" may have no data at all: never handed to strncmp() */

static ngx_uint_t
ngx_http_otp_alert_same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_strncmp(a->data, b->data, a->len) == 0);
}


/* the hot path: the running cycle's, as the metrics find theirs */

static ngx_inline ngx_http_otp_alert_t *
ngx_http_otp_alert_get(void)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_otp_module);

    if (omcf == NULL || omcf->alert == NULL || omcf->alert->sh == NULL) {
        return NULL;
    }

    return omcf->alert;
}


static ngx_int_t
ngx_http_otp_alert_channel(ngx_uint_t channel)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_OTP_ALERT_NCH; i++) {
        if (ngx_http_otp_alert_channels[i] == channel) {
            return i;
        }
    }

    return -1;
}


void
ngx_http_otp_alert_send(ngx_http_otp_send_t *send)
{
    if (send->rc == NGX_OK) {
        ngx_http_otp_alert_record(send->channel, send->provider, 1, 0);
        return;
    }

    switch (send->category) {

    case NGX_OTP_DELIVERY_ABORTED:
    case NGX_OTP_DELIVERY_BUDGET_EXHAUSTED:
        /* our own exit or our own limit: nothing the provider did */
        return;

    default:
        ngx_http_otp_alert_record(send->channel, send->provider, 1,
                                  send->category ? send->category
                                                 : NGX_OTP_DELIVERY_INTERNAL);
    }
}


void
ngx_http_otp_alert_status(ngx_http_otp_provider_t *p,
    ngx_http_otp_message_t *m)
{
    if (m->status == NGX_OTP_STATUS_FAILED
        || m->status == NGX_OTP_STATUS_UNDELIVERED)
    {
        ngx_http_otp_alert_record(m->channel, p, 0,
                                  NGX_HTTP_OTP_ALERT_STATUS + m->status);
    }
}


static void
ngx_http_otp_alert_record(ngx_uint_t channel, ngx_http_otp_provider_t *p,
    ngx_uint_t attempt, ngx_uint_t error)
{
    uint64_t                     period;
    ngx_int_t                    ch;
    ngx_uint_t                   i;
    ngx_http_otp_alert_t        *a;
    ngx_http_otp_alert_event_t   ev[2];

    a = ngx_http_otp_alert_get();

    if (a == NULL) {
        return;
    }

    ch = ngx_http_otp_alert_channel(channel);
    period = ngx_http_otp_alert_period(a);

    ngx_memzero(ev, sizeof(ev));

    ngx_shmtx_lock(&a->shpool->mutex);

    if (ch >= 0) {
        ngx_http_otp_alert_add(a, ch, period, attempt, error, &ev[0]);
    }

    if (p->outcome && p->outcome <= a->sh->nseries) {
        ngx_http_otp_alert_add(a, p->outcome - 1, period, attempt, error,
                               &ev[1]);
    }

    ngx_shmtx_unlock(&a->shpool->mutex);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp outcomes: \"%V\" %s, attempt %ui, error %ui",
                   &p->name, ngx_otp_channel_name(channel), attempt, error);

    /* the log and the POST after the lock: neither is the zone's */

    for (i = 0; i < 2; i++) {
        if (ev[i].series) {
            ngx_http_otp_alert_fire(a, &ev[i]);
        }
    }
}


/* under the lock: one record into series s, and the alert's transition */

static void
ngx_http_otp_alert_add(ngx_http_otp_alert_t *a, ngx_uint_t s,
    uint64_t period, ngx_uint_t attempt, ngx_uint_t error,
    ngx_http_otp_alert_event_t *ev)
{
    ngx_uint_t                  b, attempts, failures, over;
    ngx_http_otp_alert_node_t  *node;

    node = &a->sh->node[s];
    b = period % NGX_HTTP_OTP_ALERT_NB;

    if (node->period[b] != period) {
        /* the sub-bucket of a period that left the window: reused */
        node->period[b] = period;
        node->attempts[b] = 0;
        node->failures[b] = 0;
    }

    node->attempts[b] += attempt;

    if (error) {
        node->failures[b]++;
        node->last_error = error;
        node->last_error_at = ngx_time();
    }

    if (!a->alert || ngx_exiting) {
        /* an old generation's worker, after a reload, still counts what
         * it finishes; the alerts are the new generation's to decide, or
         * one outage would be told twice */
        return;
    }

    ngx_http_otp_alert_sum(a, node, period, &attempts, &failures);

    if (attempts < a->min) {
        return;
    }

    /* firing, it resolves under recover=, not under the threshold */

    over = ngx_http_otp_alert_over(a, attempts, failures,
                                   node->firing ? a->recover : a->threshold);

    if (over == node->firing) {
        return;
    }

    node->firing = over;

    ev->series = (ngx_http_otp_alert_series_t *) a->series.elts + s;
    ev->firing = over;
    ev->attempts = attempts;
    ev->failures = failures;
}


static void
ngx_http_otp_alert_sum(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_node_t *node, uint64_t period, ngx_uint_t *attempts,
    ngx_uint_t *failures)
{
    ngx_uint_t  i;

    *attempts = 0;
    *failures = 0;

    for (i = 0; i < NGX_HTTP_OTP_ALERT_NB; i++) {
        if (node->period[i] <= period
            && node->period[i] + NGX_HTTP_OTP_ALERT_NB > period)
        {
            *attempts += node->attempts[i];
            *failures += node->failures[i];
        }
    }
}


static ngx_uint_t
ngx_http_otp_alert_over(ngx_http_otp_alert_t *a, ngx_uint_t attempts,
    ngx_uint_t failures, ngx_uint_t bp)
{
    if (attempts == 0 || attempts < a->min) {
        return 0;
    }

    return (uint64_t) ngx_min(failures, attempts) * 10000
           >= (uint64_t) bp * attempts;
}


/* "12.5%" after skip bytes ("threshold="): basis points, 1 to 10000 */

static ngx_int_t
ngx_http_otp_alert_percent(ngx_str_t *value, size_t skip)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   n;

    len = value->len - skip;
    p = value->data + skip;

    if (len < 2 || p[len - 1] != '%') {
        return NGX_ERROR;
    }

    n = ngx_atofp(p, len - 1, 2);

    if (n == NGX_ERROR || n < 1 || n > 10000) {
        return NGX_ERROR;
    }

    return n;
}


/* the sub-bucket's number: wall-clock time, which every worker shares */

static uint64_t
ngx_http_otp_alert_period(ngx_http_otp_alert_t *a)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return ((uint64_t) tp->sec * 1000 + tp->msec) / a->width;
}


/* basis points; a report of a message sent before the window may make
 * failures outnumber attempts: never over 100% */

static ngx_uint_t
ngx_http_otp_alert_rate(ngx_uint_t attempts, ngx_uint_t failures)
{
    if (attempts == 0) {
        return 0;
    }

    return (ngx_uint_t) ((uint64_t) ngx_min(failures, attempts) * 10000
                         / attempts);
}


static void
ngx_http_otp_alert_fire(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_event_t *ev)
{
    ngx_uint_t                    rate;
    ngx_http_otp_alert_series_t  *s;

    s = ev->series;
    rate = ngx_http_otp_alert_rate(ev->attempts, ev->failures);

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "otp alert %s: %s \"%V%s%V\" failure rate %ui.%02ui%% "
                  "(%ui failed of %ui in %Ms), threshold %ui.%02ui%%, "
                  "recover %ui.%02ui%%",
                  ev->firing ? "firing" : "resolved", s->kind, &s->app,
                  s->app.len ? ":" : "", &s->name, rate / 100, rate % 100,
                  ev->failures, ev->attempts, a->window / 1000,
                  a->threshold / 100, a->threshold % 100,
                  a->recover / 100, a->recover % 100);

    if (a->webhook.len) {
        ngx_http_otp_alert_post(a, ev);
    }
}


/* the POST's body; ngx_http_otp_alert_post.c signs, sends and retries it */

static void
ngx_http_otp_alert_post(ngx_http_otp_alert_t *a,
    ngx_http_otp_alert_event_t *ev)
{
    u_char                       *p;
    ngx_tm_t                      tm;
    ngx_uint_t                    rate;
    ngx_http_otp_alert_series_t  *s;
    u_char                        body[NGX_HTTP_OTP_ALERT_BODY];

    s = ev->series;
    rate = ngx_http_otp_alert_rate(ev->attempts, ev->failures);

    ngx_gmtime(ngx_time(), &tm);

    /* names come from the configuration, at most
     * NGX_HTTP_OTP_PROVIDER_NAME_MAX each, escaped at most 6 times over */

    p = ngx_sprintf(body, "{\"type\":\"otp.alert.%s\","
                    "\"timestamp\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\","
                    "\"data\":{\"kind\":\"%s\",",
                    ev->firing ? "firing" : "resolved",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, s->kind);

    if (s->app.len) {
        p = ngx_cpymem(p, "\"app\":\"", 7);
        p = (u_char *) ngx_escape_json(p, s->app.data,
                            ngx_min(s->app.len,
                                    NGX_HTTP_OTP_PROVIDER_NAME_MAX));
        p = ngx_cpymem(p, "\",", 2);
    }

    p = ngx_cpymem(p, "\"name\":\"", 8);
    p = (u_char *) ngx_escape_json(p, s->name.data,
                                   ngx_min(s->name.len,
                                           NGX_HTTP_OTP_PROVIDER_NAME_MAX));

    p = ngx_sprintf(p, "\",\"failure_rate\":%ui.%02ui,\"failures\":%ui,"
                    "\"attempts\":%ui,\"window_s\":%M,"
                    "\"threshold\":%ui.%02ui,\"recover\":%ui.%02ui}}",
                    rate / 100, rate % 100, ev->failures, ev->attempts,
                    a->window / 1000, a->threshold / 100,
                    a->threshold % 100, a->recover / 100, a->recover % 100);

    ngx_http_otp_alert_webhook(&a->webhook, &a->secret, body, p - body);
}


static const char *
ngx_http_otp_alert_error_name(ngx_uint_t error)
{
    if (error == 0) {
        return NULL;
    }

    if (error > NGX_HTTP_OTP_ALERT_STATUS) {
        return ngx_otp_status_name(error - NGX_HTTP_OTP_ALERT_STATUS);
    }

    return ngx_otp_delivery_error_name(error);
}


ngx_int_t
ngx_http_otp_alert_figures(ngx_uint_t i, ngx_http_otp_alert_figures_t *f)
{
    uint64_t                      period;
    ngx_uint_t                    error;
    ngx_http_otp_alert_t         *a;
    ngx_http_otp_alert_node_t    *node;
    ngx_http_otp_alert_series_t  *s;

    a = ngx_http_otp_alert_get();

    if (a == NULL) {
        return NGX_DECLINED;
    }

    if (i >= a->sh->nseries) {
        return NGX_DONE;
    }

    s = a->series.elts;
    node = &a->sh->node[i];
    period = ngx_http_otp_alert_period(a);

    f->kind = s[i].kind;
    f->app = s[i].app;
    f->name = s[i].name;

    ngx_shmtx_lock(&a->shpool->mutex);

    ngx_http_otp_alert_sum(a, node, period, &f->attempts, &f->failures);
    /* a state left in a kept zone by an otp_alert since removed is no
     * alert of this configuration */
    f->firing = a->alert ? node->firing : 0;
    error = node->last_error;
    f->last_error_at = node->last_error_at;

    ngx_shmtx_unlock(&a->shpool->mutex);

    f->over = ngx_http_otp_alert_over(a, f->attempts, f->failures,
                                      a->threshold);
    f->last_error = ngx_http_otp_alert_error_name(error);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_alert_provider(ngx_http_otp_provider_t *p,
    ngx_http_otp_alert_figures_t *f)
{
    if (p->outcome == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_otp_alert_figures(p->outcome - 1, f);
}


ngx_uint_t
ngx_http_otp_alert_window(void)
{
    ngx_http_otp_alert_t  *a;

    a = ngx_http_otp_alert_get();

    return a ? a->window / 1000 : 0;
}


ngx_uint_t
ngx_http_otp_alert_enabled(void)
{
    ngx_http_otp_alert_t  *a;

    a = ngx_http_otp_alert_get();

    return a ? a->alert : 0;
}

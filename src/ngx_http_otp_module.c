
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_http_otp_module: phone verification inside nginx.  This file holds
 * the directives, the configuration life cycle and the worker life cycle
 * (the directives' handlers: ngx_http_otp_directives.c); the endpoints
 * are in ngx_http_otp_request.c and one file each beside it
 * (send, verify), the state in the store backends, delivery in the
 * providers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_fallback.h"
#include "ngx_http_otp_smart.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_gate.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_vars.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_cost.h"
#include "ngx_http_otp_alert.h"
#include "ngx_http_otp_health.h"
#include "ngx_http_otp_dashboard.h"
#include "ngx_http_otp_analytics.h"


#define NGX_HTTP_OTP_DEFAULT_ZONE       "otp"
#define NGX_HTTP_OTP_DEFAULT_ZONE_SIZE  (16 * 1024 * 1024)


static ngx_int_t ngx_http_otp_preconf(ngx_conf_t *cf);
static ngx_int_t ngx_http_otp_init(ngx_conf_t *cf);
static void *ngx_http_otp_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_otp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_otp_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_otp_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_otp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_otp_init_process(ngx_cycle_t *cycle);
static void ngx_http_otp_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_otp_code_length_bounds = {
    ngx_conf_check_num_bounds, NGX_OTP_CODE_MIN_LEN, NGX_OTP_CODE_MAX_LEN
};

static ngx_conf_num_bounds_t  ngx_http_otp_max_attempts_bounds = {
    ngx_conf_check_num_bounds, 1, 100
};

static ngx_conf_num_bounds_t  ngx_http_otp_max_connections_bounds = {
    ngx_conf_check_num_bounds, 1, 4096
};


static ngx_command_t  ngx_http_otp_commands[] = {

    { ngx_string("otp_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_otp_store_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_secret_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_provider"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_2MORE,
      ngx_http_otp_provider,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_price"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE4,
      ngx_http_otp_price,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_price_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_price_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_price_currency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_price_currency,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_token_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_otp_token_key_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_http_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_otp_main_conf_t, http.timeout),
      NULL },

    { ngx_string("otp_http_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_otp_main_conf_t, http.connect_timeout),
      NULL },

    { ngx_string("otp_http_ca_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_otp_main_conf_t, http.ca_file),
      NULL },

    { ngx_string("otp_http_verify"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_otp_main_conf_t, http.verify),
      NULL },

    { ngx_string("otp_http_max_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_otp_main_conf_t, http.max_connections),
      &ngx_http_otp_max_connections_bounds },

    { ngx_string("otp_route"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_2MORE,
      ngx_http_otp_route,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_geo_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_otp_geo,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, geo_allow),
      NULL },

    { ngx_string("otp_geo_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_otp_geo,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, geo_deny),
      NULL },

    { ngx_string("otp_app_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, app_name),
      NULL },

    { ngx_string("otp_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE3,
      ngx_http_otp_message,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_default_locale"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, default_locale),
      NULL },

    { ngx_string("otp_message_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, message_ttl),
      NULL },

    { ngx_string("otp_send"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_OTP_HANDLER_SEND,
      NULL },

    { ngx_string("otp_verify"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_OTP_HANDLER_VERIFY,
      NULL },

    { ngx_string("otp_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_OTP_HANDLER_STATUS,
      NULL },

    { ngx_string("otp_smart_channels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_otp_smart_channels,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_smart_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_otp_smart_window,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_fallback"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, fallback),
      NULL },

    { ngx_string("otp_channels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_otp_channels,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_code_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, code_length),
      &ngx_http_otp_code_length_bounds },

    { ngx_string("otp_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, ttl),
      NULL },

    { ngx_string("otp_max_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, max_attempts),
      &ngx_http_otp_max_attempts_bounds },

    { ngx_string("otp_lockout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, lockout),
      NULL },

    { ngx_string("otp_max_failures"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, max_failures),
      NULL },

    { ngx_string("otp_resend_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, resend_after),
      NULL },

    { ngx_string("otp_send_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, send_limit),
      NULL },

    { ngx_string("otp_client_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_otp_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, client_limit),
      NULL },

    { ngx_string("otp_body_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_body_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, body_limit),
      NULL },

    { ngx_string("otp_default_country_code"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_default_cc,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, default_cc),
      NULL },

    { ngx_string("otp_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, token_ttl),
      NULL },

    { ngx_string("otp_token_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_str_or_off,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, token_issuer),
      NULL },

    { ngx_string("otp_token_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_str_or_off,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, token_audience),
      NULL },

    /* webhooks: ngx_http_otp_signature.c, ngx_http_otp_webhook.c */

    { ngx_string("otp_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_webhook_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_OTP_HANDLER_WEBHOOK,
      NULL },

    { ngx_string("otp_signature"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_otp_signature_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_public_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_public_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_trusted_proxies"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_otp_trusted_proxies,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_help_text"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_help_text,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, hook.help_text),
      &ngx_http_otp_help_text_post },

    { ngx_string("otp_webhook_forward"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, hook.forward),
      NULL },

    { ngx_string("otp_token_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_otp_token_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, token_cookie),
      NULL },

    /* the access gate: ngx_http_otp_gate.c, ngx_http_otp_logout.c */

    { ngx_string("otp_gate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_otp_gate_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, gate),
      NULL },

    { ngx_string("otp_gate_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_otp_loc_conf_t, gate_header),
      NULL },

    { ngx_string("otp_gate_login"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_gate_login,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_metrics_buckets"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_otp_metrics_buckets,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_alert"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_otp_alert_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_health_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_dashboard"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_otp_dashboard_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_analytics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_analytics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_OTP_HANDLER_ANALYTICS,
      NULL },

    { ngx_string("otp_analytics_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_otp_analytics_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("otp_logout"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_otp_logout_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_otp_module_ctx = {
    ngx_http_otp_preconf,                  /* preconfiguration */
    ngx_http_otp_init,                     /* postconfiguration */

    ngx_http_otp_create_main_conf,         /* create main configuration */
    ngx_http_otp_init_main_conf,           /* init main configuration */

    ngx_http_otp_create_srv_conf,          /* create server configuration */
    ngx_http_otp_merge_srv_conf,           /* merge server configuration */

    ngx_http_otp_create_loc_conf,          /* create location configuration */
    ngx_http_otp_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_otp_module = {
    NGX_MODULE_V1,
    &ngx_http_otp_module_ctx,              /* module context */
    ngx_http_otp_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_otp_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_otp_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_otp_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->apps, cf->pool, 2,
                       sizeof(ngx_http_otp_app_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&omcf->sigs, cf->pool, 2,
                       sizeof(ngx_http_otp_sig_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&omcf->webhooks, cf->pool, 2,
                       sizeof(ngx_http_otp_webhook_loc_t))
        != NGX_OK)
    {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->http.ca_file = { 0, NULL };
     *     omcf->http.resolve = NULL;
     */

    omcf->http.timeout = NGX_CONF_UNSET_MSEC;
    omcf->http.connect_timeout = NGX_CONF_UNSET_MSEC;
    omcf->http.verify = NGX_CONF_UNSET;
    omcf->http.max_connections = NGX_CONF_UNSET_UINT;
    omcf->store.analytics_retention = NGX_CONF_UNSET_MSEC;

    return omcf;
}


static char *
ngx_http_otp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    ngx_conf_init_msec_value(omcf->http.timeout, 10000);
    ngx_conf_init_msec_value(omcf->http.connect_timeout, 3000);
    ngx_conf_init_value(omcf->http.verify, 1);
    ngx_conf_init_uint_value(omcf->http.max_connections, 64);
    ngx_conf_init_msec_value(omcf->store.analytics_retention,
                             NGX_HTTP_OTP_ANALYTICS_RETENTION);

    if (omcf->http.ca_file.len
        && ngx_conf_full_name(cf->cycle, &omcf->http.ca_file, 1) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_otp_create_srv_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     oscf->app = NULL;
     *     oscf->used = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_srv_conf_t));
}


/*
 * A server without an app of its own has the http level's, as a whole:
 * a server's secret with the http level's providers would be neither
 * app, so the four directives are never mixed across levels.
 */

static char *
ngx_http_otp_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_otp_srv_conf_t *prev = parent;
    ngx_http_otp_srv_conf_t *conf = child;

    if (conf->app == NULL) {
        if (prev->app == NULL) {
            prev->app = ngx_http_otp_app_create(cf);
            if (prev->app == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        conf->app = prev->app;
    }

    /* an otp_gate on marks its app in ngx_http_otp_gate_merge() */

    conf->app->used |= conf->used;

    return NGX_CONF_OK;
}


static void *
ngx_http_otp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_loc_conf_t));
    if (olcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     olcf->handler = 0;
     *     olcf->default_cc = { 0, NULL };
     *     olcf->token_issuer = { 0, NULL };
     *     olcf->token_audience = { 0, NULL };
     *     olcf->token_cookie = { 0, NULL };
     *     olcf->app_name = { 0, NULL };
     *     olcf->default_locale = { 0, NULL };
     */

    olcf->channels = NGX_CONF_UNSET_PTR;
    olcf->smart_min = NGX_CONF_UNSET_UINT;
    olcf->code_length = NGX_CONF_UNSET_UINT;
    olcf->ttl = NGX_CONF_UNSET_MSEC;
    olcf->max_attempts = NGX_CONF_UNSET_UINT;
    olcf->lockout = NGX_CONF_UNSET_MSEC;
    olcf->max_failures.count = NGX_CONF_UNSET_UINT;
    olcf->resend_after = NGX_CONF_UNSET_MSEC;
    olcf->send_limit.count = NGX_CONF_UNSET_UINT;
    olcf->client_limit.count = NGX_CONF_UNSET_UINT;
    olcf->body_limit = NGX_CONF_UNSET_SIZE;
    olcf->body_limit_set = NGX_CONF_UNSET;
    olcf->token_ttl = NGX_CONF_UNSET;
    olcf->geo_allow = NGX_CONF_UNSET_PTR;
    olcf->geo_deny = NGX_CONF_UNSET_PTR;
    olcf->templates = NGX_CONF_UNSET_PTR;
    olcf->message_ttl = NGX_CONF_UNSET_MSEC;
    olcf->token_cookie_secure = NGX_CONF_UNSET_UINT;
    olcf->fallback = NGX_CONF_UNSET;
    olcf->gate = NGX_CONF_UNSET;

    ngx_http_otp_hook_create_conf(&olcf->hook);

    return olcf;
}


static char *
ngx_http_otp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_otp_loc_conf_t *prev = parent;
    ngx_http_otp_loc_conf_t *conf = child;
    ngx_uint_t                *ch;
    ngx_http_core_loc_conf_t  *clcf;

    /*
     * An "if" or "limit_except" block runs the location's content handler,
     * so it must know which one it is; a real nested location does not
     * inherit it and is no OTP endpoint unless it says so.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->handler == 0 && (clcf->noname || clcf->lmt_excpt)) {
        conf->handler = prev->handler;
    }

    if (conf->content == NULL && (clcf->noname || clcf->lmt_excpt)) {
        conf->content = prev->content;
    }

    /*
     * A limit_except block's configuration replaces the location's for
     * the methods it limits, content handler included (an "if" block
     * keeps the location's): it is given the location's, as
     * ngx_http_proxy_merge_loc_conf() does for proxy_pass.
     */

    if (clcf->lmt_excpt && clcf->handler == NULL && conf->content) {
        clcf->handler = conf->content;
    }

    ngx_http_otp_dashboard_merge(cf, prev, conf);

    if (conf->channels == NGX_CONF_UNSET_PTR) {
        if (prev->channels == NGX_CONF_UNSET_PTR) {
            prev->channels = ngx_array_create(cf->pool, 1,
                                              sizeof(ngx_uint_t));
            if (prev->channels == NULL) {
                return NGX_CONF_ERROR;
            }

            ch = ngx_array_push(prev->channels);
            if (ch == NULL) {
                return NGX_CONF_ERROR;
            }

            *ch = NGX_OTP_SMS;
        }

        conf->channels = prev->channels;
    }

    ngx_conf_merge_uint_value(conf->code_length, prev->code_length, 6);
    ngx_conf_merge_msec_value(conf->ttl, prev->ttl, 300000);
    ngx_conf_merge_uint_value(conf->max_attempts, prev->max_attempts, 5);
    ngx_conf_merge_msec_value(conf->lockout, prev->lockout, 900000);
    ngx_conf_merge_msec_value(conf->resend_after, prev->resend_after, 30000);

    /* NIST SP 800-63B 5.2.2 allows at most 100 failures in a row */
    if (conf->max_failures.count == NGX_CONF_UNSET_UINT) {
        if (prev->max_failures.count == NGX_CONF_UNSET_UINT) {
            prev->max_failures.count = 20;
            prev->max_failures.window = 86400000;
        }

        conf->max_failures = prev->max_failures;
    }

    if (conf->send_limit.count == NGX_CONF_UNSET_UINT) {
        if (prev->send_limit.count == NGX_CONF_UNSET_UINT) {
            prev->send_limit.count = 5;
            prev->send_limit.window = 900000;
        }

        conf->send_limit = prev->send_limit;
    }

    if (conf->client_limit.count == NGX_CONF_UNSET_UINT) {
        if (prev->client_limit.count == NGX_CONF_UNSET_UINT) {
            prev->client_limit.count = 20;
            prev->client_limit.window = 3600000;
            prev->client_limit.ipv6_prefix = NGX_HTTP_OTP_IPV6_PREFIX;
        }

        conf->client_limit = prev->client_limit;
    }

    ngx_conf_merge_size_value(conf->body_limit, prev->body_limit, 4096);
    ngx_conf_merge_value(conf->body_limit_set, prev->body_limit_set, 0);

    /*
     * A webhook's body is not the API's few fields: providers batch
     * (Meta's payloads reach 3 MB), and a 413 is retried for days.  Unless
     * otp_body_limit says otherwise, it is read up to what nginx's own
     * client_max_body_size lets through by default.
     */

    conf->hook.body_limit = conf->body_limit_set
                            ? conf->body_limit : NGX_HTTP_OTP_HOOK_BODY_LIMIT;
    ngx_conf_merge_str_value(conf->default_cc, prev->default_cc, "");
    ngx_conf_merge_sec_value(conf->token_ttl, prev->token_ttl, 3600);
    ngx_conf_merge_str_value(conf->token_issuer, prev->token_issuer, "");
    ngx_conf_merge_str_value(conf->token_audience, prev->token_audience, "");
    if (conf->token_cookie.data == NULL) {
        conf->token_cookie = prev->token_cookie;
        conf->token_cookie_secure = prev->token_cookie_secure;
    }

    ngx_conf_merge_str_value(conf->token_cookie, prev->token_cookie, "");
    ngx_conf_merge_uint_value(conf->token_cookie_secure,
                              prev->token_cookie_secure,
                              NGX_HTTP_OTP_COOKIE_SECURE_AUTO);

    ngx_conf_merge_ptr_value(conf->geo_allow, prev->geo_allow, NULL);
    ngx_conf_merge_ptr_value(conf->geo_deny, prev->geo_deny, NULL);
    ngx_conf_merge_ptr_value(conf->templates, prev->templates, NULL);
    ngx_conf_merge_str_value(conf->app_name, prev->app_name, "");
    ngx_conf_merge_str_value(conf->default_locale, prev->default_locale,
                             "en");
    ngx_conf_merge_msec_value(conf->message_ttl, prev->message_ttl,
                              86400000);
    ngx_conf_merge_value(conf->fallback, prev->fallback, 0);
    ngx_conf_merge_uint_value(conf->smart_min, prev->smart_min, 0);

    if (conf->send_limit.count == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_send_limit\" cannot be \"off\": "
                           "every number needs a send limit");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_gate_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_otp_hook_merge_conf(cf, &prev->hook, &conf->hook);
}


static ngx_int_t
ngx_http_otp_preconf(ngx_conf_t *cf)
{
    if (ngx_http_otp_vars_add(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_gate_add_variables(cf);
}


static ngx_int_t
ngx_http_otp_init(ngx_conf_t *cf)
{
    ngx_str_t                  name;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    /* signature checks may guard locations that are no OTP endpoint */

    if (ngx_http_otp_hook_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_gate_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_cost_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!omcf->used && !omcf->replay) {
        /* a gate alone, in front of another nginx's otp_verify */
        if (ngx_http_otp_apps_init(cf) != NGX_OK
            || ngx_http_otp_alert_postconf(cf) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_otp_metrics_postconf(cf);
    }

    if (!omcf->store_set) {
        /* the replay check of a standard_webhooks guard needs one too */

        ngx_str_set(&name, NGX_HTTP_OTP_DEFAULT_ZONE);

        if (ngx_http_otp_store_shm_conf(cf, &omcf->store, &name,
                                        NGX_HTTP_OTP_DEFAULT_ZONE_SIZE,
                                        &ngx_http_otp_module)
            != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }

        omcf->store_set = 1;
    }

    if (ngx_http_otp_apps_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* after the apps: their ids label the providers' series */

    if (ngx_http_otp_alert_postconf(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_metrics_postconf(cf);
}


static ngx_int_t
ngx_http_otp_init_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_main_conf_t  *omcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    if (omcf == NULL || !(omcf->used || omcf->replay)
        || omcf->store.backend == NULL)
    {
        return NGX_OK;
    }

    if (omcf->store.backend->init_process
        && omcf->store.backend->init_process(cycle, &omcf->store) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!omcf->used) {
        /* the store of a standard_webhooks replay check only */
        return NGX_OK;
    }

    if (ngx_http_otp_smart_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_otp_http_init_process(cycle, &omcf->http);
}


static void
ngx_http_otp_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_main_conf_t  *omcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    if (omcf == NULL || !(omcf->used || omcf->replay)
        || omcf->store.backend == NULL)
    {
        return;
    }

    if (omcf->used) {
        /* before the HTTP client and the store they use go */
        ngx_http_otp_smart_exit_process(cycle);
        ngx_http_otp_fallback_exit(cycle);
        ngx_http_otp_webhook_exit(cycle);

        ngx_http_otp_http_exit_process(cycle, &omcf->http);
    }

    if (omcf->store.backend->exit_process) {
        omcf->store.backend->exit_process(cycle, &omcf->store);
    }
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Configuration and per-request state shared by the module's nginx glue.
 */


#ifndef _NGX_HTTP_OTP_MODULE_H_INCLUDED_
#define _NGX_HTTP_OTP_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_webhook.h"


#define NGX_HTTP_OTP_HANDLER_SEND     1
#define NGX_HTTP_OTP_HANDLER_VERIFY   2
#define NGX_HTTP_OTP_HANDLER_STATUS   3   /* ngx_http_otp_status.c */
#define NGX_HTTP_OTP_HANDLER_WEBHOOK  4   /* ngx_http_otp_webhook.c */
#define NGX_HTTP_OTP_HANDLER_ANALYTICS  5 /* ngx_http_otp_analytics.c */

/* otp_client_limit ... ipv6_prefix= */
#define NGX_HTTP_OTP_IPV6_PREFIX          64

/* otp_token_cookie ... secure= */
#define NGX_HTTP_OTP_COOKIE_SECURE_AUTO   0   /* when the client's is TLS */
#define NGX_HTTP_OTP_COOKIE_SECURE_ON     1
#define NGX_HTTP_OTP_COOKIE_SECURE_OFF    2


typedef struct {
    ngx_uint_t                      count;        /* 0: no limit */
    ngx_msec_t                      window;
    ngx_uint_t                      ipv6_prefix;  /* otp_client_limit */
} ngx_http_otp_rate_t;


/* otp_route: the providers for a channel and a number prefix */
typedef struct {
    ngx_uint_t                      channel;
    ngx_str_t                       prefix;       /* digits; "" = default */
    ngx_array_t                     providers;    /* ngx_uint_t indexes */
} ngx_http_otp_route_t;


/* otp_geo_allow, otp_geo_deny */
typedef struct {
    ngx_uint_t                      channels;     /* mask */
    ngx_str_t                       prefix;       /* digits */
} ngx_http_otp_geo_t;


/* otp_message */
typedef struct {
    ngx_uint_t                      channel;
    ngx_str_t                       locale;
    ngx_str_t                       text;
} ngx_http_otp_template_t;


/*
 * An app: what keeps one app's users apart from another's on the same
 * nginx.  The http level's is every server's unless a server sets one of
 * otp_secret_file, otp_provider, otp_route, otp_token_key_file: that
 * server is then an app of its own and takes none of them from above.
 * Its store keys are HMACs under its own secret, its tokens are signed
 * and checked with its own keys, its providers are its own.
 */
typedef struct {
    ngx_str_t                       secret;       /* otp_secret_file */
    ngx_array_t                     providers;    /* ngx_http_otp_provider_t */
    ngx_array_t                     routes;       /* ngx_http_otp_route_t */
    ngx_array_t                     token_keys;   /* ngx_otp_jwt_key_t */

    /* a server's own: budgets are named "id:provider"; "" at http level */
    ngx_str_t                       id;

    ngx_uint_t                      used;         /* an otp handler */
    ngx_uint_t                      gate;         /* an otp_gate on */

    ngx_uint_t                      server;       /* a server's own */
    ngx_uint_t                      same;         /* an earlier app's twin:
                                                     its id */
    ngx_str_t                       file;         /* where it starts */
    ngx_uint_t                      line;
    ngx_array_t                     def;          /* its directives, as
                                                     written (u_char) */
} ngx_http_otp_app_t;


typedef struct ngx_http_otp_srv_conf_s {
    ngx_http_otp_app_t             *app;          /* NULL: the parent's */
    ngx_uint_t                      used;         /* an otp handler */
} ngx_http_otp_srv_conf_t;


/* ngx_http_otp_metrics.c */
typedef struct ngx_http_otp_metrics_s  ngx_http_otp_metrics_t;

/* ngx_http_otp_alert.c */
typedef struct ngx_http_otp_alert_s  ngx_http_otp_alert_t;

/* ngx_http_otp_dashboard.c */
typedef struct ngx_http_otp_dashboard_s  ngx_http_otp_dashboard_t;


typedef struct {
    ngx_http_otp_store_conf_t       store;
    ngx_flag_t                      store_set;

    ngx_http_otp_http_conf_t        http;         /* the providers' client */
    ngx_array_t                     apps;         /* ngx_http_otp_app_t * */

    ngx_uint_t                      used;         /* any otp handler */

    /* ngx_http_otp_signature.c, ngx_http_otp_webhook.c */
    ngx_array_t                     sigs;         /* ngx_http_otp_sig_t * */
    ngx_array_t                     webhooks;     /* ..._webhook_loc_t */
    ngx_uint_t                      replay;       /* a standard_webhooks
                                                     check needs the store */
    ngx_uint_t                      gate;         /* some otp_gate on */

    ngx_http_otp_metrics_t         *metrics;      /* NULL: no otp_metrics */
    ngx_str_t                       currency;     /* otp_price_currency;
                                                     "": USD */
    ngx_http_otp_alert_t           *alert;        /* NULL: no otp_alert,
                                                     no otp_health */

    /* ngx_http_otp_smart.c */
    ngx_uint_t                      smart;        /* some location on */
    time_t                          smart_window; /* s; 0: the default */
    ngx_msec_t                      smart_refresh;
} ngx_http_otp_main_conf_t;


typedef struct {
    ngx_uint_t                      handler;

    ngx_array_t                    *channels;     /* ngx_uint_t, in order */
    ngx_uint_t                      code_length;
    ngx_msec_t                      ttl;
    ngx_uint_t                      max_attempts;
    ngx_msec_t                      lockout;
    ngx_http_otp_rate_t             max_failures;
    ngx_msec_t                      resend_after;
    ngx_http_otp_rate_t             send_limit;
    ngx_http_otp_rate_t             client_limit;
    size_t                          body_limit;
    ngx_flag_t                      body_limit_set; /* given, here or
                                                       above */
    ngx_str_t                       default_cc;

    time_t                          token_ttl;
    ngx_str_t                       token_issuer;
    ngx_str_t                       token_audience;
    ngx_str_t                       token_cookie;
    ngx_uint_t                      token_cookie_secure;

    ngx_array_t                    *geo_allow;    /* ngx_http_otp_geo_t */
    ngx_array_t                    *geo_deny;
    ngx_str_t                       app_name;
    ngx_array_t                    *templates;    /* ngx_http_otp_template_t */
    ngx_str_t                       default_locale;
    ngx_msec_t                      message_ttl;
    ngx_flag_t                      fallback;     /* otp_fallback */

    ngx_http_otp_hook_conf_t        hook;         /* webhooks */

    /* ngx_http_otp_gate.c, ngx_http_otp_logout.c */
    ngx_flag_t                      gate;
    ngx_str_t                       gate_header;
    ngx_str_t                       gate_login;   /* "": 401 */
    ngx_uint_t                      logout;       /* otp_logout here */

    ngx_http_otp_dashboard_t       *dashboard;    /* otp_dashboard here */

    ngx_uint_t                      smart_min;    /* otp_smart_channels:
                                                     0 off, else min= */

    /* ngx_http_otp_content_handler(): the location's, which its
     * limit_except block must be told */
    ngx_http_handler_pt             content;
} ngx_http_otp_loc_conf_t;


#define NGX_HTTP_OTP_MAX_CHAIN      8


/* a delivery attempt: one (channel, provider) of the chain */
typedef struct {
    ngx_uint_t                      channel;
    ngx_http_otp_provider_t        *provider;
    /* a failure: what the 502 says of it, never the provider's words */
    ngx_uint_t                      category;       /* NGX_OTP_DELIVERY_* */
    int64_t                         provider_code;
    unsigned                        has_provider_code:1;
    unsigned                        budget_checked:1;
} ngx_http_otp_attempt_t;


typedef struct {
    ngx_uint_t                      status;
    const char                     *error;
    const char                     *message;
} ngx_http_otp_err_t;


/* per request */
typedef struct ngx_http_otp_ctx_s {
    ngx_http_request_t             *request;
    ngx_http_otp_store_op_t        *op;
    ngx_http_otp_send_t            *send;

    u_char                          phone[NGX_OTP_PHONE_MAX_LEN];
    size_t                          phone_len;
    u_char                          masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                          masked_len;
    u_char                          code[NGX_OTP_CODE_MAX_LEN];
    size_t                          code_len;

    u_char                          locale[16];
    size_t                          locale_len;
    u_char                         *text;         /* rendered, to wipe */

    /* delivery chain: (channel, provider) pairs in the order tried */
    ngx_http_otp_attempt_t          chain[NGX_HTTP_OTP_MAX_CHAIN];
    ngx_uint_t                      nchain;
    ngx_uint_t                      next;
    ngx_uint_t                      over_budget;
    ngx_msec_t                      budget_retry;

    /* the accepted message */
    u_char                          message_id[NGX_HTTP_OTP_ID_LEN];
    size_t                          message_id_len;

    /* ngx_http_otp_signature.c: the access phase's check */
    ngx_http_otp_sig_ctx_t         *sig;

    /* ngx_http_otp_gate.c: $otp_phone; the token, whose jti
     * $otp_token_id reads when it is used */
    ngx_str_t                       gate_phone;
    ngx_str_t                       gate_token;

    /* ngx_http_otp_vars.c: the outcome, for $otp_* */
    const char                     *result;       /* NULL: none */
    ngx_uint_t                      out_channel;  /* 0: none */
    ngx_str_t                       out_provider;
    ngx_uint_t                      attempts_remaining;
    ngx_msec_t                      provider_ms;  /* a send's attempts */
    ngx_msec_t                      provider_start;
    int64_t                         cost;         /* $otp_cost: the
                                                     accepted send's,
                                                     millionths */
    u_char                          phone_key[NGX_OTP_HASH_LEN];
    unsigned                        has_attempts:1;
    unsigned                        has_provider_ms:1;
    unsigned                        has_phone_key:1;
    unsigned                        has_cost:1;

    /* ngx_http_otp_filter.c: an nginx error answered as JSON */
    ngx_str_t                      *error_body;
    unsigned                        error_sent:1;
} ngx_http_otp_ctx_t;


extern ngx_module_t  ngx_http_otp_module;


ngx_int_t ngx_http_otp_handler(ngx_http_request_t *r);

/* the app of a request's server */
#define ngx_http_otp_get_app(r)                                               \
    ((ngx_http_otp_srv_conf_t *)                                              \
         ngx_http_get_module_srv_conf(r, ngx_http_otp_module))->app



#endif /* _NGX_HTTP_OTP_MODULE_H_INCLUDED_ */


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Recent outcomes and the failure alert (ngx_http_otp_alert.c): every
 * provider answer and every delivery report, per channel and per
 * provider, in a sliding window kept in a shared-memory zone of all
 * workers; otp_alert says when a failure rate over it is an alert, and
 * otp_health (ngx_http_otp_health.c) reads the same window.  Every
 * function below is a no-op when neither directive is used.
 */


#ifndef _NGX_HTTP_OTP_ALERT_H_INCLUDED_
#define _NGX_HTTP_OTP_ALERT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* a series' figures over the window, as otp_health and the metrics read
 * them */
typedef struct {
    const char                     *kind;         /* "channel", "provider" */
    ngx_str_t                       app;          /* "": the http level's */
    ngx_str_t                       name;
    ngx_uint_t                      attempts;
    ngx_uint_t                      failures;
    ngx_uint_t                      over;         /* over the threshold */
    ngx_uint_t                      firing;       /* the alert's state */
    const char                     *last_error;   /* NULL: none */
    time_t                          last_error_at;
} ngx_http_otp_alert_figures_t;


/* otp_alert */
char *ngx_http_otp_alert_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* otp_health (ngx_http_otp_health.c) asks for the window */
ngx_int_t ngx_http_otp_alert_want(ngx_conf_t *cf);

/* postconfiguration, after the apps: the zone sized from the providers */
ngx_int_t ngx_http_otp_alert_postconf(ngx_conf_t *cf);

/* a provider's answer (the port's completion) */
void ngx_http_otp_alert_send(ngx_http_otp_send_t *send);

/* a delivery report applied: the record after the change */
void ngx_http_otp_alert_status(ngx_http_otp_provider_t *p,
    ngx_http_otp_message_t *m);

/*
 * The figures of series i (0, 1, ... until NGX_DONE), read under the
 * zone's lock; NGX_DECLINED when the zone is not there (yet).
 */
ngx_int_t ngx_http_otp_alert_figures(ngx_uint_t i,
    ngx_http_otp_alert_figures_t *f);

/* the figures of a provider's series */
ngx_int_t ngx_http_otp_alert_provider(ngx_http_otp_provider_t *p,
    ngx_http_otp_alert_figures_t *f);

/* an otp_alert is configured (and its zone ready) */
ngx_uint_t ngx_http_otp_alert_enabled(void);

/* the window, in seconds, for the health answer */
ngx_uint_t ngx_http_otp_alert_window(void);


#endif /* _NGX_HTTP_OTP_ALERT_H_INCLUDED_ */

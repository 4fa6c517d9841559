
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Prometheus metrics (ngx_http_otp_metrics.c): counters and histograms
 * in a shared-memory zone that every worker adds to without a lock, kept
 * across reloads, served by an otp_metrics location.  Every function
 * below is a no-op when no location has otp_metrics.
 */


#ifndef _NGX_HTTP_OTP_METRICS_H_INCLUDED_
#define _NGX_HTTP_OTP_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* why a send was refused before any provider was asked */
#define NGX_HTTP_OTP_METRICS_LOCKED        0
#define NGX_HTTP_OTP_METRICS_COOLDOWN      1
#define NGX_HTTP_OTP_METRICS_PHONE_LIMIT   2
#define NGX_HTTP_OTP_METRICS_CLIENT_LIMIT  3
#define NGX_HTTP_OTP_METRICS_BUDGET        4


/* otp_metrics, otp_metrics_buckets */
char *ngx_http_otp_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_metrics_buckets(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* postconfiguration, after the apps: the zone sized from the providers */
ngx_int_t ngx_http_otp_metrics_postconf(ngx_conf_t *cf);

/* a provider's answer (the port's completion), latency from its start */
void ngx_http_otp_metrics_send(ngx_http_otp_send_t *send);

/* a store operation's completion (the port's), latency from its start */
void ngx_http_otp_metrics_store(ngx_http_otp_store_op_t *op);

/* a send refused by the store's limits or the providers' budgets */
void ngx_http_otp_metrics_refused(ngx_uint_t reason);

/* a provider's budget checked: over or not */
void ngx_http_otp_metrics_budget(ngx_http_otp_provider_t *p,
    ngx_uint_t over);

/* a status callback applied: the record after the change */
void ngx_http_otp_metrics_status(ngx_http_otp_provider_t *p,
    ngx_http_otp_message_t *m);

/* a number's opt-out applied: listed (set 1) or taken off the list */
void ngx_http_otp_metrics_optout(ngx_uint_t set);

/* a long-poll held (+1) or let go (-1) */
void ngx_http_otp_metrics_longpoll(ngx_int_t delta);


#endif /* _NGX_HTTP_OTP_METRICS_H_INCLUDED_ */

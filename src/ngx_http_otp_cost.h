
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The price table (otp_price, otp_price_file, otp_price_currency) and a
 * send's estimated cost from it.
 */


#ifndef _NGX_HTTP_OTP_COST_H_INCLUDED_
#define _NGX_HTTP_OTP_COST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"


/* one entry of a provider's prices */
typedef struct {
    ngx_uint_t                      channel;
    ngx_str_t                       prefix;       /* digits; "": default */
    int64_t                         price;        /* millionths */
    ngx_str_t                      *file;         /* where it is written */
    ngx_uint_t                      line;
    ngx_uint_t                      seq;          /* its order there */
} ngx_http_otp_price_t;


char *ngx_http_otp_price(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_otp_price_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_price_currency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* postconfiguration: each provider's prices sorted, no entry twice */
ngx_int_t ngx_http_otp_cost_postconf(ngx_conf_t *cf);

/*
 * A message the provider accepted: its estimated cost into send->cost
 * (millionths; -1 when no entry of the provider's prices matches).
 */
void ngx_http_otp_cost_send(ngx_http_otp_send_t *send);

/* the prices' currency: otp_price_currency's, or "USD" */
ngx_str_t *ngx_http_otp_cost_currency(ngx_http_otp_main_conf_t *omcf);


#endif /* _NGX_HTTP_OTP_COST_H_INCLUDED_ */


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The provider port: how a code reaches a phone.  A provider type (log now;
 * twilio, meta_whatsapp and africastalking later) only builds a request and
 * reads the answer; delivery is asynchronous and reports exactly once,
 * from the event loop, through send->handler.  Lifetime rules are those of
 * the store port: the send is allocated outside the request pool, a
 * request that goes away cancels it, and the port frees it after the
 * handler returns.
 */


#ifndef _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"
#include "ngx_http_otp_http.h"



#define NGX_HTTP_OTP_ID_LEN         128     /* a Meta wamid is 58 */


typedef struct ngx_http_otp_provider_s  ngx_http_otp_provider_t;
typedef struct ngx_http_otp_send_s      ngx_http_otp_send_t;

typedef void (*ngx_http_otp_send_handler_pt)(ngx_http_otp_send_t *send);


/* a provider type's option: "key=value" (or "key_file=PATH") into an
 * ngx_str_t at offset in the type's configuration */
typedef struct {
    const char                     *key;
    size_t                          offset;
} ngx_http_otp_provider_option_t;


typedef struct {
    const char                     *name;
    ngx_uint_t                      channels;
    /* the type's configuration: the port allocates conf_size bytes and
     * fills its ngx_str_t fields from options (NULL-terminated; none may
     * be given when NULL), then conf() checks and completes it */
    size_t                          conf_size;
    ngx_http_otp_provider_option_t *options;
    char                         *(*conf)(ngx_conf_t *cf,
                                       ngx_http_otp_provider_t *p);
    /* starts delivery; must not call send->handler before returning */
    void                          (*send)(ngx_http_otp_send_t *send);
} ngx_http_otp_provider_type_t;



/* a provider type's answer parser (ngx_otp_provider_wire.c) */
typedef int (*ngx_http_otp_provider_parse_pt)(unsigned status,
    const u_char *body, size_t len, ngx_otp_wire_answer_t *a);


/* what every provider accepts besides its own keys */
typedef struct {
    ngx_str_t                       base_url;     /* "" = the provider's */
    ngx_uint_t                      budget;       /* sends/hour, 0 = none */
    ngx_msec_t                      timeout;      /* 0 = otp_http_timeout */
} ngx_http_otp_provider_common_t;


struct ngx_http_otp_provider_s {
    ngx_str_t                       name;
    ngx_http_otp_provider_type_t   *type;
    ngx_uint_t                      channels;     /* this one carries */
    ngx_http_otp_provider_common_t  common;
    ngx_http_otp_http_conf_t       *http;         /* the shared client */
    void                           *conf;         /* the type's */
};


struct ngx_http_otp_send_s {
    ngx_http_otp_provider_t        *provider;
    ngx_uint_t                      channel;

    u_char                          phone[NGX_OTP_PHONE_MAX_LEN];
    size_t                          phone_len;
    u_char                          code[NGX_OTP_CODE_MAX_LEN];
    size_t                          code_len;
    ngx_msec_t                      ttl;
    ngx_str_t                       text;       /* rendered message */
    ngx_str_t                       locale;     /* e.g. "en", "pt-BR" */

    /* output */
    ngx_int_t                       rc;         /* NGX_OK or NGX_ERROR */
    u_char                          message_id[NGX_HTTP_OTP_ID_LEN];
    size_t                          message_id_len;
    u_char                          error[128]; /* short reason */
    size_t                          error_len;

    ngx_http_otp_send_handler_pt    handler;
    void                           *data;
    ngx_log_t                      *log;

    /* a provider that talks HTTP keeps its request here, so that a
     * cancelled send aborts the transfer */
    ngx_http_otp_http_req_t        *http;

    ngx_event_t                     event;
    unsigned                        cancelled:1;
};


extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_log;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_twilio;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_meta_whatsapp;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_africastalking;


ngx_http_otp_send_t *ngx_http_otp_send_create(ngx_log_t *log);
void ngx_http_otp_send_start(ngx_http_otp_send_t *send);
void ngx_http_otp_send_cancel(ngx_http_otp_send_t *send);
/* for provider types: report the result; frees the send */
void ngx_http_otp_send_finish(ngx_http_otp_send_t *send);

/*
 * For provider types' conf(): reads "key=value" or "key_file=PATH" (the
 * value read from the file, one trailing line ending dropped) into *value.
 * Returns NGX_OK when arg is that key, NGX_DECLINED when it is another.
 */
ngx_int_t ngx_http_otp_provider_arg(ngx_conf_t *cf, ngx_str_t *arg,
    const char *key, ngx_str_t *value);

/*
 * For provider types: reports a send that failed before its request went
 * out, from the event loop (never from inside send()).
 */
void ngx_http_otp_send_fail(ngx_http_otp_send_t *send, const char *err);

/*
 * For provider types: completes a send with the provider's answer to its
 * HTTP request: a transport failure ("<label>: Connection refused"), or
 * what parse() reads, the message id or a short reason.  Frees nothing of
 * req, which the client frees after its handler returns.
 */
void ngx_http_otp_send_answer(ngx_http_otp_send_t *send,
    ngx_http_otp_http_req_t *req, ngx_http_otp_provider_parse_pt parse,
    const char *label);

char *ngx_http_otp_provider_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_ */

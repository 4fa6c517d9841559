
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The provider port: how a code reaches a phone.  A provider type (log,
 * twilio, meta_whatsapp, africastalking: one file each) only fills in a
 * request and names the core's builder and parser for it; the port
 * builds the body, makes the call and reads the answer.  Delivery is
 * asynchronous and reports exactly once, from the event loop, through
 * send->handler.  Lifetime rules are those of the store port: the send is
 * allocated outside the request pool, a request that goes away cancels
 * it, and the port frees it after the handler returns.
 *
 * A free-form send (send->free_form) carries send->text alone, no code:
 * a reply within the window a messaging channel allows one, which only
 * the types whose free_form names the channel send; to others the port
 * answers NGX_OTP_DELIVERY_INTERNAL.
 *
 * A failed send tells its handler only a category (NGX_OTP_DELIVERY_*)
 * and the provider's numeric code: what a client may see.  The
 * provider's or curl's words go to the error log, once, from the port,
 * scrubbed of the code (ngx_otp_wire_scrub()) and with the phone masked.
 */


#ifndef _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"
#include "ngx_http_otp_http.h"



#define NGX_HTTP_OTP_ID_LEN         128     /* a Meta wamid is 58 */
#define NGX_HTTP_OTP_NAME_LEN       32      /* otp_provider's NAME */


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
    /* those of channels on which send() also sends a free-form text
     * (send->free_form): a reply to a user's message, such as HELP's */
    ngx_uint_t                      free_form;
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
    const u_char *body, size_t len, const ngx_otp_wire_str_t *code,
    ngx_otp_wire_answer_t *a);

/* a body builder of ngx_otp_provider_wire.c, msg its message */
typedef int (*ngx_http_otp_provider_build_pt)(const void *msg, u_char *out,
    size_t cap, size_t *len);


/* what a provider type's send() asks of the port */
typedef struct {
    ngx_str_t                       url;
    ngx_str_t                       headers[NGX_HTTP_OTP_HTTP_MAX_HEADERS];
    ngx_uint_t                      nheaders;         /* "Name: value" */
    ngx_str_t                       userpwd;          /* basic auth */
    ngx_http_otp_provider_build_pt  build;
    const void                     *msg;              /* build()'s */
    ngx_http_otp_provider_parse_pt  parse;
} ngx_http_otp_provider_call_t;


/* what every provider accepts besides its own keys */
typedef struct {
    ngx_str_t                       base_url;     /* "" = the provider's */
    ngx_uint_t                      budget;       /* sends/hour, 0 = none */
    ngx_msec_t                      timeout;      /* 0 = otp_http_timeout */
} ngx_http_otp_provider_common_t;


/*
 * What the provider's webhooks check (ngx_http_otp_signature.c), filled
 * by the type's conf() from the credentials the otp_provider directive
 * already holds, so that no secret is written twice in a configuration.
 */
#define NGX_HTTP_OTP_HOOK_NONE      0
#define NGX_HTTP_OTP_HOOK_TWILIO    1   /* X-Twilio-Signature */
#define NGX_HTTP_OTP_HOOK_META      2   /* X-Hub-Signature-256 */
#define NGX_HTTP_OTP_HOOK_AT        3   /* a shared secret, an allow-list */

typedef struct {
    ngx_uint_t                      scheme;
    ngx_str_t                       secret;       /* the auth token, the
                                                     app secret, the
                                                     webhook secret; "" */
    ngx_str_t                       verify_token; /* Meta's handshake */
    ngx_array_t                    *allow;        /* ngx_cidr_t; NULL */
    ngx_str_t                      *status_callback;  /* Twilio's, set at
                                                     postconfiguration
                                                     when empty */
} ngx_http_otp_provider_hook_t;


struct ngx_http_otp_provider_s {
    ngx_str_t                       name;
    ngx_str_t                       store_name;   /* "app-id:name", or the
                                                     name at http level */
    ngx_http_otp_provider_type_t   *type;
    ngx_uint_t                      channels;     /* this one carries */
    ngx_http_otp_provider_common_t  common;
    ngx_http_otp_http_conf_t       *http;         /* the shared client */
    void                           *conf;         /* the type's */
    ngx_http_otp_provider_hook_t    hook;
    ngx_uint_t                      metrics;      /* its series' index */
    ngx_array_t                    *prices;       /* ngx_http_otp_price_t
                                                     (ngx_http_otp_cost.c);
                                                     NULL: none */
    ngx_uint_t                      outcome;      /* ngx_http_otp_alert.c:
                                                     its series' index + 1;
                                                     0: none */
};


struct ngx_http_otp_send_s {
    ngx_http_otp_provider_t        *provider;
    ngx_uint_t                      channel;

    u_char                          phone[NGX_OTP_PHONE_MAX_LEN];
    size_t                          phone_len;
    u_char                          code[NGX_OTP_CODE_MAX_LEN];
    size_t                          code_len;
    ngx_msec_t                      ttl;
    ngx_str_t                       text;       /* rendered message; or,
                                                   free_form, the whole
                                                   message, no code */
    ngx_str_t                       locale;     /* e.g. "en", "pt-BR" */

    /* output */
    ngx_int_t                       rc;         /* NGX_OK or NGX_ERROR */
    u_char                          message_id[NGX_HTTP_OTP_ID_LEN];
    size_t                          message_id_len;
    ngx_uint_t                      category;   /* NGX_OTP_DELIVERY_* */
    int64_t                         provider_code;
    unsigned                        has_provider_code:1;
    int64_t                         cost;       /* estimated, millionths
                                                   of the price table's
                                                   currency; -1: unknown
                                                   (ngx_http_otp_cost.c) */

    ngx_http_otp_send_handler_pt    handler;
    void                           *data;
    ngx_log_t                      *log;        /* a request's connection
                                                   log, or the cycle's */

    /* the port's: the HTTP call in flight, so that a cancelled send
     * aborts the transfer, and how to read its answer */
    ngx_http_otp_http_req_t        *http;
    ngx_http_otp_provider_parse_pt  parse;
    char                           *action;     /* the log's, restored */
    ngx_http_request_t             *log_request;   /* the log's context */

    ngx_event_t                     event;
    ngx_msec_t                      start;      /* for the metrics */
    unsigned                        cancelled:1;
    unsigned                        answered:1;     /* when cancelled */
    unsigned                        free_form:1;    /* see text */
};


extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_log;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_twilio;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_meta_whatsapp;
extern ngx_http_otp_provider_type_t  ngx_http_otp_provider_africastalking;


ngx_http_otp_send_t *ngx_http_otp_send_create(ngx_log_t *log);
void ngx_http_otp_send_start(ngx_http_otp_send_t *send);
void ngx_http_otp_send_cancel(ngx_http_otp_send_t *send);
/*
 * For provider types: reports the result from the event loop (a posted
 * event), never from inside send(); with rc NGX_ERROR, category and
 * reason (for the log) say why.
 */
void ngx_http_otp_send_post(ngx_http_otp_send_t *send, ngx_int_t rc,
    ngx_uint_t category, const char *reason);

/*
 * For provider types: the HTTP call of a send.  The port measures and
 * builds the body (pr->build on pr->msg) into a buffer the HTTP request
 * owns and wipes, starts the call, and answers the send with what
 * pr->parse reads of the answer; a failure before the call is answered
 * from a posted event.  pr is not kept.
 */
void ngx_http_otp_provider_call(ngx_http_otp_send_t *send,
    ngx_http_otp_provider_call_t *pr);

/*
 * For provider types' conf(): reads "key=value" or "key_file=PATH" (the
 * value read from the file, one trailing line ending dropped) into *value.
 * Returns NGX_OK when arg is that key, NGX_DECLINED when it is another.
 */
ngx_int_t ngx_http_otp_provider_arg(ngx_conf_t *cf, ngx_str_t *arg,
    const char *key, ngx_str_t *value);

/*
 * otp_provider NAME TYPE [key=value ...]: a provider added to providers
 * (of ngx_http_otp_provider_t), each sharing the HTTP client hcf.
 */
char *ngx_http_otp_provider_add(ngx_conf_t *cf, ngx_array_t *providers,
    ngx_http_otp_http_conf_t *hcf);


#endif /* _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_ */

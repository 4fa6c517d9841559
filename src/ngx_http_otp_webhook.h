
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Provider webhooks: the signature check of the access phase
 * (ngx_http_otp_signature*.c: otp_signature, and what otp_webhook implies)
 * and the webhook endpoint (ngx_http_otp_webhook*.c: otp_webhook, status
 * callbacks, incoming messages, the StatusCallback derived from
 * otp_public_url).
 */


#ifndef _NGX_HTTP_OTP_WEBHOOK_H_INCLUDED_
#define _NGX_HTTP_OTP_WEBHOOK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_provider.h"


/* a scheme of otp_signature: a provider's (NGX_HTTP_OTP_HOOK_*), or */
#define NGX_HTTP_OTP_SIG_STDWH          16  /* standard_webhooks */

/*
 * The most of a body a signature check or a webhook reads where
 * otp_body_limit is not given (nginx's default client_max_body_size);
 * otp_body_limit may go up to NGX_OTP_HOOK_BODY_MAX_LEN, what the core
 * reads.
 */
#define NGX_HTTP_OTP_HOOK_BODY_LIMIT    (1024 * 1024)

#define NGX_HTTP_OTP_SIG_TOLERANCE      300 /* s, standard_webhooks */

/* the longest otp_help_text, in characters: Twilio's limit for a message
 * (Meta's, NGX_OTP_META_TEXT_MAX, is higher) */
#define NGX_HTTP_OTP_HELP_TEXT_MAX      1600


/* otp_signature NAME | standard_webhooks ...; and otp_webhook NAME's */
typedef struct {
    ngx_uint_t                      scheme;     /* 0 until resolved */
    ngx_str_t                       name;       /* the provider's */
    ngx_http_otp_provider_t        *provider;   /* resolved at postconf */
    struct ngx_http_otp_srv_conf_s *srv;        /* whose app has it */
    ngx_str_t                       secret;     /* standard_webhooks */
    ngx_str_t                       secret_file;    /* as given */
    time_t                          tolerance;
    ngx_flag_t                      replay;     /* replay=on|off */
    ngx_str_t                       file;       /* where it was given */
    ngx_uint_t                      line;
    unsigned                        host_url:1; /* a location checks it
                                                   without otp_public_url */
} ngx_http_otp_sig_t;


/* the location configuration's part for webhooks */
typedef struct {
    ngx_http_otp_sig_t             *signature;  /* NULL: none */
    ngx_http_otp_sig_t             *webhook;    /* otp_webhook NAME */
    ngx_str_t                       public_url; /* no trailing '/' */
    ngx_array_t                    *trusted;    /* ngx_cidr_t, or NULL */
    ngx_str_t                       help_text;
    ngx_str_t                       forward;    /* URI or @name; "" */
    size_t                          body_limit; /* otp_body_limit, or
                                                   NGX_HTTP_OTP_HOOK_BODY_LIMIT
                                                   when not given */
} ngx_http_otp_hook_conf_t;


/* per request, in ngx_http_otp_ctx_t */
typedef struct {
    ngx_int_t                       status;     /* the access phase's */
    ngx_str_t                       body;       /* read and contiguous */
    void                           *webhook;    /* ngx_http_otp_webhook.c's
                                                   state of the request */
    ngx_http_otp_sig_t             *passed;     /* the check passed, if any:
                                                   kept across an internal
                                                   redirect */
    unsigned                        checked:1;
} ngx_http_otp_sig_ctx_t;


/* an otp_webhook location, for the postconfiguration */
typedef struct {
    ngx_http_otp_hook_conf_t       *conf;
    ngx_http_core_loc_conf_t       *clcf;
} ngx_http_otp_webhook_loc_t;


/* ngx_http_otp_module.c calls these from its create and merge */
void ngx_http_otp_hook_create_conf(ngx_http_otp_hook_conf_t *conf);
char *ngx_http_otp_hook_merge_conf(ngx_conf_t *cf,
    ngx_http_otp_hook_conf_t *prev, ngx_http_otp_hook_conf_t *conf);

/*
 * The postconfiguration (from ngx_http_otp_init(), whether or not an
 * otp_send is used): resolves the providers the checks name, installs the
 * access-phase handler, derives Twilio's StatusCallback and logs the URLs
 * to give Meta's and Africa's Talking's consoles.
 */
ngx_int_t ngx_http_otp_hook_postconf(ngx_conf_t *cf);

/* directives */
char *ngx_http_otp_signature_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_trusted_proxies(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_public_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_webhook_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_help_text(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_otp_signature_conf.c: the access-phase handler's setup */
ngx_int_t ngx_http_otp_signature_postconf(ngx_conf_t *cf);
/* ngx_http_otp_signature.c: the access-phase handler */
ngx_int_t ngx_http_otp_signature_handler(ngx_http_request_t *r);
/* the body, contiguous (NGX_DECLINED: over the location's body_limit) */
ngx_int_t ngx_http_otp_hook_body(ngx_http_request_t *r, ngx_str_t *body);
/* a request header by name (the first), or NULL */
ngx_table_elt_t *ngx_http_otp_hook_header(ngx_http_request_t *r,
    const char *name);
/* the request's ngx_http_otp_ctx_t with its sig part, made when absent,
 * with a cleanup that cancels ctx->op */
struct ngx_http_otp_ctx_s *ngx_http_otp_hook_ctx(ngx_http_request_t *r);
/* a JSON refusal from a phase handler: sends it and finalizes */
ngx_int_t ngx_http_otp_signature_deny(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *message);

/* ngx_http_otp_webhook.c */
ngx_int_t ngx_http_otp_webhook_handler(ngx_http_request_t *r);
/* ngx_http_otp_webhook_help.c */
/* at exit_process, before the HTTP client goes: cancels HELP replies */
void ngx_http_otp_webhook_exit(ngx_cycle_t *cycle);
/* otp_help_text's check: UTF-8, NGX_HTTP_OTP_HELP_TEXT_MAX characters */
extern ngx_conf_post_t  ngx_http_otp_help_text_post;


#endif /* _NGX_HTTP_OTP_WEBHOOK_H_INCLUDED_ */

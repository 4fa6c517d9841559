
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The shm store's records, shared by ngx_http_otp_store_shm.c (the
 * zone, the operations on codes, windows, opt-outs and SEEN records,
 * eviction), ngx_http_otp_store_shm_message.c (message records) and
 * ngx_http_otp_store_shm_feed.c (the change feed).  Every function
 * here is called with the zone's mutex held, except watch() and
 * unwatch().
 */


#ifndef _NGX_HTTP_OTP_STORE_SHM_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"


typedef enum {
    NGX_HTTP_OTP_SHM_PHONE = 1,           /* the phone record */
    NGX_HTTP_OTP_SHM_PHONE_WINDOW,        /* per-phone send window */
    NGX_HTTP_OTP_SHM_CLIENT_WINDOW,       /* per-client send window */
    NGX_HTTP_OTP_SHM_BUDGET,              /* a provider's hourly budget */
    NGX_HTTP_OTP_SHM_MESSAGE,             /* a message's delivery record */
    NGX_HTTP_OTP_SHM_OPTOUT,              /* a number that said STOP */
    NGX_HTTP_OTP_SHM_SEEN,                /* a webhook id accepted */
    NGX_HTTP_OTP_SHM_ANALYTICS            /* an hour's analytics row */
} ngx_http_otp_shm_kind_e;


/* the fields of ngx_http_otp_store.h's phone record */
typedef struct {
    u_char                       has_code;
    uint32_t                     max_attempts;
    uint32_t                     fails;
    uint32_t                     max_failures;
    uint32_t                     lfails;
    uint64_t                     code_expires;
    uint64_t                     sent;
    uint64_t                     lock;
    uint64_t                     lockout;
    uint64_t                     fend;
    uint64_t                     failure_window;
    uint64_t                     lfend;
    u_char                       code[NGX_OTP_HASH_LEN];
} ngx_http_otp_shm_phone_t;


typedef struct {
    uint64_t                     count;
    uint64_t                     hour;            /* BUDGET only */
    uint64_t                     start;           /* send windows: opened */
} ngx_http_otp_shm_window_t;


/* the fields of ngx_http_otp_store.h's message record */
typedef struct {
    u_char                       status;
    u_char                       channel;
    u_char                       provider_len;
    u_char                       error_code_len;
    u_char                       next_len;
    u_char                       prev_len;
    uint16_t                     fallback_len;
    u_char                      *fallback;        /* a slab allocation */
    uint64_t                     created;
    uint64_t                     updated;
    int64_t                      cost;            /* millionths; -1 */
    u_char                       country_len;
    u_char                       country[NGX_OTP_COUNTRY_MAX];
    u_char                       phone_key[NGX_OTP_HASH_LEN];
    u_char                       provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    u_char                       error_code[NGX_HTTP_OTP_ERROR_CODE_MAX];
    u_char                       next[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    u_char                       prev[NGX_HTTP_OTP_MESSAGE_ID_MAX];
} ngx_http_otp_shm_message_t;


/* an analytics row (ngx_http_otp_store.h, "Analytics") */
typedef struct {
    uint64_t                     hour;            /* unix seconds */
    u_char                       channel;
    u_char                       failure;         /* a failure row */
    u_char                       provider_len;
    u_char                       country_len;
    u_char                       error_code_len;
    u_char                       provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    u_char                       country[NGX_OTP_COUNTRY_MAX];
    u_char                       error_code[NGX_HTTP_OTP_ERROR_CODE_MAX];
    uint64_t                     sent;
    uint64_t                     delivered;
    uint64_t                     failed;
    uint64_t                     ms_sum;
    uint64_t                     ms_count;
    int64_t                      cost;
    uint32_t                     hist[NGX_OTP_DELIVERY_BUCKETS];
} ngx_http_otp_shm_analytics_t;


typedef struct {
    u_char                       color;
    u_char                       kind;
    ngx_queue_t                  queue;
    uint64_t                     expires;         /* ms since the epoch */
    u_char                       key[NGX_OTP_HASH_LEN];

    union {
        ngx_http_otp_shm_phone_t    phone;
        ngx_http_otp_shm_window_t   window;
        ngx_http_otp_shm_message_t  message;
        ngx_http_otp_shm_analytics_t  analytics;
    } u;
} ngx_http_otp_shm_node_t;


typedef struct {
    u_char                       len;
    u_char                       id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
} ngx_http_otp_shm_feed_t;


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;           /* codes and windows */
    ngx_queue_t                  messages;        /* message records */
    ngx_queue_t                  optouts;         /* never swept */
    ngx_queue_t                  analytics;       /* analytics rows */
    uint64_t                     analytics_warned; /* the last "full" */
    uint64_t                     swept;           /* last full sweep */

    /* id number k is feed[k % NGX_HTTP_OTP_STORE_FEED] */
    uint64_t                     feed_seq;        /* ids ever appended */
    ngx_http_otp_shm_feed_t      feed[NGX_HTTP_OTP_STORE_FEED];
} ngx_http_otp_shm_sh_t;


typedef struct {
    ngx_http_otp_shm_sh_t       *sh;
    ngx_slab_pool_t             *shpool;
    ngx_msec_t                   retention;       /* the store conf's
                                                     analytics_retention */
} ngx_http_otp_shm_ctx_t;


/* ngx_http_otp_store_shm.c */
ngx_http_otp_shm_node_t *ngx_http_otp_shm_lookup(
    ngx_http_otp_shm_ctx_t *ctx, ngx_uint_t kind, u_char *key, uint64_t now);
ngx_http_otp_shm_node_t *ngx_http_otp_shm_alloc(
    ngx_http_otp_shm_ctx_t *ctx, ngx_uint_t kind, u_char *key, uint64_t now,
    ngx_log_t *log);
u_char *ngx_http_otp_shm_blob_alloc(ngx_http_otp_shm_ctx_t *ctx,
    size_t size, uint64_t now, ngx_log_t *log);
void ngx_http_otp_shm_insert(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *n);
void ngx_http_otp_shm_touch(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *n);

/* ngx_http_otp_store_shm_message.c */
ngx_int_t ngx_http_otp_shm_message_put(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
ngx_int_t ngx_http_otp_shm_message_link(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
ngx_int_t ngx_http_otp_shm_status_set(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
ngx_int_t ngx_http_otp_shm_status_get(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
void ngx_http_otp_shm_fallback_free(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m);

/* ngx_http_otp_store_shm_analytics.c */
void ngx_http_otp_shm_analytics_sent(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m, ngx_log_t *log);
void ngx_http_otp_shm_analytics_status(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m, ngx_uint_t from, uint64_t now,
    ngx_log_t *log);
ngx_int_t ngx_http_otp_shm_analytics_get(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);

/* ngx_http_otp_store_shm_feed.c */
void ngx_http_otp_shm_feed_append(ngx_http_otp_shm_ctx_t *ctx,
    u_char *id, size_t len);
ngx_int_t ngx_http_otp_shm_watch(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_watch_pt handler, void *data);
void ngx_http_otp_shm_unwatch(ngx_http_otp_store_conf_t *scf);


#endif /* _NGX_HTTP_OTP_STORE_SHM_H_INCLUDED_ */

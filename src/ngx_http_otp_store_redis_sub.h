
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store's subscriber: one connection per worker, SUBSCRIBEd to
 * the status announcements that status_set.lua PUBLISHes on "otp:status"
 * (ngx_http_otp_store.h, "Watching").  Connected on the first watch() and
 * kept; unwatch() only stops the calls.
 */


#ifndef _NGX_HTTP_OTP_STORE_REDIS_SUB_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_REDIS_SUB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"
#include "ngx_http_otp_redis_conn.h"


typedef struct ngx_http_otp_redis_sub_s  ngx_http_otp_redis_sub_t;


/* allocates only: nothing connects before the first watch() */
ngx_http_otp_redis_sub_t *ngx_http_otp_redis_sub_create(ngx_pool_t *pool,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log);
ngx_int_t ngx_http_otp_redis_sub_watch(ngx_http_otp_redis_sub_t *sub,
    ngx_http_otp_store_watch_pt handler, void *data);
void ngx_http_otp_redis_sub_unwatch(ngx_http_otp_redis_sub_t *sub);
/* its connection: a Redis Cluster moves it from node to node, Sentinel
 * attaches it to the master */
ngx_http_otp_redis_conn_t *ngx_http_otp_redis_sub_conn(
    ngx_http_otp_redis_sub_t *sub);
/* exit_process: closed, and no handler runs from here on */
void ngx_http_otp_redis_sub_exit(ngx_http_otp_redis_sub_t *sub);


#endif /* _NGX_HTTP_OTP_STORE_REDIS_SUB_H_INCLUDED_ */

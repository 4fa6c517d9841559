
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store behind Redis Sentinel:
 *
 *   otp_store redis-sentinel://HOST:PORT[,HOST:PORT...]/NAME[/DB] ...
 *
 * Each worker keeps one connection to one sentinel at a time (itself an
 * ngx_http_otp_redis_conn_t): its handshake, after AUTH with the
 * sentinel_* credentials, is SENTINEL get-master-addr-by-name NAME and
 * SUBSCRIBE +switch-master, pipelined; from then on it only listens.  A
 * sentinel that cannot be reached or does not know the master is skipped:
 * the next attempt goes to the next one in the list, with the connection's
 * backoff.
 *
 * The store's connection and the subscriber's are "attached": their
 * address comes from here at every connect (prepare()), their handshake
 * checks ROLE, and a "+switch-master" for NAME (or a sentinel that names
 * another master on reconnect) closes them, so that they reconnect to the
 * new master.  A connection that finds a replica where the master was
 * (demoted()) makes the sentinels be asked again.
 *
 * While the master is unknown the attached connections wait (operations
 * queue, under their timeouts); once every sentinel failed in a row, they
 * fail at once (503 store_unavailable) until one answers.  A master known
 * from before stays in use while the sentinels are all down: the
 * sentinels only point at it, and ROLE checks it at every connect.
 */


#ifndef _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_redis_conn.h"


typedef struct ngx_http_otp_redis_sentinel_s  ngx_http_otp_redis_sentinel_t;


/*
 * The URL after "redis-sentinel://": the sentinels (resolved here, at
 * configuration time), the master's name and the database, into
 * scf->sentinel and *db.
 */
char *ngx_http_otp_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *url, ngx_uint_t *db,
    ngx_uint_t *db_set);
/* after the options: a sentinel_username= needs a sentinel password */
char *ngx_http_otp_redis_sentinel_check(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf);
/* sentinel_username=, sentinel_password_file=: NGX_DECLINED if not one */
ngx_int_t ngx_http_otp_redis_sentinel_option(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *arg);

ngx_http_otp_redis_sentinel_t *ngx_http_otp_redis_sentinel_create(
    ngx_pool_t *pool, ngx_http_otp_store_conf_t *scf, ngx_log_t *log);
/* before rc's first connect */
void ngx_http_otp_redis_sentinel_attach(ngx_http_otp_redis_sentinel_t *s,
    ngx_http_otp_redis_conn_t *rc);
void ngx_http_otp_redis_sentinel_start(ngx_http_otp_redis_sentinel_t *s);
void ngx_http_otp_redis_sentinel_exit(ngx_http_otp_redis_sentinel_t *s);


#endif /* _NGX_HTTP_OTP_REDIS_SENTINEL_H_INCLUDED_ */

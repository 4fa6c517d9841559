
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store on a Redis Cluster: otp_store
 * redis-cluster://HOST:PORT[,HOST:PORT...].  Each worker reads the slot
 * map (CLUSTER SLOTS) from any reachable node, keeps one store node
 * (ngx_http_otp_store_redis.h: a connection with its scripts loaded) per
 * master, and sends each operation to the master of its first key's slot;
 * it follows -MOVED (the slot's new master; the map read again) and -ASK
 * (ASKING and the command on that node, the map unchanged), a bounded
 * number of times per operation, and retries a -TRYAGAIN (a multi-key
 * script during a slot's migration) a little later, within the
 * operation's timeout.
 *
 * Fail closed: a slot whose master cannot be reached (or that no master
 * serves) answers UNAVAILABLE at once, until the node or a new map comes
 * back; the other slots go on.
 *
 * The subscriber (ngx_http_otp_store_redis_sub.c) listens on any one node
 * (PUBLISH is broadcast to every node of a cluster), and moves to another
 * node when its node goes.
 */


#ifndef _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_redis.h"


extern ngx_http_otp_store_backend_t  ngx_http_otp_store_redis_cluster_backend;


/* the seeds of "redis-cluster://HOST:PORT[,HOST:PORT...]" into scf */
char *ngx_http_otp_redis_cluster_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *url);

/*
 * Sends pending to the master of its slot (or holds it until the map is
 * read): NGX_DECLINED when that slot cannot be served now (UNAVAILABLE).
 */
ngx_int_t ngx_http_otp_redis_cluster_route(
    ngx_http_otp_redis_pending_t *pending);

/*
 * An error reply: NGX_OK when the router took pending (redirected, or
 * retried later), NGX_ERROR when it is a cluster error that fails the
 * operation (UNAVAILABLE), NGX_DECLINED when it is not the router's.
 */
ngx_int_t ngx_http_otp_redis_cluster_error(
    ngx_http_otp_redis_pending_t *pending, redisReply *reply);

/* a node's connection READY, or gone */
void ngx_http_otp_redis_cluster_node_ready(ngx_http_otp_redis_ctx_t *node);

/*
 * Analytics on a Cluster: count() makes the ANALYTICS_ADD of the counters
 * a MESSAGE_PUT or STATUS_SET answered (op->counts), or NULL; count_start()
 * starts it, once op is finished.
 */
ngx_http_otp_store_op_t *ngx_http_otp_redis_cluster_count(
    ngx_http_otp_redis_cluster_t *cluster, ngx_http_otp_store_op_t *op);
void ngx_http_otp_redis_cluster_count_start(
    ngx_http_otp_redis_cluster_t *cluster, ngx_http_otp_store_op_t *add);
void ngx_http_otp_redis_cluster_node_gone(ngx_http_otp_redis_ctx_t *node);


#endif /* _NGX_HTTP_OTP_REDIS_CLUSTER_H_INCLUDED_ */


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store's node: one connection that runs the scripts (with its
 * scripts' SHA1s, its operation timeouts and its queue of operations
 * waiting for the connection), and an operation's pending record.  One
 * Redis is one node per worker (ngx_http_otp_store_redis.c); a Redis
 * Cluster is one node per master per worker, and a router in front of
 * them (ngx_http_otp_redis_cluster.c).
 */


#ifndef _NGX_HTTP_OTP_STORE_REDIS_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store.h"
#include "ngx_http_otp_redis_conn.h"
#include "ngx_http_otp_store_redis_sub.h"
#include "ngx_http_otp_store_redis_reply.h"


#define NGX_HTTP_OTP_REDIS_SHA1_LEN         40          /* in hex */


typedef struct ngx_http_otp_redis_cluster_s  ngx_http_otp_redis_cluster_t;


typedef struct {
    ngx_http_otp_redis_conn_t       rc;

    ngx_uint_t                      timeouts;   /* consecutive */
    u_char                          sha[NGX_HTTP_OTP_REDIS_NSCRIPTS]
                                       [NGX_HTTP_OTP_REDIS_SHA1_LEN];

    ngx_queue_t                     waiting;    /* pending, not yet sent */

    ngx_http_otp_redis_sub_t       *sub;        /* one Redis */
    ngx_http_otp_redis_cluster_t   *cluster;    /* a cluster's node */
    struct ngx_http_otp_redis_sentinel_s  *sentinel;    /* Sentinel */
    unsigned                        down:1;     /* logged, cluster */

    /* wait=: scripts sent since the last WAIT, and the event sending it */
    ngx_queue_t                     batch;
    ngx_event_t                     wait_event;
    unsigned                        wait_sent:1;    /* one WAIT at a time */
} ngx_http_otp_redis_ctx_t;


typedef struct {
    ngx_http_otp_store_op_t        *op;         /* NULL once timed out */
    ngx_http_otp_redis_ctx_t       *ctx;
    ngx_uint_t                      script;
    ngx_uint_t                      eval;       /* resent as EVAL */
    ngx_queue_t                     queue;      /* in ctx->waiting */
    unsigned                        waiting:1;

    /* wait= (one Redis, Sentinel); zero otherwise */
    ngx_queue_t                     wq;         /* in a batch or a WAIT's */
    ngx_uint_t                      refs;       /* hiredis's, a WAIT's */
    unsigned                        wait:1;     /* a write, with wait= */
    unsigned                        in_wait:1;  /* in wq */
    unsigned                        answered:1; /* script read, WAITing */
    unsigned                        unacked:1;  /* no WAIT for it */

    /* Redis Cluster (ngx_http_otp_redis_cluster.c); zero for one Redis */
    ngx_http_otp_redis_cluster_t   *cluster;
    ngx_uint_t                      redirects;  /* MOVED and ASK followed */
    ngx_event_t                     retry;      /* after a TRYAGAIN */
    unsigned                        asking:1;   /* ASKING before it */
    unsigned                        delayed:1;  /* retry timer, queued */
    unsigned                        split:1;    /* ISSUE after CLIENT */
} ngx_http_otp_redis_pending_t;


/* a node's connection set up (not connected): NGX_ERROR if SHA1 failed */
ngx_int_t ngx_http_otp_redis_node_init(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log);

/* the operation's script, or NGX_ERROR for one the store cannot take */
ngx_int_t ngx_http_otp_redis_script(ngx_http_otp_store_op_t *op);

/*
 * Sends pending on the node, or queues it while the node connects, and
 * arms the operation's timeout: NGX_DECLINED when the node is down or the
 * command could not be queued (the caller answers UNAVAILABLE).
 */
ngx_int_t ngx_http_otp_redis_submit(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending);

/* the hash slot of the first key of pending's script */
ngx_uint_t ngx_http_otp_redis_slot(ngx_http_otp_redis_pending_t *pending);

/* held in a queue of the cluster's router, under op's timeout */
void ngx_http_otp_redis_hold(ngx_http_otp_redis_pending_t *pending,
    ngx_queue_t *queue, ngx_msec_t timeout);

/* op answered UNAVAILABLE through a posted event, never from start() */
void ngx_http_otp_redis_post_unavailable(ngx_http_otp_store_op_t *op);


#endif /* _NGX_HTTP_OTP_STORE_REDIS_H_INCLUDED_ */


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store's subscriber (see the header).  A connection
 * (ngx_http_otp_redis_conn.c) whose handshake, after AUTH, is SUBSCRIBE
 * otp:status: its confirmation makes it READY, and from then on every
 * published message id goes to the watcher.  Each (re)subscription calls
 * the watcher with no id: what was published while the subscriber was
 * away (Redis restarted, the connection lost) is lost for good, so a
 * waiter must look again at what it waits for.  The database number does
 * not matter: Redis's channels are global.
 *
 * hiredis 0.14 keeps the SUBSCRIBE callback for the channel and calls it
 * for the confirmation, for each message, and with a NULL reply when the
 * context is freed; a refused SUBSCRIBE (ACL, no AUTH) arrives as an
 * error with no callback waiting for it, and hiredis drops the connection
 * itself (async.c, redisProcessCallbacks(): "spontaneous reply"), which
 * the connection's disconnect callback logs and its backoff retries.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_redis_conn.h"
#include "ngx_http_otp_store_redis_sub.h"


/* the channel src/lua/status_set.lua publishes on */
#define NGX_HTTP_OTP_REDIS_CHANNEL  "otp:status"


struct ngx_http_otp_redis_sub_s {
    ngx_http_otp_redis_conn_t       rc;

    ngx_http_otp_store_watch_pt     handler;    /* NULL: not watched */
    void                           *data;
};


static ngx_int_t ngx_http_otp_redis_sub_handshake(
    ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sub_ready(ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sub_reply(redisAsyncContext *ac, void *r,
    void *privdata);


ngx_http_otp_redis_sub_t *
ngx_http_otp_redis_sub_create(ngx_pool_t *pool,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log)
{
    ngx_http_otp_redis_sub_t  *sub;

    sub = ngx_pcalloc(pool, sizeof(ngx_http_otp_redis_sub_t));
    if (sub == NULL) {
        return NULL;
    }

    ngx_http_otp_redis_conn_init(&sub->rc, scf, log, "subscriber");

    sub->rc.handshake_start = ngx_http_otp_redis_sub_handshake;
    sub->rc.ready = ngx_http_otp_redis_sub_ready;
    sub->rc.gone = NULL;
    sub->rc.data = sub;

    /* it only listens: without keepalive a silently dead peer is never
     * noticed, and the watchers would wait for nothing */
    sub->rc.keepalive = 1;

    return sub;
}


/*
 * The first watch() connects; after that the connection keeps itself up
 * (the backoff of ngx_http_otp_redis_conn.c) whether watched or not.  The
 * handler is never called from here: the first call comes with the
 * subscription's confirmation.
 */

ngx_int_t
ngx_http_otp_redis_sub_watch(ngx_http_otp_redis_sub_t *sub,
    ngx_http_otp_store_watch_pt handler, void *data)
{
    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, sub->rc.log, 0,
                   "otp redis subscriber: watch, state %d%s",
                   (int) sub->rc.state,
                   sub->rc.reconnect_timer.timer_set
                   ? ", reconnect pending" : "");

    sub->handler = handler;
    sub->data = data;

    if (sub->rc.state == NGX_HTTP_OTP_REDIS_DISCONNECTED
        && !sub->rc.reconnect_timer.timer_set
        && !sub->rc.exiting && !ngx_exiting && !ngx_terminate)
    {
        /*
         * Possibly from inside a reply callback of the store's own
         * connection (a watcher that starts from an operation's handler):
         * another context, which this one does not touch.
         */
        ngx_http_otp_redis_conn_connect(&sub->rc);
    }

    return NGX_OK;
}


void
ngx_http_otp_redis_sub_unwatch(ngx_http_otp_redis_sub_t *sub)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, sub->rc.log, 0,
                   "otp redis subscriber: unwatch");

    sub->handler = NULL;
    sub->data = NULL;
}


void
ngx_http_otp_redis_sub_exit(ngx_http_otp_redis_sub_t *sub)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, sub->rc.log, 0,
                   "otp redis subscriber: exit");

    sub->handler = NULL;

    ngx_http_otp_redis_conn_exit(&sub->rc);
}


ngx_http_otp_redis_conn_t *
ngx_http_otp_redis_sub_conn(ngx_http_otp_redis_sub_t *sub)
{
    return &sub->rc;
}


static ngx_int_t
ngx_http_otp_redis_sub_handshake(ngx_http_otp_redis_conn_t *rc)
{
    const char  *argv[2];
    size_t       argvlen[2];

    argv[0] = "SUBSCRIBE";
    argvlen[0] = sizeof("SUBSCRIBE") - 1;
    argv[1] = NGX_HTTP_OTP_REDIS_CHANNEL;
    argvlen[1] = sizeof(NGX_HTTP_OTP_REDIS_CHANNEL) - 1;

    return ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_sub_reply,
                                        rc->data, 2, argv, argvlen);
}


/* subscribed: whatever was announced before now, look again */

static void
ngx_http_otp_redis_sub_ready(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_sub_t  *sub;

    sub = rc->data;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis subscriber: subscribed%s",
                   sub->handler ? ", look again" : "");

    if (sub->handler) {
        sub->handler(NULL, sub->data);
    }
}


/*
 * ["subscribe", channel, count] once, then ["message", channel, id].  The
 * id is whatever was published on the channel: anyone with access to the
 * Redis may publish, so it is only ever a name to look up (the watchers
 * compare it with the ids they wait for), never trusted further.
 */

static void
ngx_http_otp_redis_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_otp_redis_sub_t   *sub = privdata;

    ngx_str_t                   id;
    redisReply                **e;
    ngx_http_otp_redis_conn_t  *rc;

    rc = &sub->rc;

    if (reply == NULL || rc->exiting
        || rc->state == NGX_HTTP_OTP_REDIS_CLOSING || rc->handshake_failed)
    {
        /* the connection is going; the cleanup hook follows */
        return;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || e[0]->type != REDIS_REPLY_STRING)
    {
        ngx_http_otp_redis_conn_refused(rc, "SUBSCRIBE", reply);
        return;
    }

    if (e[0]->len == sizeof("subscribe") - 1
        && ngx_strncmp(e[0]->str, "subscribe", e[0]->len) == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis subscriber: SUBSCRIBE confirmed in "
                       "state %d", (int) rc->state);

        if (rc->state == NGX_HTTP_OTP_REDIS_HANDSHAKE) {
            ngx_http_otp_redis_conn_step_done(rc);
        }

        return;
    }

    if (e[0]->len != sizeof("message") - 1
        || ngx_strncmp(e[0]->str, "message", e[0]->len) != 0
        || e[2]->type != REDIS_REPLY_STRING)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis subscriber: not a message, ignored");
        return;
    }

    id.data = (u_char *) e[2]->str;
    id.len = e[2]->len;

    /* its length only: published text is anyone's, not for the log */
    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis subscriber: message, id of %uz bytes%s",
                   id.len, sub->handler ? "" : ", not watched");

    if (rc->state != NGX_HTTP_OTP_REDIS_READY || sub->handler == NULL
        || id.len == 0 || id.len > NGX_HTTP_OTP_MESSAGE_ID_MAX)
    {
        return;
    }

    sub->handler(&id, sub->data);
}

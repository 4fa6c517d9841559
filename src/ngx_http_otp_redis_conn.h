
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * One hiredis asynchronous connection to the store's Redis, driven by
 * nginx's event loop: the connect, the adapter between hiredis's event
 * hooks and nginx's events, the connect timeout, the reconnect backoff, the
 * cleanup, and the handshake's common part (AUTH).  The Redis store keeps
 * two of them per worker, each with its own handshake: the one that runs
 * the scripts (ngx_http_otp_store_redis.c) and the subscriber to status
 * announcements (ngx_http_otp_store_redis_sub.c).
 *
 * States:
 *
 *   DISCONNECTED --connect()--> CONNECTING --connected--> HANDSHAKE
 *   HANDSHAKE --AUTH and the user's steps all answered--> READY
 *   any --lost, refused, connect timeout, close(), a handshake step that
 *         could not be queued, c->close, exit--> CLOSING
 *   CLOSING --cleanup hook--> DISCONNECTED (reconnect timer armed, unless
 *         the worker is exiting)
 *
 * hiredis calls the adapter's cleanup hook whenever it frees a context
 * (failed connect, lost connection, our own redisAsyncFree()), so that hook
 * is the one place that notes the connection gone (the user's gone()) and
 * arms the reconnect timer, with a backoff from 100 ms doubling to 2 s.
 * hiredis 0.14 has no timers: the connect timeout (which covers the
 * handshake too) and the backoff are nginx timers.
 *
 * On connect, AUTH goes first when the store has a password (with the ACL
 * user name when it has one: AUTH USER PASSWORD), then, behind Sentinel,
 * ROLE (a replica is never written: ngx_http_otp_redis_sentinel.c); then the
 * user's handshake() queues its own steps with ngx_http_otp_redis_conn_step()
 * (hiredis keeps the order of replies, so all are pipelined at once), and
 * its reply callbacks call ngx_http_otp_redis_conn_step_done() for each
 * answer they accept: the last one makes the connection READY and calls
 * the user's ready().  A refused
 * or unexpected answer: ngx_http_otp_redis_conn_close() (the reply callback
 * is the one place inside hiredis where that is allowed: hiredis defers
 * the free until it returns).
 *
 * Behind Sentinel the address is not known in advance: prepare() is asked
 * for it at every connect.  It may answer NGX_AGAIN (the sentinels are
 * being asked): the connection then stays CONNECTING with no context
 * ("awaiting"), operations queue as for a connect under way, and the
 * sentinel code calls connect() again once it knows the master; the
 * connect timeout still bounds the whole.  NGX_DECLINED: nobody can tell
 * the master now, the attempt fails at once (and the backoff retries).
 *
 * Worker exit (ngx_http_otp_store.h): c->close closes the connection from
 * its read handler, and nothing reconnects while ngx_exiting/ngx_terminate;
 * ngx_http_otp_redis_conn_exit() sets exiting (seen by the users'
 * callbacks: no handler runs from then on) and frees the context.
 */


#ifndef _NGX_HTTP_OTP_REDIS_CONN_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_otp_store.h"


typedef enum {
    NGX_HTTP_OTP_REDIS_DISCONNECTED = 0,
    NGX_HTTP_OTP_REDIS_CONNECTING,
    NGX_HTTP_OTP_REDIS_HANDSHAKE,
    NGX_HTTP_OTP_REDIS_READY,
    NGX_HTTP_OTP_REDIS_CLOSING
} ngx_http_otp_redis_state_e;


typedef struct ngx_http_otp_redis_conn_s  ngx_http_otp_redis_conn_t;

/* queues the user's handshake steps; NGX_ERROR fails the connection */
typedef ngx_int_t (*ngx_http_otp_redis_handshake_pt)(
    ngx_http_otp_redis_conn_t *rc);
/* READY, or the context is being freed (from the cleanup hook) */
typedef void (*ngx_http_otp_redis_event_pt)(ngx_http_otp_redis_conn_t *rc);
/* sets host and port: NGX_OK, NGX_AGAIN (wait), NGX_DECLINED (fail now) */
typedef ngx_int_t (*ngx_http_otp_redis_prepare_pt)(
    ngx_http_otp_redis_conn_t *rc);


struct ngx_http_otp_redis_conn_s {
    ngx_http_otp_store_conf_t      *scf;
    redisAsyncContext              *ac;
    ngx_connection_t               *conn;       /* wraps ac's socket */
    ngx_log_t                      *log;
    const char                     *role;       /* "store": in the log */

    ngx_event_t                     connect_timer;
    ngx_event_t                     reconnect_timer;
    ngx_event_t                     broken;     /* posted: close it */

    /*
     * What the timers' ev->data points to: nginx's debug log reads
     * ev->data as a connection and prints its fd, here -1.  Its data is
     * this connection.
     */
    ngx_connection_t                ident;

    ngx_http_otp_redis_state_e      state;
    ngx_uint_t                      handshake;  /* replies still awaited */
    ngx_msec_t                      backoff;

    int                             port;       /* 0: the unix socket */
    char                            host[NGX_SOCKADDR_STRLEN + 1];

    /* where and as whom: the store's, or a sentinel's */
    ngx_str_t                       url;        /* for the log */
    ngx_str_t                       username;   /* ACL user, or empty */
    ngx_str_t                       password;

    /* Sentinel (ngx_http_otp_redis_sentinel.c); NULL otherwise */
    ngx_http_otp_redis_prepare_pt   prepare;
    ngx_http_otp_redis_event_pt     demoted;    /* ROLE: not a master */
    void                           *sentinel;

    /* the user's */
    ngx_http_otp_redis_handshake_pt handshake_start;
    ngx_http_otp_redis_event_pt     ready;
    ngx_http_otp_redis_event_pt     gone;
    void                           *data;

    unsigned                        failing:1;  /* outage already logged */
    unsigned                        exiting:1;
    unsigned                        handshake_failed:1;
    unsigned                        keepalive:1;    /* TCP keepalive */
    unsigned                        awaiting:1;     /* prepare(): AGAIN */
    unsigned                        check_role:1;   /* ROLE in handshake */
};


void ngx_http_otp_redis_conn_init(ngx_http_otp_redis_conn_t *rc,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log, const char *role);
/* never from inside a hiredis callback of this connection */
void ngx_http_otp_redis_conn_connect(ngx_http_otp_redis_conn_t *rc);
void ngx_http_otp_redis_conn_close(ngx_http_otp_redis_conn_t *rc);
void ngx_http_otp_redis_conn_exit(ngx_http_otp_redis_conn_t *rc);

ngx_int_t ngx_http_otp_redis_conn_step(ngx_http_otp_redis_conn_t *rc,
    redisCallbackFn *fn, void *privdata, int argc, const char **argv,
    const size_t *argvlen);
/* an accepted answer; after the last one the connection is READY */
void ngx_http_otp_redis_conn_step_done(ngx_http_otp_redis_conn_t *rc);
/* a refused step: logged (Redis's text), then the connection closed */
void ngx_http_otp_redis_conn_refused(ngx_http_otp_redis_conn_t *rc,
    const char *step, redisReply *reply);

/*
 * What a Redis (or whatever answers at its address) said, for a log line:
 * untrusted text, so printable ASCII only (others as \xHH: no line can be
 * forged), at most NGX_HTTP_OTP_REDIS_TEXT_MAX bytes of it.  buf holds
 * 4 * NGX_HTTP_OTP_REDIS_TEXT_MAX bytes; returns the length written.
 */
#define NGX_HTTP_OTP_REDIS_TEXT_MAX  256

size_t ngx_http_otp_redis_text(u_char *buf, const char *text, size_t len);

/* NGX_LOG_ERR for the first failure of an outage, NGX_LOG_INFO after */
ngx_uint_t ngx_http_otp_redis_conn_failure_level(
    ngx_http_otp_redis_conn_t *rc);


#endif /* _NGX_HTTP_OTP_REDIS_CONN_H_INCLUDED_ */


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * One hiredis asynchronous connection on nginx's events (see the header).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_redis_conn.h"


#define NGX_HTTP_OTP_REDIS_BACKOFF_MIN      100
#define NGX_HTTP_OTP_REDIS_BACKOFF_MAX      2000


static void ngx_http_otp_redis_conn_schedule(ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_conn_reconnect_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_conn_timeout_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_conn_broken_handler(ngx_event_t *ev);

static void ngx_http_otp_redis_conn_add_read(void *data);
static void ngx_http_otp_redis_conn_del_read(void *data);
static void ngx_http_otp_redis_conn_add_write(void *data);
static void ngx_http_otp_redis_conn_del_write(void *data);
static void ngx_http_otp_redis_conn_cleanup(void *data);
static void ngx_http_otp_redis_conn_read_handler(ngx_event_t *rev);
static void ngx_http_otp_redis_conn_write_handler(ngx_event_t *wev);

static void ngx_http_otp_redis_conn_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_conn_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_otp_redis_conn_auth(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_conn_role(redisAsyncContext *ac, void *r,
    void *privdata);


void
ngx_http_otp_redis_conn_init(ngx_http_otp_redis_conn_t *rc,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log, const char *role)
{
    size_t  len;

    rc->scf = scf;
    rc->log = log;
    rc->role = role;
    rc->backoff = NGX_HTTP_OTP_REDIS_BACKOFF_MIN;
    rc->state = NGX_HTTP_OTP_REDIS_DISCONNECTED;

    rc->ident.fd = (ngx_socket_t) -1;
    rc->ident.data = rc;

    rc->connect_timer.handler = ngx_http_otp_redis_conn_timeout_handler;
    rc->connect_timer.data = &rc->ident;
    rc->connect_timer.log = log;
    rc->connect_timer.cancelable = 1;

    rc->reconnect_timer.handler = ngx_http_otp_redis_conn_reconnect_handler;
    rc->reconnect_timer.data = &rc->ident;
    rc->reconnect_timer.log = log;
    rc->reconnect_timer.cancelable = 1;

    rc->broken.handler = ngx_http_otp_redis_conn_broken_handler;
    rc->broken.data = &rc->ident;
    rc->broken.log = log;

    rc->url = scf->url;
    rc->username = scf->username;
    rc->password = scf->password;

    if (scf->addr) {
        /* a numeric address: hiredis resolves nothing */
        len = ngx_sock_ntop(scf->addr->sockaddr, scf->addr->socklen,
                            (u_char *) rc->host, NGX_SOCKADDR_STRLEN, 0);
        rc->host[len] = '\0';
        rc->port = ngx_inet_get_port(scf->addr->sockaddr);
    }
}


/*
 * Starts a connection attempt: from init_process, the reconnect timer, or
 * a user outside this connection's hiredis callbacks.
 */

void
ngx_http_otp_redis_conn_connect(ngx_http_otp_redis_conn_t *rc)
{
    ngx_int_t                   rv;
    ngx_uint_t                  level;
    ngx_connection_t           *c;
    redisAsyncContext          *ac;
    ngx_http_otp_store_conf_t  *scf;

    scf = rc->scf;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: connect", rc->role);

    if (rc->exiting || ngx_exiting || ngx_terminate) {
        return;
    }

    if (rc->prepare) {
        rv = rc->prepare(rc);

        if (rv == NGX_AGAIN) {
            /* the sentinel code calls connect() again, or the timer ends it */
            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                           "otp redis %s: awaiting the master's address",
                           rc->role);

            rc->state = NGX_HTTP_OTP_REDIS_CONNECTING;
            rc->awaiting = 1;

            if (!rc->connect_timer.timer_set) {
                ngx_add_timer(&rc->connect_timer, scf->connect_timeout);
            }

            return;
        }

        rc->awaiting = 0;

        if (rv != NGX_OK) {
            goto failed;
        }
    }

    if (rc->port) {
        ac = redisAsyncConnect(rc->host, rc->port);

    } else {
        ac = redisAsyncConnectUnix((char *) scf->unix_path.data);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rc->log, 0,
                      "otp redis %s: could not allocate a context",
                      rc->role);
        goto failed;
    }

    if (ac->err) {
        level = ngx_http_otp_redis_conn_failure_level(rc);

        ngx_log_error(level, rc->log, 0,
                      "otp redis %s: connect to \"%V\" failed: %s",
                      rc->role, &rc->url, ac->errstr);
        redisAsyncFree(ac);
        goto failed;
    }

    if (rc->keepalive && rc->port) {
        /*
         * A connection that only listens never learns that a peer
         * vanished without a FIN or RST (the store's connection does, by
         * its operations' timeouts).  A setsockopt() only: nothing blocks.
         */
        (void) redisEnableKeepAlive(&ac->c);
    }

    c = ngx_get_connection(ac->c.fd, rc->log);

    if (c == NULL) {
        redisAsyncFree(ac);
        goto failed;
    }

    c->data = rc;
    c->read->handler = ngx_http_otp_redis_conn_read_handler;
    c->write->handler = ngx_http_otp_redis_conn_write_handler;
    c->read->log = rc->log;
    c->write->log = rc->log;

    rc->ac = ac;
    rc->conn = c;
    rc->state = NGX_HTTP_OTP_REDIS_CONNECTING;
    rc->handshake_failed = 0;

    ac->data = rc;
    ac->ev.data = rc;
    ac->ev.addRead = ngx_http_otp_redis_conn_add_read;
    ac->ev.delRead = ngx_http_otp_redis_conn_del_read;
    ac->ev.addWrite = ngx_http_otp_redis_conn_add_write;
    ac->ev.delWrite = ngx_http_otp_redis_conn_del_write;
    ac->ev.cleanup = ngx_http_otp_redis_conn_cleanup;

    /* after the hooks: this asks for a write event to see the connect end */
    redisAsyncSetConnectCallback(ac, ngx_http_otp_redis_conn_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_otp_redis_conn_disconnected);

    if (!rc->connect_timer.timer_set) {
        ngx_add_timer(&rc->connect_timer, scf->connect_timeout);
    }

    return;

failed:

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    /*
     * Behind Sentinel, operations may have queued while the address was
     * awaited, and the sentinel code counts a sentinel refused at once
     * (as a loopback connect() is) as it counts any other: gone() as the
     * cleanup hook would call it.  Otherwise as before, no gone(): a
     * cluster's router may be the caller, amid its own bookkeeping.
     */

    if (rc->prepare && rc->gone) {
        rc->gone(rc);
    }

    ngx_http_otp_redis_conn_schedule(rc);
}


/*
 * Drops the connection now: pending callbacks run with a NULL reply, then
 * the cleanup hook notes the loss.  Not for use inside a hiredis callback
 * except for a reply callback, where hiredis defers the free.
 */

void
ngx_http_otp_redis_conn_close(ngx_http_otp_redis_conn_t *rc)
{
    if (rc->ac == NULL || rc->state == NGX_HTTP_OTP_REDIS_CLOSING) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: close", rc->role);

    rc->state = NGX_HTTP_OTP_REDIS_CLOSING;

    redisAsyncFree(rc->ac);
}


void
ngx_http_otp_redis_conn_exit(ngx_http_otp_redis_conn_t *rc)
{
    rc->exiting = 1;

    if (rc->reconnect_timer.timer_set) {
        ngx_del_timer(&rc->reconnect_timer);
    }

    if (rc->broken.posted) {
        ngx_delete_posted_event(&rc->broken);
    }

    /* the cleanup hook frees the connection slot before hiredis closes */
    ngx_http_otp_redis_conn_close(rc);
    rc->awaiting = 0;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }
}


/* capped exponential backoff with jitter, so workers do not move in step */

static void
ngx_http_otp_redis_conn_schedule(ngx_http_otp_redis_conn_t *rc)
{
    ngx_msec_t  delay;

    rc->state = NGX_HTTP_OTP_REDIS_DISCONNECTED;

    if (rc->exiting || ngx_exiting || ngx_terminate
        || rc->reconnect_timer.timer_set)
    {
        return;
    }

    delay = rc->backoff / 2
            + (ngx_msec_t) ngx_random() % (rc->backoff / 2 + 1);

    rc->backoff = ngx_min(rc->backoff * 2, NGX_HTTP_OTP_REDIS_BACKOFF_MAX);

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: reconnect in %M ms", rc->role, delay);

    ngx_add_timer(&rc->reconnect_timer, delay);
}


/*
 * An outage is logged once at the error level; the retries that follow,
 * every two seconds at most, only at the info level.  Call it once into a
 * variable: ngx_log_error() evaluates its level argument twice.
 */

ngx_uint_t
ngx_http_otp_redis_conn_failure_level(ngx_http_otp_redis_conn_t *rc)
{
    if (rc->failing) {
        return NGX_LOG_INFO;
    }

    rc->failing = 1;

    return NGX_LOG_ERR;
}


static void
ngx_http_otp_redis_conn_reconnect_handler(ngx_event_t *ev)
{
    ngx_connection_t  *ident;

    ident = ev->data;

    ngx_http_otp_redis_conn_connect(ident->data);
}


static void
ngx_http_otp_redis_conn_timeout_handler(ngx_event_t *ev)
{
    ngx_uint_t                  level;
    ngx_connection_t           *ident;
    ngx_http_otp_redis_conn_t  *rc;

    ident = ev->data;
    rc = ident->data;

    level = ngx_http_otp_redis_conn_failure_level(rc);

    ngx_log_error(level, rc->log, 0,
                  "otp redis %s: %s \"%V\" timed out", rc->role,
                  rc->awaiting ? "waiting for the master of"
                  : rc->state == NGX_HTTP_OTP_REDIS_CONNECTING
                  ? "connect to" : "handshake with",
                  &rc->url);

    if (rc->awaiting) {
        /* no context yet: what the cleanup hook would do */
        rc->awaiting = 0;

        if (rc->gone) {
            rc->gone(rc);
        }

        ngx_http_otp_redis_conn_schedule(rc);
        return;
    }

    ngx_http_otp_redis_conn_close(rc);
}


/*
 * The adapter.  hiredis calls these hooks again and again (addRead after
 * every read, addWrite after every command), so they test ev->active.  The
 * socket is registered level-triggered (flags 0): hiredis reads at most
 * 16 KiB per call, and a level event fires again for what it left.
 */

static void
ngx_http_otp_redis_conn_add_read(void *data)
{
    ngx_http_otp_redis_conn_t *rc = data;

    ngx_event_t  *rev;

    rev = rc->conn->read;

    if (!rev->active) {
        (void) ngx_add_event(rev, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_conn_del_read(void *data)
{
    ngx_http_otp_redis_conn_t *rc = data;

    ngx_event_t  *rev;

    rev = rc->conn->read;

    if (rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_conn_add_write(void *data)
{
    ngx_http_otp_redis_conn_t *rc = data;

    ngx_event_t  *wev;

    wev = rc->conn->write;

    if (!wev->active) {
        (void) ngx_add_event(wev, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_http_otp_redis_conn_del_write(void *data)
{
    ngx_http_otp_redis_conn_t *rc = data;

    ngx_event_t  *wev;

    wev = rc->conn->write;

    if (wev->active) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }
}


/*
 * Called by hiredis whenever it frees the context, before it closes the
 * socket.  So: deregister with flags 0 (the fd is still open), give the
 * slot back without closing it, and mark it closed (fd -1) so that nginx
 * neither reports "open socket left" at exit nor delivers a stale event.
 * hiredis closes the fd itself right after.
 */

static void
ngx_http_otp_redis_conn_cleanup(void *data)
{
    ngx_http_otp_redis_conn_t *rc = data;

    ngx_connection_t  *c;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: context freed", rc->role);

    c = rc->conn;

    if (c) {
        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
    }

    rc->conn = NULL;
    rc->ac = NULL;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    if (rc->gone) {
        rc->gone(rc);
    }

    /* a timer, never a connect from inside hiredis */
    ngx_http_otp_redis_conn_schedule(rc);
}


/* nothing may touch the context once redisAsyncHandle*() returned */

static void
ngx_http_otp_redis_conn_read_handler(ngx_event_t *rev)
{
    ngx_connection_t           *c;
    ngx_http_otp_redis_conn_t  *rc;

    c = rev->data;
    rc = c->data;

    /*
     * worker_shutdown_timeout: nginx sets c->close and calls this handler.
     * The connection goes now, whatever is pending fails from here, and no
     * reconnect follows (the worker is exiting): an operation waiting on a
     * Redis that never answers must not hold the worker past the timeout.
     */

    if (c->close) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rev->log, 0,
                       "otp redis %s: closed by the worker's shutdown",
                       rc->role);
        ngx_http_otp_redis_conn_close(rc);
        return;
    }

    if (rc->ac) {
        redisAsyncHandleRead(rc->ac);
    }
}


static void
ngx_http_otp_redis_conn_write_handler(ngx_event_t *wev)
{
    ngx_connection_t           *c;
    ngx_http_otp_redis_conn_t  *rc;

    c = wev->data;
    rc = c->data;

    if (rc->ac) {
        redisAsyncHandleWrite(rc->ac);
    }
}


/*
 * The connect callback.  hiredis runs it outside its "in callback" guard,
 * so the context must not be freed here: on failure hiredis frees it
 * itself (and calls the cleanup hook), and if the handshake cannot even be
 * queued the connect timer ends the attempt.
 */

static void
ngx_http_otp_redis_conn_connected(const redisAsyncContext *ac, int status)
{
    int                         argc;
    ngx_uint_t                  level;
    const char                 *argv[3];
    size_t                      argvlen[3];
    ngx_http_otp_redis_conn_t  *rc;

    rc = ac->data;

    if (status != REDIS_OK) {
        level = ngx_http_otp_redis_conn_failure_level(rc);

        ngx_log_error(level, rc->log, 0,
                      "otp redis %s: connect to \"%V\" failed: %s",
                      rc->role, &rc->url, ac->errstr);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: connected, handshake", rc->role);

    rc->state = NGX_HTTP_OTP_REDIS_HANDSHAKE;
    rc->handshake = 0;

    if (rc->password.len) {
        /* AUTH USER PASSWORD: an ACL user (Redis 6); else the default */
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rc->username.len) {
            argv[argc] = (const char *) rc->username.data;
            argvlen[argc++] = rc->username.len;
        }

        argv[argc] = (const char *) rc->password.data;
        argvlen[argc++] = rc->password.len;

        if (ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_conn_auth,
                                         NULL, argc, argv, argvlen)
            != NGX_OK)
        {
            goto failed;
        }
    }

    if (rc->check_role) {
        /*
         * Behind Sentinel the address may be a master's of a moment ago,
         * demoted since: ROLE, and only once it says "master" the user's
         * handshake (ngx_http_otp_redis_conn_role()), so that a replica
         * gets nothing but AUTH and ROLE.  ROLE needs no key access (ACL:
         * +role).
         */
        argv[0] = "ROLE";
        argvlen[0] = 4;

        if (ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_conn_role,
                                         NULL, 1, argv, argvlen)
            == NGX_OK)
        {
            return;
        }

        goto failed;
    }

    if (rc->handshake_start(rc) == NGX_OK) {
        return;
    }

failed:

    /*
     * A step that could not be queued would leave a connection that
     * answers the steps before it and then looks ready without the rest:
     * the handshake fails as a whole.  The context must not be freed
     * inside this callback, so the close runs from a posted event, before
     * any reply can be read; the replies already queued are ignored
     * meanwhile.
     */

    rc->handshake_failed = 1;
    ngx_post_event(&rc->broken, &ngx_posted_events);
}


static void
ngx_http_otp_redis_conn_broken_handler(ngx_event_t *ev)
{
    ngx_connection_t           *ident;
    ngx_http_otp_redis_conn_t  *rc;

    ident = ev->data;
    rc = ident->data;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: closing after a failed handshake",
                   rc->role);

    if (rc->handshake_failed) {
        rc->failing = 1;
        ngx_http_otp_redis_conn_close(rc);
    }
}


ngx_int_t
ngx_http_otp_redis_conn_step(ngx_http_otp_redis_conn_t *rc,
    redisCallbackFn *fn, void *privdata, int argc, const char **argv,
    const size_t *argvlen)
{
    if (redisAsyncCommandArgv(rc->ac, fn, privdata, argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, rc->log, 0,
                      "otp redis %s: could not queue the handshake with "
                      "\"%V\", closing the connection", rc->role,
                      &rc->url);
        return NGX_ERROR;
    }

    rc->handshake++;

    return NGX_OK;
}


void
ngx_http_otp_redis_conn_step_done(ngx_http_otp_redis_conn_t *rc)
{
    if (--rc->handshake > 0) {
        return;
    }

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    if (rc->failing) {
        ngx_log_error(NGX_LOG_NOTICE, rc->log, 0,
                      "otp redis %s: connected to \"%V\" again",
                      rc->role, &rc->url);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: ready", rc->role);

    rc->state = NGX_HTTP_OTP_REDIS_READY;
    rc->failing = 0;
    rc->backoff = NGX_HTTP_OTP_REDIS_BACKOFF_MIN;

    rc->ready(rc);
}


/*
 * Any refusal drops the connection and retries later: a wrong password or
 * database must not leave a half-configured connection in use.  Redis's
 * error text never repeats the password.
 */

size_t
ngx_http_otp_redis_text(u_char *buf, const char *text, size_t len)
{
    u_char  *p, c;
    size_t   i;

    p = buf;

    for (i = 0; i < len && i < NGX_HTTP_OTP_REDIS_TEXT_MAX; i++) {
        c = (u_char) text[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *p++ = c;
            continue;
        }

        p = ngx_sprintf(p, "\\x%02xd", (int) c);
    }

    return p - buf;
}


void
ngx_http_otp_redis_conn_refused(ngx_http_otp_redis_conn_t *rc,
    const char *step, redisReply *reply)
{
    size_t      n;
    ngx_uint_t  level;
    u_char      text[4 * NGX_HTTP_OTP_REDIS_TEXT_MAX];

    if (reply->type == REDIS_REPLY_ERROR) {
        level = ngx_http_otp_redis_conn_failure_level(rc);
        n = ngx_http_otp_redis_text(text, reply->str, reply->len);

        ngx_log_error(level, rc->log, 0,
                      "otp redis %s: \"%V\" refused %s: %*s", rc->role,
                      &rc->url, step, n, text);

    } else {
        ngx_log_error(NGX_LOG_ALERT, rc->log, 0,
                      "otp redis %s: unexpected reply to %s from \"%V\"",
                      rc->role, step, &rc->url);
    }

    /* deferred by hiredis until the reply callback returns */
    ngx_http_otp_redis_conn_close(rc);
}


static void
ngx_http_otp_redis_conn_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_uint_t                  level;
    ngx_http_otp_redis_conn_t  *rc;

    rc = ac->data;

    if (status == REDIS_OK || rc->exiting) {
        /* our own close, after a reason was logged */
        return;
    }

    level = ngx_http_otp_redis_conn_failure_level(rc);

    ngx_log_error(level, rc->log, 0,
                  "otp redis %s: connection to \"%V\" lost: %s",
                  rc->role, &rc->url, ac->errstr);
}


static void
ngx_http_otp_redis_conn_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;

    ngx_http_otp_redis_conn_t  *rc;

    rc = ac->data;

    if (reply == NULL || rc->state != NGX_HTTP_OTP_REDIS_HANDSHAKE
        || rc->handshake_failed)
    {
        /* the connection is going; the cleanup hook follows */
        return;
    }

    if (reply->type != REDIS_REPLY_STATUS) {
        ngx_http_otp_redis_conn_refused(rc, "AUTH", reply);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis %s: AUTH accepted", rc->role);

    ngx_http_otp_redis_conn_step_done(rc);
}


/*
 * ROLE's answer: an array whose first element is "master", "slave" or
 * "sentinel".  Anything but a master: the connection is refused, and the
 * sentinel code asks the sentinels again (demoted()).
 */

static void
ngx_http_otp_redis_conn_role(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;

    redisReply                 *e;
    ngx_http_otp_redis_conn_t  *rc;

    rc = ac->data;

    if (reply == NULL || rc->state != NGX_HTTP_OTP_REDIS_HANDSHAKE
        || rc->handshake_failed)
    {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        ngx_http_otp_redis_conn_refused(rc, "ROLE", reply);
        return;
    }

    e = reply->element[0];

    if (e->type == REDIS_REPLY_STRING && e->len == sizeof("master") - 1
        && ngx_strncmp(e->str, "master", e->len) == 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis %s: ROLE master", rc->role);

        /*
         * The user's steps before this one is counted done, or the
         * connection would look ready without them.  Queued from a reply
         * callback, where hiredis allows new commands.
         */

        if (rc->handshake_start(rc) != NGX_OK) {
            rc->failing = 1;
            ngx_http_otp_redis_conn_close(rc);
            return;
        }

        ngx_http_otp_redis_conn_step_done(rc);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                  "otp redis %s: \"%V\" at %s:%d is not a master, "
                  "asking the sentinels again", rc->role, &rc->url,
                  rc->host, rc->port);

    rc->failing = 1;

    /* deferred by hiredis until this callback returns */
    ngx_http_otp_redis_conn_close(rc);

    if (rc->demoted) {
        rc->demoted(rc);
    }
}

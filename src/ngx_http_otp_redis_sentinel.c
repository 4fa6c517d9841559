
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store behind Redis Sentinel (see the header).  What a sentinel
 * says is read by the pure core (ngx_otp_sentinel.c: numeric addresses
 * only, fuzzed): this file only moves it between connections.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_redis_sentinel.h"


#define NGX_HTTP_OTP_SENTINEL_PORT      26379
#define NGX_HTTP_OTP_SENTINEL_MAX       16
#define NGX_HTTP_OTP_SENTINEL_CONNS     2       /* store, subscriber */

#define NGX_HTTP_OTP_SENTINEL_CHANNEL   "+switch-master"


typedef struct {
    ngx_addr_t                     *addr;
    ngx_str_t                       name;       /* "HOST:PORT", the log's */
} ngx_http_otp_redis_sentinel_addr_t;


typedef struct {
    ngx_array_t                     sentinels;  /* of _sentinel_addr_t */
    ngx_str_t                       name;       /* the master's */
    ngx_str_t                       username;
    ngx_str_t                       password;
} ngx_http_otp_redis_sentinel_conf_t;


struct ngx_http_otp_redis_sentinel_s {
    ngx_http_otp_redis_conn_t       rc;         /* to one sentinel */
    ngx_http_otp_redis_sentinel_conf_t  *conf;

    ngx_uint_t                      current;    /* the sentinel asked */
    ngx_uint_t                      failures;   /* sentinels, in a row */

    ngx_http_otp_redis_conn_t      *conns[NGX_HTTP_OTP_SENTINEL_CONNS];
    ngx_uint_t                      nconns;

    ngx_otp_sentinel_addr_t         master;
    ngx_str_t                       master_url; /* for the log */
    u_char                          master_buf[sizeof("redis://[]:65535")
                                               + NGX_OTP_SENTINEL_IP_MAX];

    unsigned                        known:1;
    unsigned                        ask_again:1;    /* closed on purpose */
};


static ngx_int_t ngx_http_otp_redis_sentinel_prepare_self(
    ngx_http_otp_redis_conn_t *rc);
static ngx_int_t ngx_http_otp_redis_sentinel_handshake(
    ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sentinel_ready(ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sentinel_gone(ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sentinel_addr_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_otp_redis_sentinel_sub_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_otp_redis_sentinel_set(ngx_http_otp_redis_sentinel_t *s,
    ngx_otp_sentinel_addr_t *addr, const char *why);
static void ngx_http_otp_redis_sentinel_wake(
    ngx_http_otp_redis_sentinel_t *s);

static ngx_int_t ngx_http_otp_redis_sentinel_prepare(
    ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_sentinel_demoted(
    ngx_http_otp_redis_conn_t *rc);


/*
 * "HOST:PORT[,HOST:PORT...]/NAME[/DB]" after "redis-sentinel://".  Every
 * sentinel is resolved here, in the master process, like the redis://
 * form's host: hiredis 0.14 would resolve a name with a blocking
 * getaddrinfo() in the worker.
 */

char *
ngx_http_otp_redis_sentinel_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *url, ngx_uint_t *db,
    ngx_uint_t *db_set)
{
    u_char                              *p, *last, *slash, *comma;
    ngx_int_t                            n;
    ngx_url_t                            u;
    ngx_http_otp_redis_sentinel_addr_t  *sa;
    ngx_http_otp_redis_sentinel_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_redis_sentinel_conf_t));
    if (conf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&conf->sentinels, cf->pool, 3,
                       sizeof(ngx_http_otp_redis_sentinel_addr_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = url->data + sizeof("redis-sentinel://") - 1;
    last = url->data + url->len;

    if (ngx_strlchr(p, last, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credentials in \"%V\" are not supported: use "
                           "password_file= and sentinel_password_file=",
                           url);
        return NGX_CONF_ERROR;
    }

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL || slash == p) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": expected "
                           "\"redis-sentinel://HOST:PORT[,HOST:PORT...]/"
                           "MASTER-NAME[/DB]\"", url);
        return NGX_CONF_ERROR;
    }

    while (p < slash) {
        comma = ngx_strlchr(p, slash, ',');

        if (comma == NULL) {
            comma = slash;
        }

        if (conf->sentinels.nelts == NGX_HTTP_OTP_SENTINEL_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "more than %d sentinels in \"%V\"",
                               NGX_HTTP_OTP_SENTINEL_MAX, url);
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = NGX_HTTP_OTP_SENTINEL_PORT;
        u.no_resolve = 0;

        if (u.url.len == 0 || ngx_parse_url(cf->pool, &u) != NGX_OK
            || u.naddrs == 0 || u.family == AF_UNIX)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel \"%*s\" in \"%V\"%s%s",
                               comma - p, p, url, u.err ? ": " : "",
                               u.err ? u.err : "");
            return NGX_CONF_ERROR;
        }

        if (u.naddrs > 1) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "sentinel \"%V\" resolves to %ui addresses, "
                               "using %V", &u.url, u.naddrs,
                               &u.addrs[0].name);
        }

        sa = ngx_array_push(&conf->sentinels);
        if (sa == NULL) {
            return NGX_CONF_ERROR;
        }

        sa->addr = &u.addrs[0];
        sa->name = u.addrs[0].name;

        p = (comma == slash) ? slash : comma + 1;

        if (p == slash && comma != slash) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "an empty sentinel in \"%V\"", url);
            return NGX_CONF_ERROR;
        }
    }

    /* NAME[/DB] */

    p = slash + 1;
    slash = ngx_strlchr(p, last, '/');

    conf->name.data = p;
    conf->name.len = (slash ? slash : last) - p;

    if (!ngx_otp_sentinel_name_valid(conf->name.data, conf->name.len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid master name in \"%V\": 1 to %d of "
                           "letters, digits, \".\", \"_\" and \"-\"", url,
                           NGX_OTP_SENTINEL_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    if (slash) {
        n = ngx_atoi(slash + 1, last - slash - 1);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid database number in \"%V\"", url);
            return NGX_CONF_ERROR;
        }

        *db = n;
        *db_set = 1;
    }

    scf->sentinel = conf;
    scf->addr = NULL;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_redis_sentinel_option(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *arg)
{
    ngx_str_t                            s;
    ngx_http_otp_redis_sentinel_conf_t  *conf;

    conf = scf->sentinel;

    if (ngx_strncmp(arg->data, "sentinel_username=", 18) == 0) {
        if (conf == NULL || conf->username.data || arg->len == 18) {
            return NGX_ERROR;
        }

        conf->username.data = arg->data + 18;
        conf->username.len = arg->len - 18;

        return NGX_OK;
    }

    if (ngx_strncmp(arg->data, "sentinel_password_file=", 23) == 0) {
        if (conf == NULL || conf->password.data || arg->len == 23) {
            return NGX_ERROR;
        }

        s.data = arg->data + 23;
        s.len = arg->len - 23;

        if (ngx_http_otp_read_file(cf, &s, 1, &conf->password)
            != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


char *
ngx_http_otp_redis_sentinel_check(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_redis_sentinel_conf_t  *conf;

    conf = scf->sentinel;

    if (conf && conf->username.len && conf->password.len == 0) {
        /* an ACL user without its password would be silently dropped */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sentinel_username=\" needs "
                           "\"sentinel_password_file=\" in \"otp_store\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_http_otp_redis_sentinel_t *
ngx_http_otp_redis_sentinel_create(ngx_pool_t *pool,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log)
{
    ngx_http_otp_redis_sentinel_t       *s;
    ngx_http_otp_redis_sentinel_conf_t  *conf;

    conf = scf->sentinel;

    s = ngx_pcalloc(pool, sizeof(ngx_http_otp_redis_sentinel_t));
    if (s == NULL) {
        return NULL;
    }

    s->conf = conf;

    /* the first attempt advances to the first sentinel */
    s->current = conf->sentinels.nelts - 1;

    ngx_http_otp_redis_conn_init(&s->rc, scf, log, "sentinel");

    s->rc.username = conf->username;
    s->rc.password = conf->password;
    s->rc.prepare = ngx_http_otp_redis_sentinel_prepare_self;
    s->rc.handshake_start = ngx_http_otp_redis_sentinel_handshake;
    s->rc.ready = ngx_http_otp_redis_sentinel_ready;
    s->rc.gone = ngx_http_otp_redis_sentinel_gone;
    s->rc.data = s;

    /* it only listens, like the subscriber */
    s->rc.keepalive = 1;

    s->master_url.data = s->master_buf;
    s->master_url.len = 0;

    return s;
}


void
ngx_http_otp_redis_sentinel_attach(ngx_http_otp_redis_sentinel_t *s,
    ngx_http_otp_redis_conn_t *rc)
{
    if (s->nconns == NGX_HTTP_OTP_SENTINEL_CONNS) {
        return;
    }

    s->conns[s->nconns++] = rc;

    rc->sentinel = s;
    rc->prepare = ngx_http_otp_redis_sentinel_prepare;
    rc->demoted = ngx_http_otp_redis_sentinel_demoted;
    rc->check_role = 1;
    rc->port = 0;
    rc->url.data = s->master_url.data;
    rc->url.len = 0;
}


void
ngx_http_otp_redis_sentinel_start(ngx_http_otp_redis_sentinel_t *s)
{
    ngx_http_otp_redis_conn_connect(&s->rc);
}


void
ngx_http_otp_redis_sentinel_exit(ngx_http_otp_redis_sentinel_t *s)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, s->rc.log, 0,
                   "otp redis sentinel: exit");

    s->nconns = 0;

    ngx_http_otp_redis_conn_exit(&s->rc);
}


/* the sentinel connection's address: the next sentinel after a failure */

static ngx_int_t
ngx_http_otp_redis_sentinel_prepare_self(ngx_http_otp_redis_conn_t *rc)
{
    size_t                               len;
    ngx_http_otp_redis_sentinel_t       *s;
    ngx_http_otp_redis_sentinel_addr_t  *sa;

    s = rc->data;

    s->current = (s->current + 1) % s->conf->sentinels.nelts;
    sa = (ngx_http_otp_redis_sentinel_addr_t *) s->conf->sentinels.elts
         + s->current;

    len = ngx_sock_ntop(sa->addr->sockaddr, sa->addr->socklen,
                        (u_char *) rc->host, NGX_SOCKADDR_STRLEN, 0);
    rc->host[len] = '\0';
    rc->port = ngx_inet_get_port(sa->addr->sockaddr);
    rc->url = sa->name;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis sentinel: asking sentinel %ui, \"%V\"",
                   s->current, &rc->url);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_redis_sentinel_handshake(ngx_http_otp_redis_conn_t *rc)
{
    const char                     *argv[3];
    size_t                          argvlen[3];
    ngx_http_otp_redis_sentinel_t  *s;

    s = rc->data;

    argv[0] = "SENTINEL";
    argvlen[0] = sizeof("SENTINEL") - 1;
    argv[1] = "get-master-addr-by-name";
    argvlen[1] = sizeof("get-master-addr-by-name") - 1;
    argv[2] = (const char *) s->conf->name.data;
    argvlen[2] = s->conf->name.len;

    if (ngx_http_otp_redis_conn_step(rc,
                                     ngx_http_otp_redis_sentinel_addr_reply,
                                     s, 3, argv, argvlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * Pipelined after it: hiredis answers the regular callbacks still
     * waiting before it treats replies as the subscription's (async.c,
     * redisProcessCallbacks()), so the address comes first.
     */

    argv[0] = "SUBSCRIBE";
    argvlen[0] = sizeof("SUBSCRIBE") - 1;
    argv[1] = NGX_HTTP_OTP_SENTINEL_CHANNEL;
    argvlen[1] = sizeof(NGX_HTTP_OTP_SENTINEL_CHANNEL) - 1;

    return ngx_http_otp_redis_conn_step(rc,
                                        ngx_http_otp_redis_sentinel_sub_reply,
                                        s, 2, argv, argvlen);
}


static void
ngx_http_otp_redis_sentinel_ready(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_sentinel_t  *s;

    s = rc->data;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis sentinel: \"%V\" answered and listens",
                   &rc->url);

    s->failures = 0;
}


/*
 * The connection to a sentinel is lost or could not be made: the next
 * attempt asks the next sentinel.  Once all failed in a row with no
 * master known, the attached connections stop waiting and fail.
 */

static void
ngx_http_otp_redis_sentinel_gone(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_sentinel_t  *s;

    s = rc->data;

    if (rc->exiting) {
        return;
    }

    if (s->ask_again) {
        /* closed to ask again (demoted()): not a sentinel's failure */
        s->ask_again = 0;

    } else if (rc->state != NGX_HTTP_OTP_REDIS_READY) {
        s->failures++;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis sentinel: \"%V\" gone, %ui in a row",
                   &rc->url, s->failures);

    if (!s->known && s->failures >= s->conf->sentinels.nelts) {
        if (s->failures == s->conf->sentinels.nelts) {
            ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                          "otp redis sentinel: no sentinel could tell the "
                          "master \"%V\", the store is unavailable",
                          &s->conf->name);
        }

        ngx_http_otp_redis_sentinel_wake(s);
    }
}


/* ["IP", "PORT"], or nil for a master the sentinel does not know */

static void
ngx_http_otp_redis_sentinel_addr_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                     *reply = r;
    ngx_http_otp_redis_sentinel_t  *s = privdata;

    redisReply                    **e;
    ngx_uint_t                      level;
    ngx_otp_sentinel_addr_t         addr;
    ngx_http_otp_redis_conn_t      *rc;

    rc = &s->rc;

    if (reply == NULL || rc->state != NGX_HTTP_OTP_REDIS_HANDSHAKE
        || rc->handshake_failed || rc->exiting)
    {
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        /* ngx_log_error() is a macro that reads its level twice: once */
        level = ngx_http_otp_redis_conn_failure_level(rc);

        ngx_log_error(level, rc->log, 0,
                      "otp redis sentinel: \"%V\" does not know the "
                      "master \"%V\"", &rc->url, &s->conf->name);
        ngx_http_otp_redis_conn_close(rc);
        return;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || e[0]->type != REDIS_REPLY_STRING
        || e[1]->type != REDIS_REPLY_STRING)
    {
        ngx_http_otp_redis_conn_refused(rc, "SENTINEL get-master-addr-by-name",
                                        reply);
        return;
    }

    if (ngx_otp_sentinel_addr((u_char *) e[0]->str, e[0]->len,
                              (u_char *) e[1]->str, e[1]->len, &addr)
        != NGX_OTP_OK)
    {
        /* the sentinel's text is not repeated: it is not trusted */
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "otp redis sentinel: \"%V\" gave the master \"%V\" "
                      "an address that is not a numeric IP and port "
                      "(sentinel resolve-hostnames?)", &rc->url,
                      &s->conf->name);
        ngx_http_otp_redis_conn_close(rc);
        return;
    }

    ngx_http_otp_redis_sentinel_set(s, &addr, "told by");

    ngx_http_otp_redis_conn_step_done(rc);
}


/*
 * ["subscribe", channel, count], then ["message", channel, text] for each
 * failover any master of this sentinel went through.
 */

static void
ngx_http_otp_redis_sentinel_sub_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                     *reply = r;
    ngx_http_otp_redis_sentinel_t  *s = privdata;

    int                             rv;
    redisReply                    **e;
    ngx_otp_sentinel_addr_t         addr;
    ngx_http_otp_redis_conn_t      *rc;

    rc = &s->rc;

    if (reply == NULL || rc->exiting
        || rc->state == NGX_HTTP_OTP_REDIS_CLOSING || rc->handshake_failed)
    {
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
        if (rc->state == NGX_HTTP_OTP_REDIS_HANDSHAKE) {
            ngx_http_otp_redis_conn_step_done(rc);
        }

        return;
    }

    if (e[0]->len != sizeof("message") - 1
        || ngx_strncmp(e[0]->str, "message", e[0]->len) != 0
        || e[2]->type != REDIS_REPLY_STRING
        || rc->state != NGX_HTTP_OTP_REDIS_READY)
    {
        return;
    }

    rv = ngx_otp_sentinel_switch((u_char *) e[2]->str, e[2]->len,
                                 s->conf->name.data, s->conf->name.len,
                                 &addr);

    if (rv == NGX_OTP_EDUP) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis sentinel: +switch-master of another "
                       "master");
        return;
    }

    if (rv != NGX_OTP_OK) {
        ngx_log_error(NGX_LOG_WARN, rc->log, 0,
                      "otp redis sentinel: \"%V\" sent a malformed "
                      "+switch-master message, ignored", &rc->url);
        return;
    }

    ngx_http_otp_redis_sentinel_set(s, &addr, "switched by");
}


/*
 * A master's address from a sentinel.  A new one closes the attached
 * connections that are up or on their way to the old one (they reconnect
 * after the backoff's first step, 50 to 100 ms) and starts the ones that
 * waited.  Closing another connection from this callback is safe: it is
 * not in a callback of its own (ngx_http_otp_redis_conn.h).
 */

static void
ngx_http_otp_redis_sentinel_set(ngx_http_otp_redis_sentinel_t *s,
    ngx_otp_sentinel_addr_t *addr, const char *why)
{
    u_char                     *p;
    ngx_uint_t                  i, changed;
    ngx_http_otp_redis_conn_t  *rc;

    changed = !s->known || s->master.port != addr->port
              || s->master.ip_len != addr->ip_len
              || ngx_strncmp(s->master.ip, addr->ip, addr->ip_len) != 0;

    s->master = *addr;
    s->known = 1;

    p = s->master_buf;

    if (ngx_strlchr(addr->ip, addr->ip + addr->ip_len, ':')) {
        p = ngx_sprintf(p, "redis://[%s]:%ui", addr->ip,
                        (ngx_uint_t) addr->port);

    } else {
        p = ngx_sprintf(p, "redis://%s:%ui", addr->ip,
                        (ngx_uint_t) addr->port);
    }

    s->master_url.len = p - s->master_buf;

    if (changed) {
        ngx_log_error(NGX_LOG_NOTICE, s->rc.log, 0,
                      "otp redis sentinel: master \"%V\" is at %V (%s "
                      "\"%V\")", &s->conf->name, &s->master_url, why,
                      &s->rc.url);
    }

    for (i = 0; i < s->nconns; i++) {
        rc = s->conns[i];

        rc->url = s->master_url;

        if (!changed || rc->awaiting || rc->exiting || rc->ac == NULL) {
            continue;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis %s: master moved, reconnecting",
                       rc->role);

        rc->failing = 0;
        ngx_http_otp_redis_conn_close(rc);
    }

    ngx_http_otp_redis_sentinel_wake(s);
}


/* the attached connections that wait for an address: connect, or fail */

static void
ngx_http_otp_redis_sentinel_wake(ngx_http_otp_redis_sentinel_t *s)
{
    ngx_uint_t                  i;
    ngx_http_otp_redis_conn_t  *rc;

    for (i = 0; i < s->nconns; i++) {
        rc = s->conns[i];

        if (rc->awaiting && !rc->exiting) {
            ngx_http_otp_redis_conn_connect(rc);
        }
    }
}


static ngx_int_t
ngx_http_otp_redis_sentinel_prepare(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_sentinel_t  *s;

    s = rc->sentinel;

    if (s->known) {
        ngx_memcpy(rc->host, s->master.ip, s->master.ip_len + 1);
        rc->port = s->master.port;
        rc->url = s->master_url;

        return NGX_OK;
    }

    if (s->failures >= s->conf->sentinels.nelts) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                       "otp redis %s: no sentinel answers", rc->role);
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


/*
 * An attached connection found a replica at the master's address: what
 * the sentinels said is stale (a failover under way, or a sentinel that
 * had not seen it).  Forget it and ask again, from the next sentinel.
 */

static void
ngx_http_otp_redis_sentinel_demoted(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_sentinel_t  *s;

    s = rc->sentinel;

    s->known = 0;

    /*
     * Whatever the sentinel connection's state: one in its handshake may
     * have told the stale address already, and would then sit READY with
     * no master known.  Not connected: it asks when it reconnects.
     */

    if (s->rc.ac && s->rc.state != NGX_HTTP_OTP_REDIS_CLOSING) {
        s->ask_again = 1;
        ngx_http_otp_redis_conn_close(&s->rc);
    }
}

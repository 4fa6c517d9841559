
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store: each worker keeps one hiredis asynchronous connection
 * driven by nginx's event loop (ngx_http_otp_redis_conn.c: connect,
 * adapter, backoff, AUTH), and runs every operation as one Lua script so
 * that it is atomic however many nginx instances share the Redis.  Status
 * announcements are heard on a second connection, the subscriber
 * (ngx_http_otp_store_redis_sub.c).
 *
 * The connection is first made at init_process; its handshake (after
 * AUTH) is SELECT, INFO and SCRIPT LOAD.  Besides the connection's own
 * reasons, several operation timeouts in a row close it.  READY takes
 * operations.  While a connection is being made (CONNECTING, HANDSHAKE)
 * they wait in a queue, under their own timeouts, and go out as soon as
 * the handshake is done: a worker just started or reloaded would
 * otherwise answer 503 to its first requests.  DISCONNECTED (between
 * attempts, Redis known to be down) fails an operation at once with
 * UNAVAILABLE, through a posted event, never inside start(): the store
 * fails closed without making clients wait for what is likely a 503.
 *
 * hiredis 0.14 has no timers, so the per-operation timeouts are nginx
 * timers.  An operation's privdata is a small "pending" record that
 * outlives the operation when it times out: hiredis still holds it and
 * hands it back with the late reply, or with NULL when the context dies.
 *
 * Needs Redis 4.0 or later (HSET with several fields, effects replication).
 *
 * On a Redis Cluster (redis-cluster://) this file's node, the connection
 * and what hangs on it, is one per master, and ngx_http_otp_redis_cluster.c
 * routes the operations between them with a start() of its own; send() and
 * reply() are shared, the cluster's seams marked where they are (a redirect
 * error handed to the router, ISSUE run as CLIENT then ISSUE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_store_redis.h"
#include "ngx_http_otp_redis_cluster.h"
#include "ngx_http_otp_redis_sentinel.h"


#define NGX_HTTP_OTP_REDIS_PORT             6379
#define NGX_HTTP_OTP_REDIS_TIMEOUT          1000
#define NGX_HTTP_OTP_REDIS_PASSWORD_MAX     4096

/*
 * Consecutive operation timeouts after which the connection is presumed
 * dead (a peer that vanished without a FIN or RST) and is replaced.
 */
#define NGX_HTTP_OTP_REDIS_MAX_TIMEOUTS     3

/* "otp:{" hex "}:r", ":w", ":o" and "otp:c:{" hex "}" */
#define NGX_HTTP_OTP_REDIS_KEY_LEN          (sizeof("otp:{}:r") - 1          \
                                             + 2 * NGX_OTP_HASH_LEN)

/* "otp:m:{" message id "}" */
#define NGX_HTTP_OTP_REDIS_MESSAGE_KEY_LEN  (sizeof("otp:m:{}") - 1          \
                                             + NGX_HTTP_OTP_MESSAGE_ID_MAX)

/*
 * The arguments after the SHA1 that are formatted into the buffer, of
 * ISSUE and of MESSAGE_PUT ("whatsapp" is the longest channel name; its
 * fallback blob is passed as it is, not copied); the others' are shorter
 * than either: BUDGET's a provider name and two numbers, STATUS_SET's a
 * message key, a provider, a number, an error code and the id.
 */
#define NGX_HTTP_OTP_REDIS_ISSUE_ARGS_LEN   (4 * NGX_HTTP_OTP_REDIS_KEY_LEN  \
                                             + NGX_OTP_HASH_LEN * 2          \
                                             + 12 * NGX_INT64_LEN)
#define NGX_HTTP_OTP_REDIS_MESSAGE_ARGS_LEN                                  \
    (NGX_HTTP_OTP_REDIS_MESSAGE_KEY_LEN + sizeof("whatsapp") - 1             \
     + NGX_HTTP_OTP_PROVIDER_NAME_MAX + NGX_OTP_HASH_LEN * 2                 \
     + NGX_HTTP_OTP_MESSAGE_ID_MAX + 5 * NGX_INT64_LEN                     \
     + NGX_OTP_COUNTRY_MAX)

/*
 * How long a budget counter outlives its clock hour.  The count is keyed
 * by the hour, so a new hour starts at zero whatever the slack: it is only
 * a margin for clocks.
 */
#define NGX_HTTP_OTP_REDIS_BUDGET_SLACK     60000

/* handshake steps besides SCRIPT LOAD of script 0, 1, ... */
#define NGX_HTTP_OTP_REDIS_STEP_SELECT      NGX_HTTP_OTP_REDIS_NSCRIPTS
#define NGX_HTTP_OTP_REDIS_STEP_INFO        (NGX_HTTP_OTP_REDIS_NSCRIPTS + 1)

/*
 * ANALYTICS_GET's fields a call (analytics_get.lua): about 20 ms of Redis
 * and a few MB of reply in the worker at a time, where a week of hashes
 * in one call was seconds during which Redis ran nothing else
 */
#define NGX_HTTP_OTP_REDIS_ANALYTICS_FIELDS  50000

/* the most, ISSUE's: EVALSHA sha numkeys, four keys, eleven arguments */
#define NGX_HTTP_OTP_REDIS_MAX_ARGS         18


/* a command's arguments, formatted into one buffer */
typedef struct {
    int                             argc;
    const char                     *argv[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    size_t                          argvlen[NGX_HTTP_OTP_REDIS_MAX_ARGS];
    u_char                         *pos;
    u_char                         *last;
    u_char                          buf[ngx_max(
                                        NGX_HTTP_OTP_REDIS_ISSUE_ARGS_LEN,
                                        NGX_HTTP_OTP_REDIS_MESSAGE_ARGS_LEN)];
} ngx_http_otp_redis_args_t;


/* one WAIT and the operations whose writes it acknowledges */
typedef struct {
    ngx_queue_t                     pendings;
    ngx_http_otp_redis_ctx_t       *ctx;
} ngx_http_otp_redis_wait_t;


static ngx_int_t ngx_http_otp_redis_wait_conf(ngx_http_otp_store_conf_t *scf,
    ngx_str_t *arg);
static ngx_int_t ngx_http_otp_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf);
static void ngx_http_otp_redis_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf);
static ngx_int_t ngx_http_otp_redis_watch(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_watch_pt handler, void *data);
static void ngx_http_otp_redis_unwatch(ngx_http_otp_store_conf_t *scf);

static ngx_int_t ngx_http_otp_redis_handshake_start(
    ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_handshake(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_policy(ngx_http_otp_redis_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_otp_redis_ready(ngx_http_otp_redis_conn_t *rc);
static void ngx_http_otp_redis_gone(ngx_http_otp_redis_conn_t *rc);

static void ngx_http_otp_redis_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_redis_send(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_args(ngx_http_otp_redis_pending_t *pending,
    ngx_http_otp_redis_args_t *a);
static void ngx_http_otp_redis_arg(ngx_http_otp_redis_args_t *a,
    const char *fmt, ...);
static int64_t ngx_http_otp_redis_retention(
    ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_done(ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_wait_join(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_wait_leave(
    ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_wait_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_wait_fail(ngx_queue_t *queue);
static void ngx_http_otp_redis_wait_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_otp_redis_unacked(ngx_http_otp_redis_pending_t *pending,
    long long acked);
static ngx_uint_t ngx_http_otp_redis_writes(ngx_uint_t script);
static void ngx_http_otp_redis_unavailable_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_flush(ngx_http_otp_redis_ctx_t *ctx,
    ngx_uint_t fail);
static void ngx_http_otp_redis_timeout_handler(ngx_event_t *ev);


ngx_http_otp_store_backend_t  ngx_http_otp_store_redis_backend = {
    "redis",
    ngx_http_otp_redis_init_process,
    ngx_http_otp_redis_exit_process,
    ngx_http_otp_redis_start,
    ngx_http_otp_redis_watch,
    ngx_http_otp_redis_unwatch
};


/*
 * The scripts, src/lua/NAME.lua, embedded by scripts/embed-lua.  All read
 * the time from Redis (TIME, in ms) so that nginx instances with skewed
 * clocks agree, and implement the rules written in ngx_http_otp_store.h;
 * each file's header comment names its keys, arguments and answer.  The
 * status numbers are the scripts' own and are mapped, with the rest of
 * each answer, in ngx_http_otp_store_redis_reply.c.
 *
 * replicate_commands() is needed before a write that follows TIME on
 * Redis 4 (later versions replicate effects anyway and keep it as a no-op).
 */

#include "ngx_http_otp_store_lua.h"


static ngx_str_t  *ngx_http_otp_redis_scripts[] = {
    &ngx_http_otp_redis_issue_lua,
    &ngx_http_otp_redis_verify_lua,
    &ngx_http_otp_redis_budget_lua,
    &ngx_http_otp_redis_message_put_lua,
    &ngx_http_otp_redis_revoke_lua,
    &ngx_http_otp_redis_message_link_lua,
    &ngx_http_otp_redis_status_set_lua,
    &ngx_http_otp_redis_status_get_lua,
    &ngx_http_otp_redis_optout_lua,
    &ngx_http_otp_redis_code_live_lua,
    &ngx_http_otp_redis_seen_lua,
    &ngx_http_otp_redis_client_lua,
    &ngx_http_otp_redis_analytics_get_lua,
    &ngx_http_otp_redis_analytics_add_lua
};


/* for the log, by script */
static const char  *ngx_http_otp_redis_names[] = {
    "issue",
    "verify",
    "budget",
    "message put",
    "revoke",
    "message link",
    "status set",
    "status get",
    "opt-out",
    "code live",
    "seen",
    "client window",
    "analytics get",
    "analytics add"
};


/*
 * otp_store redis://HOST[:PORT][/DB] [options] or redis+unix:PATH [options]
 *
 * The host is resolved here, in the master, because hiredis 0.14 would
 * resolve a name with a blocking getaddrinfo() in the worker.
 */

char *
ngx_http_otp_store_redis_conf(ngx_conf_t *cf, ngx_http_otp_store_conf_t *scf,
    ngx_str_t *args, ngx_uint_t nargs)
{
    u_char      *p, *last;
    ngx_int_t    n;
    ngx_str_t    s, *url;
    ngx_uint_t   i, db_set;
    ngx_url_t    u;
    ngx_int_t    rv;

    url = &args[0];

    scf->url = *url;
    scf->db = 0;
    scf->connect_timeout = NGX_HTTP_OTP_REDIS_TIMEOUT;
    scf->timeout = NGX_HTTP_OTP_REDIS_TIMEOUT;
    db_set = 0;

    if (ngx_strncmp(url->data, "redis+unix:", 11) == 0) {
        p = url->data + 11;
        last = url->data + url->len;

        /* "redis+unix:///path" as well as "redis+unix:/path" */
        if (last - p > 2 && p[0] == '/' && p[1] == '/' && p[2] == '/') {
            p += 2;
        }

        if (p == last || (size_t) (last - p)
                         >= sizeof(((struct sockaddr_un *) 0)->sun_path))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid unix socket path in \"%V\"", url);
            return NGX_CONF_ERROR;
        }

        scf->unix_path.len = last - p;
        scf->unix_path.data = ngx_pnalloc(cf->pool, scf->unix_path.len + 1);
        if (scf->unix_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(scf->unix_path.data, p, scf->unix_path.len);
        scf->unix_path.data[scf->unix_path.len] = '\0';

        scf->addr = NULL;

    } else if (ngx_strncmp(url->data, "redis://", 8) == 0) {

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = url->data + 8;
        u.url.len = url->len - 8;
        u.default_port = NGX_HTTP_OTP_REDIS_PORT;
        u.uri_part = 1;

        if (u.url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no redis host in \"%V\"", url);
            return NGX_CONF_ERROR;
        }

        if (ngx_strlchr(u.url.data, u.url.data + u.url.len, '@')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "credentials in \"%V\" are not supported: "
                               "use password_file=", url);
            return NGX_CONF_ERROR;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                               u.err ? u.err : "invalid address", url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis address in \"%V\"", url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs > 1) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"%V\" resolves to %ui addresses, "
                               "using %V", url, u.naddrs, &u.addrs[0].name);
        }

        scf->addr = &u.addrs[0];

        if (u.uri.len > 1) {
            n = ngx_atoi(u.uri.data + 1, u.uri.len - 1);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid database number in \"%V\"", url);
                return NGX_CONF_ERROR;
            }

            scf->db = n;
            db_set = 1;

        } else if (u.uri.len == 1 && u.uri.data[0] != '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis address in \"%V\"", url);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_strncmp(url->data, "redis-cluster://", 16) == 0) {

        if (ngx_http_otp_redis_cluster_conf(cf, scf, url) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        /* a cluster has database 0 only */
        db_set = 1;

    } else if (ngx_strncmp(url->data, "redis-sentinel://", 17) == 0) {

        if (ngx_http_otp_redis_sentinel_conf(cf, scf, url, &scf->db,
                                             &db_set)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": expected "
                           "\"redis://HOST[:PORT][/DB]\", "
                           "\"redis+unix:PATH\", "
                           "\"redis-cluster://HOST:PORT[,HOST:PORT...]\" "
                           "or \"redis-sentinel://HOST:PORT[,HOST:PORT...]/"
                           "MASTER-NAME[/DB]\"", url);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < nargs; i++) {

        if (ngx_strncmp(args[i].data, "db=", 3) == 0) {

            if (scf->seeds) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "a Redis Cluster has no database but "
                                   "0: \"db=\" is not for \"%V\"", url);
                return NGX_CONF_ERROR;
            }

            if (db_set) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "the database is given twice in "
                                   "\"otp_store\"");
                return NGX_CONF_ERROR;
            }

            n = ngx_atoi(args[i].data + 3, args[i].len - 3);

            if (n == NGX_ERROR) {
                goto invalid;
            }

            scf->db = n;
            db_set = 1;
            continue;
        }

        if (ngx_strncmp(args[i].data, "password_file=", 14) == 0) {

            if (scf->password.data) {
                goto invalid;
            }

            s.data = args[i].data + 14;
            s.len = args[i].len - 14;

            if (s.len == 0) {
                goto invalid;
            }

            if (ngx_http_otp_read_file(cf, &s, 1, &scf->password)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(args[i].data, "username=", 9) == 0) {

            /* an ACL user (Redis 6): AUTH USERNAME PASSWORD */

            if (scf->username.data || args[i].len == 9) {
                goto invalid;
            }

            scf->username.data = args[i].data + 9;
            scf->username.len = args[i].len - 9;

            continue;
        }

        if (ngx_strncmp(args[i].data, "wait=", 5) == 0) {

            if (scf->seeds) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"wait=\" is not for a Redis Cluster "
                                   "in \"%V\"", url);
                return NGX_CONF_ERROR;
            }

            if (ngx_http_otp_redis_wait_conf(scf, &args[i]) != NGX_OK) {
                goto invalid;
            }

            continue;
        }

        rv = ngx_http_otp_redis_sentinel_option(cf, scf, &args[i]);

        if (rv == NGX_OK) {
            continue;
        }

        if (rv == NGX_ERROR) {
            goto invalid;
        }

        if (ngx_strncmp(args[i].data, "connect_timeout=", 16) == 0) {
            s.data = args[i].data + 16;
            s.len = args[i].len - 16;

            scf->connect_timeout = ngx_parse_time(&s, 0);

            if (scf->connect_timeout == (ngx_msec_t) NGX_ERROR
                || scf->connect_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(args[i].data, "timeout=", 8) == 0) {
            s.data = args[i].data + 8;
            s.len = args[i].len - 8;

            scf->timeout = ngx_parse_time(&s, 0);

            if (scf->timeout == (ngx_msec_t) NGX_ERROR || scf->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (scf->username.len && scf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"username=\" needs \"password_file=\" in "
                           "\"otp_store\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_redis_sentinel_check(cf, scf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (scf->wait_replicas && scf->wait_timeout >= scf->timeout) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the time of \"wait=\" must be shorter than "
                           "\"timeout=\" (%M ms) in \"otp_store\"",
                           scf->timeout);
        return NGX_CONF_ERROR;
    }

    scf->backend = scf->seeds ? &ngx_http_otp_store_redis_cluster_backend
                              : &ngx_http_otp_store_redis_backend;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"otp_store\"", &args[i]);

    return NGX_CONF_ERROR;
}


/*
 * wait=N:TIME: after the operations that write, WAIT N TIME, pipelined
 * behind their scripts (see ngx_http_otp_redis_wait_handler()).  TIME 0
 * would make WAIT block for ever: refused.
 */

static ngx_int_t
ngx_http_otp_redis_wait_conf(ngx_http_otp_store_conf_t *scf, ngx_str_t *arg)
{
    u_char     *colon, *last;
    ngx_int_t   n;
    ngx_str_t   t;

    last = arg->data + arg->len;
    colon = ngx_strlchr(arg->data + 5, last, ':');

    if (scf->wait_replicas || colon == NULL) {
        return NGX_ERROR;
    }

    n = ngx_atoi(arg->data + 5, colon - arg->data - 5);

    if (n == NGX_ERROR || n == 0 || n > 64) {
        return NGX_ERROR;
    }

    t.data = colon + 1;
    t.len = last - colon - 1;

    scf->wait_timeout = ngx_parse_time(&t, 0);

    if (scf->wait_timeout == (ngx_msec_t) NGX_ERROR
        || scf->wait_timeout == 0)
    {
        return NGX_ERROR;
    }

    scf->wait_replicas = n;

    return NGX_OK;
}


/*
 * The password is read here, before the workers start; it is never logged.
 * Only a trailing newline is dropped: white space may belong to it.
 */

static ngx_int_t
ngx_http_otp_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    /* the cache manager and loader never use the store */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ctx = ngx_pcalloc(cycle->pool, sizeof(ngx_http_otp_redis_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_redis_node_init(ctx, scf, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->sub = ngx_http_otp_redis_sub_create(cycle->pool, scf, cycle->log);
    if (ctx->sub == NULL) {
        return NGX_ERROR;
    }

    scf->backend_data = ctx;

    if (scf->sentinel) {
        /* the master's address comes from the sentinels, at each connect */

        ctx->sentinel = ngx_http_otp_redis_sentinel_create(cycle->pool, scf,
                                                           cycle->log);
        if (ctx->sentinel == NULL) {
            return NGX_ERROR;
        }

        ngx_http_otp_redis_sentinel_attach(ctx->sentinel, &ctx->rc);
        ngx_http_otp_redis_sentinel_attach(ctx->sentinel,
                                       ngx_http_otp_redis_sub_conn(ctx->sub));
        ngx_http_otp_redis_sentinel_start(ctx->sentinel);
    }

    ngx_http_otp_redis_conn_connect(&ctx->rc);

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_redis_node_init(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_store_conf_t *scf, ngx_log_t *log)
{
    ngx_uint_t     i;
    unsigned int   mdlen;
    u_char         md[EVP_MAX_MD_SIZE];

    ngx_http_otp_redis_conn_init(&ctx->rc, scf, log, "store");
    ctx->rc.handshake_start = ngx_http_otp_redis_handshake_start;
    ctx->rc.ready = ngx_http_otp_redis_ready;
    ctx->rc.gone = ngx_http_otp_redis_gone;
    ctx->rc.data = ctx;
    ngx_queue_init(&ctx->waiting);
    ngx_queue_init(&ctx->batch);

    ctx->wait_event.handler = ngx_http_otp_redis_wait_handler;
    ctx->wait_event.data = &ctx->rc.ident;
    ctx->wait_event.log = log;

    /* EVALSHA needs the SHA1 of each script, as Redis computes it */

    for (i = 0; i < NGX_HTTP_OTP_REDIS_NSCRIPTS; i++) {
        if (EVP_Digest(ngx_http_otp_redis_scripts[i]->data,
                       ngx_http_otp_redis_scripts[i]->len, md, &mdlen,
                       EVP_sha1(), NULL)
            != 1
            || mdlen * 2 != NGX_HTTP_OTP_REDIS_SHA1_LEN)
        {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "otp redis store: SHA1 failed");
            return NGX_ERROR;
        }

        ngx_hex_dump(ctx->sha[i], md, mdlen);
    }

    return NGX_OK;
}


static void
ngx_http_otp_redis_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    ctx = scf->backend_data;

    if (ctx == NULL) {
        return;
    }

    /*
     * The requests still waiting are gone with the worker: from here on
     * an operation is freed without its handler (ngx_http_otp_store.h).
     */

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ctx->rc.log, 0,
                   "otp redis store: exit, pending operations dropped");

    if (ctx->sentinel) {
        ngx_http_otp_redis_sentinel_exit(ctx->sentinel);
    }

    if (ctx->wait_event.posted) {
        ngx_delete_posted_event(&ctx->wait_event);
    }

    ngx_http_otp_redis_conn_exit(&ctx->rc);
    ngx_http_otp_redis_sub_exit(ctx->sub);

    /* the context's end answered them all: only their records are left */
    ngx_http_otp_redis_wait_fail(&ctx->batch);

    scf->backend_data = NULL;
}


/* status announcements: the subscriber's (ngx_http_otp_store_redis_sub.c) */

static ngx_int_t
ngx_http_otp_redis_watch(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_watch_pt handler, void *data)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    ctx = scf->backend_data;

    if (ctx == NULL || handler == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_otp_redis_sub_watch(ctx->sub, handler, data);
}


static void
ngx_http_otp_redis_unwatch(ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    ctx = scf->backend_data;

    if (ctx) {
        ngx_http_otp_redis_sub_unwatch(ctx->sub);
    }
}


/*
 * The store's handshake, after AUTH (ngx_http_otp_redis_conn.c): SELECT,
 * INFO and SCRIPT LOAD, pipelined and all answered before any operation is
 * sent.
 */

static ngx_int_t
ngx_http_otp_redis_handshake_start(ngx_http_otp_redis_conn_t *rc)
{
    ngx_uint_t                  i;
    const char                 *argv[3];
    size_t                      argvlen[3];
    u_char                      db[NGX_INT_T_LEN];
    ngx_http_otp_store_conf_t  *scf;

    scf = rc->scf;

    if (scf->db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", scf->db) - db;

        if (ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_handshake,
                         (void *) (uintptr_t) NGX_HTTP_OTP_REDIS_STEP_SELECT,
                         2, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /*
     * INFO, not CONFIG GET: managed Redis services often rename or forbid
     * CONFIG.  Before SCRIPT LOAD, so that a connection's last handshake
     * command is a SCRIPT LOAD, as the tests' readiness check expects.
     */

    argv[0] = "INFO";
    argvlen[0] = 4;
    argv[1] = "memory";
    argvlen[1] = 6;

    if (ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_handshake,
                         (void *) (uintptr_t) NGX_HTTP_OTP_REDIS_STEP_INFO,
                         2, argv, argvlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_OTP_REDIS_NSCRIPTS; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) ngx_http_otp_redis_scripts[i]->data;
        argvlen[2] = ngx_http_otp_redis_scripts[i]->len;

        if (ngx_http_otp_redis_conn_step(rc, ngx_http_otp_redis_handshake,
                                         (void *) (uintptr_t) i, 3, argv,
                                         argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The replies to SELECT (+OK), INFO and SCRIPT LOAD (the SHA1 we computed,
 * which Redis must agree with).
 */

static void
ngx_http_otp_redis_handshake(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;

    const char                 *name;
    ngx_uint_t                  ok, step;
    ngx_http_otp_redis_ctx_t   *ctx;
    ngx_http_otp_redis_conn_t  *rc;

    rc = ac->data;
    ctx = rc->data;
    step = (ngx_uint_t) (uintptr_t) privdata;

    if (reply == NULL || rc->state != NGX_HTTP_OTP_REDIS_HANDSHAKE
        || rc->handshake_failed)
    {
        /* the connection is going; the cleanup hook follows */
        return;
    }

    name = (step == NGX_HTTP_OTP_REDIS_STEP_SELECT) ? "SELECT"
           : (step == NGX_HTTP_OTP_REDIS_STEP_INFO) ? "INFO"
           : "SCRIPT LOAD";

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rc->log, 0,
                   "otp redis store: %s answered, type %d", name,
                   reply->type);

    if (step == NGX_HTTP_OTP_REDIS_STEP_INFO) {
        /* advice, not a condition of use: a refused INFO fails nothing */
        ngx_http_otp_redis_policy(ctx, reply);
        ngx_http_otp_redis_conn_step_done(rc);
        return;
    }

    if (step < NGX_HTTP_OTP_REDIS_NSCRIPTS) {
        ok = (reply->type == REDIS_REPLY_STRING
              && reply->len == NGX_HTTP_OTP_REDIS_SHA1_LEN
              && ngx_strncasecmp((u_char *) reply->str, ctx->sha[step],
                                 NGX_HTTP_OTP_REDIS_SHA1_LEN)
                 == 0);

    } else {
        ok = (reply->type == REDIS_REPLY_STATUS);
    }

    if (!ok) {
        ngx_http_otp_redis_conn_refused(rc, name, reply);
        return;
    }

    ngx_http_otp_redis_conn_step_done(rc);
}


static void
ngx_http_otp_redis_ready(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    ctx = rc->data;

    ctx->timeouts = 0;

    if (ctx->cluster) {
        ngx_http_otp_redis_cluster_node_ready(ctx);
    }

    ngx_http_otp_redis_flush(ctx, 0);
}


/* the connection they waited for is not coming */

static void
ngx_http_otp_redis_gone(ngx_http_otp_redis_conn_t *rc)
{
    ngx_http_otp_redis_ctx_t  *ctx;

    ctx = rc->data;

    ngx_http_otp_redis_flush(ctx, 1);

    if (ctx->cluster) {
        ngx_http_otp_redis_cluster_node_gone(ctx);
    }
}


/*
 * Every key the store writes has a TTL, so under memory pressure a
 * "volatile-*" or "allkeys-*" maxmemory-policy may evict a lock, a failure
 * counter or a send window: exactly what an attacker flooding Redis wants.
 * Only "noeviction" keeps them (Redis then refuses writes, and the store
 * fails closed).  Warned once per connection.  The reply is Redis's text:
 * only a plain policy name is repeated in the log (the pure core's
 * ngx_otp_redis_info_field(), unit-tested and fuzzed).
 */

static void
ngx_http_otp_redis_policy(ngx_http_otp_redis_ctx_t *ctx, redisReply *reply)
{
    size_t         len;
    const u_char  *v;

    if (reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_WARN, ctx->rc.log, 0,
                      "otp redis store: could not read the maxmemory-policy "
                      "of \"%V\" (INFO refused): make sure it is "
                      "\"noeviction\"", &ctx->rc.scf->url);
        return;
    }

    if (ngx_otp_redis_info_field((u_char *) reply->str, reply->len,
                                 "maxmemory_policy", &v, &len)
        != NGX_OTP_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ctx->rc.log, 0,
                      "otp redis store: \"%V\" did not tell its "
                      "maxmemory-policy: make sure it is \"noeviction\"",
                      &ctx->rc.scf->url);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ctx->rc.log, 0,
                   "otp redis store: maxmemory-policy \"%*s\"", len, v);

    if (len == sizeof("noeviction") - 1
        && ngx_strncmp(v, "noeviction", len) == 0)
    {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ctx->rc.log, 0,
                  "otp redis store: \"%V\" has maxmemory-policy \"%*s\": "
                  "under memory pressure Redis may evict locks and failure "
                  "counters; set it to \"noeviction\"",
                  &ctx->rc.scf->url, len, v);
}


static void
ngx_http_otp_redis_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op)
{
    ngx_int_t                      script;
    ngx_http_otp_redis_ctx_t      *ctx;
    ngx_http_otp_redis_pending_t  *pending;

    ctx = scf->backend_data;

    op->retry_after = 0;
    op->attempts_remaining = 0;
    op->first_over = 0;

    if (ctx == NULL) {
        goto unavailable;
    }

    /* op->event.data is the ident: the handlers find op by offset */
    op->event.data = &ctx->rc.ident;

    script = ngx_http_otp_redis_script(op);

    if (script == NGX_ERROR) {
        goto unavailable;
    }

    pending = ngx_calloc(sizeof(ngx_http_otp_redis_pending_t), ctx->rc.log);
    if (pending == NULL) {
        goto unavailable;
    }

    pending->op = op;
    pending->ctx = ctx;
    pending->script = script;
    pending->wait = (scf->wait_replicas && ngx_http_otp_redis_writes(script));

    if (ngx_http_otp_redis_submit(ctx, pending) == NGX_OK) {
        return;
    }

    ngx_free(pending);

unavailable:

    ngx_http_otp_redis_post_unavailable(op);
}


ngx_int_t
ngx_http_otp_redis_submit(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending)
{
    ngx_http_otp_store_op_t  *op;

    op = pending->op;
    pending->ctx = ctx;

    if (ctx->rc.state != NGX_HTTP_OTP_REDIS_READY
        && ctx->rc.state != NGX_HTTP_OTP_REDIS_CONNECTING
        && ctx->rc.state != NGX_HTTP_OTP_REDIS_HANDSHAKE)
    {
        return NGX_DECLINED;
    }

    if (ctx->rc.state != NGX_HTTP_OTP_REDIS_READY) {
        /* sent once the handshake is done, in the order they came */
        pending->waiting = 1;
        ngx_queue_insert_tail(&ctx->waiting, &pending->queue);

    } else if (ngx_http_otp_redis_send(ctx, pending) != NGX_OK) {
        return NGX_DECLINED;
    }

    op->backend = pending;
    op->event.handler = ngx_http_otp_redis_timeout_handler;

    if (!op->event.timer_set) {
        ngx_add_timer(&op->event, ctx->rc.scf->timeout);
    }

    return NGX_OK;
}


/*
 * Holds pending in a queue of the cluster's router (the slot map not read
 * yet, a TRYAGAIN's retry) under the operation's timeout: the caller has
 * set waiting or delayed, and the timeout handler takes it out.
 */

void
ngx_http_otp_redis_hold(ngx_http_otp_redis_pending_t *pending,
    ngx_queue_t *queue, ngx_msec_t timeout)
{
    ngx_http_otp_store_op_t  *op;

    op = pending->op;

    pending->ctx = NULL;
    ngx_queue_insert_tail(queue, &pending->queue);

    op->backend = pending;
    op->event.handler = ngx_http_otp_redis_timeout_handler;

    if (!op->event.timer_set) {
        ngx_add_timer(&op->event, timeout);
    }
}


void
ngx_http_otp_redis_post_unavailable(ngx_http_otp_store_op_t *op)
{
    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
    op->event.handler = ngx_http_otp_redis_unavailable_handler;

    ngx_post_event(&op->event, &ngx_posted_events);
}


/*
 * The operation's script, or NGX_ERROR for an operation the store cannot
 * take: a bug in its caller, which must not overflow the arguments buffer
 * nor put an empty id or an unknown channel in Redis.
 */

ngx_int_t
ngx_http_otp_redis_script(ngx_http_otp_store_op_t *op)
{
    switch (op->type) {

    case NGX_HTTP_OTP_OP_ISSUE:
        return NGX_HTTP_OTP_REDIS_ISSUE;

    case NGX_HTTP_OTP_OP_VERIFY:
        return NGX_HTTP_OTP_REDIS_VERIFY;

    case NGX_HTTP_OTP_OP_BUDGET:
        if (op->budget_name.len == 0
            || op->budget_name.len > NGX_HTTP_OTP_PROVIDER_NAME_MAX)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_BUDGET;

    case NGX_HTTP_OTP_OP_MESSAGE_PUT:
        if (op->message_id_len == 0
            || op->message_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX
            || op->provider_len == 0
            || op->provider_len > NGX_HTTP_OTP_PROVIDER_NAME_MAX
            || op->message_ttl == 0
            || (op->channel != NGX_OTP_SMS
                && op->channel != NGX_OTP_WHATSAPP
                && op->channel != NGX_OTP_VOICE)
            || op->link_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX
            || op->fallback_len > NGX_HTTP_OTP_FALLBACK_MAX)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_MESSAGE_PUT;

    case NGX_HTTP_OTP_OP_REVOKE:
        return NGX_HTTP_OTP_REDIS_REVOKE;

    case NGX_HTTP_OTP_OP_MESSAGE_LINK:
        if (op->message_id_len == 0
            || op->message_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX
            || op->link_id_len == 0
            || op->link_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_MESSAGE_LINK;

    case NGX_HTTP_OTP_OP_STATUS_SET:
        if (op->message_id_len == 0
            || op->message_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX
            || op->provider_len == 0
            || op->provider_len > NGX_HTTP_OTP_PROVIDER_NAME_MAX
            || ngx_otp_status_name(op->msg_status) == NULL
            || op->error_code_len > NGX_HTTP_OTP_ERROR_CODE_MAX)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_STATUS_SET;

    case NGX_HTTP_OTP_OP_STATUS_GET:
        if (op->message_id_len == 0
            || op->message_id_len > NGX_HTTP_OTP_MESSAGE_ID_MAX)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_STATUS_GET;

    case NGX_HTTP_OTP_OP_OPTOUT_SET:
    case NGX_HTTP_OTP_OP_OPTOUT_CLEAR:
        return NGX_HTTP_OTP_REDIS_OPTOUT;

    case NGX_HTTP_OTP_OP_CODE_LIVE:
        return NGX_HTTP_OTP_REDIS_CODE_LIVE;

    case NGX_HTTP_OTP_OP_SEEN:
        if (op->ttl == 0) {
            break;
        }

        return NGX_HTTP_OTP_REDIS_SEEN;

    case NGX_HTTP_OTP_OP_ANALYTICS_GET:
        if (op->from < 0 || op->to <= op->from
            || op->from % 3600 || op->to % 3600)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_ANALYTICS;

    case NGX_HTTP_OTP_OP_ANALYTICS_ADD:
        if (op->ncounts == 0 || op->ncounts > NGX_HTTP_OTP_ANALYTICS_COUNTS
            || op->retention == 0)
        {
            break;
        }

        return NGX_HTTP_OTP_REDIS_ANALYTICS_ADD;

    default:
        break;
    }

    ngx_log_error(NGX_LOG_ALERT, op->log, 0,
                  "otp redis store: invalid operation of type %d",
                  (int) op->type);

    return NGX_ERROR;
}


/*
 * Sends the operation's script: EVALSHA, or after a NOSCRIPT (SCRIPT FLUSH,
 * a Redis that restarted between our SCRIPT LOAD and now) the full text
 * with EVAL, which also puts it back in Redis's script cache.  Only keys
 * and HMAC hexes go to Redis, never a phone number or a code.
 */

static ngx_int_t
ngx_http_otp_redis_send(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending)
{
    ngx_uint_t                 s;
    ngx_http_otp_redis_args_t  a;

    s = pending->script;

    if (pending->eval) {
        a.argv[0] = "EVAL";
        a.argvlen[0] = 4;
        a.argv[1] = (const char *) ngx_http_otp_redis_scripts[s]->data;
        a.argvlen[1] = ngx_http_otp_redis_scripts[s]->len;

    } else {
        a.argv[0] = "EVALSHA";
        a.argvlen[0] = 7;
        a.argv[1] = (const char *) ctx->sha[s];
        a.argvlen[1] = NGX_HTTP_OTP_REDIS_SHA1_LEN;
    }

    ngx_http_otp_redis_args(pending, &a);

#if (NGX_DEBUG)
    {
    int                       i;
    ngx_http_otp_store_op_t  *op;

    op = pending->op;

    for (i = 2; i < a.argc; i++) {
        if (a.argv[i] == (const char *) op->fallback) {
            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, op->log, 0,
                           "otp redis store: %s argument %d: %uz bytes",
                           ngx_http_otp_redis_names[s], i - 1,
                           a.argvlen[i]);
            continue;
        }

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, op->log, 0,
                       "otp redis store: %s argument %d: \"%*s\"",
                       ngx_http_otp_redis_names[s], i - 1,
                       a.argvlen[i], a.argv[i]);
    }
    }
#endif

    if (pending->asking) {
        /*
         * -ASK: the slot is moving to this node, which serves a command
         * for it only right after ASKING (hiredis keeps the order of the
         * pipeline; the +OK goes to no callback).
         */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pending->op->log, 0,
                       "otp redis store: %s after ASKING",
                       ngx_http_otp_redis_names[s]);

        if (redisAsyncCommand(ctx->rc.ac, NULL, NULL, "ASKING")
            != REDIS_OK)
        {
            return NGX_ERROR;
        }
    }

    if (redisAsyncCommandArgv(ctx->rc.ac, ngx_http_otp_redis_reply, pending,
                              a.argc, a.argv, a.argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    /* a record hiredis holds is freed by the last callback that has it */
    pending->refs++;

    if (pending->wait) {
        ngx_http_otp_redis_wait_join(ctx, pending);
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_otp_redis_slot(ngx_http_otp_redis_pending_t *pending)
{
    ngx_http_otp_redis_args_t  a;

    a.argv[0] = "EVALSHA";
    a.argvlen[0] = 7;
    a.argv[1] = "";
    a.argvlen[1] = 0;

    ngx_http_otp_redis_args(pending, &a);

    /* EVALSHA sha numkeys KEYS[1]: every script has a key */
    return ngx_otp_cluster_key_slot((u_char *) a.argv[3], a.argvlen[3]);
}


/* the arguments after the script and its SHA1 */

static void
ngx_http_otp_redis_args(ngx_http_otp_redis_pending_t *pending,
    ngx_http_otp_redis_args_t *a)
{
    ngx_uint_t                s, i;
    ngx_http_otp_store_op_t  *op;

    op = pending->op;
    s = pending->script;

    a->argc = 2;
    a->pos = a->buf;
    a->last = a->buf + sizeof(a->buf);

    switch (s) {

    case NGX_HTTP_OTP_REDIS_ISSUE:
        ngx_http_otp_redis_arg(a, "4");
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:r", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:w", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);

        if (pending->split) {
            /*
             * Redis Cluster: the client window was CLIENT's, in its own
             * slot; KEYS[3] must share the number's slot, and with
             * client_limit 0 the script never touches it.
             */
            ngx_http_otp_redis_arg(a, "otp:{%*xs}:w",
                                   (size_t) NGX_OTP_HASH_LEN,
                                   op->phone_key);

        } else {
            ngx_http_otp_redis_arg(a, "otp:c:{%*xs}",
                                   (size_t) NGX_OTP_HASH_LEN,
                                   op->client_key);
        }

        ngx_http_otp_redis_arg(a, "otp:{%*xs}:o", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "%*xs", (size_t) NGX_OTP_HASH_LEN,
                               op->code_key);
        ngx_http_otp_redis_arg(a, "%M", op->ttl);
        ngx_http_otp_redis_arg(a, "%M", op->resend_after);
        ngx_http_otp_redis_arg(a, "%M", op->lockout);
        ngx_http_otp_redis_arg(a, "%ui", op->max_attempts);
        ngx_http_otp_redis_arg(a, "%ui", op->send_limit);
        ngx_http_otp_redis_arg(a, "%M", op->send_window);
        ngx_http_otp_redis_arg(a, "%ui",
                               pending->split ? 0 : op->client_limit);
        ngx_http_otp_redis_arg(a, "%M", op->client_window);
        ngx_http_otp_redis_arg(a, "%ui", op->max_failures);
        ngx_http_otp_redis_arg(a, "%M", op->failure_window);
        break;

    case NGX_HTTP_OTP_REDIS_CLIENT:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:c:{%*xs}", (size_t) NGX_OTP_HASH_LEN,
                               op->client_key);
        ngx_http_otp_redis_arg(a, "%ui", op->client_limit);
        ngx_http_otp_redis_arg(a, "%M", op->client_window);
        break;

    case NGX_HTTP_OTP_REDIS_VERIFY:
    case NGX_HTTP_OTP_REDIS_REVOKE:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:r", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "%*xs", (size_t) NGX_OTP_HASH_LEN,
                               op->code_key);
        break;

    case NGX_HTTP_OTP_REDIS_CODE_LIVE:
        /* the opt-out key shares the record's hash slot (ISSUE's KEYS[4]) */
        ngx_http_otp_redis_arg(a, "2");
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:r", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:o", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "%*xs", (size_t) NGX_OTP_HASH_LEN,
                               op->code_key);
        break;

    case NGX_HTTP_OTP_REDIS_SEEN:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:s:{%*xs}", (size_t) NGX_OTP_HASH_LEN,
                               op->seen_key);
        ngx_http_otp_redis_arg(a, "%M", op->ttl);
        break;

    case NGX_HTTP_OTP_REDIS_BUDGET:
        /* [0-9a-f]{16}: and [A-Za-z0-9_-]{1,32} (otp_provider): safe */
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:b:{%V}", &op->budget_name);
        ngx_http_otp_redis_arg(a, "%ui", op->budget_limit);
        ngx_http_otp_redis_arg(a, "%M",
                               (ngx_msec_t) NGX_HTTP_OTP_REDIS_BUDGET_SLACK);
        break;

    case NGX_HTTP_OTP_REDIS_MESSAGE_PUT:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:m:{%*s}", op->message_id_len,
                               op->message_id);
        ngx_http_otp_redis_arg(a, "%s",
                               ngx_otp_channel_name(op->channel));
        ngx_http_otp_redis_arg(a, "%*s", op->provider_len, op->provider);
        ngx_http_otp_redis_arg(a, "%*xs", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "%M", op->message_ttl);
        ngx_http_otp_redis_arg(a, "%*s", op->link_id_len, op->link_id);

        /* sealed bytes, passed by length (and never logged below) */
        a->argv[a->argc] = (const char *) op->fallback;
        a->argvlen[a->argc] = op->fallback_len;
        a->argc++;

        if (op->cost >= 0) {
            ngx_http_otp_redis_arg(a, "%L", op->cost);

        } else {
            ngx_http_otp_redis_arg(a, "");
        }

        ngx_http_otp_redis_arg(a, "%*s", op->country_len, op->country);
        ngx_http_otp_redis_arg(a, "%L", ngx_http_otp_redis_retention(pending));
        break;

    case NGX_HTTP_OTP_REDIS_MESSAGE_LINK:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:m:{%*s}", op->message_id_len,
                               op->message_id);
        ngx_http_otp_redis_arg(a, "%*s", op->link_id_len, op->link_id);
        break;

    case NGX_HTTP_OTP_REDIS_STATUS_SET:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:m:{%*s}", op->message_id_len,
                               op->message_id);
        ngx_http_otp_redis_arg(a, "%*s", op->provider_len, op->provider);
        ngx_http_otp_redis_arg(a, "%ui", op->msg_status);
        ngx_http_otp_redis_arg(a, "%*s", op->error_code_len,
                               op->error_code);
        ngx_http_otp_redis_arg(a, "%*s", op->message_id_len,
                               op->message_id);
        ngx_http_otp_redis_arg(a, "%L", ngx_http_otp_redis_retention(pending));
        break;

    case NGX_HTTP_OTP_REDIS_ANALYTICS:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:{a}");
        ngx_http_otp_redis_arg(a, "%L", op->from);
        ngx_http_otp_redis_arg(a, "%L", op->reading ? op->read_to : op->to);
        ngx_http_otp_redis_arg(a, op->sum ? "sum" : "rows");
        ngx_http_otp_redis_arg(a, "%d", NGX_HTTP_OTP_REDIS_ANALYTICS_FIELDS);
        break;

    case NGX_HTTP_OTP_REDIS_ANALYTICS_ADD:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:{a}");
        ngx_http_otp_redis_arg(a, "%M", op->retention);

        for (i = 0; i < op->ncounts; i++) {
            /* the fields as the script answered them, by length */
            a->argv[a->argc] = (const char *) op->counts[i].field;
            a->argvlen[a->argc] = op->counts[i].len;
            a->argc++;

            ngx_http_otp_redis_arg(a, "%L", op->counts[i].incr);
        }

        break;

    case NGX_HTTP_OTP_REDIS_STATUS_GET:
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:m:{%*s}", op->message_id_len,
                               op->message_id);
        break;

    default: /* NGX_HTTP_OTP_REDIS_OPTOUT */
        ngx_http_otp_redis_arg(a, "1");
        ngx_http_otp_redis_arg(a, "otp:{%*xs}:o", (size_t) NGX_OTP_HASH_LEN,
                               op->phone_key);
        ngx_http_otp_redis_arg(a, "%s",
                               op->type == NGX_HTTP_OTP_OP_OPTOUT_SET
                               ? "1" : "0");
        break;
    }
}


/*
 * The analytics retention MESSAGE_PUT and STATUS_SET count with, or 0:
 * on a Cluster the hour's counters are in another slot than the message
 * record, and a script may touch one slot only (README, "Delivery
 * analytics").
 */

static int64_t
ngx_http_otp_redis_retention(ngx_http_otp_redis_pending_t *pending)
{
    return pending->cluster ? - (int64_t) pending->op->retention
                            : (int64_t) pending->op->retention;
}


static void
ngx_http_otp_redis_arg(ngx_http_otp_redis_args_t *a, const char *fmt, ...)
{
    va_list  args;

    a->argv[a->argc] = (const char *) a->pos;

    va_start(args, fmt);
    a->pos = ngx_vslprintf(a->pos, a->last, fmt, args);
    va_end(args);

    a->argvlen[a->argc] = a->pos - (u_char *) a->argv[a->argc];
    a->argc++;
}


static void
ngx_http_otp_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                    *reply = r;
    ngx_http_otp_redis_pending_t  *pending = privdata;

    size_t                         n;
    ngx_int_t                      rc;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_ctx_t      *ctx;
    u_char                         text[4 * NGX_HTTP_OTP_REDIS_TEXT_MAX];

    op = pending->op;
    ctx = pending->ctx;

    pending->refs--;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ctx->rc.log, 0,
                   "otp redis store: %s reply for op %p: type %d%s",
                   ngx_http_otp_redis_names[pending->script], op,
                   reply ? reply->type : -1,
                   op ? "" : " (op timed out)");

    if (reply == NULL) {
        /*
         * The context is being freed (its loss, if unexpected, is logged
         * once by the disconnect callback): a handler called from here
         * must not start anything on it.
         */
        ctx->rc.state = NGX_HTTP_OTP_REDIS_CLOSING;

    } else {
        ctx->timeouts = 0;
    }

    if (op == NULL) {
        /* answered with UNAVAILABLE when it timed out */
        if (pending->refs == 0) {
            ngx_free(pending);
        }

        return;
    }

    if (ctx->rc.exiting) {
        /* exit_process: the request is gone, no handler runs */
        op->cancelled = 1;
    }

    if (reply == NULL) {
        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    } else if (pending->cluster && reply->type == REDIS_REPLY_ERROR
               && (rc = ngx_http_otp_redis_cluster_error(pending, reply))
                  != NGX_DECLINED)
    {
        /* -MOVED, -ASK, -TRYAGAIN, -CLUSTERDOWN: the router's */

        if (rc == NGX_OK) {
            return;
        }

        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    } else if (reply->type == REDIS_REPLY_ERROR
               && !pending->eval
               && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        pending->eval = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, op->log, 0,
                       "otp redis store: %s not loaded, EVAL",
                       ngx_http_otp_redis_names[pending->script]);

        /* the WAIT behind the refused EVALSHA would not cover the EVAL */
        ngx_http_otp_redis_wait_leave(pending);

        if (ngx_http_otp_redis_send(ctx, pending) == NGX_OK) {
            return;
        }

        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    } else if (ngx_http_otp_redis_result(op, pending->script, reply)
               != NGX_OK)
    {
        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
        op->retry_after = 0;
        op->attempts_remaining = 0;
        op->first_over = 0;

        if (reply->type == REDIS_REPLY_ERROR) {
            n = ngx_http_otp_redis_text(text, reply->str, reply->len);

            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "otp redis store: %s failed: %*s",
                          ngx_http_otp_redis_names[pending->script],
                          n, text);

        } else {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "otp redis store: %s got an unexpected reply "
                          "of type %d",
                          ngx_http_otp_redis_names[pending->script],
                          reply->type);
        }

    } else if (pending->script == NGX_HTTP_OTP_REDIS_CLIENT
               && op->status == NGX_HTTP_OTP_STORE_OK)
    {
        /* Redis Cluster: the client's send counted, now the number's */

        pending->script = NGX_HTTP_OTP_REDIS_ISSUE;
        pending->split = 1;
        pending->eval = 0;

        if (ngx_http_otp_redis_cluster_route(pending) == NGX_OK) {
            return;
        }

        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    } else if (pending->script == NGX_HTTP_OTP_REDIS_ANALYTICS
               && op->status == NGX_HTTP_OTP_STORE_OK
               && op->read_to > op->from && !op->truncated
               && !op->cancelled)
    {
        /*
         * The next part of the range (analytics_get.lua reads a budget of
         * fields a call), on the same connection: the key's slot is the
         * same.  Each part has the operation's timeout of its own.
         */

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, op->log, 0,
                       "otp redis store: analytics op %p: %ui rows, "
                       "%L..%L left", op, op->nrows, op->from, op->read_to);

        /* an EVAL after a NOSCRIPT has loaded the script again */
        pending->eval = 0;

        if (ngx_http_otp_redis_send(ctx, pending) == NGX_OK) {
            ngx_add_timer(&op->event, ctx->rc.scf->timeout);
            return;
        }

        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    } else if (pending->in_wait) {
        /* answered when WAIT says how many replicas have it */
        pending->answered = 1;
        return;

    } else if (pending->unacked) {
        ngx_http_otp_redis_unacked(pending, 0);
    }

    ngx_http_otp_redis_done(pending);
}


/* the operation answered; the record stays while hiredis holds it */

static void
ngx_http_otp_redis_done(ngx_http_otp_redis_pending_t *pending)
{
    ngx_http_otp_store_op_t  *op;

    ngx_http_otp_store_op_t       *add;
    ngx_http_otp_redis_cluster_t  *cluster;

    op = pending->op;
    cluster = pending->cluster;

    op->backend = NULL;
    pending->op = NULL;

    /* its WAIT, if any, answers for it no more */
    ngx_http_otp_redis_wait_leave(pending);

    if (pending->refs == 0) {
        ngx_free(pending);
    }

    /* a Cluster: the counters the script answered, for their own slot */
    add = (cluster && op->ncounts && op->status == NGX_HTTP_OTP_STORE_OK)
          ? ngx_http_otp_redis_cluster_count(cluster, op) : NULL;

    ngx_http_otp_store_op_finish(op);

    if (add) {
        ngx_http_otp_redis_cluster_count_start(cluster, add);
    }
}


/*
 * wait=: group commit.  WAIT acknowledges every write the connection made
 * before it, and Redis blocks the connection while it waits: a WAIT
 * behind each script would serialize the worker's operations on the
 * replicas' round trips.  So the writes sent while the event loop handles
 * one batch of events join ctx->batch, and one WAIT, sent from a posted
 * event once the batch is over, answers for all of them.
 */

static void
ngx_http_otp_redis_wait_join(ngx_http_otp_redis_ctx_t *ctx,
    ngx_http_otp_redis_pending_t *pending)
{
    ngx_queue_insert_tail(&ctx->batch, &pending->wq);
    pending->in_wait = 1;
    pending->refs++;

    if (!ctx->wait_event.posted) {
        ngx_post_event(&ctx->wait_event, &ngx_posted_events);
    }
}


/* out of its batch or WAIT: the caller answers it otherwise */

static void
ngx_http_otp_redis_wait_leave(ngx_http_otp_redis_pending_t *pending)
{
    if (!pending->in_wait) {
        return;
    }

    ngx_queue_remove(&pending->wq);
    pending->in_wait = 0;
    pending->refs--;
}


static void
ngx_http_otp_redis_wait_handler(ngx_event_t *ev)
{
    const char                 *argv[3];
    size_t                      argvlen[3];
    u_char                      n[NGX_INT_T_LEN], t[NGX_INT_T_LEN];
    ngx_connection_t           *ident;
    ngx_http_otp_redis_ctx_t   *ctx;
    ngx_http_otp_redis_wait_t  *w;

    ident = ev->data;
    ctx = ((ngx_http_otp_redis_conn_t *) ident->data)->data;

    if (ngx_queue_empty(&ctx->batch)) {
        return;
    }

    if (ctx->wait_sent) {
        /*
         * One WAIT at a time: Redis holds the connection while a WAIT
         * waits, and WAITs sent behind WAITs would add their times up
         * for everything queued after them.  Its reply sends the next,
         * for the writes made meanwhile.
         */
        return;
    }

    w = NULL;

    if (ctx->rc.state == NGX_HTTP_OTP_REDIS_READY && ctx->rc.ac) {
        w = ngx_alloc(sizeof(ngx_http_otp_redis_wait_t), ctx->rc.log);
    }

    if (w) {
        argv[0] = "WAIT";
        argvlen[0] = 4;
        argv[1] = (const char *) n;
        argvlen[1] = ngx_sprintf(n, "%ui", ctx->rc.scf->wait_replicas) - n;
        argv[2] = (const char *) t;
        argvlen[2] = ngx_sprintf(t, "%M", ctx->rc.scf->wait_timeout) - t;

        if (redisAsyncCommandArgv(ctx->rc.ac, ngx_http_otp_redis_wait_reply,
                                  w, 3, argv, argvlen)
            != REDIS_OK)
        {
            ngx_free(w);
            w = NULL;
        }
    }

    if (w == NULL) {
        /* the connection is going: nothing can acknowledge them */
        ngx_http_otp_redis_wait_fail(&ctx->batch);
        return;
    }

    w->ctx = ctx;
    ctx->wait_sent = 1;

    ngx_queue_init(&w->pendings);
    ngx_queue_add(&w->pendings, &ctx->batch);
    ngx_queue_init(&ctx->batch);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ctx->rc.log, 0,
                   "otp redis store: WAIT %p sent", w);
}


/* operations no WAIT will answer for: answered as not acknowledged */

static void
ngx_http_otp_redis_wait_fail(ngx_queue_t *queue)
{
    ngx_queue_t                   *q;
    ngx_http_otp_redis_pending_t  *pending;

    while (!ngx_queue_empty(queue)) {
        q = ngx_queue_head(queue);
        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, wq);

        ngx_http_otp_redis_wait_leave(pending);

        if (pending->op == NULL) {
            if (pending->refs == 0) {
                ngx_free(pending);
            }

            continue;
        }

        if (pending->answered) {
            ngx_http_otp_redis_unacked(pending, 0);
            ngx_http_otp_redis_done(pending);
            continue;
        }

        /* its script's reply answers it */
        pending->unacked = 1;
    }
}


/*
 * WAIT's answer: how many replicas acknowledged every write this
 * connection made so far, the scripts of this WAIT's operations included
 * (their replies came before it).  What follows when fewer than N did
 * (ngx_http_otp_redis_unacked()) is the point of wait=.
 */

static void
ngx_http_otp_redis_wait_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                 *reply = r;
    ngx_http_otp_redis_wait_t  *w = privdata;

    size_t                         n;
    ngx_queue_t                   *q;
    ngx_uint_t                     logged;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_ctx_t      *ctx;
    ngx_http_otp_redis_pending_t  *pending;
    u_char                         text[4 * NGX_HTTP_OTP_REDIS_TEXT_MAX];

    ctx = w->ctx;
    ctx->wait_sent = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, w->ctx->rc.log, 0,
                   "otp redis store: WAIT %p reply: type %d, %L", w,
                   reply ? reply->type : -1,
                   (reply && reply->type == REDIS_REPLY_INTEGER)
                   ? reply->integer : -1LL);

    logged = 0;

    while (!ngx_queue_empty(&w->pendings)) {
        q = ngx_queue_head(&w->pendings);
        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, wq);

        ngx_http_otp_redis_wait_leave(pending);

        op = pending->op;

        if (op == NULL) {
            /* timed out, or its script failed: answered already */
            if (pending->refs == 0) {
                ngx_free(pending);
            }

            continue;
        }

        if (!pending->answered) {
            /* replies come in order: only if its EVAL was resent */
            pending->unacked = 1;
            continue;
        }

        if (reply == NULL) {
            op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

        } else if (reply->type == REDIS_REPLY_INTEGER) {
            if (reply->integer
                < (long long) w->ctx->rc.scf->wait_replicas)
            {
                ngx_http_otp_redis_unacked(pending, reply->integer);
            }

        } else {
            /* a replica's "WAIT cannot be used", a NOPERM: not acked */
            if (reply->type == REDIS_REPLY_ERROR && !logged) {
                n = ngx_http_otp_redis_text(text, reply->str, reply->len);

                ngx_log_error(NGX_LOG_ERR, w->ctx->rc.log, 0,
                              "otp redis store: WAIT failed: %*s", n, text);
                logged = 1;
            }

            op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
        }

        ngx_http_otp_redis_done(pending);
    }

    ngx_free(w);

    /* the writes made while it waited: the next WAIT (or, the connection
     * gone, the handler fails them) */

    if (!ngx_queue_empty(&ctx->batch) && !ctx->wait_event.posted
        && !ctx->rc.exiting)
    {
        ngx_post_event(&ctx->wait_event, &ngx_posted_events);
    }
}


/*
 * Fewer replicas than wait= asks for have the operation's write: a
 * failover now could promote one that lacks it.  What is safe to answer:
 *
 * - A refusal (COOLDOWN, LIMITED, LOCKED, EXPIRED, EXHAUSTED, OPTED_OUT,
 *   SEEN, NOT_FOUND, UNCHANGED) is answered as it is: refusing is failing
 *   closed whatever the replicas hold, and if the counter that caused it
 *   is lost, the worst is a client allowed one more try later.
 * - An ISSUE that stored a code: 503, and the code is not sent.  A code
 *   that a failover may lose must not reach the user, who would then
 *   type a code that no longer exists (the code stays on this master:
 *   with no failover a retry meets COOLDOWN until resend_after).
 * - A VERIFY of the right code: 503, never "verified".  The script
 *   deleted the code on this master; a failover to a replica that missed
 *   the delete would bring it back unused, and the same code would
 *   verify a second time (a replay).  Answering 503 grants nothing: if
 *   the code comes back, it was never used, and the user may verify it
 *   (or ask for a new one).
 * - A VERIFY of a wrong code: 503 too.  Its failure counter may be lost,
 *   and answering "invalid" would hand out a free guess; with 503 for
 *   right and wrong codes alike, the answer tells a guesser nothing.
 * - Any other write that succeeded (REVOKE, an opt-out, a budget count, a
 *   message record or status, a replay mark): 503, so that the caller
 *   (the client, or a provider's webhook, which retries) does it again.
 */

static void
ngx_http_otp_redis_unacked(ngx_http_otp_redis_pending_t *pending,
    long long acked)
{
    ngx_http_otp_store_op_t  *op;

    op = pending->op;

    if (op->status != NGX_HTTP_OTP_STORE_OK
        && op->status != NGX_HTTP_OTP_STORE_INVALID)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, op->log, 0,
                  "otp redis store: %s acknowledged by %L of %ui "
                  "replicas in %M ms, answered as unavailable",
                  ngx_http_otp_redis_names[pending->script], acked,
                  pending->ctx->rc.scf->wait_replicas,
                  pending->ctx->rc.scf->wait_timeout);

    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
    op->retry_after = 0;
    op->attempts_remaining = 0;
    op->first_over = 0;
}


/* what WAIT follows: every script but the two that only read */

static ngx_uint_t
ngx_http_otp_redis_writes(ngx_uint_t script)
{
    return script != NGX_HTTP_OTP_REDIS_STATUS_GET
           && script != NGX_HTTP_OTP_REDIS_CODE_LIVE
           && script != NGX_HTTP_OTP_REDIS_ANALYTICS;
}


/*
 * Sends the operations that waited for the connection, or, with fail,
 * answers them UNAVAILABLE through posted events: this runs inside hiredis
 * callbacks, where a handler must not start a new operation.
 */

static void
ngx_http_otp_redis_flush(ngx_http_otp_redis_ctx_t *ctx, ngx_uint_t fail)
{
    ngx_queue_t                   *q;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_pending_t  *pending;

    while (!ngx_queue_empty(&ctx->waiting)) {
        q = ngx_queue_head(&ctx->waiting);
        ngx_queue_remove(q);

        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, queue);
        pending->waiting = 0;
        op = pending->op;

        if (!fail && ngx_http_otp_redis_send(ctx, pending) == NGX_OK) {
            continue;
        }

        ngx_free(pending);

        op->backend = NULL;
        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

        if (ctx->rc.exiting) {
            /* exit_process: freed now, no handler runs, nothing posted */
            op->cancelled = 1;
            ngx_http_otp_store_op_finish(op);
            continue;
        }

        if (op->event.timer_set) {
            ngx_del_timer(&op->event);
        }

        op->event.handler = ngx_http_otp_redis_unavailable_handler;
        ngx_post_event(&op->event, &ngx_posted_events);
    }
}


static void
ngx_http_otp_redis_unavailable_handler(ngx_event_t *ev)
{
    ngx_http_otp_store_op_t  *op;

    op = (ngx_http_otp_store_op_t *)
             ((u_char *) ev - offsetof(ngx_http_otp_store_op_t, event));

    ngx_http_otp_store_op_finish(op);
}


/*
 * The operation is answered UNAVAILABLE now; its pending record stays with
 * hiredis, detached, until the late reply or the context's end frees it.
 * Redis may still run the script: a timed-out ISSUE can have stored a code
 * that was never sent (the client then sees COOLDOWN on a retry), which is
 * the price of failing closed rather than waiting.
 */

static void
ngx_http_otp_redis_timeout_handler(ngx_event_t *ev)
{
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_ctx_t      *ctx;
    ngx_http_otp_redis_pending_t  *pending;

    op = (ngx_http_otp_store_op_t *)
             ((u_char *) ev - offsetof(ngx_http_otp_store_op_t, event));

    pending = op->backend;
    ctx = pending->ctx;         /* NULL: waiting for the cluster's map */

    pending->op = NULL;
    op->backend = NULL;

    if (pending->delayed) {
        /* a TRYAGAIN's retry (ngx_http_otp_redis_cluster.c) */
        if (pending->retry.timer_set) {
            ngx_del_timer(&pending->retry);
        }

        pending->waiting = 1;
    }

    if (pending->waiting) {
        /* never given to hiredis: nothing else will free it */
        ngx_queue_remove(&pending->queue);
        ngx_free(pending);
        pending = NULL;
    }

    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
    op->retry_after = 0;
    op->attempts_remaining = 0;
    op->first_over = 0;

    if (ctx == NULL) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "otp redis store: %s timed out waiting for the "
                      "cluster (its slot map, or a slot's migration)",
                      ngx_http_otp_redis_names[ngx_http_otp_redis_script(op)]);

        ngx_http_otp_store_op_finish(op);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, op->log, 0,
                  "otp redis store: %s timed out after %M ms%s",
                  ngx_http_otp_redis_names[ngx_http_otp_redis_script(op)],
                  ctx->rc.scf->timeout,
                  pending ? "" : " waiting for the connection");

    if (++ctx->timeouts >= NGX_HTTP_OTP_REDIS_MAX_TIMEOUTS
        && ctx->rc.state == NGX_HTTP_OTP_REDIS_READY)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->rc.log, 0,
                      "otp redis store: %ui operations in a row timed out, "
                      "reconnecting to \"%V\"", ctx->timeouts,
                      &ctx->rc.scf->url);

        ctx->timeouts = 0;
        ctx->rc.failing = 1;

        /*
         * Not redisAsyncDisconnect(): it waits for the pending replies,
         * which a dead peer never sends.  Freeing fails them all now, and
         * before this handler's own caller may start a new operation.
         */
        ngx_http_otp_redis_conn_close(&ctx->rc);
    }

    ngx_http_otp_store_op_finish(op);
}

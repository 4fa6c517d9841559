
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store on a Redis Cluster (see the header).  The per-node work
 * (connect, AUTH, SCRIPT LOAD, EVALSHA and the NOSCRIPT fallback, the
 * queue while connecting, timeouts) is the one-Redis store's, node by
 * node (ngx_http_otp_store_redis.c); this file is the router: the slot
 * map, which node an operation goes to, and the redirects.
 *
 * The slot map is 16384 pointers to nodes, read with CLUSTER SLOTS
 * (available from Redis 3.0 to 7.x) on any READY node: at start on the
 * first seed that answers, again after a -MOVED or a node's loss (a
 * failover may have moved its slots), at most once per
 * NGX_HTTP_OTP_CLUSTER_REFRESH ms.  Only masters are in it: replicas are
 * never written.  Every address a node reports is checked by the pure
 * core (ngx_otp_redis_cluster.c, fuzzed): a numeric address only, since
 * hiredis would resolve a name with a blocking getaddrinfo().
 *
 * The nodes are never freed while the worker lives (a node leaving the
 * cluster keeps its connection, or its backoff, and serves no slot); at
 * most NGX_HTTP_OTP_CLUSTER_MAX_NODES of them, so that a hostile reply
 * cannot make a worker open connections without end.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_redis_cluster.h"


#define NGX_HTTP_OTP_CLUSTER_PORT           6379
#define NGX_HTTP_OTP_CLUSTER_MAX_NODES      64

/* MOVED and ASK followed per operation; then UNAVAILABLE */
#define NGX_HTTP_OTP_CLUSTER_MAX_REDIRECTS  5

/* a TRYAGAIN (a slot half migrated) is retried after this, in ms */
#define NGX_HTTP_OTP_CLUSTER_TRYAGAIN       20

/* the shortest time between two reads of the slot map, in ms */
#define NGX_HTTP_OTP_CLUSTER_REFRESH        100

/* after a refused or unreadable map (not a cluster, an ACL), in ms */
#define NGX_HTTP_OTP_CLUSTER_MAP_RETRY      1000


struct ngx_http_otp_redis_cluster_s {
    ngx_http_otp_store_conf_t      *scf;
    ngx_log_t                      *log;
    ngx_pool_t                     *pool;

    ngx_http_otp_redis_ctx_t       *nodes[NGX_HTTP_OTP_CLUSTER_MAX_NODES];
    ngx_uint_t                      nnodes;
    ngx_uint_t                      next;       /* who reads the map next */

    ngx_http_otp_redis_ctx_t       *slots[NGX_OTP_CLUSTER_SLOTS];

    ngx_queue_t                     waiting;    /* for the first map */
    ngx_queue_t                     delayed;    /* TRYAGAIN, retry timer */

    ngx_event_t                     refresh;    /* read the map again */
    ngx_event_t                     map_timer;  /* CLUSTER SLOTS timeout */
    ngx_http_otp_redis_ctx_t       *reader;     /* the node asked */
    ngx_connection_t                ident;      /* the events' data */

    ngx_http_otp_redis_sub_t       *sub;
    ngx_uint_t                      sub_node;   /* where it listens */

    /* since the worker started, for the log */
    ngx_uint_t                      moved;
    ngx_uint_t                      asked;
    ngx_uint_t                      retried;

    unsigned                        mapped:1;
    unsigned                        map_failing:1;  /* logged once */
    unsigned                        reading:1;  /* CLUSTER SLOTS sent */
    unsigned                        stale:1;    /* to be read again */
    unsigned                        exiting:1;
};


static ngx_int_t ngx_http_otp_redis_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf);
static void ngx_http_otp_redis_cluster_counted(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_redis_cluster_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf);
static void ngx_http_otp_redis_cluster_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op);
static ngx_int_t ngx_http_otp_redis_cluster_watch(
    ngx_http_otp_store_conf_t *scf, ngx_http_otp_store_watch_pt handler,
    void *data);
static void ngx_http_otp_redis_cluster_unwatch(
    ngx_http_otp_store_conf_t *scf);

static ngx_http_otp_redis_ctx_t *ngx_http_otp_redis_cluster_node(
    ngx_http_otp_redis_cluster_t *cluster, const u_char *host, size_t len,
    ngx_uint_t port);
static ngx_uint_t ngx_http_otp_redis_cluster_alive(
    ngx_http_otp_redis_cluster_t *cluster);
static void ngx_http_otp_redis_cluster_read_map(
    ngx_http_otp_redis_cluster_t *cluster);
static void ngx_http_otp_redis_cluster_refresh_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_cluster_map_timeout(ngx_event_t *ev);
static void ngx_http_otp_redis_cluster_refresh_later(
    ngx_http_otp_redis_cluster_t *cluster);
static void ngx_http_otp_redis_cluster_slots(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_http_otp_redis_cluster_map(
    ngx_http_otp_redis_cluster_t *cluster, ngx_http_otp_redis_ctx_t *from,
    redisReply *reply);
static void ngx_http_otp_redis_cluster_flush(
    ngx_http_otp_redis_cluster_t *cluster, ngx_uint_t fail);
static void ngx_http_otp_redis_cluster_fail(
    ngx_http_otp_redis_pending_t *pending);
static void ngx_http_otp_redis_cluster_retry_handler(ngx_event_t *ev);
static void ngx_http_otp_redis_cluster_sub_gone(
    ngx_http_otp_redis_conn_t *rc);


ngx_http_otp_store_backend_t  ngx_http_otp_store_redis_cluster_backend = {
    "redis-cluster",
    ngx_http_otp_redis_cluster_init_process,
    ngx_http_otp_redis_cluster_exit_process,
    ngx_http_otp_redis_cluster_start,
    ngx_http_otp_redis_cluster_watch,
    ngx_http_otp_redis_cluster_unwatch
};


/*
 * "redis-cluster://HOST:PORT[,HOST:PORT...]": the seeds, any nodes of the
 * cluster, each resolved here, in the master (hiredis would resolve in
 * the worker, blocking).  Every address of a name is a seed.
 */

char *
ngx_http_otp_redis_cluster_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *url)
{
    u_char      *p, *last, *comma;
    ngx_uint_t   i;
    ngx_url_t    u;
    ngx_addr_t  *seed;

    p = url->data + sizeof("redis-cluster://") - 1;
    last = url->data + url->len;

    if (p == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no redis cluster node in \"%V\"", url);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(p, last, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "credentials in \"%V\" are not supported: "
                           "use password_file=", url);
        return NGX_CONF_ERROR;
    }

    scf->seeds = ngx_array_create(cf->pool, 4, sizeof(ngx_addr_t));
    if (scf->seeds == NULL) {
        return NGX_CONF_ERROR;
    }

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = NGX_HTTP_OTP_CLUSTER_PORT;
        u.no_resolve = 0;

        if (u.url.len == 0
            || ngx_strlchr(u.url.data, u.url.data + u.url.len, '/'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis cluster node \"%*s\" in "
                               "\"%V\": expected HOST:PORT",
                               u.url.len, u.url.data, url);
            return NGX_CONF_ERROR;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                               u.err ? u.err : "invalid address", url);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.family == AF_UNIX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis cluster node \"%*s\" in "
                               "\"%V\"", u.url.len, u.url.data, url);
            return NGX_CONF_ERROR;
        }

        for (i = 0; i < u.naddrs; i++) {
            seed = ngx_array_push(scf->seeds);
            if (seed == NULL) {
                return NGX_CONF_ERROR;
            }

            *seed = u.addrs[i];
        }

        p = comma + 1;

        if (comma + 1 == last) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid redis cluster address \"%V\": "
                               "a trailing comma", url);
            return NGX_CONF_ERROR;
        }
    }

    if (scf->seeds->nelts > NGX_HTTP_OTP_CLUSTER_MAX_NODES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d redis cluster seeds in \"%V\"",
                           NGX_HTTP_OTP_CLUSTER_MAX_NODES, url);
        return NGX_CONF_ERROR;
    }

    /* the subscriber's first node, and the one-Redis code's "TCP" */
    scf->addr = scf->seeds->elts;
    scf->unix_path.len = 0;
    scf->unix_path.data = NULL;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_redis_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf)
{
    size_t                         len;
    ngx_uint_t                     i;
    ngx_addr_t                    *seed;
    ngx_http_otp_redis_conn_t     *rc;
    ngx_http_otp_redis_cluster_t  *cluster;
    u_char                         host[NGX_SOCKADDR_STRLEN];

    /* the cache manager and loader never use the store */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    cluster = ngx_pcalloc(cycle->pool, sizeof(ngx_http_otp_redis_cluster_t));
    if (cluster == NULL) {
        return NGX_ERROR;
    }

    cluster->scf = scf;
    cluster->log = cycle->log;
    cluster->pool = cycle->pool;

    ngx_queue_init(&cluster->waiting);
    ngx_queue_init(&cluster->delayed);

    cluster->ident.fd = (ngx_socket_t) -1;
    cluster->ident.data = cluster;

    cluster->refresh.handler = ngx_http_otp_redis_cluster_refresh_handler;
    cluster->refresh.data = &cluster->ident;
    cluster->refresh.log = cycle->log;
    cluster->refresh.cancelable = 1;

    cluster->map_timer.handler = ngx_http_otp_redis_cluster_map_timeout;
    cluster->map_timer.data = &cluster->ident;
    cluster->map_timer.log = cycle->log;
    cluster->map_timer.cancelable = 1;

    cluster->sub = ngx_http_otp_redis_sub_create(cycle->pool, scf,
                                                 cycle->log);
    if (cluster->sub == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_otp_redis_sub_conn(cluster->sub);
    rc->gone = ngx_http_otp_redis_cluster_sub_gone;

    scf->backend_data = cluster;

    /* every seed connects now; the first READY one reads the map */

    seed = scf->seeds->elts;

    for (i = 0; i < scf->seeds->nelts; i++) {
        len = ngx_sock_ntop(seed[i].sockaddr, seed[i].socklen, host,
                            NGX_SOCKADDR_STRLEN, 0);

        if (ngx_http_otp_redis_cluster_node(cluster, host, len,
                                   ngx_inet_get_port(seed[i].sockaddr))
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_otp_redis_cluster_exit_process(ngx_cycle_t *cycle,
    ngx_http_otp_store_conf_t *scf)
{
    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_cluster_t  *cluster;
    ngx_http_otp_redis_pending_t  *pending;

    cluster = scf->backend_data;

    if (cluster == NULL) {
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, cluster->log, 0,
                   "otp redis cluster: exit, %ui MOVED, %ui ASK, "
                   "%ui TRYAGAIN seen", cluster->moved, cluster->asked,
                   cluster->retried);

    cluster->exiting = 1;

    if (cluster->refresh.timer_set) {
        ngx_del_timer(&cluster->refresh);
    }

    if (cluster->map_timer.timer_set) {
        ngx_del_timer(&cluster->map_timer);
    }

    /* the requests are gone with the worker: no handler runs */

    while (!ngx_queue_empty(&cluster->waiting)) {
        q = ngx_queue_head(&cluster->waiting);
        ngx_queue_remove(q);
        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, queue);
        op = pending->op;
        ngx_free(pending);
        op->backend = NULL;
        op->cancelled = 1;
        ngx_http_otp_store_op_finish(op);
    }

    while (!ngx_queue_empty(&cluster->delayed)) {
        q = ngx_queue_head(&cluster->delayed);
        ngx_queue_remove(q);
        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, queue);

        if (pending->retry.timer_set) {
            ngx_del_timer(&pending->retry);
        }

        op = pending->op;
        ngx_free(pending);
        op->backend = NULL;
        op->cancelled = 1;
        ngx_http_otp_store_op_finish(op);
    }

    for (i = 0; i < cluster->nnodes; i++) {
        ngx_http_otp_redis_conn_exit(&cluster->nodes[i]->rc);
    }

    ngx_http_otp_redis_sub_exit(cluster->sub);

    scf->backend_data = NULL;
}


static void
ngx_http_otp_redis_cluster_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op)
{
    ngx_int_t                      script;
    ngx_http_otp_redis_cluster_t  *cluster;
    ngx_http_otp_redis_pending_t  *pending;

    cluster = scf->backend_data;

    op->retry_after = 0;
    op->attempts_remaining = 0;
    op->first_over = 0;

    if (cluster == NULL) {
        goto unavailable;
    }

    /* op->event.data is an ident: the handlers find op by offset */
    op->event.data = &cluster->ident;

    script = ngx_http_otp_redis_script(op);

    if (script == NGX_ERROR) {
        goto unavailable;
    }

    pending = ngx_calloc(sizeof(ngx_http_otp_redis_pending_t), cluster->log);
    if (pending == NULL) {
        goto unavailable;
    }

    pending->op = op;
    pending->cluster = cluster;
    pending->script = script;

    pending->retry.handler = ngx_http_otp_redis_cluster_retry_handler;
    pending->retry.data = &cluster->ident;
    pending->retry.log = cluster->log;
    pending->retry.cancelable = 1;

    if (script == NGX_HTTP_OTP_REDIS_ISSUE) {
        /*
         * The client window (otp:c:{C}) is in another slot than the
         * number's keys: its own script first, in its own slot, then
         * ISSUE without it (ngx_http_otp_redis_reply()).
         */
        pending->split = 1;

        if (op->client_limit) {
            pending->script = NGX_HTTP_OTP_REDIS_CLIENT;
        }
    }

    if (ngx_http_otp_redis_cluster_route(pending) == NGX_OK) {
        return;
    }

    ngx_free(pending);

unavailable:

    ngx_http_otp_redis_post_unavailable(op);
}


ngx_int_t
ngx_http_otp_redis_cluster_route(ngx_http_otp_redis_pending_t *pending)
{
    ngx_uint_t                     slot;
    ngx_http_otp_redis_ctx_t      *node;
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = pending->cluster;

    pending->asking = 0;

    if (!cluster->mapped) {

        if (!ngx_http_otp_redis_cluster_alive(cluster)) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pending->op->log, 0,
                           "otp redis cluster: no map, no node up");
            return NGX_DECLINED;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pending->op->log, 0,
                       "otp redis cluster: waiting for the slot map");

        pending->waiting = 1;
        ngx_http_otp_redis_hold(pending, &cluster->waiting,
                                cluster->scf->timeout);
        return NGX_OK;
    }

    slot = ngx_http_otp_redis_slot(pending);
    node = cluster->slots[slot];

    if (node == NULL) {
        ngx_log_error(NGX_LOG_ERR, pending->op->log, 0,
                      "otp redis cluster: no master serves slot %ui",
                      slot);
        ngx_http_otp_redis_cluster_refresh_later(cluster);
        return NGX_DECLINED;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, pending->op->log, 0,
                   "otp redis cluster: slot %ui to %s:%d, state %d",
                   slot, node->rc.host, node->rc.port,
                   (int) node->rc.state);

    if (ngx_http_otp_redis_submit(node, pending) != NGX_OK) {
        /* fail closed: the slot's master is down, the others go on */
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_redis_cluster_error(ngx_http_otp_redis_pending_t *pending,
    redisReply *reply)
{
    u_char                        *host;
    size_t                         len;
    ngx_http_otp_store_op_t       *op;
    ngx_http_otp_redis_ctx_t      *node, *from;
    ngx_otp_cluster_redirect_t     r;
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = pending->cluster;
    from = pending->ctx;
    op = pending->op;

    if (reply->len >= 8 && ngx_strncmp(reply->str, "TRYAGAIN", 8) == 0) {
        /*
         * A multi-key script while its slot migrates, some keys on each
         * side: asked again a little later, from the map (the source
         * answers -ASK once all keys moved), within op's timeout.
         */
        cluster->retried++;

        /*
         * -ASK then -TRYAGAIN is the migration's normal course, not a
         * loop: the redirects are counted again from here, and the
         * operation's timeout is the bound.
         */
        pending->redirects = 0;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, op->log, 0,
                       "otp redis cluster: TRYAGAIN from %s:%d, later",
                       from->rc.host, from->rc.port);

        pending->delayed = 1;
        ngx_http_otp_redis_hold(pending, &cluster->delayed,
                                cluster->scf->timeout);
        ngx_add_timer(&pending->retry, NGX_HTTP_OTP_CLUSTER_TRYAGAIN);

        return NGX_OK;
    }

    if (reply->len >= 11 && ngx_strncmp(reply->str, "CLUSTERDOWN", 11) == 0)
    {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "otp redis cluster: %s:%d says the cluster is down",
                      from->rc.host, from->rc.port);
        ngx_http_otp_redis_cluster_refresh_later(cluster);
        return NGX_ERROR;
    }

    if (ngx_otp_cluster_redirect((u_char *) reply->str, reply->len, &r)
        != NGX_OTP_OK)
    {
        /* a script's error, or a redirect we do not follow */
        return NGX_DECLINED;
    }

    if (++pending->redirects > NGX_HTTP_OTP_CLUSTER_MAX_REDIRECTS) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "otp redis cluster: more than %d redirects for "
                      "slot %ui, giving up",
                      NGX_HTTP_OTP_CLUSTER_MAX_REDIRECTS, (ngx_uint_t) r.slot);
        ngx_http_otp_redis_cluster_refresh_later(cluster);
        return NGX_ERROR;
    }

    /* "MOVED 5 :7002": the node that answered, on another port */

    if (r.host_len) {
        host = (u_char *) r.host;
        len = r.host_len;

    } else {
        host = (u_char *) from->rc.host;
        len = ngx_strlen(from->rc.host);
    }

    node = ngx_http_otp_redis_cluster_node(cluster, host, len, r.port);

    if (node == NULL) {
        return NGX_ERROR;
    }

    if (r.ask) {
        cluster->asked++;

        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "otp redis cluster: ASK: slot %ui is moving from "
                      "%s:%d to %s:%d", (ngx_uint_t) r.slot, from->rc.host,
                      from->rc.port, node->rc.host, node->rc.port);

    } else {
        cluster->moved++;

        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "otp redis cluster: MOVED: slot %ui is at %s:%d now",
                      (ngx_uint_t) r.slot, node->rc.host, node->rc.port);

        /* this slot now; the rest of the map read again, soon */
        cluster->slots[r.slot] = node;
        ngx_http_otp_redis_cluster_refresh_later(cluster);
    }

    pending->asking = r.ask;

    if (ngx_http_otp_redis_submit(node, pending) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The node at host:port, made and connecting if it is new; NULL past the
 * limit of nodes.  host is a numeric address (ngx_otp_cluster_node_addr()
 * or ngx_sock_ntop()), so hiredis resolves nothing.
 */

static ngx_http_otp_redis_ctx_t *
ngx_http_otp_redis_cluster_node(ngx_http_otp_redis_cluster_t *cluster,
    const u_char *host, size_t len, ngx_uint_t port)
{
    ngx_uint_t                 i;
    ngx_http_otp_redis_ctx_t  *node;

    for (i = 0; i < cluster->nnodes; i++) {
        node = cluster->nodes[i];

        if ((ngx_uint_t) node->rc.port == port
            && ngx_strlen(node->rc.host) == len
            && ngx_strncmp(node->rc.host, host, len) == 0)
        {
            return node;
        }
    }

    if (cluster->nnodes == NGX_HTTP_OTP_CLUSTER_MAX_NODES
        || len > NGX_SOCKADDR_STRLEN)
    {
        ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                      "otp redis cluster: more than %d nodes, "
                      "%*s:%ui ignored", NGX_HTTP_OTP_CLUSTER_MAX_NODES,
                      len, host, port);
        return NULL;
    }

    node = ngx_pcalloc(cluster->pool, sizeof(ngx_http_otp_redis_ctx_t));
    if (node == NULL) {
        return NULL;
    }

    if (ngx_http_otp_redis_node_init(node, cluster->scf, cluster->log)
        != NGX_OK)
    {
        return NULL;
    }

    node->cluster = cluster;

    ngx_memcpy(node->rc.host, host, len);
    node->rc.host[len] = '\0';
    node->rc.port = (int) port;

    cluster->nodes[cluster->nnodes++] = node;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, cluster->log, 0,
                   "otp redis cluster: node %s:%d", node->rc.host,
                   node->rc.port);

    if (!cluster->exiting) {
        /* a new context: never inside one of its own callbacks */
        ngx_http_otp_redis_conn_connect(&node->rc);
    }

    return node;
}


/* a node connected or on its way: worth waiting for the map */

static ngx_uint_t
ngx_http_otp_redis_cluster_alive(ngx_http_otp_redis_cluster_t *cluster)
{
    ngx_uint_t  i;

    for (i = 0; i < cluster->nnodes; i++) {
        if (cluster->nodes[i]->rc.state != NGX_HTTP_OTP_REDIS_DISCONNECTED
            && cluster->nodes[i]->rc.state != NGX_HTTP_OTP_REDIS_CLOSING)
        {
            return 1;
        }
    }

    return 0;
}


/* CLUSTER SLOTS on the next READY node; later if none is */

static void
ngx_http_otp_redis_cluster_read_map(ngx_http_otp_redis_cluster_t *cluster)
{
    ngx_uint_t                 i;
    ngx_http_otp_redis_ctx_t  *node;

    if (cluster->exiting) {
        return;
    }

    if (cluster->reading) {
        cluster->stale = 1;
        return;
    }

    for (i = 0; i < cluster->nnodes; i++) {
        node = cluster->nodes[(cluster->next + i) % cluster->nnodes];

        if (node->rc.state != NGX_HTTP_OTP_REDIS_READY) {
            continue;
        }

        cluster->next = (cluster->next + i + 1) % cluster->nnodes;

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, cluster->log, 0,
                       "otp redis cluster: CLUSTER SLOTS to %s:%d",
                       node->rc.host, node->rc.port);

        if (redisAsyncCommand(node->rc.ac, ngx_http_otp_redis_cluster_slots,
                              node, "CLUSTER SLOTS")
            != REDIS_OK)
        {
            continue;
        }

        cluster->reading = 1;
        cluster->stale = 0;

        /* a node that never answers must not stop the map's refresh */
        cluster->reader = node;
        ngx_add_timer(&cluster->map_timer, cluster->scf->timeout);

        return;
    }

    /* the next node READY reads it */
    cluster->stale = 1;
}


static void
ngx_http_otp_redis_cluster_refresh_handler(ngx_event_t *ev)
{
    ngx_connection_t  *ident;

    ident = ev->data;

    ngx_http_otp_redis_cluster_read_map(ident->data);
}


/*
 * CLUSTER SLOTS unanswered within the store's timeout (a node silent, not
 * gone): that connection is closed, which answers the read with no reply
 * (ngx_http_otp_redis_cluster_slots()), and another node is asked later.
 */

static void
ngx_http_otp_redis_cluster_map_timeout(ngx_event_t *ev)
{
    ngx_connection_t              *ident;
    ngx_http_otp_redis_cluster_t  *cluster;

    ident = ev->data;
    cluster = ident->data;

    if (!cluster->reading || cluster->reader == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, cluster->log, 0,
                  "otp redis cluster: %s:%d did not answer CLUSTER SLOTS "
                  "in %M ms: its connection is closed",
                  cluster->reader->rc.host, cluster->reader->rc.port,
                  cluster->scf->timeout);

    ngx_http_otp_redis_conn_close(&cluster->reader->rc);
}


/* a timer, so that a burst of MOVED reads the map once */

static void
ngx_http_otp_redis_cluster_refresh_later(
    ngx_http_otp_redis_cluster_t *cluster)
{
    cluster->stale = 1;

    if (cluster->exiting || cluster->reading
        || cluster->refresh.timer_set)
    {
        return;
    }

    ngx_add_timer(&cluster->refresh, NGX_HTTP_OTP_CLUSTER_REFRESH);
}


static void
ngx_http_otp_redis_cluster_slots(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                    *reply = r;
    ngx_http_otp_redis_ctx_t      *node = privdata;

    size_t                         n;
    ngx_uint_t                     level;
    ngx_http_otp_redis_cluster_t  *cluster;
    u_char                         text[4 * NGX_HTTP_OTP_REDIS_TEXT_MAX];

    cluster = node->cluster;
    cluster->reading = 0;
    cluster->reader = NULL;

    if (cluster->map_timer.timer_set) {
        ngx_del_timer(&cluster->map_timer);
    }

    if (reply == NULL || cluster->exiting) {
        /* that node went: another one, later */
        ngx_http_otp_redis_cluster_refresh_later(cluster);
        return;
    }

    if (ngx_http_otp_redis_cluster_map(cluster, node, reply) != NGX_OK) {

        /* once per outage at the error level, as the connections do */
        level = cluster->map_failing ? NGX_LOG_INFO : NGX_LOG_ERR;
        cluster->map_failing = 1;

        if (reply->type == REDIS_REPLY_ERROR) {
            n = ngx_http_otp_redis_text(text, reply->str, reply->len);

            ngx_log_error(level, cluster->log, 0,
                          "otp redis cluster: %s:%d refused CLUSTER SLOTS: "
                          "%*s", node->rc.host, node->rc.port, n, text);

        } else {
            ngx_log_error(level, cluster->log, 0,
                          "otp redis cluster: unexpected reply to CLUSTER "
                          "SLOTS from %s:%d", node->rc.host, node->rc.port);
        }

        cluster->stale = 1;

        if (!cluster->refresh.timer_set) {
            ngx_add_timer(&cluster->refresh,
                          NGX_HTTP_OTP_CLUSTER_MAP_RETRY);
        }

        if (!cluster->mapped) {
            /* no map to wait for soon: fail closed now */
            ngx_http_otp_redis_cluster_flush(cluster, 1);
        }

        return;
    }

    if (cluster->map_failing) {
        cluster->map_failing = 0;

        ngx_log_error(NGX_LOG_NOTICE, cluster->log, 0,
                      "otp redis cluster: slot map read from %s:%d again",
                      node->rc.host, node->rc.port);
    }

    if (cluster->stale) {
        ngx_http_otp_redis_cluster_refresh_later(cluster);
    }

    ngx_http_otp_redis_cluster_flush(cluster, 0);
}


/*
 * [[start, end, [host, port, id, ...], replica...], ...]: every entry
 * checked first (ngx_otp_cluster_slots_entry()), then the map replaced
 * whole; replicas are skipped.  An empty host is the node that answered.
 */

static ngx_int_t
ngx_http_otp_redis_cluster_map(ngx_http_otp_redis_cluster_t *cluster,
    ngx_http_otp_redis_ctx_t *from, redisReply *reply)
{
    size_t                     len;
    u_char                    *host;
    ngx_uint_t                 i, slot, nslots, level;
    redisReply                *e, *m;
    ngx_http_otp_redis_ctx_t  *node;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[2]->type != REDIS_REPLY_ARRAY
            || e->element[2]->elements < 2
            || e->element[2]->element[0]->type != REDIS_REPLY_STRING
            || e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        m = e->element[2];

        if (ngx_otp_cluster_slots_entry(e->element[0]->integer,
                                        e->element[1]->integer,
                                        (u_char *) m->element[0]->str,
                                        m->element[0]->len,
                                        m->element[1]->integer)
            != NGX_OTP_OK)
        {
            ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                          "otp redis cluster: CLUSTER SLOTS from %s:%d "
                          "names a master that is not a numeric address "
                          "(set cluster-preferred-endpoint-type ip)",
                          from->rc.host, from->rc.port);
            return NGX_ERROR;
        }
    }

    ngx_memzero(cluster->slots, sizeof(cluster->slots));

    nslots = 0;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];
        m = e->element[2];

        if (m->element[0]->len) {
            host = (u_char *) m->element[0]->str;
            len = m->element[0]->len;

        } else {
            host = (u_char *) from->rc.host;
            len = ngx_strlen(from->rc.host);
        }

        node = ngx_http_otp_redis_cluster_node(cluster, host, len,
                                        (ngx_uint_t) m->element[1]->integer);

        if (node == NULL) {
            continue;
        }

        for (slot = (ngx_uint_t) e->element[0]->integer;
             slot <= (ngx_uint_t) e->element[1]->integer;
             slot++)
        {
            cluster->slots[slot] = node;
            nslots++;
        }
    }

    level = (nslots == NGX_OTP_CLUSTER_SLOTS) ? NGX_LOG_INFO : NGX_LOG_WARN;

    if (!cluster->mapped || nslots != NGX_OTP_CLUSTER_SLOTS) {
        ngx_log_error(level, cluster->log, 0,
                      "otp redis cluster: slot map from %s:%d: %ui ranges, "
                      "%ui of %d slots served", from->rc.host,
                      from->rc.port, (ngx_uint_t) reply->elements, nslots,
                      NGX_OTP_CLUSTER_SLOTS);
    }

    cluster->mapped = 1;

    return NGX_OK;
}


/*
 * The operations that waited for the map: routed, or (fail) answered
 * UNAVAILABLE through posted events (this runs in hiredis callbacks).
 */

static void
ngx_http_otp_redis_cluster_flush(ngx_http_otp_redis_cluster_t *cluster,
    ngx_uint_t fail)
{
    ngx_queue_t                   *q;
    ngx_http_otp_redis_pending_t  *pending;

    while (!ngx_queue_empty(&cluster->waiting)) {
        q = ngx_queue_head(&cluster->waiting);
        ngx_queue_remove(q);

        pending = ngx_queue_data(q, ngx_http_otp_redis_pending_t, queue);
        pending->waiting = 0;

        if (!fail && ngx_http_otp_redis_cluster_route(pending) == NGX_OK) {
            continue;
        }

        ngx_http_otp_redis_cluster_fail(pending);
    }
}


static void
ngx_http_otp_redis_cluster_fail(ngx_http_otp_redis_pending_t *pending)
{
    ngx_http_otp_store_op_t  *op;

    op = pending->op;

    ngx_free(pending);

    op->backend = NULL;

    if (op->event.timer_set) {
        ngx_del_timer(&op->event);
    }

    ngx_http_otp_redis_post_unavailable(op);
}


static void
ngx_http_otp_redis_cluster_retry_handler(ngx_event_t *ev)
{
    ngx_http_otp_redis_pending_t  *pending;

    pending = (ngx_http_otp_redis_pending_t *)
                  ((u_char *) ev
                   - offsetof(ngx_http_otp_redis_pending_t, retry));

    ngx_queue_remove(&pending->queue);
    pending->delayed = 0;

    if (ngx_http_otp_redis_cluster_route(pending) == NGX_OK) {
        return;
    }

    ngx_http_otp_redis_cluster_fail(pending);
}


void
ngx_http_otp_redis_cluster_node_ready(ngx_http_otp_redis_ctx_t *node)
{
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = node->cluster;

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, cluster->log, 0,
                   "otp redis cluster: %s:%d ready, map %s%s",
                   node->rc.host, node->rc.port,
                   cluster->mapped ? "read" : "not read",
                   cluster->stale ? ", stale" : "");

    if (node->down) {
        node->down = 0;

        ngx_log_error(NGX_LOG_NOTICE, cluster->log, 0,
                      "otp redis cluster: node %s:%d is back",
                      node->rc.host, node->rc.port);
    }

    if ((!cluster->mapped || cluster->stale) && !cluster->reading
        && !cluster->refresh.timer_set)
    {
        ngx_http_otp_redis_cluster_read_map(cluster);
    }
}


/*
 * Its operations already failed (fail closed); its slots stay its own
 * until a map says otherwise: read again, in case of a failover.
 */

void
ngx_http_otp_redis_cluster_node_gone(ngx_http_otp_redis_ctx_t *node)
{
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = node->cluster;

    if (cluster->exiting) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, cluster->log, 0,
                   "otp redis cluster: %s:%d gone", node->rc.host,
                   node->rc.port);

    if (!node->down) {
        /* the connection's own lines name the store's URL, not the node */
        node->down = 1;

        ngx_log_error(NGX_LOG_ERR, cluster->log, 0,
                      "otp redis cluster: node %s:%d is down: the slots it "
                      "serves answer 503 until it or a new map is back",
                      node->rc.host, node->rc.port);
    }

    if (cluster->mapped) {
        ngx_http_otp_redis_cluster_refresh_later(cluster);
        return;
    }

    if (!ngx_http_otp_redis_cluster_alive(cluster)) {
        /* no seed answers: no waiting for a map that is not coming */
        ngx_http_otp_redis_cluster_flush(cluster, 1);
    }
}


/*
 * The subscriber's node went: it comes back on another one, a READY node
 * if there is one (PUBLISH reaches every node of the cluster).  The
 * connection's backoff still paces the attempts.
 */

static void
ngx_http_otp_redis_cluster_sub_gone(ngx_http_otp_redis_conn_t *rc)
{
    ngx_uint_t                     i, n, pick;
    ngx_http_otp_redis_ctx_t      *node;
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = rc->scf->backend_data;

    if (cluster == NULL || cluster->exiting || cluster->nnodes < 2) {
        return;
    }

    pick = cluster->nnodes;

    for (i = 1; i <= cluster->nnodes; i++) {
        n = (cluster->sub_node + i) % cluster->nnodes;

        if (cluster->nodes[n]->rc.state == NGX_HTTP_OTP_REDIS_READY) {
            pick = n;
            break;
        }
    }

    if (pick == cluster->nnodes) {
        /* none READY: simply the next one */
        pick = (cluster->sub_node + 1) % cluster->nnodes;
    }

    cluster->sub_node = pick;
    node = cluster->nodes[pick];

    ngx_log_error(NGX_LOG_INFO, cluster->log, 0,
                  "otp redis cluster: the subscriber moves from %s:%d to "
                  "%s:%d", rc->host, rc->port, node->rc.host,
                  node->rc.port);

    ngx_memcpy(rc->host, node->rc.host, sizeof(rc->host));
    rc->port = node->rc.port;
}


static ngx_int_t
ngx_http_otp_redis_cluster_watch(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_watch_pt handler, void *data)
{
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = scf->backend_data;

    if (cluster == NULL || handler == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_otp_redis_sub_watch(cluster->sub, handler, data);
}


static void
ngx_http_otp_redis_cluster_unwatch(ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_redis_cluster_t  *cluster;

    cluster = scf->backend_data;

    if (cluster) {
        ngx_http_otp_redis_sub_unwatch(cluster->sub);
    }
}


/*
 * The hour's analytics counters are in the slot of {a}, never in the
 * message record's that MESSAGE_PUT and STATUS_SET ran in: their script
 * answered the counters, and they are added by a script of their own, an
 * operation of the worker's with no request behind it.  Not atomic with
 * the first: a count is lost (logged) when this one fails, never counted
 * twice, since only the script that changed the record answers counters.
 */

ngx_http_otp_store_op_t *
ngx_http_otp_redis_cluster_count(ngx_http_otp_redis_cluster_t *cluster,
    ngx_http_otp_store_op_t *op)
{
    ngx_http_otp_store_op_t  *add;

    if (cluster->exiting) {
        return NULL;
    }

    add = ngx_http_otp_store_op_create(cluster->log);
    if (add == NULL) {
        return NULL;
    }

    add->type = NGX_HTTP_OTP_OP_ANALYTICS_ADD;
    add->handler = ngx_http_otp_redis_cluster_counted;
    add->ncounts = op->ncounts;
    ngx_memcpy(add->counts, op->counts, sizeof(op->counts));

    return add;
}


void
ngx_http_otp_redis_cluster_count_start(ngx_http_otp_redis_cluster_t *cluster,
    ngx_http_otp_store_op_t *add)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, cluster->log, 0,
                   "otp redis cluster: analytics add %p, %ui counters",
                   add, add->ncounts);

    ngx_http_otp_store_start(cluster->scf, add);
}


static void
ngx_http_otp_redis_cluster_counted(ngx_http_otp_store_op_t *op)
{
    if (op->status != NGX_HTTP_OTP_STORE_OK) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "otp redis cluster: %ui analytics counters lost",
                      op->ncounts);
    }
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The per-worker registry of status waiters (see ngx_http_otp_wait.h).
 *
 * Cost: a waiter is a queue link in its request; an id waited for is one
 * node (an rbtree node, its latest record, at most one STATUS_GET in
 * flight).  The store is read once per id when the id is first waited
 * for, and then once per announced change of it (a change announced while
 * its read is in flight asks for one more read after it, not one per
 * announcement): never per waiter, never by the clock, unless the store
 * cannot watch (then every waited id is read once a second).
 *
 * A worker that shuts down gracefully would keep long-polls open up to
 * their end; a cancelable timer (it holds no worker up) looks once a
 * second whether the worker is exiting and answers every waiter then.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_wait.h"
#include "ngx_http_otp_metrics.h"


#define NGX_HTTP_OTP_WAIT_TICK      1000


typedef struct {
    ngx_rbtree_node_t               rbnode;       /* key: crc32 of the id */
    ngx_queue_t                     all;          /* the registry's nodes */
    ngx_queue_t                     waiters;
    ngx_http_otp_store_op_t        *op;           /* STATUS_GET in flight */
    ngx_http_otp_message_t          message;      /* valid when known */
    unsigned                        known:1;
    unsigned                        again:1;      /* read once more */
    unsigned                        busy:1;       /* being told */
    size_t                          id_len;
    u_char                          id[1];
} ngx_http_otp_wait_node_t;


typedef struct {
    ngx_rbtree_t                    tree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     nodes;
    ngx_uint_t                      nnodes;
    ngx_uint_t                      nwaiters;
    ngx_http_otp_store_conf_t      *scf;
    ngx_event_t                     tick;
    unsigned                        init:1;
    unsigned                        watching:1;
    unsigned                        polling:1;
} ngx_http_otp_wait_registry_t;


static void ngx_http_otp_wait_init(ngx_http_otp_store_conf_t *scf);
static void ngx_http_otp_wait_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_otp_wait_node_t *ngx_http_otp_wait_lookup(u_char *id,
    size_t len, uint32_t hash);
static void ngx_http_otp_wait_start(void);
static void ngx_http_otp_wait_changed(ngx_str_t *id, void *data);
static void ngx_http_otp_wait_read(ngx_http_otp_wait_node_t *node);
static void ngx_http_otp_wait_read_done(ngx_http_otp_store_op_t *op);
static void ngx_http_otp_wait_tell(ngx_http_otp_wait_node_t *node,
    ngx_int_t rc);
static void ngx_http_otp_wait_free(ngx_http_otp_wait_node_t *node);
static void ngx_http_otp_wait_tick(ngx_event_t *ev);


/* per worker: a worker's waiters are its own requests */
static ngx_http_otp_wait_registry_t  ngx_http_otp_wait_registry;


ngx_int_t
ngx_http_otp_wait_add(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_waiter_t *w, u_char *id, size_t len,
    ngx_http_otp_message_t **message)
{
    uint32_t                       hash;
    ngx_http_otp_wait_node_t      *node;
    ngx_http_otp_wait_registry_t  *reg;

    reg = &ngx_http_otp_wait_registry;

    if (!reg->init) {
        ngx_http_otp_wait_init(scf);
    }

    hash = ngx_crc32_short(id, len);

    node = ngx_http_otp_wait_lookup(id, len, hash);

    if (node == NULL) {
        node = ngx_alloc(sizeof(ngx_http_otp_wait_node_t) + len, w->log);
        if (node == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(node, sizeof(ngx_http_otp_wait_node_t));

        node->rbnode.key = hash;
        node->id_len = len;
        ngx_memcpy(node->id, id, len);
        ngx_queue_init(&node->waiters);

        ngx_rbtree_insert(&reg->tree, &node->rbnode);
        ngx_queue_insert_tail(&reg->nodes, &node->all);

        if (reg->nnodes++ == 0) {
            /* the watch first, then the first read: no change is lost */
            ngx_http_otp_wait_start();
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "otp wait: node %p for \"%*s\"", node, len, id);
    }

    ngx_queue_insert_tail(&node->waiters, &w->queue);
    w->node = node;
    reg->nwaiters++;
    ngx_http_otp_metrics_longpoll(1);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "otp wait: waiter %p added to node %p, %ui waiters on "
                   "%ui ids", w, node, reg->nwaiters, reg->nnodes);

    if (node->known) {
        *message = &node->message;
        return NGX_OK;
    }

    if (node->op == NULL) {
        ngx_http_otp_wait_read(node);

        if (node->op == NULL) {
            ngx_http_otp_wait_remove(w);
            return NGX_ERROR;
        }
    }

    return NGX_AGAIN;
}


void
ngx_http_otp_wait_remove(ngx_http_otp_waiter_t *w)
{
    ngx_http_otp_wait_node_t      *node;
    ngx_http_otp_wait_registry_t  *reg;

    node = w->node;

    if (node == NULL) {
        return;
    }

    reg = &ngx_http_otp_wait_registry;

    ngx_queue_remove(&w->queue);
    w->node = NULL;
    reg->nwaiters--;
    ngx_http_otp_metrics_longpoll(-1);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "otp wait: waiter %p removed, %ui waiters on %ui ids",
                   w, reg->nwaiters, reg->nnodes);

    if (ngx_queue_empty(&node->waiters) && !node->busy) {
        ngx_http_otp_wait_free(node);
    }
}


ngx_http_otp_message_t *
ngx_http_otp_wait_message(ngx_http_otp_waiter_t *w)
{
    ngx_http_otp_wait_node_t  *node;

    node = w->node;

    return (node && node->known) ? &node->message : NULL;
}


static void
ngx_http_otp_wait_init(ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_wait_registry_t  *reg;

    reg = &ngx_http_otp_wait_registry;

    ngx_rbtree_init(&reg->tree, &reg->sentinel, ngx_http_otp_wait_insert);
    ngx_queue_init(&reg->nodes);

    reg->scf = scf;
    reg->tick.handler = ngx_http_otp_wait_tick;
    reg->tick.data = reg;
    reg->tick.log = ngx_cycle->log;
    reg->tick.cancelable = 1;
    reg->init = 1;
}


/* as ngx_http_limit_req_rbtree_insert_value(): equal hashes by the id */

static void
ngx_http_otp_wait_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_otp_wait_node_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            n = (ngx_http_otp_wait_node_t *) node;
            t = (ngx_http_otp_wait_node_t *) temp;

            p = (ngx_memn2cmp(n->id, t->id, n->id_len, t->id_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_otp_wait_node_t *
ngx_http_otp_wait_lookup(u_char *id, size_t len, uint32_t hash)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_otp_wait_node_t  *n;

    node = ngx_http_otp_wait_registry.tree.root;
    sentinel = ngx_http_otp_wait_registry.tree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        n = (ngx_http_otp_wait_node_t *) node;

        rc = ngx_memn2cmp(id, n->id, len, n->id_len);

        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* the first id waited for: watch the store, and start the tick */

static void
ngx_http_otp_wait_start(void)
{
    ngx_http_otp_store_conf_t     *scf;
    ngx_http_otp_wait_registry_t  *reg;

    reg = &ngx_http_otp_wait_registry;
    scf = reg->scf;

    if (!reg->watching && !reg->polling) {

        if (scf->backend->watch
            && scf->backend->watch(scf, ngx_http_otp_wait_changed, NULL)
               == NGX_OK)
        {
            reg->watching = 1;

        } else {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "otp: the %s store cannot announce status "
                          "changes; status waiters are checked every "
                          "%d ms", scf->backend->name,
                          NGX_HTTP_OTP_WAIT_TICK);
            reg->polling = 1;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "otp wait: %s the %s store",
                       reg->watching ? "watching" : "polling",
                       scf->backend->name);
    }

    if (!reg->tick.timer_set) {
        ngx_add_timer(&reg->tick, NGX_HTTP_OTP_WAIT_TICK);
    }
}


/* the store's announcement: id changed, or (NULL) anything may have */

static void
ngx_http_otp_wait_changed(ngx_str_t *id, void *data)
{
    ngx_queue_t                   *q;
    ngx_http_otp_wait_node_t      *node;
    ngx_http_otp_wait_registry_t  *reg;

    reg = &ngx_http_otp_wait_registry;

    if (id) {
        node = ngx_http_otp_wait_lookup(id->data, id->len,
                                        ngx_crc32_short(id->data, id->len));

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "otp wait: \"%V\" changed, node %p, %ui ids waited",
                       id, node, reg->nnodes);

        if (node) {
            ngx_http_otp_wait_read(node);
        }

        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp wait: anything may have changed, %ui ids to read",
                   reg->nnodes);

    /* reads start here and answer later: no node goes away meanwhile */

    for (q = ngx_queue_head(&reg->nodes);
         q != ngx_queue_sentinel(&reg->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_otp_wait_node_t, all);
        ngx_http_otp_wait_read(node);
    }
}


static void
ngx_http_otp_wait_read(ngx_http_otp_wait_node_t *node)
{
    ngx_http_otp_store_op_t  *op;

    if (node->op) {
        node->again = 1;
        return;
    }

    op = ngx_http_otp_store_op_create(ngx_cycle->log);
    if (op == NULL) {
        return;
    }

    op->type = NGX_HTTP_OTP_OP_STATUS_GET;
    op->handler = ngx_http_otp_wait_read_done;
    op->data = node;

    op->message_id_len = ngx_min(node->id_len, sizeof(op->message_id));
    ngx_memcpy(op->message_id, node->id, op->message_id_len);

    node->op = op;
    node->again = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp wait: node %p reads, op %p", node, op);

    ngx_http_otp_store_start(ngx_http_otp_wait_registry.scf, op);
}


static void
ngx_http_otp_wait_read_done(ngx_http_otp_store_op_t *op)
{
    ngx_int_t                  rc;
    ngx_http_otp_wait_node_t  *node;

    node = op->data;
    node->op = NULL;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp wait: node %p read: status %d, again %d",
                   node, (int) op->status, (int) node->again);

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        node->message = op->message;
        node->known = 1;
        rc = NGX_OK;
        break;

    case NGX_HTTP_OTP_STORE_NOT_FOUND:
        /* expired (or never was): the waiters are told, and leave */
        node->known = 0;
        rc = NGX_DECLINED;
        break;

    default:
        rc = NGX_ERROR;
        break;
    }

    node->busy = 1;

    ngx_http_otp_wait_tell(node, rc);

    node->busy = 0;

    if (ngx_queue_empty(&node->waiters)) {
        ngx_http_otp_wait_free(node);
        return;
    }

    if (node->again) {
        node->again = 0;
        ngx_http_otp_wait_read(node);
    }
}


/*
 * Tells every waiter of node.  A handler may finalize its request, and
 * that may close others (the streams of an HTTP/2 connection): each
 * waiter is taken out of a list of those still to tell before it is told,
 * so that whatever is removed meanwhile, from either list, is never
 * visited.  node->busy keeps the node itself.
 */

static void
ngx_http_otp_wait_tell(ngx_http_otp_wait_node_t *node, ngx_int_t rc)
{
    ngx_queue_t              todo, *q;
    ngx_http_otp_waiter_t   *w;
    ngx_http_otp_message_t  *message;

    if (ngx_queue_empty(&node->waiters)) {
        return;
    }

    todo = node->waiters;
    todo.next->prev = &todo;
    todo.prev->next = &todo;
    ngx_queue_init(&node->waiters);

    message = node->known ? &node->message : NULL;

    while (!ngx_queue_empty(&todo)) {
        q = ngx_queue_head(&todo);
        ngx_queue_remove(q);
        ngx_queue_insert_tail(&node->waiters, q);

        w = ngx_queue_data(q, ngx_http_otp_waiter_t, queue);

        w->handler(w, rc, rc == NGX_DECLINED ? NULL : message);
    }
}


static void
ngx_http_otp_wait_free(ngx_http_otp_wait_node_t *node)
{
    ngx_http_otp_store_conf_t     *scf;
    ngx_http_otp_wait_registry_t  *reg;

    reg = &ngx_http_otp_wait_registry;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp wait: node %p freed, %ui ids left",
                   node, reg->nnodes - 1);

    if (node->op) {
        ngx_http_otp_store_op_cancel(node->op);
    }

    ngx_rbtree_delete(&reg->tree, &node->rbnode);
    ngx_queue_remove(&node->all);
    ngx_free(node);

    if (--reg->nnodes) {
        return;
    }

    scf = reg->scf;

    if (reg->watching) {
        if (scf->backend->unwatch) {
            scf->backend->unwatch(scf);
        }

        reg->watching = 0;
    }

    reg->polling = 0;

    if (reg->tick.timer_set) {
        ngx_del_timer(&reg->tick);
    }
}


static void
ngx_http_otp_wait_tick(ngx_event_t *ev)
{
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_http_otp_wait_node_t      *node;
    ngx_http_otp_wait_registry_t  *reg;

    reg = ev->data;

    if (ngx_exiting || ngx_terminate) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "otp wait: worker exiting, %ui waiters answered",
                       reg->nwaiters);

        /* each node leaves with its last waiter; at most nnodes turns */

        for (n = reg->nnodes; n && !ngx_queue_empty(&reg->nodes); n--) {
            q = ngx_queue_head(&reg->nodes);
            ngx_queue_remove(q);
            ngx_queue_insert_tail(&reg->nodes, q);

            node = ngx_queue_data(q, ngx_http_otp_wait_node_t, all);

            node->busy = 1;
            ngx_http_otp_wait_tell(node, NGX_DONE);
            node->busy = 0;

            if (ngx_queue_empty(&node->waiters)) {
                ngx_http_otp_wait_free(node);
            }
        }

        if (reg->nnodes && !ev->timer_set) {
            ngx_add_timer(ev, NGX_HTTP_OTP_WAIT_TICK);
        }

        return;
    }

    if (reg->polling) {
        ngx_http_otp_wait_changed(NULL, NULL);
    }

    if (reg->nnodes && !ev->timer_set) {
        ngx_add_timer(ev, NGX_HTTP_OTP_WAIT_TICK);
    }
}

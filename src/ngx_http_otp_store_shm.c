
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The embedded store: a shared-memory zone that every worker of one nginx
 * sees.  Records sit in a red-black tree keyed by their HMAC key and on an
 * LRU queue; each has an expiry and is treated as missing once past it.
 * Every operation is one critical section under the zone's mutex, so a
 * verify is a single read-compare-update that no other worker can
 * interleave with.  Results are reported through a posted event so that
 * callers see the same asynchronous contract as with Redis.
 *
 * When the zone is full, expired records are swept (at most once a second:
 * a sweep walks the whole zone under the mutex), then the oldest message
 * records are evicted: they sit on a queue of their own, and losing one
 * costs a delivery status, nothing more.  If it is still full the
 * operation fails (503) rather than evicting a live code, attempt counter
 * or send window: resetting those is what an attacker flooding the zone
 * would want.
 *
 * A SEEN record (a webhook id already accepted) sits on the queue of codes
 * and windows: swept once expired, never evicted, for the same reason.
 *
 * Analytics rows (ngx_http_otp_store_shm_analytics.c) are a queue of
 * their own too, swept once past their hour's end and the retention, and
 * evicted first, the oldest hour's first, before any message record: a
 * statistic is worth less than a delivery status or a fallback's blob,
 * and rows are kept for days (otp_analytics_retention) where a message
 * record lives for a day.
 *
 * The opt-out list is a third queue that neither the sweep nor the
 * eviction ever walks: its records never expire, and a STOP that finds
 * the zone full is refused (the webhook answers 503 and the provider
 * retries) rather than kept at the price of anything else.
 *
 * Message records are in ngx_http_otp_store_shm_message.c, the change
 * feed in ngx_http_otp_store_shm_feed.c; what they share with this file
 * is in ngx_http_otp_store_shm.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_shm.h"


/* records swept from the LRU tail on every operation */
#define NGX_HTTP_OTP_SHM_EXPIRE_STEP  3

/* message records evicted at most to make room for one record */
#define NGX_HTTP_OTP_SHM_EVICT_STEP   8

/* the shortest time between two sweeps of the whole zone */
#define NGX_HTTP_OTP_SHM_SWEEP_EVERY  1000


static ngx_int_t ngx_http_otp_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_otp_shm_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_otp_shm_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op);
static void ngx_http_otp_shm_done(ngx_event_t *ev);
static ngx_int_t ngx_http_otp_shm_issue(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static ngx_int_t ngx_http_otp_shm_verify(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static ngx_int_t ngx_http_otp_shm_revoke(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static void ngx_http_otp_shm_roll(ngx_http_otp_shm_phone_t *ph,
    uint64_t now);
static void ngx_http_otp_shm_lock(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *rec, uint64_t now);
static void ngx_http_otp_shm_keep(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *rec);
static ngx_int_t ngx_http_otp_shm_budget(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static ngx_int_t ngx_http_otp_shm_optout(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static ngx_int_t ngx_http_otp_shm_code_live(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static ngx_int_t ngx_http_otp_shm_seen(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now);
static size_t ngx_http_otp_shm_size(ngx_uint_t kind);
static void ngx_http_otp_shm_free(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *n);
static void ngx_http_otp_shm_expire(ngx_http_otp_shm_ctx_t *ctx,
    ngx_queue_t *queue, uint64_t now, ngx_uint_t n);
static ngx_uint_t ngx_http_otp_shm_make_room(ngx_http_otp_shm_ctx_t *ctx,
    uint64_t now);


ngx_http_otp_store_backend_t  ngx_http_otp_store_shm_backend = {
    "shm",
    NULL,
    NULL,
    ngx_http_otp_shm_start,
    ngx_http_otp_shm_watch,
    ngx_http_otp_shm_unwatch
};


#define ngx_http_otp_shm_node(node)                                           \
    ((ngx_http_otp_shm_node_t *) &(node)->color)

#define ngx_http_otp_shm_rbnode(n)                                            \
    ((ngx_rbtree_node_t *) ((u_char *) (n)                                    \
                            - offsetof(ngx_rbtree_node_t, color)))

#define ngx_http_otp_shm_hash(key)                                            \
    ((ngx_rbtree_key_t) (((uint32_t) (key)[0] << 24)                         \
                         | ((uint32_t) (key)[1] << 16)                        \
                         | ((uint32_t) (key)[2] << 8)                         \
                         | (uint32_t) (key)[3]))


char *
ngx_http_otp_store_shm_conf(ngx_conf_t *cf, ngx_http_otp_store_conf_t *scf,
    ngx_str_t *name, ssize_t size, void *tag)
{
    ngx_shm_zone_t          *shm_zone;
    ngx_http_otp_shm_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_shm_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * The shared struct holds the feed's ring: it is added to the size
     * asked for (in whole pages, as the slab allocator hands out an
     * allocation this large, and a page more for their descriptors), so
     * that the smallest zone keeps the room for records it had.
     */

    size += ngx_align(sizeof(ngx_http_otp_shm_sh_t), ngx_pagesize)
            + ngx_pagesize;

    shm_zone = ngx_shared_memory_add(cf, name, size, tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "otp zone \"%V\" is already in use", name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_otp_shm_init_zone;
    shm_zone->data = ctx;

    scf->backend = &ngx_http_otp_store_shm_backend;
    scf->shm_zone = shm_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_otp_shm_ctx_t  *octx = data;

    size_t                   len;
    ngx_http_otp_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* reload: the records survive */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_otp_shm_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_otp_shm_rbtree_insert);

    ngx_queue_init(&ctx->sh->queue);
    ngx_queue_init(&ctx->sh->messages);
    ngx_queue_init(&ctx->sh->optouts);
    ngx_queue_init(&ctx->sh->analytics);

    len = sizeof(" in otp zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in otp zone \"%V\"%Z",
                &shm_zone->shm.name);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_otp_shm_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_otp_shm_node_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = ngx_http_otp_shm_node(node);
            t = ngx_http_otp_shm_node(temp);

            if (n->kind != t->kind) {
                p = (n->kind < t->kind) ? &temp->left : &temp->right;

            } else {
                p = (ngx_memcmp(n->key, t->key, NGX_OTP_HASH_LEN) < 0)
                    ? &temp->left : &temp->right;
            }
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


static void
ngx_http_otp_shm_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op)
{
    uint64_t                 now;
    ngx_time_t              *tp;
    ngx_http_otp_shm_ctx_t  *ctx;

    ctx = scf->shm_zone->data;

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;

    /* one zone for every server: the http{} retention, the same for all */
    ctx->retention = scf->analytics_retention;

    if (op->type == NGX_HTTP_OTP_OP_ANALYTICS_GET) {
        /* takes the mutex itself: it allocates outside it */
        (void) ngx_http_otp_shm_analytics_get(ctx, op, now);
        goto done;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_otp_shm_expire(ctx, &ctx->sh->queue, now,
                            NGX_HTTP_OTP_SHM_EXPIRE_STEP);
    ngx_http_otp_shm_expire(ctx, &ctx->sh->messages, now,
                            NGX_HTTP_OTP_SHM_EXPIRE_STEP);
    ngx_http_otp_shm_expire(ctx, &ctx->sh->analytics, now,
                            NGX_HTTP_OTP_SHM_EXPIRE_STEP);

    switch (op->type) {

    case NGX_HTTP_OTP_OP_ISSUE:
        (void) ngx_http_otp_shm_issue(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_VERIFY:
        (void) ngx_http_otp_shm_verify(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_BUDGET:
        (void) ngx_http_otp_shm_budget(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_MESSAGE_PUT:
        (void) ngx_http_otp_shm_message_put(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_REVOKE:
        (void) ngx_http_otp_shm_revoke(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_MESSAGE_LINK:
        (void) ngx_http_otp_shm_message_link(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_STATUS_SET:
        (void) ngx_http_otp_shm_status_set(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_STATUS_GET:
        (void) ngx_http_otp_shm_status_get(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_OPTOUT_SET:
    case NGX_HTTP_OTP_OP_OPTOUT_CLEAR:
        (void) ngx_http_otp_shm_optout(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_CODE_LIVE:
        (void) ngx_http_otp_shm_code_live(ctx, op, now);
        break;

    case NGX_HTTP_OTP_OP_SEEN:
        (void) ngx_http_otp_shm_seen(ctx, op, now);
        break;

    default:
        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
        break;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

done:

    op->event.handler = ngx_http_otp_shm_done;
    ngx_post_event(&op->event, &ngx_posted_events);
}


static void
ngx_http_otp_shm_done(ngx_event_t *ev)
{
    ngx_http_otp_store_op_finish(ev->data);
}


/* the rules are in ngx_http_otp_store.h; called with the mutex held */

static ngx_int_t
ngx_http_otp_shm_issue(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    uint64_t                   lockout, failure_window, retry, wend, cend;
    ngx_uint_t                 max_attempts, max_failures;
    ngx_http_otp_shm_node_t   *rec, *win, *cwin, *nrec, *nwin, *ncwin;
    ngx_http_otp_shm_phone_t  *ph;

    op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
    op->retry_after = 0;

    if (ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_OPTOUT, op->phone_key,
                                now))
    {
        op->status = NGX_HTTP_OTP_STORE_OPTED_OUT;
        return NGX_OK;
    }

    max_attempts = op->max_attempts;
    lockout = op->lockout;
    max_failures = op->max_failures ? op->max_failures
                                    : NGX_HTTP_OTP_STORE_NO_LIMIT;
    failure_window = op->failure_window;

    rec = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_PHONE, op->phone_key,
                                  now);

    if (rec) {
        ph = &rec->u.phone;

        if (ph->lock > now) {
            op->status = NGX_HTTP_OTP_STORE_LOCKED;
            op->retry_after = ph->lock - now;
            return NGX_OK;
        }

        ngx_http_otp_shm_roll(ph, now);

        /* the strictest of the live record's limits and the new ones */
        max_attempts = ngx_min(max_attempts, ph->max_attempts);
        lockout = ngx_max(lockout, ph->lockout);
        max_failures = ngx_min(max_failures, ph->max_failures);
        failure_window = ngx_max(failure_window, ph->failure_window);

        retry = 0;

        if (ph->fails >= max_attempts) {
            retry = ph->fend - now;
        }

        if (ph->lfails >= max_failures) {
            retry = ngx_max(retry, ph->lfend - now);
        }

        if (retry) {
            op->status = NGX_HTTP_OTP_STORE_LOCKED;
            op->retry_after = retry;
            return NGX_OK;
        }

        if (ph->has_code && ph->code_expires > now
            && now < ph->sent + op->resend_after)
        {
            op->status = NGX_HTTP_OTP_STORE_COOLDOWN;
            op->retry_after = ph->sent + op->resend_after - now;
            return NGX_OK;
        }
    }

    /*
     * A window lasts the longest of the windows that see it: one opened
     * by a location of 3/15m is, to a location of 2/1h, a window of an
     * hour from the same start, and it is kept that long once that
     * location counts in it (a looser location never shortens it).
     */

    win = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_PHONE_WINDOW,
                                  op->phone_key, now);
    wend = 0;

    if (win) {
        wend = ngx_max(win->expires, win->u.window.start + op->send_window);

        if (win->u.window.count >= op->send_limit) {
            op->status = NGX_HTTP_OTP_STORE_LIMITED;
            op->retry_after = wend - now;
            return NGX_OK;
        }
    }

    cwin = NULL;
    cend = 0;

    if (op->client_limit) {
        cwin = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_CLIENT_WINDOW,
                                       op->client_key, now);

        if (cwin) {
            cend = ngx_max(cwin->expires,
                           cwin->u.window.start + op->client_window);

            if (cwin->u.window.count >= op->client_limit) {
                op->status = NGX_HTTP_OTP_STORE_CLIENT_LIMITED;
                op->retry_after = cend - now;
                return NGX_OK;
            }
        }
    }

    /* allocate everything first, so that a full zone changes nothing */

    nrec = NULL;
    nwin = NULL;
    ncwin = NULL;

    if (rec == NULL) {
        nrec = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_PHONE,
                                      op->phone_key, now, op->log);
        if (nrec == NULL) {
            goto failed;
        }
    }

    if (win == NULL) {
        nwin = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_PHONE_WINDOW,
                                      op->phone_key, now, op->log);
        if (nwin == NULL) {
            goto failed;
        }
    }

    if (op->client_limit && cwin == NULL) {
        ncwin = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_CLIENT_WINDOW,
                                       op->client_key, now, op->log);
        if (ncwin == NULL) {
            goto failed;
        }
    }

    if (win == NULL) {
        win = nwin;
        win->u.window.start = now;
        win->expires = now + op->send_window;
        ngx_http_otp_shm_insert(ctx, win);

    } else {
        win->expires = wend;
    }

    win->u.window.count++;
    ngx_http_otp_shm_touch(ctx, win);

    if (op->client_limit) {
        if (cwin == NULL) {
            cwin = ncwin;
            cwin->u.window.start = now;
            cwin->expires = now + op->client_window;
            ngx_http_otp_shm_insert(ctx, cwin);

        } else {
            cwin->expires = cend;
        }

        cwin->u.window.count++;
        ngx_http_otp_shm_touch(ctx, cwin);
    }

    if (rec == NULL) {
        rec = nrec;
        ngx_http_otp_shm_insert(ctx, rec);
    }

    ph = &rec->u.phone;

    ngx_memcpy(ph->code, op->code_key, NGX_OTP_HASH_LEN);
    ph->has_code = 1;
    ph->code_expires = now + op->ttl;
    ph->sent = now;
    ph->lock = 0;
    ph->max_attempts = (uint32_t) max_attempts;
    ph->lockout = lockout;
    ph->max_failures = (uint32_t) max_failures;
    ph->failure_window = failure_window;

    ngx_http_otp_shm_keep(ctx, rec);

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;

failed:

    if (nrec) {
        ngx_slab_free_locked(ctx->shpool, ngx_http_otp_shm_rbnode(nrec));
    }

    if (nwin) {
        ngx_slab_free_locked(ctx->shpool, ngx_http_otp_shm_rbnode(nwin));
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_otp_shm_verify(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_uint_t                 left;
    ngx_http_otp_shm_node_t   *rec;
    ngx_http_otp_shm_phone_t  *ph;

    op->retry_after = 0;
    op->attempts_remaining = 0;

    rec = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_PHONE, op->phone_key,
                                  now);

    if (rec == NULL) {
        op->status = NGX_HTTP_OTP_STORE_EXPIRED;
        return NGX_OK;
    }

    ph = &rec->u.phone;

    if (ph->lock > now) {
        op->status = NGX_HTTP_OTP_STORE_EXHAUSTED;
        op->retry_after = ph->lock - now;
        return NGX_OK;
    }

    if (!ph->has_code || ph->code_expires <= now) {
        op->status = NGX_HTTP_OTP_STORE_EXPIRED;
        return NGX_OK;
    }

    ngx_http_otp_shm_roll(ph, now);

    if (ph->fails >= ph->max_attempts || ph->lfails >= ph->max_failures) {
        /* cannot happen without a lock, but if it does */
        ngx_http_otp_shm_lock(ctx, rec, now);
        op->status = NGX_HTTP_OTP_STORE_EXHAUSTED;
        op->retry_after = ph->lock - now;
        return NGX_OK;
    }

    if (ngx_otp_ct_equal(ph->code, op->code_key, NGX_OTP_HASH_LEN)) {
        /* the failure counters go with the record */
        ngx_http_otp_shm_free(ctx, rec);
        op->status = NGX_HTTP_OTP_STORE_OK;
        return NGX_OK;
    }

    /* lockout from the last failure: see ngx_http_otp_store.h */
    ph->fails++;
    ph->fend = now + ph->lockout;

    if (ph->lfails++ == 0) {
        ph->lfend = now + ph->failure_window;
    }

    left = ngx_min(ph->max_attempts - ph->fails,
                   ph->max_failures - ph->lfails);

    op->status = NGX_HTTP_OTP_STORE_INVALID;
    op->attempts_remaining = left;

    if (left == 0) {
        ngx_http_otp_shm_lock(ctx, rec, now);

    } else {
        ngx_http_otp_shm_keep(ctx, rec);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_shm_revoke(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t   *rec;
    ngx_http_otp_shm_phone_t  *ph;

    rec = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_PHONE, op->phone_key,
                                  now);

    if (rec == NULL
        || !rec->u.phone.has_code
        || !ngx_otp_ct_equal(rec->u.phone.code, op->code_key,
                             NGX_OTP_HASH_LEN))
    {
        /* expired, used, or a newer send's code, which stays */
        op->status = NGX_HTTP_OTP_STORE_EXPIRED;
        return NGX_OK;
    }

    ph = &rec->u.phone;

    ngx_memzero(ph->code, NGX_OTP_HASH_LEN);
    ph->has_code = 0;
    ph->code_expires = 0;
    ph->sent = 0;

    ngx_http_otp_shm_roll(ph, now);

    if (ph->lock <= now && ph->fend == 0 && ph->lfend == 0) {
        ngx_http_otp_shm_free(ctx, rec);

    } else {
        ngx_http_otp_shm_keep(ctx, rec);
    }

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


/* a failure counter whose window has ended counts nothing */

static void
ngx_http_otp_shm_roll(ngx_http_otp_shm_phone_t *ph, uint64_t now)
{
    if (ph->fend <= now) {
        ph->fails = 0;
        ph->fend = 0;
    }

    if (ph->lfend <= now) {
        ph->lfails = 0;
        ph->lfend = 0;
    }
}


/*
 * The code dies of its failures: the number is locked for lockout when
 * the short window is full, and until the long window ends when that one
 * is, the later of the two.
 */

static void
ngx_http_otp_shm_lock(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *rec, uint64_t now)
{
    ngx_http_otp_shm_phone_t  *ph;

    ph = &rec->u.phone;

    ngx_memzero(ph->code, NGX_OTP_HASH_LEN);
    ph->has_code = 0;
    ph->code_expires = 0;
    ph->lock = 0;

    if (ph->fails >= ph->max_attempts) {
        ph->lock = now + ph->lockout;
    }

    if (ph->lfails >= ph->max_failures) {
        ph->lock = ngx_max(ph->lock, ph->lfend);
    }

    ngx_http_otp_shm_keep(ctx, rec);
}


/* the record lives as long as the longest of the limits it holds */

static void
ngx_http_otp_shm_keep(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *rec)
{
    ngx_http_otp_shm_phone_t  *ph;

    ph = &rec->u.phone;

    rec->expires = ngx_max(ngx_max(ph->code_expires, ph->lock),
                           ngx_max(ph->fend, ph->lfend));

    ngx_http_otp_shm_touch(ctx, rec);
}


static ngx_int_t
ngx_http_otp_shm_budget(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    uint64_t                  hour;
    ngx_http_otp_shm_node_t  *b;
    u_char                    key[NGX_OTP_HASH_LEN];

    if (ngx_otp_sha256(op->budget_name.data, op->budget_name.len, key)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    hour = now / 3600000;

    b = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_BUDGET, key, now);

    if (b == NULL) {
        b = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_BUDGET, key, now,
                                   op->log);
        if (b == NULL) {
            return NGX_ERROR;
        }

        ngx_http_otp_shm_insert(ctx, b);
    }

    if (b->u.window.hour != hour) {
        b->u.window.hour = hour;
        b->u.window.count = 0;
    }

    b->u.window.count++;
    b->expires = (hour + 1) * 3600000 + 60000;
    ngx_http_otp_shm_touch(ctx, b);

    if (b->u.window.count <= op->budget_limit) {
        op->status = NGX_HTTP_OTP_STORE_OK;
        return NGX_OK;
    }

    op->status = NGX_HTTP_OTP_STORE_LIMITED;
    op->retry_after = (hour + 1) * 3600000 - now;
    op->first_over = (b->u.window.count == op->budget_limit + 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_shm_optout(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t  *n;

    n = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_OPTOUT, op->phone_key,
                                now);

    if (op->type == NGX_HTTP_OTP_OP_OPTOUT_CLEAR) {
        if (n == NULL) {
            /* a YES from a number that never said STOP is a reply */
            op->status = NGX_HTTP_OTP_STORE_NOT_FOUND;
            return NGX_OK;
        }

        ngx_http_otp_shm_free(ctx, n);

        op->status = NGX_HTTP_OTP_STORE_OK;
        return NGX_OK;
    }

    if (n == NULL) {
        /* evicts message records at most: a full zone refuses the STOP */

        n = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_OPTOUT,
                                   op->phone_key, now, op->log);
        if (n == NULL) {
            return NGX_ERROR;
        }

        n->expires = (uint64_t) -1;
        ngx_http_otp_shm_insert(ctx, n);
    }

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_shm_code_live(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t   *rec;
    ngx_http_otp_shm_phone_t  *ph;

    /* a number that said STOP gets no code again, by any channel */

    if (ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_OPTOUT, op->phone_key,
                                now))
    {
        op->status = NGX_HTTP_OTP_STORE_OPTED_OUT;
        return NGX_OK;
    }

    op->status = NGX_HTTP_OTP_STORE_EXPIRED;

    rec = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_PHONE, op->phone_key,
                                  now);
    if (rec == NULL) {
        return NGX_OK;
    }

    ph = &rec->u.phone;

    if (ph->has_code
        && ph->code_expires > now
        && ph->lock <= now
        && ngx_otp_ct_equal(ph->code, op->code_key, NGX_OTP_HASH_LEN))
    {
        op->status = NGX_HTTP_OTP_STORE_OK;
    }

    return NGX_OK;
}


/* the rule is in ngx_http_otp_store.h; called with the mutex held */

static ngx_int_t
ngx_http_otp_shm_seen(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t  *n;

    /* an expired record is freed by the lookup: the id is new again */

    if (ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_SEEN, op->seen_key,
                                now))
    {
        op->status = NGX_HTTP_OTP_STORE_SEEN;
        return NGX_OK;
    }

    /* evicts message records at most: a full zone refuses the webhook */

    n = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_SEEN, op->seen_key, now,
                               op->log);
    if (n == NULL) {
        return NGX_ERROR;
    }

    n->expires = now + op->ttl;
    ngx_http_otp_shm_insert(ctx, n);

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


ngx_http_otp_shm_node_t *
ngx_http_otp_shm_lookup(ngx_http_otp_shm_ctx_t *ctx, ngx_uint_t kind,
    u_char *key, uint64_t now)
{
    ngx_int_t                 rc;
    ngx_rbtree_key_t          hash;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_otp_shm_node_t  *n;

    hash = ngx_http_otp_shm_hash(key);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        n = ngx_http_otp_shm_node(node);

        if (kind != n->kind) {
            rc = (ngx_int_t) kind - (ngx_int_t) n->kind;

        } else {
            rc = ngx_memcmp(key, n->key, NGX_OTP_HASH_LEN);
        }

        if (rc == 0) {
            if (n->expires <= now) {
                ngx_http_otp_shm_free(ctx, n);
                return NULL;
            }

            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* a zeroed node that is not in the tree yet */

ngx_http_otp_shm_node_t *
ngx_http_otp_shm_alloc(ngx_http_otp_shm_ctx_t *ctx, ngx_uint_t kind,
    u_char *key, uint64_t now, ngx_log_t *log)
{
    size_t                    size;
    ngx_rbtree_node_t        *node;
    ngx_http_otp_shm_node_t  *n;

    size = offsetof(ngx_rbtree_node_t, color) + ngx_http_otp_shm_size(kind);

    node = (ngx_rbtree_node_t *) ngx_http_otp_shm_blob_alloc(ctx, size, now,
                                                              log);
    if (node == NULL) {
        return NULL;
    }

    ngx_memzero(node, size);

    n = ngx_http_otp_shm_node(node);
    node->key = ngx_http_otp_shm_hash(key);
    n->kind = (u_char) kind;
    ngx_memcpy(n->key, key, NGX_OTP_HASH_LEN);

    return n;
}


/* size bytes of the slab, making room if need be */

u_char *
ngx_http_otp_shm_blob_alloc(ngx_http_otp_shm_ctx_t *ctx, size_t size,
    uint64_t now, ngx_log_t *log)
{
    u_char  *p;

    p = ngx_slab_alloc_locked(ctx->shpool, size);

    while (p == NULL && ngx_http_otp_shm_make_room(ctx, now)) {
        p = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    if (p == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "otp zone is full of live records: "
                      "refusing the operation%s", ctx->shpool->log_ctx);
    }

    return p;
}


/*
 * A node is as large as its kind needs, from its start to the end of its
 * kind's member: the union's largest, a message record, is several times
 * the size of a phone record, let alone a send window.
 */

static size_t
ngx_http_otp_shm_size(ngx_uint_t kind)
{
    size_t  size;

    switch (kind) {

    case NGX_HTTP_OTP_SHM_PHONE:
        size = sizeof(ngx_http_otp_shm_phone_t);
        break;

    case NGX_HTTP_OTP_SHM_MESSAGE:
        size = sizeof(ngx_http_otp_shm_message_t);
        break;

    case NGX_HTTP_OTP_SHM_ANALYTICS:
        size = sizeof(ngx_http_otp_shm_analytics_t);
        break;

    case NGX_HTTP_OTP_SHM_OPTOUT:
    case NGX_HTTP_OTP_SHM_SEEN:
        size = 0;
        break;

    default: /* the windows and the budget */
        size = sizeof(ngx_http_otp_shm_window_t);
        break;
    }

    return offsetof(ngx_http_otp_shm_node_t, u) + size;
}


#define ngx_http_otp_shm_queue(ctx, n)                                        \
    ((n)->kind == NGX_HTTP_OTP_SHM_MESSAGE ? &(ctx)->sh->messages            \
     : (n)->kind == NGX_HTTP_OTP_SHM_OPTOUT ? &(ctx)->sh->optouts            \
     : (n)->kind == NGX_HTTP_OTP_SHM_ANALYTICS ? &(ctx)->sh->analytics       \
     : &(ctx)->sh->queue)


void
ngx_http_otp_shm_insert(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *n)
{
    ngx_rbtree_insert(&ctx->sh->rbtree, ngx_http_otp_shm_rbnode(n));
    ngx_queue_insert_head(ngx_http_otp_shm_queue(ctx, n), &n->queue);
}


void
ngx_http_otp_shm_touch(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_node_t *n)
{
    ngx_queue_remove(&n->queue);
    ngx_queue_insert_head(ngx_http_otp_shm_queue(ctx, n), &n->queue);
}


static void
ngx_http_otp_shm_free(ngx_http_otp_shm_ctx_t *ctx, ngx_http_otp_shm_node_t *n)
{
    ngx_rbtree_node_t  *node;

    node = ngx_http_otp_shm_rbnode(n);

    ngx_queue_remove(&n->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, node);

    if (n->kind == NGX_HTTP_OTP_SHM_MESSAGE) {
        ngx_http_otp_shm_fallback_free(ctx, &n->u.message);
    }

    /* a consumed code leaves nothing behind in the zone */
    ngx_memzero(&n->u, ngx_http_otp_shm_size(n->kind)
                       - offsetof(ngx_http_otp_shm_node_t, u));

    ngx_slab_free_locked(ctx->shpool, node);
}


/*
 * Frees expired records from a queue's LRU tail: at most n of them and
 * only while the tail is expired, or, with n == 0, every expired record on
 * the queue.
 */

static void
ngx_http_otp_shm_expire(ngx_http_otp_shm_ctx_t *ctx, ngx_queue_t *queue,
    uint64_t now, ngx_uint_t n)
{
    ngx_queue_t              *q, *prev;
    ngx_http_otp_shm_node_t  *node;

    q = ngx_queue_last(queue);

    while (q != ngx_queue_sentinel(queue)) {

        prev = ngx_queue_prev(q);
        node = ngx_queue_data(q, ngx_http_otp_shm_node_t, queue);

        if (node->expires <= now) {
            ngx_http_otp_shm_free(ctx, node);

            if (n && --n == 0) {
                return;
            }

        } else if (n) {
            return;
        }

        q = prev;
    }
}


/*
 * The zone is full: sweep it of expired records (not more than once a
 * second), else evict the oldest analytics rows, and once there are none
 * the oldest message records.  Returns 0 when nothing could be freed.
 */

static ngx_uint_t
ngx_http_otp_shm_make_room(ngx_http_otp_shm_ctx_t *ctx, uint64_t now)
{
    ngx_uint_t                n;
    ngx_queue_t              *q, *queue;
    ngx_http_otp_shm_node_t  *node;

    if (now >= ctx->sh->swept + NGX_HTTP_OTP_SHM_SWEEP_EVERY) {
        ctx->sh->swept = now;

        ngx_http_otp_shm_expire(ctx, &ctx->sh->queue, now, 0);
        ngx_http_otp_shm_expire(ctx, &ctx->sh->messages, now, 0);
        ngx_http_otp_shm_expire(ctx, &ctx->sh->analytics, now, 0);

        return 1;
    }

    /*
     * Then the oldest analytics rows (the queue's tail is the oldest
     * hour), and only when none is left the oldest message records:
     * statistics are worth less than a delivery status or a fallback's
     * blob, let alone a live code or a window.  The rows of one hour were
     * made together and share slab pages, so evicting an hour gives whole
     * pages back, which a record of another size can then take.
     */

    queue = !ngx_queue_empty(&ctx->sh->analytics) ? &ctx->sh->analytics
                                                   : &ctx->sh->messages;

    for (n = 0; n < NGX_HTTP_OTP_SHM_EVICT_STEP; n++) {

        if (ngx_queue_empty(queue)) {
            break;
        }

        q = ngx_queue_last(queue);
        node = ngx_queue_data(q, ngx_http_otp_shm_node_t, queue);

        ngx_http_otp_shm_free(ctx, node);
    }

    return n;
}

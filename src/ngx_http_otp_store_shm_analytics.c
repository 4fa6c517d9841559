
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The shm store's analytics rows (ngx_http_otp_store.h, "Analytics"):
 * counted from MESSAGE_PUT and STATUS_SET inside their critical section
 * (so exactly once, whichever worker applies the operation), read out by
 * ANALYTICS_GET.
 *
 * A row is a record of the zone's tree like any other, keyed by the
 * SHA-256 of what it counts (hour, channel, failure or not, provider,
 * country, error code), on a queue of its own in the order rows were
 * made: oldest hour last, so that expiring from the tail drops the hours
 * past the retention (expires = the hour's end + otp_analytics_retention).
 *
 * Statistics never cost a live record: a row is allocated without making
 * room (no message is evicted for it); when the zone is full, rows of
 * expired hours are swept and, if that frees nothing, the count is
 * dropped with a warning at most once a minute.  The zone's own eviction
 * (ngx_http_otp_store_shm.c) takes analytics rows first, the oldest hour
 * first, before any message record.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_shm.h"


#define NGX_HTTP_OTP_SHM_ANALYTICS_WARN  60000      /* ms between warnings */


static ngx_http_otp_shm_analytics_t *ngx_http_otp_shm_analytics_row(
    ngx_http_otp_shm_ctx_t *ctx, ngx_http_otp_shm_message_t *m,
    uint64_t now, ngx_uint_t failure, ngx_log_t *log);
static void ngx_http_otp_shm_analytics_full(ngx_http_otp_shm_ctx_t *ctx,
    uint64_t now, ngx_log_t *log);
static ngx_int_t ngx_http_otp_shm_analytics_in(ngx_http_otp_store_op_t *op,
    ngx_http_otp_shm_node_t *node, uint64_t now);
static ngx_http_otp_analytics_row_t *ngx_http_otp_shm_analytics_sum(
    ngx_http_otp_store_op_t *op, ngx_uint_t *slots, ngx_uint_t mask,
    ngx_uint_t nalloc, ngx_http_otp_shm_analytics_t *a);


void
ngx_http_otp_shm_analytics_sent(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m, ngx_log_t *log)
{
    ngx_http_otp_shm_analytics_t  *a;

    /* the hour of created: now, for a record MESSAGE_PUT just made */

    a = ngx_http_otp_shm_analytics_row(ctx, m, m->created, 0, log);
    if (a == NULL) {
        return;
    }

    a->sent++;

    if (m->cost > 0) {
        a->cost += m->cost;
    }
}


/* from: the status before this report; m: the record after it */

void
ngx_http_otp_shm_analytics_status(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m, ngx_uint_t from, uint64_t now,
    ngx_log_t *log)
{
    uint64_t                       ms;
    ngx_http_otp_shm_analytics_t  *a;

    switch (m->status) {

    case NGX_HTTP_OTP_MSG_DELIVERED:
    case NGX_HTTP_OTP_MSG_READ:

        /* a read after delivered is the same delivery */

        if (from == NGX_HTTP_OTP_MSG_DELIVERED) {
            return;
        }

        a = ngx_http_otp_shm_analytics_row(ctx, m, now, 0, log);
        if (a == NULL) {
            return;
        }

        ms = (now > m->created) ? now - m->created : 0;

        a->delivered++;
        a->ms_sum += ms;
        a->ms_count++;
        a->hist[ngx_otp_delivery_bucket(ms)]++;

        return;

    case NGX_HTTP_OTP_MSG_FAILED:
    case NGX_HTTP_OTP_MSG_UNDELIVERED:

        a = ngx_http_otp_shm_analytics_row(ctx, m, now, 0, log);
        if (a) {
            a->failed++;
        }

        a = ngx_http_otp_shm_analytics_row(ctx, m, now, 1, log);
        if (a) {
            a->failed++;
        }

        return;

    default:
        return;
    }
}


/* the row of (the hour of t, m's channel, provider, country[, error]) */

static ngx_http_otp_shm_analytics_t *
ngx_http_otp_shm_analytics_row(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m, uint64_t t, ngx_uint_t failure,
    ngx_log_t *log)
{
    u_char                        *p, *err;
    size_t                         err_len;
    uint64_t                       hour, now;
    ngx_rbtree_node_t             *node;
    ngx_http_otp_shm_node_t       *n;
    ngx_http_otp_shm_analytics_t  *a;
    u_char                         key[NGX_OTP_HASH_LEN];
    u_char                         id[8 + 2 + 1 + NGX_HTTP_OTP_PROVIDER_NAME_MAX
                                      + 1 + NGX_OTP_COUNTRY_MAX
                                      + 1 + NGX_HTTP_OTP_ERROR_CODE_MAX];

    now = t;
    hour = t / 1000 / 3600 * 3600;

    err = (u_char *) "";
    err_len = 0;

    if (failure) {
        err = m->error_code_len ? m->error_code : (u_char *) "unknown";
        err_len = m->error_code_len ? m->error_code_len : 7;
    }

    /* what the row counts, each variable part with its length */

    p = id;
    *p++ = (u_char) (hour >> 56); *p++ = (u_char) (hour >> 48);
    *p++ = (u_char) (hour >> 40); *p++ = (u_char) (hour >> 32);
    *p++ = (u_char) (hour >> 24); *p++ = (u_char) (hour >> 16);
    *p++ = (u_char) (hour >> 8);  *p++ = (u_char) hour;
    *p++ = m->channel;
    *p++ = (u_char) failure;
    *p++ = m->provider_len;
    p = ngx_cpymem(p, m->provider, m->provider_len);
    *p++ = m->country_len;
    p = ngx_cpymem(p, m->country, m->country_len);
    *p++ = (u_char) err_len;
    p = ngx_cpymem(p, err, err_len);

    if (ngx_otp_sha256(id, p - id, key) != NGX_OTP_OK) {
        return NULL;
    }

    n = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_ANALYTICS, key, now);

    if (n) {
        return &n->u.analytics;
    }

    /*
     * Not ngx_http_otp_shm_alloc(): that makes room by evicting message
     * records, and a count is not worth a delivery status.
     */

    node = ngx_slab_alloc_locked(ctx->shpool,
                               offsetof(ngx_rbtree_node_t, color)
                               + offsetof(ngx_http_otp_shm_node_t, u)
                               + sizeof(ngx_http_otp_shm_analytics_t));

    if (node == NULL) {
        ngx_http_otp_shm_analytics_full(ctx, now, log);
        return NULL;
    }

    ngx_memzero(node, offsetof(ngx_rbtree_node_t, color)
                      + offsetof(ngx_http_otp_shm_node_t, u)
                      + sizeof(ngx_http_otp_shm_analytics_t));

    n = (ngx_http_otp_shm_node_t *) &node->color;
    node->key = ((uint32_t) key[0] << 24) | ((uint32_t) key[1] << 16)
                | ((uint32_t) key[2] << 8) | (uint32_t) key[3];
    n->kind = NGX_HTTP_OTP_SHM_ANALYTICS;
    ngx_memcpy(n->key, key, NGX_OTP_HASH_LEN);

    n->expires = (hour + 3600) * 1000 + ctx->retention;

    a = &n->u.analytics;
    a->hour = hour;
    a->channel = m->channel;
    a->failure = (u_char) failure;
    a->provider_len = m->provider_len;
    ngx_memcpy(a->provider, m->provider, m->provider_len);
    a->country_len = m->country_len;
    ngx_memcpy(a->country, m->country, m->country_len);
    a->error_code_len = (u_char) err_len;
    ngx_memcpy(a->error_code, err, err_len);

    ngx_http_otp_shm_insert(ctx, n);

    return a;
}


static void
ngx_http_otp_shm_analytics_full(ngx_http_otp_shm_ctx_t *ctx, uint64_t now,
    ngx_log_t *log)
{
    if (now < ctx->sh->analytics_warned + NGX_HTTP_OTP_SHM_ANALYTICS_WARN) {
        return;
    }

    ctx->sh->analytics_warned = now;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "otp zone is full: analytics counts are dropped "
                  "(the sends are not)%s", ctx->shpool->log_ctx);
}


/*
 * ANALYTICS_GET, without the zone's mutex: it takes it twice, to count the
 * rows of the range and then to copy them, and allocates between the two,
 * so that no worker waits on the mutex for a malloc.  Both walks start at
 * the queue's head, the newest rows, and stop at the first row an hour
 * older than from (the queue is in the order rows were made: in hour
 * order, but for a worker whose cached time was a moment behind another's
 * at an hour's turn).  Rows made between the two walks may not fit: the
 * answer is then truncated, as when there are more than
 * NGX_HTTP_OTP_ANALYTICS_ROWS_MAX; either way the newest whole hours are
 * kept (the newest hour in part, if it alone does not fit).
 */

ngx_int_t
ngx_http_otp_shm_analytics_get(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    size_t                         size;
    int64_t                        cut;
    ngx_int_t                      in;
    ngx_uint_t                     n, i, k, nalloc, mask, *slots;
    ngx_queue_t                   *q;
    ngx_http_otp_shm_node_t       *node;
    ngx_http_otp_analytics_row_t  *row;
    ngx_http_otp_shm_analytics_t  *a;

    op->nrows = 0;
    op->status = NGX_HTTP_OTP_STORE_OK;

    n = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&ctx->sh->analytics);
         q != ngx_queue_sentinel(&ctx->sh->analytics);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_otp_shm_node_t, queue);

        in = ngx_http_otp_shm_analytics_in(op, node, now);

        if (in < 0) {
            break;
        }

        n += in;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (n == 0) {
        return NGX_OK;
    }

    /* and a margin for the rows made meanwhile */

    nalloc = ngx_min(n + n / 8 + 16, NGX_HTTP_OTP_ANALYTICS_ROWS_MAX);

    op->rows = ngx_alloc(nalloc * sizeof(ngx_http_otp_analytics_row_t),
                         op->log);
    if (op->rows == NULL) {
        op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
        return NGX_ERROR;
    }

    /* op->sum: the sums found through a hash table, at most half full */

    slots = NULL;
    mask = 0;

    if (op->sum) {
        for (size = 16; size < 2 * nalloc; size *= 2) { /* void */ }

        slots = ngx_calloc(size * sizeof(ngx_uint_t), op->log);
        if (slots == NULL) {
            ngx_free(op->rows);
            op->rows = NULL;
            op->status = NGX_HTTP_OTP_STORE_UNAVAILABLE;
            return NGX_ERROR;
        }

        mask = size - 1;
    }

    cut = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&ctx->sh->analytics);
         q != ngx_queue_sentinel(&ctx->sh->analytics);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_otp_shm_node_t, queue);
        a = &node->u.analytics;

        in = ngx_http_otp_shm_analytics_in(op, node, now);

        if (in < 0) {
            break;
        }

        if (in == 0) {
            continue;
        }

        if (slots) {
            row = ngx_http_otp_shm_analytics_sum(op, slots, mask, nalloc, a);

            if (row == NULL) {
                /* no room for another sum: those made still add up */
                op->truncated = 1;
                continue;
            }

            row->sent += a->sent;
            row->delivered += a->delivered;
            continue;
        }

        if (op->nrows == nalloc) {
            op->truncated = 1;
            cut = (int64_t) a->hour;
            break;
        }

        row = &op->rows[op->nrows++];
        ngx_memzero(row, sizeof(ngx_http_otp_analytics_row_t));

        row->hour = (int64_t) a->hour;
        row->channel = a->channel;
        row->failure = a->failure;
        row->provider_len = a->provider_len;
        ngx_memcpy(row->provider, a->provider, a->provider_len);
        row->country_len = a->country_len;
        ngx_memcpy(row->country, a->country, a->country_len);
        row->error_code_len = a->error_code_len;
        ngx_memcpy(row->error_code, a->error_code, a->error_code_len);
        row->sent = a->sent;
        row->delivered = a->delivered;
        row->failed = a->failed;
        row->ms_sum = a->ms_sum;
        row->ms_count = a->ms_count;
        row->cost = a->cost;

        for (i = 0; i < NGX_OTP_DELIVERY_BUCKETS; i++) {
            row->hist[i] = a->hist[i];
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (slots) {
        ngx_free(slots);
        return NGX_OK;
    }

    if (!op->truncated) {
        return NGX_OK;
    }

    /* whole hours: the one that did not fit, and older ones, go */

    for (i = 0, k = 0; i < op->nrows; i++) {
        if (op->rows[i].hour > cut) {
            op->rows[k++] = op->rows[i];
        }
    }

    if (k) {
        op->nrows = k;
    }

    return NGX_OK;
}


/* 1: a row of the answer; 0: not; -1: older than the range, stop */

static ngx_int_t
ngx_http_otp_shm_analytics_in(ngx_http_otp_store_op_t *op,
    ngx_http_otp_shm_node_t *node, uint64_t now)
{
    ngx_http_otp_shm_analytics_t  *a;

    a = &node->u.analytics;

    /* an hour of slack for the order at an hour's turn (see above) */

    if ((int64_t) a->hour + 3600 < op->from) {
        return -1;
    }

    if (node->expires <= now
        || (op->sum && a->failure)
        || (int64_t) a->hour < op->from || (int64_t) a->hour >= op->to
        || a->provider_len < op->provider_len
        || ngx_memcmp(a->provider, op->provider, op->provider_len) != 0
        || (op->unprefixed
            && ngx_strlchr(a->provider, a->provider + a->provider_len, ':')))
    {
        return 0;
    }

    return 1;
}


/*
 * op->sum: the row of a's provider, country and channel, found through
 * slots (op->rows' index + 1), or made; NULL when there is no room.
 */

static ngx_http_otp_analytics_row_t *
ngx_http_otp_shm_analytics_sum(ngx_http_otp_store_op_t *op,
    ngx_uint_t *slots, ngx_uint_t mask, ngx_uint_t nalloc,
    ngx_http_otp_shm_analytics_t *a)
{
    u_char                         c;
    uint32_t                       hash;
    ngx_uint_t                     i;
    ngx_http_otp_analytics_row_t  *row;

    ngx_crc32_init(hash);
    c = (u_char) a->channel;
    ngx_crc32_update(&hash, &c, 1);
    ngx_crc32_update(&hash, a->provider, a->provider_len);
    c = '|';
    ngx_crc32_update(&hash, &c, 1);
    ngx_crc32_update(&hash, a->country, a->country_len);
    ngx_crc32_final(hash);

    for (i = hash & mask; slots[i]; i = (i + 1) & mask) {
        row = &op->rows[slots[i] - 1];

        if (row->channel == a->channel
            && row->provider_len == a->provider_len
            && ngx_memcmp(row->provider, a->provider, a->provider_len) == 0
            && row->country_len == a->country_len
            && ngx_memcmp(row->country, a->country, a->country_len) == 0)
        {
            return row;
        }
    }

    if (op->nrows == nalloc) {
        return NULL;
    }

    slots[i] = op->nrows + 1;

    row = &op->rows[op->nrows++];
    ngx_memzero(row, sizeof(ngx_http_otp_analytics_row_t));

    row->hour = op->from;
    row->channel = a->channel;
    row->provider_len = a->provider_len;
    ngx_memcpy(row->provider, a->provider, a->provider_len);
    row->country_len = a->country_len;
    ngx_memcpy(row->country, a->country, a->country_len);

    return row;
}

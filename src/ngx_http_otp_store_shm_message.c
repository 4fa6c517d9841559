
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The shm store's message records (ngx_http_otp_store_shm.c): MESSAGE_PUT,
 * MESSAGE_LINK, STATUS_SET and STATUS_GET.
 *
 * A message's fallback blob (a sealed message text, up to
 * NGX_HTTP_OTP_FALLBACK_MAX bytes) is a slab allocation of its own, made
 * only when there is one, so that message records without it stay small;
 * it is wiped whenever it leaves the zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_shm.h"


static ngx_http_otp_shm_node_t *ngx_http_otp_shm_message(
    ngx_http_otp_shm_ctx_t *ctx, ngx_http_otp_store_op_t *op, uint64_t now);
static void ngx_http_otp_shm_message_read(ngx_http_otp_shm_message_t *m,
    ngx_http_otp_message_t *out);


ngx_int_t
ngx_http_otp_shm_message_put(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    size_t                       len;
    u_char                      *blob;
    ngx_http_otp_shm_node_t     *n;
    ngx_http_otp_shm_message_t  *m;
    u_char                       key[NGX_OTP_HASH_LEN];

    if (ngx_otp_sha256(op->message_id, op->message_id_len, key)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    /*
     * The blob first: making room for it may evict message records, the
     * one this replaces among them, so it is looked up only afterwards.
     */

    blob = NULL;
    len = ngx_min(op->fallback_len, NGX_HTTP_OTP_FALLBACK_MAX);

    if (len) {
        blob = ngx_http_otp_shm_blob_alloc(ctx, len, now, op->log);
        if (blob == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(blob, op->fallback, len);
    }

    n = ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_MESSAGE, key, now);

    if (n == NULL) {
        n = ngx_http_otp_shm_alloc(ctx, NGX_HTTP_OTP_SHM_MESSAGE, key, now,
                                   op->log);
        if (n == NULL) {
            if (blob) {
                ngx_explicit_memzero(blob, len);
                ngx_slab_free_locked(ctx->shpool, blob);
            }

            return NGX_ERROR;
        }

        ngx_http_otp_shm_insert(ctx, n);
    }

    m = &n->u.message;

    ngx_http_otp_shm_fallback_free(ctx, m);
    ngx_memzero(m, sizeof(ngx_http_otp_shm_message_t));

    m->status = NGX_HTTP_OTP_MSG_QUEUED;
    m->channel = (u_char) op->channel;
    m->provider_len = (u_char) ngx_min(op->provider_len,
                                       NGX_HTTP_OTP_PROVIDER_NAME_MAX);
    ngx_memcpy(m->provider, op->provider, m->provider_len);
    ngx_memcpy(m->phone_key, op->phone_key, NGX_OTP_HASH_LEN);
    m->prev_len = (u_char) ngx_min(op->link_id_len,
                                   NGX_HTTP_OTP_MESSAGE_ID_MAX);
    ngx_memcpy(m->prev, op->link_id, m->prev_len);
    m->fallback = blob;
    m->fallback_len = (uint16_t) len;
    m->created = now;
    m->updated = now;
    m->cost = op->cost;
    m->country_len = (u_char) ngx_min(op->country_len, NGX_OTP_COUNTRY_MAX);
    ngx_memcpy(m->country, op->country, m->country_len);

    n->expires = now + op->message_ttl;
    ngx_http_otp_shm_touch(ctx, n);

    /* in the same critical section: counted exactly once */
    ngx_http_otp_shm_analytics_sent(ctx, m, op->log);

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_shm_message_link(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t     *n;
    ngx_http_otp_shm_message_t  *m;

    n = ngx_http_otp_shm_message(ctx, op, now);

    if (n == NULL) {
        op->status = NGX_HTTP_OTP_STORE_NOT_FOUND;
        return NGX_OK;
    }

    m = &n->u.message;

    m->next_len = (u_char) ngx_min(op->link_id_len,
                                   NGX_HTTP_OTP_MESSAGE_ID_MAX);
    ngx_memcpy(m->next, op->link_id, m->next_len);

    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_shm_status_set(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_uint_t                   from;
    ngx_http_otp_shm_node_t     *n;
    ngx_http_otp_shm_message_t  *m;

    op->fallback_len = 0;

    n = ngx_http_otp_shm_message(ctx, op, now);

    if (n == NULL) {
        op->status = NGX_HTTP_OTP_STORE_NOT_FOUND;
        return NGX_OK;
    }

    m = &n->u.message;

    /* a report through another provider's webhook is not about this one */

    if (m->provider_len != op->provider_len
        || ngx_memcmp(m->provider, op->provider, m->provider_len) != 0)
    {
        op->status = NGX_HTTP_OTP_STORE_NOT_FOUND;
        return NGX_OK;
    }

    if (!ngx_otp_status_advances(m->status, (unsigned) op->msg_status)) {
        ngx_http_otp_shm_message_read(m, &op->message);
        op->status = NGX_HTTP_OTP_STORE_UNCHANGED;
        return NGX_OK;
    }

    from = m->status;
    m->status = (u_char) op->msg_status;
    m->updated = now;

    if (op->error_code_len) {
        m->error_code_len = (u_char) ngx_min(op->error_code_len,
                                             NGX_HTTP_OTP_ERROR_CODE_MAX);
        ngx_memcpy(m->error_code, op->error_code, m->error_code_len);
    }

    ngx_http_otp_shm_analytics_status(ctx, m, from, now, op->log);

    /* exactly one report gets the blob: the one that ends the message */

    if (m->fallback && ngx_otp_status_terminal(m->status)) {

        if (m->status == NGX_HTTP_OTP_MSG_FAILED
            || m->status == NGX_HTTP_OTP_MSG_UNDELIVERED)
        {
            ngx_memcpy(op->fallback, m->fallback, m->fallback_len);
            op->fallback_len = m->fallback_len;
            ngx_memcpy(op->phone_key, m->phone_key, NGX_OTP_HASH_LEN);
        }

        ngx_http_otp_shm_fallback_free(ctx, m);
    }

    ngx_http_otp_shm_feed_append(ctx, op->message_id, op->message_id_len);

    /* the TTL is kept; a message still reported on is evicted last */
    ngx_http_otp_shm_touch(ctx, n);

    ngx_http_otp_shm_message_read(m, &op->message);
    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_shm_status_get(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    ngx_http_otp_shm_node_t  *n;

    op->fallback_len = 0;

    n = ngx_http_otp_shm_message(ctx, op, now);

    if (n == NULL) {
        op->status = NGX_HTTP_OTP_STORE_NOT_FOUND;
        return NGX_OK;
    }

    ngx_http_otp_shm_message_read(&n->u.message, &op->message);
    op->status = NGX_HTTP_OTP_STORE_OK;

    return NGX_OK;
}


/* the live record of op->message_id, or NULL */

static ngx_http_otp_shm_node_t *
ngx_http_otp_shm_message(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_store_op_t *op, uint64_t now)
{
    u_char  key[NGX_OTP_HASH_LEN];

    if (ngx_otp_sha256(op->message_id,
                       ngx_min(op->message_id_len,
                               NGX_HTTP_OTP_MESSAGE_ID_MAX),
                       key)
        != NGX_OTP_OK)
    {
        return NULL;
    }

    return ngx_http_otp_shm_lookup(ctx, NGX_HTTP_OTP_SHM_MESSAGE, key, now);
}


static void
ngx_http_otp_shm_message_read(ngx_http_otp_shm_message_t *m,
    ngx_http_otp_message_t *out)
{
    out->status = m->status;
    out->channel = m->channel;

    out->provider_len = m->provider_len;
    ngx_memcpy(out->provider, m->provider, m->provider_len);

    out->error_code_len = m->error_code_len;
    ngx_memcpy(out->error_code, m->error_code, m->error_code_len);

    out->next_len = m->next_len;
    ngx_memcpy(out->next, m->next, m->next_len);

    out->prev_len = m->prev_len;
    ngx_memcpy(out->prev, m->prev, m->prev_len);

    out->updated = (int64_t) m->updated;
    out->created = (int64_t) m->created;
}


void
ngx_http_otp_shm_fallback_free(ngx_http_otp_shm_ctx_t *ctx,
    ngx_http_otp_shm_message_t *m)
{
    if (m->fallback == NULL) {
        return;
    }

    ngx_explicit_memzero(m->fallback, m->fallback_len);
    ngx_slab_free_locked(ctx->shpool, m->fallback);

    m->fallback = NULL;
    m->fallback_len = 0;
}



/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The shm store's change feed (ngx_http_otp_store_shm.c).
 *
 * Status changes are announced through a ring of the last
 * NGX_HTTP_OTP_STORE_FEED message ids in the zone's shared struct and a
 * 64-bit count of the ids ever appended.  A watching worker reads it from
 * a timer of its own: it remembers the count it has read up to, copies
 * the newer ids out under the mutex and calls the watcher after
 * unlocking, or tells it "look again at everything" when the ring went
 * round past it.  The ring is added to the zone's configured size, so
 * the records keep the room they had.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_shm.h"


/* a worker's watch of the feed (scf->backend_data) */
typedef struct {
    ngx_event_t                  event;
    ngx_connection_t             dummy;           /* the event's data */
    ngx_http_otp_store_conf_t   *scf;
    ngx_http_otp_store_watch_pt  handler;         /* NULL: not watched */
    void                        *data;
    ngx_uint_t                   generation;      /* += 1 on unwatch */
    uint64_t                     cursor;          /* feed_seq read up to */
    ngx_http_otp_shm_feed_t      ids[NGX_HTTP_OTP_STORE_FEED];
} ngx_http_otp_shm_watch_t;


static void ngx_http_otp_shm_feed_read(ngx_event_t *ev);


void
ngx_http_otp_shm_feed_append(ngx_http_otp_shm_ctx_t *ctx, u_char *id,
    size_t len)
{
    ngx_http_otp_shm_feed_t  *f;

    f = &ctx->sh->feed[ctx->sh->feed_seq % NGX_HTTP_OTP_STORE_FEED];

    f->len = (u_char) ngx_min(len, NGX_HTTP_OTP_MESSAGE_ID_MAX);
    ngx_memcpy(f->id, id, f->len);

    ctx->sh->feed_seq++;
}


/*
 * Watching.  The timer is the worker's own and runs only while watched;
 * it is cancelable, so that a worker shutting down gracefully does not
 * wait for it (ngx_event_no_timers_left() skips cancelable timers).
 */

ngx_int_t
ngx_http_otp_shm_watch(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_watch_pt handler, void *data)
{
    ngx_http_otp_shm_ctx_t    *ctx;
    ngx_http_otp_shm_watch_t  *w;

    w = scf->backend_data;

    if (w == NULL) {
        w = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_otp_shm_watch_t));
        if (w == NULL) {
            return NGX_ERROR;
        }

        /* the debug log reads a timer's data as a connection */

        w->dummy.fd = (ngx_socket_t) -1;
        w->dummy.data = w;
        w->dummy.log = ngx_cycle->log;

        w->event.handler = ngx_http_otp_shm_feed_read;
        w->event.data = &w->dummy;
        w->event.log = ngx_cycle->log;
        w->event.cancelable = 1;

        w->scf = scf;

        scf->backend_data = w;
    }

    if (w->handler == NULL) {
        /* from now on: what was announced before is not news */

        ctx = scf->shm_zone->data;

        ngx_shmtx_lock(&ctx->shpool->mutex);
        w->cursor = ctx->sh->feed_seq;
        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }

    w->handler = handler;
    w->data = data;

    if (!w->event.timer_set) {
        ngx_add_timer(&w->event, NGX_HTTP_OTP_STORE_FEED_TICK);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp store: shm watch from %uL", w->cursor);

    return NGX_OK;
}


void
ngx_http_otp_shm_unwatch(ngx_http_otp_store_conf_t *scf)
{
    ngx_http_otp_shm_watch_t  *w;

    w = scf->backend_data;

    if (w == NULL || w->handler == NULL) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp store: shm unwatch");

    w->handler = NULL;
    w->data = NULL;
    w->generation++;

    if (w->event.timer_set) {
        ngx_del_timer(&w->event);
    }
}


static void
ngx_http_otp_shm_feed_read(ngx_event_t *ev)
{
    uint64_t                   seq, k;
    ngx_str_t                  id;
    ngx_uint_t                 i, n, generation, lapped;
    ngx_connection_t          *dummy;
    ngx_http_otp_shm_ctx_t    *ctx;
    ngx_http_otp_shm_watch_t  *w;

    dummy = ev->data;
    w = dummy->data;

    if (w->handler == NULL) {
        return;
    }

    ctx = w->scf->shm_zone->data;

    n = 0;

    /* copy out under the mutex; the handlers run after it is released */

    ngx_shmtx_lock(&ctx->shpool->mutex);

    seq = ctx->sh->feed_seq;
    lapped = (seq - w->cursor > NGX_HTTP_OTP_STORE_FEED);

    if (!lapped) {
        for (k = w->cursor; k < seq; k++) {
            w->ids[n++] = ctx->sh->feed[k % NGX_HTTP_OTP_STORE_FEED];
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

#if (NGX_DEBUG)
    if (seq != w->cursor) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "otp store: shm feed %uL..%uL%s", w->cursor, seq,
                       lapped ? ", lapped" : "");
    }
#endif

    w->cursor = seq;

    /* a handler may unwatch (and watch again): the rest is not for it */

    generation = w->generation;

    if (lapped) {
        w->handler(NULL, w->data);

    } else {
        for (i = 0; i < n; i++) {
            if (w->handler == NULL || w->generation != generation) {
                break;
            }

            id.len = w->ids[i].len;
            id.data = w->ids[i].id;

            w->handler(&id, w->data);
        }
    }

    if (w->handler && !ev->timer_set) {
        ngx_add_timer(ev, NGX_HTTP_OTP_STORE_FEED_TICK);
    }
}


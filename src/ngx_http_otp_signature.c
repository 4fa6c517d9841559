
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The signature check of provider webhooks, in the access phase, so that
 * it can guard any location: an otp_webhook endpoint, or one that
 * proxy_passes to an existing application, which then receives only
 * genuine calls with their body intact.  A refusal is a 403
 * invalid_signature answered before anything of the request is parsed.
 * Each scheme's check is ngx_http_otp_signature_scheme.c's; the
 * directives and the postconfiguration, ngx_http_otp_signature_conf.c's.
 *
 * The body is read in the access phase as ngx_http_mirror_module.c reads
 * it in the precontent phase: ngx_http_read_client_request_body(), the
 * request's count given back with ngx_http_finalize_request(r, NGX_DONE),
 * and the phase engine resumed from the body handler with
 * r->write_event_handler = ngx_http_core_run_phases; this handler then
 * runs again and answers what the check decided, as
 * ngx_http_auth_request_module.c answers its subrequest's status.  The
 * body stays in r->request_body for the content handler or upstream.
 *
 * The replay check waits for the store the same way: the body handler
 * starts the SEEN operation and returns, the request held by the count
 * it already has (the one ngx_http_finalize_request() gives back when the
 * phases end; nothing is finalized meanwhile), the handler still answering
 * NGX_DONE if the phase engine runs it; a client that goes away is noticed
 * by ngx_http_test_reading() as ngx_http_otp_request.c does, and the
 * request's pool cleanup cancels the operation.  The store's answer
 * resumes the phase engine or refuses.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_request.h"
#include "ngx_http_otp_signature.h"


static void ngx_http_otp_signature_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_signature_seen(ngx_http_request_t *r,
    ngx_http_otp_ctx_t *ctx, ngx_http_otp_sig_t *sig);
static void ngx_http_otp_signature_seen_handler(ngx_http_otp_store_op_t *op);
static ngx_http_otp_sig_ctx_t *ngx_http_otp_signature_before(
    ngx_http_request_t *r);
static ngx_uint_t ngx_http_otp_signature_same(ngx_http_otp_sig_t *a,
    ngx_http_otp_sig_t *b);
static ngx_http_otp_ctx_t *ngx_http_otp_signature_ctx(ngx_http_request_t *r);


ngx_int_t
ngx_http_otp_signature_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sig_t       *sig;
    ngx_http_otp_sig_ctx_t   *before;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    sig = olcf->hook.signature;

    if (sig == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx && ctx->sig) {
        /*
         * run again by the phase engine: resumed from the body handler or
         * the store's answer, or by a write event while they are awaited
         */
        return ctx->sig->status;
    }

    if (ctx == NULL) {
        before = ngx_http_otp_signature_before(r);

        if (before && before->passed
            && ngx_http_otp_signature_same(before->passed, sig))
        {
            /*
             * an internal redirect (try_files, a named location) to where
             * the same check applies: it passed, and done again its
             * replay check would refuse the request's own webhook-id
             */
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "otp signature check passed before a redirect");
            return NGX_OK;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature check, scheme %ui", sig->scheme);

    rc = ngx_http_otp_signature_pre(r, sig);

    if (rc != NGX_AGAIN) {
        /* NGX_OK: passed on what came before the body; NGX_DONE: refused */
        return rc;
    }

    /* the check needs the body: it is read first */

    if (r->headers_in.content_length_n > (off_t) olcf->hook.body_limit) {
        return ngx_http_otp_signature_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "invalid_request",
                                           "The request body is too large.");
    }

    ctx = ngx_http_otp_signature_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sig->status = NGX_DONE;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_otp_signature_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* as ngx_http_mirror_module.c: the count the body reading took */
    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


static void
ngx_http_otp_signature_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 body;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_sig_t       *sig;
    ngx_http_otp_loc_conf_t  *olcf;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature check: body read");

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    sig = olcf->hook.signature;

    rc = ngx_http_otp_hook_body(r, &body);

    if (rc == NGX_DECLINED) {
        (void) ngx_http_otp_signature_deny(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "invalid_request",
                                           "The request body is too large.");
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_otp_signature_check(r, sig, &body) != NGX_OK) {
        /* refused and answered */
        return;
    }

    ctx->sig->body = body;
    ctx->sig->checked = 1;

    /* the body is what the next handler or upstream reads */
    r->preserve_body = 1;

    if (sig->scheme == NGX_HTTP_OTP_SIG_STDWH && sig->replay) {
        if (ngx_http_otp_signature_seen(r, ctx, sig) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ctx->sig->status = NGX_OK;
    ctx->sig->passed = sig;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * The replay check: the store remembers the webhook-id for twice the
 * tolerance, as long as a replayed timestamp would still be accepted (it
 * may be up to tolerance in the past or in the future).  The key is an
 * HMAC under the sender's secret of the secret file's name and the id, so
 * that the ids of two senders never meet and no sender's text becomes a
 * store key.  Locations (and instances sharing a Redis) that name the
 * same secret_file share what was seen.
 */

static ngx_int_t
ngx_http_otp_signature_seen(ngx_http_request_t *r, ngx_http_otp_ctx_t *ctx,
    ngx_http_otp_sig_t *sig)
{
    ngx_table_elt_t          *id;
    ngx_otp_hmac_part_t       parts[4];
    ngx_http_otp_store_op_t  *op;
    u_char                    key[NGX_OTP_HASH_LEN];

    id = ngx_http_otp_hook_header(r, "webhook-id");

    parts[0].data = (u_char *) "otp-stdwh-seen";
    parts[0].len = sizeof("otp-stdwh-seen");      /* with its NUL */
    parts[1].data = sig->secret_file.data;
    parts[1].len = sig->secret_file.len;
    parts[2].data = (u_char *) "";
    parts[2].len = 1;
    parts[3].data = id->value.data;
    parts[3].len = id->value.len;

    if (ngx_otp_hmac("SHA256", sig->secret.data, sig->secret.len, parts, 4,
                     key, NGX_OTP_HASH_LEN)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    op = ngx_http_otp_op_create(r, NGX_HTTP_OTP_OP_SEEN,
                                ngx_http_otp_signature_seen_handler);
    if (op == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(op->seen_key, key, NGX_OTP_HASH_LEN);
    op->ttl = (ngx_msec_t) sig->tolerance * 2 * 1000;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp signature: replay check, ttl %M", op->ttl);

    /* ctx->sig->status stays NGX_DONE until the store answers */

    (void) ngx_http_otp_op_start(r, ctx, op);

    r->read_event_handler = ngx_http_test_reading;

    if (r->connection->read->ready) {
        ngx_post_event(r->connection->read, &ngx_posted_events);

    } else if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        /* ctx->op is cancelled by the pool's cleanup */
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_otp_signature_seen_handler(ngx_http_otp_store_op_t *op)
{
    u_char                   *p, prefix[8];
    size_t                    len, i;
    ngx_connection_t         *c;
    ngx_table_elt_t          *id;
    ngx_http_request_t       *r;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    r = op->data;
    c = r->connection;

    ctx = ngx_http_otp_op_done(op);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    r->read_event_handler = ngx_http_block_reading;

    switch (op->status) {

    case NGX_HTTP_OTP_STORE_OK:
        ctx->sig->status = NGX_OK;
        ctx->sig->passed = olcf->hook.signature;

        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
        break;

    case NGX_HTTP_OTP_STORE_SEEN:
        /*
         * The id is the sender's text: its length and a prefix made
         * printable are enough to find it in the sender's own records.
         */

        id = ngx_http_otp_hook_header(r, "webhook-id");

        len = ngx_min(id->value.len, sizeof(prefix));
        p = id->value.data;

        for (i = 0; i < len; i++) {
            prefix[i] = (p[i] > 0x20 && p[i] < 0x7f && p[i] != '"'
                         && p[i] != '\\') ? p[i] : '?';
        }

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "otp webhook of \"%V\" refused: a replay of a "
                      "webhook-id accepted before (%uz bytes, \"%*s%s\")",
                      &ngx_http_otp_stdwh_name, id->value.len, len, prefix,
                      id->value.len > len ? "..." : "");

        (void) ngx_http_otp_signature_deny(r, NGX_HTTP_FORBIDDEN,
                                           "invalid_signature",
                                           "The request's signature is "
                                           "missing or invalid.");
        break;

    default:
        /* fail closed: the store logged why */
        ngx_http_finalize_request(r, ngx_http_otp_store_unavailable(r));
        break;
    }

    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_http_otp_signature_deny(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *message)
{
    ngx_int_t  rc;

    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    rc = ngx_http_otp_error(r, status, error, message);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The check's state from before an internal redirect, which forgets the
 * modules' contexts: found through the pool cleanup that holds it, as
 * ngx_http_realip_module.c finds its own.
 */

static ngx_http_otp_sig_ctx_t *
ngx_http_otp_signature_before(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_otp_signature_cleanup) {
            ctx = cln->data;
            return ctx->sig;
        }
    }

    return NULL;
}


/* the same check: the same provider, or the same Standard Webhooks sender
 * (a secret from the same file) with a tolerance no stricter */

static ngx_uint_t
ngx_http_otp_signature_same(ngx_http_otp_sig_t *a, ngx_http_otp_sig_t *b)
{
    if (a == b) {
        return 1;
    }

    if (a->scheme != b->scheme) {
        return 0;
    }

    if (a->scheme != NGX_HTTP_OTP_SIG_STDWH) {
        return a->provider == b->provider;
    }

    return a->tolerance <= b->tolerance
           && a->secret_file.len == b->secret_file.len
           && ngx_strncmp(a->secret_file.data, b->secret_file.data,
                          a->secret_file.len) == 0
           && a->secret.len == b->secret.len
           && ngx_memcmp(a->secret.data, b->secret.data, a->secret.len)
              == 0;
}


/* the request's context, made here when the access phase is first */

static ngx_http_otp_ctx_t *
ngx_http_otp_signature_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ctx->request = r;

        /* a store operation of the webhook handler dies with the request */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_otp_signature_cleanup;
        cln->data = ctx;

        ngx_http_set_ctx(r, ctx, ngx_http_otp_module);
    }

    if (ctx->sig == NULL) {
        ctx->sig = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_sig_ctx_t));
        if (ctx->sig == NULL) {
            return NULL;
        }
    }

    return ctx;
}


ngx_http_otp_ctx_t *
ngx_http_otp_hook_ctx(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_otp_signature_ctx(r);

    return ctx;
}


void
ngx_http_otp_signature_cleanup(void *data)
{
    ngx_http_otp_ctx_t *ctx = data;

    if (ctx->op) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "otp webhook request gone: cancel op %p", ctx->op);

        ngx_http_otp_store_op_cancel(ctx->op);
        ctx->op = NULL;
    }
}


/* the body as one string: the one the check read, or read now */

ngx_int_t
ngx_http_otp_hook_body(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_int_t                 rc;
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx && ctx->sig && ctx->sig->checked) {
        *body = ctx->sig->body;
        return NGX_OK;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    rc = ngx_http_otp_read_body(r, body, olcf->hook.body_limit);

    /* the webhook parsers are handed a pointer even for an empty body */

    if (rc == NGX_OK && body->data == NULL) {
        ngx_str_set(body, "");
    }

    return rc;
}


/* a request header by name, the first of that name; NULL when absent */

ngx_table_elt_t *
ngx_http_otp_hook_header(ngx_http_request_t *r, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0 && h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}

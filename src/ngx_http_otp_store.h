
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The store port: the asynchronous operations the handlers ask of the state
 * store, and the interface its two backends (shm, redis) implement with the
 * same semantics.
 *
 * Ownership and lifetime.  An operation is allocated with
 * ngx_http_otp_store_op_create() outside any request pool, because the
 * request may die before the store answers.  ngx_http_otp_store_start()
 * always answers asynchronously, exactly once, by calling op->handler from
 * the event loop (never from inside start()), and frees the operation after
 * the handler returns.  A request that goes away first calls
 * ngx_http_otp_store_op_cancel(): the handler is then never called and the
 * backend frees the operation when its reply (or timeout) arrives.  The
 * handler must forget its pointer to the operation before it finalizes the
 * request.
 *
 * Semantics (identical in both backends; "now" is the store's clock: the
 * shm zone uses the nginx time cache, Redis its TIME so that instances
 * with skewed clocks agree).  Times are in milliseconds.
 *
 * A phone record holds the code key, the code's expiry, the time of the
 * last send, a lock deadline, two failure counters, and the limits they
 * are checked against: max_attempts and lockout, max_failures and
 * failure_window (so that verify needs no copy of the send location's
 * settings).  Failed guesses count per number, whatever code they were
 * against, in two windows:
 *
 *   fails,  ending at fend  = last failure + lockout: max_attempts of them
 *           lock the number for lockout.  The window moves with each
 *           failure, so any max_attempts failures within lockout of each
 *           other lock it (a fixed window would let 2 * (max_attempts - 1)
 *           through around its end); lockout without a failure forgets;
 *   lfails, ending at lfend = first failure + failure_window (a fixed
 *           window, like the send limits): max_failures
 *           of them lock it until lfend (NIST SP 800-63B 5.2.2); an ISSUE
 *           with max_failures 0 ("otp_max_failures off") stores
 *           NGX_HTTP_OTP_STORE_NO_LIMIT.
 *
 * A counter whose window has ended counts 0.  State that limits guessing
 * never lives shorter than the limit it enforces: the record lives until
 * max(code expiry, lock, fend, lfend), so a failure counter outlives the
 * code it was counted against, and waiting out the TTL resets nothing.  A
 * record is "live" while that deadline is in the future.
 *
 * Two fixed-window counters limit sends: one per phone (send_limit per
 * send_window) and one per client address (client_limit per client_window;
 * limit 0 disables it).
 *
 * ISSUE carries the send location's limits.  Against a live record it
 * keeps the strictest of old and new, so that a resend through a location
 * with looser settings loosens nothing: max_attempts and max_failures the
 * lower, lockout and failure_window the longer (called the merged limits
 * below).  Checked in this order, changing nothing when any check fails:
 *   lock > now                            -> LOCKED,         retry = lock
 *   fails >= merged max_attempts, or lfails >= merged max_failures (a
 *     stricter location meeting failures counted under a looser one)
 *                                         -> LOCKED,         retry = the
 *                                            end of the window(s) exceeded
 *   live code and now < sent + resend     -> COOLDOWN,       retry = sent +
 *                                                                  resend
 *   phone window count >= send_limit      -> LIMITED,        retry = window
 *                                                                  end
 *   client window count >= client_limit   -> CLIENT_LIMITED, retry = window
 *                                                                  end
 *   otherwise: both send counters += 1 (a window starts on its first
 *   send), the code key replaces any previous one, code expiry = now + ttl,
 *   sent = now, the merged limits are stored, the failure counters are
 *   kept in their windows                                  -> OK
 *
 * VERIFY, atomically:
 *   no live record                            -> EXPIRED
 *   lock > now                                -> EXHAUSTED, retry = lock
 *   no code, or code expired                  -> EXPIRED
 *   fails >= max_attempts or lfails >= max_failures (cannot happen
 *     without a lock, but if it does: the code is dropped and the number
 *     locked as below)                        -> EXHAUSTED, retry = lock
 *   compare the code key in constant time:
 *     equal      -> the record is deleted, both failure counters with
 *                   it                                     -> OK
 *     different  -> fails += 1 (fend = now + lockout) and lfails += 1
 *                   (lfend = now + failure_window if its window had
 *                   ended), remaining = the lower of
 *                   max_attempts - fails and max_failures - lfails
 *                                                          -> INVALID;
 *                   when remaining reaches 0 the code is dropped and
 *                   lock = now + lockout (fails reached max_attempts)
 *                   and/or lfend (lfails reached max_failures), the
 *                   later of the two, so later guesses are EXHAUSTED
 *                   and sends LOCKED
 *
 * REVOKE, for a code no provider accepted: when the record still holds
 * code_key (a newer send's code is left alone), the code and the sent
 * time are dropped: the code can never verify, and the resend cooldown
 * no longer applies.  The per-number send window keeps the send (counted
 * at ISSUE); lock and failure counters are kept.  OK when revoked,
 * EXPIRED when there was no such code.
 *
 * BUDGET, for a provider's hourly send budget (budget_name, budget_limit):
 *   the counter of the current clock hour (UTC, aligned to the hour) += 1;
 *   count <= limit -> OK; otherwise -> LIMITED, retry = end of the hour,
 *   and first_over = 1 for exactly one caller in the hour (the one that
 *   took the count to limit + 1), so an alert is logged once.
 *
 * MESSAGE_PUT records a message accepted by a provider: message_id ->
 *   {status "queued", channel, provider, phone_key, created = updated =
 *   now}, kept for message_ttl.  It replaces a record with the same id.
 *
 * A store that times out may still have applied the operation: an ISSUE
 * answered 503 can leave a code that was never delivered, and the next
 * send then meets COOLDOWN.  That errs on the side of fewer messages.
 *
 * Any failure to reach or use the store is UNAVAILABLE: fail closed.
 *
 * When a worker exits (the same policy as the HTTP client's, in
 * ngx_http_otp_http.h):
 *   c->close on a live worker (worker_shutdown_timeout): the adapter closes
 *   the connection, answers every pending operation as failed (store:
 *   UNAVAILABLE) from that event, and schedules no reconnect while
 *   ngx_exiting/ngx_terminate.  exit_process: anything still pending is
 *   freed without calling handlers (their requests are gone); no handler
 *   runs after exit_process starts.
 * The shm backend holds nothing across events (an operation completes in
 * the posted event that follows its start), so only Redis has work to do.
 */


#ifndef _NGX_HTTP_OTP_STORE_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_otp_core.h"


typedef enum {
    NGX_HTTP_OTP_OP_ISSUE = 1,
    NGX_HTTP_OTP_OP_VERIFY,
    NGX_HTTP_OTP_OP_BUDGET,
    NGX_HTTP_OTP_OP_MESSAGE_PUT,
    NGX_HTTP_OTP_OP_REVOKE
} ngx_http_otp_op_type_e;


/* message statuses, in the order they may move (API.md, delivery status) */
typedef enum {
    NGX_HTTP_OTP_MSG_QUEUED = 1,
    NGX_HTTP_OTP_MSG_SENT,
    NGX_HTTP_OTP_MSG_DELIVERED,
    NGX_HTTP_OTP_MSG_READ,
    NGX_HTTP_OTP_MSG_UNDELIVERED,
    NGX_HTTP_OTP_MSG_FAILED
} ngx_http_otp_msg_status_e;


#define NGX_HTTP_OTP_MESSAGE_ID_MAX     128

/* max_failures 0 ("otp_max_failures off") is stored as this */
#define NGX_HTTP_OTP_STORE_NO_LIMIT     4294967295U
#define NGX_HTTP_OTP_PROVIDER_NAME_MAX  32


typedef enum {
    NGX_HTTP_OTP_STORE_OK = 0,
    NGX_HTTP_OTP_STORE_LOCKED,          /* ISSUE: failures locked it */
    NGX_HTTP_OTP_STORE_COOLDOWN,        /* ISSUE: resend too early */
    NGX_HTTP_OTP_STORE_LIMITED,         /* ISSUE: per-phone limit */
    NGX_HTTP_OTP_STORE_CLIENT_LIMITED,  /* ISSUE: per-client limit */
    NGX_HTTP_OTP_STORE_INVALID,         /* VERIFY: wrong code */
    NGX_HTTP_OTP_STORE_EXPIRED,         /* VERIFY, REVOKE: no such code */
    NGX_HTTP_OTP_STORE_EXHAUSTED,       /* VERIFY: no attempts left */
    NGX_HTTP_OTP_STORE_UNAVAILABLE      /* the store cannot be used */
} ngx_http_otp_store_status_e;


typedef struct ngx_http_otp_store_op_s  ngx_http_otp_store_op_t;

typedef void (*ngx_http_otp_store_handler_pt)(ngx_http_otp_store_op_t *op);


struct ngx_http_otp_store_op_s {
    ngx_http_otp_op_type_e          type;

    /* input: keys for ISSUE, VERIFY, REVOKE; the rest for ISSUE only */
    u_char                          phone_key[NGX_OTP_HASH_LEN];
    u_char                          code_key[NGX_OTP_HASH_LEN];
    u_char                          client_key[NGX_OTP_HASH_LEN];

    ngx_msec_t                      ttl;
    ngx_msec_t                      resend_after;
    ngx_msec_t                      lockout;
    ngx_msec_t                      send_window;
    ngx_msec_t                      client_window;
    ngx_uint_t                      max_attempts;
    ngx_uint_t                      send_limit;
    ngx_uint_t                      client_limit;   /* 0: no client limit */
    ngx_uint_t                      max_failures;   /* 0: no limit */
    ngx_msec_t                      failure_window;

    /* input: BUDGET */
    ngx_str_t                       budget_name;    /* provider name */
    ngx_uint_t                      budget_limit;

    /* input: MESSAGE_PUT (phone_key too) */
    u_char                          message_id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          message_id_len;
    u_char                          provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    size_t                          provider_len;
    ngx_uint_t                      channel;        /* NGX_OTP_SMS.. */
    ngx_msec_t                      message_ttl;

    /* output */
    ngx_http_otp_store_status_e     status;
    ngx_msec_t                      retry_after;    /* ms from now */
    ngx_uint_t                      attempts_remaining;
    unsigned                        first_over:1;   /* BUDGET */

    ngx_http_otp_store_handler_pt   handler;
    void                           *data;
    ngx_log_t                      *log;

    /* the backend's: completion event (shm) or timeout timer (redis) */
    ngx_event_t                     event;
    void                           *backend;
    unsigned                        cancelled:1;
};


typedef struct ngx_http_otp_store_conf_s  ngx_http_otp_store_conf_t;

typedef struct {
    const char                     *name;
    ngx_int_t                     (*init_process)(ngx_cycle_t *cycle,
                                        ngx_http_otp_store_conf_t *scf);
    void                          (*exit_process)(ngx_cycle_t *cycle,
                                        ngx_http_otp_store_conf_t *scf);
    /* must not call op->handler before returning */
    void                          (*start)(ngx_http_otp_store_conf_t *scf,
                                        ngx_http_otp_store_op_t *op);
} ngx_http_otp_store_backend_t;


struct ngx_http_otp_store_conf_s {
    ngx_http_otp_store_backend_t   *backend;

    /* shm */
    ngx_shm_zone_t                 *shm_zone;

    /* redis: address resolved at configuration time, never in a worker */
    ngx_str_t                       url;
    ngx_addr_t                     *addr;           /* NULL with unix */
    ngx_str_t                       unix_path;      /* NUL-terminated */
    ngx_uint_t                      db;
    ngx_str_t                       password;       /* from password_file */
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;        /* per operation */
    void                           *backend_data;   /* per worker */
};


extern ngx_http_otp_store_backend_t  ngx_http_otp_store_shm_backend;
extern ngx_http_otp_store_backend_t  ngx_http_otp_store_redis_backend;


ngx_http_otp_store_op_t *ngx_http_otp_store_op_create(ngx_log_t *log);
void ngx_http_otp_store_start(ngx_http_otp_store_conf_t *scf,
    ngx_http_otp_store_op_t *op);
void ngx_http_otp_store_op_cancel(ngx_http_otp_store_op_t *op);

/* for backends: report the result (op->status etc. set); frees the op */
void ngx_http_otp_store_op_finish(ngx_http_otp_store_op_t *op);

/*
 * shm backend configuration (ngx_http_otp_store_shm.c); tag is the
 * module's, so that nginx tells the zone from other modules' zones
 */
char *ngx_http_otp_store_shm_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *name, ssize_t size,
    void *tag);

/* redis backend configuration (ngx_http_otp_store_redis.c): parses
 * "redis://HOST[:PORT][/DB]" or "redis+unix:PATH" and key=value options
 * (db=N password_file=PATH connect_timeout=TIME timeout=TIME) */
char *ngx_http_otp_store_redis_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *args, ngx_uint_t nargs);


#endif /* _NGX_HTTP_OTP_STORE_H_INCLUDED_ */

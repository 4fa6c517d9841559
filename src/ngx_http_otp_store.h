
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
 * A message record also holds error_code (the provider's, "" when none),
 * next and prev (the ids of the message a fallback sent the code on by,
 * and of the one it followed; "" when none) and fallback (an opaque
 * sealed blob, NGX_HTTP_OTP_FALLBACK_MAX bytes at most, "" when none).
 * MESSAGE_PUT stores op->link_id as prev and op->fallback as fallback.
 *
 * MESSAGE_LINK: the record of message_id gets next = link_id (kept
 *   otherwise).  OK; NOT_FOUND when there is no such record.
 *
 * STATUS_SET (a delivery report), atomically:
 *   no record with message_id, or its provider is not op->provider
 *                                            -> NOT_FOUND, nothing changes
 *   ngx_otp_status_advances(record status, op->msg_status) false
 *                                            -> UNCHANGED, op->message =
 *                                               the record as it is
 *   otherwise status = op->msg_status, updated = now, error_code =
 *   op->error_code when one is given (kept otherwise)
 *                                            -> OK, op->message = the
 *                                               record after the change
 *   and, with OK, when the new status is terminal (ngx_otp_status_
 *   terminal()): the fallback blob leaves the record (deleted from it, so
 *   exactly one report ever gets it); when the status is failed or
 *   undelivered it is handed out in op->fallback/fallback_len, with the
 *   record's phone key in op->phone_key; otherwise it is wiped.  Then
 *   the change is announced to watchers (below).  The record's TTL is
 *   kept.
 *
 * STATUS_GET: OK with op->message, or NOT_FOUND.  The fallback blob is
 *   never read out (op->fallback_len stays 0).
 *
 * OPTOUT_SET / OPTOUT_CLEAR: the phone key joins / leaves the opt-out
 *   list (kept without expiry: a STOP is for good).  OK; OPTOUT_CLEAR
 *   answers NOT_FOUND when the key was not listed (a YES from such a
 *   number is an ordinary reply, not an opt-in).  ISSUE checks the list
 *   before everything else: a listed number -> OPTED_OUT, and nothing
 *   changes.
 *
 * CODE_LIVE: OPTED_OUT when the phone key is on the opt-out list (checked
 *   first); OK when the phone record holds code_key, unexpired, and the
 *   number is not locked; EXPIRED otherwise.  Changes nothing, counts no
 *   attempt: the fallback's check that the code it would resend is still
 *   the one to enter, to a number that still wants codes.
 *
 * Analytics (issue 10; the endpoint is ngx_http_otp_analytics.c).  Hourly
 * rows, each for one clock hour (UTC, aligned), channel, provider (its
 * store_name) and country calling code, counted inside the operations
 * above, exactly once:
 *   MESSAGE_PUT: the row of the hour of created (now), op->channel,
 *     op->provider, op->country: sent += 1, cost += op->cost (when not
 *     -1).  The message record keeps created, cost and country.
 *   STATUS_SET answering OK, to delivered or read from a status that was
 *     neither: the row of the hour of now, the record's channel, provider
 *     and country: delivered += 1, ms_sum += now - created, ms_count += 1,
 *     hist[ngx_otp_delivery_bucket(now - created)] += 1.  To failed or
 *     undelivered: failed += 1 in that row, and count += 1 in the failure
 *     row of (hour, channel, provider, country, error code; "unknown" for
 *     none).
 *   Rows live for scf->analytics_retention after the end of their hour.
 *   A row that cannot be stored (a full shm zone) is not counted, and the
 *   operation is answered as without analytics: a send never fails for
 *   its statistics.
 * ANALYTICS_GET: the rows of the hours from op->from to op->to (unix
 *   seconds, aligned, to exclusive) whose provider begins with op->provider
 *   (the app's "APP-ID:" prefix; provider_len 0: every row) and, with
 *   op->unprefixed (the http level's app), has no ':', in op->rows
 *   (op->nrows of them, allocated with ngx_alloc() by the backend and
 *   freed with the op); OK.  NGX_HTTP_OTP_ANALYTICS_ROWS_MAX rows at most,
 *   after those filters: when there are more, the newest whole hours that
 *   fit are kept (the newest hour in part when it alone does not fit) and
 *   op->truncated is set.  A stored counter the module cannot read (a
 *   newer version's channel, a hand-made field) is skipped, with a
 *   warning, not an error.
 *   With op->sum (otp_smart_channels' read): one row per (provider,
 *   country, channel) with sent and delivered summed over the range, hour
 *   = op->from, the other counters 0, and no failure rows: a window's
 *   read is as large as its distinct rows, not hours x rows.
 * On a Redis Cluster the hour's counters are in another slot than the
 *   message record: MESSAGE_PUT and STATUS_SET answer the counters to add
 *   (op->counts) and the backend adds them with an ANALYTICS_ADD of its
 *   own, right after; not atomic with the operation (README, "Delivery
 *   analytics").
 *
 * SEEN, a receiver's replay check (Standard Webhooks' webhook-id):
 *   seen_key absent (or its record expired) -> it is stored for ttl ms
 *                                              -> OK
 *   present                                  -> SEEN, nothing changes
 *   one set-if-absent, so that of two deliveries of one id racing through
 *   two workers or two instances exactly one gets OK.  The record is
 *   never evicted before its ttl (a full shm zone answers UNAVAILABLE):
 *   forgetting an id early would let its replay through.  The caller
 *   makes ttl at least as long as a replay would be accepted otherwise
 *   (ngx_http_otp_signature.c: twice the timestamp tolerance).
 *
 * Watching.  Whatever applies a STATUS_SET that answers OK announces the
 * message id: the shm backend appends it to a ring of recent changes in
 * its zone (NGX_HTTP_OTP_STORE_FEED entries), the Redis script PUBLISHes
 * it on the channel "otp:status" (so other nginx instances hear it).
 * backend->watch() makes this worker call handler(id, data) from the
 * event loop for each id announced from then on, by any worker or any
 * instance: the shm backend by reading the ring from a per-worker timer
 * (NGX_HTTP_OTP_STORE_FEED_TICK ms) that runs only while watched, the
 * Redis backend over one dedicated subscriber connection per worker.
 * handler(NULL, data) means "changes may have been missed, look again at
 * everything": called when the ring was lapped, and each time the
 * subscription is (re)established, so a waiter that read the status
 * before the subscriber was ready loses nothing.  unwatch() stops it
 * (the shm timer stops; the Redis subscriber may stay connected).
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
    NGX_HTTP_OTP_OP_REVOKE,
    NGX_HTTP_OTP_OP_MESSAGE_LINK,
    NGX_HTTP_OTP_OP_STATUS_SET,
    NGX_HTTP_OTP_OP_STATUS_GET,
    NGX_HTTP_OTP_OP_OPTOUT_SET,
    NGX_HTTP_OTP_OP_OPTOUT_CLEAR,
    NGX_HTTP_OTP_OP_CODE_LIVE,
    NGX_HTTP_OTP_OP_SEEN,
    NGX_HTTP_OTP_OP_ANALYTICS_GET,
    NGX_HTTP_OTP_OP_ANALYTICS_ADD       /* Redis Cluster, the backend's */
} ngx_http_otp_op_type_e;


/* message statuses: the core's (ngx_otp_status_*(), API.md) */
typedef enum {
    NGX_HTTP_OTP_MSG_QUEUED = NGX_OTP_STATUS_QUEUED,
    NGX_HTTP_OTP_MSG_SENT = NGX_OTP_STATUS_SENT,
    NGX_HTTP_OTP_MSG_DELIVERED = NGX_OTP_STATUS_DELIVERED,
    NGX_HTTP_OTP_MSG_READ = NGX_OTP_STATUS_READ,
    NGX_HTTP_OTP_MSG_UNDELIVERED = NGX_OTP_STATUS_UNDELIVERED,
    NGX_HTTP_OTP_MSG_FAILED = NGX_OTP_STATUS_FAILED
} ngx_http_otp_msg_status_e;


/* a provider's id (NGX_HTTP_OTP_ID_LEN) under a server's app's "APP-ID:" */
#define NGX_HTTP_OTP_MESSAGE_ID_MAX     (128 + 16 + 1)

/* max_failures 0 ("otp_max_failures off") is stored as this */
#define NGX_HTTP_OTP_STORE_NO_LIMIT     4294967295U
/* a provider's store_name: a server's app id (16 hex digits), ":", and
 * the name (otp_provider's, NGX_HTTP_OTP_NAME_LEN at most) */
#define NGX_HTTP_OTP_PROVIDER_NAME_MAX  (16 + 1 + 32)
#define NGX_HTTP_OTP_ERROR_CODE_MAX     32
#define NGX_HTTP_OTP_FALLBACK_MAX       1280    /* a message text and more */

/* the shm backend's ring of status changes, and how often it is read */
#define NGX_HTTP_OTP_STORE_FEED         256
#define NGX_HTTP_OTP_STORE_FEED_TICK    100


typedef enum {
    NGX_HTTP_OTP_STORE_OK = 0,
    NGX_HTTP_OTP_STORE_LOCKED,          /* ISSUE: failures locked it */
    NGX_HTTP_OTP_STORE_COOLDOWN,        /* ISSUE: resend too early */
    NGX_HTTP_OTP_STORE_LIMITED,         /* ISSUE: per-phone limit */
    NGX_HTTP_OTP_STORE_CLIENT_LIMITED,  /* ISSUE: per-client limit */
    NGX_HTTP_OTP_STORE_INVALID,         /* VERIFY: wrong code */
    NGX_HTTP_OTP_STORE_EXPIRED,         /* VERIFY, REVOKE: no such code */
    NGX_HTTP_OTP_STORE_EXHAUSTED,       /* VERIFY: no attempts left */
    NGX_HTTP_OTP_STORE_UNAVAILABLE,     /* the store cannot be used */
    NGX_HTTP_OTP_STORE_OPTED_OUT,       /* ISSUE, CODE_LIVE: said STOP */
    NGX_HTTP_OTP_STORE_NOT_FOUND,       /* STATUS_*, LINK, OPTOUT_CLEAR */
    NGX_HTTP_OTP_STORE_UNCHANGED,       /* STATUS_SET: not a step forward */
    NGX_HTTP_OTP_STORE_SEEN             /* SEEN: the key was there */
} ngx_http_otp_store_status_e;


/* a message record as STATUS_SET and STATUS_GET read it out */
typedef struct {
    ngx_uint_t                      status;         /* NGX_OTP_STATUS_* */
    ngx_uint_t                      channel;        /* NGX_OTP_SMS.. */
    u_char                          provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    size_t                          provider_len;
    u_char                          error_code[NGX_HTTP_OTP_ERROR_CODE_MAX];
    size_t                          error_code_len;
    u_char                          next[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          next_len;
    u_char                          prev[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          prev_len;
    int64_t                         updated;        /* ms since the epoch */
    int64_t                         created;        /* 0: not told (the
                                                       Redis store's
                                                       STATUS_SET) */
} ngx_http_otp_message_t;


/* an analytics row as ANALYTICS_GET reads it out (failure 0: a counts
 * row; failure 1: a failure row, error_code set, count in failed) */
typedef struct {
    int64_t                         hour;           /* unix seconds */
    ngx_uint_t                      channel;
    u_char                          provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    size_t                          provider_len;
    u_char                          country[NGX_OTP_COUNTRY_MAX];
    size_t                          country_len;
    u_char                          error_code[NGX_HTTP_OTP_ERROR_CODE_MAX];
    size_t                          error_code_len;
    ngx_uint_t                      failure;
    uint64_t                        sent;
    uint64_t                        delivered;
    uint64_t                        failed;
    uint64_t                        ms_sum;
    uint64_t                        ms_count;
    int64_t                         cost;           /* millionths */
    uint64_t                        hist[NGX_OTP_DELIVERY_BUCKETS];
} ngx_http_otp_analytics_row_t;

#define NGX_HTTP_OTP_ANALYTICS_ROWS_MAX  16384

/* a counter to add, "c|CHANNEL|PROVIDER|COUNTRY|NAME" or "e|...|ERROR" */
#define NGX_HTTP_OTP_ANALYTICS_FIELD_MAX                                      \
    (2 + 9 + NGX_HTTP_OTP_PROVIDER_NAME_MAX + 1 + NGX_OTP_COUNTRY_MAX + 1     \
     + NGX_HTTP_OTP_ERROR_CODE_MAX)
#define NGX_HTTP_OTP_ANALYTICS_COUNTS     4

typedef struct {
    u_char                          field[NGX_HTTP_OTP_ANALYTICS_FIELD_MAX];
    size_t                          len;
    int64_t                         incr;
} ngx_http_otp_analytics_count_t;


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

    /* input: SEEN (ttl too): an HMAC, never the sender's text */
    u_char                          seen_key[NGX_OTP_HASH_LEN];

    /* input: BUDGET */
    ngx_str_t                       budget_name;    /* provider's
                                                       store_name */
    ngx_uint_t                      budget_limit;

    /* input: MESSAGE_PUT (phone_key too) */
    u_char                          message_id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          message_id_len;
    u_char                          provider[NGX_HTTP_OTP_PROVIDER_NAME_MAX];
    size_t                          provider_len;
    ngx_uint_t                      channel;        /* NGX_OTP_SMS.. */
    ngx_msec_t                      message_ttl;
    int64_t                         cost;           /* millionths; -1:
                                                       unknown */
    u_char                          country[NGX_OTP_COUNTRY_MAX];
    size_t                          country_len;    /* 0: none known */

    /* input: MESSAGE_PUT (prev), MESSAGE_LINK (next) */
    u_char                          link_id[NGX_HTTP_OTP_MESSAGE_ID_MAX];
    size_t                          link_id_len;

    /* input: MESSAGE_PUT; output: STATUS_SET (then wiped by the port
     * when the op is freed) */
    u_char                          fallback[NGX_HTTP_OTP_FALLBACK_MAX];
    size_t                          fallback_len;

    /* input: STATUS_SET (message_id and provider too) */
    ngx_uint_t                      msg_status;     /* NGX_OTP_STATUS_* */
    u_char                          error_code[NGX_HTTP_OTP_ERROR_CODE_MAX];
    size_t                          error_code_len;

    /* output: STATUS_SET, STATUS_GET */
    ngx_http_otp_message_t          message;

    /* input: ANALYTICS_GET (and provider, the prefix); output: rows */
    int64_t                         from;           /* unix seconds */
    int64_t                         to;
    ngx_http_otp_analytics_row_t   *rows;           /* ngx_alloc() */
    ngx_uint_t                      nrows;
    unsigned                        unprefixed:1;   /* input: the http
                                                       level's app */
    unsigned                        sum:1;          /* input: aggregate */
    unsigned                        truncated:1;

    /* output: MESSAGE_PUT, STATUS_SET on a Redis Cluster; input:
     * ANALYTICS_ADD */
    ngx_http_otp_analytics_count_t  counts[NGX_HTTP_OTP_ANALYTICS_COUNTS];
    ngx_uint_t                      ncounts;

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
    ngx_msec_t                      start;          /* the port's, for
                                                       the metrics */
    ngx_msec_t                      retention;      /* the port's: the
                                                       store conf's
                                                       analytics_retention */
    /* the Redis backend's: ANALYTICS_GET read a part at a time */
    int64_t                         read_to;        /* what is left: from
                                                       .. read_to */
    ngx_uint_t                      rows_alloc;
    unsigned                        reading:1;
    unsigned                        cancelled:1;
};


typedef struct ngx_http_otp_store_conf_s  ngx_http_otp_store_conf_t;

/* id NULL: anything may have changed */
typedef void (*ngx_http_otp_store_watch_pt)(ngx_str_t *id, void *data);

typedef struct {
    const char                     *name;
    ngx_int_t                     (*init_process)(ngx_cycle_t *cycle,
                                        ngx_http_otp_store_conf_t *scf);
    void                          (*exit_process)(ngx_cycle_t *cycle,
                                        ngx_http_otp_store_conf_t *scf);
    /* must not call op->handler before returning */
    void                          (*start)(ngx_http_otp_store_conf_t *scf,
                                        ngx_http_otp_store_op_t *op);
    /* status change announcements, see "Watching" above */
    ngx_int_t                     (*watch)(ngx_http_otp_store_conf_t *scf,
                                        ngx_http_otp_store_watch_pt handler,
                                        void *data);
    void                          (*unwatch)(ngx_http_otp_store_conf_t *scf);
} ngx_http_otp_store_backend_t;


struct ngx_http_otp_store_conf_s {
    ngx_http_otp_store_backend_t   *backend;

    /* shm */
    ngx_shm_zone_t                 *shm_zone;

    /* redis: address resolved at configuration time, never in a worker */
    ngx_str_t                       url;
    ngx_addr_t                     *addr;           /* NULL with unix */
    ngx_array_t                    *seeds;          /* redis-cluster:
                                                       ngx_addr_t */
    ngx_str_t                       unix_path;      /* NUL-terminated */
    ngx_uint_t                      db;
    ngx_str_t                       username;       /* ACL user, or empty */
    ngx_str_t                       password;       /* from password_file */
    void                           *sentinel;       /* redis-sentinel:// */
    ngx_uint_t                      wait_replicas;  /* wait=N:TIME; 0 off */
    ngx_msec_t                      wait_timeout;
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;        /* per operation */
    void                           *backend_data;   /* per worker */

    /* otp_analytics_retention: how long an hour's rows are kept */
    ngx_msec_t                      analytics_retention;
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
 * "redis://HOST[:PORT][/DB]", "redis+unix:PATH" or
 * "redis-cluster://HOST:PORT[,HOST:PORT...]" (ngx_http_otp_redis_cluster.c)
 * or "redis-sentinel://HOST:PORT[,HOST:PORT...]/NAME[/DB]"
 * (ngx_http_otp_redis_sentinel.c) and key=value options (db=N
 * username=NAME password_file=PATH connect_timeout=TIME timeout=TIME
 * wait=N:TIME, and the sentinel_* ones) */
char *ngx_http_otp_store_redis_conf(ngx_conf_t *cf,
    ngx_http_otp_store_conf_t *scf, ngx_str_t *args, ngx_uint_t nargs);


#endif /* _NGX_HTTP_OTP_STORE_H_INCLUDED_ */

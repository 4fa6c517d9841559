/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The Redis store's replies: each script's answer (src/lua/NAME.lua names
 * it in its header comment) read into the operation.  The status numbers
 * are the scripts' own, mapped here to the store's statuses; everything
 * in a reply is Redis's and checked before use.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_store_redis_reply.h"


/* an hour's analytics rows by what they count: op->rows index + 1 */
typedef struct {
    ngx_uint_t                     *slots;
    ngx_uint_t                      mask;
    ngx_uint_t                      first;      /* the hour's first row */
} ngx_http_otp_redis_index_t;


typedef ngx_int_t (*ngx_http_otp_redis_read_pt)(
    ngx_http_otp_store_op_t *op, ngx_uint_t script, redisReply *reply);


/* how a script's answer is read (ngx_http_otp_redis_result()) */
typedef struct {
    ngx_http_otp_store_status_e    *status;     /* by the script's number */
    ngx_uint_t                      nstatus;
    ngx_uint_t                      nelts;      /* unless NOT_FOUND */
    ngx_http_otp_redis_read_pt      read;       /* elements after the 1st */
} ngx_http_otp_redis_answer_t;


static ngx_int_t ngx_http_otp_redis_retry(ngx_http_otp_store_op_t *op,
    ngx_uint_t script, redisReply *reply);
static ngx_int_t ngx_http_otp_redis_message(ngx_http_otp_store_op_t *op,
    ngx_uint_t script, redisReply *reply);
static ngx_int_t ngx_http_otp_redis_analytics(ngx_http_otp_store_op_t *op,
    redisReply *reply);
static ngx_int_t ngx_http_otp_redis_analytics_field(
    ngx_http_otp_store_op_t *op, ngx_http_otp_redis_index_t *index,
    int64_t hour, redisReply *field, redisReply *value);
static void ngx_http_otp_redis_analytics_index(
    ngx_http_otp_redis_index_t *index, ngx_http_otp_analytics_row_t *rows,
    ngx_uint_t j);
static uint32_t ngx_http_otp_redis_analytics_hash(ngx_uint_t failure,
    ngx_uint_t channel, u_char *provider, size_t provider_len,
    u_char *country, size_t country_len, u_char *error, size_t error_len);
static void ngx_http_otp_redis_analytics_skipped(ngx_http_otp_store_op_t *op,
    ngx_uint_t skipped);
static ngx_int_t ngx_http_otp_redis_number(redisReply *r, int64_t *n);
static ngx_int_t ngx_http_otp_redis_counts(ngx_http_otp_store_op_t *op,
    redisReply *list);


static ngx_http_otp_store_status_e  ngx_http_otp_redis_issue_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_LOCKED,
    NGX_HTTP_OTP_STORE_COOLDOWN,
    NGX_HTTP_OTP_STORE_LIMITED,
    NGX_HTTP_OTP_STORE_CLIENT_LIMITED,
    NGX_HTTP_OTP_STORE_OPTED_OUT
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_verify_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_INVALID,
    NGX_HTTP_OTP_STORE_EXPIRED,
    NGX_HTTP_OTP_STORE_EXHAUSTED
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_budget_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_LIMITED
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_message_put_status[] = {
    NGX_HTTP_OTP_STORE_OK
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_revoke_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_EXPIRED
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_code_live_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_EXPIRED,
    NGX_HTTP_OTP_STORE_OPTED_OUT
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_optout_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_NOT_FOUND        /* OPTOUT_CLEAR: was not listed */
};


static ngx_http_otp_store_status_e  ngx_http_otp_redis_seen_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_SEEN
};


/* MESSAGE_LINK, STATUS_GET, STATUS_SET (only it answers UNCHANGED) */
static ngx_http_otp_store_status_e  ngx_http_otp_redis_message_status[] = {
    NGX_HTTP_OTP_STORE_OK,
    NGX_HTTP_OTP_STORE_NOT_FOUND,
    NGX_HTTP_OTP_STORE_UNCHANGED
};


#define ngx_http_otp_redis_map(map)                                          \
    map, sizeof(map) / sizeof(ngx_http_otp_store_status_e)


/*
 * By script: its status numbers, the elements of an answer that is not
 * NOT_FOUND, and the reader of those after the status.
 */
static ngx_http_otp_redis_answer_t  ngx_http_otp_redis_answers[] = {
    { ngx_http_otp_redis_map(ngx_http_otp_redis_issue_status), 3,
      ngx_http_otp_redis_retry },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_verify_status), 3,
      ngx_http_otp_redis_retry },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_budget_status), 3,
      ngx_http_otp_redis_retry },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_message_put_status), 1,
      NULL },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_revoke_status), 3,
      ngx_http_otp_redis_retry },
    { ngx_http_otp_redis_message_status, 2, 1, NULL },      /* MESSAGE_LINK */
    { ngx_http_otp_redis_message_status, 3, 11,              /* STATUS_SET */
      ngx_http_otp_redis_message },
    { ngx_http_otp_redis_message_status, 2, 8,               /* STATUS_GET */
      ngx_http_otp_redis_message },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_optout_status), 1, NULL },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_code_live_status), 1, NULL },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_seen_status), 1, NULL },
    /* CLIENT: ISSUE's statuses, of which it answers OK and CLIENT_LIMITED */
    { ngx_http_otp_redis_map(ngx_http_otp_redis_issue_status), 3,
      ngx_http_otp_redis_retry },
    /* ANALYTICS: read by ngx_http_otp_redis_analytics() */
    { NULL, 0, 0, NULL },
    /* ANALYTICS_ADD: {0}, the first of SEEN's statuses */
    { ngx_http_otp_redis_map(ngx_http_otp_redis_seen_status), 1, NULL }
};


/*
 * The scripts' answers: {status, retry_after_ms, attempts_remaining}
 * (ISSUE, VERIFY, REVOKE, CLIENT), {status, retry_after_ms, first_over} (BUDGET),
 * {status} (MESSAGE_PUT, MESSAGE_LINK, OPTOUT, CODE_LIVE, SEEN), each an
 * integer; STATUS_GET and STATUS_SET: {status} or {status, record...}
 * (ngx_http_otp_redis_message()).  A NOT_FOUND is always {status} alone.
 * Anything else is an unexpected reply.
 */

ngx_int_t
ngx_http_otp_redis_result(ngx_http_otp_store_op_t *op, ngx_uint_t script,
    redisReply *reply)
{
    ngx_uint_t                    nelts;
    ngx_http_otp_redis_answer_t  *a;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[0]->integer < 0)
    {
        return NGX_ERROR;
    }

    if (script == NGX_HTTP_OTP_REDIS_ANALYTICS) {
        return ngx_http_otp_redis_analytics(op, reply);
    }

    a = &ngx_http_otp_redis_answers[script];

    if ((unsigned long long) reply->element[0]->integer >= a->nstatus) {
        return NGX_ERROR;
    }

    op->status = a->status[reply->element[0]->integer];

    nelts = (op->status == NGX_HTTP_OTP_STORE_NOT_FOUND) ? 1 : a->nelts;

    /* on a Cluster, MESSAGE_PUT and STATUS_SET may answer the analytics
     * counters to add last (message_put.lua) */

    op->ncounts = 0;

    if (op->status == NGX_HTTP_OTP_STORE_OK
        && (script == NGX_HTTP_OTP_REDIS_MESSAGE_PUT
            || script == NGX_HTTP_OTP_REDIS_STATUS_SET)
        && reply->elements == nelts + 1)
    {
        if (ngx_http_otp_redis_counts(op, reply->element[nelts]) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (reply->elements != nelts) {
        return NGX_ERROR;
    }

    if (nelts == 1) {
        return NGX_OK;
    }

    return a->read(op, script, reply);
}


/* {status, retry_after_ms, attempts_remaining or first_over} */

static ngx_int_t
ngx_http_otp_redis_retry(ngx_http_otp_store_op_t *op, ngx_uint_t script,
    redisReply *reply)
{
    ngx_uint_t    i;
    redisReply  **e;

    e = reply->element;

    for (i = 1; i < 3; i++) {
        if (e[i]->type != REDIS_REPLY_INTEGER || e[i]->integer < 0) {
            return NGX_ERROR;
        }
    }

    op->retry_after = (ngx_msec_t) e[1]->integer;

    if (script == NGX_HTTP_OTP_REDIS_BUDGET) {
        if (e[2]->integer > 1) {
            return NGX_ERROR;
        }

        op->first_over = e[2]->integer ? 1 : 0;

    } else {
        op->attempts_remaining = (ngx_uint_t) e[2]->integer;
    }

    return NGX_OK;
}


/*
 * A message record: {_, status, channel, provider, error_code, next, prev,
 * updated}, and for STATUS_SET {..., fallback, phone, created}.  The
 * strings are Redis's and checked against their buffers, never trusted to fit; a
 * status or channel the module does not know is an unexpected reply.
 */

static ngx_int_t
ngx_http_otp_redis_message(ngx_http_otp_store_op_t *op, ngx_uint_t script,
    redisReply *reply)
{
    ngx_int_t                n;
    ngx_uint_t               i;
    redisReply             **e;
    ngx_http_otp_message_t  *m;

    e = reply->element;

    if (e[1]->type != REDIS_REPLY_INTEGER || e[7]->type != REDIS_REPLY_INTEGER
        || e[1]->integer < 0 || e[1]->integer > NGX_OTP_STATUS_FAILED
        || ngx_otp_status_name((unsigned) e[1]->integer) == NULL
        || e[7]->integer < 0)
    {
        return NGX_ERROR;
    }

    /* the record's elements; a Cluster's counters after them are read
     * by ngx_http_otp_redis_counts() */

    n = (script == NGX_HTTP_OTP_REDIS_STATUS_SET) ? 11 : 8;

    for (i = 2; i < (ngx_uint_t) n; i++) {
        if (i != 7 && i != 10 && e[i]->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }
    }

    if (e[3]->len > NGX_HTTP_OTP_PROVIDER_NAME_MAX
        || e[4]->len > NGX_HTTP_OTP_ERROR_CODE_MAX
        || e[5]->len > NGX_HTTP_OTP_MESSAGE_ID_MAX
        || e[6]->len > NGX_HTTP_OTP_MESSAGE_ID_MAX)
    {
        return NGX_ERROR;
    }

    m = &op->message;

    m->status = (ngx_uint_t) e[1]->integer;
    m->channel = ngx_otp_channel_parse((u_char *) e[2]->str, e[2]->len);

    if (m->channel == 0) {
        return NGX_ERROR;
    }

    m->provider_len = e[3]->len;
    ngx_memcpy(m->provider, e[3]->str, e[3]->len);
    m->error_code_len = e[4]->len;
    ngx_memcpy(m->error_code, e[4]->str, e[4]->len);
    m->next_len = e[5]->len;
    ngx_memcpy(m->next, e[5]->str, e[5]->len);
    m->prev_len = e[6]->len;
    ngx_memcpy(m->prev, e[6]->str, e[6]->len);
    m->updated = (int64_t) e[7]->integer;
    m->created = 0;

    if (script == NGX_HTTP_OTP_REDIS_STATUS_SET) {
        /* for the time from send to delivered (the metrics) */

        if (e[10]->type != REDIS_REPLY_INTEGER || e[10]->integer < 0) {
            return NGX_ERROR;
        }

        m->created = (int64_t) e[10]->integer;
    }

    op->fallback_len = 0;

    if (script != NGX_HTTP_OTP_REDIS_STATUS_SET || e[8]->len == 0) {
        return NGX_OK;
    }

    /* the blob, handed out once, and the phone key its code is for */

    if (e[8]->len > NGX_HTTP_OTP_FALLBACK_MAX
        || e[9]->len != 2 * NGX_OTP_HASH_LEN)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_OTP_HASH_LEN; i++) {
        n = ngx_hextoi((u_char *) e[9]->str + 2 * i, 2);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        op->phone_key[i] = (u_char) n;
    }

    ngx_memcpy(op->fallback, e[8]->str, e[8]->len);
    op->fallback_len = e[8]->len;

    return NGX_OK;
}


/*
 * ANALYTICS_GET: {0, next, hour, {field, value, ...}, ...}
 * (analytics_get.lua), a part of the range, its hours newest first, added
 * to op->rows (op->read_to: the end of what is left to read; the store
 * calls again while it is above op->from and the rows are not full).  A
 * field
 * "c|CHANNEL|PROVIDER|COUNTRY|COUNTER" is a counter of the counts row of
 * those, "e|CHANNEL|PROVIDER|COUNTRY|ERROR" the failure row's count.
 *
 * Each field finds its row through a hash table of the hour's rows
 * (open addressing on op->rows' indexes, emptied for each hour), so an
 * hour is read in O(fields), whatever its size.
 *
 * Rows of another app (op->provider, the prefix; op->unprefixed: names
 * with no "APP-ID:") are left out before they count against
 * NGX_HTTP_OTP_ANALYTICS_ROWS_MAX.  When the rows do not fit, the hours
 * that fit whole are kept, the newest, and op->truncated is set (the
 * newest hour is kept in part when it alone does not fit).
 *
 * A field the module cannot read (a newer version's channel, a name
 * longer than it stores, a value that is no count: a hand-made HSET) is
 * skipped, with one warning for the reply: one such field must not take
 * every answer of its hour's range with it.  Only a reply of the wrong
 * shape (types, an odd list, an hour out of the range or out of order)
 * is an unexpected reply.
 */

static ngx_int_t
ngx_http_otp_redis_analytics(ngx_http_otp_store_op_t *op, redisReply *reply)
{
    size_t                         n, most, size;
    int64_t                        hour, next;
    ngx_int_t                      rc;
    ngx_uint_t                     i, j, skipped;
    redisReply                    *h, *f;
    ngx_http_otp_analytics_row_t  *rows;
    ngx_http_otp_redis_index_t     index;

    if (!op->reading) {
        /* the first part of the range */
        op->reading = 1;
        op->read_to = op->to;
        op->nrows = 0;
        op->rows_alloc = 0;
    }

    if (reply->element[0]->integer != 0 || reply->elements < 2
        || reply->elements % 2 != 0
        || reply->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return NGX_ERROR;
    }

    /* what is left to read, less than what was: each call reads an hour
     * at least */

    next = (int64_t) reply->element[1]->integer;

    if (next < op->from || next >= op->read_to || next % 3600) {
        return NGX_ERROR;
    }

    /* the fields bound the rows, an hour's fields its rows */

    n = 0;
    most = 0;
    hour = op->read_to;

    for (i = 2; i < reply->elements; i += 2) {
        h = reply->element[i];
        f = reply->element[i + 1];

        if (h->type != REDIS_REPLY_INTEGER || h->integer < next
            || h->integer >= hour || h->integer % 3600
            || f->type != REDIS_REPLY_ARRAY || f->elements % 2)
        {
            return NGX_ERROR;
        }

        hour = (int64_t) h->integer;
        n += f->elements / 2;
        most = ngx_max(most, f->elements / 2);
    }

    op->status = NGX_HTTP_OTP_STORE_OK;
    op->read_to = next;

    if (n == 0) {
        return NGX_OK;
    }

    /* room for this part's rows, up to the limit; grown, as a part at a
     * time is read */

    n = ngx_min(op->nrows + n, NGX_HTTP_OTP_ANALYTICS_ROWS_MAX);

    if (n > op->rows_alloc) {
        n = ngx_max(n, ngx_min(2 * op->rows_alloc,
                               NGX_HTTP_OTP_ANALYTICS_ROWS_MAX));

        rows = ngx_alloc(n * sizeof(ngx_http_otp_analytics_row_t), op->log);
        if (rows == NULL) {
            return NGX_ERROR;
        }

        if (op->rows) {
            ngx_memcpy(rows, op->rows,
                       op->nrows * sizeof(ngx_http_otp_analytics_row_t));
            ngx_free(op->rows);
        }

        op->rows = rows;
        op->rows_alloc = n;
    }

    /*
     * At most half full: an hour has no more rows than fields.  op->sum:
     * every part is one list of sums, added to the rows of the parts
     * before it, which the index holds too (a row per provider, country
     * and channel over the whole range).
     */

    if (op->sum) {
        most += op->nrows;
    }

    most = ngx_min(most, NGX_HTTP_OTP_ANALYTICS_ROWS_MAX);

    for (size = 16; size < 2 * most; size *= 2) { /* void */ }

    index.mask = size - 1;
    index.slots = ngx_alloc(size * sizeof(ngx_uint_t), op->log);
    if (index.slots == NULL) {
        return NGX_ERROR;
    }

    skipped = 0;
    rc = NGX_OK;

    for (i = 2; i < reply->elements && rc == NGX_OK; i += 2) {
        hour = (int64_t) reply->element[i]->integer;
        f = reply->element[i + 1];

        /* the rows of this hour start here */
        index.first = op->nrows;
        ngx_memzero(index.slots, size * sizeof(ngx_uint_t));

        if (op->sum) {
            hour = op->from;
            index.first = 0;

            for (j = 0; j < op->nrows; j++) {
                ngx_http_otp_redis_analytics_index(&index, op->rows, j);
            }
        }

        for (j = 0; j < f->elements; j += 2) {
            rc = ngx_http_otp_redis_analytics_field(op, &index, hour,
                                                    f->element[j],
                                                    f->element[j + 1]);

            if (rc == NGX_DECLINED) {
                skipped++;
                rc = NGX_OK;
                continue;
            }

            if (rc != NGX_OK) {
                break;
            }
        }

        if (rc == NGX_AGAIN) {
            /* full: the older hours are left out, and this one unless
             * it is the newest */
            op->truncated = 1;

            if (index.first > 0) {
                op->nrows = index.first;
            }
        }
    }

    ngx_free(index.slots);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (skipped) {
        ngx_http_otp_redis_analytics_skipped(op, skipped);
    }

    return NGX_OK;
}


/*
 * NGX_OK: counted, or another app's (left out); NGX_DECLINED: a field
 * the module cannot read; NGX_AGAIN: its row does not fit; NGX_ERROR: not
 * a hash's field and value.
 */

static ngx_int_t
ngx_http_otp_redis_analytics_field(ngx_http_otp_store_op_t *op,
    ngx_http_otp_redis_index_t *index, int64_t hour, redisReply *field,
    redisReply *value)
{
    int64_t                        v;
    uint32_t                       hash;
    ngx_uint_t                     s;
    ngx_otp_analytics_field_t      f;
    ngx_http_otp_analytics_row_t  *row;

    if (field->type != REDIS_REPLY_STRING
        || (value->type != REDIS_REPLY_STRING
            && value->type != REDIS_REPLY_INTEGER))
    {
        return NGX_ERROR;
    }

    if (ngx_http_otp_redis_number(value, &v) != NGX_OK
        || ngx_otp_analytics_field_parse((u_char *) field->str, field->len,
                                         NGX_HTTP_OTP_PROVIDER_NAME_MAX,
                                         NGX_HTTP_OTP_ERROR_CODE_MAX, &f)
           != NGX_OTP_OK)
    {
        return NGX_DECLINED;
    }

    /* the app's rows only */

    if (f.provider_len < op->provider_len
        || ngx_memcmp(f.provider, op->provider, op->provider_len) != 0
        || (op->unprefixed
            && ngx_strlchr((u_char *) f.provider,
                           (u_char *) f.provider + f.provider_len, ':')))
    {
        return NGX_OK;
    }

    /* the row, among this hour's: what it counts, hashed */

    hash = ngx_http_otp_redis_analytics_hash(f.failure, f.channel,
                                             (u_char *) f.provider,
                                             f.provider_len,
                                             (u_char *) f.country,
                                             f.country_len,
                                             (u_char *) f.error, f.error_len);

    row = NULL;

    for (s = hash & index->mask; index->slots[s]; s = (s + 1) & index->mask) {
        row = &op->rows[index->slots[s] - 1];

        if (row->failure == f.failure && row->channel == f.channel
            && row->provider_len == f.provider_len
            && ngx_memcmp(row->provider, f.provider, f.provider_len) == 0
            && row->country_len == f.country_len
            && ngx_memcmp(row->country, f.country, f.country_len) == 0
            && row->error_code_len == f.error_len
            && ngx_memcmp(row->error_code, f.error, f.error_len) == 0)
        {
            break;
        }

        row = NULL;
    }

    if (row == NULL) {
        if (op->nrows == op->rows_alloc) {
            return NGX_AGAIN;
        }

        index->slots[s] = op->nrows + 1;

        row = &op->rows[op->nrows++];
        ngx_memzero(row, sizeof(ngx_http_otp_analytics_row_t));

        row->hour = hour;
        row->channel = f.channel;
        row->failure = f.failure;
        row->provider_len = f.provider_len;
        ngx_memcpy(row->provider, f.provider, f.provider_len);
        row->country_len = f.country_len;
        ngx_memcpy(row->country, f.country, f.country_len);
        row->error_code_len = f.error_len;
        ngx_memcpy(row->error_code, f.error, f.error_len);
    }

    if (f.failure) {
        row->failed += v;
        return NGX_OK;
    }

    switch (f.counter) {

    case NGX_OTP_COUNTER_SENT:
        row->sent += v;
        break;

    case NGX_OTP_COUNTER_DELIVERED:
        row->delivered += v;
        break;

    case NGX_OTP_COUNTER_FAILED:
        row->failed += v;
        break;

    case NGX_OTP_COUNTER_MS_COUNT:
        row->ms_count += v;
        break;

    case NGX_OTP_COUNTER_MS_SUM:
        row->ms_sum += v;
        break;

    case NGX_OTP_COUNTER_COST:
        row->cost += v;
        break;

    default:
        if (f.counter >= NGX_OTP_COUNTER_HIST) {
            row->hist[f.counter - NGX_OTP_COUNTER_HIST] += v;
        }

        /* a newer version's counter: nothing to add here */
        break;
    }

    return NGX_OK;
}


/* row j of rows into the index (op->sum: the rows of the parts before) */

static void
ngx_http_otp_redis_analytics_index(ngx_http_otp_redis_index_t *index,
    ngx_http_otp_analytics_row_t *rows, ngx_uint_t j)
{
    uint32_t                       hash;
    ngx_uint_t                     s;
    ngx_http_otp_analytics_row_t  *row;

    row = &rows[j];

    hash = ngx_http_otp_redis_analytics_hash(row->failure, row->channel,
                                             row->provider, row->provider_len,
                                             row->country, row->country_len,
                                             row->error_code,
                                             row->error_code_len);

    for (s = hash & index->mask; index->slots[s]; s = (s + 1) & index->mask) {
        /* void */
    }

    index->slots[s] = j + 1;
}


/* what a row counts, hashed for the index */

static uint32_t
ngx_http_otp_redis_analytics_hash(ngx_uint_t failure, ngx_uint_t channel,
    u_char *provider, size_t provider_len, u_char *country,
    size_t country_len, u_char *error, size_t error_len)
{
    u_char    c;
    uint32_t  hash;

    ngx_crc32_init(hash);
    c = (u_char) (failure << 4 | channel);
    ngx_crc32_update(&hash, &c, 1);
    ngx_crc32_update(&hash, provider, provider_len);
    ngx_crc32_update(&hash, (u_char *) "|", 1);
    ngx_crc32_update(&hash, country, country_len);
    ngx_crc32_update(&hash, (u_char *) "|", 1);
    ngx_crc32_update(&hash, error, error_len);
    ngx_crc32_final(hash);

    return hash;
}


/* told at most once a minute by a worker: smart reads every refresh= */

static void
ngx_http_otp_redis_analytics_skipped(ngx_http_otp_store_op_t *op,
    ngx_uint_t skipped)
{
    static ngx_msec_t  warned;

    if (warned && ngx_current_msec - warned < 60000) {
        return;
    }

    warned = ngx_current_msec;

    ngx_log_error(NGX_LOG_WARN, op->log, 0,
                  "otp redis store: analytics: %ui fields the module "
                  "cannot read were skipped (another version's, or not "
                  "written by the module)", skipped);
}


/* a counter: an integer reply or the text of one, 0 or more */

static ngx_int_t
ngx_http_otp_redis_number(redisReply *r, int64_t *n)
{
    ngx_int_t  v;

    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0) {
            return NGX_ERROR;
        }

        *n = (int64_t) r->integer;
        return NGX_OK;
    }

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 19) {
        return NGX_ERROR;
    }

    v = ngx_atoi((u_char *) r->str, r->len);

    if (v == NGX_ERROR) {
        return NGX_ERROR;
    }

    *n = (int64_t) v;

    return NGX_OK;
}


/* {field, increment, ...}: the counters a Cluster adds in their own slot */

static ngx_int_t
ngx_http_otp_redis_counts(ngx_http_otp_store_op_t *op, redisReply *list)
{
    int64_t                          v;
    ngx_uint_t                       i;
    redisReply                      *f;
    ngx_http_otp_analytics_count_t  *c;

    if (list->type != REDIS_REPLY_ARRAY || list->elements == 0
        || list->elements % 2
        || list->elements > 2 * NGX_HTTP_OTP_ANALYTICS_COUNTS)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < list->elements; i += 2) {
        f = list->element[i];

        if (f->type != REDIS_REPLY_STRING || f->len == 0
            || f->len > NGX_HTTP_OTP_ANALYTICS_FIELD_MAX
            || ngx_http_otp_redis_number(list->element[i + 1], &v) != NGX_OK)
        {
            return NGX_ERROR;
        }

        c = &op->counts[op->ncounts++];
        ngx_memcpy(c->field, f->str, f->len);
        c->len = f->len;
        c->incr = v;
    }

    return NGX_OK;
}

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
    { ngx_http_otp_redis_message_status, 3, 10,              /* STATUS_SET */
      ngx_http_otp_redis_message },
    { ngx_http_otp_redis_message_status, 2, 8,               /* STATUS_GET */
      ngx_http_otp_redis_message },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_optout_status), 1, NULL },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_code_live_status), 1, NULL },
    { ngx_http_otp_redis_map(ngx_http_otp_redis_seen_status), 1, NULL },
    /* CLIENT: ISSUE's statuses, of which it answers OK and CLIENT_LIMITED */
    { ngx_http_otp_redis_map(ngx_http_otp_redis_issue_status), 3,
      ngx_http_otp_redis_retry }
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

    a = &ngx_http_otp_redis_answers[script];

    if ((unsigned long long) reply->element[0]->integer >= a->nstatus) {
        return NGX_ERROR;
    }

    op->status = a->status[reply->element[0]->integer];

    nelts = (op->status == NGX_HTTP_OTP_STORE_NOT_FOUND) ? 1 : a->nelts;

    if (reply->elements != nelts) {
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
 * updated}, and for STATUS_SET {..., fallback, phone}.  The strings are
 * Redis's and checked against their buffers, never trusted to fit; a
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

    for (i = 2; i < reply->elements; i++) {
        if (i != 7 && e[i]->type != REDIS_REPLY_STRING) {
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

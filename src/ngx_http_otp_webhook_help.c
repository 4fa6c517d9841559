
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * HELP: otp_help_text, and the replies sent where the answer to a
 * webhook call cannot carry one (Meta's), detached from the call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_webhook_call.h"


/* a HELP reply in flight, detached from the call it answers */
typedef struct {
    ngx_queue_t                     queue;      /* the worker's */
    ngx_log_t                       log;        /* the cycle's, a copy */
    ngx_http_otp_send_t            *send;
} ngx_http_otp_webhook_reply_t;


static void ngx_http_otp_webhook_reply(ngx_http_request_t *r,
    ngx_http_otp_provider_t *p, ngx_otp_hook_message_t *m, ngx_str_t *text);
static void ngx_http_otp_webhook_reply_done(ngx_http_otp_send_t *send);


static char *ngx_http_otp_help_text_check(ngx_conf_t *cf, void *post,
    void *data);


ngx_conf_post_t  ngx_http_otp_help_text_post = {
    ngx_http_otp_help_text_check
};


static ngx_queue_t  ngx_http_otp_webhook_replies;
static ngx_uint_t   ngx_http_otp_webhook_replies_init;


/* otp_help_text TEXT: checked now, not at the first HELP (a 500 then) */

char *
ngx_http_otp_help_text(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char    *rv;
    size_t   len;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_otp_twiml_message(olcf->hook.help_text.data,
                              olcf->hook.help_text.len, NULL, 0, &len)
        != NGX_OTP_OK)
    {
        return "takes UTF-8 text without control characters other than "
               "tab and line breaks: a TwiML <Message> cannot carry them";
    }

    return NGX_CONF_OK;
}


/*
 * otp_help_text: sent as it is by any provider's webhook, so it must be
 * what every one takes; refused here rather than failing at each HELP
 */

static char *
ngx_http_otp_help_text_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t *text = data;

    size_t      i, k;
    uint32_t    cp;
    ngx_uint_t  chars;

    chars = 0;

    for (i = 0; i < text->len; i += k, chars++) {
        k = ngx_otp_utf8_decode(&text->data[i], text->len - i, &cp);

        if (k == 0 || cp == 0) {
            return "is not valid UTF-8 text";
        }
    }

    if (chars > NGX_HTTP_OTP_HELP_TEXT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"otp_help_text\" has %ui characters; at most "
                           "%d go in a message", chars,
                           NGX_HTTP_OTP_HELP_TEXT_MAX);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * HELP where the answer cannot carry a reply (Meta's): the help text as a
 * free-form message of its own to each sender who asked (once each, however
 * many times the call holds it), through the provider that received the
 * call, which Meta allows within 24 hours of the user's message.
 */

void
ngx_http_otp_webhook_help(ngx_http_request_t *r, ngx_http_otp_webhook_t *wh,
    ngx_str_t *help)
{
    ngx_uint_t               i, j;
    ngx_otp_hook_message_t  *m;

    m = wh->hook.messages;

    for (i = 0; i < wh->hook.nmessages; i++) {

        if (m[i].from_len == 0
            || ngx_otp_keyword(m[i].text.data, m[i].text.len)
               != NGX_OTP_KEYWORD_HELP)
        {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (m[j].from_len == m[i].from_len
                && ngx_memcmp(m[j].from, m[i].from, m[i].from_len) == 0
                && ngx_otp_keyword(m[j].text.data, m[j].text.len)
                   == NGX_OTP_KEYWORD_HELP)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        if (!(wh->provider->type->free_form & m[i].channel)) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "otp webhook of \"%V\": HELP is not answered: "
                          "%s sends no free-form %s text",
                          &wh->provider->name, wh->provider->type->name,
                          ngx_otp_channel_name(m[i].channel));
            continue;
        }

        ngx_http_otp_webhook_reply(r, wh->provider, &m[i], help);
    }
}


/*
 * A reply detached from the call: it outlives the request, so it logs to
 * a copy of the cycle's log of its own (the port sets the action of the
 * log it is given until the answer; the cycle's is shared by every
 * reply in flight), its text is the configuration's, which outlives this
 * worker's sends, and a worker that exits cancels it.  A failure is
 * logged by the port, once, scrubbed, with its category; nothing else
 * depends on a reply.
 */

static void
ngx_http_otp_webhook_reply(ngx_http_request_t *r, ngx_http_otp_provider_t *p,
    ngx_otp_hook_message_t *m, ngx_str_t *text)
{
    u_char                         masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                         masked_len;
    ngx_http_otp_send_t           *send;
    ngx_http_otp_webhook_reply_t  *rp;

    masked_len = ngx_otp_phone_mask(m->from, m->from_len, masked);

    rp = ngx_alloc(sizeof(ngx_http_otp_webhook_reply_t), r->connection->log);
    if (rp == NULL) {
        return;
    }

    rp->log = *ngx_cycle->log;
    rp->log.action = NULL;

    send = ngx_http_otp_send_create(&rp->log);
    if (send == NULL) {
        ngx_free(rp);
        return;
    }

    send->provider = p;
    send->channel = m->channel;
    ngx_memcpy(send->phone, m->from, m->from_len);
    send->phone_len = m->from_len;
    send->text = *text;
    send->free_form = 1;
    send->handler = ngx_http_otp_webhook_reply_done;
    send->data = rp;

    rp->send = send;

    if (!ngx_http_otp_webhook_replies_init) {
        ngx_queue_init(&ngx_http_otp_webhook_replies);
        ngx_http_otp_webhook_replies_init = 1;
    }

    ngx_queue_insert_tail(&ngx_http_otp_webhook_replies, &rp->queue);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "otp webhook of \"%V\": HELP from %*s answered by a %s "
                  "text, send %p", &p->name, masked_len, masked,
                  ngx_otp_channel_name(m->channel), send);

    ngx_http_otp_send_start(send);
}


/* the port frees the send once this returns, and reads its log no more */

static void
ngx_http_otp_webhook_reply_done(ngx_http_otp_send_t *send)
{
    u_char                         masked[NGX_OTP_PHONE_MAX_LEN];
    size_t                         masked_len;
    ngx_http_otp_webhook_reply_t  *rp;

    rp = send->data;

    if (send->rc == NGX_OK) {
        masked_len = ngx_otp_phone_mask(send->phone, send->phone_len,
                                        masked);

        ngx_log_error(NGX_LOG_INFO, send->log, 0,
                      "otp provider \"%V\": HELP reply to %*s sent, send "
                      "%p, message %*s", &send->provider->name, masked_len,
                      masked, send, send->message_id_len, send->message_id);
    }

    ngx_queue_remove(&rp->queue);
    ngx_free(rp);
}


void
ngx_http_otp_webhook_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_http_otp_webhook_reply_t  *rp;

    if (!ngx_http_otp_webhook_replies_init) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_otp_webhook_replies)) {
        q = ngx_queue_head(&ngx_http_otp_webhook_replies);
        rp = ngx_queue_data(q, ngx_http_otp_webhook_reply_t, queue);

        ngx_queue_remove(q);

        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "otp provider \"%V\": HELP reply, send %p, "
                      "cancelled: the worker exits",
                      &rp->send->provider->name, rp->send);

        /* the send lets go of rp's log: freed, or left to the cycle's */
        ngx_http_otp_send_cancel(rp->send);
        ngx_free(rp);
    }
}

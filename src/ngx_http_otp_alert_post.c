
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The failure alert's webhook POST, Standard Webhooks-signed: webhook-id,
 * webhook-timestamp and webhook-signature over "id.timestamp.body".  A
 * receiver that cannot take it (no connection, a timeout, HTTP 408, 429
 * or 5xx) gets it again after 1 s, 10 s, 1 min and 10 min, with the same
 * webhook-id and body (the receiver's key for doing it once) and a new
 * timestamp and signature, then the error log says it was given up; one
 * that refuses it (any other 4xx) does not.  The [alert] line is the
 * record that does not depend on the receiver.  The retries live in the
 * worker that fired: its exit (a reload) drops them, as their timers are
 * cancelable and never hold the exit.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_alert_post.h"
#include "ngx_http_otp_http.h"


typedef struct {
    ngx_event_t                     retry;      /* a timer, cancelable */
    ngx_str_t                       url;
    ngx_str_t                       secret;
    ngx_uint_t                      tries;
    size_t                          id_len;
    u_char                          id[48];
    size_t                          len;
    u_char                          body[NGX_HTTP_OTP_ALERT_BODY];
} ngx_http_otp_alert_post_t;


static void ngx_http_otp_alert_post_try(ngx_http_otp_alert_post_t *post);
static void ngx_http_otp_alert_posted(ngx_http_otp_http_req_t *req);
static void ngx_http_otp_alert_retry(ngx_event_t *ev);


static ngx_msec_t  ngx_http_otp_alert_retries[] = { 1000, 10000, 60000,
                                                    600000 };


void
ngx_http_otp_alert_webhook(ngx_str_t *url, ngx_str_t *secret, u_char *body,
    size_t len)
{
    ngx_http_otp_alert_post_t  *post;

    if (len > NGX_HTTP_OTP_ALERT_BODY) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "otp alert: a webhook body of %uz bytes", len);
        return;
    }

    post = ngx_alloc(sizeof(ngx_http_otp_alert_post_t), ngx_cycle->log);
    if (post == NULL) {
        return;
    }

    ngx_memzero(&post->retry, sizeof(ngx_event_t));
    post->url = *url;
    post->secret = *secret;
    post->tries = 0;

    if (ngx_otp_random_id(post->id, sizeof(post->id), &post->id_len, "msg_")
        != NGX_OTP_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "otp alert: no random id for the webhook");
        ngx_free(post);
        return;
    }

    ngx_memcpy(post->body, body, len);
    post->len = len;

    ngx_http_otp_alert_post_try(post);
}


/* one try of a POST: signed now; the post is freed when no retry follows */

static void
ngx_http_otp_alert_post_try(ngx_http_otp_alert_post_t *post)
{
    u_char                     *p, *body;
    ngx_http_otp_http_req_t    *req;
    ngx_http_otp_main_conf_t   *omcf;
    u_char                      ts[NGX_TIME_T_LEN];
    u_char                      hid[64], hts[64];
    u_char                      hsig[32 + NGX_OTP_STDWH_HEADER_LEN];

    omcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_otp_module);

    req = ngx_http_otp_http_create(ngx_cycle->log);
    if (req == NULL) {
        ngx_free(post);
        return;
    }

    body = ngx_http_otp_http_body(req, post->len);
    if (body == NULL) {
        ngx_http_otp_http_cancel(req);
        ngx_free(post);
        return;
    }

    ngx_memcpy(body, post->body, post->len);

    p = ngx_sprintf(ts, "%T", ngx_time());

    req->headers[0].data = hsig;
    req->headers[0].len = sizeof("webhook-signature: ") - 1
                          + NGX_OTP_STDWH_HEADER_LEN;
    ngx_memcpy(hsig, "webhook-signature: ",
               sizeof("webhook-signature: ") - 1);

    if (ngx_otp_stdwh_sign(post->secret.data, post->secret.len, post->id,
                           post->id_len, ts, p - ts, body, req->body.len,
                           hsig + sizeof("webhook-signature: ") - 1)
        != NGX_OTP_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "otp alert: the webhook cannot be signed");
        ngx_http_otp_http_cancel(req);
        ngx_free(post);
        return;
    }

    req->headers[1].data = hid;
    req->headers[1].len = ngx_sprintf(hid, "webhook-id: %*s", post->id_len,
                                      post->id)
                          - hid;
    req->headers[2].data = hts;
    req->headers[2].len = ngx_sprintf(hts, "webhook-timestamp: %*s",
                                      p - ts, ts)
                          - hts;
    ngx_str_set(&req->headers[3], "Content-Type: application/json");
    req->nheaders = 4;

    req->method = "POST";
    req->url = post->url;
    req->handler = ngx_http_otp_alert_posted;
    req->data = post;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "otp alert: POST %V, webhook-id %*s, try %ui", &req->url,
                   post->id_len, post->id, post->tries + 1);

    /* start() copies the headers: the buffers above may go */
    ngx_http_otp_http_start(&omcf->http, req);
}


static void
ngx_http_otp_alert_posted(ngx_http_otp_http_req_t *req)
{
    ngx_msec_t                  delay;
    ngx_uint_t                  again;
    ngx_http_otp_alert_post_t  *post;

    post = req->data;

    if (req->rc != NGX_OK) {
        /* curl's words name addresses: the log's only */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "otp alert: webhook %*s failed: %s (%*s)",
                      post->id_len, post->id,
                      ngx_otp_delivery_error_name(req->category),
                      req->error_len, req->error);

        again = (req->category != NGX_OTP_DELIVERY_ABORTED);

    } else if (req->status < 200 || req->status > 299) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "otp alert: webhook %*s answered HTTP %ui",
                      post->id_len, post->id, req->status);

        again = (req->status >= 500 || req->status == 408
                 || req->status == 429);

    } else {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "otp alert: webhook %*s answered HTTP %ui",
                       post->id_len, post->id, req->status);
        ngx_free(post);
        return;
    }

    if (!again || ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_free(post);
        return;
    }

    if (post->tries == sizeof(ngx_http_otp_alert_retries)
                       / sizeof(ngx_http_otp_alert_retries[0]))
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "otp alert: webhook %*s given up after %ui tries",
                      post->id_len, post->id, post->tries + 1);
        ngx_free(post);
        return;
    }

    delay = ngx_http_otp_alert_retries[post->tries++];

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "otp alert: webhook %*s tried again in %M ms",
                  post->id_len, post->id, delay);

    post->retry.handler = ngx_http_otp_alert_retry;
    post->retry.data = post;
    post->retry.log = ngx_cycle->log;
    post->retry.cancelable = 1;

    ngx_add_timer(&post->retry, delay);
}


static void
ngx_http_otp_alert_retry(ngx_event_t *ev)
{
    ngx_http_otp_alert_post_t  *post;

    post = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "otp alert: webhook %*s, the retry's timer",
                   post->id_len, post->id);

    ngx_http_otp_alert_post_try(post);
}

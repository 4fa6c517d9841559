
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The provider port: the otp_provider directive's arguments, the life
 * cycle of a send, and the HTTP call every HTTP provider type makes: the
 * body built into a buffer the call owns and wipes, the call started,
 * its answer read, and a failure logged once, the code scrubbed out.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_conf.h"
#include "ngx_http_otp_provider.h"
#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_cost.h"
#include "ngx_http_otp_alert.h"


static void ngx_http_otp_send_finish(ngx_http_otp_send_t *send);
static void ngx_http_otp_send_done(ngx_event_t *ev);
static void ngx_http_otp_send_answer(ngx_http_otp_http_req_t *req);
static void ngx_http_otp_send_failed(ngx_http_otp_send_t *send,
    ngx_uint_t category, ngx_uint_t status, u_char *text, size_t len);
static ngx_int_t ngx_http_otp_provider_common(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *arg);
static char *ngx_http_otp_provider_options(ngx_conf_t *cf,
    ngx_http_otp_provider_t *p, ngx_str_t *args, ngx_uint_t nargs);


static ngx_http_otp_provider_type_t  *ngx_http_otp_provider_types[] = {
    &ngx_http_otp_provider_log,
    &ngx_http_otp_provider_twilio,
    &ngx_http_otp_provider_meta_whatsapp,
    &ngx_http_otp_provider_africastalking,
    NULL
};


/* otp_provider NAME TYPE [key=value ...] */

char *
ngx_http_otp_provider_add(ngx_conf_t *cf, ngx_array_t *providers,
    ngx_http_otp_http_conf_t *hcf)
{
    u_char                         *c;
    ngx_str_t                      *value, *a;
    ngx_uint_t                      i;
    ngx_array_t                    *args;
    ngx_http_otp_provider_t        *p;
    ngx_http_otp_provider_type_t  **type;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_HTTP_OTP_NAME_LEN) {
        goto invalid_name;
    }

    /* the name appears in JSON answers and metrics labels as it is */

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
        {
            goto invalid_name;
        }
    }

    p = providers->elts;

    for (i = 0; i < providers->nelts; i++) {
        if (p[i].name.len == value[1].len
            && ngx_strncmp(p[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate provider \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    for (type = ngx_http_otp_provider_types; *type; type++) {
        if (ngx_strcmp(value[2].data, (*type)->name) == 0) {
            break;
        }
    }

    if (*type == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider type \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    p = ngx_array_push(providers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(p, sizeof(ngx_http_otp_provider_t));

    p->name = value[1];
    p->type = *type;
    p->channels = (*type)->channels;
    p->http = hcf;

    /* the options every type shares go first; the rest are the type's */

    args = ngx_array_create(cf->pool, cf->args->nelts, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        switch (ngx_http_otp_provider_common(cf, p, &value[i])) {

        case NGX_OK:
            continue;

        case NGX_ERROR:
            return NGX_CONF_ERROR;

        default: /* NGX_DECLINED: the type's */
            break;
        }

        a = ngx_array_push(args);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        *a = value[i];
    }

    if (p->common.base_url.len
        && ngx_http_otp_http_add_host(cf, p->http, &p->common.base_url)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_provider_options(cf, p, args->elts, args->nelts)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return (*type)->conf(cf, p);

invalid_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid provider name \"%V\": 1-32 letters, digits, "
                       "'_' or '-'", &value[1]);
    return NGX_CONF_ERROR;
}


/* base_url=URL budget=N (sends per hour) timeout=TIME */

static ngx_int_t
ngx_http_otp_provider_common(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *arg)
{
    ngx_int_t   n, rc;
    ngx_str_t   v;

    rc = ngx_http_otp_provider_arg(cf, arg, "base_url", &v);

    if (rc == NGX_OK) {

        while (v.len && v.data[v.len - 1] == '/') {
            v.len--;
        }

        if (!(v.len > 7 && ngx_strncmp(v.data, "http://", 7) == 0)
            && !(v.len > 8 && ngx_strncmp(v.data, "https://", 8) == 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid base_url \"%V\": expected an "
                               "http:// or https:// URL", &v);
            return NGX_ERROR;
        }

        p->common.base_url = v;
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_provider_arg(cf, arg, "budget", &v) == NGX_OK) {

        if (v.len > 2 && ngx_strncmp(v.data + v.len - 2, "/h", 2) == 0) {
            v.len -= 2;
        }

        n = ngx_atoi(v.data, v.len);
        if (n == NGX_ERROR || n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid budget \"%V\": expected sends per "
                               "hour, such as \"budget=500/h\"", arg);
            return NGX_ERROR;
        }

        p->common.budget = n;
        return NGX_OK;
    }

    if (ngx_http_otp_provider_arg(cf, arg, "timeout", &v) == NGX_OK) {
        p->common.timeout = ngx_parse_time(&v, 0);

        if (p->common.timeout == (ngx_msec_t) NGX_ERROR
            || p->common.timeout == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid timeout \"%V\"", arg);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * Allocates the type's configuration and fills it from args by the type's
 * options table; an unknown or repeated option is an [emerg] that names
 * the key, never the value, which may be a secret.
 */

static char *
ngx_http_otp_provider_options(ngx_conf_t *cf, ngx_http_otp_provider_t *p,
    ngx_str_t *args, ngx_uint_t nargs)
{
    u_char                          *eq;
    ngx_int_t                        rc;
    ngx_str_t                        value, *field;
    ngx_uint_t                       i;
    ngx_http_otp_provider_option_t  *o, none;

    if (p->type->conf_size) {
        p->conf = ngx_pcalloc(cf->pool, p->type->conf_size);
        if (p->conf == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    none.key = NULL;

    for (i = 0; i < nargs; i++) {

        for (o = p->type->options ? p->type->options : &none; o->key; o++) {

            rc = ngx_http_otp_provider_arg(cf, &args[i], o->key, &value);

            if (rc == NGX_DECLINED) {
                continue;
            }

            if (rc != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            field = (ngx_str_t *) ((u_char *) p->conf + o->offset);

            if (field->data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%s provider \"%V\": \"%s\" is given "
                                   "twice", p->type->name, &p->name, o->key);
                return NGX_CONF_ERROR;
            }

            *field = value;
            break;
        }

        if (o->key == NULL) {
            /* the key only: the value may be a secret */

            eq = ngx_strlchr(args[i].data, args[i].data + args[i].len, '=');

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s provider \"%V\": unknown option \"%*s\"",
                               p->type->name, &p->name,
                               (eq ? eq : args[i].data + args[i].len)
                               - args[i].data, args[i].data);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_otp_provider_arg(ngx_conf_t *cf, ngx_str_t *arg, const char *key,
    ngx_str_t *value)
{
    size_t     len;
    ngx_str_t  path;

    len = ngx_strlen(key);

    if (arg->len > len && ngx_strncmp(arg->data, key, len) == 0
        && arg->data[len] == '=')
    {
        value->data = arg->data + len + 1;
        value->len = arg->len - len - 1;
        return NGX_OK;
    }

    if (arg->len > len + 5 && ngx_strncmp(arg->data, key, len) == 0
        && ngx_strncmp(arg->data + len, "_file=", 6) == 0)
    {
        path.data = arg->data + len + 6;
        path.len = arg->len - len - 6;

        if (ngx_http_otp_read_file(cf, &path, 1, value) != NGX_CONF_OK) {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    return NGX_DECLINED;
}


ngx_http_otp_send_t *
ngx_http_otp_send_create(ngx_log_t *log)
{
    ngx_http_otp_send_t  *send;

    send = ngx_calloc(sizeof(ngx_http_otp_send_t), log);
    if (send == NULL) {
        return NULL;
    }

    send->log = log;
    send->event.data = send;
    send->event.log = log;
    send->rc = NGX_ERROR;
    send->cost = -1;

    return send;
}


void
ngx_http_otp_send_start(ngx_http_otp_send_t *send)
{
    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, send->log, 0,
                   "otp provider \"%V\": send %p via %s, %s",
                   &send->provider->name, send,
                   ngx_otp_channel_name(send->channel),
                   send->provider->type->name);

    /*
     * What the error log says the request was doing, until the answer;
     * and which request it names, which the port's lines logged from
     * curl's events, before the handler runs, must name too
     */

    send->start = ngx_current_msec;

    send->action = send->log->action;
    send->log->action = send->free_form
                        ? "sending a text through a provider"
                        : "sending the code through a provider";

    if (send->log->data) {
        send->log_request =
                  ((ngx_http_log_ctx_t *) send->log->data)->current_request;
    }

    if (send->free_form
        && !(send->provider->type->free_form & send->channel))
    {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "no free-form text on this channel");
        return;
    }

    send->provider->type->send(send);
}


void
ngx_http_otp_send_cancel(ngx_http_otp_send_t *send)
{
    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, send->log, 0,
                   "otp provider \"%V\": cancel send %p%s",
                   &send->provider->name, send,
                   send->http ? ", aborting its call" : "");

    send->log->action = send->action;

    if (send->http) {
        /* the transfer is aborted and its handler never runs */
        ngx_http_otp_http_cancel(send->http);
        ngx_explicit_memzero(send->code, sizeof(send->code));
        ngx_free(send);
        return;
    }

    /* a posted answer: it runs, finds the send cancelled, and frees it;
     * the provider answered, so it is counted all the same (an accepted
     * message was sent, and billed) */

    send->answered = send->event.posted;
    send->cancelled = 1;
    send->data = NULL;
    send->log = ngx_cycle->log;
    send->event.log = ngx_cycle->log;
}


void
ngx_http_otp_send_post(ngx_http_otp_send_t *send, ngx_int_t rc,
    ngx_uint_t category, const char *reason)
{
    if (rc != NGX_OK) {
        ngx_http_otp_send_failed(send, category, 0, (u_char *) reason,
                                 reason ? ngx_strlen(reason) : 0);
    }

    send->rc = rc;

    if (rc == NGX_OK) {
        /* now: the text is the request's, and the request may be gone
         * by the time the posted answer runs */
        ngx_http_otp_cost_send(send);
    }

    send->event.handler = ngx_http_otp_send_done;
    ngx_post_event(&send->event, &ngx_posted_events);
}


void
ngx_http_otp_provider_call(ngx_http_otp_send_t *send,
    ngx_http_otp_provider_call_t *pr)
{
    u_char                   *body;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_otp_http_req_t  *req;

    if (pr->build(pr->msg, NULL, 0, &len) != NGX_OTP_OK) {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "the message cannot be built");
        return;
    }

    req = ngx_http_otp_http_create(send->log);
    if (req == NULL) {
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               "out of memory");
        return;
    }

    /* the body holds the code: it is the request's, wiped with it */

    body = ngx_http_otp_http_body(req, len);

    if (body == NULL || pr->build(pr->msg, body, len, &len) != NGX_OTP_OK) {
        ngx_http_otp_http_cancel(req);
        ngx_http_otp_send_post(send, NGX_ERROR, NGX_OTP_DELIVERY_INTERNAL,
                               body ? "the message cannot be built"
                                    : "out of memory");
        return;
    }

    req->method = "POST";
    req->url = pr->url;

    for (i = 0; i < pr->nheaders; i++) {
        req->headers[i] = pr->headers[i];
    }

    req->nheaders = pr->nheaders;
    req->userpwd = pr->userpwd;
    req->timeout = send->provider->common.timeout;
    req->handler = ngx_http_otp_send_answer;
    req->data = send;

    send->http = req;
    send->parse = pr->parse;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, send->log, 0,
                   "otp provider \"%V\": send %p calls %V",
                   &send->provider->name, send, &req->url);

    ngx_http_otp_http_start(send->provider->http, req);
}


/* reports the result, then frees the send; a cancelled one is only freed */

static void
ngx_http_otp_send_finish(ngx_http_otp_send_t *send)
{
    if (send->event.timer_set) {
        ngx_del_timer(&send->event);
    }

    if (send->event.posted) {
        ngx_delete_posted_event(&send->event);
    }

    if (!send->cancelled || send->answered) {
        /* an attempt a request gave up on before its answer has no
         * result to count; an answered one is a message sent, with a
         * cost (set when the answer came: ngx_http_otp_send_post(),
         * ngx_http_otp_send_answer()) */
        ngx_http_otp_metrics_send(send);
        ngx_http_otp_alert_send(send);
    }

    if (!send->cancelled && send->handler) {
        send->log->action = send->action;

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, send->log, 0,
                       "otp provider \"%V\": send %p answered %i %s",
                       &send->provider->name, send, send->rc,
                       send->rc == NGX_OK
                       ? "ok" : ngx_otp_delivery_error_name(send->category));

        send->handler(send);
    }

    /* the code must not outlive the send in freed memory */

    ngx_explicit_memzero(send->code, sizeof(send->code));

    ngx_free(send);
}


static void
ngx_http_otp_send_done(ngx_event_t *ev)
{
    ngx_http_otp_send_finish(ev->data);
}


/* the HTTP client's answer; req is freed by the client once this returns */

static void
ngx_http_otp_send_answer(ngx_http_otp_http_req_t *req)
{
    ngx_otp_wire_str_t      code;
    ngx_http_otp_send_t    *send;
    ngx_otp_wire_answer_t   a;

    send = req->data;
    send->http = NULL;

    if (send->log_request) {
        ngx_http_set_log_request(send->log, send->log_request);
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, send->log, 0,
                   "otp provider \"%V\": send %p got rc:%i HTTP %ui in %Mms",
                   &send->provider->name, send, req->rc, req->status,
                   req->elapsed);

    if (req->rc != NGX_OK) {
        /* curl's words name addresses and ports: the log's only */

        ngx_http_otp_send_failed(send, req->category, req->status,
                                 req->error, req->error_len);
        ngx_http_otp_send_finish(send);
        return;
    }

    if (req->truncated) {
        ngx_log_error(NGX_LOG_INFO, send->log, 0,
                      "otp %s provider \"%V\": answer over %uz bytes, "
                      "HTTP %ui, cut short", send->provider->type->name,
                      &send->provider->name,
                      (size_t) NGX_HTTP_OTP_HTTP_MAX_RESPONSE, req->status);
    }

    code.data = send->code;
    code.len = send->code_len;

    if (send->parse(req->status, req->response, req->response_len, &code,
                    &a)
        == NGX_OTP_OK)
    {
        if (a.id_len > sizeof(send->message_id)) {
            ngx_log_error(NGX_LOG_INFO, send->log, 0,
                          "otp %s provider \"%V\": message id \"%*s\" cut "
                          "to %uz bytes", send->provider->type->name,
                          &send->provider->name, a.id_len, a.id,
                          sizeof(send->message_id));
        }

        send->message_id_len = ngx_min(a.id_len, sizeof(send->message_id));
        ngx_memcpy(send->message_id, a.id, send->message_id_len);
        send->rc = NGX_OK;

        /* the transfer of a send whose request went is aborted: here the
         * request, and its text, are still there */
        ngx_http_otp_cost_send(send);

    } else {
        send->has_provider_code = a.has_provider_code;
        send->provider_code = a.provider_code;

        ngx_http_otp_send_failed(send, a.category, req->status, a.error,
                                 a.error_len);
    }

    ngx_http_otp_send_finish(send);
}


/*
 * A send that failed: its category, and the one [warn] line that says
 * why, with the provider's or curl's words, scrubbed of the code.
 */

static void
ngx_http_otp_send_failed(ngx_http_otp_send_t *send, ngx_uint_t category,
    ngx_uint_t status, u_char *text, size_t len)
{
    u_char  *p, masked[NGX_OTP_PHONE_MAX_LEN], head[64];
    u_char   words[NGX_OTP_WIRE_ERROR_LEN];
    size_t   i, masked_len;

    send->rc = NGX_ERROR;
    send->category = category;

    masked_len = ngx_otp_phone_mask(send->phone, send->phone_len, masked);

    p = head;

    if (status) {
        p = ngx_sprintf(p, ", HTTP %ui", status);
    }

    if (send->has_provider_code) {
        p = ngx_sprintf(p, ", %s code %L", send->provider->type->name,
                        send->provider_code);
    }

    /*
     * A provider's words are cleaned and scrubbed by the parser; curl's
     * may carry what a server sent (a certificate's names): no control
     * character reaches the log, and no code
     */

    len = ngx_min(len, sizeof(words));

    for (i = 0; i < len; i++) {
        words[i] = (text[i] < ' ' || text[i] == 0x7f) ? ' ' : text[i];
    }

    (void) ngx_otp_wire_scrub(words, len, send->code, send->code_len);

    ngx_log_error(NGX_LOG_WARN, send->log, 0,
                  "otp provider \"%V\" failed to deliver to %*s via %s: "
                  "%s%*s%s%*s%s", &send->provider->name, masked_len, masked,
                  ngx_otp_channel_name(send->channel),
                  ngx_otp_delivery_error_name(category), (size_t) (p - head),
                  head,
                  len ? ": \"" : "", len, words, len ? "\"" : "");
}

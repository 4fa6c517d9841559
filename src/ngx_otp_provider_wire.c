
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What the providers' APIs want to read and what they answer: the request
 * bodies of Twilio (SMS, WhatsApp, voice), Meta's WhatsApp Cloud API and
 * Africa's Talking, and the parsers of their answers.  No I/O here: the
 * glue in ngx_http_otp_provider_*.c sends the bytes.
 */


#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"


/* a body being written, or only measured when out is NULL */

typedef struct {
    u_char         *out;
    size_t          cap;
    size_t          len;        /* needed so far, even past cap */
} ngx_otp_wire_buf_t;


static int ngx_otp_wire_done(ngx_otp_wire_buf_t *b, size_t *len);
static int ngx_otp_wire_dump(json_t *root, u_char *out, size_t cap,
    size_t *len);
static void ngx_otp_wire_put(ngx_otp_wire_buf_t *b, const void *s, size_t n,
    int form);
static void ngx_otp_wire_puts(ngx_otp_wire_buf_t *b, const char *s,
    int form);
static void ngx_otp_wire_field(ngx_otp_wire_buf_t *b, const char *name,
    const char *prefix, const ngx_otp_wire_str_t *value);
static void ngx_otp_wire_twiml_put(ngx_otp_wire_buf_t *b,
    const ngx_otp_wire_str_t *language, const ngx_otp_wire_str_t *code,
    int form);
static void ngx_otp_wire_xml(ngx_otp_wire_buf_t *b,
    const ngx_otp_wire_str_t *s, int form);
static void ngx_otp_wire_digits(ngx_otp_wire_buf_t *b,
    const ngx_otp_wire_str_t *code, int form);
static int ngx_otp_wire_unreserved(u_char c);
static int ngx_otp_wire_e164(const ngx_otp_wire_str_t *phone);
static int ngx_otp_wire_code(const ngx_otp_wire_str_t *code);
static int ngx_otp_wire_utf8(const ngx_otp_wire_str_t *s, int controls);

static void ngx_otp_wire_answer_init(ngx_otp_wire_answer_t *a);
static json_t *ngx_otp_wire_load(const u_char *body, size_t len);
static int ngx_otp_wire_take_id(ngx_otp_wire_answer_t *a, json_t *v);
static void ngx_otp_wire_refusal(ngx_otp_wire_answer_t *a, unsigned status,
    json_t *n, json_t *message, const ngx_otp_wire_str_t *code);
static int ngx_otp_wire_unreadable(ngx_otp_wire_answer_t *a, unsigned status,
    const u_char *body, size_t len, const ngx_otp_wire_str_t *code);
static void ngx_otp_wire_text(ngx_otp_wire_answer_t *a, const u_char *text,
    size_t len, const ngx_otp_wire_str_t *code);
static int ngx_otp_wire_find(const u_char *digits, size_t len,
    const ngx_otp_wire_str_t *code);
static size_t ngx_otp_wire_clean(u_char *dst, size_t cap, const u_char *src,
    size_t len);


size_t
ngx_otp_form_escape(u_char *dst, const u_char *src, size_t len)
{
    size_t  i, n;

    static const u_char  hex[] = "0123456789ABCDEF";

    n = 0;

    for (i = 0; i < len; i++) {

        if (ngx_otp_wire_unreserved(src[i])) {
            if (dst) {
                dst[n] = src[i];
            }

            n++;
            continue;
        }

        if (dst) {
            dst[n] = '%';
            dst[n + 1] = hex[src[i] >> 4];
            dst[n + 2] = hex[src[i] & 0x0f];
        }

        n += 3;
    }

    return n;
}


int
ngx_otp_twilio_sms_body(const ngx_otp_twilio_msg_t *m, u_char *out,
    size_t cap, size_t *len)
{
    ngx_otp_wire_buf_t  b;

    if (!ngx_otp_wire_e164(&m->to) || m->text.len == 0
        || (m->from.len == 0) == (m->service.len == 0))
    {
        return NGX_OTP_EINVAL;
    }

    b.out = out;
    b.cap = cap;
    b.len = 0;

    ngx_otp_wire_field(&b, "To", NULL, &m->to);

    if (m->from.len) {
        ngx_otp_wire_field(&b, "From", NULL, &m->from);

    } else {
        ngx_otp_wire_field(&b, "MessagingServiceSid", NULL, &m->service);
    }

    ngx_otp_wire_field(&b, "Body", NULL, &m->text);

    if (m->status_callback.len) {
        ngx_otp_wire_field(&b, "StatusCallback", NULL, &m->status_callback);
    }

    return ngx_otp_wire_done(&b, len);
}


int
ngx_otp_twilio_whatsapp_body(const ngx_otp_twilio_msg_t *m, u_char *out,
    size_t cap, size_t *len)
{
    ngx_otp_wire_buf_t  b;

    if (!ngx_otp_wire_e164(&m->to) || !ngx_otp_wire_code(&m->code)
        || m->from.len == 0 || m->content_sid.len == 0)
    {
        return NGX_OTP_EINVAL;
    }

    b.out = out;
    b.cap = cap;
    b.len = 0;

    ngx_otp_wire_field(&b, "To", "whatsapp:", &m->to);
    ngx_otp_wire_field(&b, "From", "whatsapp:", &m->from);
    ngx_otp_wire_field(&b, "ContentSid", NULL, &m->content_sid);

    /* {"1":"<code>"}: the code is digits, nothing in it needs escaping */

    ngx_otp_wire_puts(&b, "&ContentVariables=", 0);
    ngx_otp_wire_puts(&b, "{\"1\":\"", 1);
    ngx_otp_wire_put(&b, m->code.data, m->code.len, 1);
    ngx_otp_wire_puts(&b, "\"}", 1);

    if (m->status_callback.len) {
        ngx_otp_wire_field(&b, "StatusCallback", NULL, &m->status_callback);
    }

    return ngx_otp_wire_done(&b, len);
}


int
ngx_otp_twilio_voice_body(const ngx_otp_twilio_msg_t *m, u_char *out,
    size_t cap, size_t *len)
{
    ngx_otp_wire_buf_t  b;

    if (!ngx_otp_wire_e164(&m->to) || !ngx_otp_wire_code(&m->code)
        || m->from.len == 0 || m->language.len == 0
        || !ngx_otp_wire_utf8(&m->language, 0))
    {
        return NGX_OTP_EINVAL;
    }

    b.out = out;
    b.cap = cap;
    b.len = 0;

    ngx_otp_wire_field(&b, "To", NULL, &m->to);
    ngx_otp_wire_field(&b, "From", NULL, &m->from);

    ngx_otp_wire_puts(&b, "&Twiml=", 0);
    ngx_otp_wire_twiml_put(&b, &m->language, &m->code, 1);

    if (m->status_callback.len) {
        ngx_otp_wire_field(&b, "StatusCallback", NULL, &m->status_callback);
    }

    return ngx_otp_wire_done(&b, len);
}


int
ngx_otp_twilio_twiml(const u_char *language, size_t language_len,
    const u_char *code, size_t code_len, u_char *out, size_t cap,
    size_t *len)
{
    ngx_otp_wire_buf_t  b;
    ngx_otp_wire_str_t  l, c;

    l.data = language;
    l.len = language_len;
    c.data = code;
    c.len = code_len;

    if (!ngx_otp_wire_code(&c) || l.len == 0 || !ngx_otp_wire_utf8(&l, 0)) {
        return NGX_OTP_EINVAL;
    }

    b.out = out;
    b.cap = cap;
    b.len = 0;

    ngx_otp_wire_twiml_put(&b, &l, &c, 0);

    return ngx_otp_wire_done(&b, len);
}


int
ngx_otp_meta_body(const ngx_otp_meta_msg_t *m, u_char *out, size_t cap,
    size_t *len)
{
    json_t  *root;

    if (!ngx_otp_wire_e164(&m->to) || !ngx_otp_wire_code(&m->code)
        || m->name.len == 0 || m->language.len == 0
        || !ngx_otp_wire_utf8(&m->name, 1)
        || !ngx_otp_wire_utf8(&m->language, 1))
    {
        return NGX_OTP_EINVAL;
    }

    /*
     * An authentication template takes the code twice: in its body and
     * in its copy-code button, whose url parameter index is "0".
     */

    root = json_pack("{s:s, s:s, s:s%, s:s, s:{s:s%, s:{s:s%}, "
                     "s:[{s:s, s:[{s:s, s:s%}]}, "
                     "{s:s, s:s, s:s, s:[{s:s, s:s%}]}]}}",
                     "messaging_product", "whatsapp",
                     "recipient_type", "individual",
                     "to", (const char *) m->to.data + 1, m->to.len - 1,
                     "type", "template",
                     "template",
                     "name", (const char *) m->name.data, m->name.len,
                     "language",
                     "code", (const char *) m->language.data,
                     m->language.len,
                     "components",
                     "type", "body",
                     "parameters",
                     "type", "text",
                     "text", (const char *) m->code.data, m->code.len,
                     "type", "button",
                     "sub_type", "url",
                     "index", "0",
                     "parameters",
                     "type", "text",
                     "text", (const char *) m->code.data, m->code.len);

    return ngx_otp_wire_dump(root, out, cap, len);
}


int
ngx_otp_meta_text_body(const ngx_otp_meta_text_msg_t *m, u_char *out,
    size_t cap, size_t *len)
{
    size_t    i, k, chars;
    json_t   *root;
    uint32_t  cp;

    if (!ngx_otp_wire_e164(&m->to) || m->body.len == 0) {
        return NGX_OTP_EINVAL;
    }

    /* line ends and tabs are a text's own; a NUL is no text's */

    chars = 0;

    for (i = 0; i < m->body.len; i += k) {
        k = ngx_otp_utf8_decode(&m->body.data[i], m->body.len - i, &cp);

        if (k == 0 || cp == 0 || ++chars > NGX_OTP_META_TEXT_MAX) {
            return NGX_OTP_EINVAL;
        }
    }

    root = json_pack("{s:s, s:s, s:s%, s:s, s:{s:b, s:s%}}",
                     "messaging_product", "whatsapp",
                     "recipient_type", "individual",
                     "to", (const char *) m->to.data + 1, m->to.len - 1,
                     "type", "text",
                     "text",
                     "preview_url", 0,
                     "body", (const char *) m->body.data, m->body.len);

    return ngx_otp_wire_dump(root, out, cap, len);
}


int
ngx_otp_africastalking_body(const ngx_otp_africastalking_msg_t *m,
    u_char *out, size_t cap, size_t *len)
{
    ngx_otp_wire_buf_t  b;

    if (!ngx_otp_wire_e164(&m->to) || m->username.len == 0
        || m->text.len == 0)
    {
        return NGX_OTP_EINVAL;
    }

    b.out = out;
    b.cap = cap;
    b.len = 0;

    ngx_otp_wire_field(&b, "username", NULL, &m->username);
    ngx_otp_wire_field(&b, "to", NULL, &m->to);
    ngx_otp_wire_field(&b, "message", NULL, &m->text);

    if (m->from.len) {
        ngx_otp_wire_field(&b, "from", NULL, &m->from);
    }

    return ngx_otp_wire_done(&b, len);
}


static int
ngx_otp_wire_done(ngx_otp_wire_buf_t *b, size_t *len)
{
    *len = b->len;

    if (b->out && b->len > b->cap) {
        return NGX_OTP_ETOOBIG;
    }

    return NGX_OTP_OK;
}


/* a JSON body built by json_pack(), compact, members in the order given */

static int
ngx_otp_wire_dump(json_t *root, u_char *out, size_t cap, size_t *len)
{
    size_t  n;

    if (root == NULL) {
        /* the strings were checked as valid UTF-8: only memory is short */
        return NGX_OTP_ERROR;
    }

    n = json_dumpb(root, (char *) out, out ? cap : 0,
                   JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(root);

    if (n == 0) {
        return NGX_OTP_ERROR;
    }

    *len = n;

    if (out && n > cap) {
        return NGX_OTP_ETOOBIG;
    }

    return NGX_OTP_OK;
}


/*
 * Appends n bytes, percent-encoded when form is set.  Past cap nothing is
 * written but the length still counts: len only grows, so once a piece
 * has not fitted no later one does, and the caller sees ETOOBIG.
 */

static void
ngx_otp_wire_put(ngx_otp_wire_buf_t *b, const void *s, size_t n, int form)
{
    size_t  k;

    k = form ? ngx_otp_form_escape(NULL, s, n) : n;

    if (b->out && k <= b->cap && b->len <= b->cap - k) {
        if (form) {
            (void) ngx_otp_form_escape(b->out + b->len, s, n);

        } else if (n) {
            memcpy(b->out + b->len, s, n);
        }
    }

    b->len += k;
}


static void
ngx_otp_wire_puts(ngx_otp_wire_buf_t *b, const char *s, int form)
{
    ngx_otp_wire_put(b, s, strlen(s), form);
}


/* "&name=<prefix><value>", percent-encoded; no '&' before the first */

static void
ngx_otp_wire_field(ngx_otp_wire_buf_t *b, const char *name,
    const char *prefix, const ngx_otp_wire_str_t *value)
{
    if (b->len) {
        ngx_otp_wire_puts(b, "&", 0);
    }

    ngx_otp_wire_puts(b, name, 0);
    ngx_otp_wire_puts(b, "=", 0);

    if (prefix) {
        ngx_otp_wire_puts(b, prefix, 1);
    }

    ngx_otp_wire_put(b, value->data, value->len, 1);
}


static void
ngx_otp_wire_twiml_put(ngx_otp_wire_buf_t *b,
    const ngx_otp_wire_str_t *language, const ngx_otp_wire_str_t *code,
    int form)
{
    ngx_otp_wire_puts(b, "<Response><Say language=\"", form);
    ngx_otp_wire_xml(b, language, form);
    ngx_otp_wire_puts(b, "\">Your verification code is ", form);
    ngx_otp_wire_digits(b, code, form);
    ngx_otp_wire_puts(b, ".</Say><Pause length=\"1\"/><Say language=\"",
                      form);
    ngx_otp_wire_xml(b, language, form);
    ngx_otp_wire_puts(b, "\">Again: ", form);
    ngx_otp_wire_digits(b, code, form);
    ngx_otp_wire_puts(b, ".</Say></Response>", form);
}


/* an attribute value: the five XML specials become entities */

static void
ngx_otp_wire_xml(ngx_otp_wire_buf_t *b, const ngx_otp_wire_str_t *s,
    int form)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {

        switch (s->data[i]) {

        case '&':
            ngx_otp_wire_puts(b, "&amp;", form);
            break;

        case '<':
            ngx_otp_wire_puts(b, "&lt;", form);
            break;

        case '>':
            ngx_otp_wire_puts(b, "&gt;", form);
            break;

        case '"':
            ngx_otp_wire_puts(b, "&quot;", form);
            break;

        case '\'':
            ngx_otp_wire_puts(b, "&apos;", form);
            break;

        default:
            ngx_otp_wire_put(b, &s->data[i], 1, form);
        }
    }
}


/* "1, 2, 3": a text-to-speech engine reads "123" as a number */

static void
ngx_otp_wire_digits(ngx_otp_wire_buf_t *b, const ngx_otp_wire_str_t *code,
    int form)
{
    size_t  i;

    for (i = 0; i < code->len; i++) {
        if (i) {
            ngx_otp_wire_puts(b, ", ", form);
        }

        ngx_otp_wire_put(b, &code->data[i], 1, form);
    }
}


static int
ngx_otp_wire_unreserved(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


static int
ngx_otp_wire_e164(const ngx_otp_wire_str_t *phone)
{
    size_t  i;

    if (phone->len < 1 + NGX_OTP_PHONE_MIN_DIGITS
        || phone->len > 1 + NGX_OTP_PHONE_MAX_DIGITS
        || phone->data[0] != '+' || phone->data[1] == '0')
    {
        return 0;
    }

    for (i = 1; i < phone->len; i++) {
        if (phone->data[i] < '0' || phone->data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


static int
ngx_otp_wire_code(const ngx_otp_wire_str_t *code)
{
    size_t  i;

    if (code->len < NGX_OTP_CODE_MIN_LEN || code->len > NGX_OTP_CODE_MAX_LEN)
    {
        return 0;
    }

    for (i = 0; i < code->len; i++) {
        if (code->data[i] < '0' || code->data[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* valid UTF-8, and with controls 0 no control character either */

static int
ngx_otp_wire_utf8(const ngx_otp_wire_str_t *s, int controls)
{
    size_t    i, k;
    uint32_t  cp;

    for (i = 0; i < s->len; i += k) {

        k = ngx_otp_utf8_decode(&s->data[i], s->len - i, &cp);
        if (k == 0) {
            return 0;
        }

        if (!controls && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))) {
            return 0;
        }
    }

    return 1;
}


const char *
ngx_otp_delivery_error_name(unsigned category)
{
    static const char  *names[] = {
        "ok", "rejected", "auth_failed", "throttled", "unavailable",
        "bad_response", "timeout", "connect_failed", "tls_failed",
        "budget_exhausted", "aborted", "internal"
    };

    if (category >= sizeof(names) / sizeof(names[0])) {
        return "internal";
    }

    return names[category];
}


unsigned
ngx_otp_delivery_status_category(unsigned status)
{
    if (status == 401 || status == 403) {
        return NGX_OTP_DELIVERY_AUTH_FAILED;
    }

    if (status == 429) {
        return NGX_OTP_DELIVERY_THROTTLED;
    }

    if (status >= 500 && status <= 599) {
        return NGX_OTP_DELIVERY_UNAVAILABLE;
    }

    if (status >= 400 && status <= 499) {
        return NGX_OTP_DELIVERY_REJECTED;
    }

    return NGX_OTP_DELIVERY_BAD_RESPONSE;
}


int
ngx_otp_twilio_parse(unsigned status, const u_char *body, size_t len,
    const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a)
{
    json_t  *root;

    ngx_otp_wire_answer_init(a);

    root = ngx_otp_wire_load(body, len);
    if (root == NULL) {
        return ngx_otp_wire_unreadable(a, status, body, len, code);
    }

    if (status / 100 == 2
        && ngx_otp_wire_take_id(a, json_object_get(root, "sid")))
    {
        json_decref(root);
        return NGX_OTP_OK;
    }

    /* {"code": 21211, "message": "...", "more_info": "...", "status": 400} */

    ngx_otp_wire_refusal(a, status, json_object_get(root, "code"),
                         json_object_get(root, "message"), code);

    json_decref(root);

    return NGX_OTP_EINVAL;
}


int
ngx_otp_meta_parse(unsigned status, const u_char *body, size_t len,
    const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a)
{
    json_t  *root, *v;

    ngx_otp_wire_answer_init(a);

    root = ngx_otp_wire_load(body, len);
    if (root == NULL) {
        return ngx_otp_wire_unreadable(a, status, body, len, code);
    }

    if (status / 100 == 2) {
        v = json_array_get(json_object_get(root, "messages"), 0);

        if (ngx_otp_wire_take_id(a, json_object_get(v, "id"))) {
            json_decref(root);
            return NGX_OTP_OK;
        }
    }

    /* {"error": {"message": "...", "type": "...", "code": 190, ...}} */

    v = json_object_get(root, "error");

    ngx_otp_wire_refusal(a, status, json_object_get(v, "code"),
                         json_object_get(v, "message"), code);

    json_decref(root);

    return NGX_OTP_EINVAL;
}


int
ngx_otp_africastalking_parse(unsigned status, const u_char *body,
    size_t len, const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a)
{
    int          rc;
    json_t      *root, *data, *list, *r, *n, *v;
    json_int_t   sc;

    ngx_otp_wire_answer_init(a);

    if (status / 100 != 2) {
        /* an error is text/plain ("The supplied authentication is ...") */

        a->category = ngx_otp_delivery_status_category(status);
        ngx_otp_wire_text(a, body, len, code);

        return NGX_OTP_EINVAL;
    }

    root = ngx_otp_wire_load(body, len);
    if (root == NULL) {
        return ngx_otp_wire_unreadable(a, status, body, len, code);
    }

    rc = NGX_OTP_ERROR;

    data = json_object_get(root, "SMSMessageData");
    list = json_object_get(data, "Recipients");

    if (json_array_size(list)) {
        r = json_array_get(list, 0);
        n = json_object_get(r, "statusCode");

        if (!json_is_integer(n)) {
            goto done;
        }

        sc = json_integer_value(n);

        /* 100 Processed, 101 Sent, 102 Queued */

        if (sc >= 100 && sc <= 102) {
            (void) ngx_otp_wire_take_id(a, json_object_get(r, "messageId"));
            rc = NGX_OTP_OK;
            goto done;
        }

        /* a refusal of this recipient, whatever the HTTP status said */

        ngx_otp_wire_refusal(a, 400, n, json_object_get(r, "status"), code);
        rc = NGX_OTP_EINVAL;
        goto done;
    }

    /* nobody to send to: "Message" says why, e.g. "InvalidSenderId" */

    v = json_object_get(data, "Message");

    if (json_string_length(v)) {
        ngx_otp_wire_refusal(a, 400, NULL, v, code);
        rc = NGX_OTP_EINVAL;
    }

done:

    json_decref(root);

    if (rc == NGX_OTP_ERROR) {
        return ngx_otp_wire_unreadable(a, status, body, len, code);
    }

    return rc;
}


size_t
ngx_otp_wire_scrub(u_char *text, size_t len, const u_char *code,
    size_t code_len)
{
    size_t  i, j, k, n, pass, starred, cover;
    u_char  run[NGX_OTP_SCRUB_RUN];

    if (code_len < NGX_OTP_SCRUB_RUN) {
        return 0;
    }

    starred = 0;

    /*
     * Each pass looks at the digits left, as one sequence: the digit at i
     * is starred when some run through it is a run of the code.  The run
     * starting at i is read before i is starred, and runs only look
     * forward, so a pass sees its own sequence whole.  Starring joins the
     * digits on either side, which may make a new run: another pass.
     */

    do {
        pass = 0;
        cover = 0;          /* digits of matching runs still to star */

        for (i = 0; i < len; i++) {

            if (text[i] < '0' || text[i] > '9') {
                continue;
            }

            for (j = i, n = 0; j < len && n < NGX_OTP_SCRUB_RUN; j++) {
                if (text[j] >= '0' && text[j] <= '9') {
                    run[n++] = text[j];
                }
            }

            if (n == NGX_OTP_SCRUB_RUN) {
                for (k = 0; k + NGX_OTP_SCRUB_RUN <= code_len; k++) {
                    if (memcmp(code + k, run, NGX_OTP_SCRUB_RUN) == 0) {
                        cover = NGX_OTP_SCRUB_RUN;
                        break;
                    }
                }
            }

            if (cover) {
                cover--;
                text[i] = '*';
                pass++;
            }
        }

        starred += pass;

    } while (pass);

    return starred;
}


static void
ngx_otp_wire_answer_init(ngx_otp_wire_answer_t *a)
{
    a->id_len = 0;
    a->category = NGX_OTP_DELIVERY_OK;
    a->has_provider_code = 0;
    a->provider_code = 0;
    a->error_len = 0;
}


/* an object, or NULL */

static json_t *
ngx_otp_wire_load(const u_char *body, size_t len)
{
    json_t        *root;
    json_error_t   err;

    if (body == NULL || len == 0 || len > NGX_OTP_WIRE_ANSWER_MAX) {
        return NULL;
    }

    /*
     * jansson bounds nesting itself (JSON_PARSER_MAX_DEPTH); a "\u0000"
     * in a message is no reason to lose the whole answer
     */

    root = json_loadb((const char *) body, len, JSON_ALLOW_NUL, &err);

    if (root && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }

    return root;
}


static int
ngx_otp_wire_take_id(ngx_otp_wire_answer_t *a, json_t *v)
{
    size_t       i, len;
    const char  *s;

    if (!json_is_string(v)) {
        return 0;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 0 || len > NGX_OTP_WIRE_ID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '!' || s[i] > '~' || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    memcpy(a->id, s, len);
    a->id_len = len;

    return 1;
}


/*
 * A refusal the provider explained: the category by status, its numeric
 * code (an integer, or absent), its message (a string, or absent).
 */

static void
ngx_otp_wire_refusal(ngx_otp_wire_answer_t *a, unsigned status, json_t *n,
    json_t *message, const ngx_otp_wire_str_t *code)
{
    char           digits[32];
    size_t         len;
    json_int_t     v;
    const u_char  *s, *p, *end;

    a->category = ngx_otp_delivery_status_category(status);

    if (json_is_integer(n)) {
        v = json_integer_value(n);

        /* a provider's number that spells the code is no error code */

        len = (size_t) snprintf(digits, sizeof(digits),
                                "%" JSON_INTEGER_FORMAT, v);

        if (code == NULL || code->len == 0 || code->len > len
            || ngx_otp_wire_find((u_char *) digits, len, code) == 0)
        {
            a->has_provider_code = 1;
            a->provider_code = (long long) v;
        }
    }

    if (!json_is_string(message)) {
        return;
    }

    s = (const u_char *) json_string_value(message);
    len = json_string_length(message);

    /* Graph API repeats the code: "(#131030) Recipient phone ..." */

    if (len > 2 && s[0] == '(' && s[1] == '#') {
        end = s + len;

        for (p = s + 2; p < end && *p >= '0' && *p <= '9'; p++) {
            /* void */
        }

        if (p > s + 2 && p < end && *p == ')') {
            p++;
            len -= (size_t) (p - s);
            s = p;
        }
    }

    ngx_otp_wire_text(a, s, len, code);
}


/* an answer not understood: its status's category, its first words */

static int
ngx_otp_wire_unreadable(ngx_otp_wire_answer_t *a, unsigned status,
    const u_char *body, size_t len, const ngx_otp_wire_str_t *code)
{
    a->id_len = 0;
    a->category = ngx_otp_delivery_status_category(status);
    a->has_provider_code = 0;

    if (len <= NGX_OTP_WIRE_ANSWER_MAX) {
        ngx_otp_wire_text(a, body, len, code);
    }

    return NGX_OTP_EINVAL;
}


static void
ngx_otp_wire_text(ngx_otp_wire_answer_t *a, const u_char *text, size_t len,
    const ngx_otp_wire_str_t *code)
{
    a->error_len = 0;

    if (text == NULL || len == 0) {
        return;
    }

    a->error_len = ngx_otp_wire_clean(a->error, NGX_OTP_WIRE_ERROR_LEN,
                                      text, len);

    if (code) {
        (void) ngx_otp_wire_scrub(a->error, a->error_len, code->data,
                                  code->len);
    }
}


/* the code's digits in a row in digits */

static int
ngx_otp_wire_find(const u_char *digits, size_t len,
    const ngx_otp_wire_str_t *code)
{
    size_t  i;

    for (i = 0; i + code->len <= len; i++) {
        if (memcmp(digits + i, code->data, code->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Provider text made fit for a log line and a JSON answer: white space and
 * control characters collapse into one space (none at the ends), invalid
 * UTF-8 becomes '?', runs of NGX_OTP_CODE_MIN_LEN or more ASCII digits are
 * starred (the number a provider echoes, or the code in the message it
 * quotes), and text that does not fit cap ends with "...", cut between two
 * characters.  Returns the bytes written.
 */

static size_t
ngx_otp_wire_clean(u_char *dst, size_t cap, const u_char *src, size_t len)
{
    size_t        i, j, k, n, mark, run, ulen;
    uint32_t      cp;
    int           space, star;
    const u_char  *unit;

    if (cap < 3) {
        return 0;
    }

    n = 0;
    mark = 0;
    run = 0;
    star = 0;
    space = 0;

    for (i = 0; i < len; i += k) {

        if (run == 0 && src[i] >= '0' && src[i] <= '9') {
            for (j = i; j < len && src[j] >= '0' && src[j] <= '9'; j++) {
                /* void */
            }

            run = j - i;
            star = (run >= NGX_OTP_CODE_MIN_LEN);
        }

        if (run) {
            run--;
            k = 1;
            unit = star ? (const u_char *) "*" : &src[i];
            ulen = 1;

        } else {
            k = ngx_otp_utf8_decode(&src[i], len - i, &cp);

            if (k == 0) {
                k = 1;
                unit = (const u_char *) "?";
                ulen = 1;

            } else if (cp <= ' ' || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            {
                space = (n > 0);
                continue;

            } else {
                unit = &src[i];
                ulen = k;
            }
        }

        if (n + (size_t) space + ulen > cap) {
            memcpy(dst + mark, "...", 3);
            return mark + 3;
        }

        if (space) {
            dst[n++] = ' ';
            space = 0;
        }

        memcpy(dst + n, unit, ulen);
        n += ulen;

        if (n <= cap - 3) {
            mark = n;
        }
    }

    return n;
}

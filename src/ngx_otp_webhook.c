
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What providers' webhooks carry: delivery statuses (Twilio's status
 * callbacks, Meta's statuses[], Africa's Talking's delivery reports) and
 * incoming messages (for STOP / START / HELP), read into one shape; the
 * keyword of an incoming text; the TwiML that answers it.  The signature
 * is checked before any of this runs (ngx_otp_signature.c), but the body
 * is still read as untrusted: a provider's bug or a leaked secret must not
 * crash a worker.
 */


#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ngx_otp_core.h"


typedef struct {
    const char          *name;
    ngx_otp_wire_str_t   value;
    unsigned             found:1;
} ngx_otp_hook_field_t;


typedef struct {
    const char          *name;
    unsigned             status;
} ngx_otp_hook_map_t;


/* where decoded strings go: the caller's scratch, body_len bytes */

typedef struct {
    u_char              *p;
    size_t               left;
} ngx_otp_hook_scratch_t;


static int ngx_otp_hook_form(const u_char *body, size_t len,
    u_char *scratch, ngx_otp_hook_field_t *fields, size_t n);
static unsigned ngx_otp_hook_map(const ngx_otp_hook_map_t *map,
    const ngx_otp_wire_str_t *s);
static int ngx_otp_hook_id(const u_char *s, size_t len, size_t max);
static int ngx_otp_hook_digits(const u_char *s, size_t len);
static void ngx_otp_hook_add_status(ngx_otp_hook_t *h,
    const ngx_otp_wire_str_t *id, unsigned status,
    const ngx_otp_wire_str_t *error_code);
static void ngx_otp_hook_add_message(ngx_otp_hook_t *h, const u_char *from,
    size_t from_len, const ngx_otp_wire_str_t *text, unsigned channel);
static void ngx_otp_hook_meta_value(json_t *value,
    ngx_otp_hook_scratch_t *sc, ngx_otp_hook_t *h);
static void ngx_otp_hook_meta_message(json_t *m, ngx_otp_hook_scratch_t *sc,
    ngx_otp_hook_t *h);
static int ngx_otp_hook_json_str(json_t *v, ngx_otp_hook_scratch_t *sc,
    ngx_otp_wire_str_t *s);


static const ngx_otp_hook_map_t  ngx_otp_hook_twilio_messages[] = {
    { "accepted", NGX_OTP_STATUS_QUEUED },
    { "scheduled", NGX_OTP_STATUS_QUEUED },
    { "queued", NGX_OTP_STATUS_QUEUED },
    { "sending", NGX_OTP_STATUS_SENT },
    { "sent", NGX_OTP_STATUS_SENT },
    { "delivered", NGX_OTP_STATUS_DELIVERED },
    { "read", NGX_OTP_STATUS_READ },
    { "undelivered", NGX_OTP_STATUS_UNDELIVERED },
    { "failed", NGX_OTP_STATUS_FAILED },
    { "canceled", NGX_OTP_STATUS_FAILED },
    { NULL, 0 }
};

static const ngx_otp_hook_map_t  ngx_otp_hook_twilio_calls[] = {
    { "queued", NGX_OTP_STATUS_QUEUED },
    { "initiated", NGX_OTP_STATUS_QUEUED },
    { "ringing", NGX_OTP_STATUS_QUEUED },
    { "in-progress", NGX_OTP_STATUS_SENT },
    { "completed", NGX_OTP_STATUS_DELIVERED },
    { "busy", NGX_OTP_STATUS_UNDELIVERED },
    { "no-answer", NGX_OTP_STATUS_UNDELIVERED },
    { "failed", NGX_OTP_STATUS_FAILED },
    { "canceled", NGX_OTP_STATUS_FAILED },
    { NULL, 0 }
};

static const ngx_otp_hook_map_t  ngx_otp_hook_meta_statuses[] = {
    { "sent", NGX_OTP_STATUS_SENT },
    { "delivered", NGX_OTP_STATUS_DELIVERED },
    { "read", NGX_OTP_STATUS_READ },
    { "failed", NGX_OTP_STATUS_FAILED },
    { NULL, 0 }
};

static const ngx_otp_hook_map_t  ngx_otp_hook_at_statuses[] = {
    { "Submitted", NGX_OTP_STATUS_SENT },
    { "Buffered", NGX_OTP_STATUS_SENT },
    { "Sent", NGX_OTP_STATUS_SENT },
    { "Success", NGX_OTP_STATUS_DELIVERED },
    { "Rejected", NGX_OTP_STATUS_FAILED },
    { "Failed", NGX_OTP_STATUS_FAILED },
    { NULL, 0 }
};


#define NGX_OTP_TW_MESSAGE_SID      0
#define NGX_OTP_TW_MESSAGE_STATUS   1
#define NGX_OTP_TW_CALL_SID         2
#define NGX_OTP_TW_CALL_STATUS      3
#define NGX_OTP_TW_ERROR_CODE       4
#define NGX_OTP_TW_FROM             5
#define NGX_OTP_TW_BODY             6
#define NGX_OTP_TW_NFIELDS          7


int
ngx_otp_hook_twilio(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_t *h)
{
    int                    rc;
    unsigned               channel;
    ngx_otp_wire_str_t     empty, *from, *status;
    ngx_otp_hook_field_t   f[NGX_OTP_TW_NFIELDS];

    h->nstatuses = 0;
    h->nmessages = 0;
    h->truncated = 0;

    f[NGX_OTP_TW_MESSAGE_SID].name = "MessageSid";
    f[NGX_OTP_TW_MESSAGE_STATUS].name = "MessageStatus";
    f[NGX_OTP_TW_CALL_SID].name = "CallSid";
    f[NGX_OTP_TW_CALL_STATUS].name = "CallStatus";
    f[NGX_OTP_TW_ERROR_CODE].name = "ErrorCode";
    f[NGX_OTP_TW_FROM].name = "From";
    f[NGX_OTP_TW_BODY].name = "Body";

    rc = ngx_otp_hook_form(body, len, scratch, f, NGX_OTP_TW_NFIELDS);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    empty.data = (const u_char *) "";
    empty.len = 0;

    status = &f[NGX_OTP_TW_MESSAGE_STATUS].value;

    /*
     * Twilio posts an incoming message with MessageStatus (and SmsStatus)
     * "received": that is a message, not a report on one of ours.
     */

    if (f[NGX_OTP_TW_MESSAGE_STATUS].found
        && !(status->len == 8 && memcmp(status->data, "received", 8) == 0))
    {
        if (f[NGX_OTP_TW_MESSAGE_SID].found) {
            ngx_otp_hook_add_status(h, &f[NGX_OTP_TW_MESSAGE_SID].value,
                ngx_otp_hook_map(ngx_otp_hook_twilio_messages, status),
                f[NGX_OTP_TW_ERROR_CODE].found
                && ngx_otp_hook_digits(f[NGX_OTP_TW_ERROR_CODE].value.data,
                                       f[NGX_OTP_TW_ERROR_CODE].value.len)
                ? &f[NGX_OTP_TW_ERROR_CODE].value : &empty);
        }

        return NGX_OTP_OK;
    }

    if (f[NGX_OTP_TW_CALL_SID].found && f[NGX_OTP_TW_CALL_STATUS].found) {
        ngx_otp_hook_add_status(h, &f[NGX_OTP_TW_CALL_SID].value,
            ngx_otp_hook_map(ngx_otp_hook_twilio_calls,
                             &f[NGX_OTP_TW_CALL_STATUS].value),
            f[NGX_OTP_TW_ERROR_CODE].found
            && ngx_otp_hook_digits(f[NGX_OTP_TW_ERROR_CODE].value.data,
                                   f[NGX_OTP_TW_ERROR_CODE].value.len)
            ? &f[NGX_OTP_TW_ERROR_CODE].value : &empty);

        return NGX_OTP_OK;
    }

    if (f[NGX_OTP_TW_MESSAGE_SID].found && f[NGX_OTP_TW_FROM].found
        && f[NGX_OTP_TW_BODY].found)
    {
        from = &f[NGX_OTP_TW_FROM].value;
        channel = NGX_OTP_SMS;

        if (from->len > 9 && strncasecmp((const char *) from->data,
                                         "whatsapp:", 9) == 0)
        {
            channel = NGX_OTP_WHATSAPP;
            from->data += 9;
            from->len -= 9;
        }

        ngx_otp_hook_add_message(h, from->data, from->len,
                                 &f[NGX_OTP_TW_BODY].value, channel);
    }

    return NGX_OTP_OK;
}


#define NGX_OTP_AT_ID               0
#define NGX_OTP_AT_STATUS           1
#define NGX_OTP_AT_FAILURE_REASON   2
#define NGX_OTP_AT_FROM             3
#define NGX_OTP_AT_TEXT             4
#define NGX_OTP_AT_NFIELDS          5


/*
 * Besides delivery reports, Africa's Talking posts incoming messages
 * (from, to, text, date, id, linkId) to the callback of a shortcode or
 * number: read too, so that STOP works there as well.
 */

int
ngx_otp_hook_africastalking(const u_char *body, size_t len,
    u_char *scratch, ngx_otp_hook_t *h)
{
    int                    rc;
    ngx_otp_wire_str_t     empty, *reason;
    ngx_otp_hook_field_t   f[NGX_OTP_AT_NFIELDS];

    h->nstatuses = 0;
    h->nmessages = 0;
    h->truncated = 0;

    f[NGX_OTP_AT_ID].name = "id";
    f[NGX_OTP_AT_STATUS].name = "status";
    f[NGX_OTP_AT_FAILURE_REASON].name = "failureReason";
    f[NGX_OTP_AT_FROM].name = "from";
    f[NGX_OTP_AT_TEXT].name = "text";

    rc = ngx_otp_hook_form(body, len, scratch, f, NGX_OTP_AT_NFIELDS);
    if (rc != NGX_OTP_OK) {
        return rc;
    }

    empty.data = (const u_char *) "";
    empty.len = 0;

    if (f[NGX_OTP_AT_STATUS].found) {
        if (f[NGX_OTP_AT_ID].found) {
            reason = &f[NGX_OTP_AT_FAILURE_REASON].value;

            ngx_otp_hook_add_status(h, &f[NGX_OTP_AT_ID].value,
                ngx_otp_hook_map(ngx_otp_hook_at_statuses,
                                 &f[NGX_OTP_AT_STATUS].value),
                f[NGX_OTP_AT_FAILURE_REASON].found
                && ngx_otp_hook_id(reason->data, reason->len,
                                   NGX_OTP_HOOK_ERROR_LEN)
                ? reason : &empty);
        }

        return NGX_OTP_OK;
    }

    if (f[NGX_OTP_AT_FROM].found && f[NGX_OTP_AT_TEXT].found) {
        ngx_otp_hook_add_message(h, f[NGX_OTP_AT_FROM].value.data,
                                 f[NGX_OTP_AT_FROM].value.len,
                                 &f[NGX_OTP_AT_TEXT].value, NGX_OTP_SMS);
    }

    return NGX_OTP_OK;
}


/*
 * entry[].changes[].value.statuses[] and .messages[]; any other shape
 * (other fields Meta posts to the same URL: account updates, template
 * reviews) is no entry of ours, so nothing, not an error.
 */

int
ngx_otp_hook_meta(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_t *h)
{
    size_t                  i, j, max;
    json_t                 *root, *entry, *e, *changes, *c;
    json_error_t            err;
    ngx_otp_hook_scratch_t  sc;

    h->nstatuses = 0;
    h->nmessages = 0;
    h->truncated = 0;

    if (len == 0 || len > NGX_OTP_HOOK_BODY_MAX_LEN) {
        return NGX_OTP_EINVAL;
    }

    /* as ngx_otp_fields_parse(): jansson recurses once per bracket */

    (void) ngx_otp_json_depth(body, len, &max);

    if (max > NGX_OTP_JSON_MAX_DEPTH) {
        return NGX_OTP_EINVAL;
    }

    /*
     * A key given twice has no one meaning; "\u0000" is let through so
     * that one odd text does not lose a whole batch of statuses (a string
     * holding it is read as absent, below).
     */

    root = json_loadb((const char *) body, len,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (root == NULL) {
        return json_error_code(&err) == json_error_out_of_memory
               ? NGX_OTP_ERROR : NGX_OTP_EINVAL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        return NGX_OTP_EINVAL;
    }

    sc.p = scratch;
    sc.left = len;

    entry = json_object_get(root, "entry");

    json_array_foreach(entry, i, e) {
        changes = json_object_get(e, "changes");

        json_array_foreach(changes, j, c) {
            ngx_otp_hook_meta_value(json_object_get(c, "value"), &sc, h);
        }
    }

    json_decref(root);

    return NGX_OTP_OK;
}


static void
ngx_otp_hook_meta_value(json_t *value, ngx_otp_hook_scratch_t *sc,
    ngx_otp_hook_t *h)
{
    char                 digits[32];
    size_t               i, n;
    json_t              *statuses, *s, *code, *messages, *m;
    json_int_t           v;
    ngx_otp_wire_str_t   id, status, error_code;

    statuses = json_object_get(value, "statuses");

    json_array_foreach(statuses, i, s) {

        if (h->nstatuses == NGX_OTP_HOOK_MAX) {
            h->truncated = 1;
            break;
        }

        if (ngx_otp_hook_json_str(json_object_get(s, "id"), sc, &id)
            != NGX_OTP_OK)
        {
            continue;
        }

        if (ngx_otp_hook_json_str(json_object_get(s, "status"), sc, &status)
            != NGX_OTP_OK)
        {
            status.len = 0;
        }

        error_code.data = (const u_char *) "";
        error_code.len = 0;

        code = json_object_get(json_array_get(json_object_get(s, "errors"),
                                              0),
                               "code");

        if (json_is_integer(code)) {
            v = json_integer_value(code);

            /* its digits are in the body: they fit the scratch */

            if (v >= 0) {
                n = (size_t) snprintf(digits, sizeof(digits), "%lld",
                                      (long long) v);

                if (n <= sc->left && n <= NGX_OTP_HOOK_ERROR_LEN) {
                    memcpy(sc->p, digits, n);
                    error_code.data = sc->p;
                    error_code.len = n;
                    sc->p += n;
                    sc->left -= n;
                }
            }

        } else if (ngx_otp_hook_json_str(code, sc, &error_code) != NGX_OTP_OK
                   || !ngx_otp_hook_digits(error_code.data, error_code.len))
        {
            error_code.len = 0;
        }

        ngx_otp_hook_add_status(h, &id,
            ngx_otp_hook_map(ngx_otp_hook_meta_statuses, &status),
            &error_code);
    }

    messages = json_object_get(value, "messages");

    json_array_foreach(messages, i, m) {

        if (h->nmessages == NGX_OTP_HOOK_MAX) {
            h->truncated = 1;
            break;
        }

        ngx_otp_hook_meta_message(m, sc, h);
    }
}


/*
 * The text a person sent: text.body, a quick-reply button's text, or the
 * title of an interactive reply (button or list); other types (media,
 * location, reactions) have none, and come with an empty text.
 */

static void
ngx_otp_hook_meta_message(json_t *m, ngx_otp_hook_scratch_t *sc,
    ngx_otp_hook_t *h)
{
    u_char               plus[NGX_OTP_PHONE_INPUT_MAX + 1];
    size_t               plus_len;
    json_t              *t, *text, *reply;
    const char          *type, *from;
    ngx_otp_wire_str_t   s;

    from = json_string_value(json_object_get(m, "from"));
    type = json_string_value(json_object_get(m, "type"));

    text = NULL;

    if (type && strcmp(type, "text") == 0) {
        text = json_object_get(json_object_get(m, "text"), "body");

    } else if (type && strcmp(type, "button") == 0) {
        text = json_object_get(json_object_get(m, "button"), "text");

    } else if (type && strcmp(type, "interactive") == 0) {
        t = json_object_get(m, "interactive");

        reply = json_object_get(t, "button_reply");
        if (reply == NULL) {
            reply = json_object_get(t, "list_reply");
        }

        text = json_object_get(reply, "title");
    }

    if (text == NULL || ngx_otp_hook_json_str(text, sc, &s) != NGX_OTP_OK) {
        s.data = (const u_char *) "";
        s.len = 0;
    }

    /* Meta's "from" is the wa_id: the number's digits, no '+' */

    plus_len = 0;

    if (from && json_string_length(json_object_get(m, "from"))
                < NGX_OTP_PHONE_INPUT_MAX
        && ngx_otp_hook_digits((const u_char *) from, strlen(from)))
    {
        plus[0] = '+';
        plus_len = 1 + strlen(from);
        memcpy(plus + 1, from, plus_len - 1);
    }

    ngx_otp_hook_add_message(h, plus, plus_len, &s, NGX_OTP_WHATSAPP);
}


/* a string without NUL, copied into the scratch */

static int
ngx_otp_hook_json_str(json_t *v, ngx_otp_hook_scratch_t *sc,
    ngx_otp_wire_str_t *s)
{
    size_t       len;
    const char  *p;

    if (!json_is_string(v)) {
        return NGX_OTP_EINVAL;
    }

    p = json_string_value(v);
    len = json_string_length(v);

    /*
     * Never too long: a decoded string is no longer than it was in the
     * body, and each is copied once.  Checked all the same.
     */

    if (memchr(p, '\0', len) != NULL || len > sc->left) {
        return NGX_OTP_EINVAL;
    }

    if (len) {
        memcpy(sc->p, p, len);
    }

    s->data = sc->p;
    s->len = len;
    sc->p += len;
    sc->left -= len;

    return NGX_OTP_OK;
}


/*
 * Reads the wanted fields of an x-www-form-urlencoded body into scratch,
 * decoded.  EINVAL: a bad escape anywhere, a wanted field given twice
 * (which value was meant?) or holding a NUL.
 */

static int
ngx_otp_hook_form(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_field_t *fields, size_t n)
{
    size_t                i, dlen;
    u_char               *s;
    const u_char         *p;
    ngx_otp_form_pair_t   pair;

    for (i = 0; i < n; i++) {
        fields[i].found = 0;
        fields[i].value.data = (const u_char *) "";
        fields[i].value.len = 0;
    }

    if (len > NGX_OTP_HOOK_BODY_MAX_LEN) {
        return NGX_OTP_EINVAL;
    }

    s = scratch;
    p = body;

    while (ngx_otp_form_next(&p, body + len, &pair)) {

        if (ngx_otp_form_unescape(pair.name, pair.name_len, NULL, 0, &dlen, 0)
            != NGX_OTP_OK)
        {
            return NGX_OTP_EINVAL;
        }

        for (i = 0; i < n; i++) {
            if (ngx_otp_form_name_is(pair.name, pair.name_len,
                                     fields[i].name))
            {
                break;
            }
        }

        if (i == n) {
            if (ngx_otp_form_unescape(pair.value, pair.value_len, NULL, 0,
                                      &dlen, 0)
                != NGX_OTP_OK)
            {
                return NGX_OTP_EINVAL;
            }

            continue;
        }

        if (fields[i].found) {
            return NGX_OTP_EINVAL;
        }

        /* decoding never lengthens: all values fit len bytes */

        if (ngx_otp_form_unescape(pair.value, pair.value_len, s,
                                  (size_t) (scratch + len - s), &dlen,
                                  NGX_OTP_FORM_NO_NUL)
            != NGX_OTP_OK)
        {
            return NGX_OTP_EINVAL;
        }

        fields[i].found = 1;
        fields[i].value.data = s;
        fields[i].value.len = dlen;
        s += dlen;
    }

    return NGX_OTP_OK;
}


/* exact, case-sensitive names as the providers document them; 0: none */

static unsigned
ngx_otp_hook_map(const ngx_otp_hook_map_t *map, const ngx_otp_wire_str_t *s)
{
    for ( /* void */ ; map->name; map++) {
        if (strlen(map->name) == s->len
            && memcmp(map->name, s->data, s->len) == 0)
        {
            return map->status;
        }
    }

    return 0;
}


/* as ngx_otp_wire_answer_t's id: loggable, and fit for JSON as it is */

static int
ngx_otp_hook_id(const u_char *s, size_t len, size_t max)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '!' || s[i] > '~' || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


static int
ngx_otp_hook_digits(const u_char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_OTP_HOOK_ERROR_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


static void
ngx_otp_hook_add_status(ngx_otp_hook_t *h, const ngx_otp_wire_str_t *id,
    unsigned status, const ngx_otp_wire_str_t *error_code)
{
    ngx_otp_hook_status_t  *st;

    if (h->nstatuses == NGX_OTP_HOOK_MAX
        || !ngx_otp_hook_id(id->data, id->len, NGX_OTP_WIRE_ID_LEN))
    {
        return;
    }

    st = &h->statuses[h->nstatuses++];

    st->id = *id;
    st->status = status;
    st->error_code = *error_code;
}


static void
ngx_otp_hook_add_message(ngx_otp_hook_t *h, const u_char *from,
    size_t from_len, const ngx_otp_wire_str_t *text, unsigned channel)
{
    ngx_otp_hook_message_t  *m;

    if (h->nmessages == NGX_OTP_HOOK_MAX) {
        return;
    }

    m = &h->messages[h->nmessages++];

    /*
     * No default country code: a provider gives numbers in full, and one
     * that does not is not guessed at (an opt-out for the wrong person).
     */

    if (from_len == 0
        || ngx_otp_phone_normalize(from, from_len, NULL, 0, m->from,
                                   &m->from_len)
           != NGX_OTP_OK)
    {
        m->from_len = 0;
    }

    m->text = *text;
    m->channel = channel;
}


/* an incoming text's keyword */

static const struct {
    const char  *word;
    unsigned     keyword;
} ngx_otp_keywords[] = {
    { "STOP", NGX_OTP_KEYWORD_STOP },
    { "STOPALL", NGX_OTP_KEYWORD_STOP },
    { "UNSUBSCRIBE", NGX_OTP_KEYWORD_STOP },
    { "CANCEL", NGX_OTP_KEYWORD_STOP },
    { "END", NGX_OTP_KEYWORD_STOP },
    { "QUIT", NGX_OTP_KEYWORD_STOP },
    { "START", NGX_OTP_KEYWORD_START },
    { "YES", NGX_OTP_KEYWORD_YES },
    { "UNSTOP", NGX_OTP_KEYWORD_START },
    { "HELP", NGX_OTP_KEYWORD_HELP },
    { "INFO", NGX_OTP_KEYWORD_HELP },
    { NULL, 0 }
};


unsigned
ngx_otp_keyword(const u_char *text, size_t len)
{
    size_t  i;

    while (len && (text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r')))
    {
        text++;
        len--;
    }

    while (len && (text[len - 1] == ' '
                   || (text[len - 1] >= '\t' && text[len - 1] <= '\r')))
    {
        len--;
    }

    for (i = 0; ngx_otp_keywords[i].word; i++) {
        if (strlen(ngx_otp_keywords[i].word) == len
            && strncasecmp(ngx_otp_keywords[i].word, (const char *) text,
                           len)
               == 0)
        {
            return ngx_otp_keywords[i].keyword;
        }
    }

    return NGX_OTP_KEYWORD_NONE;
}


#define NGX_OTP_TWIML_HEAD                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"


/*
 * EINVAL for text XML 1.0 cannot carry (invalid UTF-8, control characters
 * other than tab, LF and CR): Twilio would refuse the whole answer.
 */

int
ngx_otp_twiml_message(const u_char *text, size_t len, u_char *out,
    size_t cap, size_t *outlen)
{
    size_t       i, k, n, elen;
    uint32_t     cp;
    const char  *e;
    u_char      *o;

    /* first pass: check and measure */

    n = sizeof(NGX_OTP_TWIML_HEAD) - 1;

    if (len == 0) {
        n += sizeof("<Response/>") - 1;

    } else {
        n += sizeof("<Response><Message></Message></Response>") - 1;
    }

    for (i = 0; i < len; i += k) {

        k = ngx_otp_utf8_decode(&text[i], len - i, &cp);

        if (k == 0
            || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
            || cp == 0xfffe || cp == 0xffff)
        {
            return NGX_OTP_EINVAL;
        }

        switch (cp) {
        case '&':
            n += 5;
            break;
        case '<':
        case '>':
            n += 4;
            break;
        case '"':
        case '\'':
            n += 6;
            break;
        default:
            n += k;
        }
    }

    *outlen = n;

    if (out == NULL) {
        return NGX_OTP_OK;
    }

    if (n > cap) {
        return NGX_OTP_ETOOBIG;
    }

    o = out;

    o = (u_char *) memcpy(o, NGX_OTP_TWIML_HEAD,
                          sizeof(NGX_OTP_TWIML_HEAD) - 1)
        + sizeof(NGX_OTP_TWIML_HEAD) - 1;

    if (len == 0) {
        memcpy(o, "<Response/>", sizeof("<Response/>") - 1);
        return NGX_OTP_OK;
    }

    o = (u_char *) memcpy(o, "<Response><Message>", 19) + 19;

    for (i = 0; i < len; i++) {

        switch (text[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&apos;";
            break;
        default:
            *o++ = text[i];
            continue;
        }

        elen = strlen(e);
        o = (u_char *) memcpy(o, e, elen) + elen;
    }

    memcpy(o, "</Message></Response>", 21);

    return NGX_OTP_OK;
}

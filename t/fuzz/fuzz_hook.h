
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Shared by the webhook parser harnesses (fuzz_hook_*.c): runs a parser
 * on the input with a scratch of exactly its size, and checks what the
 * parser promises (ngx_otp_core.h, "Webhook parsers"):
 *
 *   - only OK, EINVAL or ERROR comes back, and after EINVAL h is empty;
 *   - at most NGX_OTP_HOOK_MAX statuses and messages, and truncated set
 *     only when one of them is full (never after EINVAL);
 *   - each status: an id of 1..NGX_OTP_WIRE_ID_LEN bytes in '!'..'~'
 *     without '"' or '\\', a status within 0..6, an error code of at most
 *     NGX_OTP_HOOK_ERROR_LEN such bytes (digits only unless words are
 *     allowed), all pointing into the body or the scratch;
 *   - each message: from_len 0 or an E.164 number that normalises to
 *     itself, a channel the provider has, a text inside the body or the
 *     scratch without NUL, whose keyword and TwiML can be computed (the
 *     size TwiML measures is the size it writes);
 *   - the same body parses the same twice.
 */


#ifndef _FUZZ_HOOK_H_INCLUDED_
#define _FUZZ_HOOK_H_INCLUDED_


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


typedef int (*fuzz_hook_pt)(const u_char *body, size_t len,
    u_char *scratch, ngx_otp_hook_t *h);


static int
fuzz_inside(const ngx_otp_wire_str_t *s, const u_char *body,
    const u_char *scratch, size_t len)
{
    if (s->len == 0) {
        return 1;
    }

    return (s->data >= body && s->data + s->len <= body + len)
           || (s->data >= scratch && s->data + s->len <= scratch + len);
}


static int
fuzz_token(const ngx_otp_wire_str_t *s, size_t max, int digits_only)
{
    size_t  i;

    if (s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        if (digits_only ? (s->data[i] < '0' || s->data[i] > '9')
                        : (s->data[i] < '!' || s->data[i] > '~'
                           || s->data[i] == '"' || s->data[i] == '\\'))
        {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_check_e164(const u_char *p, size_t len)
{
    size_t  i, n;
    u_char  again[NGX_OTP_PHONE_MAX_LEN];

    fuzz_check(len >= 1 + NGX_OTP_PHONE_MIN_DIGITS
               && len <= NGX_OTP_PHONE_MAX_LEN);
    fuzz_check(p[0] == '+' && p[1] != '0');

    for (i = 1; i < len; i++) {
        fuzz_check(p[i] >= '0' && p[i] <= '9');
    }

    fuzz_check(ngx_otp_phone_normalize(p, len, NULL, 0, again, &n)
               == NGX_OTP_OK);
    fuzz_check(n == len && memcmp(again, p, len) == 0);
}


static void
fuzz_check_text(const ngx_otp_wire_str_t *t)
{
    int      rc;
    size_t   need, len;
    u_char  *out;

    fuzz_check(ngx_otp_keyword(t->data, t->len) <= NGX_OTP_KEYWORD_YES);

    rc = ngx_otp_twiml_message(t->data, t->len, NULL, 0, &need);
    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc != NGX_OTP_OK) {
        return;
    }

    out = malloc(need);
    fuzz_check(out != NULL);

    fuzz_check(ngx_otp_twiml_message(t->data, t->len, out, need, &len)
               == NGX_OTP_OK);
    fuzz_check(len == need);
    fuzz_check(memcmp(out, "<?xml", 5) == 0);

    if (need > 0) {
        fuzz_check(ngx_otp_twiml_message(t->data, t->len, out, need - 1,
                                         &len)
                   == NGX_OTP_ETOOBIG);
    }

    free(out);
}


static void
fuzz_hook(fuzz_hook_pt parse, const uint8_t *data, size_t size,
    unsigned channels, int error_words)
{
    int                            rc, rc2;
    size_t                         i;
    u_char                        *scratch, *scratch2;
    ngx_otp_hook_t                *h, *h2;
    const ngx_otp_hook_status_t   *s;
    const ngx_otp_hook_message_t  *m;

    h = malloc(sizeof(ngx_otp_hook_t));
    h2 = malloc(sizeof(ngx_otp_hook_t));
    scratch = malloc(size ? size : 1);
    scratch2 = malloc(size ? size : 1);
    fuzz_check(h && h2 && scratch && scratch2);

    memset(h, 0xa5, sizeof(ngx_otp_hook_t));

    rc = parse(data, size, scratch, h);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL
               || rc == NGX_OTP_ERROR);

    if (rc != NGX_OTP_OK) {
        fuzz_check(h->nstatuses == 0 && h->nmessages == 0);
    }

    fuzz_check(h->nstatuses <= NGX_OTP_HOOK_MAX);
    fuzz_check(h->nmessages <= NGX_OTP_HOOK_MAX);
    fuzz_check(!h->truncated || (rc == NGX_OTP_OK
                                 && (h->nstatuses == NGX_OTP_HOOK_MAX
                                     || h->nmessages == NGX_OTP_HOOK_MAX)));

    for (i = 0; i < h->nstatuses; i++) {
        s = &h->statuses[i];

        fuzz_check(s->id.len >= 1);
        fuzz_check(fuzz_token(&s->id, NGX_OTP_WIRE_ID_LEN, 0));
        fuzz_check(fuzz_inside(&s->id, data, scratch, size));
        fuzz_check(s->status <= NGX_OTP_STATUS_FAILED);
        fuzz_check(s->status == 0 || ngx_otp_status_name(s->status));
        fuzz_check(fuzz_token(&s->error_code, NGX_OTP_HOOK_ERROR_LEN,
                              !error_words));
        fuzz_check(fuzz_inside(&s->error_code, data, scratch, size));
    }

    for (i = 0; i < h->nmessages; i++) {
        m = &h->messages[i];

        fuzz_check(m->from_len <= NGX_OTP_PHONE_MAX_LEN);

        if (m->from_len) {
            fuzz_check_e164(m->from, m->from_len);
        }

        fuzz_check(m->channel & channels);
        fuzz_check(m->channel == NGX_OTP_SMS
                   || m->channel == NGX_OTP_WHATSAPP);
        fuzz_check(fuzz_inside(&m->text, data, scratch, size));
        fuzz_check(m->text.len == 0
                   || memchr(m->text.data, '\0', m->text.len) == NULL);

        fuzz_check_text(&m->text);
    }

    /* again, into other memory: the same answer */

    rc2 = parse(data, size, scratch2, h2);

    fuzz_check(rc2 == rc);
    fuzz_check(h2->nstatuses == h->nstatuses);
    fuzz_check(h2->nmessages == h->nmessages);

    for (i = 0; i < h->nstatuses; i++) {
        fuzz_check(h2->statuses[i].status == h->statuses[i].status);
        fuzz_check(h2->statuses[i].id.len == h->statuses[i].id.len);
        fuzz_check(memcmp(h2->statuses[i].id.data, h->statuses[i].id.data,
                          h->statuses[i].id.len) == 0);
        fuzz_check(h2->statuses[i].error_code.len
                   == h->statuses[i].error_code.len);
    }

    for (i = 0; i < h->nmessages; i++) {
        fuzz_check(h2->messages[i].from_len == h->messages[i].from_len);
        fuzz_check(h2->messages[i].text.len == h->messages[i].text.len);
        fuzz_check(h->messages[i].text.len == 0
                   || memcmp(h2->messages[i].text.data,
                             h->messages[i].text.data,
                             h->messages[i].text.len) == 0);
    }

    free(scratch2);
    free(scratch);
    free(h2);
    free(h);
}


#endif /* _FUZZ_HOOK_H_INCLUDED_ */

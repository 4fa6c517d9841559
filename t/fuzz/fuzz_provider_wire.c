
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_provider_wire.c and ngx_otp_message.c.  The first byte
 * picks what (its value modulo 9):
 *
 *   0-2  the Twilio, Meta, Africa's Talking answer parsers: two bytes of
 *        HTTP status (100-599), a byte of code length (4-10 digits), the
 *        code's digits (each byte modulo 10), then the body;
 *   3-5  the Twilio, Meta, Africa's Talking body builders: values split
 *        on 0xff bytes (for Twilio a first byte picks the channel; Meta's
 *        first two values are also a free-form text's to and body);
 *   6    ngx_otp_message_render(): template 0xff app 0xff code 0xff ttl;
 *   7    ngx_otp_message_segments() and ngx_otp_message_gsm7();
 *   8    ngx_otp_wire_scrub(): a byte of code length (3-10 digits), the
 *        code's digits, then the text.
 *
 * Invariants.  Parsers: OK with a well-formed id, no error and no
 * category, or EINVAL with a category and an error of at most
 * NGX_OTP_WIRE_ERROR_LEN bytes that is valid UTF-8, has no control
 * character, holds no run of four digits, and whose digits, read as one
 * sequence, hold no NGX_OTP_SCRUB_RUN digits in a row of the code; a
 * provider code never holds the code; the same answer parses the same
 * twice.  Scrub: the same of what it leaves, only digits starred, the
 * count right, a second scrub stars nothing.  Builders: OK exactly when
 * the inputs are valid; the size measured is the size written, one byte
 * less is ETOOBIG; a form decodes (ngx_otp_fields_parse) to exactly the
 * values given, the TwiML has its seven tags whatever the language, the
 * JSON parses back to the values given.  Messages: output within its cap, the cap exact, a
 * template without '$' rendered as it is; segments consistent with the
 * counts.
 */


#include <string.h>

#include <jansson.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define MAX_PARTS   10
#define SEP         0xff


typedef struct {
    const u_char   *data;
    size_t          len;
} part_t;


static size_t split(const uint8_t *data, size_t size, part_t *parts);
static void fuzz_parser(int which, const uint8_t *data, size_t size);
static void check_answer(int rc, const ngx_otp_wire_answer_t *a,
    const ngx_otp_wire_str_t *code, int id_optional);
static void fuzz_twilio(const uint8_t *data, size_t size);
static void fuzz_meta(const uint8_t *data, size_t size);
static void fuzz_meta_text(part_t *v);
static void fuzz_africastalking(const uint8_t *data, size_t size);
static void fuzz_render(const uint8_t *data, size_t size);
static void fuzz_segments(const uint8_t *data, size_t size);
static void fuzz_scrub(const uint8_t *data, size_t size);
static size_t take_code(const uint8_t *data, size_t size, size_t min,
    u_char *code);
static int scrubbed(const u_char *text, size_t len, const u_char *code,
    size_t code_len);

static u_char *build(int (*b)(const void *m, u_char *out, size_t cap,
    size_t *len), const void *m, int valid, size_t *len);
static void form_has(const u_char *body, size_t len, const char *name,
    const char *prefix, const ngx_otp_wire_str_t *value);
static int is_e164(const ngx_otp_wire_str_t *s);
static int is_code(const ngx_otp_wire_str_t *s);
static int is_text(const ngx_otp_wire_str_t *s, int controls);
static int json_str_is(json_t *v, const u_char *s, size_t len);

static int twilio_sms(const void *m, u_char *out, size_t cap, size_t *len);
static int twilio_whatsapp(const void *m, u_char *out, size_t cap,
    size_t *len);
static int twilio_voice(const void *m, u_char *out, size_t cap,
    size_t *len);
static int meta(const void *m, u_char *out, size_t cap, size_t *len);
static int meta_text(const void *m, u_char *out, size_t cap, size_t *len);
static int africastalking(const void *m, u_char *out, size_t cap,
    size_t *len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }

    switch (data[0] % 9) {

    case 0:
    case 1:
    case 2:
        fuzz_parser(data[0] % 9, data + 1, size - 1);
        break;

    case 3:
        fuzz_twilio(data + 1, size - 1);
        break;

    case 4:
        fuzz_meta(data + 1, size - 1);
        break;

    case 5:
        fuzz_africastalking(data + 1, size - 1);
        break;

    case 6:
        fuzz_render(data + 1, size - 1);
        break;

    case 7:
        fuzz_segments(data + 1, size - 1);
        break;

    default:
        fuzz_scrub(data + 1, size - 1);
        break;
    }

    return 0;
}


/* up to MAX_PARTS values separated by SEP; missing ones are empty */

static size_t
split(const uint8_t *data, size_t size, part_t *parts)
{
    size_t          n;
    const uint8_t  *p, *end, *sep;

    memset(parts, 0, MAX_PARTS * sizeof(part_t));

    p = data;
    end = data + size;
    n = 0;

    while (n < MAX_PARTS) {
        sep = memchr(p, SEP, (size_t) (end - p));

        parts[n].data = p;
        parts[n].len = (size_t) ((sep ? sep : end) - p);
        n++;

        if (sep == NULL) {
            break;
        }

        p = sep + 1;
    }

    return n;
}


static void
fuzz_parser(int which, const uint8_t *data, size_t size)
{
    int                     rc, rc2;
    u_char                  digits[NGX_OTP_CODE_MAX_LEN];
    size_t                  n;
    unsigned                status;
    ngx_otp_wire_str_t      code;
    ngx_otp_wire_answer_t   a, b;

    if (size < 2) {
        return;
    }

    status = 100 + ((unsigned) data[0] << 8 | data[1]) % 500;
    data += 2;
    size -= 2;

    n = take_code(data, size, NGX_OTP_CODE_MIN_LEN, digits);
    if (n == 0) {
        return;
    }

    code.data = digits;
    code.len = n;
    data += 1 + n;
    size -= 1 + n;

    memset(&a, 0xa5, sizeof(a));
    memset(&b, 0x5a, sizeof(b));

    switch (which) {

    case 0:
        rc = ngx_otp_twilio_parse(status, data, size, &code, &a);
        rc2 = ngx_otp_twilio_parse(status, data, size, &code, &b);
        break;

    case 1:
        rc = ngx_otp_meta_parse(status, data, size, &code, &a);
        rc2 = ngx_otp_meta_parse(status, data, size, &code, &b);
        break;

    default:
        rc = ngx_otp_africastalking_parse(status, data, size, &code, &a);
        rc2 = ngx_otp_africastalking_parse(status, data, size, &code, &b);
        break;
    }

    check_answer(rc, &a, &code, which == 2);

    fuzz_check(rc2 == rc);
    fuzz_check(a.id_len == b.id_len
               && memcmp(a.id, b.id, a.id_len) == 0);
    fuzz_check(a.error_len == b.error_len
               && memcmp(a.error, b.error, a.error_len) == 0);
    fuzz_check(a.category == b.category
               && a.has_provider_code == b.has_provider_code
               && (!a.has_provider_code
                   || a.provider_code == b.provider_code));

    if (rc == NGX_OTP_OK) {
        fuzz_check(status / 100 == 2);
    }
}


static void
check_answer(int rc, const ngx_otp_wire_answer_t *a,
    const ngx_otp_wire_str_t *code, int id_optional)
{
    char      pc[32];
    size_t    i, k, run, len;
    uint32_t  cp;

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc == NGX_OTP_OK) {
        fuzz_check(a->error_len == 0);
        fuzz_check(a->category == NGX_OTP_DELIVERY_OK);
        fuzz_check(!a->has_provider_code);
        fuzz_check(a->id_len <= NGX_OTP_WIRE_ID_LEN);
        fuzz_check(id_optional || a->id_len > 0);

        for (i = 0; i < a->id_len; i++) {
            fuzz_check(a->id[i] >= '!' && a->id[i] <= '~'
                       && a->id[i] != '"' && a->id[i] != '\\');
        }

        return;
    }

    fuzz_check(a->id_len == 0);
    fuzz_check(a->error_len <= NGX_OTP_WIRE_ERROR_LEN);
    fuzz_check(a->category >= NGX_OTP_DELIVERY_REJECTED
               && a->category <= NGX_OTP_DELIVERY_BAD_RESPONSE);

    for (i = 0; i < a->error_len; i += k) {
        k = ngx_otp_utf8_decode(&a->error[i], a->error_len - i, &cp);
        fuzz_check(k > 0);
        fuzz_check(cp >= ' ' && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0));
    }

    /* no four digits in a row: no phone number, no code */

    for (i = 0, run = 0; i < a->error_len; i++) {
        run = (a->error[i] >= '0' && a->error[i] <= '9') ? run + 1 : 0;
        fuzz_check(run < NGX_OTP_CODE_MIN_LEN);
    }

    /* nor the code in any spelling */

    fuzz_check(scrubbed(a->error, a->error_len, code->data, code->len));

    if (a->has_provider_code) {
        len = (size_t) snprintf(pc, sizeof(pc), "%lld", a->provider_code);

        for (i = 0; i + code->len <= len; i++) {
            fuzz_check(memcmp(pc + i, code->data, code->len) != 0);
        }
    }
}


/*
 * The text, code and twice scrubbed: only digits starred, as many as
 * counted, what is left scrubbed, and nothing more to do the second time.
 */

static void
fuzz_scrub(const uint8_t *data, size_t size)
{
    u_char  code[NGX_OTP_CODE_MAX_LEN], *text;
    size_t  i, n, len, starred, count;

    n = take_code(data, size, NGX_OTP_SCRUB_RUN, code);
    if (n == 0) {
        return;
    }

    data += 1 + n;
    len = size - 1 - n;

    text = malloc(len ? len : 1);
    fuzz_check(text != NULL);

    if (len) {
        memcpy(text, data, len);
    }

    starred = ngx_otp_wire_scrub(text, len, code, n);

    count = 0;

    for (i = 0; i < len; i++) {
        if (text[i] != data[i]) {
            fuzz_check(text[i] == '*' && data[i] >= '0' && data[i] <= '9');
            count++;
        }
    }

    fuzz_check(count == starred);
    fuzz_check(scrubbed(text, len, code, n));
    fuzz_check(ngx_otp_wire_scrub(text, len, code, n) == 0);

    free(text);
}


/* a length byte (min..NGX_OTP_CODE_MAX_LEN digits), then the digits */

static size_t
take_code(const uint8_t *data, size_t size, size_t min, u_char *code)
{
    size_t  i, n;

    if (size == 0) {
        return 0;
    }

    n = min + data[0] % (NGX_OTP_CODE_MAX_LEN - min + 1);

    if (size < 1 + n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        code[i] = (u_char) ('0' + data[1 + i] % 10);
    }

    return n;
}


/* the digits of text, read as one, hold no NGX_OTP_SCRUB_RUN of the code */

static int
scrubbed(const u_char *text, size_t len, const u_char *code,
    size_t code_len)
{
    u_char  run[NGX_OTP_SCRUB_RUN];
    size_t  i, j, k, n;

    for (i = 0; i < len; i++) {

        if (text[i] < '0' || text[i] > '9') {
            continue;
        }

        for (j = i, n = 0; j < len && n < NGX_OTP_SCRUB_RUN; j++) {
            if (text[j] >= '0' && text[j] <= '9') {
                run[n++] = text[j];
            }
        }

        if (n < NGX_OTP_SCRUB_RUN) {
            return 1;
        }

        for (k = 0; k + NGX_OTP_SCRUB_RUN <= code_len; k++) {
            if (memcmp(code + k, run, NGX_OTP_SCRUB_RUN) == 0) {
                return 0;
            }
        }
    }

    return 1;
}


static void
fuzz_twilio(const uint8_t *data, size_t size)
{
    int                   valid, channel;
    u_char               *body, twiml[4096];
    size_t                i, len, lt, quot;
    part_t                v[MAX_PARTS];
    ngx_otp_wire_str_t    t;
    ngx_otp_twilio_msg_t  m;

    if (size == 0) {
        return;
    }

    channel = data[0] % 3;
    (void) split(data + 1, size - 1, v);

    m.to = (ngx_otp_wire_str_t) { v[0].data, v[0].len };
    m.from = (ngx_otp_wire_str_t) { v[1].data, v[1].len };
    m.service = (ngx_otp_wire_str_t) { v[2].data, v[2].len };
    m.text = (ngx_otp_wire_str_t) { v[3].data, v[3].len };
    m.content_sid = (ngx_otp_wire_str_t) { v[4].data, v[4].len };
    m.language = (ngx_otp_wire_str_t) { v[5].data, v[5].len };
    m.status_callback = (ngx_otp_wire_str_t) { v[6].data, v[6].len };
    m.code = (ngx_otp_wire_str_t) { v[7].data, v[7].len };

    switch (channel) {

    case 0:
        valid = is_e164(&m.to) && m.text.len
                && (m.from.len == 0) != (m.service.len == 0);

        body = build(twilio_sms, &m, valid, &len);
        if (body == NULL) {
            return;
        }

        form_has(body, len, "To", NULL, &m.to);

        if (m.from.len) {
            form_has(body, len, "From", NULL, &m.from);
            form_has(body, len, "MessagingServiceSid", NULL, NULL);

        } else {
            form_has(body, len, "MessagingServiceSid", NULL, &m.service);
            form_has(body, len, "From", NULL, NULL);
        }

        form_has(body, len, "Body", NULL, &m.text);
        break;

    case 1:
        valid = is_e164(&m.to) && is_code(&m.code) && m.from.len
                && m.content_sid.len;

        body = build(twilio_whatsapp, &m, valid, &len);
        if (body == NULL) {
            return;
        }

        form_has(body, len, "To", "whatsapp:", &m.to);
        form_has(body, len, "From", "whatsapp:", &m.from);
        form_has(body, len, "ContentSid", NULL, &m.content_sid);
        break;

    default:
        valid = is_e164(&m.to) && is_code(&m.code) && m.from.len
                && m.language.len && is_text(&m.language, 0);

        body = build(twilio_voice, &m, valid, &len);
        if (body == NULL) {
            return;
        }

        form_has(body, len, "To", NULL, &m.to);
        form_has(body, len, "From", NULL, &m.from);

        /* the TwiML in the form is the TwiML alone, and well-formed */

        if (ngx_otp_twilio_twiml(m.language.data, m.language.len,
                                 m.code.data, m.code.len, twiml,
                                 sizeof(twiml), &t.len)
            == NGX_OTP_OK)
        {
            t.data = twiml;
            form_has(body, len, "Twiml", NULL, &t);

            lt = 0;
            quot = 0;

            for (i = 0; i < t.len; i++) {
                lt += (twiml[i] == '<');
                quot += (twiml[i] == '"');
            }

            fuzz_check(lt == 7 && quot == 6);
        }

        break;
    }

    form_has(body, len, "StatusCallback", NULL,
             m.status_callback.len ? &m.status_callback : NULL);

    free(body);
}


static void
fuzz_meta(const uint8_t *data, size_t size)
{
    int                 valid;
    u_char             *body;
    size_t              len;
    json_t             *root, *t, *c;
    part_t              v[MAX_PARTS];
    json_error_t        err;
    ngx_otp_meta_msg_t  m;

    (void) split(data, size, v);

    fuzz_meta_text(v);

    m.to = (ngx_otp_wire_str_t) { v[0].data, v[0].len };
    m.name = (ngx_otp_wire_str_t) { v[1].data, v[1].len };
    m.language = (ngx_otp_wire_str_t) { v[2].data, v[2].len };
    m.code = (ngx_otp_wire_str_t) { v[3].data, v[3].len };

    valid = is_e164(&m.to) && is_code(&m.code) && m.name.len
            && m.language.len && is_text(&m.name, 1)
            && is_text(&m.language, 1);

    body = build(meta, &m, valid, &len);
    if (body == NULL) {
        return;
    }

    root = json_loadb((char *) body, len, JSON_ALLOW_NUL, &err);
    fuzz_check(root != NULL);

    fuzz_check(json_str_is(json_object_get(root, "to"), m.to.data + 1,
                           m.to.len - 1));

    t = json_object_get(root, "template");
    fuzz_check(json_str_is(json_object_get(t, "name"), m.name.data,
                           m.name.len));
    fuzz_check(json_str_is(json_object_get(json_object_get(t, "language"),
                                           "code"),
                           m.language.data, m.language.len));

    c = json_object_get(t, "components");
    fuzz_check(json_array_size(c) == 2);

    fuzz_check(json_str_is(json_object_get(json_array_get(json_object_get(
                   json_array_get(c, 0), "parameters"), 0), "text"),
               m.code.data, m.code.len));
    fuzz_check(json_str_is(json_object_get(json_array_get(json_object_get(
                   json_array_get(c, 1), "parameters"), 0), "text"),
               m.code.data, m.code.len));

    json_decref(root);
    free(body);
}


/* the text: valid exactly when UTF-8 without NUL, 1..4096 characters */

static void
fuzz_meta_text(part_t *v)
{
    int                      valid;
    u_char                  *body;
    size_t                   i, k, len, chars;
    json_t                  *root, *t;
    uint32_t                 cp;
    json_error_t             err;
    ngx_otp_meta_text_msg_t  m;

    m.to = (ngx_otp_wire_str_t) { v[0].data, v[0].len };
    m.body = (ngx_otp_wire_str_t) { v[1].data, v[1].len };

    valid = is_e164(&m.to) && m.body.len && is_text(&m.body, 1)
            && memchr(m.body.data, 0, m.body.len) == NULL;

    for (i = 0, chars = 0; valid && i < m.body.len; i += k, chars++) {
        k = ngx_otp_utf8_decode(&m.body.data[i], m.body.len - i, &cp);
    }

    valid = valid && chars <= NGX_OTP_META_TEXT_MAX;

    body = build(meta_text, &m, valid, &len);
    if (body == NULL) {
        return;
    }

    root = json_loadb((char *) body, len, 0, &err);
    fuzz_check(root != NULL);

    fuzz_check(json_str_is(json_object_get(root, "to"), m.to.data + 1,
                           m.to.len - 1));
    fuzz_check(json_str_is(json_object_get(root, "type"),
                           (u_char *) "text", 4));

    t = json_object_get(root, "text");
    fuzz_check(json_is_false(json_object_get(t, "preview_url")));
    fuzz_check(json_str_is(json_object_get(t, "body"), m.body.data,
                           m.body.len));
    fuzz_check(json_object_size(root) == 5 && json_object_size(t) == 2);

    json_decref(root);
    free(body);
}


static void
fuzz_africastalking(const uint8_t *data, size_t size)
{
    int                           valid;
    u_char                       *body;
    size_t                        len;
    part_t                        v[MAX_PARTS];
    ngx_otp_africastalking_msg_t  m;

    (void) split(data, size, v);

    m.username = (ngx_otp_wire_str_t) { v[0].data, v[0].len };
    m.to = (ngx_otp_wire_str_t) { v[1].data, v[1].len };
    m.text = (ngx_otp_wire_str_t) { v[2].data, v[2].len };
    m.from = (ngx_otp_wire_str_t) { v[3].data, v[3].len };

    valid = is_e164(&m.to) && m.username.len && m.text.len;

    body = build(africastalking, &m, valid, &len);
    if (body == NULL) {
        return;
    }

    form_has(body, len, "username", NULL, &m.username);
    form_has(body, len, "to", NULL, &m.to);
    form_has(body, len, "message", NULL, &m.text);
    form_has(body, len, "from", NULL, m.from.len ? &m.from : NULL);

    free(body);
}


static void
fuzz_render(const uint8_t *data, size_t size)
{
    int                     rc;
    u_char                  out[NGX_OTP_MESSAGE_MAX_LEN];
    u_char                  again[NGX_OTP_MESSAGE_MAX_LEN];
    size_t                  i, len, len2;
    part_t                  v[MAX_PARTS];
    ngx_otp_message_vars_t  vars;

    (void) split(data, size, v);

    vars.app = v[1].data;
    vars.app_len = v[1].len;
    vars.code = v[2].data;
    vars.code_len = v[2].len;
    vars.ttl = 0;

    for (i = 0; i < v[3].len && i < 8; i++) {
        vars.ttl = vars.ttl << 8 | v[3].data[i];
    }

    /* an empty first part stands for "no template": the default */

    rc = ngx_otp_message_render(v[0].len ? v[0].data : NULL, v[0].len,
                                &vars, out, sizeof(out), &len);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_ETOOBIG);

    if (rc != NGX_OTP_OK) {
        return;
    }

    fuzz_check(len <= sizeof(out));

    if (v[0].len && memchr(v[0].data, '$', v[0].len) == NULL) {
        fuzz_check(len == v[0].len && memcmp(out, v[0].data, len) == 0);
    }

    rc = ngx_otp_message_render(v[0].len ? v[0].data : NULL, v[0].len,
                                &vars, again, len, &len2);
    fuzz_check(rc == NGX_OTP_OK && len2 == len
               && memcmp(out, again, len) == 0);

    if (len) {
        rc = ngx_otp_message_render(v[0].len ? v[0].data : NULL, v[0].len,
                                    &vars, again, len - 1, &len2);
        fuzz_check(rc == NGX_OTP_ETOOBIG);
    }
}


static void
fuzz_segments(const uint8_t *data, size_t size)
{
    int                 rc, gsm7;
    size_t              septets, single, part;
    ngx_otp_sms_info_t  info;

    septets = 0;
    gsm7 = ngx_otp_message_gsm7(data, size, &septets);

    rc = ngx_otp_message_segments(data, size, &info);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc != NGX_OTP_OK) {
        fuzz_check(!gsm7);
        return;
    }

    fuzz_check(info.encoding == (gsm7 ? NGX_OTP_SMS_GSM7 : NGX_OTP_SMS_UCS2));
    fuzz_check(info.chars <= size);
    fuzz_check(info.units >= info.chars && info.units <= 2 * info.chars);
    fuzz_check((info.segments == 0) == (size == 0));

    if (gsm7) {
        fuzz_check(info.units == septets);
    }

    single = gsm7 ? NGX_OTP_SMS_GSM7_SINGLE : NGX_OTP_SMS_UCS2_SINGLE;
    part = gsm7 ? NGX_OTP_SMS_GSM7_PART : NGX_OTP_SMS_UCS2_PART;

    if (info.units <= single) {
        fuzz_check(info.segments <= 1);

    } else {
        /* a pair never split: each part but the last loses one unit */
        fuzz_check(info.segments >= (info.units + part - 1) / part);
        fuzz_check(info.segments <= (info.units + part - 2) / (part - 1));
    }
}


/*
 * Builds with out NULL, then for real, then one byte short; checks the
 * rc against what the inputs deserve.  Returns the body (to be freed),
 * or NULL when it is refused, as it must be.
 */

static u_char *
build(int (*b)(const void *m, u_char *out, size_t cap, size_t *len),
    const void *m, int valid, size_t *len)
{
    int      rc;
    u_char  *body, *small;
    size_t   need, got;

    need = 0;
    rc = b(m, NULL, 0, &need);

    fuzz_check(rc == (valid ? NGX_OTP_OK : NGX_OTP_EINVAL));

    if (!valid) {
        return NULL;
    }

    fuzz_check(need > 0);

    body = malloc(need);
    fuzz_check(body != NULL);

    got = 0;
    rc = b(m, body, need, &got);
    fuzz_check(rc == NGX_OTP_OK && got == need);

    /* in a buffer of its exact size, so ASan sees a write past it */

    small = malloc(need - 1 ? need - 1 : 1);
    fuzz_check(small != NULL);
    fuzz_check(b(m, small, need - 1, &got) == NGX_OTP_ETOOBIG);
    free(small);

    *len = need;

    return body;
}


/* name decodes to prefix + value; with value NULL it is absent */

static void
form_has(const u_char *body, size_t len, const char *name,
    const char *prefix, const ngx_otp_wire_str_t *value)
{
    int              rc;
    u_char          *buf;
    size_t           plen, i;
    ngx_otp_field_t  f;

    if (len > NGX_OTP_BODY_MAX_LEN) {
        return;
    }

    /* every byte of the form is plain: the encoding left nothing raw */

    for (i = 0; i < len; i++) {
        fuzz_check(body[i] > ' ' && body[i] < 0x7f && body[i] != '+');
    }

    /* ngx_otp_fields_parse() refuses a NUL: no round trip for those */

    if (value && memchr(value->data, '\0', value->len) != NULL) {
        return;
    }

    buf = malloc(len + 1);
    fuzz_check(buf != NULL);

    memset(&f, 0, sizeof(f));
    f.name = name;
    f.buf = buf;
    f.cap = len;

    rc = ngx_otp_fields_parse(NGX_OTP_BODY_FORM, body, len, &f, 1, NULL);

    fuzz_check(rc == NGX_OTP_OK);

    if (value == NULL) {
        fuzz_check(!f.found);
        free(buf);
        return;
    }

    plen = prefix ? strlen(prefix) : 0;

    fuzz_check(f.found);
    fuzz_check(f.len == plen + value->len);
    fuzz_check(plen == 0 || memcmp(buf, prefix, plen) == 0);
    fuzz_check(value->len == 0
               || memcmp(buf + plen, value->data, value->len) == 0);

    free(buf);
}


/* E.164 as ngx_otp_phone_normalize() makes it: it leaves such a number be */

static int
is_e164(const ngx_otp_wire_str_t *s)
{
    u_char  out[NGX_OTP_PHONE_MAX_LEN];
    size_t  len;

    if (s->len == 0 || s->data[0] != '+') {
        return 0;
    }

    if (ngx_otp_phone_normalize(s->data, s->len, NULL, 0, out, &len)
        != NGX_OTP_OK)
    {
        return 0;
    }

    return len == s->len && memcmp(out, s->data, len) == 0;
}


static int
is_code(const ngx_otp_wire_str_t *s)
{
    return ngx_otp_code_check_format(s->data, s->len, s->len) == NGX_OTP_OK;
}


static int
is_text(const ngx_otp_wire_str_t *s, int controls)
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


static int
json_str_is(json_t *v, const u_char *s, size_t len)
{
    return json_is_string(v) && json_string_length(v) == len
           && (len == 0 || memcmp(json_string_value(v), s, len) == 0);
}


static int
twilio_sms(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_twilio_sms_body(m, out, cap, len);
}


static int
twilio_whatsapp(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_twilio_whatsapp_body(m, out, cap, len);
}


static int
twilio_voice(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_twilio_voice_body(m, out, cap, len);
}


static int
meta(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_meta_body(m, out, cap, len);
}


static int
meta_text(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_meta_text_body(m, out, cap, len);
}


static int
africastalking(const void *m, u_char *out, size_t cap, size_t *len)
{
    return ngx_otp_africastalking_body(m, out, cap, len);
}

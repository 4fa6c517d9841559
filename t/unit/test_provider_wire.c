
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_provider_wire.c: the exact bytes sent to Twilio, Meta and
 * Africa's Talking, and what is made of their answers, from the samples
 * in their documentation.
 */


#include <stdlib.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define CANARY   0xa5
#define BUF_LEN  4096

#define S(s)     { (const u_char *) (s), sizeof(s) - 1 }
#define NONE     { NULL, 0 }


typedef int (*builder_pt)(const void *m, u_char *out, size_t cap,
    size_t *len);


static u_char                 buf[BUF_LEN + 1];
static u_char                 short_buf[BUF_LEN + 1];
static size_t                 buf_len;
static ngx_otp_wire_answer_t  answer;


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


/*
 * The body, exactly; then the same measured with out NULL, and written
 * into a buffer one byte short (ETOOBIG, nothing past it).
 */

static void
builds(builder_pt build, const void *m, const char *expected,
    const char *why)
{
    int     rc;
    size_t  len, need;

    memset(buf, CANARY, sizeof(buf));
    buf_len = 0;

    rc = build(m, buf, BUF_LEN, &buf_len);

    is_int(rc, NGX_OTP_OK, "%s: rc", why);
    is_str(buf, buf_len, expected, "%s: body", why);
    ok(buf[buf_len] == CANARY, "%s: nothing written past the body", why);

    need = 0;
    rc = build(m, NULL, 0, &need);
    ok(rc == NGX_OTP_OK && need == strlen(expected), "%s: measured", why);

    memset(short_buf, CANARY, sizeof(short_buf));
    len = 0;
    rc = build(m, short_buf, need - 1, &len);
    ok(rc == NGX_OTP_ETOOBIG && short_buf[need - 1] == CANARY,
       "%s: one byte short is ETOOBIG", why);
}


static void
refuses(builder_pt build, const void *m, const char *why)
{
    size_t  len;

    len = 0;
    is_int(build(m, buf, BUF_LEN, &len), NGX_OTP_EINVAL, "%s: EINVAL", why);
}


/* the form decodes back to the values given, as the provider reads it */

static void
form_has(const char *name, const char *value, const char *why)
{
    int              rc;
    u_char           v[BUF_LEN];
    ngx_otp_field_t  f;

    memset(&f, 0, sizeof(f));
    f.name = name;
    f.buf = v;
    f.cap = sizeof(v);

    rc = ngx_otp_fields_parse(NGX_OTP_BODY_FORM, buf, buf_len, &f, 1, NULL);

    ok(rc == NGX_OTP_OK && f.found, "%s: %s decodes", why, name);
    is_str(v, f.len, value, "%s: %s decodes to the value", why, name);
}


static void
test_form_escape(void)
{
    int     c;
    size_t  n;
    u_char  in[1], enc[4];

    n = ngx_otp_form_escape(buf, (u_char *) "a b+c/\xc3\xa9~-._*&=%", 16);
    is_str(buf, n, "a%20b%2Bc%2F%C3%A9~-._%2A%26%3D%25",
           "form escape: a mix");

    is_int(ngx_otp_form_escape(NULL, (u_char *) "a b", 3), 5,
           "form escape: dst NULL counts");
    is_int(ngx_otp_form_escape(buf, (u_char *) "", 0), 0,
           "form escape: empty");

    /* every byte: unreserved ones as they are, others %XX upper-case */

    n = 0;

    for (c = 0; c < 256; c++) {
        in[0] = (u_char) c;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            n += ngx_otp_form_escape(enc, in, 1) == 1 && enc[0] == c;

        } else {
            snprintf((char *) buf, 4, "%%%02X", c);
            n += ngx_otp_form_escape(enc, in, 1) == 3
                 && memcmp(enc, buf, 3) == 0;
        }
    }

    is_int(n, 256, "form escape: each of the 256 bytes");
}


static void
test_twilio_bodies(void)
{
    ngx_otp_twilio_msg_t  m;

    /* SMS */

    memset(&m, 0, sizeof(m));
    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.from = (ngx_otp_wire_str_t) S("+15017122661");
    m.text = (ngx_otp_wire_str_t) S("Your Acme code is 123456. Valid for 5 "
                                    "minutes. Do not share it.");

    builds(twilio_sms, &m,
           "To=%2B15558675310&From=%2B15017122661"
           "&Body=Your%20Acme%20code%20is%20123456.%20Valid%20for%205%20"
           "minutes.%20Do%20not%20share%20it.",
           "twilio sms");
    form_has("To", "+15558675310", "twilio sms");
    form_has("Body", "Your Acme code is 123456. Valid for 5 minutes. "
             "Do not share it.", "twilio sms");

    m.status_callback = (ngx_otp_wire_str_t)
                        S("https://example.com/otp/status?p=tw&x=1");

    builds(twilio_sms, &m,
           "To=%2B15558675310&From=%2B15017122661"
           "&Body=Your%20Acme%20code%20is%20123456.%20Valid%20for%205%20"
           "minutes.%20Do%20not%20share%20it."
           "&StatusCallback=https%3A%2F%2Fexample.com%2Fotp%2Fstatus%3Fp%3D"
           "tw%26x%3D1",
           "twilio sms, status callback");
    form_has("StatusCallback", "https://example.com/otp/status?p=tw&x=1",
             "twilio sms, status callback");

    m.from = (ngx_otp_wire_str_t) NONE;
    m.service = (ngx_otp_wire_str_t) S("MG9752274e9e519418a7406176694466fa");
    m.text = (ngx_otp_wire_str_t) S("C\xc3\xb3" "digo: 4821 & +1 = 100%\n");
    m.status_callback = (ngx_otp_wire_str_t) NONE;

    builds(twilio_sms, &m,
           "To=%2B15558675310&MessagingServiceSid="
           "MG9752274e9e519418a7406176694466fa"
           "&Body=C%C3%B3digo%3A%204821%20%26%20%2B1%20%3D%20100%25%0A",
           "twilio sms, messaging service, UTF-8 and specials");
    form_has("Body", "C\xc3\xb3" "digo: 4821 & +1 = 100%\n",
             "twilio sms, specials");

    m.from = (ngx_otp_wire_str_t) S("+15017122661");
    refuses(twilio_sms, &m, "twilio sms: both From and a service");
    m.from = (ngx_otp_wire_str_t) NONE;
    m.service = (ngx_otp_wire_str_t) NONE;
    refuses(twilio_sms, &m, "twilio sms: neither From nor a service");
    m.from = (ngx_otp_wire_str_t) S("+15017122661");
    m.text = (ngx_otp_wire_str_t) NONE;
    refuses(twilio_sms, &m, "twilio sms: no text");
    m.text = (ngx_otp_wire_str_t) S("x");
    m.to = (ngx_otp_wire_str_t) S("15558675310");
    refuses(twilio_sms, &m, "twilio sms: To without '+'");
    m.to = (ngx_otp_wire_str_t) S("+05558675310");
    refuses(twilio_sms, &m, "twilio sms: To starting with 0");
    m.to = (ngx_otp_wire_str_t) S("+1555867");
    refuses(twilio_sms, &m, "twilio sms: To of 7 digits");
    m.to = (ngx_otp_wire_str_t) S("+1555867531012345");
    refuses(twilio_sms, &m, "twilio sms: To of 16 digits");
    m.to = (ngx_otp_wire_str_t) S("+1555 8675310");
    refuses(twilio_sms, &m, "twilio sms: To with a space");

    /* WhatsApp: a content template, the code its variable "1" */

    memset(&m, 0, sizeof(m));
    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.from = (ngx_otp_wire_str_t) S("+14155238886");
    m.content_sid = (ngx_otp_wire_str_t)
                    S("HXb5b62575e6e4ff6129ad7c8efe1f983e");
    m.code = (ngx_otp_wire_str_t) S("123456");

    builds(twilio_whatsapp, &m,
           "To=whatsapp%3A%2B15558675310&From=whatsapp%3A%2B14155238886"
           "&ContentSid=HXb5b62575e6e4ff6129ad7c8efe1f983e"
           "&ContentVariables=%7B%221%22%3A%22123456%22%7D",
           "twilio whatsapp");
    form_has("To", "whatsapp:+15558675310", "twilio whatsapp");
    form_has("From", "whatsapp:+14155238886", "twilio whatsapp");
    form_has("ContentVariables", "{\"1\":\"123456\"}", "twilio whatsapp");

    m.status_callback = (ngx_otp_wire_str_t) S("https://example.com/s");

    builds(twilio_whatsapp, &m,
           "To=whatsapp%3A%2B15558675310&From=whatsapp%3A%2B14155238886"
           "&ContentSid=HXb5b62575e6e4ff6129ad7c8efe1f983e"
           "&ContentVariables=%7B%221%22%3A%22123456%22%7D"
           "&StatusCallback=https%3A%2F%2Fexample.com%2Fs",
           "twilio whatsapp, status callback");

    m.code = (ngx_otp_wire_str_t) S("12345\"");
    refuses(twilio_whatsapp, &m, "twilio whatsapp: a code with a quote");
    m.code = (ngx_otp_wire_str_t) S("123");
    refuses(twilio_whatsapp, &m, "twilio whatsapp: a code of 3 digits");
    m.code = (ngx_otp_wire_str_t) S("12345678901");
    refuses(twilio_whatsapp, &m, "twilio whatsapp: a code of 11 digits");
    m.code = (ngx_otp_wire_str_t) S("1234");
    m.content_sid = (ngx_otp_wire_str_t) NONE;
    refuses(twilio_whatsapp, &m, "twilio whatsapp: no content sid");

    /* voice */

    memset(&m, 0, sizeof(m));
    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.from = (ngx_otp_wire_str_t) S("+15017122661");
    m.language = (ngx_otp_wire_str_t) S("en-US");
    m.code = (ngx_otp_wire_str_t) S("123456");

    builds(twilio_voice, &m,
           "To=%2B15558675310&From=%2B15017122661&Twiml="
           "%3CResponse%3E%3CSay%20language%3D%22en-US%22%3EYour%20"
           "verification%20code%20is%201%2C%202%2C%203%2C%204%2C%205%2C%20"
           "6.%3C%2FSay%3E%3CPause%20length%3D%221%22%2F%3E%3CSay%20"
           "language%3D%22en-US%22%3EAgain%3A%201%2C%202%2C%203%2C%204%2C"
           "%205%2C%206.%3C%2FSay%3E%3C%2FResponse%3E",
           "twilio voice");
    form_has("Twiml", "<Response><Say language=\"en-US\">Your verification "
             "code is 1, 2, 3, 4, 5, 6.</Say><Pause length=\"1\"/><Say "
             "language=\"en-US\">Again: 1, 2, 3, 4, 5, 6.</Say></Response>",
             "twilio voice");

    m.status_callback = (ngx_otp_wire_str_t) S("https://example.com/s");
    m.code = (ngx_otp_wire_str_t) S("0000");
    m.language = (ngx_otp_wire_str_t) S("pt-BR");

    builds(twilio_voice, &m,
           "To=%2B15558675310&From=%2B15017122661&Twiml="
           "%3CResponse%3E%3CSay%20language%3D%22pt-BR%22%3EYour%20"
           "verification%20code%20is%200%2C%200%2C%200%2C%200.%3C%2FSay%3E"
           "%3CPause%20length%3D%221%22%2F%3E%3CSay%20language%3D%22pt-BR"
           "%22%3EAgain%3A%200%2C%200%2C%200%2C%200.%3C%2FSay%3E"
           "%3C%2FResponse%3E&StatusCallback=https%3A%2F%2Fexample.com%2Fs",
           "twilio voice, status callback");

    m.language = (ngx_otp_wire_str_t) S("en\nUS");
    refuses(twilio_voice, &m, "twilio voice: a control character in the "
            "language");
    m.language = (ngx_otp_wire_str_t) NONE;
    refuses(twilio_voice, &m, "twilio voice: no language");
    m.language = (ngx_otp_wire_str_t) S("en-US");
    m.code = (ngx_otp_wire_str_t) S("12a456");
    refuses(twilio_voice, &m, "twilio voice: a code with a letter");
}


static void
test_twiml(void)
{
    int     rc;
    size_t  len;

    rc = ngx_otp_twilio_twiml((u_char *) "en-US", 5, (u_char *) "9876", 4,
                              buf, BUF_LEN, &len);
    is_int(rc, NGX_OTP_OK, "twiml: rc");
    is_str(buf, len, "<Response><Say language=\"en-US\">Your verification "
           "code is 9, 8, 7, 6.</Say><Pause length=\"1\"/><Say "
           "language=\"en-US\">Again: 9, 8, 7, 6.</Say></Response>",
           "twiml: the code twice, digit by digit");

    rc = ngx_otp_twilio_twiml((u_char *) "a\"><Play>&'", 11,
                              (u_char *) "1234", 4, buf, BUF_LEN, &len);
    is_int(rc, NGX_OTP_OK, "twiml: specials in the language: rc");
    is_str(buf, len, "<Response><Say language=\"a&quot;&gt;&lt;Play&gt;"
           "&amp;&apos;\">Your verification code is 1, 2, 3, 4.</Say>"
           "<Pause length=\"1\"/><Say language=\"a&quot;&gt;&lt;Play&gt;"
           "&amp;&apos;\">Again: 1, 2, 3, 4.</Say></Response>",
           "twiml: the language is XML-escaped");

    rc = ngx_otp_twilio_twiml((u_char *) "en-US", 5, (u_char *) "9876", 4,
                              NULL, 0, &len);
    ok(rc == NGX_OTP_OK && len == 151, "twiml: measured");

    rc = ngx_otp_twilio_twiml((u_char *) "en-US", 5, (u_char *) "9876", 4,
                              buf, 150, &len);
    is_int(rc, NGX_OTP_ETOOBIG, "twiml: one byte short");

    rc = ngx_otp_twilio_twiml((u_char *) "en-US", 5, (u_char *) "98 76", 5,
                              buf, BUF_LEN, &len);
    is_int(rc, NGX_OTP_EINVAL, "twiml: a code with a space");

    rc = ngx_otp_twilio_twiml((u_char *) "en\xff", 3, (u_char *) "9876", 4,
                              buf, BUF_LEN, &len);
    is_int(rc, NGX_OTP_EINVAL, "twiml: a language that is not UTF-8");
}


static void
test_meta_body(void)
{
    ngx_otp_meta_msg_t  m;

    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.name = (ngx_otp_wire_str_t) S("otp_login");
    m.language = (ngx_otp_wire_str_t) S("en_US");
    m.code = (ngx_otp_wire_str_t) S("123456");

    builds(meta, &m,
           "{\"messaging_product\":\"whatsapp\",\"recipient_type\":"
           "\"individual\",\"to\":\"15558675310\",\"type\":\"template\","
           "\"template\":{\"name\":\"otp_login\",\"language\":{\"code\":"
           "\"en_US\"},\"components\":[{\"type\":\"body\",\"parameters\":"
           "[{\"type\":\"text\",\"text\":\"123456\"}]},{\"type\":\"button\","
           "\"sub_type\":\"url\",\"index\":\"0\",\"parameters\":[{\"type\":"
           "\"text\",\"text\":\"123456\"}]}]}}",
           "meta");

    m.name = (ngx_otp_wire_str_t) S("c\xc3\xb3" "digo\"\\");
    m.language = (ngx_otp_wire_str_t) S("pt_BR");

    builds(meta, &m,
           "{\"messaging_product\":\"whatsapp\",\"recipient_type\":"
           "\"individual\",\"to\":\"15558675310\",\"type\":\"template\","
           "\"template\":{\"name\":\"c\xc3\xb3" "digo\\\"\\\\\",\"language\":"
           "{\"code\":\"pt_BR\"},\"components\":[{\"type\":\"body\","
           "\"parameters\":[{\"type\":\"text\",\"text\":\"123456\"}]},"
           "{\"type\":\"button\",\"sub_type\":\"url\",\"index\":\"0\","
           "\"parameters\":[{\"type\":\"text\",\"text\":\"123456\"}]}]}}",
           "meta, a name that needs escaping");

    m.name = (ngx_otp_wire_str_t) S("otp\xc3");
    refuses(meta, &m, "meta: a name that is not UTF-8");
    m.name = (ngx_otp_wire_str_t) NONE;
    refuses(meta, &m, "meta: no name");
    m.name = (ngx_otp_wire_str_t) S("otp_login");
    m.language = (ngx_otp_wire_str_t) NONE;
    refuses(meta, &m, "meta: no language");
    m.language = (ngx_otp_wire_str_t) S("en_US");
    m.to = (ngx_otp_wire_str_t) S("15558675310");
    refuses(meta, &m, "meta: to without '+'");
    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.code = (ngx_otp_wire_str_t) S("\"}]}");
    refuses(meta, &m, "meta: a code that is not digits");
}


static void
test_meta_text_body(void)
{
    size_t                   i, len;
    u_char                  *big, *out;
    char                    *expected;
    ngx_otp_meta_text_msg_t  m;

    m.to = (ngx_otp_wire_str_t) S("+15558675310");
    m.body = (ngx_otp_wire_str_t) S("Acme codes. Reply STOP to opt out.");

    builds(meta_text, &m,
           "{\"messaging_product\":\"whatsapp\",\"recipient_type\":"
           "\"individual\",\"to\":\"15558675310\",\"type\":\"text\","
           "\"text\":{\"preview_url\":false,\"body\":\"Acme codes. Reply "
           "STOP to opt out.\"}}",
           "meta text");

    /* what JSON must escape is, and nothing else: '/', UTF-8, DEL stay */

    m.body = (ngx_otp_wire_str_t)
             S("\"Help\" \\ c:/x\n\ttab\r\x01\x1f\x7f caf\xc3\xa9 "
               "\xe2\x9c\x93 \xf0\x9f\x94\x91");

    builds(meta_text, &m,
           "{\"messaging_product\":\"whatsapp\",\"recipient_type\":"
           "\"individual\",\"to\":\"15558675310\",\"type\":\"text\","
           "\"text\":{\"preview_url\":false,\"body\":\"\\\"Help\\\" \\\\ "
           "c:/x\\n\\ttab\\r\\u0001\\u001F\x7f caf\xc3\xa9 \xe2\x9c\x93 "
           "\xf0\x9f\x94\x91\"}}",
           "meta text: quotes, backslash, control characters escaped");

    /* a body that closes the JSON is only text */

    m.body = (ngx_otp_wire_str_t) S("\"},\"to\":\"15550000000");

    builds(meta_text, &m,
           "{\"messaging_product\":\"whatsapp\",\"recipient_type\":"
           "\"individual\",\"to\":\"15558675310\",\"type\":\"text\","
           "\"text\":{\"preview_url\":false,\"body\":\"\\\"},\\\"to\\\":"
           "\\\"15550000000\"}}",
           "meta text: no injection");

    m.body = (ngx_otp_wire_str_t) S("caf\xc3");
    refuses(meta_text, &m, "meta text: UTF-8 cut short");
    m.body = (ngx_otp_wire_str_t) S("\xff help");
    refuses(meta_text, &m, "meta text: a byte that is no UTF-8");
    m.body = (ngx_otp_wire_str_t) S("\xc0\xaf");
    refuses(meta_text, &m, "meta text: an overlong form");
    m.body = (ngx_otp_wire_str_t) S("\xed\xa0\x80");
    refuses(meta_text, &m, "meta text: a surrogate");
    m.body = (ngx_otp_wire_str_t) S("help\0me");
    refuses(meta_text, &m, "meta text: a NUL");
    m.body = (ngx_otp_wire_str_t) NONE;
    refuses(meta_text, &m, "meta text: no body");
    m.body = (ngx_otp_wire_str_t) S("help");
    m.to = (ngx_otp_wire_str_t) S("15558675310");
    refuses(meta_text, &m, "meta text: to without '+'");
    m.to = (ngx_otp_wire_str_t) S("+1555867531x");
    refuses(meta_text, &m, "meta text: to not digits");
    m.to = (ngx_otp_wire_str_t) S("+15558675310");

    /* Meta's limit is in characters, not bytes: 4096 two-byte ones go */

    big = malloc(2 * (NGX_OTP_META_TEXT_MAX + 1));
    expected = malloc(2 * (NGX_OTP_META_TEXT_MAX + 1) + 256);
    out = malloc(2 * (NGX_OTP_META_TEXT_MAX + 1) + 256);

    if (big == NULL || expected == NULL || out == NULL) {
        ok(0, "meta text: memory for the long one");
        free(big);
        free(expected);
        return;
    }

    for (i = 0; i < NGX_OTP_META_TEXT_MAX + 1; i++) {
        big[2 * i] = 0xc3;
        big[2 * i + 1] = 0xa9;
    }

    m.body.data = big;
    m.body.len = 2 * NGX_OTP_META_TEXT_MAX;

    i = (size_t) sprintf(expected,
                         "{\"messaging_product\":\"whatsapp\","
                         "\"recipient_type\":\"individual\",\"to\":"
                         "\"15558675310\",\"type\":\"text\",\"text\":"
                         "{\"preview_url\":false,\"body\":\"");
    memcpy(expected + i, big, m.body.len);
    memcpy(expected + i + m.body.len, "\"}}", 3);

    len = 0;
    is_int(meta_text(&m, out, 2 * (NGX_OTP_META_TEXT_MAX + 1) + 256, &len),
           NGX_OTP_OK, "meta text: %d characters of 2 bytes",
           NGX_OTP_META_TEXT_MAX);
    is_mem(out, len, expected, i + m.body.len + 3,
           "meta text: the long one, whole");

    m.body.len += 2;
    refuses(meta_text, &m, "meta text: one character too many");

    free(big);
    free(expected);
    free(out);
}


static void
test_africastalking_body(void)
{
    ngx_otp_africastalking_msg_t  m;

    m.username = (ngx_otp_wire_str_t) S("sandbox");
    m.to = (ngx_otp_wire_str_t) S("+254711000111");
    m.text = (ngx_otp_wire_str_t) S("Your code is 123456");
    m.from = (ngx_otp_wire_str_t) NONE;

    builds(africastalking, &m,
           "username=sandbox&to=%2B254711000111"
           "&message=Your%20code%20is%20123456",
           "africastalking");

    m.from = (ngx_otp_wire_str_t) S("AFRICASTKNG");
    m.username = (ngx_otp_wire_str_t) S("my app&co");

    builds(africastalking, &m,
           "username=my%20app%26co&to=%2B254711000111"
           "&message=Your%20code%20is%20123456&from=AFRICASTKNG",
           "africastalking, from");
    form_has("username", "my app&co", "africastalking, from");
    form_has("to", "+254711000111", "africastalking, from");

    m.username = (ngx_otp_wire_str_t) NONE;
    refuses(africastalking, &m, "africastalking: no username");
    m.username = (ngx_otp_wire_str_t) S("sandbox");
    m.text = (ngx_otp_wire_str_t) NONE;
    refuses(africastalking, &m, "africastalking: no text");
    m.text = (ngx_otp_wire_str_t) S("x");
    m.to = (ngx_otp_wire_str_t) S("0711000111");
    refuses(africastalking, &m, "africastalking: a national number");
}


typedef int (*parser_pt)(unsigned status, const u_char *body, size_t len,
    const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a);


/* the code every answer below is read against: it appears in none */
static const ngx_otp_wire_str_t  code = S("482913");


static void
accepted(parser_pt parse, unsigned status, const char *body,
    const char *id, const char *why)
{
    int  rc;

    memset(&answer, CANARY, sizeof(answer));

    rc = parse(status, (const u_char *) body, strlen(body), &code, &answer);

    is_int(rc, NGX_OTP_OK, "%s: accepted", why);
    is_str(answer.id, answer.id_len, id, "%s: message id", why);
    is_int(answer.error_len, 0, "%s: no error", why);
    is_int(answer.category, NGX_OTP_DELIVERY_OK, "%s: no category", why);
    is_int(answer.has_provider_code, 0, "%s: no provider code", why);
}


static void
refused(parser_pt parse, unsigned status, const char *body, size_t len,
    const char *error, const char *why)
{
    int  rc;

    memset(&answer, CANARY, sizeof(answer));

    rc = parse(status, (const u_char *) body, len ? len : strlen(body),
               &code, &answer);

    is_int(rc, NGX_OTP_EINVAL, "%s: refused", why);
    is_str(answer.error, answer.error_len, error, "%s: error", why);
    is_int(answer.id_len, 0, "%s: no id", why);
}


static void
test_twilio_parse(void)
{
    int   i;
    char  body[600];

    /* POST .../Messages.json, 201 Created (docs: "Send an SMS message") */

    accepted(ngx_otp_twilio_parse, 201,
             "{\"account_sid\": \"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\", "
             "\"api_version\": \"2010-04-01\", \"body\": \"Your Acme code is "
             "123456. Valid for 5 minutes. Do not share it.\", "
             "\"date_created\": \"Thu, 24 Aug 2023 05:01:45 +0000\", "
             "\"date_sent\": null, \"date_updated\": \"Thu, 24 Aug 2023 "
             "05:01:45 +0000\", \"direction\": \"outbound-api\", "
             "\"error_code\": null, \"error_message\": null, \"from\": "
             "\"+15017122661\", \"num_media\": \"0\", \"num_segments\": "
             "\"1\", \"price\": null, \"price_unit\": null, "
             "\"messaging_service_sid\": null, \"sid\": "
             "\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"status\": "
             "\"queued\", \"subresource_uris\": {\"media\": "
             "\"/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/"
             "Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json\"}, "
             "\"to\": \"+15558675310\", \"uri\": \"/2010-04-01/Accounts/"
             "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/"
             "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json\"}",
             "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "twilio: message sent");

    /* POST .../Calls.json, 201 Created */

    accepted(ngx_otp_twilio_parse, 201,
             "{\"account_sid\": \"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\", "
             "\"answered_by\": null, \"api_version\": \"2010-04-01\", "
             "\"direction\": \"outbound-api\", \"from\": \"+15017122661\", "
             "\"sid\": \"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"status\": "
             "\"queued\", \"to\": \"+15558675310\"}",
             "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "twilio: call queued");

    /* errors, as https://www.twilio.com/docs/usage/twilios-response */

    refused(ngx_otp_twilio_parse, 400,
            "{\"code\": 21211, \"message\": \"The 'To' number 5551234567 is "
            "not a valid phone number.\", \"more_info\": "
            "\"https://www.twilio.com/docs/errors/21211\", \"status\": 400}",
            0, "The 'To' number ********** is not a valid "
            "phone number.", "twilio: 21211, the number starred out");

    refused(ngx_otp_twilio_parse, 401,
            "{\"code\": 20003, \"detail\": \"Your AccountSid or AuthToken "
            "was incorrect.\", \"message\": \"Authentication Error - "
            "invalid username\", \"more_info\": "
            "\"https://www.twilio.com/docs/errors/20003\", \"status\": 401}",
            0, "Authentication Error - invalid username",
            "twilio: 20003, bad credentials");

    refused(ngx_otp_twilio_parse, 400,
            "{\"code\": 63016, \"message\": \"Failed to send freeform "
            "message because you are outside the allowed window.\", "
            "\"status\": 400}", 0,
            "Failed to send freeform message because you are "
            "outside the allowed window.", "twilio: 63016, whatsapp");

    refused(ngx_otp_twilio_parse, 400,
            "{\"code\": 21617, \"message\": \"The concatenated message body "
            "exceeds the 1600 character limit. Body: Your code is "
            "123456\"}", 0,
            "The concatenated message body exceeds the **** "
            "character limit. Body: Your code is ******",
            "twilio: a code the provider quotes is starred out");

    refused(ngx_otp_twilio_parse, 429, "{\"code\": 20429}", 0,
            "", "twilio: a code without a message");

    refused(ngx_otp_twilio_parse, 400,
            "{\"code\": 21211, \"message\": \"  two\\nlines\\t\\u0000and "
            "\\u0085 controls  \"}", 0,
            "two lines and controls",
            "twilio: white space and controls collapse");

    refused(ngx_otp_twilio_parse, 502,
            "<html><body>502 Bad Gateway</body></html>", 0,
            "<html><body>502 Bad Gateway</body></html>", "twilio: not JSON");
    refused(ngx_otp_twilio_parse, 500, "", 0,
            "", "twilio: empty");
    refused(ngx_otp_twilio_parse, 201, "{\"status\": \"queued\"}", 0,
            "", "twilio: 201 without sid");
    refused(ngx_otp_twilio_parse, 201, "[\"SMaaaa\"]", 0,
            "[\"SMaaaa\"]", "twilio: not an object");
    refused(ngx_otp_twilio_parse, 201, "{\"sid\": \"SM\\\"aa\"}", 0,
            "",
            "twilio: a sid with a quote is no id");
    refused(ngx_otp_twilio_parse, 201, "{\"sid\": \"\"}", 0,
            "", "twilio: an empty sid");
    refused(ngx_otp_twilio_parse, 201, "{\"sid\": 42}", 0,
            "", "twilio: a number sid");
    refused(ngx_otp_twilio_parse, 400, "{\"code\": \"21211\", "
            "\"message\": \"x\"}", 0, "x",
            "twilio: a string code");
    refused(ngx_otp_twilio_parse, 200, "{\"sid\": \"SMa\"", 0,
            "{\"sid\": \"SMa\"", "twilio: cut short");
    refused(ngx_otp_twilio_parse, 400, "{\"sid\": \"SMa\", \"code\": 1}", 0,
            "", "twilio: a sid in a 400 is no success");

    /* a long message is cut at a character, with "..." */

    memcpy(body, "{\"code\": 30001, \"message\": \"", 28);
    memset(body + 28, 'x', 300);
    memcpy(body + 328, "\"}", 3);

    refused(ngx_otp_twilio_parse, 400, body, 0,
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "x...", "twilio: a long message is cut to 128 bytes");

    memcpy(body, "{\"code\": 30001, \"message\": \"", 28);

    for (i = 0; i < 100; i++) {
        memcpy(body + 28 + 2 * i, "\xc3\xa9", 2);
    }

    memcpy(body + 228, "\"}", 3);

    memset(&answer, 0, sizeof(answer));
    ngx_otp_twilio_parse(400, (u_char *) body, strlen(body), &code,
                         &answer);
    ok(answer.error_len <= NGX_OTP_WIRE_ERROR_LEN
       && answer.error_len >= NGX_OTP_WIRE_ERROR_LEN - 4
       && memcmp(answer.error + answer.error_len - 5, "\xc3\xa9...", 5) == 0,
       "twilio: a UTF-8 message is cut between characters");

    /* an id as long as NGX_OTP_WIRE_ID_LEN, then one longer */

    memcpy(body, "{\"sid\": \"", 9);
    memset(body + 9, 'a', NGX_OTP_WIRE_ID_LEN);
    memcpy(body + 9 + NGX_OTP_WIRE_ID_LEN, "\"}", 3);

    memset(&answer, 0, sizeof(answer));
    is_int(ngx_otp_twilio_parse(201, (u_char *) body, strlen(body), &code,
                                &answer),
           NGX_OTP_OK, "twilio: an id of NGX_OTP_WIRE_ID_LEN bytes");
    is_int(answer.id_len, NGX_OTP_WIRE_ID_LEN, "twilio: all of it taken");

    memcpy(body, "{\"sid\": \"", 9);
    memset(body + 9, 'a', NGX_OTP_WIRE_ID_LEN + 1);
    memcpy(body + 10 + NGX_OTP_WIRE_ID_LEN, "\"}", 3);

    refused(ngx_otp_twilio_parse, 201, body, 0,
            "", "twilio: an id too long");

    refused(ngx_otp_twilio_parse, 200, "{\"sid\": \"SMa\"}",
            NGX_OTP_WIRE_ANSWER_MAX + 1,
            "",
            "twilio: an answer over NGX_OTP_WIRE_ANSWER_MAX");
}


static void
test_meta_parse(void)
{
    /* docs: "Send message" response, 200 OK */

    accepted(ngx_otp_meta_parse, 200,
             "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":"
             "\"16505555555\",\"wa_id\":\"16505555555\"}],\"messages\":[{"
             "\"id\":\"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RT"
             "Y3RTcA\",\"message_status\":\"accepted\"}]}",
             "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
             "meta: message accepted");

    /* Graph API errors */

    refused(ngx_otp_meta_parse, 401,
            "{\"error\":{\"message\":\"Invalid OAuth access token - Cannot "
            "parse access token\",\"type\":\"OAuthException\",\"code\":190,"
            "\"fbtrace_id\":\"Azr7Sq8Xo2FkbF1XTcpLuKf\"}}", 0,
            "Invalid OAuth access token - Cannot parse access "
            "token", "meta: 190, a bad token");

    refused(ngx_otp_meta_parse, 401,
            "{\"error\":{\"message\":\"Error validating access token: "
            "Session has expired on Friday, 01-Nov-24 00:00:00 PDT. The "
            "current time is Saturday, 02-Nov-24 10:11:12 PDT.\",\"type\":"
            "\"OAuthException\",\"code\":190,\"error_subcode\":463,"
            "\"fbtrace_id\":\"AzbRY1KfZ3nh2Wb7mJpQx5h\"}}", 0,
            "Error validating access token: Session has expired "
            "on Friday, 01-Nov-24 00:00:00 PDT. The current time is "
            "Saturday, 02-Nov-24...",
            "meta: 190, an expired token, cut to 128 bytes");

    refused(ngx_otp_meta_parse, 400,
            "{\"error\":{\"message\":\"(#131030) Recipient phone number not "
            "in allowed list\",\"type\":\"OAuthException\",\"code\":131030,"
            "\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":"
            "\"Recipient phone number not in allowed list: Add recipient "
            "phone number to recipient list and try again.\"},"
            "\"error_subcode\":2655007,\"fbtrace_id\":"
            "\"Az8or2yhqkZfEZ-_4Qn_Bam\"}}", 0,
            "Recipient phone number not in allowed list",
            "meta: 131030, the \"(#code) \" prefix dropped");

    refused(ngx_otp_meta_parse, 404,
            "{\"error\":{\"message\":\"(#132001) Template name does not "
            "exist in the translation\",\"type\":\"OAuthException\","
            "\"code\":132001,\"error_data\":{\"messaging_product\":"
            "\"whatsapp\",\"details\":\"template name (otp_login) does not "
            "exist in en_US\"},\"fbtrace_id\":\"A6kQ6pY1Wb0J\"}}", 0,
            "Template name does not exist in the translation",
            "meta: 132001, no such template");

    refused(ngx_otp_meta_parse, 400,
            "{\"error\":{\"message\":\"(#100)\",\"code\":100}}", 0,
            "", "meta: nothing after the prefix");
    refused(ngx_otp_meta_parse, 400,
            "{\"error\":{\"message\":\"(#abc) x\",\"code\":100}}", 0,
            "(#abc) x", "meta: not a prefix, kept");

    refused(ngx_otp_meta_parse, 200,
            "{\"messaging_product\":\"whatsapp\",\"messages\":[]}", 0,
            "", "meta: no message");
    refused(ngx_otp_meta_parse, 200, "{\"messages\":[{\"id\":7}]}", 0,
            "", "meta: a number id");
    refused(ngx_otp_meta_parse, 200, "{\"messages\":{\"id\":\"wamid.x\"}}",
            0, "", "meta: not an array");
    refused(ngx_otp_meta_parse, 500, "Service Unavailable", 0,
            "Service Unavailable", "meta: not JSON");
    refused(ngx_otp_meta_parse, 400, "{\"error\":\"bad\"}", 0,
            "", "meta: a string error");
    refused(ngx_otp_meta_parse, 400,
            "{\"messages\":[{\"id\":\"wamid.x\"}],\"error\":{\"code\":4}}",
            0, "", "meta: an id in a 400 is no success");
}


static void
test_africastalking_parse(void)
{
    /* docs: "Sending messages", 201 Created */

    accepted(ngx_otp_africastalking_parse, 201,
             "{\"SMSMessageData\":{\"Message\":\"Sent to 1/1 Total Cost: KES "
             "0.8000\",\"Recipients\":[{\"statusCode\":101,\"number\":"
             "\"+254711XXXYYY\",\"status\":\"Success\",\"cost\":\"KES "
             "0.8000\",\"messageId\":\"ATPid_SampleTxnId123\"}]}}",
             "ATPid_SampleTxnId123", "africastalking: 101 Sent");

    accepted(ngx_otp_africastalking_parse, 201,
             "{\"SMSMessageData\":{\"Message\":\"Sent to 1/1\",\"Recipients\":"
             "[{\"statusCode\":100,\"status\":\"Processed\",\"messageId\":"
             "\"ATXid_1\"}]}}", "ATXid_1", "africastalking: 100 Processed");

    accepted(ngx_otp_africastalking_parse, 200,
             "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":102,"
             "\"status\":\"Queued\"}]}}", "",
             "africastalking: 102 Queued, no messageId");

    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Message\":\"Sent to 0/1 Total Cost: 0\","
            "\"Recipients\":[{\"statusCode\":403,\"number\":"
            "\"+254711XXXYYY\",\"status\":\"InvalidPhoneNumber\",\"cost\":"
            "\"0\",\"messageId\":\"None\"}]}}", 0,
            "InvalidPhoneNumber",
            "africastalking: 403 InvalidPhoneNumber");

    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Message\":\"Sent to 0/1 Total Cost: 0\","
            "\"Recipients\":[{\"statusCode\":405,\"number\":\"+254711000111\","
            "\"status\":\"InsufficientBalance\",\"cost\":\"0\","
            "\"messageId\":\"None\"}]}}", 0,
            "InsufficientBalance",
            "africastalking: 405 InsufficientBalance");

    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":406}]}}", 0,
            "", "africastalking: a refusal without status");

    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Message\":\"InvalidSenderId\","
            "\"Recipients\":[]}}", 0,
            "InvalidSenderId",
            "africastalking: no recipient, the Message says why");

    refused(ngx_otp_africastalking_parse, 401,
            "The supplied authentication is invalid", 0,
            "The supplied authentication is "
            "invalid", "africastalking: 401, a text body");

    refused(ngx_otp_africastalking_parse, 400,
            "Request is missing required form field 'to'\n", 0,
            "Request is missing required form "
            "field 'to'", "africastalking: 400, trailing new line dropped");

    refused(ngx_otp_africastalking_parse, 500, "", 0,
            "", "africastalking: 500, no body");

    refused(ngx_otp_africastalking_parse, 201,
            "<?xml version=\"1.0\"?><AfricasTalkingResponse/>", 0,
            "<?xml version=\"1.0\"?><AfricasTalkingResponse/>",
            "africastalking: XML, when Accept was forgotten");
    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Recipients\":[]}}", 0,
            "{\"SMSMessageData\":{\"Recipients\":[]}}",
            "africastalking: no recipient and no Message");
    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":\"101\"}]}}",
            0,
            "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":"
            "\"101\"}]}}",
            "africastalking: a string statusCode");
    refused(ngx_otp_africastalking_parse, 201,
            "{\"SMSMessageData\":{\"Recipients\":[7]}}", 0,
            "{\"SMSMessageData\":{\"Recipients\":[7]}}",
            "africastalking: a recipient that is not an object");
}


/* what is left of text after the scrub holds no run of the code */

static int
scrub_sound(const u_char *text, size_t len, const char *c)
{
    u_char  d[BUF_LEN];
    size_t  i, n, k, clen;

    clen = strlen(c);
    n = 0;

    for (i = 0; i < len && n < sizeof(d); i++) {
        if (text[i] >= '0' && text[i] <= '9') {
            d[n++] = text[i];
        }
    }

    for (i = 0; i + NGX_OTP_SCRUB_RUN <= n; i++) {
        for (k = 0; k + NGX_OTP_SCRUB_RUN <= clen; k++) {
            if (memcmp(d + i, c + k, NGX_OTP_SCRUB_RUN) == 0) {
                return 0;
            }
        }
    }

    return 1;
}


static void
scrubs(const char *c, const char *text, const char *expected,
    size_t starred, const char *why)
{
    size_t  len, n;

    len = strlen(text);
    memcpy(buf, text, len);
    buf[len] = CANARY;

    n = ngx_otp_wire_scrub(buf, len, (const u_char *) c, strlen(c));

    is_str(buf, len, expected, "scrub: %s", why);
    is_int(n, starred, "scrub: %s: digits starred", why);
    ok(buf[len] == CANARY, "scrub: %s: nothing written past the text", why);
    ok(scrub_sound(buf, len, c), "scrub: %s: no run of the code left", why);
}


static void
test_scrub(void)
{
    /* the code in every spelling a provider may quote it back in */

    scrubs("123456", "Your code is 123456.", "Your code is ******.", 6,
           "the code as it is");
    scrubs("123456", "Your code is 1, 2, 3, 4, 5, 6.",
           "Your code is *, *, *, *, *, *.", 6, "the voice text's spelling");
    scrubs("123456", "1-2-3-4-5-6", "*-*-*-*-*-*", 6, "dashes");
    scrubs("123456", "1 2 3\n4 5 6", "* * *\n* * *", 6, "a line break");
    scrubs("123456", "<Say>1</Say><Say>2</Say><Say>3</Say><Say>4</Say>"
           "<Say>5</Say><Say>6</Say>",
           "<Say>*</Say><Say>*</Say><Say>*</Say><Say>*</Say>"
           "<Say>*</Say><Say>*</Say>", 6, "digits split by XML tags");
    scrubs("123456", "one1two2three3four4five5six6",
           "one*two*three*four*five*six*", 6, "digits split by words");
    scrubs("123456", "Again: 1, 2, 3, 4, 5, 6. Again: 1, 2, 3, 4, 5, 6.",
           "Again: *, *, *, *, *, *. Again: *, *, *, *, *, *.", 12,
           "said twice");

    /* a code the provider cut short: three digits in a row are enough */

    scrubs("123456", "Your code is 1, 2, 3, 4...",
           "Your code is *, *, *, *...", 4, "four digits of it, cut");
    scrubs("123456", "is 1, 2, 3...", "is *, *, *...", 3,
           "three digits of it, cut");
    scrubs("123456", "...4, 5, 6.", "...*, *, *.", 3, "its last three");
    scrubs("123456", "is 1, 2...", "is 1, 2...", 0,
           "two digits are left: a hundredth of the code, unplaced");

    /* the provider's own numbers stay when they cannot be the code */

    scrubs("123456", "Error 21211: Your code is 1, 2, 3, 4, 5, 6",
           "Error 21211: Your code is *, *, *, *, *, *", 6,
           "an error number beside the code");
    scrubs("123456", "HTTP 400, error 63016", "HTTP 400, error 63016", 0,
           "no code at all");
    scrubs("987654", "code 21211 at 12:30", "code 21211 at 12:30", 0,
           "numbers that share nothing with the code");

    /* a run made across numbers is starred: the digits could spell it */

    scrubs("123456", "12 34 56", "** ** **", 6, "the code in pairs");
    scrubs("123456", "41 23 99", "4* ** 99", 3,
           "a run of the code across two numbers");

    /* starring one run makes the digits around it meet: looked at again */

    scrubs("123456", "1 2 [4 5 6] 3", "* * [* * *] *", 6,
           "runs that meet once one goes");
    scrubs("123456", "1 2 3 4 [5 6 1 2] 5 6", "* * * * [* * 1 2] 5 6", 6,
           "what is left after the code is no run of it");
    scrubs("1212", "121212", "******", 6, "a code that repeats itself");

    /* nothing to scrub by */

    scrubs("", "123456", "123456", 0, "no code");

    memcpy(buf, "1, 2, 3", 7);
    is_int(ngx_otp_wire_scrub(buf, 0, (const u_char *) "123456", 6), 0,
           "scrub: an empty text");
}


static void
category(parser_pt parse, unsigned status, const char *body,
    const ngx_otp_wire_str_t *c, unsigned expected, long long pcode,
    const char *why)
{
    int  rc;

    memset(&answer, CANARY, sizeof(answer));

    rc = parse(status, (const u_char *) body, strlen(body), c, &answer);

    is_int(rc, NGX_OTP_EINVAL, "%s: refused", why);
    is_str(ngx_otp_delivery_error_name(answer.category),
           strlen(ngx_otp_delivery_error_name(answer.category)),
           ngx_otp_delivery_error_name(expected), "%s: category", why);
    is_int(answer.has_provider_code, pcode >= 0, "%s: provider code given",
           why);

    if (pcode >= 0) {
        is_int(answer.provider_code, pcode, "%s: provider code", why);
    }
}


static void
test_categories(void)
{
    unsigned                  i;
    const ngx_otp_wire_str_t  voice = S("123456");

    static const char  *names[] = {
        "ok", "rejected", "auth_failed", "throttled", "unavailable",
        "bad_response", "timeout", "connect_failed", "tls_failed",
        "budget_exhausted", "aborted", "internal"
    };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        is_str(ngx_otp_delivery_error_name(i),
               strlen(ngx_otp_delivery_error_name(i)), names[i],
               "category %u is %s", i, names[i]);
    }

    is_str(ngx_otp_delivery_error_name(99), 8, "internal",
           "an unknown category is internal");

    is_int(ngx_otp_delivery_status_category(400), NGX_OTP_DELIVERY_REJECTED,
           "status 400: rejected");
    is_int(ngx_otp_delivery_status_category(404), NGX_OTP_DELIVERY_REJECTED,
           "status 404: rejected");
    is_int(ngx_otp_delivery_status_category(401),
           NGX_OTP_DELIVERY_AUTH_FAILED, "status 401: auth_failed");
    is_int(ngx_otp_delivery_status_category(403),
           NGX_OTP_DELIVERY_AUTH_FAILED, "status 403: auth_failed");
    is_int(ngx_otp_delivery_status_category(429), NGX_OTP_DELIVERY_THROTTLED,
           "status 429: throttled");
    is_int(ngx_otp_delivery_status_category(500),
           NGX_OTP_DELIVERY_UNAVAILABLE, "status 500: unavailable");
    is_int(ngx_otp_delivery_status_category(503),
           NGX_OTP_DELIVERY_UNAVAILABLE, "status 503: unavailable");
    is_int(ngx_otp_delivery_status_category(201),
           NGX_OTP_DELIVERY_BAD_RESPONSE, "status 201: bad_response");
    is_int(ngx_otp_delivery_status_category(302),
           NGX_OTP_DELIVERY_BAD_RESPONSE, "status 302: bad_response");

    category(ngx_otp_twilio_parse, 400, "{\"code\": 21211, \"message\": "
             "\"Invalid 'To' Phone Number\"}", &code,
             NGX_OTP_DELIVERY_REJECTED, 21211, "twilio 21211");
    category(ngx_otp_twilio_parse, 401, "{\"code\": 20003}", &code,
             NGX_OTP_DELIVERY_AUTH_FAILED, 20003, "twilio 20003");
    category(ngx_otp_twilio_parse, 429, "{\"code\": 20429}", &code,
             NGX_OTP_DELIVERY_THROTTLED, 20429, "twilio 20429");
    category(ngx_otp_twilio_parse, 503, "<html>Service Unavailable</html>",
             &code, NGX_OTP_DELIVERY_UNAVAILABLE, -1, "twilio: a 503 page");
    category(ngx_otp_twilio_parse, 201, "{\"status\": \"queued\"}", &code,
             NGX_OTP_DELIVERY_BAD_RESPONSE, -1, "twilio: a 201 without sid");
    category(ngx_otp_twilio_parse, 200, "{\"sid\": ", &code,
             NGX_OTP_DELIVERY_BAD_RESPONSE, -1, "twilio: a 200 cut short");
    category(ngx_otp_meta_parse, 400, "{\"error\":{\"message\":\"(#131026) "
             "Message undeliverable\",\"code\":131026}}", &code,
             NGX_OTP_DELIVERY_REJECTED, 131026, "meta 131026");
    category(ngx_otp_meta_parse, 401, "{\"error\":{\"code\":190}}", &code,
             NGX_OTP_DELIVERY_AUTH_FAILED, 190, "meta 190");
    category(ngx_otp_africastalking_parse, 201,
             "{\"SMSMessageData\":{\"Recipients\":[{\"statusCode\":403,"
             "\"status\":\"InvalidPhoneNumber\"}]}}", &code,
             NGX_OTP_DELIVERY_REJECTED, 403,
             "africastalking: a recipient's 403 in a 201");
    category(ngx_otp_africastalking_parse, 201,
             "{\"SMSMessageData\":{\"Message\":\"InvalidSenderId\","
             "\"Recipients\":[]}}", &code, NGX_OTP_DELIVERY_REJECTED, -1,
             "africastalking: no recipient");
    category(ngx_otp_africastalking_parse, 401, "The supplied "
             "authentication is invalid", &code,
             NGX_OTP_DELIVERY_AUTH_FAILED, -1, "africastalking: a 401");

    /* a provider "code" that holds the code is not reported */

    category(ngx_otp_twilio_parse, 400, "{\"code\": 482913}", &code,
             NGX_OTP_DELIVERY_REJECTED, -1, "twilio: a code that is the code");
    category(ngx_otp_twilio_parse, 400, "{\"code\": 94829131}", &code,
             NGX_OTP_DELIVERY_REJECTED, -1,
             "twilio: a code that holds the code");
    category(ngx_otp_twilio_parse, 400, "{\"code\": 48291}", &code,
             NGX_OTP_DELIVERY_REJECTED, 48291,
             "twilio: a code shorter than the code is kept");

    /*
     * A proxy that refuses the voice call quotes its TwiML back: the code
     * as the voice reads it, digit by digit, is starred out of the text.
     */

    category(ngx_otp_twilio_parse, 400, "{\"code\": 21211, \"message\": "
             "\"Invalid parameter Twiml: <Response><Say language=\\\"en-US"
             "\\\">Your verification code is 1, 2, 3, 4, 5, 6.</Say><Pause "
             "length=\\\"1\\\"/><Say language=\\\"en-US\\\">Again: 1, 2, "
             "3, 4, 5, 6.</Say></Response>\"}", &voice,
             NGX_OTP_DELIVERY_REJECTED, 21211, "twilio: TwiML quoted back");
    is_str(answer.error, answer.error_len, "Invalid parameter Twiml: "
           "<Response><Say language=\"en-US\">Your verification code is *, "
           "*, *, *, *, *.</Say><Pause length=\"1\"/>...",
           "twilio: TwiML quoted back: the code starred, the rest kept");
    ok(scrub_sound(answer.error, answer.error_len, "123456"),
       "twilio: TwiML quoted back: no run of the code left");

    /* the same, cut by the provider after three digits */

    category(ngx_otp_meta_parse, 400, "{\"error\":{\"code\":100,"
             "\"message\":\"Invalid parameter: code 1 2 3\"}}", &voice,
             NGX_OTP_DELIVERY_REJECTED, 100, "meta: part of the code quoted");
    is_str(answer.error, answer.error_len,
           "Invalid parameter: code * * *", "meta: part of the code starred");
}


int
main(void)
{
    test_form_escape();
    test_twilio_bodies();
    test_twiml();
    test_meta_body();
    test_meta_text_body();
    test_africastalking_body();
    test_twilio_parse();
    test_meta_parse();
    test_africastalking_parse();
    test_scrub();
    test_categories();

    return tap_done();
}

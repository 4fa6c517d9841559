
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_fields.c: wanted fields from form and JSON bodies, and every way
 * a body can be refused.
 */


#include <stdlib.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define FORM     NGX_OTP_BODY_FORM
#define JSON     NGX_OTP_BODY_JSON
#define CANARY   0xa5

#define PHONE    0
#define CODE     1
#define CHANNEL  2


static u_char           phone_buf[32 + 1];
static u_char           code_buf[10 + 1];
static u_char           channel_buf[16 + 1];

static ngx_otp_field_t  fields[3];
static const char      *bad;


/* parses body (a C string unless len is given) with fresh fields */

static int
parse_len(int type, const char *body, size_t len)
{
    memset(fields, 0, sizeof(fields));
    memset(phone_buf, CANARY, sizeof(phone_buf));
    memset(code_buf, CANARY, sizeof(code_buf));
    memset(channel_buf, CANARY, sizeof(channel_buf));

    fields[PHONE].name = "phone";
    fields[PHONE].buf = phone_buf;
    fields[PHONE].cap = sizeof(phone_buf) - 1;

    fields[CODE].name = "code";
    fields[CODE].buf = code_buf;
    fields[CODE].cap = sizeof(code_buf) - 1;

    fields[CHANNEL].name = "channel";
    fields[CHANNEL].buf = channel_buf;
    fields[CHANNEL].cap = sizeof(channel_buf) - 1;

    bad = "(unset)";

    return ngx_otp_fields_parse(type, (const u_char *) body, len, fields, 3,
                                &bad);
}


static int
parse(int type, const char *body)
{
    return parse_len(type, body, strlen(body));
}


static int
canaries_intact(void)
{
    return phone_buf[sizeof(phone_buf) - 1] == CANARY
           && code_buf[sizeof(code_buf) - 1] == CANARY
           && channel_buf[sizeof(channel_buf) - 1] == CANARY;
}


/* one assertion: rc, *bad and the canaries after the buffers */

static void
expect_error(int type, const char *body, int rc, const char *field,
    const char *why)
{
    int  got;

    got = parse(type, body);

    ok(got == rc && (field ? bad && strcmp(bad, field) == 0 : bad == NULL)
       && canaries_intact(),
       "%s %s", type == FORM ? "form:" : "json:", why);

    if (got != rc || (field ? !bad || strcmp(bad, field) : bad != NULL)) {
        tap_diag("  rc %d (want %d), bad %s (want %s)", got, rc,
                 bad ? bad : "NULL", field ? field : "NULL");
    }
}


static void
expect_field(int i, const char *value, const char *why)
{
    if (value == NULL) {
        ok(!fields[i].found && fields[i].len == 0, "%s: %s absent", why,
           fields[i].name);
        return;
    }

    ok(fields[i].found, "%s: %s found", why, fields[i].name);
    is_str(fields[i].buf, fields[i].len, value, "%s: %s value", why,
           fields[i].name);
}


static void
test_form(void)
{
    char  body[64];

    is_int(parse(FORM, "phone=%2B15551234567&code=123456"), NGX_OTP_OK,
           "form: two fields");
    expect_field(PHONE, "+15551234567", "form: two fields");
    expect_field(CODE, "123456", "form: two fields");
    expect_field(CHANNEL, NULL, "form: two fields");
    ok(bad == NULL, "form: two fields: bad is NULL on success");

    is_int(parse(FORM, "channel=whats+app&phone=%2b1+555"), NGX_OTP_OK,
           "form: '+' and lower-case escape");
    expect_field(CHANNEL, "whats app", "form: '+' is a space");
    expect_field(PHONE, "+1 555", "form: %2b is '+'");

    is_int(parse(FORM, "ph%6Fne=1&c%6fde=2&chan+nel=3"), NGX_OTP_OK,
           "form: escaped names");
    expect_field(PHONE, "1", "form: names are decoded before comparing");
    expect_field(CODE, "2", "form: lower-case escape in a name");
    expect_field(CHANNEL, NULL, "form: '+' in a name is a space");

    is_int(parse(FORM, "&&phone=1&&x=y&=z&"), NGX_OTP_OK,
           "form: empty pairs and names skipped");
    expect_field(PHONE, "1", "form: empty pairs");

    is_int(parse(FORM, "code=&channel"), NGX_OTP_OK, "form: empty values");
    expect_field(CODE, "", "form: \"code=\"");
    expect_field(CHANNEL, "", "form: \"channel\" without '='");

    is_int(parse(FORM, "channel=a=b%3D"), NGX_OTP_OK, "form: '=' in value");
    expect_field(CHANNEL, "a=b=", "form: '=' in value");

    is_int(parse(FORM, "Phone=1&phone_=2&xphone=3&foo=bar"), NGX_OTP_OK,
           "form: other names");
    expect_field(PHONE, NULL, "form: names match exactly");

    is_int(parse(FORM, ""), NGX_OTP_OK, "form: empty body");
    expect_field(PHONE, NULL, "form: empty body");
    ok(bad == NULL, "form: empty body: bad is NULL");

    /* limits: decoded length counts, up to cap exactly */

    is_int(parse(FORM, "code=1234567890"), NGX_OTP_OK, "form: value == cap");
    expect_field(CODE, "1234567890", "form: value == cap");

    is_int(parse(FORM, "code=%31%32%33%34%35%36%37%38%39%30"), NGX_OTP_OK,
           "form: 30 bytes encoding 10");
    expect_field(CODE, "1234567890", "form: escapes decoded");

    expect_error(FORM, "code=12345678901", NGX_OTP_ETOOBIG, "code",
                 "value over cap");
    expect_error(FORM, "phone=1&code=%31%32%33%34%35%36%37%38%39%30%31",
                 NGX_OTP_ETOOBIG, "code", "decoded value over cap");

    memset(body, 'x', sizeof(body));
    memcpy(body, "other=", 6);
    body[sizeof(body) - 1] = '\0';
    is_int(parse(FORM, body), NGX_OTP_OK, "form: long unknown field ignored");

    /* refused */

    expect_error(FORM, "phone=1&phone=2", NGX_OTP_EDUP, "phone",
                 "duplicate field");
    expect_error(FORM, "phone=1&ph%6fne=1", NGX_OTP_EDUP, "phone",
                 "duplicate field, once escaped");
    expect_error(FORM, "code=&code", NGX_OTP_EDUP, "code",
                 "duplicate empty field");
    expect_error(FORM, "code=12%0034", NGX_OTP_EINVAL, "code",
                 "NUL via %00");
    expect_error(FORM, "phone=%2", NGX_OTP_EINVAL, "phone",
                 "truncated escape");
    expect_error(FORM, "phone=%", NGX_OTP_EINVAL, "phone", "lone '%'");
    expect_error(FORM, "phone=%zz1", NGX_OTP_EINVAL, "phone",
                 "non-hex escape");
    expect_error(FORM, "phone=%+1", NGX_OTP_EINVAL, "phone",
                 "'+' in an escape");
    expect_error(FORM, "other=%G0&phone=1", NGX_OTP_EINVAL, NULL,
                 "bad escape in an unknown field");
    expect_error(FORM, "ph%one=1", NGX_OTP_EINVAL, NULL,
                 "bad escape in a name");
    expect_error(FORM, "phone=1&x=%", NGX_OTP_EINVAL, NULL,
                 "bad escape at the very end");

    is_int(parse_len(FORM, "phone=1\0&code=2", 15), NGX_OTP_EINVAL,
           "form: raw NUL in a value");
    ok(bad != NULL && strcmp(bad, "phone") == 0, "form: raw NUL: bad phone");

    is_int(parse_len(FORM, "other=1\0", 8), NGX_OTP_OK,
           "form: raw NUL in an unknown field is ignored");
}


static void
test_json(void)
{
    is_int(parse(JSON, "{\"phone\":\"+15551234567\",\"code\":\"123456\"}"),
           NGX_OTP_OK, "json: two fields");
    expect_field(PHONE, "+15551234567", "json: two fields");
    expect_field(CODE, "123456", "json: two fields");
    expect_field(CHANNEL, NULL, "json: two fields");
    ok(bad == NULL, "json: two fields: bad is NULL on success");

    is_int(parse(JSON, " \n{ \"x\" : {\"phone\": 1, \"y\": [1, {}]},\t"
                       "\"phone\" : \"1\", \"z\": null }\r\n"),
           NGX_OTP_OK, "json: whitespace, unknown and nested members");
    expect_field(PHONE, "1", "json: only the top-level phone counts");

    is_int(parse(JSON, "{\"ch\\u0061nnel\":\"wh\\u0061ts\\/\\u00e9\"}"),
           NGX_OTP_OK, "json: escapes");
    expect_field(CHANNEL, "whats/\xc3\xa9", "json: escapes decoded, UTF-8");

    is_int(parse(JSON, "{}"), NGX_OTP_OK, "json: empty object");
    expect_field(PHONE, NULL, "json: empty object");

    is_int(parse(JSON, "{\"code\":\"\"}"), NGX_OTP_OK, "json: empty string");
    expect_field(CODE, "", "json: empty string");

    is_int(parse(JSON, "{\"code\":\"1234567890\"}"), NGX_OTP_OK,
           "json: value == cap");
    expect_field(CODE, "1234567890", "json: value == cap");

    is_int(parse(JSON, "{\"other\":\"a\\u0000b\"}"), NGX_OTP_OK,
           "json: NUL in an unknown field is ignored");

    /* refused */

    expect_error(JSON, "{\"phone\":\"1\",\"phone\":\"2\"}", NGX_OTP_EDUP,
                 "phone", "duplicate field");
    expect_error(JSON, "{\"phone\":\"1\",\"code\":\"2\",\"ph\\u006fne\":\"2\"}",
                 NGX_OTP_EDUP, "phone", "duplicate field, once escaped");
    expect_error(JSON, "{\"phone\":\"1\",\"p\\\"\":1,\"p\\\"\":2}",
                 NGX_OTP_EDUP, NULL, "duplicate unknown key with a quote");
    expect_error(JSON, "{\"code\":\"1\",\"code\":2}", NGX_OTP_EDUP, "code",
                 "duplicate field of another type");
    expect_error(JSON, "{\"x\":1,\"x\":1}", NGX_OTP_EDUP, NULL,
                 "duplicate unknown key");
    expect_error(JSON, "{\"x\":{\"phone\":\"1\",\"phone\":\"2\"}}",
                 NGX_OTP_EDUP, NULL, "duplicate key in a nested object");

    expect_error(JSON, "{\"code\":\"12\\u000034\"}", NGX_OTP_EINVAL, "code",
                 "NUL via \\u0000");
    expect_error(JSON, "{\"code\":\"12345678901\"}", NGX_OTP_ETOOBIG, "code",
                 "value over cap");
    expect_error(JSON, "{\"code\":\"\\u00e9\\u00e9\\u00e9"
                       "\\u00e9\\u00e9\\u00e9\"}",
                 NGX_OTP_ETOOBIG, "code", "cap counts bytes, not characters");

    expect_error(JSON, "{\"code\":123456}", NGX_OTP_ETYPE, "code", "number");
    expect_error(JSON, "{\"code\":null}", NGX_OTP_ETYPE, "code", "null");
    expect_error(JSON, "{\"code\":{\"v\":\"1\"}}", NGX_OTP_ETYPE, "code",
                 "object");
    expect_error(JSON, "{\"code\":[\"1\"]}", NGX_OTP_ETYPE, "code", "array");
    expect_error(JSON, "{\"channel\":true}", NGX_OTP_ETYPE, "channel",
                 "boolean");

    expect_error(JSON, "", NGX_OTP_EINVAL, NULL, "empty body");
    expect_error(JSON, " \n", NGX_OTP_EINVAL, NULL, "whitespace only");
    expect_error(JSON, "[{\"phone\":\"1\"}]", NGX_OTP_EINVAL, NULL,
                 "array at the top level");
    expect_error(JSON, "\"phone\"", NGX_OTP_EINVAL, NULL,
                 "string at the top level");
    expect_error(JSON, "42", NGX_OTP_EINVAL, NULL, "number at the top level");
    expect_error(JSON, "null", NGX_OTP_EINVAL, NULL, "null at the top level");
    expect_error(JSON, "{\"phone\":}", NGX_OTP_EINVAL, NULL, "no value");
    expect_error(JSON, "{\"phone\":\"1\",}", NGX_OTP_EINVAL, NULL,
                 "trailing comma");
    expect_error(JSON, "{\"phone\":\"1\"}x", NGX_OTP_EINVAL, NULL,
                 "trailing garbage");
    expect_error(JSON, "{\"phone\":\"1\"}{}", NGX_OTP_EINVAL, NULL,
                 "two objects");
    expect_error(JSON, "{'phone':'1'}", NGX_OTP_EINVAL, NULL,
                 "single quotes");
    expect_error(JSON, "{\"phone\":\"1", NGX_OTP_EINVAL, NULL,
                 "unterminated string");
    expect_error(JSON, "{\"phone\":\"\xff\"}", NGX_OTP_EINVAL, NULL,
                 "invalid UTF-8");
    expect_error(JSON, "{\"phone\":\"\\x41\"}", NGX_OTP_EINVAL, NULL,
                 "invalid escape");
    expect_error(JSON, "phone=1", NGX_OTP_EINVAL, NULL, "a form body");

    is_int(parse_len(JSON, "{\"phone\":\"1\"}\0", 14), NGX_OTP_EINVAL,
           "json: NUL after the object");
}


static void
test_limits(void)
{
    char    *body;
    size_t   i, d, len;

    /* nesting: the top-level object is depth 1 */

    body = malloc(4 * NGX_OTP_BODY_MAX_LEN + 16);
    if (body == NULL) {
        ok(0, "malloc");
        return;
    }

    for (d = NGX_OTP_JSON_MAX_DEPTH; d <= NGX_OTP_JSON_MAX_DEPTH + 1; d++) {
        len = 0;
        len += sprintf(body + len, "{\"x\":");

        for (i = 1; i < d; i++) {
            body[len++] = '[';
        }

        for (i = 1; i < d; i++) {
            body[len++] = ']';
        }

        len += sprintf(body + len, ",\"phone\":\"1\"}");

        is_int(parse_len(JSON, body, len),
               d <= NGX_OTP_JSON_MAX_DEPTH ? NGX_OTP_OK : NGX_OTP_EINVAL,
               "json: depth %zu %s", d,
               d <= NGX_OTP_JSON_MAX_DEPTH ? "accepted" : "refused");
    }

    /* brackets in strings, escaped quotes included, do not nest */

    len = 0;
    len += sprintf(body + len, "{\"x\":\"\\\"");

    for (i = 0; i < 100; i++) {
        body[len++] = '[';
    }

    len += sprintf(body + len, "\",\"phone\":\"1\"}");

    is_int(parse_len(JSON, body, len), NGX_OTP_OK,
           "json: brackets in a string do not count");
    expect_field(PHONE, "1", "json: brackets in a string");

    /* far deeper than jansson's own limit: refused, not a crash */

    memset(body, '[', NGX_OTP_BODY_MAX_LEN);
    is_int(parse_len(JSON, body, NGX_OTP_BODY_MAX_LEN), NGX_OTP_EINVAL,
           "json: %d open brackets", NGX_OTP_BODY_MAX_LEN);

    /* size */

    memset(body, ' ', NGX_OTP_BODY_MAX_LEN + 1);
    body[0] = '{';
    body[NGX_OTP_BODY_MAX_LEN - 1] = '}';

    is_int(parse_len(JSON, body, NGX_OTP_BODY_MAX_LEN), NGX_OTP_OK,
           "json: body of exactly the limit");

    body[NGX_OTP_BODY_MAX_LEN - 1] = ' ';
    body[NGX_OTP_BODY_MAX_LEN] = '}';
    is_int(parse_len(JSON, body, NGX_OTP_BODY_MAX_LEN + 1), NGX_OTP_ETOOBIG,
           "json: body over the limit");

    memset(body, '&', NGX_OTP_BODY_MAX_LEN + 1);
    is_int(parse_len(FORM, body, NGX_OTP_BODY_MAX_LEN + 1), NGX_OTP_ETOOBIG,
           "form: body over the limit");

    free(body);
}


static void
test_api(void)
{
    u_char           buf[4];
    ngx_otp_field_t  f;

    is_int(parse(3, "phone=1"), NGX_OTP_EINVAL, "unknown body type");

    /* found and len are outputs: stale values are cleared */

    memset(&f, 0, sizeof(f));
    f.name = "phone";
    f.buf = buf;
    f.cap = sizeof(buf);
    f.found = 1;
    f.len = 3;

    is_int(ngx_otp_fields_parse(FORM, (u_char *) "code=1", 6, &f, 1, NULL),
           NGX_OTP_OK, "bad may be NULL");
    ok(!f.found && f.len == 0, "found and len reset by the parser");

    is_int(ngx_otp_fields_parse(FORM, (u_char *) "phone=%", 7, &f, 1, NULL),
           NGX_OTP_EINVAL, "bad may be NULL on error");

    is_int(ngx_otp_fields_parse(JSON, (u_char *) "{}", 2, NULL, 0, &bad),
           NGX_OTP_OK, "no fields wanted");
}


int
main(void)
{
    test_form();
    test_json();
    test_limits();
    test_api();

    return tap_done();
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_price.c: prices read exactly into millionths and written back
 * as decimals; an entry's four words; a price file's entries in order,
 * and its errors with their lines; a message's cost by SMS segments.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define S(s)  (const u_char *) (s), sizeof(s) - 1


typedef struct {
    int              n;
    ngx_otp_price_t  p[8];
    int              refuse;    /* add() refuses the entry of this index */
} collect_t;


static int
collect(void *data, const ngx_otp_price_t *p, const char **err)
{
    collect_t  *c = data;

    if (c->n == c->refuse) {
        *err = "refused by the caller";
        return NGX_OTP_ERROR;
    }

    if (c->n < 8) {
        c->p[c->n] = *p;
    }

    c->n++;

    return NGX_OTP_OK;
}


static void
test_amount(void)
{
    int64_t  v;

    static const struct {
        const char  *text;
        int64_t      value;
    } good[] = {
        { "0", 0 },
        { "0.0079", 7900 },
        { "0.04", 40000 },
        { "1", 1000000 },
        { "12.5", 12500000 },
        { "0.000001", 1 },
        { "0.00790000", 7900 },          /* zeros past the 6th: exact */
        { "999999.999999", 999999999999LL },
        { "007.10", 7100000 },
    };

    static const char  *bad[] = {
        "", ".5", "5.", "-1", "+1", "1e3", "0,5", " 1", "1 ", "0.0000001",
        "1000000", "0x10", "1..2", "1.2.3", "nan", "0.00000010",
    };

    size_t  i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = -1;
        is_int(ngx_otp_price_amount((const u_char *) good[i].text,
                                    strlen(good[i].text), &v),
               NGX_OTP_OK, "\"%s\" is a price", good[i].text);
        is_int(v, good[i].value, "\"%s\" is %lld millionths", good[i].text,
               (long long) good[i].value);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(ngx_otp_price_amount((const u_char *) bad[i], strlen(bad[i]),
                                    &v),
               NGX_OTP_EINVAL, "\"%s\" is no price", bad[i]);
    }
}


static void
test_format(void)
{
    u_char  buf[NGX_OTP_PRICE_STR_LEN];
    size_t  n;

    n = ngx_otp_price_format(47400, buf);
    is_str(buf, n, "0.0474", "47400 millionths");

    n = ngx_otp_price_format(0, buf);
    is_str(buf, n, "0.00", "zero");

    n = ngx_otp_price_format(1500000, buf);
    is_str(buf, n, "1.50", "cents kept");

    n = ngx_otp_price_format(1, buf);
    is_str(buf, n, "0.000001", "one millionth");

    n = ngx_otp_price_format(123456789012LL, buf);
    is_str(buf, n, "123456.789012", "all six fraction digits");

    n = ngx_otp_price_format(INT64_MAX, buf);
    is_str(buf, n, "9223372036854.775807", "the largest fits the buffer");
    ok(n <= NGX_OTP_PRICE_STR_LEN, "within NGX_OTP_PRICE_STR_LEN");

    is_int(ngx_otp_price_format(-1, buf), 0, "unknown (-1) is empty");
}


static void
test_entry(void)
{
    const char            *err;
    ngx_otp_price_t        p;
    ngx_otp_price_word_t   w[4] = {
        { S("twilio") }, { S("sms") }, { S("+44") }, { S("0.0400") }
    };

    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_OK, "an entry");
    is_int(p.line, 0, "no line outside a file");
    is_str(p.provider.data, p.provider.len, "twilio", "its provider");
    is_int(p.channel, NGX_OTP_SMS, "its channel");
    is_str(p.prefix.data, p.prefix.len, "44", "its prefix, no \"+\"");
    is_int(p.price, 40000, "its price");

    w[2].data = (const u_char *) "447";
    w[2].len = 3;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_OK, "a prefix "
           "without \"+\", as otp_route takes it");
    is_str(p.prefix.data, p.prefix.len, "447", "its digits");

    w[2].data = (const u_char *) "default";
    w[2].len = 7;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_OK, "default");
    is_int(p.prefix.len, 0, "default is the empty prefix");

    w[2].data = (const u_char *) "+";
    w[2].len = 1;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL, "\"+\" alone");
    ok(strstr(err, "prefix") != NULL, "the error names the prefix");

    w[2].data = (const u_char *) "+1234567890123456";
    w[2].len = 17;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL,
           "16 digits is no prefix");

    w[2].data = (const u_char *) "*";
    w[2].len = 1;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL,
           "\"*\" is no prefix");

    w[2].data = (const u_char *) "+1";
    w[2].len = 2;
    w[1].data = (const u_char *) "fax";
    w[1].len = 3;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL, "a channel");
    ok(strstr(err, "channel") != NULL, "the error names the channel");

    w[1].data = (const u_char *) "voice";
    w[1].len = 5;
    w[0].data = (const u_char *) "tw\"x";
    w[0].len = 4;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL,
           "a provider name with a quote");
    ok(strstr(err, "provider") != NULL, "the error names the provider");

    w[0].data = (const u_char *) "tw";
    w[0].len = 2;
    w[3].data = (const u_char *) "0.1234567";
    w[3].len = 9;
    is_int(ngx_otp_price_entry(w, &p, &err), NGX_OTP_EINVAL,
           "a price finer than a millionth");
    ok(strstr(err, "price") != NULL, "the error names the price");
}


static void
test_parse(void)
{
    int          rc;
    size_t       line;
    collect_t    c;
    const char  *err;

    static const char  file[] =
        "# Twilio's SMS, per segment\n"
        "twilio  sms  default  0.0079;\n"
        "twilio  sms  +44      0.0400;   # the UK\n"
        "\n"
        "twilio\tsms\r\n  +447 0.05;meta whatsapp +1 0.0085;\n"
        "at voice\n"
        "  default\n"
        "  0;";

    memset(&c, 0, sizeof(c));
    c.refuse = -1;

    rc = ngx_otp_price_parse(S(file), collect, &c, &line, &err);
    is_int(rc, NGX_OTP_OK, "a file");
    is_int(c.n, 5, "five entries");
    is_str(c.p[0].provider.data, c.p[0].provider.len, "twilio", "first");
    is_int(c.p[0].prefix.len, 0, "the default");
    is_int(c.p[0].price, 7900, "0.0079");
    is_str(c.p[2].prefix.data, c.p[2].prefix.len, "447",
           "an entry over two lines");
    is_int(c.p[2].price, 50000, "0.05");
    is_int(c.p[0].line, 2, "the first entry's line");
    is_int(c.p[2].line, 5, "an entry's line is where it starts");
    is_int(c.p[3].line, 6, "the next, on its last line");
    is_int(c.p[4].line, 7, "one over three lines: its first");
    is_int(c.p[3].channel, NGX_OTP_WHATSAPP, "two entries on one line");
    is_int(c.p[4].channel, NGX_OTP_VOICE, "one word a line");
    is_int(c.p[4].price, 0, "a free channel");

    memset(&c, 0, sizeof(c));
    c.refuse = -1;
    is_int(ngx_otp_price_parse(S(""), collect, &c, &line, &err), NGX_OTP_OK,
           "an empty file");
    is_int(ngx_otp_price_parse(S("# nothing\n\n"), collect, &c, &line, &err),
           NGX_OTP_OK, "comments only");
    is_int(c.n, 0, "no entries");

    rc = ngx_otp_price_parse(S("a sms +1 1;\n\nb sms +1 0.1.1;\n"), collect,
                             &c, &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "a bad price");
    is_int(line, 3, "on line 3");
    ok(strstr(err, "price") != NULL, "said: %s", err);

    rc = ngx_otp_price_parse(S("a sms +1 1\nb sms +2 2;\n"), collect, &c,
                             &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "a missing \";\"");
    is_int(line, 1, "told at the entry's first line");

    rc = ngx_otp_price_parse(S("a sms +1;\n"), collect, &c, &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "three words");

    rc = ngx_otp_price_parse(S(";"), collect, &c, &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "an empty entry");

    rc = ngx_otp_price_parse(S("\n\na sms +1 1"), collect, &c, &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "the end of the file before \";\"");
    is_int(line, 3, "on the entry's line");
    ok(strstr(err, "end of file") != NULL, "said: %s", err);

    rc = ngx_otp_price_parse((const u_char *) "a sms\0 +1 1;", 12, collect,
                             &c, &line, &err);
    is_int(rc, NGX_OTP_EINVAL, "a NUL byte");

    memset(&c, 0, sizeof(c));
    c.refuse = 1;
    rc = ngx_otp_price_parse(S("a sms +1 1;\n# x\nb sms +2 2;\n"), collect,
                             &c, &line, &err);
    is_int(rc, NGX_OTP_ERROR, "the caller's refusal is returned");
    is_int(line, 3, "at the refused entry's line");
    is_str(err, strlen(err), "refused by the caller", "with its words");
}


static void
test_cost(void)
{
    char  text[400];

    is_int(ngx_otp_price_cost(7900, NGX_OTP_SMS, S("Your code is 123456")),
           7900, "one GSM-7 segment");

    memset(text, 'a', 161);
    is_int(ngx_otp_price_cost(7900, NGX_OTP_SMS, (u_char *) text, 161),
           15800, "161 GSM-7 characters: two segments");

    memset(text, 'a', 160);
    is_int(ngx_otp_price_cost(7900, NGX_OTP_SMS, (u_char *) text, 160),
           7900, "160: one");

    /* "é" is GSM-7; "ł" is not: UCS-2, 70 a segment */
    is_int(ngx_otp_price_cost(10000, NGX_OTP_SMS, S("Kod: 123456 \xc5\x82")),
           10000, "a short UCS-2 text: one segment");

    memset(text, 'a', 69);
    memcpy(text + 69, "\xc5\x82", 2);
    is_int(ngx_otp_price_cost(10000, NGX_OTP_SMS, (u_char *) text, 71),
           10000, "70 UCS-2 units: one segment");

    memset(text, 'a', 70);
    memcpy(text + 70, "\xc5\x82", 2);
    is_int(ngx_otp_price_cost(10000, NGX_OTP_SMS, (u_char *) text, 72),
           20000, "71 UCS-2 units: two segments");

    is_int(ngx_otp_price_cost(7900, NGX_OTP_SMS, S("")), 7900,
           "an empty SMS is billed as one");
    is_int(ngx_otp_price_cost(7900, NGX_OTP_SMS, S("\xff")), -1,
           "invalid UTF-8: no estimate");

    memset(text, 'a', 400);
    is_int(ngx_otp_price_cost(8500, NGX_OTP_WHATSAPP, (u_char *) text, 400),
           8500, "WhatsApp: per message");
    is_int(ngx_otp_price_cost(13000, NGX_OTP_VOICE, (u_char *) text, 400),
           13000, "voice: per call");
}


int
main(void)
{
    test_amount();
    test_format();
    test_entry();
    test_parse();
    test_cost();

    return tap_done();
}

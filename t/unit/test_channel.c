
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_channel.c: channel names both ways.
 */


#include "ngx_otp_core.h"
#include "tap.h"


#define P(s)  (const u_char *) (s), sizeof(s) - 1


static void order_tests(void);


#define S  NGX_OTP_SMS
#define W  NGX_OTP_WHATSAPP
#define V  NGX_OTP_VOICE


static void
order(const char *name, unsigned *ch, const uint64_t *sent,
    const uint64_t *del, size_t n, uint64_t min, const unsigned *want)
{
    size_t  i;
    int     same;

    ngx_otp_channel_order(ch, sent, del, n, min);

    same = 1;

    for (i = 0; i < n; i++) {
        if (ch[i] != want[i]) {
            same = 0;
        }
    }

    ok(same, "%s: %s %s %s", name, ngx_otp_channel_name(ch[0]),
       n > 1 ? ngx_otp_channel_name(ch[1]) : "",
       n > 2 ? ngx_otp_channel_name(ch[2]) : "");
}


static void
order_tests(void)
{
    unsigned  c1[] = { W, S }, w1[] = { S, W };
    uint64_t  s1[] = { 50, 50 }, d1[] = { 10, 45 };

    unsigned  c2[] = { W, S }, w2[] = { W, S };
    uint64_t  s2[] = { 5, 50 }, d2[] = { 0, 45 };

    unsigned  c3[] = { W, S }, w3[] = { W, S };
    uint64_t  s3[] = { 40, 80 }, d3[] = { 20, 40 };

    unsigned  c4[] = { V, W, S }, w4[] = { S, W, V };
    uint64_t  s4[] = { 20, 0, 100 }, d4[] = { 2, 0, 99 };

    unsigned  c5[] = { W, V, S }, w5[] = { S, V, W };
    uint64_t  s5[] = { 30, 3, 30 }, d5[] = { 15, 3, 29 };

    unsigned  c6[] = { S, W }, w6[] = { W, S };
    uint64_t  s6[] = { 30, 30 }, d6[] = { 28, 31 };

    unsigned  c7[] = { S }, w7[] = { S };
    uint64_t  s7[] = { 0 }, d7[] = { 0 };

    unsigned  c8[] = { W, S }, w8[] = { W, S };
    uint64_t  s8[] = { 0, 0 }, d8[] = { 0, 0 };

    order("the better rate first", c1, s1, d1, 2, 20, w1);
    order("too few sends: the configured order", c2, s2, d2, 2, 20, w2);
    order("a tie keeps the configured order", c3, s3, d3, 2, 20, w3);
    order("three, one without sends stays last", c4, s4, d4, 3, 20, w4);
    order("an unknown channel keeps its place between known ones",
          c5, s5, d5, 3, 20, w5);
    order("more delivered than sent: all delivered, ranked first",
          c6, s6, d6, 2, 20, w6);
    order("one channel", c7, s7, d7, 1, 20, w7);
    order("min 0 and no sends: nothing to rank", c8, s8, d8, 2, 0, w8);
}


int
main(void)
{
    unsigned     ch;
    const char  *name;

    is_int(ngx_otp_channel_parse(P("sms")), NGX_OTP_SMS, "sms");
    is_int(ngx_otp_channel_parse(P("whatsapp")), NGX_OTP_WHATSAPP,
           "whatsapp");
    is_int(ngx_otp_channel_parse(P("voice")), NGX_OTP_VOICE, "voice");

    is_int(ngx_otp_channel_parse(P("SMS")), 0, "names are case-sensitive");
    is_int(ngx_otp_channel_parse(P("sm")), 0, "a prefix is not a name");
    is_int(ngx_otp_channel_parse(P("smss")), 0, "nor a longer word");
    is_int(ngx_otp_channel_parse(P("auto")), 0,
           "auto is the request's word, not a channel");
    is_int(ngx_otp_channel_parse((const u_char *) "sms", 0), 0, "empty");
    is_int(ngx_otp_channel_parse(P("sms\0")), 0, "a NUL after the name");

    for (ch = NGX_OTP_SMS; ch <= NGX_OTP_VOICE; ch <<= 1) {
        name = ngx_otp_channel_name(ch);
        is_int(ngx_otp_channel_parse((const u_char *) name, strlen(name)),
               ch, "round trip of %s", name);
    }

    is_str(ngx_otp_channel_name(0), strlen(ngx_otp_channel_name(0)),
           "unknown", "no channel");
    is_str(ngx_otp_channel_name(NGX_OTP_SMS | NGX_OTP_VOICE),
           strlen(ngx_otp_channel_name(NGX_OTP_SMS | NGX_OTP_VOICE)),
           "unknown", "a mask is not one channel");
    is_str(ngx_otp_channel_name(0x08), strlen(ngx_otp_channel_name(0x08)),
           "unknown", "a bit past the last channel");

    order_tests();

    return tap_done();
}

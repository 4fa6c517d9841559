
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_channel.c: channel names both ways.
 */


#include "ngx_otp_core.h"
#include "tap.h"


#define P(s)  (const u_char *) (s), sizeof(s) - 1


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

    return tap_done();
}

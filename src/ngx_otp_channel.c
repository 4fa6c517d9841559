
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Delivery channel names, shared by configuration, requests, provider
 * types and the store's message records.
 */


#include <string.h>

#include "ngx_otp_core.h"


static const char  *ngx_otp_channel_names[] = {
    "sms",          /* NGX_OTP_SMS */
    "whatsapp",     /* NGX_OTP_WHATSAPP */
    "voice"         /* NGX_OTP_VOICE */
};


#define NGX_OTP_NCHANNELS                                                    \
    (sizeof(ngx_otp_channel_names) / sizeof(ngx_otp_channel_names[0]))


const char *
ngx_otp_channel_name(unsigned channel)
{
    size_t  i;

    for (i = 0; i < NGX_OTP_NCHANNELS; i++) {
        if (channel == 1u << i) {
            return ngx_otp_channel_names[i];
        }
    }

    return "unknown";
}


unsigned
ngx_otp_channel_parse(const u_char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < NGX_OTP_NCHANNELS; i++) {
        if (len == strlen(ngx_otp_channel_names[i])
            && memcmp(name, ngx_otp_channel_names[i], len) == 0)
        {
            return 1u << i;
        }
    }

    return 0;
}

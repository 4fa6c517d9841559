
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


void
ngx_otp_channel_order(unsigned *channels, const uint64_t *sent,
    const uint64_t *delivered, size_t n, uint64_t min)
{
    size_t    i, j, k, nk;
    size_t    place[8], known[8];
    uint64_t  del[8];
    unsigned  ch[8];

    if (n > 8) {
        return;
    }

    /* the places of the known channels, and the channels in them */

    nk = 0;

    for (i = 0; i < n; i++) {
        /* deliveries count in the hour of the report, sends in the hour
         * of the send: a window may hold deliveries of sends made before
         * it, and a channel near 100% then shows more delivered than sent
         * (capped: it is the best, not unknown) */
        del[i] = delivered[i] < sent[i] ? delivered[i] : sent[i];

        if (sent[i] >= min && sent[i] > 0) {
            place[nk] = i;
            known[nk] = i;
            nk++;
        }
    }

    /* a stable insertion sort of the known ones, by rate: a / b > c / d
     * as a * d > c * b (sends fit 32 bits in any window worth ranking,
     * the products 64) */

    for (i = 1; i < nk; i++) {
        k = known[i];

        for (j = i; j > 0; j--) {
            if (del[k] * sent[known[j - 1]]
                <= del[known[j - 1]] * sent[k])
            {
                break;
            }

            known[j] = known[j - 1];
        }

        known[j] = k;
    }

    for (i = 0; i < nk; i++) {
        ch[i] = channels[known[i]];
    }

    for (i = 0; i < nk; i++) {
        channels[place[i]] = ch[i];
    }
}

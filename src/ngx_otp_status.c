
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Delivery statuses (API.md, "Delivery status"): their names, and the one
 * rule that decides whether a provider's report replaces what is stored.
 * Callbacks arrive late, twice and out of order, so the stored status only
 * ever moves forward.
 */


#include <string.h>

#include "ngx_otp_core.h"


static const char  *ngx_otp_status_names[] = {
    NULL,
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed"
};

#define NGX_OTP_STATUS_LAST  NGX_OTP_STATUS_FAILED


const char *
ngx_otp_status_name(unsigned status)
{
    if (status == 0 || status > NGX_OTP_STATUS_LAST) {
        return NULL;
    }

    return ngx_otp_status_names[status];
}


unsigned
ngx_otp_status_parse(const u_char *name, size_t len)
{
    unsigned  s;

    for (s = 1; s <= NGX_OTP_STATUS_LAST; s++) {
        if (strlen(ngx_otp_status_names[s]) == len
            && memcmp(ngx_otp_status_names[s], name, len) == 0)
        {
            return s;
        }
    }

    return 0;
}


int
ngx_otp_status_terminal(unsigned status)
{
    return status == NGX_OTP_STATUS_DELIVERED
           || status == NGX_OTP_STATUS_READ
           || status == NGX_OTP_STATUS_UNDELIVERED
           || status == NGX_OTP_STATUS_FAILED;
}


/*
 * delivered is terminal for a waiting client yet not final here: WhatsApp
 * reports "read" after "delivered".  A failure after "delivered" is not
 * believed: a message the phone has is not lost again.
 */

int
ngx_otp_status_advances(unsigned from, unsigned to)
{
    switch (from) {

    case NGX_OTP_STATUS_QUEUED:
        return to >= NGX_OTP_STATUS_SENT && to <= NGX_OTP_STATUS_LAST;

    case NGX_OTP_STATUS_SENT:
        return to >= NGX_OTP_STATUS_DELIVERED && to <= NGX_OTP_STATUS_LAST;

    case NGX_OTP_STATUS_DELIVERED:
        return to == NGX_OTP_STATUS_READ;

    default:
        /* read, undelivered, failed are final; unknown values stay put */
        return 0;
    }
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_status.c: status names, terminal statuses, and the whole table
 * of which report may replace which stored status (API.md: statuses only
 * move forward; a late "sent" never overwrites "delivered").
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define Q  NGX_OTP_STATUS_QUEUED
#define S  NGX_OTP_STATUS_SENT
#define D  NGX_OTP_STATUS_DELIVERED
#define R  NGX_OTP_STATUS_READ
#define U  NGX_OTP_STATUS_UNDELIVERED
#define F  NGX_OTP_STATUS_FAILED


int
main(void)
{
    unsigned     s, from, to;
    const char  *name;

    /* the table of advances[from][to], 0..7 (0 and 7: not statuses) */

    static const int  advances[8][8] = {
        /*        -  Q  S  D  R  U  F  7 */
        /* - */ { 0, 0, 0, 0, 0, 0, 0, 0 },
        /* Q */ { 0, 0, 1, 1, 1, 1, 1, 0 },
        /* S */ { 0, 0, 0, 1, 1, 1, 1, 0 },
        /* D */ { 0, 0, 0, 0, 1, 0, 0, 0 },
        /* R */ { 0, 0, 0, 0, 0, 0, 0, 0 },
        /* U */ { 0, 0, 0, 0, 0, 0, 0, 0 },
        /* F */ { 0, 0, 0, 0, 0, 0, 0, 0 },
        /* 7 */ { 0, 0, 0, 0, 0, 0, 0, 0 },
    };

    static const char  *names[] = {
        NULL, "queued", "sent", "delivered", "read", "undelivered", "failed"
    };

    for (s = 1; s <= 6; s++) {
        name = ngx_otp_status_name(s);
        ok(name != NULL && strcmp(name, names[s]) == 0, "name of %u is %s",
           s, names[s]);
        is_int(ngx_otp_status_parse((const u_char *) names[s],
                                    strlen(names[s])),
               s, "parse %s", names[s]);
    }

    ok(ngx_otp_status_name(0) == NULL, "no name for 0");
    ok(ngx_otp_status_name(7) == NULL, "no name for 7");
    ok(ngx_otp_status_name((unsigned) -1) == NULL, "no name for -1");

    is_int(ngx_otp_status_parse((const u_char *) "Delivered", 9), 0,
           "parse is case-sensitive");
    is_int(ngx_otp_status_parse((const u_char *) "sent ", 5), 0,
           "parse: trailing space");
    is_int(ngx_otp_status_parse((const u_char *) "sen", 3), 0,
           "parse: a prefix");
    is_int(ngx_otp_status_parse((const u_char *) "sentx", 4), S,
           "parse reads len bytes, not to a NUL");
    is_int(ngx_otp_status_parse((const u_char *) "", 0), 0, "parse: empty");

    is_int(ngx_otp_status_terminal(Q), 0, "queued is not terminal");
    is_int(ngx_otp_status_terminal(S), 0, "sent is not terminal");
    is_int(ngx_otp_status_terminal(D), 1, "delivered is terminal");
    is_int(ngx_otp_status_terminal(R), 1, "read is terminal");
    is_int(ngx_otp_status_terminal(U), 1, "undelivered is terminal");
    is_int(ngx_otp_status_terminal(F), 1, "failed is terminal");
    is_int(ngx_otp_status_terminal(0), 0, "0 is not terminal");
    is_int(ngx_otp_status_terminal(7), 0, "7 is not terminal");

    for (from = 0; from < 8; from++) {
        for (to = 0; to < 8; to++) {
            is_int(ngx_otp_status_advances(from, to) != 0,
                   advances[from][to], "%s -> %s %s",
                   from && from < 7 ? names[from] : "?",
                   to && to < 7 ? names[to] : "?",
                   advances[from][to] ? "advances" : "does not advance");
        }
    }

    is_int(ngx_otp_status_advances(Q, 1000), 0, "queued -> 1000 does not");
    is_int(ngx_otp_status_advances(1000, R), 0, "1000 -> read does not");

    return tap_done();
}

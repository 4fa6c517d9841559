
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_sentinel.c: what Redis Sentinel says of a master.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define S(s)  (const u_char *) (s), sizeof(s) - 1


static void
addr(const char *ip, const char *port, const char *want, unsigned want_port,
    const char *what)
{
    int                      rc;
    ngx_otp_sentinel_addr_t  a;

    memset(&a, 0, sizeof(a));

    rc = ngx_otp_sentinel_addr((const u_char *) ip, strlen(ip),
                               (const u_char *) port, strlen(port), &a);

    if (want == NULL) {
        is_int(rc, NGX_OTP_EINVAL, "%s: EINVAL", what);
        return;
    }

    is_int(rc, NGX_OTP_OK, "%s: OK", what);
    is_str((const char *) a.ip, a.ip_len, want, "%s: the address", what);
    is_int(a.ip[a.ip_len], 0, "%s: NUL-terminated", what);
    is_int((int) a.port, (int) want_port, "%s: the port", what);
}


static void
sw(const char *msg, const char *name, int want_rc, const char *want,
    unsigned want_port, const char *what)
{
    int                      rc;
    ngx_otp_sentinel_addr_t  a;

    memset(&a, 0, sizeof(a));

    rc = ngx_otp_sentinel_switch((const u_char *) msg, strlen(msg),
                                 (const u_char *) name, strlen(name), &a);

    is_int(rc, want_rc, "%s: rc", what);

    if (want_rc == NGX_OTP_OK) {
        is_str((const char *) a.ip, a.ip_len, want, "%s: the new address",
               what);
        is_int((int) a.port, (int) want_port, "%s: the new port", what);
    }
}


int
main(void)
{
    char  big[128];

    /* names */

    ok(ngx_otp_sentinel_name_valid(S("mymaster")), "a plain name");
    ok(ngx_otp_sentinel_name_valid(S("otp-prod_1.eu")), "- _ . in a name");
    ok(!ngx_otp_sentinel_name_valid(S("")), "an empty name");
    ok(!ngx_otp_sentinel_name_valid(S("my master")), "a blank in a name");
    ok(!ngx_otp_sentinel_name_valid(S("m/1")), "a slash in a name");

    memset(big, 'a', sizeof(big));
    ok(ngx_otp_sentinel_name_valid((u_char *) big,
                                   NGX_OTP_SENTINEL_NAME_MAX),
       "a name of the longest length");
    ok(!ngx_otp_sentinel_name_valid((u_char *) big,
                                    NGX_OTP_SENTINEL_NAME_MAX + 1),
       "a name one too long");

    /* addresses */

    addr("127.0.0.1", "6379", "127.0.0.1", 6379, "IPv4");
    addr("::1", "6380", "::1", 6380, "IPv6");
    addr("2001:db8::7", "1", "2001:db8::7", 1, "IPv6, port 1");
    addr("10.0.0.1", "65535", "10.0.0.1", 65535, "the highest port");
    addr("redis.example.com", "6379", NULL, 0, "a host name");
    addr("localhost", "6379", NULL, 0, "localhost");
    addr("127.0.0.1", "0", NULL, 0, "port 0");
    addr("127.0.0.1", "65536", NULL, 0, "port 65536");
    addr("127.0.0.1", "123456", NULL, 0, "a port of six digits");
    addr("127.0.0.1", "63-9", NULL, 0, "a port with a dash");
    addr("127.0.0.1", "", NULL, 0, "no port");
    addr("", "6379", NULL, 0, "no address");
    addr("127.0.0.1 ", "6379", NULL, 0, "a trailing blank");
    addr("1.2.3", "6379", NULL, 0, "three octets");
    addr("[::1]", "6379", NULL, 0, "brackets");
    addr("0000:0000:0000:0000:0000:ffff:255.255.255.255", "1",
         "0000:0000:0000:0000:0000:ffff:255.255.255.255", 1,
         "the longest IPv6 text, 45 characters");
    addr("0000:0000:0000:0000:0000:ffff:255.255.255.2555", "1", NULL, 0,
         "46 characters");

    /* an address with a NUL inside */
    {
    int                      rc;
    ngx_otp_sentinel_addr_t  a;

    rc = ngx_otp_sentinel_addr(S("127.0.0.1\0x"), S("6379"), &a);
    is_int(rc, NGX_OTP_EINVAL, "a NUL inside the address");
    }

    /* +switch-master */

    sw("mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster", NGX_OTP_OK,
       "127.0.0.1", 6380, "a switch of our master");
    sw("other 127.0.0.1 6379 127.0.0.1 6380", "mymaster", NGX_OTP_EDUP,
       NULL, 0, "another master's switch");
    sw("mymaster2 127.0.0.1 6379 127.0.0.1 6380", "mymaster", NGX_OTP_EDUP,
       NULL, 0, "a longer name is another master");
    sw("mymaster ::1 6379 ::1 6380", "mymaster", NGX_OTP_OK, "::1", 6380,
       "IPv6");
    sw("mymaster 127.0.0.1 6379 127.0.0.1", "mymaster", NGX_OTP_EINVAL,
       NULL, 0, "four fields");
    sw("mymaster 127.0.0.1 6379 127.0.0.1 6380 x", "mymaster",
       NGX_OTP_EINVAL, NULL, 0, "six fields");
    sw("mymaster 127.0.0.1 6379 127.0.0.1 6380 ", "mymaster",
       NGX_OTP_EINVAL, NULL, 0, "a trailing blank");
    sw("mymaster  127.0.0.1 6379 127.0.0.1 6380", "mymaster",
       NGX_OTP_EINVAL, NULL, 0, "two blanks");
    sw("mymaster 127.0.0.1 6379 evil.example 6380", "mymaster",
       NGX_OTP_EINVAL, NULL, 0, "a host name for the new master");
    sw("mymaster 127.0.0.1 6379 127.0.0.1 99999", "mymaster",
       NGX_OTP_EINVAL, NULL, 0, "a port out of range");
    sw("", "mymaster", NGX_OTP_EINVAL, NULL, 0, "empty");
    sw("my\nmaster 1 2 3 4", "mymaster", NGX_OTP_EINVAL, NULL, 0,
       "another name that is not a name");

    return tap_done();
}

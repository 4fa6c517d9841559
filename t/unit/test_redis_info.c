
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_redis_info.c: a field of Redis's INFO text.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define INFO  "# Memory\r\nused_memory:1042344\r\n"                        \
              "maxmemory:0\r\nmaxmemory_human:0B\r\n"                        \
              "maxmemory_policy:noeviction\r\nallocator_frag_ratio:1.01\r\n"


static int
field(const char *info, size_t len, const char *name, const char *want,
    const char *what)
{
    int            rc;
    size_t         vlen;
    const u_char  *v;

    v = NULL;
    vlen = 0;

    rc = ngx_otp_redis_info_field((const u_char *) info, len, name, &v,
                                  &vlen);

    if (want == NULL) {
        return is_int(rc, NGX_OTP_EINVAL, "%s: EINVAL", what);
    }

    is_int(rc, NGX_OTP_OK, "%s: OK", what);

    return is_str((const char *) v, rc == NGX_OTP_OK ? vlen : 0, want,
                  "%s: the value", what);
}


int
main(void)
{
    char  buf[256], want[NGX_OTP_REDIS_INFO_VALUE_MAX + 1];

    field(INFO, sizeof(INFO) - 1, "maxmemory_policy", "noeviction",
          "Redis 7's INFO memory");
    field(INFO, sizeof(INFO) - 1, "maxmemory", "0",
          "a field that is a prefix of another, on its own line");

    field("maxmemory_policy:allkeys-lru\n", 29, "maxmemory_policy",
          "allkeys-lru", "LF line ends");
    field("a:1\r\nmaxmemory_policy:volatile-ttl", 34, "maxmemory_policy",
          "volatile-ttl", "the last line, no line end");
    field("maxmemory_policy:noeviction", 22, "maxmemory_policy",
          "noevi", "len is the end, not a NUL");

    field("xmaxmemory_policy:noeviction\r\n", 30, "maxmemory_policy", NULL,
          "another field that ends in the name");
    field("maxmemory_policy_x:noeviction\r\n", 31, "maxmemory_policy", NULL,
          "another field that starts with the name");
    field("used:1 maxmemory_policy:noeviction\r\n", 36, "maxmemory_policy",
          NULL, "the name inside a line");
    field("maxmemory_policy:\r\n", 19, "maxmemory_policy", NULL,
          "an empty value");
    field("maxmemory_policy:no eviction\r\n", 30, "maxmemory_policy", NULL,
          "a space in the value");
    field("maxmemory_policy:noevic\x1b[2Jtion\r\n", 34, "maxmemory_policy",
          NULL, "an escape sequence in the value");
    field("maxmemory_policy:a\rb\r\n", 22, "maxmemory_policy", NULL,
          "a bare CR in the value");
    field("maxmemory_policy:noeviction\r\n", 29, "", NULL, "no field name");
    field("", 0, "maxmemory_policy", NULL, "an empty reply");
    field("\n\n\r\n", 4, "maxmemory_policy", NULL, "empty lines");
    field("-NOPERM this user has no permissions\r\n", 38,
          "maxmemory_policy", NULL, "an error text");

    field("maxmemory_policy:first\r\nmaxmemory_policy:second\r\n", 48,
          "maxmemory_policy", "first", "the first line wins");

    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "maxmemory_policy:", 17);
    memset(want, 'a', NGX_OTP_REDIS_INFO_VALUE_MAX);
    want[NGX_OTP_REDIS_INFO_VALUE_MAX] = '\0';

    field(buf, 17 + NGX_OTP_REDIS_INFO_VALUE_MAX, "maxmemory_policy", want,
          "a value of NGX_OTP_REDIS_INFO_VALUE_MAX bytes");
    field(buf, 17 + NGX_OTP_REDIS_INFO_VALUE_MAX + 1, "maxmemory_policy",
          NULL, "one byte more");

    return tap_done();
}

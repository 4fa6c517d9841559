
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_redis_cluster.c: key slots, redirects, CLUSTER SLOTS entries.
 * The slots are what redis-server 7.0 answers to CLUSTER KEYSLOT.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


static void
slot(const char *key, unsigned want)
{
    is_int(ngx_otp_cluster_key_slot((const u_char *) key, strlen(key)),
           want, "slot of \"%s\"", key);
}


static void
redirect(const char *err, int ask, unsigned s, const char *host,
    unsigned port)
{
    int                         rc;
    ngx_otp_cluster_redirect_t  r;

    memset(&r, 0, sizeof(r));

    rc = ngx_otp_cluster_redirect((const u_char *) err, strlen(err), &r);

    if (host == NULL) {
        is_int(rc, NGX_OTP_EINVAL, "\"%s\": EINVAL", err);
        return;
    }

    is_int(rc, NGX_OTP_OK, "\"%s\": OK", err);
    is_int(r.ask, ask, "\"%s\": kind", err);
    is_int(r.slot, s, "\"%s\": slot", err);
    is_str((const char *) r.host, rc == NGX_OTP_OK ? r.host_len : 0, host,
           "\"%s\": host", err);
    is_int(r.port, port, "\"%s\": port", err);
}


static void
entry(long long start, long long end, const char *host, long long port,
    int want)
{
    is_int(ngx_otp_cluster_slots_entry(start, end, (const u_char *) host,
                                       strlen(host), port),
           want, "entry %lld-%lld \"%s\" %lld", start, end, host, port);
}


int
main(void)
{
    char  buf[80];

    slot("123456789", 12739);
    slot("foo", 12182);
    slot("bar", 5061);
    slot("hello", 866);
    slot("{user1000}.following", 3443);
    slot("foo{}{bar}", 8363);              /* empty tag: the whole key */
    slot("foo{{bar}}zap", 4015);           /* the tag is "{bar" */
    slot("foo{bar}{zap}", 5061);           /* the first tag only: "bar" */
    slot("{", 4092);
    slot("}{x}", 16287);
    slot("a{b", 13340);                    /* no '}': the whole key */
    slot("", 0);
    slot("otp:{00ff}:r", 1184);
    slot("otp:c:{abcd}", 10294);

    /* the module's keys of one number share its slot */
    is_int(ngx_otp_cluster_key_slot((const u_char *) "otp:{00ff}:w", 12),
           ngx_otp_cluster_key_slot((const u_char *) "otp:{00ff}:o", 12),
           "a number's keys share a slot");

    /* only the first len bytes count */
    memcpy(buf, "foo{bar}", 8);
    is_int(ngx_otp_cluster_key_slot((const u_char *) buf, 3), 12182,
           "len is the end, not a NUL");

    redirect("MOVED 3999 127.0.0.1:6381", 0, 3999, "127.0.0.1", 6381);
    redirect("ASK 16383 10.0.0.2:7000", 1, 16383, "10.0.0.2", 7000);
    redirect("MOVED 0 ::1:7001", 0, 0, "::1", 7001);
    redirect("MOVED 12 2001:db8::7:30001", 0, 12, "2001:db8::7", 30001);
    redirect("MOVED 5 :7002", 0, 5, "", 7002);      /* unknown endpoint */

    redirect("MOVED 16384 127.0.0.1:6381", 0, 0, NULL, 0);
    redirect("MOVED -1 127.0.0.1:6381", 0, 0, NULL, 0);
    redirect("MOVED 3999 127.0.0.1:0", 0, 0, NULL, 0);
    redirect("MOVED 3999 127.0.0.1:65536", 0, 0, NULL, 0);
    redirect("MOVED 3999 127.0.0.1", 0, 0, NULL, 0);
    redirect("MOVED 3999 redis-1:6379", 0, 0, NULL, 0);
    redirect("MOVED 3999 ?:6379", 0, 0, NULL, 0);
    redirect("MOVED 3999 127.0.0.1:6381 ", 0, 0, NULL, 0);
    redirect("MOVED  3999 127.0.0.1:6381", 0, 0, NULL, 0);
    redirect("MOVED 3999", 0, 0, NULL, 0);
    redirect("moved 3999 127.0.0.1:6381", 0, 0, NULL, 0);
    redirect("ASKING 1 127.0.0.1:1", 0, 0, NULL, 0);
    redirect("TRYAGAIN Multiple keys request during rehashing of slot", 0, 0,
             NULL, 0);
    redirect("MOVED 1 1.2.3.4.5:6", 0, 0, NULL, 0);
    redirect("MOVED 1 "
             "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111:22:1",
             0, 0, NULL, 0);
    redirect("MOVED 03999 127.0.0.1:6381", 0, 0, NULL, 0);
    redirect("MOVED 3999 127.0.0.1:06381", 0, 0, NULL, 0);
    redirect("", 0, 0, NULL, 0);

    entry(0, 5460, "127.0.0.1", 7000, NGX_OTP_OK);
    entry(16383, 16383, "::1", 7000, NGX_OTP_OK);
    entry(0, 0, "", 7000, NGX_OTP_OK);
    entry(0, 16384, "127.0.0.1", 7000, NGX_OTP_EINVAL);
    entry(-1, 5, "127.0.0.1", 7000, NGX_OTP_EINVAL);
    entry(6, 5, "127.0.0.1", 7000, NGX_OTP_EINVAL);
    entry(0, 5, "127.0.0.1", 0, NGX_OTP_EINVAL);
    entry(0, 5, "127.0.0.1", 70000, NGX_OTP_EINVAL);
    entry(0, 5, "?", 7000, NGX_OTP_EINVAL);
    entry(0, 5, "localhost", 7000, NGX_OTP_EINVAL);
    entry(0, 5, "127.0.0.1 ", 7000, NGX_OTP_EINVAL);
    entry(0, 5, "fe80::1%eth0", 7000, NGX_OTP_EINVAL);

    return tap_done();
}

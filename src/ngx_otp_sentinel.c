
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * What Redis Sentinel says of a master, as the Sentinel form of the Redis
 * store reads it: the address of SENTINEL get-master-addr-by-name and the
 * "+switch-master" announcements.  Both come from the network (a sentinel,
 * or anything at its address, or anyone who may PUBLISH there), so only a
 * numeric address and a port in range are accepted: the glue connects to
 * exactly what is returned, and hiredis would resolve a host name with a
 * blocking getaddrinfo().
 */


#include <string.h>
#include <arpa/inet.h>

#include "ngx_otp_core.h"


static int ngx_otp_sentinel_field(const u_char **p, const u_char *last,
    const u_char **f, size_t *flen);


int
ngx_otp_sentinel_name_valid(const u_char *name, size_t len)
{
    size_t  i;
    u_char  c;

    if (len == 0 || len > NGX_OTP_SENTINEL_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_'
              || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_otp_sentinel_addr(const u_char *ip, size_t ip_len, const u_char *port,
    size_t port_len, ngx_otp_sentinel_addr_t *addr)
{
    size_t          i;
    unsigned        n;
    u_char          buf[NGX_OTP_SENTINEL_IP_MAX];
    struct in_addr  a4;
    struct in6_addr a6;

    if (ip_len == 0 || ip_len >= NGX_OTP_SENTINEL_IP_MAX
        || port_len == 0 || port_len > 5)
    {
        return NGX_OTP_EINVAL;
    }

    n = 0;

    for (i = 0; i < port_len; i++) {
        if (port[i] < '0' || port[i] > '9') {
            return NGX_OTP_EINVAL;
        }

        n = n * 10 + (port[i] - '0');
    }

    if (n == 0 || n > 65535) {
        return NGX_OTP_EINVAL;
    }

    /* inet_pton() wants a C string, and takes numeric forms only */
    memcpy(buf, ip, ip_len);
    buf[ip_len] = '\0';

    if (memchr(buf, '\0', ip_len) != NULL) {
        return NGX_OTP_EINVAL;
    }

    if (inet_pton(AF_INET, (const char *) buf, &a4) != 1
        && inet_pton(AF_INET6, (const char *) buf, &a6) != 1)
    {
        return NGX_OTP_EINVAL;
    }

    memcpy(addr->ip, buf, ip_len + 1);
    addr->ip_len = ip_len;
    addr->port = n;

    return NGX_OTP_OK;
}


int
ngx_otp_sentinel_switch(const u_char *msg, size_t len, const u_char *name,
    size_t name_len, ngx_otp_sentinel_addr_t *addr)
{
    size_t         flen[5];
    size_t         i;
    const u_char  *p, *last, *f[5];

    p = msg;
    last = msg + len;

    for (i = 0; i < 5; i++) {
        if (ngx_otp_sentinel_field(&p, last, &f[i], &flen[i]) != NGX_OTP_OK) {
            return NGX_OTP_EINVAL;
        }
    }

    if (p != last) {
        /* a sixth field */
        return NGX_OTP_EINVAL;
    }

    if (flen[0] != name_len || memcmp(f[0], name, name_len) != 0) {
        return ngx_otp_sentinel_name_valid(f[0], flen[0]) ? NGX_OTP_EDUP
                                                          : NGX_OTP_EINVAL;
    }

    return ngx_otp_sentinel_addr(f[3], flen[3], f[4], flen[4], addr);
}


/* one field: no leading blank, ends at a single space or at the end */

static int
ngx_otp_sentinel_field(const u_char **p, const u_char *last,
    const u_char **f, size_t *flen)
{
    const u_char  *s, *e;

    s = *p;

    if (s >= last || *s == ' ') {
        return NGX_OTP_EINVAL;
    }

    e = memchr(s, ' ', last - s);

    if (e == NULL) {
        e = last;
        *p = last;

    } else {
        if (e + 1 == last) {
            /* a trailing space */
            return NGX_OTP_EINVAL;
        }

        *p = e + 1;
    }

    *f = s;
    *flen = e - s;

    return NGX_OTP_OK;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Redis Cluster's rules, as the store's cluster router uses them: the key
 * slot (CRC16 of the key's hash tag, the Redis Cluster specification's
 * "Keys distribution model"), the redirect errors (-MOVED and -ASK), and
 * the check of one entry of a CLUSTER SLOTS reply.  Both texts come from
 * the network (any Redis at the address, or anything that poses as one):
 * a node's address is accepted only as a numeric IPv4 or IPv6 address,
 * which hiredis connects to without resolving anything (a name would be a
 * blocking getaddrinfo() in a worker) and which can be logged as it is.
 */


#include <string.h>
#include <arpa/inet.h>

#include "ngx_otp_core.h"


/*
 * CRC16-CCITT (XModem): polynomial 0x1021, initial value 0, as in Redis's
 * src/crc16.c; computed bit by bit (a key is at most 80 bytes here).
 */

static unsigned
ngx_otp_cluster_crc16(const u_char *p, size_t len)
{
    size_t    i;
    unsigned  crc, b;

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (unsigned) p[i] << 8;

        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
            crc &= 0xffff;
        }
    }

    return crc;
}


unsigned
ngx_otp_cluster_key_slot(const u_char *key, size_t len)
{
    size_t  s, e;

    /* the first '{' and the first '}' after it, with something between */

    for (s = 0; s < len; s++) {
        if (key[s] == '{') {
            break;
        }
    }

    if (s < len) {
        for (e = s + 1; e < len; e++) {
            if (key[e] == '}') {
                break;
            }
        }

        if (e < len && e != s + 1) {
            key += s + 1;
            len = e - s - 1;
        }
    }

    return ngx_otp_cluster_crc16(key, len) & (NGX_OTP_CLUSTER_SLOTS - 1);
}


int
ngx_otp_cluster_node_addr(const u_char *host, size_t len, long long port)
{
    size_t           i;
    char             buf[NGX_OTP_CLUSTER_HOST_MAX + 1];
    struct in_addr   a4;
    struct in6_addr  a6;

    if (port < 1 || port > 65535 || len > NGX_OTP_CLUSTER_HOST_MAX) {
        return NGX_OTP_EINVAL;
    }

    if (len == 0) {
        /* "the node you asked", as Redis 7 says of an unknown endpoint */
        return NGX_OTP_OK;
    }

    for (i = 0; i < len; i++) {
        if (!((host[i] >= '0' && host[i] <= '9')
              || (host[i] >= 'a' && host[i] <= 'f')
              || (host[i] >= 'A' && host[i] <= 'F')
              || host[i] == '.' || host[i] == ':'))
        {
            return NGX_OTP_EINVAL;
        }
    }

    memcpy(buf, host, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, buf, &a4) == 1
        || inet_pton(AF_INET6, buf, &a6) == 1)
    {
        return NGX_OTP_OK;
    }

    return NGX_OTP_EINVAL;
}


int
ngx_otp_cluster_slots_entry(long long start, long long end,
    const u_char *host, size_t host_len, long long port)
{
    if (start < 0 || end < start || end >= NGX_OTP_CLUSTER_SLOTS) {
        return NGX_OTP_EINVAL;
    }

    return ngx_otp_cluster_node_addr(host, host_len, port);
}


/* a decimal number of 1 to 5 digits, no leading zero, at most max */

static int
ngx_otp_cluster_number(const u_char *p, size_t len, unsigned max,
    unsigned *n)
{
    size_t    i;
    unsigned  v;

    if (len == 0 || len > 5 || (len > 1 && p[0] == '0')) {
        return NGX_OTP_EINVAL;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_OTP_EINVAL;
        }

        v = v * 10 + (p[i] - '0');
    }

    if (v > max) {
        return NGX_OTP_EINVAL;
    }

    *n = v;

    return NGX_OTP_OK;
}


int
ngx_otp_cluster_redirect(const u_char *err, size_t len,
    ngx_otp_cluster_redirect_t *r)
{
    size_t         n;
    unsigned       port;
    const u_char  *p, *last, *sp, *colon;

    p = err;
    last = err + len;

    if (len > 6 && memcmp(p, "MOVED ", 6) == 0) {
        r->ask = 0;
        p += 6;

    } else if (len > 4 && memcmp(p, "ASK ", 4) == 0) {
        r->ask = 1;
        p += 4;

    } else {
        return NGX_OTP_EINVAL;
    }

    sp = memchr(p, ' ', last - p);

    if (sp == NULL
        || ngx_otp_cluster_number(p, sp - p, NGX_OTP_CLUSTER_SLOTS - 1,
                                  &r->slot)
           != NGX_OTP_OK)
    {
        return NGX_OTP_EINVAL;
    }

    p = sp + 1;

    /* host:port, the port after the last ':' (an IPv6 host has more) */

    colon = NULL;

    for (n = 0; p + n < last; n++) {
        if (p[n] == ':') {
            colon = p + n;
        }
    }

    if (colon == NULL
        || ngx_otp_cluster_number(colon + 1, last - colon - 1, 65535, &port)
           != NGX_OTP_OK
        || ngx_otp_cluster_node_addr(p, colon - p, port) != NGX_OTP_OK)
    {
        return NGX_OTP_EINVAL;
    }

    r->host = p;
    r->host_len = colon - p;
    r->port = port;

    return NGX_OTP_OK;
}

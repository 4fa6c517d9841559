
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_redis_cluster.c.  The first byte picks the function:
 *
 *   0  ngx_otp_cluster_redirect(): the rest is a Redis error's text
 *   1  ngx_otp_cluster_key_slot(): the rest is a key
 *   2  ngx_otp_cluster_slots_entry(): 2 bytes start, 2 bytes end, 3 bytes
 *      port (big-endian, signed by a bias), the rest the host
 *
 * Invariants: a redirect accepted is exactly "MOVED|ASK SLOT HOST:PORT"
 * rebuilt from what was returned (so nothing was skipped or invented),
 * its host inside the text, a numeric address; a slot is < 16384; an
 * entry accepted has start <= end < 16384, a port of 1 to 65535 and a
 * host of at most NGX_OTP_CLUSTER_HOST_MAX bytes of [0-9a-fA-F.:].
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                         rc;
    u_char                     *in, *rebuilt;
    size_t                      i, n;
    long long                   start, end, port;
    ngx_otp_cluster_redirect_t  r;

    if (size == 0) {
        return 0;
    }

    size--;

    in = malloc(size ? size : 1);
    fuzz_check(in != NULL);
    memcpy(in, data + 1, size);

    switch (data[0] % 3) {

    case 0:
        rc = ngx_otp_cluster_redirect(in, size, &r);
        fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

        if (rc != NGX_OTP_OK) {
            break;
        }

        fuzz_check(r.slot < NGX_OTP_CLUSTER_SLOTS);
        fuzz_check(r.port >= 1 && r.port <= 65535);
        fuzz_check(r.host >= in && r.host + r.host_len <= in + size);
        fuzz_check(r.host_len <= NGX_OTP_CLUSTER_HOST_MAX);
        fuzz_check(ngx_otp_cluster_node_addr(r.host, r.host_len, r.port)
                   == NGX_OTP_OK);

        rebuilt = malloc(size + 1);
        fuzz_check(rebuilt != NULL);

        n = snprintf((char *) rebuilt, size + 1, "%s %u %.*s:%u",
                     r.ask ? "ASK" : "MOVED", r.slot, (int) r.host_len,
                     (const char *) r.host, r.port);

        fuzz_check(n == size && memcmp(rebuilt, in, size) == 0);

        free(rebuilt);
        break;

    case 1:
        fuzz_check(ngx_otp_cluster_key_slot(in, size)
                   < NGX_OTP_CLUSTER_SLOTS);
        break;

    default:
        if (size < 7) {
            break;
        }

        start = (long long) ((in[0] << 8) | in[1]) - 8;
        end = (long long) ((in[2] << 8) | in[3]) - 8;
        port = (long long) ((in[4] << 16) | (in[5] << 8) | in[6]) - 8;

        rc = ngx_otp_cluster_slots_entry(start, end, in + 7, size - 7, port);
        fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

        if (rc != NGX_OTP_OK) {
            break;
        }

        fuzz_check(start >= 0 && start <= end
                   && end < NGX_OTP_CLUSTER_SLOTS);
        fuzz_check(port >= 1 && port <= 65535);
        fuzz_check(size - 7 <= NGX_OTP_CLUSTER_HOST_MAX);

        for (i = 7; i < size; i++) {
            fuzz_check((in[i] >= '0' && in[i] <= '9')
                       || (in[i] >= 'a' && in[i] <= 'f')
                       || (in[i] >= 'A' && in[i] <= 'F')
                       || in[i] == '.' || in[i] == ':');
        }

        break;
    }

    free(in);

    return 0;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_fallback_decode(), the reader of the fallback's sealed
 * record.  Invariants: what decodes has every length within its buffer,
 * and encodes back to exactly the input (one encoding per record); what
 * does not decode leaves the record zeroed.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                     len, i;
    u_char                     out[2048];
    const u_char              *z;
    ngx_otp_fallback_record_t  r;

    if (ngx_otp_fallback_decode(data, size, &r) != NGX_OTP_OK) {
        z = (const u_char *) &r;

        for (i = 0; i < sizeof(r); i++) {
            fuzz_check(z[i] == 0);
        }

        return 0;
    }

    fuzz_check(r.phone_len >= 2 && r.phone_len <= sizeof(r.phone));
    fuzz_check(r.code_len >= 1 && r.code_len <= sizeof(r.code));
    fuzz_check(r.provider_len <= sizeof(r.provider));
    fuzz_check(r.locale_len <= sizeof(r.locale));
    fuzz_check(r.text_len <= sizeof(r.text));
    fuzz_check((r.channel & NGX_OTP_ALL_CHANNELS) != 0);

    fuzz_check(ngx_otp_fallback_encode(&r, out, sizeof(out), &len)
               == NGX_OTP_OK);
    fuzz_check(len == size);
    fuzz_check(memcmp(out, data, size) == 0);

    return 0;
}

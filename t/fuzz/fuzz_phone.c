
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Fuzzes ngx_otp_phone_normalize() and ngx_otp_phone_mask().  The first
 * byte picks the default country code; the rest is the number as typed.
 *
 * Invariants: a normalised number is '+' and 8-15 digits, the first not 0;
 * it normalises to itself; it ends with the digits typed (less a "00" or a
 * trunk '0'); its mask keeps its length and shows at most 5 digits; the
 * mask of anything at all shows at most 5 digits and writes at most
 * NGX_OTP_PHONE_MAX_LEN bytes.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "fuzz.h"


#define MAX_SHOWN  5


static size_t
count_digits(const u_char *p, size_t len)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            n++;
        }
    }

    return n;
}


static void
check_mask(const u_char *phone, size_t len)
{
    u_char  *out;
    size_t   n;

    /* exactly the documented capacity: ASan sees one byte more */

    out = malloc(NGX_OTP_PHONE_MAX_LEN);
    fuzz_check(out != NULL);

    n = ngx_otp_phone_mask(phone, len, out);

    fuzz_check(n <= NGX_OTP_PHONE_MAX_LEN);
    fuzz_check(n >= 4);
    fuzz_check(out[0] == '+');
    fuzz_check(count_digits(out, n) <= MAX_SHOWN);

    /* either all hidden, or a valid number's mask of its own length */

    if (n == 4) {
        fuzz_check(memcmp(out, "+***", 4) == 0);

    } else {
        fuzz_check(n == len);
    }

    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           rc;
    u_char       *out, *again, digits[NGX_OTP_PHONE_INPUT_MAX + 1];
    size_t        i, n, zeros, out_len, again_len, cc_len, masked;
    const u_char *in, *cc;

    static const char  *ccs[] = { NULL, "", "1", "44", "254", "999", "0",
                                  "1234", "+1", "2a" };

    if (size == 0) {
        return 0;
    }

    cc = (const u_char *) ccs[data[0] % (sizeof(ccs) / sizeof(ccs[0]))];
    cc_len = cc ? strlen((const char *) cc) : 0;

    in = data + 1;
    size--;

    out = malloc(NGX_OTP_PHONE_MAX_LEN);
    again = malloc(NGX_OTP_PHONE_MAX_LEN);
    fuzz_check(out != NULL && again != NULL);

    rc = ngx_otp_phone_normalize(in, size, cc, cc_len, out, &out_len);

    fuzz_check(rc == NGX_OTP_OK || rc == NGX_OTP_EINVAL);

    if (rc == NGX_OTP_OK) {
        fuzz_check(size <= NGX_OTP_PHONE_INPUT_MAX);
        fuzz_check(out_len >= 1 + NGX_OTP_PHONE_MIN_DIGITS);
        fuzz_check(out_len <= NGX_OTP_PHONE_MAX_LEN);
        fuzz_check(out[0] == '+');
        fuzz_check(out[1] != '0');
        fuzz_check(count_digits(out + 1, out_len - 1) == out_len - 1);

        /* the digits typed, less up to two leading zeros, end the number */

        n = 0;

        for (i = 0; i < size; i++) {
            if (in[i] >= '0' && in[i] <= '9') {
                digits[n++] = in[i];
            }
        }

        for (zeros = 0; zeros < 2 && zeros < n && digits[zeros] == '0';
             zeros++)
        {
            /* void */
        }

        fuzz_check(n - zeros <= out_len - 1);
        fuzz_check(memcmp(out + out_len - (n - zeros), digits + zeros,
                          n - zeros) == 0);

        rc = ngx_otp_phone_normalize(out, out_len, NULL, 0, again,
                                     &again_len);

        fuzz_check(rc == NGX_OTP_OK);
        fuzz_check(again_len == out_len);
        fuzz_check(memcmp(again, out, out_len) == 0);

        /* the mask of a valid number: same length, 4 digits kept last */

        masked = ngx_otp_phone_mask(out, out_len, again);

        fuzz_check(masked == out_len);
        fuzz_check(again[0] == '+' && again[1] == out[1]);
        fuzz_check(memcmp(again + out_len - 4, out + out_len - 4, 4) == 0);

        for (i = 2; i < out_len - 4; i++) {
            fuzz_check(again[i] == '*');
        }

        check_mask(out, out_len);
    }

    check_mask(in, size);

    free(out);
    free(again);

    return 0;
}

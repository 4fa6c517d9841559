
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_code.c: codes are uniform digits, bytes >= 250 are rejected,
 * lengths outside [4, 10] are refused, and the format check is exact.
 */


#include <stdlib.h>

#include <openssl/rand.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define UNIFORM_DIGITS     500000
#define UNIFORM_CODE_LEN   10

/*
 * Chi-square with 9 degrees of freedom exceeds 50 with probability about
 * 1e-7 for truly uniform digits; byte % 10 without rejection (digits 0-5
 * at 26/256, 6-9 at 25/256) averages about 190 over 500000 digits.
 */
#define CHI2_LIMIT         50.0


/* a scripted byte source: serves script[] in order, then fails */

static const u_char  *script;
static size_t         script_len;
static size_t         script_pos;
static size_t         script_calls;


static int
script_rand(u_char *buf, size_t n)
{
    script_calls++;

    if (script_len - script_pos < n) {
        return NGX_OTP_ERROR;
    }

    memcpy(buf, script + script_pos, n);
    script_pos += n;

    return NGX_OTP_OK;
}


static void
script_set(const u_char *s, size_t len)
{
    script = s;
    script_len = len;
    script_pos = 0;
    script_calls = 0;
}


static int
stuck_rand(u_char *buf, size_t n)
{
    memset(buf, 0xff, n);
    return NGX_OTP_OK;
}


static double
chi2(const unsigned long counts[10], unsigned long total)
{
    int     d;
    double  expected, diff, sum;

    expected = (double) total / 10;
    sum = 0;

    for (d = 0; d < 10; d++) {
        diff = (double) counts[d] - expected;
        sum += diff * diff / expected;
    }

    return sum;
}


static void
test_lengths(void)
{
    u_char  out[NGX_OTP_CODE_MAX_LEN + 1];
    size_t  len;

    for (len = NGX_OTP_CODE_MIN_LEN; len <= NGX_OTP_CODE_MAX_LEN; len++) {
        memset(out, 'x', sizeof(out));

        is_int(ngx_otp_code_generate(out, len, NULL), NGX_OTP_OK,
               "length %zu: generated", len);
        is_int(ngx_otp_code_check_format(out, len, len), NGX_OTP_OK,
               "length %zu: all digits", len);
        ok(len == NGX_OTP_CODE_MAX_LEN || out[len] == 'x',
           "length %zu: nothing written past the code", len);
    }

    script_set((const u_char *) "0123456789abcdef", 16);

    is_int(ngx_otp_code_generate(out, 3, script_rand), NGX_OTP_EINVAL,
           "length 3 rejected");
    is_int(ngx_otp_code_generate(out, 11, script_rand), NGX_OTP_EINVAL,
           "length 11 rejected");
    is_int(ngx_otp_code_generate(out, 0, script_rand), NGX_OTP_EINVAL,
           "length 0 rejected");
    is_int(script_calls, 0, "no randomness drawn for a bad length");
}


static void
test_rejection(void)
{
    u_char  out[NGX_OTP_CODE_MAX_LEN];
    u_char  bytes[4];
    int     b;
    size_t  bad;

    /* 250 and 255 rejected; 0, 9, 10, 249 give 0, 9, 0, 9 */

    static const u_char  s1[] = { 250, 255, 0, 9, 10, 249, 251, 7 };

    script_set(s1, sizeof(s1));

    is_int(ngx_otp_code_generate(out, 4, script_rand), NGX_OTP_OK,
           "scripted: generated");
    is_str(out, 4, "0909", "scripted: digit = byte %% 10, >= 250 skipped");
    is_int(script_pos, 6,
           "scripted: rejected bytes consumed, none past the last digit");

    /* every byte value, one at a time, as the first byte of a code */

    bad = 0;

    for (b = 0; b < 256; b++) {
        bytes[0] = (u_char) b;
        bytes[1] = 1;
        bytes[2] = 2;
        bytes[3] = 3;

        /* a rejected first byte needs one more: the script then fails */

        script_set(bytes, 4);

        if (b < 250) {
            if (ngx_otp_code_generate(out, 4, script_rand) != NGX_OTP_OK
                || out[0] != '0' + b % 10 || memcmp(out + 1, "123", 3))
            {
                bad++;
                tap_diag("byte %d: accepted wrongly", b);
            }

        } else {
            if (ngx_otp_code_generate(out, 4, script_rand) != NGX_OTP_ERROR
                || script_pos != 4)
            {
                bad++;
                tap_diag("byte %d: not rejected", b);
            }
        }
    }

    is_int(bad, 0, "bytes 0-249 map to byte %% 10, 250-255 are rejected");

    script_set(s1, 3);
    is_int(ngx_otp_code_generate(out, 4, script_rand), NGX_OTP_ERROR,
           "failing byte source is an error");

    is_int(ngx_otp_code_generate(out, 4, stuck_rand), NGX_OTP_ERROR,
           "a source stuck on 0xff is an error, not a hang");
}


static void
test_exact_uniformity(void)
{
    u_char         all[256], out[NGX_OTP_CODE_MAX_LEN];
    int            i, d;
    size_t         n;
    unsigned long  counts[10];

    /*
     * Each byte value exactly once: a correct sampler turns the 250
     * accepted ones into exactly 25 of each digit.
     */

    for (i = 0; i < 256; i++) {
        all[i] = (u_char) (255 - i);
    }

    script_set(all, sizeof(all));
    memset(counts, 0, sizeof(counts));

    for (n = 0; n < 25; n++) {
        if (ngx_otp_code_generate(out, 10, script_rand) != NGX_OTP_OK) {
            break;
        }

        for (i = 0; i < 10; i++) {
            counts[out[i] - '0']++;
        }
    }

    is_int(n, 25, "250 digits from the 256 byte values");

    for (d = 0; d < 10; d++) {
        if (counts[d] != 25) {
            break;
        }
    }

    ok(d == 10, "each digit exactly 25 times");
    is_int(script_pos, 256, "all 256 bytes consumed");
}


static void
test_statistical_uniformity(void)
{
    u_char         out[UNIFORM_CODE_LEN], *raw;
    size_t         i, j;
    double         x;
    unsigned long  counts[10], biased[10];

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < UNIFORM_DIGITS / UNIFORM_CODE_LEN; i++) {
        if (ngx_otp_code_generate(out, UNIFORM_CODE_LEN, NULL)
            != NGX_OTP_OK)
        {
            break;
        }

        for (j = 0; j < UNIFORM_CODE_LEN; j++) {
            counts[out[j] - '0']++;
        }
    }

    is_int(i, UNIFORM_DIGITS / UNIFORM_CODE_LEN, "%d digits generated",
           UNIFORM_DIGITS);

    x = chi2(counts, UNIFORM_DIGITS);
    ok(x < CHI2_LIMIT, "RAND_bytes digits uniform: chi2 %.2f < %.0f", x,
       CHI2_LIMIT);

    /* the same statistic does see modulo bias: the bound is not vacuous */

    raw = malloc(UNIFORM_DIGITS);
    if (raw == NULL || RAND_bytes(raw, UNIFORM_DIGITS) != 1) {
        ok(0, "control sample");
        free(raw);
        return;
    }

    memset(biased, 0, sizeof(biased));

    for (i = 0; i < UNIFORM_DIGITS; i++) {
        biased[raw[i] % 10]++;
    }

    free(raw);

    x = chi2(biased, UNIFORM_DIGITS);
    ok(x > CHI2_LIMIT, "control: byte %% 10 without rejection fails it "
       "(chi2 %.2f)", x);
}


static void
test_format(void)
{
    is_int(ngx_otp_code_check_format((u_char *) "123456", 6, 6), NGX_OTP_OK,
           "format: 6 digits");
    is_int(ngx_otp_code_check_format((u_char *) "0000", 4, 4), NGX_OTP_OK,
           "format: leading zeros are digits");
    is_int(ngx_otp_code_check_format((u_char *) "9876543210", 10, 10),
           NGX_OTP_OK, "format: 10 digits");
    is_int(ngx_otp_code_check_format((u_char *) "12345", 5, 6),
           NGX_OTP_EINVAL, "format: too short");
    is_int(ngx_otp_code_check_format((u_char *) "1234567", 7, 6),
           NGX_OTP_EINVAL, "format: too long");
    is_int(ngx_otp_code_check_format((u_char *) "12a456", 6, 6),
           NGX_OTP_EINVAL, "format: letter");
    is_int(ngx_otp_code_check_format((u_char *) " 12345", 6, 6),
           NGX_OTP_EINVAL, "format: space");
    is_int(ngx_otp_code_check_format((u_char *) "+12345", 6, 6),
           NGX_OTP_EINVAL, "format: sign");
    is_int(ngx_otp_code_check_format((u_char *) "123\0" "56", 6, 6),
           NGX_OTP_EINVAL, "format: NUL");
    is_int(ngx_otp_code_check_format((u_char *) "12345/", 6, 6),
           NGX_OTP_EINVAL, "format: '/' (just below '0')");
    is_int(ngx_otp_code_check_format((u_char *) "12345:", 6, 6),
           NGX_OTP_EINVAL, "format: ':' (just above '9')");
    is_int(ngx_otp_code_check_format((u_char *) "\xd9\xa1\xd9\xa2", 4, 4),
           NGX_OTP_EINVAL, "format: non-ASCII digits");
    is_int(ngx_otp_code_check_format((u_char *) "", 0, 0), NGX_OTP_EINVAL,
           "format: empty code of length 0");
    is_int(ngx_otp_code_check_format((u_char *) "123", 3, 3),
           NGX_OTP_EINVAL, "format: length 3 is never valid");
}


int
main(void)
{
    test_lengths();
    test_rejection();
    test_exact_uniformity();
    test_statistical_uniformity();
    test_format();

    return tap_done();
}

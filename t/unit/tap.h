
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * A minimal TAP producer for the core's unit tests: "ok N - name" or
 * "not ok N - name" with a "#" diagnostic, and the plan "1..N" printed
 * last by tap_done(), so a test that dies halfway has no plan and fails.
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>


#define TAP_UNUSED  __attribute__((unused))

#define ok(cond, ...)                                                        \
    tap_ok(__FILE__, __LINE__, (cond), __VA_ARGS__)

#define is_int(got, expected, ...)                                           \
    tap_is_int(__FILE__, __LINE__, (long long) (got),                        \
               (long long) (expected), __VA_ARGS__)

#define is_mem(got, got_len, expected, expected_len, ...)                    \
    tap_is_mem(__FILE__, __LINE__, (const void *) (got), (got_len),          \
               (const void *) (expected), (expected_len), __VA_ARGS__)

#define is_str(got, got_len, expected, ...)                                  \
    is_mem(got, got_len, expected, strlen(expected), __VA_ARGS__)


static int  tap_count;
static int  tap_failed;


/* a name is one line of TAP: control characters are shown escaped */

static TAP_UNUSED void
tap_result(int pass, const char *fmt, va_list args)
{
    char    name[512];
    size_t  i;

    tap_count++;

    if (!pass) {
        tap_failed++;
    }

    vsnprintf(name, sizeof(name), fmt, args);

    printf("%sok %d - ", pass ? "" : "not ", tap_count);

    for (i = 0; name[i]; i++) {
        if ((u_char) name[i] < 0x20 || name[i] == 0x7f) {
            printf("\\x%02x", (u_char) name[i]);

        } else {
            putchar(name[i]);
        }
    }

    printf("\n");
}


static TAP_UNUSED int
tap_ok(const char *file, int line, int pass, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_result(pass, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   failed at %s line %d\n", file, line);
    }

    fflush(stdout);

    return pass;
}


static TAP_UNUSED int
tap_is_int(const char *file, int line, long long got, long long expected,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    tap_result(got == expected, fmt, args);
    va_end(args);

    if (got != expected) {
        printf("#   failed at %s line %d\n#          got: %lld\n"
               "#     expected: %lld\n", file, line, got, expected);
    }

    fflush(stdout);

    return got == expected;
}


/* prints bytes readably: a diagnostic must survive NULs and binary */

static TAP_UNUSED void
tap_print_mem(const char *label, const void *data, size_t len)
{
    size_t         i;
    const u_char  *p;

    printf("#     %s: ", label);

    if (data == NULL) {
        printf("(null)\n");
        return;
    }

    p = data;
    printf("\"");

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            printf("%c", p[i]);

        } else {
            printf("\\x%02x", p[i]);
        }
    }

    printf("\" (%zu bytes)\n", len);
}


static TAP_UNUSED int
tap_is_mem(const char *file, int line, const void *got, size_t got_len,
    const void *expected, size_t expected_len, const char *fmt, ...)
{
    int      pass;
    va_list  args;

    pass = got != NULL && got_len == expected_len
           && (got_len == 0 || memcmp(got, expected, got_len) == 0);

    va_start(args, fmt);
    tap_result(pass, fmt, args);
    va_end(args);

    if (!pass) {
        printf("#   failed at %s line %d\n", file, line);
        tap_print_mem("     got", got, got_len);
        tap_print_mem("expected", expected, expected_len);
    }

    fflush(stdout);

    return pass;
}


static TAP_UNUSED void
tap_diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


/* returns the exit status: non-zero when any test failed */

static TAP_UNUSED int
tap_done(void)
{
    printf("1..%d\n", tap_count);

    if (tap_failed) {
        printf("# failed %d of %d\n", tap_failed, tap_count);
    }

    fflush(stdout);

    return tap_failed ? 1 : 0;
}


#endif /* _TAP_H_INCLUDED_ */

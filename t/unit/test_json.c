
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_json.c: bytes of anything as a JSON string's contents: the
 * escapes JSON needs, valid UTF-8 as it is, every other byte as \u00XX.
 */


#include <string.h>

#include "ngx_otp_core.h"
#include "tap.h"


static void
escaped(const char *in, size_t len, const char *want, const char *name)
{
    u_char  out[NGX_OTP_JSON_ESCAPED_MAX * 64], *end;

    memset(out, '?', sizeof(out));
    end = ngx_otp_json_escape(out, (const u_char *) in, len);
    is_str(out, (size_t) (end - out), want, name);
}


int
main(void)
{
    u_char  out[NGX_OTP_JSON_ESCAPED_MAX * 32], in[32], *end;

    escaped("/otp/verify", 11, "/otp/verify", "ASCII as it is");
    escaped("a\"b\\c", 5, "a\\\"b\\\\c", "a quote and a backslash");
    escaped("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f", "the short escapes");
    escaped("\x01\x1f\x7f", 3, "\\u0001\\u001f\x7f",
            "other controls as \\u00XX; DEL needs none");
    escaped("a\0b", 3, "a\\u0000b", "a NUL");
    escaped("\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 9,
            "\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80",
            "valid UTF-8 of 2, 3 and 4 bytes as it is");
    escaped("\xff", 1, "\\u00ff", "a byte that starts nothing");
    escaped("\x80", 1, "\\u0080", "a lone continuation byte");
    escaped("a\xc3", 2, "a\\u00c3", "a sequence cut at the end");
    escaped("\xe2\x82", 2, "\\u00e2\\u0082", "a 3-byte sequence cut short");
    escaped("\xc3\xc3\xbc", 3, "\\u00c3\xc3\xbc",
            "a lead byte, then a valid sequence");
    escaped("\xc0\x80", 2, "\\u00c0\\u0080", "an overlong NUL");
    escaped("\xe0\x80\xaf", 3, "\\u00e0\\u0080\\u00af", "an overlong '/'");
    escaped("\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080", "a surrogate");
    escaped("\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080",
            "past U+10FFFF");
    escaped("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf", "U+10FFFF itself");
    escaped("", 0, "", "nothing");

    /* the worst case: six bytes out per byte in */

    memset(in, 0x01, sizeof(in));
    end = ngx_otp_json_escape(out, in, sizeof(in));
    is_int((int) (end - out), NGX_OTP_JSON_ESCAPED_MAX * (int) sizeof(in),
           "at most NGX_OTP_JSON_ESCAPED_MAX bytes a byte");

    return tap_done();
}

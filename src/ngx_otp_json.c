
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * A JSON string's contents from bytes that may be anything, such as a
 * client's URI: '"', '\' and the controls escaped as ngx_escape_json()
 * escapes them, valid UTF-8 kept as it is, and every other byte (one that
 * cannot start or continue a valid sequence, an overlong form, a
 * surrogate, a code point past U+10FFFF) written as \u00XX, the byte's
 * value as a code point.  So the result is always valid JSON and UTF-8,
 * whatever came in, and an invalid byte stays visible.  nginx's own
 * ngx_escape_json() leaves bytes of 0x80 and over as they are: a line
 * with one is not JSON to a strict reader (jq, Python, JSON::PP).
 */


#include <string.h>

#include "ngx_otp_core.h"


static const u_char  ngx_otp_json_hex[] = "0123456789abcdef";


u_char *
ngx_otp_json_escape(u_char *dst, const u_char *src, size_t len)
{
    u_char         c;
    size_t         n;
    uint32_t       cp;
    const u_char  *last;

    last = src + len;

    while (src < last) {
        c = *src;

        if (c >= 0x80) {
            /* ngx_otp_message.c's decoder: RFC 3629's, strictly */
            n = ngx_otp_utf8_decode(src, last - src, &cp);

            if (n) {
                memcpy(dst, src, n);
                dst += n;
                src += n;
                continue;
            }

        } else if (c >= 0x20 && c != '"' && c != '\\') {
            *dst++ = c;
            src++;
            continue;
        }

        src++;
        *dst++ = '\\';

        switch (c) {
        case '"':
        case '\\':
            *dst++ = c;
            break;
        case '\n':
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = 't';
            break;
        case '\b':
            *dst++ = 'b';
            break;
        case '\f':
            *dst++ = 'f';
            break;
        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = ngx_otp_json_hex[c >> 4];
            *dst++ = ngx_otp_json_hex[c & 0x0f];
        }
    }

    return dst;
}


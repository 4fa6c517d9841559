
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * ngx_otp_message.c: templates, the GSM 03.38 alphabet, SMS segments and
 * the UTF-8 decoder under them.
 */


#include <stdint.h>

#include "ngx_otp_core.h"
#include "tap.h"


#define CANARY  0xa5


static u_char                  out[NGX_OTP_MESSAGE_MAX_LEN + 1];
static size_t                  out_len;
static ngx_otp_message_vars_t  vars;


static void
set_vars(const char *code, const char *app, uint64_t ttl)
{
    vars.code = (const u_char *) code;
    vars.code_len = code ? strlen(code) : 0;
    vars.app = (const u_char *) app;
    vars.app_len = app ? strlen(app) : 0;
    vars.ttl = ttl;
}


static int
render_cap(const char *tpl, size_t cap)
{
    memset(out, CANARY, sizeof(out));
    out_len = (size_t) -1;

    return ngx_otp_message_render((const u_char *) tpl,
                                  tpl ? strlen(tpl) : 0, &vars, out, cap,
                                  &out_len);
}


static void
renders(const char *tpl, const char *expected, const char *why)
{
    int  rc;

    rc = render_cap(tpl, NGX_OTP_MESSAGE_MAX_LEN);

    is_int(rc, NGX_OTP_OK, "render %s: rc", why);
    is_str(out, out_len, expected, "render %s", why);
}


static void
test_render(void)
{
    set_vars("123456", "Acme", 300);

    renders(NULL, "Your Acme code is 123456. Valid for 5 minutes. "
            "Do not share it.", "default, with an app name");

    set_vars("123456", NULL, 300);

    renders(NULL, "Your verification code is 123456. Valid for 5 minutes. "
            "Do not share it.", "default, no app name");

    set_vars("123456", "", 300);

    renders(NULL, "Your verification code is 123456. Valid for 5 minutes. "
            "Do not share it.", "default, empty app name");

    is_str(NGX_OTP_MESSAGE_DEFAULT, strlen(NGX_OTP_MESSAGE_DEFAULT),
           "Your $app code is $code. Valid for $ttl_minutes minutes. "
           "Do not share it.", "the default template");
    is_str(NGX_OTP_MESSAGE_DEFAULT_NO_APP,
           strlen(NGX_OTP_MESSAGE_DEFAULT_NO_APP),
           "Your verification code is $code. Valid for $ttl_minutes "
           "minutes. Do not share it.", "the default without $app");

    set_vars("0042", "Shop", 600);

    renders("$code is your $app code ($ttl_minutes min)",
            "0042 is your Shop code (10 min)", "all three names");
    renders("${code}${app}${ttl_minutes}", "0042Shop10", "braces");
    renders("${code}s and $codes", "0042s and $codes",
            "a name is the longest run: $codes is unknown");
    renders("$code_x $code-x $code.", "$code_x 0042-x 0042.",
            "'_' belongs to a name, '-' and '.' do not");
    renders("$$ $$code $$$code", "$ $code $0042", "\"$$\" is one '$'");
    renders("cost $5, $ 1, end $", "cost $5, $ 1, end $",
            "'$' before a digit-led unknown, a space, the end");
    renders("$unknown ${unknown} ${code ${} ${", "$unknown ${unknown} "
            "${code ${} ${", "unknown and unclosed names left as is");
    renders("$Code $CODE $APP", "$Code $CODE $APP",
            "names are case-sensitive");
    renders("", "", "empty template");
    renders("plain", "plain", "no names");
    renders("caf\xc3\xa9 $code \xe2\x82\xac", "caf\xc3\xa9 0042 \xe2\x82\xac",
            "UTF-8 passes through");

    set_vars("123456", "$code ${ttl_minutes}", 60);

    renders("$app: $code", "$code ${ttl_minutes}: 123456",
            "values are not rendered again");

    set_vars("123456", NULL, 60);
    renders("[$app]", "[]", "$app without an app is empty");

    /* $ttl_minutes rounds up */

    set_vars("1234", NULL, 0);
    renders("$ttl_minutes", "0", "ttl 0 s");
    set_vars("1234", NULL, 1);
    renders("$ttl_minutes", "1", "ttl 1 s is 1 minute");
    set_vars("1234", NULL, 60);
    renders("$ttl_minutes", "1", "ttl 60 s");
    set_vars("1234", NULL, 61);
    renders("$ttl_minutes", "2", "ttl 61 s is 2 minutes");
    set_vars("1234", NULL, 3600);
    renders("$ttl_minutes", "60", "ttl 1 h");
    set_vars("1234", NULL, UINT64_MAX);
    renders("$ttl_minutes", "307445734561825861", "ttl 2^64 - 1 s");

    /* the cap: all or nothing */

    set_vars("123456", NULL, 300);

    is_int(render_cap("code $code", 11), NGX_OTP_OK, "cap: exact fit");
    is_str(out, out_len, "code 123456", "cap: exact fit: text");
    ok(out[11] == CANARY, "cap: exact fit: nothing written past it");

    is_int(render_cap("code $code", 10), NGX_OTP_ETOOBIG,
           "cap: one byte short of the code is ETOOBIG");
    ok(out[10] == CANARY, "cap: ETOOBIG writes nothing past cap");
    is_int(render_cap("code $code!", 11), NGX_OTP_ETOOBIG,
           "cap: one byte short after the code is ETOOBIG");
    is_int(render_cap("$$", 0), NGX_OTP_ETOOBIG, "cap: 0 for \"$\"");
    is_int(render_cap("", 0), NGX_OTP_OK, "cap: 0 for an empty text");
    is_int(out_len, 0, "cap: 0 for an empty text: length 0");
    is_int(render_cap(NULL, 20), NGX_OTP_ETOOBIG,
           "cap: the default template does not fit 20 bytes");
}


/* every GSM 03.38 character, in the order of the 3GPP TS 23.038 table */

static const char  gsm7_basic[] =
    "@\xc2\xa3$\xc2\xa5\xc3\xa8\xc3\xa9\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\n"
    "\xc3\x98\xc3\xb8\r\xc3\x85\xc3\xa5"
    "\xce\x94_\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3"
    "\xce\x98\xce\x9e\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89"
    " !\"#\xc2\xa4%&'()*+,-./0123456789:;<=>?"
    "\xc2\xa1" "ABCDEFGHIJKLMNOPQRSTUVWXYZ\xc3\x84\xc3\x96\xc3\x91\xc3\x9c"
    "\xc2\xa7"
    "\xc2\xbf" "abcdefghijklmnopqrstuvwxyz\xc3\xa4\xc3\xb6\xc3\xb1\xc3\xbc"
    "\xc3\xa0";

static const char  gsm7_ext[] = "\f^{}\\[~]|\xe2\x82\xac";


static int
gsm7(const char *s, size_t *septets)
{
    return ngx_otp_message_gsm7((const u_char *) s, strlen(s), septets);
}


static void
test_gsm7(void)
{
    int     c;
    size_t  n;
    char    one[8];

    n = 0;
    ok(gsm7(gsm7_basic, &n), "gsm7: the whole default alphabet");
    is_int(n, 127, "gsm7: 127 characters, one septet each");

    n = 0;
    ok(gsm7(gsm7_ext, &n), "gsm7: the whole extension table");
    is_int(n, 20, "gsm7: 10 extension characters, two septets each");

    n = 99;
    ok(gsm7("", &n), "gsm7: empty text");
    is_int(n, 0, "gsm7: empty text: 0 septets");
    ok(gsm7("abc", NULL), "gsm7: septets may be NULL");

    n = 0;
    ok(gsm7("Your code is 123456. {x}", &n), "gsm7: a code message");
    is_int(n, 26, "gsm7: braces count two each");

    ok(!gsm7("`", NULL), "gsm7: a backtick is not GSM");
    ok(!gsm7("\t", NULL), "gsm7: nor a tab");
    ok(!gsm7("a\x7f", NULL), "gsm7: nor DEL");
    ok(!gsm7("\x1b", NULL), "gsm7: nor a raw escape");
    ok(!gsm7("\xc3\xa7", NULL), "gsm7: lower-case c cedilla is not GSM");
    ok(!gsm7("\xc3\xa1", NULL), "gsm7: nor a with acute");
    ok(!gsm7("\xce\xb1", NULL), "gsm7: nor Greek small alpha");
    ok(!gsm7("\xce\x91", NULL), "gsm7: nor Greek capital alpha (Latin A)");
    ok(!gsm7("\xd0\xb6", NULL), "gsm7: nor Cyrillic");
    ok(!gsm7("\xf0\x9f\x98\x80", NULL), "gsm7: nor an emoji");
    ok(!gsm7("\xc2\xa0", NULL), "gsm7: nor a no-break space");
    ok(!gsm7("ab\xc3", NULL), "gsm7: invalid UTF-8 is not GSM");

    /* each Latin-1 character: only the table's are GSM */

    n = 0;

    for (c = 0xa0; c <= 0xff; c++) {
        one[0] = (char) (0xc0 | c >> 6);
        one[1] = (char) (0x80 | (c & 0x3f));
        one[2] = '\0';

        if (gsm7(one, NULL)) {
            n++;
        }
    }

    is_int(n, 29, "gsm7: 29 Latin-1 characters beyond ASCII");
}


static void
segments(const char *s, size_t len, int encoding, size_t units,
    size_t expected, const char *why)
{
    int                 rc;
    ngx_otp_sms_info_t  info;

    memset(&info, 0, sizeof(info));

    rc = ngx_otp_message_segments((const u_char *) s, len, &info);

    ok(rc == NGX_OTP_OK && info.encoding == encoding && info.units == units
       && info.segments == expected, "segments: %s", why);

    if (rc != NGX_OTP_OK || info.encoding != encoding || info.units != units
        || info.segments != expected)
    {
        tap_diag("  rc %d, encoding %d (want %d), units %zu (want %zu), "
                 "segments %zu (want %zu)", rc, info.encoding, encoding,
                 info.units, units, info.segments, expected);
    }
}


/* n copies of the UTF-8 character c, then tail */

static size_t
repeat(char *buf, const char *c, size_t n, const char *tail)
{
    size_t  i, len;

    len = 0;

    for (i = 0; i < n; i++) {
        memcpy(buf + len, c, strlen(c));
        len += strlen(c);
    }

    memcpy(buf + len, tail, strlen(tail));

    return len + strlen(tail);
}


static void
test_segments(void)
{
    char                buf[2048];
    size_t              len;
    ngx_otp_sms_info_t  info;

    segments("", 0, NGX_OTP_SMS_GSM7, 0, 0, "empty text: no segment");

    len = repeat(buf, "a", 160, "");
    segments(buf, len, NGX_OTP_SMS_GSM7, 160, 1, "160 septets: one");
    len = repeat(buf, "a", 161, "");
    segments(buf, len, NGX_OTP_SMS_GSM7, 161, 2, "161 septets: two");
    len = repeat(buf, "a", 306, "");
    segments(buf, len, NGX_OTP_SMS_GSM7, 306, 2, "306 septets: two");
    len = repeat(buf, "a", 307, "");
    segments(buf, len, NGX_OTP_SMS_GSM7, 307, 3, "307 septets: three");

    len = repeat(buf, "a", 158, "{");
    segments(buf, len, NGX_OTP_SMS_GSM7, 160, 1,
             "158 + an extension character: 160 septets, one");
    len = repeat(buf, "a", 159, "{");
    segments(buf, len, NGX_OTP_SMS_GSM7, 161, 2,
             "159 + an extension character: 161 septets, two");

    /* 152 + "{" + 152: 306 septets, but the escape pair is not split */

    len = repeat(buf, "a", 152, "{");
    len += repeat(buf + len, "a", 152, "");
    segments(buf, len, NGX_OTP_SMS_GSM7, 306, 3,
             "an escape pair moves to the next part");

    len = repeat(buf, "\xd0\xb6", 70, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 70, 1, "70 UCS-2 characters: one");
    len = repeat(buf, "\xd0\xb6", 71, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 71, 2, "71 UCS-2 characters: two");
    len = repeat(buf, "\xd0\xb6", 134, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 134, 2, "134 UCS-2: two");
    len = repeat(buf, "\xd0\xb6", 135, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 135, 3, "135 UCS-2: three");

    len = repeat(buf, "a", 69, "\xd0\xb6");
    segments(buf, len, NGX_OTP_SMS_UCS2, 70, 1,
             "one non-GSM character makes all of it UCS-2");

    len = repeat(buf, "\xf0\x9f\x98\x80", 35, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 70, 1,
             "35 emoji are 70 UTF-16 units: one");

    len = repeat(buf, "\xd0\xb6", 66, "\xf0\x9f\x98\x80");
    len += repeat(buf + len, "\xd0\xb6", 66, "");
    segments(buf, len, NGX_OTP_SMS_UCS2, 134, 3,
             "a surrogate pair moves to the next part");

    memset(&info, 0, sizeof(info));
    len = repeat(buf, "\xc3\xa9", 3, "\xe2\x82\xac");
    is_int(ngx_otp_message_segments((u_char *) buf, len, &info), NGX_OTP_OK,
           "segments: \"\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x82\xac\"");
    ok(info.encoding == NGX_OTP_SMS_GSM7 && info.chars == 4
       && info.units == 5, "segments: chars count code points, units "
       "septets");

    is_int(ngx_otp_message_segments((u_char *) "a\xc0\xaf", 3, &info),
           NGX_OTP_EINVAL, "segments: overlong UTF-8 is EINVAL");
    is_int(ngx_otp_message_segments((u_char *) "\xed\xa0\x80", 3, &info),
           NGX_OTP_EINVAL, "segments: an encoded surrogate is EINVAL");
    is_int(ngx_otp_message_segments((u_char *) "\xe2\x82", 2, &info),
           NGX_OTP_EINVAL, "segments: a sequence cut short is EINVAL");
}


static void
decodes(const char *s, size_t len, size_t n, uint32_t cp, const char *why)
{
    size_t    got;
    uint32_t  c;

    c = 0xffffffff;
    got = ngx_otp_utf8_decode((const u_char *) s, len, &c);

    ok(got == n && (n == 0 || c == cp), "utf8: %s", why);

    if (got != n || (n && c != cp)) {
        tap_diag("  length %zu (want %zu), code point %x (want %x)", got, n,
                 c, cp);
    }
}


static void
test_utf8(void)
{
    decodes("A", 1, 1, 'A', "ASCII");
    decodes("\0", 1, 1, 0, "NUL is a character");
    decodes("\xc2\x80", 2, 2, 0x80, "smallest 2-byte");
    decodes("\xdf\xbf", 2, 2, 0x7ff, "largest 2-byte");
    decodes("\xe0\xa0\x80", 3, 3, 0x800, "smallest 3-byte");
    decodes("\xef\xbf\xbf", 3, 3, 0xffff, "largest 3-byte");
    decodes("\xf0\x90\x80\x80", 4, 4, 0x10000, "smallest 4-byte");
    decodes("\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff, "U+10FFFF");
    decodes("\xe2\x82\xac!", 4, 3, 0x20ac, "only the first character");

    decodes("", 0, 0, 0, "empty input");
    decodes("\x80", 1, 0, 0, "a stray continuation byte");
    decodes("\xc0\x80", 2, 0, 0, "overlong NUL");
    decodes("\xc1\xbf", 2, 0, 0, "overlong 2-byte");
    decodes("\xe0\x9f\xbf", 3, 0, 0, "overlong 3-byte");
    decodes("\xf0\x8f\xbf\xbf", 4, 0, 0, "overlong 4-byte");
    decodes("\xed\xa0\x80", 3, 0, 0, "U+D800, a surrogate");
    decodes("\xed\xbf\xbf", 3, 0, 0, "U+DFFF, a surrogate");
    decodes("\xf4\x90\x80\x80", 4, 0, 0, "U+110000");
    decodes("\xf5\x80\x80\x80", 4, 0, 0, "0xf5 lead byte");
    decodes("\xff", 1, 0, 0, "0xff");
    decodes("\xe2\x82\xac", 2, 0, 0, "cut short by len");
    decodes("\xe2\x28\xa1", 3, 0, 0, "a bad continuation byte");
}


static void
test_shows_code(void)
{
    size_t       i;

    static const struct {
        const char  *tpl;
        int          rc;
    } cases[] = {
        { "Your code is $code.", NGX_OTP_OK },
        { "Your code is ${code}.", NGX_OTP_OK },
        { "$code", NGX_OTP_OK },
        { "${code}${code}", NGX_OTP_OK },
        { "$$$code", NGX_OTP_OK },          /* "$" then the code */
        { "Code:$code_", NGX_OTP_EINVAL },
        { "Your code is $code_now.", NGX_OTP_EINVAL },
        { "Your code is $codex.", NGX_OTP_EINVAL },
        { "Your code is $$code.", NGX_OTP_EINVAL },
        { "Your code is ${code.", NGX_OTP_EINVAL },
        { "Your code is $CODE.", NGX_OTP_EINVAL },
        { "Your code is $ code.", NGX_OTP_EINVAL },
        { "No code at all", NGX_OTP_EINVAL },
        { "", NGX_OTP_EINVAL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(ngx_otp_message_shows_code((const u_char *) cases[i].tpl,
                                          strlen(cases[i].tpl)),
               cases[i].rc, "shows_code \"%s\"", cases[i].tpl);
    }
}


int
main(void)
{
    test_shows_code();
    test_render();
    test_gsm7();
    test_segments();
    test_utf8();

    return tap_done();
}

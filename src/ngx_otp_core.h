
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The pure core: everything the module decides without touching a socket,
 * a request or an nginx structure.  It depends on libc, OpenSSL's libcrypto
 * and jansson only, so each function is unit-tested and fuzzed on its own
 * (t/unit, t/fuzz).  nginx glue lives in ngx_http_otp_*.c.
 *
 * Conventions: byte strings are (const u_char *, size_t); functions that
 * write into a caller's buffer take its capacity and never write past it;
 * return codes are NGX_OTP_OK (0) or a negative NGX_OTP_E* value.
 */


#ifndef _NGX_OTP_CORE_H_INCLUDED_
#define _NGX_OTP_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_OTP_OK                 0
#define NGX_OTP_ERROR             -1   /* internal (RAND_bytes, HMAC, OOM) */
#define NGX_OTP_EINVAL            -2   /* malformed input */
#define NGX_OTP_ETOOBIG           -3   /* input over a documented limit */
#define NGX_OTP_EDUP              -4   /* a field given twice */
#define NGX_OTP_ETYPE             -5   /* JSON value of the wrong type */
#define NGX_OTP_ESIG              -6   /* token signature does not match */
#define NGX_OTP_EEXPIRED          -7   /* token expired */
#define NGX_OTP_ECLAIM            -8   /* token iss/aud/nbf/kid mismatch */


/* ngx_otp_channel.c: delivery channels */

#define NGX_OTP_SMS                0x01
#define NGX_OTP_WHATSAPP           0x02
#define NGX_OTP_VOICE              0x04
#define NGX_OTP_ALL_CHANNELS       0x07

/* "sms", "whatsapp", "voice"; "unknown" for anything else */
const char *ngx_otp_channel_name(unsigned channel);

/* the channel bit of an exact, case-sensitive name; 0 for an unknown one */
unsigned ngx_otp_channel_parse(const u_char *name, size_t len);

/*
 * Smart channel choice: channels (n, in the configured order) reordered by
 * their recent delivery rate, delivered[i] / sent[i].  Only channels with
 * at least min sends are known; the known ones are sorted by rate, highest
 * first, among the places they hold, and the others keep their places
 * (too few sends say nothing).  Ties keep the configured order.  Rates are
 * compared exactly (cross-multiplied), no floating point; delivered is
 * capped at sent (deliveries of sends from before the window).
 */
void ngx_otp_channel_order(unsigned *channels, const uint64_t *sent,
    const uint64_t *delivered, size_t n, uint64_t min);


/* ngx_otp_redis_info.c: Redis's INFO text */

#define NGX_OTP_REDIS_INFO_VALUE_MAX  64

/*
 * The value of the first line "field:value" of an INFO reply (lines end
 * in CRLF or LF; info need not be NUL-terminated): NGX_OTP_OK with *value
 * pointing into info, or NGX_OTP_EINVAL when there is no such line or its
 * value is empty, longer than NGX_OTP_REDIS_INFO_VALUE_MAX, or holds
 * anything but letters, digits, '-', '_' and '.'.
 */
int ngx_otp_redis_info_field(const u_char *info, size_t len,
    const char *field, const u_char **value, size_t *value_len);


/* ngx_otp_sentinel.c: what Redis Sentinel says of a master */

#define NGX_OTP_SENTINEL_NAME_MAX  64
#define NGX_OTP_SENTINEL_IP_MAX    46          /* INET6_ADDRSTRLEN */

typedef struct {
    u_char      ip[NGX_OTP_SENTINEL_IP_MAX];   /* NUL-terminated */
    size_t      ip_len;
    unsigned    port;                          /* 1..65535 */
} ngx_otp_sentinel_addr_t;

/* a master name: 1..NGX_OTP_SENTINEL_NAME_MAX of [A-Za-z0-9._-] */
int ngx_otp_sentinel_name_valid(const u_char *name, size_t len);

/*
 * A master's address as a sentinel gives it (the two strings of
 * SENTINEL get-master-addr-by-name): NGX_OTP_OK and *addr filled only for
 * a numeric IPv4 or IPv6 address (a host name would need a blocking
 * resolver in the worker) and a decimal port 1..65535; NGX_OTP_EINVAL
 * otherwise.
 */
int ngx_otp_sentinel_addr(const u_char *ip, size_t ip_len,
    const u_char *port, size_t port_len, ngx_otp_sentinel_addr_t *addr);

/*
 * A "+switch-master" message: "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT".
 * NGX_OTP_OK with the new address when it is about the master called
 * name; NGX_OTP_EDUP when it is about another master (nothing to do);
 * NGX_OTP_EINVAL when malformed.
 */
int ngx_otp_sentinel_switch(const u_char *msg, size_t len,
    const u_char *name, size_t name_len, ngx_otp_sentinel_addr_t *addr);


/* ngx_otp_redis_cluster.c: Redis Cluster's key slots and redirects */

#define NGX_OTP_CLUSTER_SLOTS      16384
#define NGX_OTP_CLUSTER_HOST_MAX   45      /* INET6_ADDRSTRLEN - 1 */

/*
 * The slot of a key: CRC16 of its hash tag (what is between the first
 * '{' and the first '}' after it, when that is not empty), else of the
 * whole key, modulo 16384.
 */
unsigned ngx_otp_cluster_key_slot(const u_char *key, size_t len);

/*
 * A node's address as a Redis node gives it: NGX_OTP_OK for a numeric
 * IPv4 or IPv6 address of at most NGX_OTP_CLUSTER_HOST_MAX bytes, or an
 * empty one ("the node that answered"), with a port of 1 to 65535;
 * NGX_OTP_EINVAL for anything else (a host name, "?", junk).
 */
int ngx_otp_cluster_node_addr(const u_char *host, size_t len,
    long long port);

/* one entry of CLUSTER SLOTS: start <= end < 16384 and its master's
 * address as ngx_otp_cluster_node_addr() takes it */
int ngx_otp_cluster_slots_entry(long long start, long long end,
    const u_char *host, size_t host_len, long long port);

typedef struct {
    unsigned        ask;            /* 0: MOVED, 1: ASK */
    unsigned        slot;
    const u_char   *host;           /* into the error text; may be empty */
    size_t          host_len;
    unsigned        port;
} ngx_otp_cluster_redirect_t;

/*
 * A redirect error's text, without the '-': "MOVED SLOT HOST:PORT" or
 * "ASK SLOT HOST:PORT" exactly, the address as ngx_otp_cluster_node_addr()
 * takes it.  NGX_OTP_EINVAL for any other text (r is then unspecified).
 */
int ngx_otp_cluster_redirect(const u_char *err, size_t len,
    ngx_otp_cluster_redirect_t *r);


/* ngx_otp_code.c: one-time codes */

#define NGX_OTP_CODE_MIN_LEN       4
#define NGX_OTP_CODE_MAX_LEN       10

/* fills buf with n random bytes; returns NGX_OTP_OK or NGX_OTP_ERROR */
typedef int (*ngx_otp_rand_pt)(u_char *buf, size_t n);

/*
 * Writes len uniform decimal digits (no NUL) into out, drawing bytes from
 * rand (RAND_bytes when rand is NULL) and rejecting bytes >= 250 so that
 * every digit is equally likely.  len must be within [MIN_LEN, MAX_LEN].
 */
int ngx_otp_code_generate(u_char *out, size_t len, ngx_otp_rand_pt rand);

/*
 * NGX_OTP_OK when code is exactly len ASCII digits, NGX_OTP_EINVAL
 * otherwise (also when len is outside [MIN_LEN, MAX_LEN]).  Code length is
 * not secret, so this check need not be constant-time.
 */
int ngx_otp_code_check_format(const u_char *code, size_t code_len, size_t len);


/* ngx_otp_crypto.c: keys, comparison and encodings */

#define NGX_OTP_HASH_LEN           32      /* SHA-256 / HMAC-SHA256 */
#define NGX_OTP_SECRET_MIN_LEN     16

int ngx_otp_hmac_sha256(const u_char *key, size_t key_len,
    const u_char *msg, size_t msg_len, u_char out[NGX_OTP_HASH_LEN]);

typedef struct {
    const u_char   *data;
    size_t          len;
} ngx_otp_hmac_part_t;

/*
 * The HMAC of the parts in a row (no copy into one buffer), with digest
 * "SHA1" or "SHA256"; out_len must be the digest's size.
 */
int ngx_otp_hmac(const char *digest, const u_char *key, size_t key_len,
    const ngx_otp_hmac_part_t *parts, size_t n, u_char *out, size_t out_len);
int ngx_otp_sha256(const u_char *msg, size_t msg_len,
    u_char out[NGX_OTP_HASH_LEN]);

/*
 * Store keys.  Domain-separated HMACs under the secret so that neither a
 * phone number nor a code is ever stored, and so that a code hash is bound
 * to its phone (the same code for two numbers hashes differently):
 *   phone key  = HMAC(secret, "otp-phone\0" || phone)
 *   code key   = HMAC(secret, "otp-code\0" || phone || "\0" || code)
 *   client key = HMAC(secret, "otp-client\0" || address)
 * A secret shorter than NGX_OTP_SECRET_MIN_LEN is NGX_OTP_EINVAL.
 */
int ngx_otp_key_phone(const u_char *secret, size_t secret_len,
    const u_char *phone, size_t phone_len, u_char out[NGX_OTP_HASH_LEN]);
int ngx_otp_key_code(const u_char *secret, size_t secret_len,
    const u_char *phone, size_t phone_len, const u_char *code,
    size_t code_len, u_char out[NGX_OTP_HASH_LEN]);
int ngx_otp_key_client(const u_char *secret, size_t secret_len,
    const u_char *addr, size_t addr_len, u_char out[NGX_OTP_HASH_LEN]);

/* 1 when equal; time depends on len only (CRYPTO_memcmp) */
int ngx_otp_ct_equal(const u_char *a, const u_char *b, size_t len);

/* lower-case hex; dst must hold 2 * len bytes; returns bytes written */
size_t ngx_otp_hex_encode(u_char *dst, const u_char *src, size_t len);

/* base64url without padding (RFC 4648 section 5) */
#define ngx_otp_base64url_encoded_len(n)  (((n) * 4 + 2) / 3)
size_t ngx_otp_base64url_encode(u_char *dst, const u_char *src, size_t len);
/*
 * returns NGX_OTP_OK and sets *dst_len, or NGX_OTP_EINVAL; accepts no '='.
 * Also EINVAL: any character outside the alphabet, len % 4 == 1, non-zero
 * unused bits in the last character (a non-canonical encoding), and a
 * result longer than dst_cap.
 */
int ngx_otp_base64url_decode(u_char *dst, size_t dst_cap, size_t *dst_len,
    const u_char *src, size_t len);

/* standard base64 with padding (RFC 4648 section 4) */
#define ngx_otp_base64_encoded_len(n)  (((n) + 2) / 3 * 4)
size_t ngx_otp_base64_encode(u_char *dst, const u_char *src, size_t len);
/*
 * Standard base64, padded or not, no white space (a configured secret):
 * unused low bits are ignored, as the Standard Webhooks libraries' own
 * decoders do.  EINVAL: a character outside the alphabet, len % 4 == 1
 * (after the padding), a result longer than dst_cap.
 */
int ngx_otp_base64_decode(u_char *dst, size_t dst_cap, size_t *dst_len,
    const u_char *src, size_t len);

/*
 * random identifier: prefix + 32 hex digits from 16 CSPRNG bytes; prefix
 * may be NULL; NGX_OTP_ETOOBIG when dst_cap cannot hold it all (no NUL)
 */
int ngx_otp_random_id(u_char *dst, size_t dst_cap, size_t *dst_len,
    const char *prefix);


/* ngx_otp_phone.c: E.164 */

#define NGX_OTP_PHONE_MIN_DIGITS   8
#define NGX_OTP_PHONE_MAX_DIGITS   15
#define NGX_OTP_PHONE_MAX_LEN      (1 + NGX_OTP_PHONE_MAX_DIGITS)
#define NGX_OTP_PHONE_INPUT_MAX    64      /* raw input, before clean-up */

/*
 * Normalises in to E.164 ("+" and 8-15 digits, first digit not 0) in out
 * (capacity >= NGX_OTP_PHONE_MAX_LEN).  Spaces, '-', '.', '(' and ')' are
 * removed; a leading "00" reads as "+"; a number with neither takes
 * default_cc (digits, may be NULL/empty = none) after dropping one national
 * trunk '0'.  Anything else (letters, a '+' not first, NUL, too short or
 * long, input over NGX_OTP_PHONE_INPUT_MAX) is NGX_OTP_EINVAL.
 *
 * Precisely: "first" is after the punctuation is removed, so " +1 (555)"
 * and "(+1) 555" keep their '+'.  default_cc must be 1-3 digits, not
 * starting with '0'; any other non-empty default_cc is EINVAL for numbers
 * that need it.
 */
int ngx_otp_phone_normalize(const u_char *in, size_t len,
    const u_char *default_cc, size_t default_cc_len, u_char *out,
    size_t *out_len);

/*
 * Masks an E.164 number for logs: "+", the first digit, one '*' per hidden
 * digit, the last four digits ("+15551234567" -> "+1******4567").  out must
 * hold len bytes; returns bytes written.  Input that is not E.164 is masked
 * completely ("+***").
 *
 * Precisely: E.164 here means what ngx_otp_phone_normalize() produces.
 * "+***" is 4 bytes, which may be more than a short invalid len: an out of
 * NGX_OTP_PHONE_MAX_LEN bytes is always enough, whatever the input.
 */
size_t ngx_otp_phone_mask(const u_char *phone, size_t len, u_char *out);


/* ngx_otp_fields.c: request body fields */

#define NGX_OTP_BODY_FORM          1
#define NGX_OTP_BODY_JSON          2

#define NGX_OTP_BODY_MAX_LEN       65536   /* over it: ETOOBIG */
#define NGX_OTP_JSON_MAX_DEPTH     32      /* deeper nesting: EINVAL */

typedef struct {
    const char     *name;       /* in: field name */
    u_char         *buf;        /* in: where the decoded value goes */
    size_t          cap;        /* in: capacity of buf (value limit) */
    size_t          len;        /* out: decoded length */
    unsigned        found:1;    /* out */
} ngx_otp_field_t;

/*
 * Extracts the named fields from an x-www-form-urlencoded or JSON body.
 * Form: '&'-separated pairs, '+' is space, %XX decoded, a bad escape is
 * EINVAL.  JSON: the body must be one object; wanted fields must be
 * strings (ETYPE otherwise); unknown members are ignored.  A decoded value
 * containing NUL or longer than cap is EINVAL / ETOOBIG; a wanted field
 * given twice is EDUP.  On error *bad names the field at fault (or NULL).
 *
 * Also: a form name is percent-decoded before it is compared, and a bad
 * escape anywhere (wanted field or not) is EINVAL; empty pairs are
 * skipped.  A JSON body with any key repeated, at any depth, is EDUP (so
 * *bad may be NULL); NUL in a wanted JSON value is EINVAL, elsewhere it is
 * ignored.  Fields start out not found, and a missing field is not an
 * error: the caller decides which ones it requires.  On error the fields
 * must not be used.  bad may be NULL.
 */
int ngx_otp_fields_parse(int type, const u_char *body, size_t len,
    ngx_otp_field_t *fields, size_t n, const char **bad);

/*
 * The x-www-form-urlencoded pieces the form readers share (fields_parse,
 * the webhook forms, Twilio's signature): one decoder so that all of them
 * take and refuse the same bytes.
 */

typedef struct {
    const u_char   *name;       /* raw, still escaped */
    size_t          name_len;
    const u_char   *value;      /* raw; the pair's end when no '=' */
    size_t          value_len;
    unsigned        eq:1;       /* the pair had an '=' */
} ngx_otp_form_pair_t;

/*
 * The next '&'-separated pair from *pos up to end, split at its first
 * '='; empty pairs ("a=1&&b=2", a trailing '&") are skipped.  Returns 1
 * with *pair set and *pos moved past it, or 0 when there is none left.
 */
int ngx_otp_form_next(const u_char **pos, const u_char *end,
    ngx_otp_form_pair_t *pair);

#define NGX_OTP_FORM_NO_NUL        1    /* a decoded NUL is EINVAL */

/*
 * Decodes '+' and %XX (either case) from src into dst (cap bytes).
 * EINVAL: a '%' without two hex digits after it (or, with NO_NUL, a
 * decoded NUL, checked for each byte before cap); ETOOBIG: more than cap
 * bytes.  With dst NULL it only checks the escapes and measures (*dst_len).
 */
int ngx_otp_form_unescape(const u_char *src, size_t len, u_char *dst,
    size_t cap, size_t *dst_len, unsigned flags);

/*
 * Whether src, decoded, is name (no buffer needed); src's escapes must
 * have been checked with ngx_otp_form_unescape().  A decoded NUL never
 * matches.
 */
int ngx_otp_form_name_is(const u_char *src, size_t len, const char *name);

/*
 * The bracket depth at the end of body[0 .. len), and the deepest one on
 * the way (in *max).  Brackets in strings do not count; the text need not
 * be valid JSON.  jansson parses recursively: a reader checks *max against
 * NGX_OTP_JSON_MAX_DEPTH before it parses.
 */
size_t ngx_otp_json_depth(const u_char *body, size_t len, size_t *max);


/* ngx_otp_jwt.c: HS256 tokens */

#define NGX_OTP_JWT_MAX_LEN        1024

typedef struct {
    const u_char   *sub;        /* verified phone, E.164 */
    size_t          sub_len;
    const u_char   *jti;
    size_t          jti_len;
    const u_char   *iss;        /* optional: NULL or empty = absent */
    size_t          iss_len;
    const u_char   *aud;        /* optional */
    size_t          aud_len;
    const u_char   *kid;        /* header "kid", optional */
    size_t          kid_len;
    int64_t         iat;
    int64_t         exp;
} ngx_otp_jwt_claims_t;

typedef struct {
    const u_char   *kid;
    size_t          kid_len;
    const u_char   *key;
    size_t          key_len;
} ngx_otp_jwt_key_t;

/* HMAC-SHA256 of input, base64url: the JWS signature (RFC 7515 A.1) */
int ngx_otp_jwt_sign_input(const u_char *key, size_t key_len,
    const u_char *input, size_t input_len, u_char *sig, size_t sig_cap,
    size_t *sig_len);

/*
 * header {"alg":"HS256","typ":"JWT","kid":...} . claims . signature
 *
 * Precisely: claims are {"sub","iat","exp","jti","iss","aud"} in that
 * order, compact; an empty kid, jti, iss or aud is left out.  EINVAL for a
 * key under NGX_OTP_SECRET_MIN_LEN, an empty sub, or a string with NUL or
 * invalid UTF-8; ETOOBIG when the token would not fit out_cap or would be
 * longer than NGX_OTP_JWT_MAX_LEN (verify would refuse it).
 */
int ngx_otp_jwt_issue(const ngx_otp_jwt_claims_t *claims,
    const u_char *key, size_t key_len, u_char *out, size_t out_cap,
    size_t *out_len);

/*
 * Verifies a token against keys[] (chosen by the header's kid; with no kid
 * the first key), alg must be HS256, exp > now (leeway seconds allowed),
 * iss/aud must equal the given ones when those are non-empty.  On success
 * copies sub into sub_buf (cap sub_cap) and sets *sub_len.
 *
 * Precisely: the signature is checked (in constant time) before the claims
 * are parsed.  EINVAL: not three non-empty parts, bad base64url, header or
 * claims not a JSON object, a member given twice, alg not exactly "HS256",
 * a "crit" header, kid not a string, exp missing or not an integer, sub
 * missing, empty or not a string.  ETOOBIG: token over NGX_OTP_JWT_MAX_LEN,
 * or sub over sub_cap.  ESIG: wrong signature.  EEXPIRED: exp + leeway <=
 * now.  ECLAIM: unknown kid, iss or aud mismatch (aud may be an array that
 * contains it), nbf > now + leeway.  ERROR: no keys, or the chosen key is
 * shorter than NGX_OTP_SECRET_MIN_LEN (a configuration fault).
 */
int ngx_otp_jwt_verify(const u_char *token, size_t len,
    const ngx_otp_jwt_key_t *keys, size_t nkeys, int64_t now,
    int64_t leeway, const u_char *iss, size_t iss_len, const u_char *aud,
    size_t aud_len, u_char *sub_buf, size_t sub_cap, size_t *sub_len);

/*
 * A string claim of a token that ngx_otp_jwt_verify() accepted (the gate's
 * jti): copied into buf (cap bytes).  NGX_OTP_OK; NGX_OTP_EINVAL when the
 * claims cannot be read, or the claim is absent or not a string (*len 0);
 * NGX_OTP_ETOOBIG over cap.  It checks nothing: verify first.
 */
int ngx_otp_jwt_claim(const u_char *token, size_t len, const char *name,
    u_char *buf, size_t cap, size_t *out_len);



/* ngx_otp_message.c: the text of a code message */

#define NGX_OTP_MESSAGE_MAX_LEN    1024    /* a rendered message, bytes */

#define NGX_OTP_MESSAGE_DEFAULT                                              \
    "Your $app code is $code. Valid for $ttl_minutes minutes. "              \
    "Do not share it."
#define NGX_OTP_MESSAGE_DEFAULT_NO_APP                                       \
    "Your verification code is $code. Valid for $ttl_minutes minutes. "      \
    "Do not share it."

typedef struct {
    const u_char   *code;
    size_t          code_len;
    const u_char   *app;        /* NULL or empty: no name */
    size_t          app_len;
    uint64_t        ttl;        /* seconds */
} ngx_otp_message_vars_t;

/*
 * Renders tpl into out: "$code", "$app" and "$ttl_minutes" (the ttl in
 * minutes, rounded up) are replaced, also in the "${name}" form; "$$" is
 * one "$"; any other "$" is left as it is, unknown names included.  A
 * name is the longest run of letters, digits and '_' after the "$".  A
 * NULL tpl is NGX_OTP_MESSAGE_DEFAULT, or NGX_OTP_MESSAGE_DEFAULT_NO_APP
 * when there is no app name.  Values are inserted as they are, never
 * rendered again.  ETOOBIG when the result would not fit out_cap (nothing
 * is cut: a cut message could lose the code).
 */
int ngx_otp_message_render(const u_char *tpl, size_t tpl_len,
    const ngx_otp_message_vars_t *vars, u_char *out, size_t out_cap,
    size_t *out_len);

/*
 * NGX_OTP_OK when tpl, rendered, shows the code: rendered with a code that
 * no configured text can spell (it holds NUL bytes), the code must be in
 * the output.  EINVAL otherwise ("$code_now", "$$code", "$codex" name no
 * code); ETOOBIG when even the shortest rendering does not fit.
 */
int ngx_otp_message_shows_code(const u_char *tpl, size_t tpl_len);

/*
 * The code point UTF-8 encodes at p: returns its length (1-4) and sets
 * *cp, or returns 0 for invalid UTF-8 (a stray continuation byte, a
 * sequence cut short, an overlong form, a surrogate, over U+10FFFF).
 */
size_t ngx_otp_utf8_decode(const u_char *p, size_t len, uint32_t *cp);

#define NGX_OTP_SMS_GSM7           1
#define NGX_OTP_SMS_UCS2           2

#define NGX_OTP_SMS_GSM7_SINGLE    160     /* septets in a lone SMS */
#define NGX_OTP_SMS_GSM7_PART      153     /* ... in one part of several */
#define NGX_OTP_SMS_UCS2_SINGLE    70      /* UTF-16 code units */
#define NGX_OTP_SMS_UCS2_PART      67

typedef struct {
    int             encoding;   /* NGX_OTP_SMS_GSM7 or NGX_OTP_SMS_UCS2 */
    size_t          chars;      /* code points */
    size_t          units;      /* septets, or UTF-16 code units */
    size_t          segments;   /* 0 for an empty text */
} ngx_otp_sms_info_t;

/*
 * 1 when every character of the UTF-8 text is in the GSM 03.38 default
 * alphabet or its extension table, 0 otherwise (invalid UTF-8 included);
 * *septets (may be NULL) counts an extension character as 2.
 */
int ngx_otp_message_gsm7(const u_char *text, size_t len, size_t *septets);

/*
 * How an SMS carries text: GSM-7 when ngx_otp_message_gsm7() says so, else
 * UCS-2, where a code point above U+FFFF takes two units as in UTF-16.
 * One segment holds 160 septets or 70 units; a longer text is split in
 * parts of 153 or 67, and an escape pair or a surrogate pair is never
 * split, as phones do it.  EINVAL for invalid UTF-8 (overlong forms,
 * surrogates and code points over U+10FFFF included).
 */
int ngx_otp_message_segments(const u_char *text, size_t len,
    ngx_otp_sms_info_t *info);


/* ngx_otp_provider_wire.c: provider requests and answers */

#define NGX_OTP_WIRE_ID_LEN        128     /* longest message id taken */
#define NGX_OTP_WIRE_ERROR_LEN     128     /* error text, no NUL */
#define NGX_OTP_WIRE_ANSWER_MAX    65536   /* longer: unreadable */

#define NGX_OTP_TWILIO_VOICE_LANGUAGE  "en-US"
#define NGX_OTP_META_LANGUAGE          "en_US"

typedef struct {
    const u_char   *data;
    size_t          len;
} ngx_otp_wire_str_t;

/*
 * Percent-encodes src for an x-www-form-urlencoded value: RFC 3986
 * unreserved characters are kept, every other byte is %XX (upper-case,
 * so a space is %20 and '+' is %2B).  With dst NULL only counts.
 * Returns the encoded length.
 */
size_t ngx_otp_form_escape(u_char *dst, const u_char *src, size_t len);

/*
 * Body builders.  Each writes the whole body into out (cap bytes, no NUL)
 * and sets *len, or with out NULL only sets *len to the size needed.
 * EINVAL: "to" not E.164 (as ngx_otp_phone_normalize() makes it), a code
 * that is not NGX_OTP_CODE_MIN_LEN..MAX_LEN ASCII digits, or a required
 * value empty; ETOOBIG: cap too small (out is then left incomplete).
 */

typedef struct {
    ngx_otp_wire_str_t  to;               /* E.164 */
    ngx_otp_wire_str_t  from;             /* sender; or empty, see below */
    ngx_otp_wire_str_t  service;          /* MessagingServiceSid (sms) */
    ngx_otp_wire_str_t  text;             /* sms */
    ngx_otp_wire_str_t  content_sid;      /* whatsapp template, HX... */
    ngx_otp_wire_str_t  language;         /* voice, e.g. "en-US" */
    ngx_otp_wire_str_t  status_callback;  /* empty: none */
    ngx_otp_wire_str_t  code;             /* whatsapp and voice */
} ngx_otp_twilio_msg_t;

/*
 * Twilio's Messages.json and Calls.json forms, fields in this order:
 *   sms:      To, From or MessagingServiceSid (exactly one given), Body
 *   whatsapp: To=whatsapp:+..., From=whatsapp:+..., ContentSid,
 *             ContentVariables={"1":"<code>"}
 *   voice:    To, From, Twiml (ngx_otp_twilio_twiml())
 * each followed by StatusCallback when one is set.
 */
int ngx_otp_twilio_sms_body(const ngx_otp_twilio_msg_t *m, u_char *out,
    size_t cap, size_t *len);
int ngx_otp_twilio_whatsapp_body(const ngx_otp_twilio_msg_t *m,
    u_char *out, size_t cap, size_t *len);
int ngx_otp_twilio_voice_body(const ngx_otp_twilio_msg_t *m, u_char *out,
    size_t cap, size_t *len);

/*
 * The TwiML of a voice call: the code said twice, its digits apart so
 * that they are read one by one:
 *   <Response><Say language="en-US">Your verification code is 1, 2, 3.
 *   </Say><Pause length="1"/><Say language="en-US">Again: 1, 2, 3.</Say>
 *   </Response>                                   (one line, no spaces
 * between tags); the language is XML-escaped.
 */
int ngx_otp_twilio_twiml(const u_char *language, size_t language_len,
    const u_char *code, size_t code_len, u_char *out, size_t cap,
    size_t *len);

typedef struct {
    ngx_otp_wire_str_t  to;               /* E.164; sent without '+' */
    ngx_otp_wire_str_t  name;             /* approved template */
    ngx_otp_wire_str_t  language;         /* e.g. "en_US" */
    ngx_otp_wire_str_t  code;
} ngx_otp_meta_msg_t;

/*
 * The WhatsApp Cloud API message of an authentication template: the code
 * is the body's parameter and the copy-code button's, compact JSON with
 * members in the documented order.  EINVAL also for a name or language
 * that is not valid UTF-8.
 */
int ngx_otp_meta_body(const ngx_otp_meta_msg_t *m, u_char *out, size_t cap,
    size_t *len);

#define NGX_OTP_META_TEXT_MAX      4096    /* characters of a text's body */

typedef struct {
    ngx_otp_wire_str_t  to;               /* E.164; sent without '+' */
    ngx_otp_wire_str_t  body;
} ngx_otp_meta_text_msg_t;

/*
 * A free-form WhatsApp text, which Meta delivers only within 24 hours of
 * the user's last message (a reply, such as HELP's):
 *   {"messaging_product":"whatsapp","recipient_type":"individual",
 *    "to":"<digits>","type":"text","text":{"preview_url":false,
 *    "body":"..."}}
 * the body JSON-escaped (quotes, backslashes, control characters; UTF-8
 * as it is).  EINVAL also for a body that is empty, not valid UTF-8, has
 * a NUL, or has more than NGX_OTP_META_TEXT_MAX characters (Meta's
 * limit).
 */
int ngx_otp_meta_text_body(const ngx_otp_meta_text_msg_t *m, u_char *out,
    size_t cap, size_t *len);

typedef struct {
    ngx_otp_wire_str_t  username;
    ngx_otp_wire_str_t  to;               /* E.164 */
    ngx_otp_wire_str_t  text;
    ngx_otp_wire_str_t  from;             /* empty: the account's */
} ngx_otp_africastalking_msg_t;

/* Africa's Talking's form: username, to, message, then from when set */
int ngx_otp_africastalking_body(const ngx_otp_africastalking_msg_t *m,
    u_char *out, size_t cap, size_t *len);

/*
 * Why a delivery attempt failed: the one thing about it a client is told
 * (API.md, the 502's attempts[].error), so a fixed word, never the
 * provider's or curl's text.  The README's "Error categories" table says
 * when each is given.
 */
#define NGX_OTP_DELIVERY_OK                0
#define NGX_OTP_DELIVERY_REJECTED          1   /* refused the message */
#define NGX_OTP_DELIVERY_AUTH_FAILED       2   /* HTTP 401, 403 */
#define NGX_OTP_DELIVERY_THROTTLED         3   /* HTTP 429 */
#define NGX_OTP_DELIVERY_UNAVAILABLE       4   /* HTTP 5xx */
#define NGX_OTP_DELIVERY_BAD_RESPONSE      5   /* an answer not understood */
#define NGX_OTP_DELIVERY_TIMEOUT           6
#define NGX_OTP_DELIVERY_CONNECT_FAILED    7
#define NGX_OTP_DELIVERY_TLS_FAILED        8
#define NGX_OTP_DELIVERY_BUDGET_EXHAUSTED  9   /* the provider's budget= */
#define NGX_OTP_DELIVERY_ABORTED           10  /* the worker is exiting */
#define NGX_OTP_DELIVERY_INTERNAL          11  /* ours: memory, setup */

/* "rejected", "timeout", ...; "internal" for an unknown category */
const char *ngx_otp_delivery_error_name(unsigned category);

/*
 * The category of an answer with HTTP status that refused a message:
 * 401 and 403 auth_failed, 429 throttled, 5xx unavailable, other 4xx
 * rejected; anything else (1xx, 2xx, 3xx) bad_response.
 */
unsigned ngx_otp_delivery_status_category(unsigned status);

typedef struct {
    u_char          id[NGX_OTP_WIRE_ID_LEN];
    size_t          id_len;

    /* a refusal: NGX_OTP_DELIVERY_*, and the provider's own number */
    unsigned        category;
    unsigned        has_provider_code:1;
    long long       provider_code;

    /* for the error log only: the provider's words, scrubbed */
    u_char          error[NGX_OTP_WIRE_ERROR_LEN];
    size_t          error_len;
} ngx_otp_wire_answer_t;

/*
 * Answer parsers: status is the HTTP status, body the answer (need not be
 * NUL-terminated), code the code the request carried (NULL: none).
 * NGX_OTP_OK when the provider took the message, with its id in a->id;
 * NGX_OTP_EINVAL when it refused it or the answer cannot be read, with:
 *
 *   a->category       ngx_otp_delivery_status_category(status), except
 *                     that a 2xx that refuses (an Africa's Talking
 *                     recipient) is rejected, and a 2xx without an id
 *                     bad_response;
 *   a->provider_code  Twilio's "code", Meta's error.code, Africa's
 *                     Talking's recipient statusCode, when it is an
 *                     integer whose digits do not hold the code;
 *   a->error          the provider's words: Twilio's "message", Meta's
 *                     error.message (its "(#<code>) " prefix dropped),
 *                     Africa's Talking's recipient status, its "Message",
 *                     or its text body; or the start of an answer that
 *                     cannot be read.  Possibly empty.
 *
 * a->error is made fit for a log line: cut (ending "...") to fit, white
 * space and control characters collapsed to one space, invalid UTF-8 made
 * '?', any run of four or more digits starred (providers echo phone
 * numbers), and then scrubbed by the code (ngx_otp_wire_scrub()).
 *
 * Precisely: an id is 1..NGX_OTP_WIRE_ID_LEN bytes in '!'..'~' other than
 * '"' and '\\', so that it can be logged and put in JSON as it is;
 * another is no id.  Twilio wants a 2xx and "sid", Meta a 2xx and
 * messages[0].id; Africa's Talking wants a 2xx and a first recipient with
 * statusCode 100, 101 or 102, and its messageId is optional (id_len 0).
 * A body over NGX_OTP_WIRE_ANSWER_MAX is not read.
 */
int ngx_otp_twilio_parse(unsigned status, const u_char *body, size_t len,
    const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a);
int ngx_otp_meta_parse(unsigned status, const u_char *body, size_t len,
    const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a);
int ngx_otp_africastalking_parse(unsigned status, const u_char *body,
    size_t len, const ngx_otp_wire_str_t *code, ngx_otp_wire_answer_t *a);

/*
 * Stars out, in place, every ASCII digit of text that may spell the code,
 * however it is written: "123456", "1, 2, 3, 4, 5, 6", "1-2-3-4-5-6",
 * "<Say>1</Say><Say>2</Say>...", the code cut short by a provider that
 * quotes part of it.  The digits of text are read as one sequence, as if
 * everything else were not there, and every NGX_OTP_SCRUB_RUN digits in a
 * row of that sequence that also stand in a row in the code are starred,
 * again on what is left, until no such run remains.  So what is left
 * never holds the code, nor NGX_OTP_SCRUB_RUN of its digits in a row;
 * at most NGX_OTP_SCRUB_RUN - 1 of them in a row may remain, unplaced,
 * out of a code of NGX_OTP_CODE_MIN_LEN digits or more.  Other numbers
 * stay unless they happen to share such a run with the code.  Meant for
 * a log line's worth of text (quadratic at worst).  Returns how many
 * digits were starred; with code_len 0 none.
 */
#define NGX_OTP_SCRUB_RUN          3

size_t ngx_otp_wire_scrub(u_char *text, size_t len, const u_char *code,
    size_t code_len);

/* ngx_otp_status.c: delivery statuses (API.md, "Delivery status") */

#define NGX_OTP_STATUS_QUEUED       1
#define NGX_OTP_STATUS_SENT         2
#define NGX_OTP_STATUS_DELIVERED    3
#define NGX_OTP_STATUS_READ         4
#define NGX_OTP_STATUS_UNDELIVERED  5
#define NGX_OTP_STATUS_FAILED       6

/* "queued", ...; NULL for another value */
const char *ngx_otp_status_name(unsigned status);
/* the status of a name of ours, or 0 */
unsigned ngx_otp_status_parse(const u_char *name, size_t len);
/* delivered, read, undelivered, failed */
int ngx_otp_status_terminal(unsigned status);
/*
 * Whether a report of status to may replace the stored status from:
 * statuses move forward only (queued, sent, delivered, read);
 * undelivered and failed are reached from queued or sent only; read,
 * undelivered and failed are final, delivered moves only to read; the
 * same status again is no step.  Unknown values never advance.
 */
int ngx_otp_status_advances(unsigned from, unsigned to);


/* ngx_otp_signature.c: webhook signatures (pure; constant-time compares) */

/*
 * The largest webhook body ngx_otp_twilio_validate() and the webhook
 * parsers below read.  Larger than NGX_OTP_BODY_MAX_LEN (the API's own
 * small bodies): providers batch deliveries (Meta's payloads reach 3 MB)
 * and answer a refusal with days of retries.  The HTTP layer reads at
 * most the location's otp_body_limit, which cannot be set above this
 * where a webhook is checked or parsed.
 */
#define NGX_OTP_HOOK_BODY_MAX_LEN   (8 * 1024 * 1024)

/*
 * Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, url + the
 * POST parameters sorted by name, each name followed by its value, a
 * name with several values: each distinct value in sorted order after
 * the name)).  url is the full URL Twilio called, query included; body
 * the raw application/x-www-form-urlencoded body (decoded here: '+' and
 * %XX).  When the query holds bodySHA256 (Twilio's JSON requests), the
 * URL alone is signed and the hex SHA-256 of body must equal it.  Like
 * Twilio's SDK validators, the signature is accepted for the URL as
 * given, with its port removed, or with the scheme's default port added.
 * NGX_OTP_OK; NGX_OTP_ESIG; NGX_OTP_EINVAL for a body or URL that cannot
 * be read; NGX_OTP_ETOOBIG over NGX_OTP_HOOK_BODY_MAX_LEN or
 * NGX_OTP_SIG_MAX_PARAMS parameters.
 */
#define NGX_OTP_SIG_MAX_PARAMS      256
#define NGX_OTP_SIG_URL_MAX         4096

int ngx_otp_twilio_validate(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const u_char *body, size_t body_len,
    const u_char *sig, size_t sig_len);
/* the signature itself (28 base64 characters into out), for tests and
 * tools; same inputs, url used as given */
int ngx_otp_twilio_sign(const u_char *token, size_t token_len,
    const u_char *url, size_t url_len, const u_char *body, size_t body_len,
    u_char out[28]);

/*
 * X-Hub-Signature-256 (Meta, GitHub): header is "sha256=" and the hex
 * HMAC-SHA256 of body with secret (either case of hex accepted).
 * NGX_OTP_OK or NGX_OTP_ESIG.
 */
int ngx_otp_hub_validate(const u_char *secret, size_t secret_len,
    const u_char *body, size_t body_len, const u_char *header,
    size_t header_len);

/*
 * Standard Webhooks: secret "whsec_" + base64 (the prefix optional),
 * signed content "<webhook-id>.<webhook-timestamp>.<body>", signature
 * header a space-separated list of "v1,<base64 HMAC-SHA256>" of which
 * one must match (other versions ignored); timestamp in seconds, and
 * |now - timestamp| <= tolerance.  NGX_OTP_OK; NGX_OTP_ESIG;
 * NGX_OTP_EEXPIRED outside the tolerance; NGX_OTP_EINVAL for a secret,
 * id or timestamp that cannot be read.
 */
int ngx_otp_stdwh_validate(const u_char *secret, size_t secret_len,
    const u_char *id, size_t id_len, const u_char *ts, size_t ts_len,
    const u_char *sigs, size_t sigs_len, const u_char *body,
    size_t body_len, time_t now, time_t tolerance);

/*
 * The signing side, for the webhooks the module sends: the header
 * webhook-signature's value, "v1," and the base64 HMAC-SHA256 of
 * "<id>.<ts>.<body>" (47 characters, no NUL) into out.  Same secret, id
 * and timestamp rules as the validation; NGX_OTP_OK or NGX_OTP_EINVAL.
 */
#define NGX_OTP_STDWH_HEADER_LEN    47

int ngx_otp_stdwh_sign(const u_char *secret, size_t secret_len,
    const u_char *id, size_t id_len, const u_char *ts, size_t ts_len,
    const u_char *body, size_t body_len,
    u_char out[NGX_OTP_STDWH_HEADER_LEN]);


/* ngx_otp_webhook.c: what providers' webhooks carry (pure) */

#define NGX_OTP_HOOK_MAX            1024    /* statuses or messages a POST */
#define NGX_OTP_HOOK_ERROR_LEN      32      /* an error code, bytes */

typedef struct {
    ngx_otp_wire_str_t  id;               /* the provider's message id */
    unsigned            status;           /* NGX_OTP_STATUS_*; 0: none of
                                             ours (e.g. Twilio "receiving") */
    ngx_otp_wire_str_t  error_code;       /* digits, or Africa's Talking's
                                             failureReason word; or empty */
} ngx_otp_hook_status_t;

typedef struct {
    u_char              from[NGX_OTP_PHONE_MAX_LEN];   /* E.164 */
    size_t              from_len;         /* 0: not a number we can read */
    ngx_otp_wire_str_t  text;             /* the message's text, decoded */
    unsigned            channel;          /* NGX_OTP_SMS or _WHATSAPP */
} ngx_otp_hook_message_t;

typedef struct {
    ngx_otp_hook_status_t   statuses[NGX_OTP_HOOK_MAX];
    size_t                  nstatuses;
    ngx_otp_hook_message_t  messages[NGX_OTP_HOOK_MAX];
    size_t                  nmessages;
    unsigned                truncated:1;    /* more than NGX_OTP_HOOK_MAX
                                               given: the first taken */
} ngx_otp_hook_t;

/*
 * Webhook parsers.  scratch must hold body_len bytes: decoded strings
 * live there (and in body), so h is valid while both are.  Ids and error
 * codes are checked like ngx_otp_wire_answer_t's id (printable, no quote
 * or backslash, NGX_OTP_WIRE_ID_LEN / NGX_OTP_HOOK_ERROR_LEN at most); an
 * entry whose id is not is left out.  A POST with none of ours answers
 * NGX_OTP_OK with nothing in h; NGX_OTP_EINVAL for a body that cannot be
 * read (or over NGX_OTP_HOOK_BODY_MAX_LEN).  Past NGX_OTP_HOOK_MAX
 * statuses or messages the first ones are taken and h->truncated is set.
 *
 * Twilio (form): a status callback has MessageSid and MessageStatus, or
 *   CallSid and CallStatus, and ErrorCode; an incoming message has
 *   MessageSid, From ("+..." or "whatsapp:+...") and Body, and no
 *   MessageStatus other than "received".  Mapping: accepted, scheduled,
 *   queued -> queued; sending, sent -> sent; delivered; read;
 *   undelivered; failed, canceled -> failed.  Calls: queued, initiated,
 *   ringing -> queued; in-progress -> sent; completed -> delivered;
 *   busy, no-answer -> undelivered; failed, canceled -> failed.
 * Meta (JSON): entry[].changes[].value.statuses[] (id, status: sent,
 *   delivered, read, failed; errors[0].code) and .messages[] (from as
 *   digits without '+', type "text" with text.body, or type "button"
 *   with button.text, or "interactive" replies' titles).
 * Africa's Talking (form): id, status (Submitted, Buffered, Sent ->
 *   sent; Success -> delivered; Rejected, Failed -> failed; others
 *   none), failureReason.
 */
int ngx_otp_hook_twilio(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_t *h);
int ngx_otp_hook_meta(const u_char *body, size_t len, u_char *scratch,
    ngx_otp_hook_t *h);
int ngx_otp_hook_africastalking(const u_char *body, size_t len,
    u_char *scratch, ngx_otp_hook_t *h);

/* an incoming text's keyword: the whole text, case and surrounding
 * white space ignored (as carriers read them) */
#define NGX_OTP_KEYWORD_NONE        0
#define NGX_OTP_KEYWORD_STOP        1   /* STOP STOPALL UNSUBSCRIBE CANCEL
                                           END QUIT */
#define NGX_OTP_KEYWORD_START       2   /* START UNSTOP */
#define NGX_OTP_KEYWORD_HELP        3   /* HELP INFO */
#define NGX_OTP_KEYWORD_YES         4   /* YES: START for a number that
                                           said STOP, a reply otherwise */

unsigned ngx_otp_keyword(const u_char *text, size_t len);

/*
 * A TwiML messaging answer: <?xml version="1.0" encoding="UTF-8"?>
 * <Response><Message>text, XML-escaped</Message></Response>, or
 * <Response/> for len 0.  Same contract as the body builders (out NULL:
 * only *outlen).
 */
int ngx_otp_twiml_message(const u_char *text, size_t len, u_char *out,
    size_t cap, size_t *outlen);


/* ngx_otp_seal.c: a sealed blob (AES-256-GCM), the fallback's copy of
 * a code; the key is derived from the secret (HMAC-SHA256 of the label
 * "otp-seal-v1"), the nonce random, aad bound to the blob (the message
 * id); out holds len + NGX_OTP_SEAL_OVERHEAD bytes */
#define NGX_OTP_SEAL_OVERHEAD       (12 + 16)

int ngx_otp_seal(const u_char *secret, size_t secret_len,
    const u_char *aad, size_t aad_len, const u_char *in, size_t len,
    u_char *out, size_t cap, size_t *outlen, ngx_otp_rand_pt rand);
/* NGX_OTP_ESIG when the blob was not sealed with this secret and aad */
int ngx_otp_open(const u_char *secret, size_t secret_len,
    const u_char *aad, size_t aad_len, const u_char *in, size_t len,
    u_char *out, size_t cap, size_t *outlen);


/* ngx_otp_fallback.c: the fallback's record of a code (otp_fallback), the
 * plain text that is sealed into a message record */

#define NGX_OTP_FALLBACK_NAME_MAX   32
#define NGX_OTP_FALLBACK_LOCALE_MAX 16

typedef struct {
    unsigned            channel;          /* NGX_OTP_SMS.. */
    u_char              phone[NGX_OTP_PHONE_MAX_LEN];
    size_t              phone_len;
    u_char              code[NGX_OTP_CODE_MAX_LEN];
    size_t              code_len;
    u_char              provider[NGX_OTP_FALLBACK_NAME_MAX];
    size_t              provider_len;
    u_char              locale[NGX_OTP_FALLBACK_LOCALE_MAX];
    size_t              locale_len;
    u_char              text[NGX_OTP_MESSAGE_MAX_LEN];
    size_t              text_len;
    int64_t             expires;          /* the code's, ms since epoch */
    uint64_t            message_ttl;      /* ms */
} ngx_otp_fallback_record_t;

/*
 * Version 1: version, channel, then phone, code, provider and locale each
 * as a length byte and its bytes, expires and message_ttl (8 bytes each,
 * big-endian), text (a 2-byte big-endian length and its bytes).  encode:
 * out NULL measures (*len); NGX_OTP_ETOOBIG when cap is short or a field
 * is over its buffer; NGX_OTP_EINVAL for a record decode would refuse.
 * decode: NGX_OTP_OK, or NGX_OTP_EINVAL for anything but exactly one
 * well-formed record (a phone of 2 bytes at least, a code of 1 at least,
 * a known channel), r then zeroed.
 */
int ngx_otp_fallback_encode(const ngx_otp_fallback_record_t *r, u_char *out,
    size_t cap, size_t *len);
int ngx_otp_fallback_decode(const u_char *in, size_t len,
    ngx_otp_fallback_record_t *r);


/* ngx_otp_analytics.c: delivery analytics (issue 10) */

#define NGX_OTP_COUNTRY_MAX        3       /* digits of a calling code */
#define NGX_OTP_TIME_LEN           20      /* "2026-11-30T18:00:00Z" */

/*
 * The ITU-T E.164 country calling code that begins number ("+" and
 * digits, or digits): the longest assigned code of 1 to 3 digits (1, 7,
 * 20, 27, 30, ..., 211, ..., 998).  Returns its length and leaves its
 * digits at *cc (pointing into number), or 0 for a number that begins
 * with no assigned code (a spare code such as 210, or not digits).
 */
size_t ngx_otp_country_code(const u_char *number, size_t len,
    const u_char **cc);

/*
 * A time of the analytics query: unix seconds (1 to 12 digits), or RFC
 * 3339 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t' and 'z'
 * too, RFC 3339 5.6; the fraction is dropped).  NGX_OTP_OK with *sec,
 * or NGX_OTP_EINVAL (a date that does not exist, a leap second, a year
 * before 1970 or after 9999, anything else).
 */
int ngx_otp_time_parse(const u_char *text, size_t len, int64_t *sec);

/* sec (0 .. 253402300799) as "YYYY-MM-DDTHH:MM:SSZ": NGX_OTP_TIME_LEN
 * bytes, no NUL; 0 and nothing written when out of range */
size_t ngx_otp_time_format(int64_t sec, u_char *out);

/*
 * The fixed histogram of delivery times (ms): bucket i counts times
 * <= ngx_otp_delivery_bounds[i] (and > the bound before it); the last,
 * NGX_OTP_DELIVERY_BUCKETS - 1, counts the rest (+Inf).
 */
#define NGX_OTP_DELIVERY_BUCKETS   11

extern const uint64_t  ngx_otp_delivery_bounds[NGX_OTP_DELIVERY_BUCKETS - 1];

/* the bucket of a delivery time of ms */
unsigned ngx_otp_delivery_bucket(uint64_t ms);

/*
 * The q-quantile (0 < q <= 1, permille: 950 is p95) of the times counted
 * in hist (NGX_OTP_DELIVERY_BUCKETS counts), as Prometheus's
 * histogram_quantile() reads one: rank = q * total, the bucket where the
 * running count reaches it, linear interpolation between its bounds (the
 * first bucket's lower bound is 0); a rank in the +Inf bucket reads as the
 * highest finite bound.  -1 when hist counts nothing.
 */
int64_t ngx_otp_delivery_quantile(const uint64_t *hist, unsigned permille);

/*
 * A counter of the Redis store's hour hashes (otp:{a}:HOUR, written by
 * message_put.lua and status_set.lua): "c|CHANNEL|PROVIDER|COUNTRY|NAME",
 * a counter of the counts row of those (NAME s, d, f, n, ms, cost, h0 ..
 * h10), or "e|CHANNEL|PROVIDER|COUNTRY|ERROR", the count of the failure
 * row of that error code (which may hold '|').  NGX_OTP_OK with *f (its
 * strings point into field), or NGX_OTP_EINVAL for a field the module
 * cannot read: another kind, a channel ngx_otp_channel_parse() does not
 * know, an empty provider or one longer than provider_max, a country
 * longer than NGX_OTP_COUNTRY_MAX, an error code longer than error_max.
 * A counts row's NAME the module does not know is NGX_OTP_OK with
 * counter NGX_OTP_COUNTER_UNKNOWN (a newer version's counter: its row
 * still is one).
 */
#define NGX_OTP_COUNTER_UNKNOWN    -1
#define NGX_OTP_COUNTER_SENT       0
#define NGX_OTP_COUNTER_DELIVERED  1
#define NGX_OTP_COUNTER_FAILED     2
#define NGX_OTP_COUNTER_MS_COUNT   3
#define NGX_OTP_COUNTER_MS_SUM     4
#define NGX_OTP_COUNTER_COST       5
#define NGX_OTP_COUNTER_HIST       6       /* + the bucket */

typedef struct {
    unsigned            failure;        /* "e|" */
    unsigned            channel;        /* NGX_OTP_SMS .. */
    const u_char       *provider;
    size_t              provider_len;
    const u_char       *country;
    size_t              country_len;
    const u_char       *error;          /* failure: the error code;
                                           "" otherwise */
    size_t              error_len;
    int                 counter;        /* counts: NGX_OTP_COUNTER_* */
} ngx_otp_analytics_field_t;

int ngx_otp_analytics_field_parse(const u_char *field, size_t len,
    size_t provider_max, size_t error_max, ngx_otp_analytics_field_t *f);
/* ngx_otp_price.c: the price table's lines (otp_price, otp_price_file) */

#define NGX_OTP_PRICE_SCALE        1000000    /* prices are in millionths */
#define NGX_OTP_PRICE_INT_DIGITS   6          /* a price under 1000000 */
#define NGX_OTP_PRICE_FRAC_DIGITS  6
#define NGX_OTP_PRICE_NAME_MAX     32         /* otp_provider's NAME */
#define NGX_OTP_PRICE_PREFIX_MAX   15         /* E.164's digits */
#define NGX_OTP_PRICE_STR_LEN      24         /* INT64_MAX millionths */

typedef struct {
    const u_char       *data;
    size_t              len;
} ngx_otp_price_word_t;

/* one entry: words point into the caller's text */
typedef struct {
    ngx_otp_price_word_t  provider;
    unsigned              channel;        /* NGX_OTP_SMS.. */
    ngx_otp_price_word_t  prefix;         /* digits, no "+"; len 0: default */
    int64_t               price;          /* millionths */
    size_t                line;           /* in a file; 0 */
} ngx_otp_price_t;

/* takes an entry of a file; NGX_OTP_OK, or an error with *err set */
typedef int (*ngx_otp_price_add_pt)(void *data, const ngx_otp_price_t *p,
    const char **err);

/*
 * A price, exactly: 1-6 integer digits, optionally "." and 1 or more
 * fraction digits of which those past the 6th are all "0"; no sign, no
 * exponent, no spaces.  NGX_OTP_EINVAL for anything else.
 */
int ngx_otp_price_amount(const u_char *s, size_t len, int64_t *millionths);

/*
 * millionths as a decimal with at least 2 fraction digits and no
 * trailing zero past them ("0.0474", "1.50", "0.00"); buf holds
 * NGX_OTP_PRICE_STR_LEN bytes; returns the length, 0 for a negative
 * value (unknown).  Not NUL-terminated.
 */
size_t ngx_otp_price_format(int64_t millionths, u_char *buf);

/*
 * The four words PROVIDER CHANNEL PREFIX PRICE of an entry: a provider
 * name (1-32 of [A-Za-z0-9_-]), "sms", "whatsapp" or "voice", "+" and
 * 1-15 digits (the "+" optional) or
 * "default", a price.  NGX_OTP_EINVAL with *err naming
 * the word at fault.
 */
int ngx_otp_price_entry(const ngx_otp_price_word_t *w, ngx_otp_price_t *p,
    const char **err);

/*
 * A price file: entries of ngx_otp_price_entry()'s four words, each
 * ended by ";", separated by spaces, tabs and newlines; "#" outside a
 * word starts a comment to the end of its line.  Every entry goes to
 * add() in the file's order.  On an error, *line is the 1-based line of
 * the entry (or of the end of the text), *err what is wrong: returns
 * NGX_OTP_EINVAL, or add()'s code.
 */
int ngx_otp_price_parse(const u_char *text, size_t len,
    ngx_otp_price_add_pt add, void *data, size_t *line, const char **err);

/*
 * The estimated cost of one message: price per SMS segment of text, or
 * per message on the other channels.  -1 when an SMS's text is not
 * valid UTF-8 (no estimate).
 */
int64_t ngx_otp_price_cost(int64_t price, unsigned channel,
    const u_char *text, size_t len);


/*
 * ngx_otp_json.c: len bytes of anything as the contents of a JSON string,
 * at dst, which has room for NGX_OTP_JSON_ESCAPED_MAX * len: '"', '\' and
 * the controls escaped, valid UTF-8 as it is, any other byte as \u00XX.
 * Returns the end.
 */
#define NGX_OTP_JSON_ESCAPED_MAX   6

u_char *ngx_otp_json_escape(u_char *dst, const u_char *src, size_t len);


#endif /* _NGX_OTP_CORE_H_INCLUDED_ */

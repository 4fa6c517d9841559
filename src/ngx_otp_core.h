
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


#endif /* _NGX_OTP_CORE_H_INCLUDED_ */

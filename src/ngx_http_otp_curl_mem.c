
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The allocator libcurl is given (curl_global_init_mem()): malloc's, with
 * each block's size kept in front of it, so that a block is wiped when
 * curl frees it, and when curl grows it, which realloc would do by moving
 * it and freeing the old one as it is.  curl copies a small request body
 * into its own request buffer and keeps credentials and answers in blocks
 * of its own: none of them may outlive its use in freed memory.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <curl/curl.h>

#include "ngx_http_otp_http.h"


/* the size of a block, kept before it; malloc's alignment */
#define NGX_HTTP_OTP_CURL_MEM_HEAD  16


static void *ngx_http_otp_curl_malloc(size_t size);
static void ngx_http_otp_curl_free(void *ptr);
static void *ngx_http_otp_curl_realloc(void *ptr, size_t size);
static char *ngx_http_otp_curl_strdup(const char *str);
static void *ngx_http_otp_curl_calloc(size_t nmemb, size_t size);


ngx_int_t
ngx_http_otp_curl_global_init(void)
{
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, ngx_http_otp_curl_malloc,
                             ngx_http_otp_curl_free,
                             ngx_http_otp_curl_realloc,
                             ngx_http_otp_curl_strdup,
                             ngx_http_otp_curl_calloc)
        != CURLE_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_otp_curl_malloc(size_t size)
{
    u_char  *p;

    if (size > (size_t) -1 - NGX_HTTP_OTP_CURL_MEM_HEAD) {
        return NULL;
    }

    p = malloc(size + NGX_HTTP_OTP_CURL_MEM_HEAD);
    if (p == NULL) {
        return NULL;
    }

    *(size_t *) p = size;

    return p + NGX_HTTP_OTP_CURL_MEM_HEAD;
}


static void
ngx_http_otp_curl_free(void *ptr)
{
    u_char  *p;

    if (ptr == NULL) {
        return;
    }

    p = (u_char *) ptr - NGX_HTTP_OTP_CURL_MEM_HEAD;

    ngx_explicit_memzero(p, *(size_t *) p + NGX_HTTP_OTP_CURL_MEM_HEAD);

    free(p);
}


static void *
ngx_http_otp_curl_realloc(void *ptr, size_t size)
{
    void    *n;
    size_t   old;

    if (ptr == NULL) {
        return ngx_http_otp_curl_malloc(size);
    }

    old = *(size_t *) ((u_char *) ptr - NGX_HTTP_OTP_CURL_MEM_HEAD);

    n = ngx_http_otp_curl_malloc(size);
    if (n == NULL) {
        return NULL;
    }

    ngx_memcpy(n, ptr, ngx_min(old, size));

    ngx_http_otp_curl_free(ptr);

    return n;
}


static char *
ngx_http_otp_curl_strdup(const char *str)
{
    char    *p;
    size_t   len;

    len = ngx_strlen(str) + 1;

    p = ngx_http_otp_curl_malloc(len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, str, len);

    return p;
}


static void *
ngx_http_otp_curl_calloc(size_t nmemb, size_t size)
{
    void  *p;

    if (size && nmemb > (size_t) -1 / size) {
        return NULL;
    }

    p = ngx_http_otp_curl_malloc(nmemb * size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memzero(p, nmemb * size);

    return p;
}

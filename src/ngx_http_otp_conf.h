
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Configuration helpers (ngx_http_otp_conf.c).
 */


#ifndef _NGX_HTTP_OTP_CONF_H_INCLUDED_
#define _NGX_HTTP_OTP_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A secret or credential file, read at configuration time into cf->pool:
 * at most 4096 bytes, at least min after one trailing line ending is
 * dropped.  Warns when the file is readable by everyone.
 */
char *ngx_http_otp_read_file(ngx_conf_t *cf, ngx_str_t *path, size_t min,
    ngx_str_t *key);

/* a number prefix, "+254" or "254": *prefix gets its digits */
ngx_int_t ngx_http_otp_prefix(ngx_str_t *value, ngx_str_t *prefix);

/* a locale tag: letters, digits, '-' and '_', a letter first, at most 16 */
ngx_int_t ngx_http_otp_locale_valid(ngx_str_t *locale);


#endif /* _NGX_HTTP_OTP_CONF_H_INCLUDED_ */


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

/*
 * A shared memory zone named prefix and the 8 hex digits of layout, a
 * checksum of what the zone holds: an unchanged layout finds its zone,
 * and its data, again across a reload; a changed one gets a new zone,
 * while the old generation's workers keep theirs.  size: the zone's data
 * (8 pages more for the slab pool's own); tag: the module's.
 */
ngx_shm_zone_t *ngx_http_otp_layout_zone(ngx_conf_t *cf, const char *prefix,
    uint32_t layout, size_t size, void *tag, ngx_shm_zone_init_pt init,
    void *data);

/* a number prefix, "+254" or "254": *prefix gets its digits */
ngx_int_t ngx_http_otp_prefix(ngx_str_t *value, ngx_str_t *prefix);

/* a locale tag: letters, digits, '-' and '_', a letter first, at most 16 */
ngx_int_t ngx_http_otp_locale_valid(ngx_str_t *locale);


#endif /* _NGX_HTTP_OTP_CONF_H_INCLUDED_ */

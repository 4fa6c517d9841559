
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Configuration helpers shared by the module's directives, the provider
 * port and the store backends: the one reader of secret and credential
 * files, and the validators of directive arguments.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_otp_core.h"
#include "ngx_http_otp_conf.h"


/*
 * Reads a key file at configuration time (the master, before any worker
 * exists).  One trailing line ending is dropped so that "echo $KEY >
 * file" works; anything else, spaces included, is the key's.  The key
 * itself is never logged.
 */

char *
ngx_http_otp_read_file(ngx_conf_t *cf, ngx_str_t *path, size_t min,
    ngx_str_t *key)
{
    char             *rv;
    u_char           *buf;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         name;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;
    buf = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > 4096) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is larger than 4096 bytes",
                           &name);
        goto done;
    }

    if (fi.st_mode & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "key file \"%V\" is readable by everyone", &name);
    }

    buf = ngx_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto done;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = name;
    file.log = cf->log;

    n = ngx_read_file(&file, buf, size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    size = (size_t) n;

    /* one line ending, as "echo KEY > file" writes it; blanks are part
     * of the key (a Redis password may end in a space) */

    if (size > 0 && buf[size - 1] == '\n') {
        size--;

        if (size > 0 && buf[size - 1] == '\r') {
            size--;
        }
    }

    if (size < min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" holds %uz bytes, at least %uz "
                           "are required", &name, size, min);
        goto done;
    }

    key->data = buf;
    key->len = size;
    rv = NGX_CONF_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &name);
    }

    return rv;
}


/* a zone named by its layout: ngx_http_otp_conf.h says why */

ngx_shm_zone_t *
ngx_http_otp_layout_zone(ngx_conf_t *cf, const char *prefix, uint32_t layout,
    size_t size, void *tag, ngx_shm_zone_init_pt init, void *data)
{
    size_t           len;
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    len = ngx_strlen(prefix);

    name.data = ngx_pnalloc(cf->pool, len + 8);
    if (name.data == NULL) {
        return NULL;
    }

    name.len = ngx_sprintf(name.data, "%s%08xD", prefix, layout) - name.data;

    /* room for the slab pool's own pages besides the data */
    size = 8 * ngx_pagesize + ngx_align(size, ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already used",
                           &name);
        return NULL;
    }

    zone->init = init;
    zone->data = data;

    return zone;
}


/* "+254" or "254" -> "254" */

ngx_int_t
ngx_http_otp_prefix(ngx_str_t *value, ngx_str_t *prefix)
{
    ngx_uint_t  i;

    *prefix = *value;

    if (prefix->len && prefix->data[0] == '+') {
        prefix->data++;
        prefix->len--;
    }

    if (prefix->len == 0 || prefix->len > NGX_OTP_PHONE_MAX_DIGITS) {
        return NGX_ERROR;
    }

    for (i = 0; i < prefix->len; i++) {
        if (prefix->data[i] < '0' || prefix->data[i] > '9') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* letters, digits and '-', starting with a letter, at most 16 */

ngx_int_t
ngx_http_otp_locale_valid(ngx_str_t *locale)
{
    u_char      c;
    ngx_uint_t  i;

    if (locale->len == 0 || locale->len > 16) {
        return NGX_ERROR;
    }

    for (i = 0; i < locale->len; i++) {
        c = locale->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_')))
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}

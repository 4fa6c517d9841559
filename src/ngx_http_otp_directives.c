/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The directives' handlers: what a directive's arguments mean, checked at
 * configuration time (the command table, the configuration life cycle and
 * the worker life cycle are in ngx_http_otp_module.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_directives.h"
#include "ngx_http_otp_app.h"


#define NGX_HTTP_OTP_TOKEN_KEY_MIN_LEN  32


char *
ngx_http_otp_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char  *rv;

    if (olcf->handler) {
        return "is duplicate";
    }

    rv = ngx_http_otp_content_handler(cf, ngx_http_otp_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    olcf->handler = cmd->offset;

    ngx_http_otp_app_used(cf);

    return NGX_CONF_OK;
}


/*
 * A location's content handler: one per location, as proxy_pass and the
 * others each set clcf->handler.  A second one (otp_metrics with otp_send,
 * otp_send with proxy_pass) would silently replace the first: refused.
 */

char *
ngx_http_otp_content_handler(ngx_conf_t *cf, ngx_http_handler_pt handler)
{
    ngx_http_otp_loc_conf_t   *olcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler of the location";
    }

    clcf->handler = handler;

    olcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_otp_module);
    olcf->content = handler;

    return NGX_CONF_OK;
}


char *
ngx_http_otp_store_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t *omcf = conf;

    u_char     *p, *last;
    ssize_t     size;
    ngx_str_t  *value, name, s;

    if (omcf->store_set) {
        return "is duplicate";
    }

    omcf->store_set = 1;

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "redis", 5) == 0) {
        return ngx_http_otp_store_redis_conf(cf, &omcf->store, &value[1],
                                             cf->args->nelts - 1);
    }

    if (ngx_strncmp(value[1].data, "shm:", 4) != 0 || cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": expected "
                           "\"shm:NAME:SIZE\" or \"redis://HOST:PORT/DB\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 4;
    last = value[1].data + value[1].len;

    p = ngx_strlchr(name.data, last, ':');

    if (p == NULL || p == name.data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": expected \"shm:NAME:SIZE\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = p - name.data;

    s.data = p + 1;
    s.len = last - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store size in \"%V\": at least %uz "
                           "bytes", &value[1], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    return ngx_http_otp_store_shm_conf(cf, &omcf->store, &name, size,
                                       &ngx_http_otp_module);
}


/* the provider port parses it; the providers live in the main conf */

char *
ngx_http_otp_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_app_t        *app;
    ngx_http_otp_main_conf_t  *omcf;

    app = ngx_http_otp_app_conf(cf, conf);
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    /* one HTTP client for all apps: only the credentials are theirs */

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    return ngx_http_otp_provider_add(cf, &app->providers, &omcf->http);
}


char *
ngx_http_otp_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t           *value;
    ngx_http_otp_app_t  *app;

    app = ngx_http_otp_app_conf(cf, conf);
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    if (app->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_otp_read_file(cf, &value[1], NGX_OTP_SECRET_MIN_LEN,
                                 &app->secret);
}


char *
ngx_http_otp_token_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                *rv;
    ngx_str_t           *value, key, kid;
    ngx_http_otp_app_t  *app;

    app = ngx_http_otp_app_conf(cf, conf);
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    rv = ngx_http_otp_read_file(cf, &value[1], NGX_HTTP_OTP_TOKEN_KEY_MIN_LEN,
                               &key);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cf->args->nelts == 3) {
        kid = value[2];

    } else {
        ngx_str_null(&kid);
    }

    if (ngx_http_otp_add_token_key(cf, app, &key, &kid) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Adds a token key; the first one signs, all verify.  Without a kid the
 * key is named after its own hash, which says nothing about the key but
 * lets a verifier pick it after a rotation.
 */

ngx_int_t
ngx_http_otp_add_token_key(ngx_conf_t *cf, ngx_http_otp_app_t *app,
    ngx_str_t *key, ngx_str_t *kid)
{
    u_char             *p;
    ngx_uint_t          i;
    ngx_otp_jwt_key_t  *k;
    u_char              hash[NGX_OTP_HASH_LEN];

    if (kid->len == 0) {
        if (ngx_otp_sha256(key->data, key->len, hash) != NGX_OTP_OK) {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(cf->pool, 16);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_otp_hex_encode(p, hash, 8);

        kid->data = p;
        kid->len = 16;
    }

    k = app->token_keys.elts;

    for (i = 0; i < app->token_keys.nelts; i++) {
        if (k[i].kid_len == kid->len
            && ngx_strncmp(k[i].kid, kid->data, kid->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate token key id \"%V\"", kid);
            return NGX_ERROR;
        }
    }

    k = ngx_array_push(&app->token_keys);
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->kid = kid->data;
    k->kid_len = kid->len;
    k->key = key->data;
    k->key_len = key->len;

    return NGX_OK;
}


char *
ngx_http_otp_channels(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, j, ch, *chp, *seen;

    if (olcf->channels != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    olcf->channels = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(ngx_uint_t));
    if (olcf->channels == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        ch = ngx_otp_channel_parse(value[i].data, value[i].len);

        if (ch == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown channel \"%V\": expected \"sms\", "
                               "\"whatsapp\" or \"voice\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        seen = olcf->channels->elts;

        for (j = 0; j < olcf->channels->nelts; j++) {
            if (seen[j] == ch) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "channel \"%V\" is listed twice",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        chp = ngx_array_push(olcf->channels);
        if (chp == NULL) {
            return NGX_CONF_ERROR;
        }

        *chp = ch;
    }

    return NGX_CONF_OK;
}


/*
 * otp_body_limit SIZE: a size slot that also remembers it was given, for
 * the webhook locations' larger default (the merged value alone cannot
 * tell an explicit 4k from the default)
 */

char *
ngx_http_otp_body_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char  *rv;

    rv = ngx_conf_set_size_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        olcf->body_limit_set = 1;
    }

    return rv;
}


/* "N/TIME", e.g. "5/15m"; "off" means no limit */

char *
ngx_http_otp_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char               *slash;
    ngx_int_t             n;
    ngx_msec_t            window;
    ngx_str_t            *value, s;
    ngx_http_otp_rate_t  *rate;

    rate = (ngx_http_otp_rate_t *) (p + cmd->offset);

    if (rate->count != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * A client keyed by its full IPv6 address changes address at will:
     * one host is routinely given a whole /64.  So IPv6 clients are keyed
     * by their /64 unless told otherwise.
     */

    rate->ipv6_prefix = NGX_HTTP_OTP_IPV6_PREFIX;

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("ipv6_prefix=") - 1
            || ngx_strncmp(value[2].data, "ipv6_prefix=",
                           sizeof("ipv6_prefix=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        n = ngx_atoi(value[2].data + sizeof("ipv6_prefix=") - 1,
                     value[2].len - (sizeof("ipv6_prefix=") - 1));

        if (n == NGX_ERROR || n < 1 || n > 128) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\": ipv6_prefix= takes "
                               "a prefix length from 1 to 128", &value[2]);
            return NGX_CONF_ERROR;
        }

        rate->ipv6_prefix = n;
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts == 3) {
            return "takes no parameters with \"off\"";
        }

        rate->count = 0;
        rate->window = 0;
        return NGX_CONF_OK;
    }

    slash = ngx_strlchr(value[1].data, value[1].data + value[1].len, '/');
    if (slash == NULL) {
        goto invalid;
    }

    n = ngx_atoi(value[1].data, slash - value[1].data);
    if (n == NGX_ERROR || n < 1) {
        goto invalid;
    }

    s.data = slash + 1;
    s.len = value[1].data + value[1].len - s.data;

    window = ngx_parse_time(&s, 0);
    if (window == (ngx_msec_t) NGX_ERROR || window < 1000) {
        goto invalid;
    }

    rate->count = n;
    rate->window = window;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid limit \"%V\": expected \"COUNT/TIME\" "
                       "such as \"5/15m\" (a window of at least 1s), "
                       "or \"off\"", &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_otp_default_cc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *cc, *value;
    ngx_uint_t   i;

    cc = (ngx_str_t *) (p + cmd->offset);

    if (cc->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(cc, "");
        return NGX_CONF_OK;
    }

    if (value[1].len > 0 && value[1].data[0] == '+') {
        value[1].data++;
        value[1].len--;
    }

    if (value[1].len == 0 || value[1].len > 3 || value[1].data[0] == '0') {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] < '0' || value[1].data[i] > '9') {
            goto invalid;
        }
    }

    *cc = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid country calling code \"%V\": expected 1-3 "
                       "digits such as \"44\", or \"off\"", &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_otp_str_or_off(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *field, *value;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(field, "");
        return NGX_CONF_OK;
    }

    /* the value goes into JSON and headers as it is: keep it printable */

    for (p = (char *) value[1].data;
         p < (char *) value[1].data + value[1].len;
         p++)
    {
        if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\' || *p == ';'
            || *p == ',')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\": printable characters "
                               "only, without quotes, backslashes, commas "
                               "and semicolons", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/* otp_token_cookie NAME [secure=on|off|auto] | off */

char *
ngx_http_otp_token_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    char       *rv;
    ngx_str_t  *value, s;

    rv = ngx_http_otp_str_or_off(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    olcf->token_cookie_secure = NGX_HTTP_OTP_COOKIE_SECURE_AUTO;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (olcf->token_cookie.len == 0
        || ngx_strncmp(value[2].data, "secure=", 7) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 7;
    s.len = value[2].len - 7;

    if (s.len == 2 && ngx_strncmp(s.data, "on", 2) == 0) {
        olcf->token_cookie_secure = NGX_HTTP_OTP_COOKIE_SECURE_ON;

    } else if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
        olcf->token_cookie_secure = NGX_HTTP_OTP_COOKIE_SECURE_OFF;

    } else if (s.len != 4 || ngx_strncmp(s.data, "auto", 4) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": secure= takes on, off or "
                           "auto", &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* otp_route CHANNEL PREFIX|default PROVIDER [PROVIDER ...] */

char *
ngx_http_otp_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                *value;
    ngx_uint_t                i, j, *idx;
    ngx_http_otp_app_t       *app;
    ngx_http_otp_route_t     *route, *r;
    ngx_http_otp_provider_t  *p;

    app = ngx_http_otp_app_conf(cf, conf);
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (cf->args->nelts < 4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a route needs at least one provider");
        return NGX_CONF_ERROR;
    }

    route = ngx_array_push(&app->routes);
    if (route == NULL) {
        return NGX_CONF_ERROR;
    }

    route->channel = ngx_otp_channel_parse(value[1].data, value[1].len);

    if (route->channel == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown channel \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[2].data, "default") == 0) {
        ngx_str_set(&route->prefix, "");

    } else if (ngx_http_otp_prefix(&value[2], &route->prefix) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid prefix \"%V\": expected \"+\" and 1-15 "
                           "digits, or \"default\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    r = app->routes.elts;

    for (i = 0; i < app->routes.nelts - 1; i++) {
        if (r[i].channel == route->channel
            && r[i].prefix.len == route->prefix.len
            && ngx_strncmp(r[i].prefix.data, route->prefix.data,
                           route->prefix.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate route for %V %V",
                               &value[1], &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_array_init(&route->providers, cf->pool, cf->args->nelts - 3,
                       sizeof(ngx_uint_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* providers are referred to by index: the array may still grow */

    for (i = 3; i < cf->args->nelts; i++) {
        p = app->providers.elts;

        for (j = 0; j < app->providers.nelts; j++) {
            if (p[j].name.len == value[i].len
                && ngx_strncmp(p[j].name.data, value[i].data, value[i].len)
                   == 0)
            {
                break;
            }
        }

        if (j == app->providers.nelts) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown provider \"%V\": declare it with "
                               "\"otp_provider\" before the route, in "
                               "the same server (or both at http level)",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (!(p[j].channels & route->channel)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "provider \"%V\" cannot carry %V",
                               &value[i], &value[1]);
            return NGX_CONF_ERROR;
        }

        idx = ngx_array_push(&route->providers);
        if (idx == NULL) {
            return NGX_CONF_ERROR;
        }

        *idx = j;
    }

    return NGX_CONF_OK;
}


/* otp_geo_allow|otp_geo_deny CHANNEL|all PREFIX ... */

char *
ngx_http_otp_geo(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t            *value;
    ngx_uint_t            i, channels;
    ngx_array_t         **list;
    ngx_http_otp_geo_t   *geo;

    list = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "all") == 0) {
        channels = NGX_OTP_ALL_CHANNELS;

    } else {
        channels = ngx_otp_channel_parse(value[1].data, value[1].len);

        if (channels == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown channel \"%V\": expected \"sms\", "
                               "\"whatsapp\", \"voice\" or \"all\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (*list == NGX_CONF_UNSET_PTR) {
        *list = ngx_array_create(cf->pool, 4, sizeof(ngx_http_otp_geo_t));
        if (*list == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 2; i < cf->args->nelts; i++) {
        geo = ngx_array_push(*list);
        if (geo == NULL) {
            return NGX_CONF_ERROR;
        }

        geo->channels = channels;

        if (ngx_http_otp_prefix(&value[i], &geo->prefix) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid prefix \"%V\": expected \"+\" and "
                               "1-15 digits", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* otp_message CHANNEL LOCALE TEXT */

char *
ngx_http_otp_message(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_loc_conf_t *olcf = conf;

    size_t                    len;
    ngx_str_t                *value;
    ngx_otp_sms_info_t        info;
    ngx_otp_message_vars_t    vars;
    ngx_http_otp_template_t  *t;
    u_char                    code[NGX_OTP_CODE_MAX_LEN];
    u_char                    text[NGX_OTP_MESSAGE_MAX_LEN];

    value = cf->args->elts;

    if (olcf->templates == NGX_CONF_UNSET_PTR) {
        olcf->templates = ngx_array_create(cf->pool, 4,
                                           sizeof(ngx_http_otp_template_t));
        if (olcf->templates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    t = ngx_array_push(olcf->templates);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->channel = ngx_otp_channel_parse(value[1].data, value[1].len);

    if (t->channel == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown channel \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_otp_locale_valid(&value[2]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid locale \"%V\": expected a language tag "
                           "such as \"en\" or \"pt-BR\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    t->locale = value[2];
    t->text = value[3];

    /* rendered, not searched: "$code_now" or "$$code" show no code */

    switch (ngx_otp_message_shows_code(t->text.data, t->text.len)) {

    case NGX_OTP_OK:
        break;

    case NGX_OTP_ETOOBIG:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "the message is too long");
        return NGX_CONF_ERROR;

    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the message never shows the code: write "
                           "\"$code\" or \"${code}\"");
        return NGX_CONF_ERROR;
    }

    /*
     * Render with the longest code and see whether it still fits one SMS:
     * a second segment doubles the price of every message.
     */

    ngx_memset(code, '0', sizeof(code));
    ngx_memzero(&vars, sizeof(ngx_otp_message_vars_t));
    vars.code = code;
    vars.code_len = NGX_OTP_CODE_MAX_LEN;
    vars.ttl = 86400;

    if (ngx_otp_message_render(t->text.data, t->text.len, &vars, text,
                               sizeof(text), &len)
        != NGX_OTP_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "the message is too long");
        return NGX_CONF_ERROR;
    }

    if (t->channel == NGX_OTP_SMS) {

        if (ngx_otp_message_segments(text, len, &info) != NGX_OTP_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the message is not valid UTF-8");
            return NGX_CONF_ERROR;
        }

        if (info.segments > 1)
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "the %V message for \"%V\" takes %uz SMS "
                               "segments (%s); one holds 160 GSM-7 "
                               "characters or 70 others",
                               &value[1], &value[2], info.segments,
                               info.encoding == NGX_OTP_SMS_GSM7
                               ? "GSM-7" : "UCS-2");
        }
    }

    return NGX_CONF_OK;
}


/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * Apps: several apps on one nginx, with separate users and separate
 * provider accounts (README "Several apps on one nginx").  A server that
 * sets otp_secret_file, otp_provider, otp_route or otp_token_key_file is
 * an app of its own; the other servers have the http level's.  Apps are
 * kept apart by what they own, not by trusting the configuration:
 *
 *   - every key of a number, a code or a client is an HMAC under the
 *     app's secret, so codes, counters, windows and opt-outs are the
 *     app's alone;
 *   - tokens are signed and checked with the app's own keys;
 *   - the store knows the app's providers as "APP-ID:name" (budgets,
 *     message records) and its messages as "APP-ID:provider's id", so a
 *     message, its status and its fallback are the app's alone.
 *
 * Two apps with a secret or a token key in common are refused, unless
 * both are the same four settings (one app served by two servers).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_module.h"
#include "ngx_http_otp_app.h"
#include "ngx_http_otp_directives.h"


static ngx_int_t ngx_http_otp_app_check(ngx_conf_t *cf,
    ngx_http_otp_app_t *app);
static ngx_int_t ngx_http_otp_app_token_key(ngx_conf_t *cf,
    ngx_http_otp_app_t *app);
static ngx_int_t ngx_http_otp_app_names(ngx_conf_t *cf,
    ngx_http_otp_app_t *app);
static ngx_int_t ngx_http_otp_app_apart(ngx_conf_t *cf,
    ngx_http_otp_app_t *a, ngx_http_otp_app_t *b);
static ngx_uint_t ngx_http_otp_app_same(ngx_http_otp_app_t *a,
    ngx_http_otp_app_t *b);
static ngx_uint_t ngx_http_otp_app_key_shared(ngx_http_otp_app_t *a,
    ngx_http_otp_app_t *b);
static u_char *ngx_http_otp_app_where(ngx_http_otp_app_t *app, u_char *buf,
    u_char *last);


#define NGX_HTTP_OTP_APP_WHERE_LEN  (NGX_MAX_PATH + 64)


ngx_http_otp_app_t *
ngx_http_otp_app_conf(ngx_conf_t *cf, ngx_http_otp_srv_conf_t *oscf)
{
    u_char              *p;
    ngx_str_t           *value;
    ngx_uint_t           i;
    ngx_http_otp_app_t  *app;

    app = oscf->app;

    if (app == NULL) {
        app = ngx_http_otp_app_create(cf);
        if (app == NULL) {
            return NULL;
        }

        if (cf->cmd_type & NGX_HTTP_SRV_CONF) {
            app->server = 1;
            app->file = cf->conf_file->file.name;
            app->line = cf->conf_file->line;
        }

        oscf->app = app;
    }

    /* the directive as written: what tells one app in two servers */

    value = cf->args->elts;

    for (i = 0; i < cf->args->nelts; i++) {
        p = ngx_array_push_n(&app->def, value[i].len + 1);
        if (p == NULL) {
            return NULL;
        }

        p = ngx_cpymem(p, value[i].data, value[i].len);
        *p = (u_char) (i + 1 < cf->args->nelts ? '\0' : '\n');
    }

    return app;
}


ngx_http_otp_app_t *
ngx_http_otp_app_create(ngx_conf_t *cf)
{
    ngx_http_otp_app_t        *app, **a;
    ngx_http_otp_main_conf_t  *omcf;

    app = ngx_pcalloc(cf->pool, sizeof(ngx_http_otp_app_t));
    if (app == NULL) {
        return NULL;
    }

    if (ngx_array_init(&app->providers, cf->pool, 2,
                       sizeof(ngx_http_otp_provider_t))
        != NGX_OK
        || ngx_array_init(&app->routes, cf->pool, 4,
                          sizeof(ngx_http_otp_route_t))
           != NGX_OK
        || ngx_array_init(&app->token_keys, cf->pool, 2,
                          sizeof(ngx_otp_jwt_key_t))
           != NGX_OK
        || ngx_array_init(&app->def, cf->pool, 256, 1) != NGX_OK)
    {
        return NULL;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    a = ngx_array_push(&omcf->apps);
    if (a == NULL) {
        return NULL;
    }

    *a = app;

    return app;
}


void
ngx_http_otp_app_used(ngx_conf_t *cf)
{
    ngx_http_otp_srv_conf_t   *oscf;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);
    omcf->used = 1;

    /* the server's app is known once the server is merged */

    oscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_otp_module);
    oscf->used = 1;
}


ngx_int_t
ngx_http_otp_apps_init(ngx_conf_t *cf)
{
    ngx_uint_t                 i, j;
    ngx_http_otp_app_t       **apps;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    apps = omcf->apps.elts;

    for (i = 0; i < omcf->apps.nelts; i++) {

        if (!(apps[i]->used || apps[i]->gate)) {
            continue;
        }

        if (ngx_http_otp_app_check(cf, apps[i]) != NGX_OK
            || ngx_http_otp_app_token_key(cf, apps[i]) != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (j = 0; j < i; j++) {
            if (!(apps[j]->used || apps[j]->gate)) {
                continue;
            }

            switch (ngx_http_otp_app_apart(cf, apps[j], apps[i])) {

            case NGX_OK:
                continue;

            case NGX_DONE:
                /* the same app as j: the same names in the store */
                apps[i]->id = apps[j]->id;
                apps[i]->same = 1;
                break;

            default:
                return NGX_ERROR;
            }

            break;
        }

        if (ngx_http_otp_app_names(cf, apps[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_app_check(ngx_conf_t *cf, ngx_http_otp_app_t *app)
{
    u_char  where[NGX_HTTP_OTP_APP_WHERE_LEN], *last;

    if (!app->used) {
        return NGX_OK;
    }

    last = ngx_http_otp_app_where(app, where, where + sizeof(where));

    if (app->secret.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"otp_secret_file\" is required where \"otp_send\", "
                      "\"otp_verify\", \"otp_status\" or \"otp_webhook\" is "
                      "used: none in %*s", last - where, where);
        return NGX_ERROR;
    }

    if (app->providers.nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"otp_provider\" is defined in %*s",
                      last - where, where);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * No token key configured: one is derived from the secret so tokens still
 * verify across workers, reloads and instances that share the secret.  An
 * upstream that checks tokens itself needs otp_token_key_file.
 */

static ngx_int_t
ngx_http_otp_app_token_key(ngx_conf_t *cf, ngx_http_otp_app_t *app)
{
    ngx_str_t  key, kid;
    u_char     where[NGX_HTTP_OTP_APP_WHERE_LEN], *last;

    if (app->token_keys.nelts) {
        return NGX_OK;
    }

    if (app->secret.len == 0) {
        last = ngx_http_otp_app_where(app, where, where + sizeof(where));

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"otp_gate\" needs \"otp_token_key_file\" or "
                      "\"otp_secret_file\" to check tokens: none in %*s",
                      last - where, where);
        return NGX_ERROR;
    }

    key.data = ngx_pnalloc(cf->pool, NGX_OTP_HASH_LEN);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_otp_hmac_sha256(app->secret.data, app->secret.len,
                            (u_char *) "otp-token-key", 13, key.data)
        != NGX_OTP_OK)
    {
        return NGX_ERROR;
    }

    key.len = NGX_OTP_HASH_LEN;

    ngx_str_null(&kid);

    return ngx_http_otp_add_token_key(cf, app, &key, &kid);
}


/*
 * The names the store knows a server's app's providers by: "APP-ID:name",
 * the id an HMAC of the app's secret, the same in every instance that
 * shares it.  The http level's providers keep their plain names: records
 * written before there were apps stay its own.
 */

static ngx_int_t
ngx_http_otp_app_names(ngx_conf_t *cf, ngx_http_otp_app_t *app)
{
    ngx_uint_t                i;
    ngx_http_otp_provider_t  *p;
    u_char                    hash[NGX_OTP_HASH_LEN];

    if (app->server && app->secret.len && !app->same) {
        if (ngx_otp_hmac_sha256(app->secret.data, app->secret.len,
                                (u_char *) "otp-app-id", 10, hash)
            != NGX_OTP_OK)
        {
            return NGX_ERROR;
        }

        app->id.data = ngx_pnalloc(cf->pool, NGX_HTTP_OTP_APP_ID_LEN);
        if (app->id.data == NULL) {
            return NGX_ERROR;
        }

        ngx_otp_hex_encode(app->id.data, hash, NGX_HTTP_OTP_APP_ID_LEN / 2);
        app->id.len = NGX_HTTP_OTP_APP_ID_LEN;
    }

    p = app->providers.elts;

    for (i = 0; i < app->providers.nelts; i++) {

        if (app->id.len == 0) {
            p[i].store_name = p[i].name;
            continue;
        }

        p[i].store_name.len = app->id.len + 1 + p[i].name.len;
        p[i].store_name.data = ngx_pnalloc(cf->pool, p[i].store_name.len);
        if (p[i].store_name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(p[i].store_name.data, "%V:%V", &app->id, &p[i].name);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_app_apart(ngx_conf_t *cf, ngx_http_otp_app_t *a,
    ngx_http_otp_app_t *b)
{
    u_char      wa[NGX_HTTP_OTP_APP_WHERE_LEN], *la;
    u_char      wb[NGX_HTTP_OTP_APP_WHERE_LEN], *lb;
    const char  *what;

    if (a->secret.len && a->secret.len == b->secret.len
        && ngx_otp_ct_equal(a->secret.data, b->secret.data, a->secret.len))
    {
        what = "the same \"otp_secret_file\" content";

    } else if (ngx_http_otp_app_key_shared(a, b)) {
        what = "a token key in common";

    } else {
        return NGX_OK;
    }

    if (ngx_http_otp_app_same(a, b)) {
        /* one app, served by two servers (an include file, say) */
        return NGX_DONE;
    }

    la = ngx_http_otp_app_where(a, wa, wa + sizeof(wa));
    lb = ngx_http_otp_app_where(b, wb, wb + sizeof(wb));

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "%*s and %*s have %s, but not the same otp_secret_file, "
                  "otp_provider, otp_route and otp_token_key_file lines: "
                  "one app in two servers needs the same four settings in "
                  "both (an include file), another app its own secret and "
                  "token keys", la - wa, wa, lb - wb, wb, what);

    return NGX_ERROR;
}


static ngx_uint_t
ngx_http_otp_app_same(ngx_http_otp_app_t *a, ngx_http_otp_app_t *b)
{
    ngx_uint_t          i;
    ngx_otp_jwt_key_t  *ka, *kb;

    if (a->def.nelts != b->def.nelts
        || ngx_memcmp(a->def.elts, b->def.elts, a->def.nelts) != 0
        || a->secret.len != b->secret.len
        || (a->secret.len
            && ngx_memcmp(a->secret.data, b->secret.data, a->secret.len)
               != 0)
        || a->token_keys.nelts != b->token_keys.nelts)
    {
        return 0;
    }

    ka = a->token_keys.elts;
    kb = b->token_keys.elts;

    for (i = 0; i < a->token_keys.nelts; i++) {
        if (ka[i].key_len != kb[i].key_len
            || ka[i].kid_len != kb[i].kid_len
            || ngx_memcmp(ka[i].key, kb[i].key, ka[i].key_len) != 0
            || ngx_memcmp(ka[i].kid, kb[i].kid, ka[i].kid_len) != 0)
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_otp_app_key_shared(ngx_http_otp_app_t *a, ngx_http_otp_app_t *b)
{
    ngx_uint_t          i, j;
    ngx_otp_jwt_key_t  *ka, *kb;

    ka = a->token_keys.elts;
    kb = b->token_keys.elts;

    for (i = 0; i < a->token_keys.nelts; i++) {
        for (j = 0; j < b->token_keys.nelts; j++) {
            if (ka[i].key_len == kb[j].key_len
                && ngx_otp_ct_equal(ka[i].key, kb[j].key, ka[i].key_len))
            {
                return 1;
            }
        }
    }

    return 0;
}


/* "the app of the server in FILE:LINE", or "the http level's app" */

static u_char *
ngx_http_otp_app_where(ngx_http_otp_app_t *app, u_char *buf, u_char *last)
{
    if (app->server) {
        return ngx_slprintf(buf, last, "the app of the server in %V:%ui",
                            &app->file, app->line);
    }

    return ngx_slprintf(buf, last, "the http level's app");
}


size_t
ngx_http_otp_app_message_key(ngx_http_otp_app_t *app, const u_char *id,
    size_t len, u_char *key)
{
    u_char  *p;

    len = ngx_min(len, NGX_HTTP_OTP_ID_LEN);

    if (app->id.len == 0) {
        return ngx_cpymem(key, id, len) - key;
    }

    p = ngx_cpymem(key, app->id.data, app->id.len);
    *p++ = ':';

    return ngx_cpymem(p, id, len) - key;
}


ngx_int_t
ngx_http_otp_app_message_id(ngx_http_otp_app_t *app, u_char *key,
    size_t len, ngx_str_t *id)
{
    if (app->id.len == 0) {
        id->data = key;
        id->len = len;
        return NGX_OK;
    }

    if (len <= app->id.len + 1
        || ngx_strncmp(key, app->id.data, app->id.len) != 0
        || key[app->id.len] != ':')
    {
        return NGX_DECLINED;
    }

    id->data = key + app->id.len + 1;
    id->len = len - app->id.len - 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_app_provider(ngx_http_otp_app_t *app, u_char *stored,
    size_t len, ngx_str_t *name)
{
    if (app->id.len == 0) {
        /* the http level's app: names without an app's prefix */

        if (ngx_strlchr(stored, stored + len, ':') != NULL) {
            return NGX_DECLINED;
        }

        name->data = stored;
        name->len = len;
        return NGX_OK;
    }

    return ngx_http_otp_app_message_id(app, stored, len, name);
}

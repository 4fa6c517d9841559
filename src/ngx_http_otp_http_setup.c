
/*
 * Copyright (C) The ngx_http_otp_module authors
 *
 * The HTTPS client's requests made into curl easy handles
 * (ngx_http_otp_http.c runs them): the URL checked and its host
 * pinned, the body, headers and credentials handed over, the
 * timeouts and TLS options set.
 *
 * Names are resolved in the master when the configuration is read and
 * pinned with CURLOPT_RESOLVE; a request for any other name fails before
 * it reaches curl, and a resolver start callback refuses any lookup that
 * slips through, so a worker never resolves and libcurl never starts its
 * resolver thread.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>

#include "ngx_http_otp_http_xfer.h"


/* defaults for a conf left unset or 0 */
#define NGX_HTTP_OTP_HTTP_TIMEOUT           10000
#define NGX_HTTP_OTP_HTTP_CONNECT_TIMEOUT   3000

#define NGX_HTTP_OTP_HTTP_METHOD_LEN        16
#define NGX_HTTP_OTP_HTTP_AGENT             "ngx_http_otp_module"


static ngx_int_t ngx_http_otp_http_setup_url(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x, u_char *tmp, ngx_uint_t *literal);
static ngx_int_t ngx_http_otp_http_setup_request(ngx_http_otp_http_xfer_t *x,
    u_char *tmp);
static ngx_int_t ngx_http_otp_http_literal(u_char *host, size_t len);
static ngx_int_t ngx_http_otp_http_pinned(ngx_http_otp_http_conf_t *hcf,
    u_char *host, size_t len, u_char *port);
static int ngx_http_otp_http_no_resolve(void *resolver, void *reserved,
    void *userdata);


ngx_int_t
ngx_http_otp_http_add_host(ngx_conf_t *cf, ngx_http_otp_http_conf_t *hcf,
    ngx_str_t *url)
{
    u_char      *p, *last, *s, *e, *entry;
    size_t       len, n;
    in_port_t    port;
    ngx_url_t    u;
    ngx_uint_t   i;
    u_char     **resolve, **elt;
    u_char       text[NGX_SOCKADDR_STRLEN];

    p = url->data;
    last = p + url->len;

    if (url->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;
        port = 80;

    } else if (url->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;
        port = 443;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid scheme in otp http url \"%V\"", url);
        return NGX_ERROR;
    }

    /* credentials belong in the request, where they are never logged */

    for (s = p; s < last && *s != '/' && *s != '?' && *s != '#'; s++) {
        if (*s == '@') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "credentials in otp http url \"%V\"", url);
            return NGX_ERROR;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = p;
    u.url.len = s - p;
    u.default_port = port;

    /* like proxy_pass: the master resolves while reading the config */

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in otp http url \"%V\"",
                           u.err ? u.err : "invalid host", url);
        return NGX_ERROR;
    }

    if (ngx_http_otp_http_literal(u.host.data, u.host.len) == NGX_OK) {
        return NGX_OK;
    }

    len = u.host.len;

    /* curl drops a trailing dot before it looks the name up */

    if (len > 1 && u.host.data[len - 1] == '.') {
        len--;
    }

    for (i = 0; i < len; i++) {
        if (!((u.host.data[i] >= 'a' && u.host.data[i] <= 'z')
              || (u.host.data[i] >= 'A' && u.host.data[i] <= 'Z')
              || (u.host.data[i] >= '0' && u.host.data[i] <= '9')
              || u.host.data[i] == '.' || u.host.data[i] == '-'
              || u.host.data[i] == '_'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid host in otp http url \"%V\"", url);
            return NGX_ERROR;
        }
    }

    if (len > 253 || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid host in otp http url \"%V\"", url);
        return NGX_ERROR;
    }

    /* "host:port:addr,[addr6],...", the host in lower case as curl keys */

    n = len + sizeof(":65535:") + u.naddrs * (NGX_SOCKADDR_STRLEN + 3);

    entry = ngx_pnalloc(cf->pool, n);
    if (entry == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(entry, u.host.data, len);
    e = ngx_sprintf(entry + len, ":%d:", (int) u.port);

    if (hcf->resolve == NULL) {
        hcf->resolve = ngx_array_create(cf->pool, 4, sizeof(u_char *));
        if (hcf->resolve == NULL) {
            return NGX_ERROR;
        }
    }

    resolve = hcf->resolve->elts;

    for (i = 0; i < hcf->resolve->nelts; i++) {
        if (ngx_strncmp(resolve[i], entry, e - entry) == 0) {
            return NGX_OK;
        }
    }

    for (i = 0; i < u.naddrs; i++) {
        n = ngx_sock_ntop(u.addrs[i].sockaddr, u.addrs[i].socklen, text,
                          NGX_SOCKADDR_STRLEN, 0);

        if (i > 0) {
            *e++ = ',';
        }

        if (u.addrs[i].sockaddr->sa_family == AF_INET6) {
            e = ngx_sprintf(e, "[%*s]", n, text);

        } else {
            e = ngx_cpymem(e, text, n);
        }
    }

    *e = '\0';

    elt = ngx_array_push(hcf->resolve);
    if (elt == NULL) {
        return NGX_ERROR;
    }

    *elt = entry;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_http_setup(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x)
{
    size_t                        len;
    u_char                       *tmp;
    ngx_int_t                     rc;
    ngx_uint_t                    i, literal;
    ngx_msec_t                    timeout, connect_timeout;
    ngx_http_otp_http_req_t      *req;
    ngx_http_otp_http_worker_t   *w;

    req = &x->req;
    w = x->worker;

    if (req->nheaders > NGX_HTTP_OTP_HTTP_MAX_HEADERS) {
        ngx_http_otp_http_set_error(req, "too many headers");
        return NGX_ERROR;
    }

    /* one scratch buffer for the C strings, which curl copies */

    len = ngx_max(req->url.len, req->userpwd.len);

    for (i = 0; i < req->nheaders; i++) {
        len = ngx_max(len, req->headers[i].len);
    }

    tmp = ngx_alloc(len + 1, req->log);
    if (tmp == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    rc = ngx_http_otp_http_setup_url(hcf, x, tmp, &literal);

    if (rc != NGX_OK) {
        goto done;
    }

    rc = NGX_ERROR;

    if (w->nidle) {
        x->easy = w->idle[--w->nidle];

    } else {
        x->easy = curl_easy_init();
        if (x->easy == NULL) {
            ngx_http_otp_http_set_error(req, "out of memory");
            goto done;
        }
    }

    x->errbuf[0] = '\0';

    /*
     * A transfer always has a deadline: the curl timer that carries it is
     * what holds a graceful shutdown until the transfer is answered.
     */

    timeout = req->timeout ? req->timeout : hcf->timeout;

    if (timeout == 0 || timeout == NGX_CONF_UNSET_MSEC) {
        timeout = NGX_HTTP_OTP_HTTP_TIMEOUT;
    }

    connect_timeout = hcf->connect_timeout;

    if (connect_timeout == 0 || connect_timeout == NGX_CONF_UNSET_MSEC) {
        connect_timeout = ngx_min(timeout, NGX_HTTP_OTP_HTTP_CONNECT_TIMEOUT);
    }

    /* no proxy: one from the environment would be a name to resolve */

    if (curl_easy_setopt(x->easy, CURLOPT_CURLU, x->url) != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_REDIR_PROTOCOLS_STR,
                            "http,https")
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_USERAGENT,
                            NGX_HTTP_OTP_HTTP_AGENT)
           != CURLE_OK
        || curl_easy_setopt(x->easy, CURLOPT_PROXY, "") != CURLE_OK)
    {
        ngx_http_otp_http_set_error(req, "out of memory");
        goto done;
    }

    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION,
                     ngx_http_otp_http_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) connect_timeout);

    if (w->resolve) {
        curl_easy_setopt(x->easy, CURLOPT_RESOLVE, w->resolve);
    }

    if (!literal) {
        curl_easy_setopt(x->easy, CURLOPT_RESOLVER_START_FUNCTION,
                         ngx_http_otp_http_no_resolve);
        curl_easy_setopt(x->easy, CURLOPT_RESOLVER_START_DATA, x);
    }

    curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETFUNCTION,
                     ngx_http_otp_http_closesocket);
    curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETDATA, w);

    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, hcf->verify ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, hcf->verify ? 2L : 0L);

    if (w->ca_file) {
        /* the file alone is trusted, as proxy_ssl_trusted_certificate */

        if (curl_easy_setopt(x->easy, CURLOPT_CAINFO, w->ca_file)
            != CURLE_OK)
        {
            ngx_http_otp_http_set_error(req, "out of memory");
            goto done;
        }

        curl_easy_setopt(x->easy, CURLOPT_CAPATH, NULL);
    }

    rc = ngx_http_otp_http_setup_request(x, tmp);

done:

    if (req->userpwd.len) {
        ngx_explicit_memzero(tmp, len + 1);
    }

    ngx_free(tmp);

    return rc;
}


static ngx_int_t
ngx_http_otp_http_setup_url(ngx_http_otp_http_conf_t *hcf,
    ngx_http_otp_http_xfer_t *x, u_char *tmp, ngx_uint_t *literal)
{
    char                     *scheme, *host, *port, *part;
    size_t                    len;
    ngx_int_t                 rc;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;

    if (req->url.len == 0
        || ngx_strlchr(req->url.data, req->url.data + req->url.len, '\0'))
    {
        ngx_http_otp_http_set_error(req, "invalid url");
        return NGX_ERROR;
    }

    ngx_memcpy(tmp, req->url.data, req->url.len);
    tmp[req->url.len] = '\0';

    x->url = curl_url();
    if (x->url == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    /* curl is handed this very parse, so what is checked is what is used */

    if (curl_url_set(x->url, CURLUPART_URL, (char *) tmp, 0) != CURLUE_OK) {
        ngx_http_otp_http_set_error(req, "invalid url");
        return NGX_ERROR;
    }

    if (curl_url_get(x->url, CURLUPART_USER, &part, 0) == CURLUE_OK) {
        curl_free(part);
        ngx_http_otp_http_set_error(req, "credentials in url");
        return NGX_ERROR;
    }

    if (curl_url_get(x->url, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        curl_free(part);
        ngx_http_otp_http_set_error(req, "credentials in url");
        return NGX_ERROR;
    }

    scheme = NULL;
    host = NULL;
    port = NULL;

    rc = NGX_ERROR;

    if (curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(x->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
           != CURLUE_OK)
    {
        ngx_http_otp_http_set_error(req, "invalid url");
        goto done;
    }

    if (ngx_strcmp(scheme, "http") != 0 && ngx_strcmp(scheme, "https") != 0)
    {
        ngx_http_otp_http_set_error(req, "unsupported scheme");
        goto done;
    }

    len = ngx_strlen(host);

    if (ngx_http_otp_http_literal((u_char *) host, len) == NGX_OK) {
        *literal = 1;
        rc = NGX_OK;
        goto done;
    }

    *literal = 0;

    if (len > 1 && host[len - 1] == '.') {
        len--;
    }

    if (ngx_http_otp_http_pinned(hcf, (u_char *) host, len, (u_char *) port)
        != NGX_OK)
    {
        ngx_http_otp_http_set_error(req, "host not configured");
        goto done;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, req->log, 0,
                   "otp http: start %s:%s", host, port);

    rc = NGX_OK;

done:

    curl_free(scheme);
    curl_free(host);
    curl_free(port);

    return rc;
}


static ngx_int_t
ngx_http_otp_http_setup_request(ngx_http_otp_http_xfer_t *x, u_char *tmp)
{
    size_t                    len;
    u_char                   *p;
    const char               *method;
    ngx_uint_t                i;
    ngx_str_t                *h;
    struct curl_slist        *list;
    ngx_http_otp_http_req_t  *req;

    req = &x->req;

    method = req->method;

    if (method == NULL) {
        method = req->body.len ? "POST" : "GET";
    }

    len = ngx_strlen(method);

    if (len == 0 || len > NGX_HTTP_OTP_HTTP_METHOD_LEN) {
        goto bad_method;
    }

    for (i = 0; i < len; i++) {
        if (method[i] < 'A' || method[i] > 'Z') {
            goto bad_method;
        }
    }

    if (ngx_strcmp(method, "GET") == 0 && req->body.len == 0) {
        curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);

    } else if (ngx_strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);

    } else {
        /*
         * curl reads the body from our buffer, which is wiped when the
         * request is freed: COPYPOSTFIELDS would leave a copy of it, and
         * of the code in it, in memory curl frees as it is
         */

        if (x->body == NULL || req->body.data != x->body) {
            p = req->body.data;

            if (ngx_http_otp_http_body(req, req->body.len) == NULL) {
                ngx_http_otp_http_set_error(req, "out of memory");
                return NGX_ERROR;
            }

            if (req->body.len) {
                ngx_memcpy(x->body, p, req->body.len);
            }
        }

        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) req->body.len);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (char *) x->body);

        if (ngx_strcmp(method, "POST") != 0) {
            curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
        }
    }

    /* a provider that ignores "Expect" would cost a second per request */

    list = curl_slist_append(NULL, "Expect:");
    if (list == NULL) {
        ngx_http_otp_http_set_error(req, "out of memory");
        return NGX_ERROR;
    }

    x->headers = list;

    for (i = 0; i < req->nheaders; i++) {
        h = &req->headers[i];

        for (p = h->data; p < h->data + h->len; p++) {
            if (*p == CR || *p == LF || *p == '\0') {
                ngx_http_otp_http_set_error(req, "invalid header");
                return NGX_ERROR;
            }
        }

        if (h->len == 0 || ngx_strlchr(h->data, h->data + h->len, ':') == NULL)
        {
            ngx_http_otp_http_set_error(req, "invalid header");
            return NGX_ERROR;
        }

        ngx_memcpy(tmp, h->data, h->len);
        tmp[h->len] = '\0';

        list = curl_slist_append(x->headers, (char *) tmp);
        if (list == NULL) {
            ngx_http_otp_http_set_error(req, "out of memory");
            return NGX_ERROR;
        }

        x->headers = list;
    }

    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);

    if (req->userpwd.len) {
        if (ngx_strlchr(req->userpwd.data,
                        req->userpwd.data + req->userpwd.len, '\0'))
        {
            ngx_http_otp_http_set_error(req, "invalid credentials");
            return NGX_ERROR;
        }

        ngx_memcpy(tmp, req->userpwd.data, req->userpwd.len);
        tmp[req->userpwd.len] = '\0';

        if (curl_easy_setopt(x->easy, CURLOPT_USERPWD, tmp) != CURLE_OK) {
            ngx_http_otp_http_set_error(req, "out of memory");
            return NGX_ERROR;
        }

        curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    }

    return NGX_OK;

bad_method:

    ngx_http_otp_http_set_error(req, "invalid method");

    return NGX_ERROR;
}


/* an address curl connects to without looking anything up */

static ngx_int_t
ngx_http_otp_http_literal(u_char *host, size_t len)
{
    u_char           *p;
    u_char            buf[NGX_INET6_ADDRSTRLEN + 1];
    struct in_addr    in;
#if (NGX_HAVE_INET6)
    struct in6_addr   in6;
#endif

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;

        /* a zone id goes to the socket, not to the lookup */

        p = ngx_strlchr(host, host + len, '%');
        if (p) {
            len = p - host;
        }

        if (len == 0 || len > NGX_INET6_ADDRSTRLEN) {
            return NGX_DECLINED;
        }

        ngx_memcpy(buf, host, len);
        buf[len] = '\0';

#if (NGX_HAVE_INET6)
        if (inet_pton(AF_INET6, (char *) buf, &in6) == 1) {
            return NGX_OK;
        }
#endif

        return NGX_DECLINED;
    }

    if (len == 0 || len > NGX_INET6_ADDRSTRLEN) {
        return NGX_DECLINED;
    }

    ngx_memcpy(buf, host, len);
    buf[len] = '\0';

    if (inet_pton(AF_INET, (char *) buf, &in) == 1) {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_otp_http_pinned(ngx_http_otp_http_conf_t *hcf, u_char *host,
    size_t len, u_char *port)
{
    u_char      **resolve, *e;
    size_t        n;
    ngx_uint_t    i;

    if (hcf->resolve == NULL) {
        return NGX_DECLINED;
    }

    n = ngx_strlen(port);
    resolve = hcf->resolve->elts;

    for (i = 0; i < hcf->resolve->nelts; i++) {
        e = resolve[i];

        if (ngx_strncasecmp(e, host, len) == 0
            && e[len] == ':'
            && ngx_strncmp(e + len + 1, port, n) == 0
            && e[len + 1 + n] == ':')
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static int
ngx_http_otp_http_no_resolve(void *resolver, void *reserved, void *userdata)
{
    ngx_http_otp_http_xfer_t  *x = userdata;

    ngx_log_error(NGX_LOG_ERR, x->req.log, 0,
                  "otp http: refused a name lookup in the worker");

    return 1;
}

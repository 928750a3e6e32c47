/*
 * redis_url.c - parsing redis.url into an hf_redis_url: the redis:// and
 * unix:// forms that hf_redis_open accepts (store_redis.h), %XX escapes in
 * the user info, and error texts that show the URL with its password
 * masked.
 */
#include "redis/redis_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_SYNTAX "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]"

/* The URL with the password of its user info replaced by ***. */
static void mask_url(const char *url, char *out, size_t n)
{
    const char *auth = strstr(url, "://");
    if (auth == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    auth += 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon)
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
    else
        snprintf(out, n, "%.*s***%s", (int)(auth - url), url, at);
}

/* A copy of s[0..len) with %XX escapes decoded; NULL on a bad escape. */
static char *unescape(const char *s, size_t len, int *bad)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    *bad = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len) {
                free(out);
                *bad = 1;
                return NULL;
            }
            int a = hf_redis_hexval((unsigned char)s[i + 1]);
            int b = hf_redis_hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) {
                free(out);
                *bad = 1;
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int url_error(const char *url, const char *why, char *err, size_t n)
{
    char masked[512];
    mask_url(url, masked, sizeof(masked));
    snprintf(err, n, "redis.url \"%s\": %s; " URL_SYNTAX, masked, why);
    return -1;
}

static int parse_unix(hf_redis_url *u, const char *url, char *err, size_t n)
{
    const char *p = url + strlen("unix://");
    size_t plen = strcspn(p, "?");
    if (plen == 0 || p[0] != '/')
        return url_error(url, "the socket path must be absolute", err, n);
    if (p[plen] == '?') {
        const char *q = p + plen + 1;
        if (strncmp(q, "db=", 3) != 0 ||
            hf_redis_parse_long(q + 3, strlen(q + 3), 0, INT_MAX, &u->db) != 0)
            return url_error(url, "the only query is db=N", err, n);
    }
    u->path = strndup(p, plen);
    if (u->path == NULL)
        return url_error(url, "out of memory", err, n);
    snprintf(u->address, sizeof(u->address), "%s", u->path);
    return 0;
}

int hf_redis_url_parse(hf_redis_url *u, const char *url, char *err, size_t n)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix(u, url, err, n);
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return url_error(url, "unsupported scheme", err, n);
    const char *auth = url + sizeof(scheme) - 1;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    const char *at = NULL;
    for (const char *p = auth; p < rest; p++)
        if (*p == '@')
            at = p;
    const char *hp = auth;
    int bad = 0;
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *pw = colon ? colon + 1 : auth;
        if (colon && colon > auth) {
            u->user = unescape(auth, (size_t)(colon - auth), &bad);
            if (u->user == NULL)
                return url_error(url, bad ? "bad %-escape in the user" : "out of memory",
                                 err, n);
        }
        u->password = unescape(pw, (size_t)(at - pw), &bad);
        if (u->password == NULL)
            return url_error(url, bad ? "bad %-escape in the password" : "out of memory",
                             err, n);
        hp = at + 1;
    }
    const char *hend = rest, *port = NULL;
    size_t hlen;
    const char *host = hp;
    if (*hp == '[') {
        const char *close = memchr(hp, ']', (size_t)(rest - hp));
        if (close == NULL)
            return url_error(url, "unclosed [ in the host", err, n);
        host = hp + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < rest) {
            if (close[1] != ':')
                return url_error(url, "expected :port after ]", err, n);
            port = close + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(rest - hp));
        hlen = colon ? (size_t)(colon - hp) : (size_t)(rest - hp);
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0)
        return url_error(url, "no host", err, n);
    long v = 6379;
    if (port != NULL && hf_redis_parse_long(port, (size_t)(hend - port), 1, 65535, &v) != 0) {
        char why[96];
        snprintf(why, sizeof(why), "bad port \"%.*s\"", (int)(hend - port > 20 ? 20 : hend - port),
                 port);
        return url_error(url, why, err, n);
    }
    u->port = (int)v;
    u->host = strndup(host, hlen);
    if (u->host == NULL)
        return url_error(url, "out of memory", err, n);
    if (*rest == '/' && rest[1] != '\0') {
        if (hf_redis_parse_long(rest + 1, strlen(rest + 1), 0, INT_MAX, &u->db) != 0) {
            char why[96];
            snprintf(why, sizeof(why), "bad database \"%.20s\"", rest + 1);
            return url_error(url, why, err, n);
        }
    } else if (*rest == '?' || *rest == '#') {
        return url_error(url, "query and fragment are not supported", err, n);
    }
    if (memchr(u->host, ':', hlen))
        snprintf(u->address, sizeof(u->address), "[%s]:%d", u->host, u->port);
    else
        snprintf(u->address, sizeof(u->address), "%s:%d", u->host, u->port);
    return 0;
}

void hf_redis_url_free(hf_redis_url *u)
{
    free(u->host);
    free(u->path);
    free(u->user);
    if (u->password)
        memset(u->password, 0, strlen(u->password));
    free(u->password);
    memset(u, 0, sizeof(*u));
}

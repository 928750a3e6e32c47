/*
 * http.c - /metrics, /healthz and /readyz over libmicrohttpd. We bind the
 * listening socket ourselves (so a failure reports errno's reason, such as
 * "Address already in use") and hand it to libmicrohttpd, which serves it
 * from its own thread.
 */
#include "ops/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/buf.h"
#include "util/log.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"

struct hf_http {
    struct MHD_Daemon *daemon;
    hf_metrics *metrics;
    hf_http_ready_fn ready;
    void *opaque;
    int port;
};

/*--- Responses --------------------------------------------------------------*/

/* Queues a response whose body is copied (or, with take != NULL, whose
 * malloc'd body is handed over). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status,
                             const char *type, const char *body, size_t len,
                             char *take)
{
    struct MHD_Response *r;
    if (take != NULL)
        r = MHD_create_response_from_buffer(len, take, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(len, (void *)body,
                                            MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        free(take);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c,
                                  unsigned int status, const char *text)
{
    return reply(c, status, TEXT_TYPE, text, strlen(text), NULL);
}

static enum MHD_Result serve_metrics(hf_http *h, struct MHD_Connection *c)
{
    hf_buf b = HF_BUF_INIT;
    if (hf_metrics_render(h->metrics, &b) != 0) {
        hf_buf_free(&b);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    if (b.data == NULL) /* nothing registered */
        return reply(c, MHD_HTTP_OK, METRICS_TYPE, "", 0, NULL);
    return reply(c, MHD_HTTP_OK, METRICS_TYPE, NULL, b.len, b.data);
}

static enum MHD_Result serve_ready(hf_http *h, struct MHD_Connection *c)
{
    char why[256] = "";
    if (h->ready == NULL || h->ready(h->opaque, why, sizeof(why)))
        return reply_text(c, MHD_HTTP_OK, "ready\n");
    char body[300];
    snprintf(body, sizeof(body), "not ready: %s\n",
             why[0] ? why : "unknown reason");
    return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    hf_http *h = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    /* Answered on the first call: a request body, if any, is not read and
     * libmicrohttpd closes the connection after the reply. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/healthz") == 0)
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return serve_ready(h, c);
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hf_log_warn("http", "%s", msg);
}

/*--- Listening socket -------------------------------------------------------*/

/*
 * Splits "HOST:PORT" / "[V6]:PORT" into host and port. Returns 0, or -1 with
 * errstr.
 */
static int split_listen(const char *spec, char *host, size_t host_size,
                        char *port, size_t port_size, char *errstr,
                        size_t errstr_size)
{
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hlen = colon ? (size_t)(colon - spec) : 0;
    if (colon && spec[0] == '[') {
        if (hlen < 2 || spec[hlen - 1] != ']')
            colon = NULL;
        h++;
        hlen -= 2;
    }
    if (colon == NULL || hlen == 0 || hlen >= host_size) {
        snprintf(errstr, errstr_size, "http.listen \"%s\": expected HOST:PORT",
                 spec);
        return -1;
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    long v = -1;
    if (plen >= 1 && plen <= 5 && strspn(p, "0123456789") == plen)
        v = strtol(p, NULL, 10);
    if (v < 0 || v > 65535) {
        snprintf(errstr, errstr_size,
                 "http.listen \"%s\": port must be 0-65535", spec);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, port_size, "%ld", v);
    return 0;
}

/* Binds and listens on the first address of host:port that accepts. Returns
 * the socket, or -1 with errstr. */
static int open_listener(const char *spec, const char *host, const char *port,
                         int *family, char *errstr, size_t errstr_size)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "http.listen \"%s\": cannot resolve \"%s\": %s",
                 spec, host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        /* A restart must not wait for old connections in TIME_WAIT; a port
         * another process listens on still fails with EADDRINUSE. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        *family = a->ai_family;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", spec,
                 strerror(err));
    return fd;
}

/*--- Server -----------------------------------------------------------------*/

hf_http *hf_http_start(const char *listen_spec, hf_metrics *metrics,
                       hf_http_ready_fn ready, void *opaque, char *errstr,
                       size_t errstr_size)
{
    char host[256], port[8];
    int family = AF_INET;
    if (errstr_size > 0)
        errstr[0] = '\0';
    if (listen_spec == NULL || listen_spec[0] == '\0')
        return NULL; /* off */
    if (split_listen(listen_spec, host, sizeof(host), port, sizeof(port),
                     errstr, errstr_size) != 0)
        return NULL;
    hf_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->metrics = metrics;
    h->ready = ready;
    h->opaque = opaque;
    int fd = open_listener(listen_spec, host, port, &family, errstr, errstr_size);
    if (fd < 0) {
        free(h);
        return NULL;
    }
    struct stat sock;
    if (fstat(fd, &sock) != 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", listen_spec,
                 strerror(errno));
        close(fd);
        free(h);
        return NULL;
    }
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* From here on the daemon owns fd and closes it in MHD_stop_daemon. */
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, to log the rest */
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
        MHD_OPTION_END);
    if (h->daemon == NULL) {
        /* libmicrohttpd 0.9.75 leaves the socket open on failure, later
         * versions close it: close it only if fd is still our socket. */
        struct stat now;
        if (fstat(fd, &now) == 0 && now.st_dev == sock.st_dev &&
            now.st_ino == sock.st_ino)
            close(fd);
        free(h);
        snprintf(errstr, errstr_size, "cannot start the HTTP server on %s",
                 listen_spec);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info != NULL && info->port != 0) {
        h->port = info->port;
    } else { /* older libmicrohttpd: ask the socket */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            h->port = ntohs(ss.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                : ((struct sockaddr_in *)&ss)->sin_port);
    }
    hf_log_info("http", "serving /metrics, /healthz and /readyz on %s (port %d)",
                listen_spec, h->port);
    return h;
}

int hf_http_port(const hf_http *h)
{
    return h ? h->port : 0;
}

void hf_http_stop(hf_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

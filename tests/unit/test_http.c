/* test_http.c - the operations endpoint over real HTTP on 127.0.0.1 (an
 * ephemeral port) with libcurl: exact status codes, bodies and content
 * types, readiness flipping, methods, and the errors of hf_http_start
 * (including a port that is already in use). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ops/http.h"
#include "ops/metrics.h"
#include "util/log.h"

typedef struct reply {
    long status;
    hf_buf body;
    char type[128];  /* Content-Type, "" if none */
    char allow[64];  /* Allow, "" if none */
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    hf_buf *b = ud;
    return hf_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = size * n;
    static const char allow[] = "Allow: ";
    if (len > sizeof(allow) - 1 && strncasecmp(p, allow, sizeof(allow) - 1) == 0) {
        size_t v = len - (sizeof(allow) - 1);
        while (v > 0 && (p[sizeof(allow) - 1 + v - 1] == '\r' ||
                         p[sizeof(allow) - 1 + v - 1] == '\n'))
            v--;
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)v, p + sizeof(allow) - 1);
    }
    return len;
}

/* Does one request; method "HEAD" asks without a body. */
static void request(int port, const char *method, const char *path, reply *r)
{
    memset(r, 0, sizeof(*r));
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        print_error("%s %s: %s\n", method, url, curl_easy_strerror(rc));
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    snprintf(r->type, sizeof(r->type), "%s", type ? type : "");
    curl_easy_cleanup(c);
}

/* Requests and checks status and exact body. */
static void expect(int port, const char *method, const char *path,
                   long status, const char *body)
{
    reply r;
    request(port, method, path, &r);
    const char *got = r.body.data ? r.body.data : "";
    if (r.status != status || strcmp(got, body) != 0)
        print_error("%s %s: got %ld \"%s\", want %ld \"%s\"\n", method, path,
                    r.status, got, status, body);
    assert_int_equal(r.status, status);
    assert_string_equal(got, body);
    hf_buf_free(&r.body);
}

/* Readiness driven by the test: ready flag and reason. */
typedef struct readiness {
    atomic_int ready;
    const char *why;
    atomic_int calls;
    atomic_int dirty_why; /* why was not "" on entry */
} readiness;

static int ready_cb(void *opaque, char *why, size_t n)
{
    readiness *r = opaque;
    /* Runs on the server's thread: no cmocka assertions here. */
    atomic_fetch_add(&r->calls, 1);
    if (n == 0 || why[0] != '\0')
        atomic_store(&r->dirty_why, 1);
    if (atomic_load(&r->ready))
        return 1;
    if (r->why)
        snprintf(why, n, "%s", r->why);
    return 0;
}

static void serves_metrics_health_and_readiness(void **state)
{
    (void)state;
    hf_metrics *m = hf_metrics_new();
    hf_metric *c = hf_metrics_counter(m, "hirefire_events_total", "Events.",
                                      "topic=\"t\",outcome=\"applied\"");
    hf_metric_add(c, 41);
    readiness rd = {0, "no partitions assigned", 0, 0};
    char err[256] = "unchanged";
    hf_http *h = hf_http_start("127.0.0.1:0", m, ready_cb, &rd, err, sizeof(err));
    if (h == NULL)
        print_error("hf_http_start: %s\n", err);
    assert_non_null(h);
    assert_string_equal(err, "");
    int port = hf_http_port(h);
    assert_true(port > 0 && port <= 65535);

    reply r;
    request(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(r.body.data,
                        "# HELP hirefire_events_total Events.\n"
                        "# TYPE hirefire_events_total counter\n"
                        "hirefire_events_total{topic=\"t\",outcome=\"applied\"} 41\n");
    hf_buf_free(&r.body);
    hf_metric_add(c, 1); /* the next scrape sees it */
    expect(port, "GET", "/metrics?debug=1",  200,
           "# HELP hirefire_events_total Events.\n"
           "# TYPE hirefire_events_total counter\n"
           "hirefire_events_total{topic=\"t\",outcome=\"applied\"} 42\n");

    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; charset=utf-8");
    assert_string_equal(r.body.data, "ok\n");
    hf_buf_free(&r.body);

    expect(port, "GET", "/readyz", 503, "not ready: no partitions assigned\n");
    rd.why = "redis unavailable";
    expect(port, "GET", "/readyz", 503, "not ready: redis unavailable\n");
    atomic_store(&rd.ready, 1);
    expect(port, "GET", "/readyz", 200, "ready\n");
    atomic_store(&rd.ready, 0);
    rd.why = NULL; /* a callback that gives no reason */
    expect(port, "GET", "/readyz", 503, "not ready: unknown reason\n");
    assert_int_equal(atomic_load(&rd.calls), 4);
    assert_int_equal(atomic_load(&rd.dirty_why), 0);
    /* /healthz does not ask the readiness callback. */
    expect(port, "GET", "/healthz", 200, "ok\n");
    assert_int_equal(atomic_load(&rd.calls), 4);

    expect(port, "GET", "/", 404, "not found\n");
    expect(port, "GET", "/metrics/", 404, "not found\n");
    expect(port, "GET", "/HEALTHZ", 404, "not found\n");

    request(port, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body.data, "method not allowed\n");
    assert_string_equal(r.allow, "GET, HEAD");
    hf_buf_free(&r.body);
    expect(port, "DELETE", "/healthz", 405, "method not allowed\n");
    expect(port, "PUT", "/nope", 405, "method not allowed\n");

    request(port, "HEAD", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_null(r.body.data);
    hf_buf_free(&r.body);

    hf_http_stop(h);
    hf_metrics_destroy(m);
}

static void without_metrics_or_readiness(void **state)
{
    (void)state;
    char err[256];
    hf_http *h = hf_http_start("localhost:0", NULL, NULL, NULL, err, sizeof(err));
    if (h == NULL)
        print_error("hf_http_start: %s\n", err);
    assert_non_null(h);
    int port = hf_http_port(h);
    reply r;
    request(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_null(r.body.data);
    expect(port, "GET", "/readyz", 200, "ready\n");
    hf_http_stop(h);
}

/* A port that is free now (bound, then closed). */
static int port_in_use_by_us(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(*fd, 1), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void port_in_use_is_reported(void **state)
{
    (void)state;
    char err[256], spec[64], want[128];
    /* Taken by another server of ours. */
    hf_http *a = hf_http_start("127.0.0.1:0", NULL, NULL, NULL, err, sizeof(err));
    assert_non_null(a);
    int port = hf_http_port(a);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", port);
    assert_null(hf_http_start(spec, NULL, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, want);
    /* Once it stops, the port is free again at once (no TIME_WAIT wait). */
    expect(port, "GET", "/healthz", 200, "ok\n");
    hf_http_stop(a);
    hf_http *b = hf_http_start(spec, NULL, NULL, NULL, err, sizeof(err));
    if (b == NULL)
        print_error("restart on %s: %s\n", spec, err);
    assert_non_null(b);
    assert_int_equal(hf_http_port(b), port);
    expect(port, "GET", "/healthz", 200, "ok\n");
    hf_http_stop(b);

    /* Taken by a plain socket of another program. */
    int fd;
    port = port_in_use_by_us(&fd);
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
    snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d: Address already in use", port);
    assert_null(hf_http_start(spec, NULL, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, want);
    close(fd);
}

static void listen_errors_are_exact(void **state)
{
    (void)state;
    static const struct {
        const char *listen;
        const char *err;
    } cases[] = {
        {"", ""},
        {"127.0.0.1", "http.listen \"127.0.0.1\": expected HOST:PORT"},
        {":9464", "http.listen \":9464\": expected HOST:PORT"},
        {"[::1]", "http.listen \"[::1]\": expected HOST:PORT"},
        {"[]:9464", "http.listen \"[]:9464\": expected HOST:PORT"},
        {"127.0.0.1:99999", "http.listen \"127.0.0.1:99999\": port must be 0-65535"},
        {"127.0.0.1:65536", "http.listen \"127.0.0.1:65536\": port must be 0-65535"},
        {"127.0.0.1:", "http.listen \"127.0.0.1:\": port must be 0-65535"},
        {"127.0.0.1:-1", "http.listen \"127.0.0.1:-1\": port must be 0-65535"},
        {"127.0.0.1:80x", "http.listen \"127.0.0.1:80x\": port must be 0-65535"},
        {"127.0.0.1:000009464", "http.listen \"127.0.0.1:000009464\": port must be 0-65535"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "unchanged";
        hf_http *h = hf_http_start(cases[i].listen, NULL, NULL, NULL, err, sizeof(err));
        if (h != NULL || strcmp(err, cases[i].err) != 0)
            print_error("listen \"%s\": got \"%s\"\n", cases[i].listen, err);
        assert_null(h);
        assert_string_equal(err, cases[i].err);
    }
    char err[64] = "unchanged";
    assert_null(hf_http_start(NULL, NULL, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, "");
    /* A truncated errstr stays NUL-terminated. */
    char small[16];
    assert_null(hf_http_start("127.0.0.1", NULL, NULL, NULL, small, sizeof(small)));
    assert_string_equal(small, "http.listen \"12");
    hf_http_stop(NULL);
    assert_int_equal(hf_http_port(NULL), 0);
}

static void ipv6_loopback_in_brackets(void **state)
{
    (void)state;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {0};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int usable = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    if (!usable)
        skip(); /* no IPv6 loopback on this machine */
    char err[256];
    hf_http *h = hf_http_start("[::1]:0", NULL, NULL, NULL, err, sizeof(err));
    if (h == NULL)
        print_error("hf_http_start: %s\n", err);
    assert_non_null(h);
    int port = hf_http_port(h);
    assert_true(port > 0);
    reply r;
    memset(&r, 0, sizeof(r));
    char url[64];
    snprintf(url, sizeof(url), "http://[::1]:%d/healthz", port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "ok\n");
    hf_buf_free(&r.body);
    hf_http_stop(h);
}

static int setup(void **state)
{
    (void)state;
    hf_log_set_level("error"); /* no "serving ..." lines in the test output */
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_metrics_health_and_readiness),
        cmocka_unit_test(without_metrics_or_readiness),
        cmocka_unit_test(port_in_use_is_reported),
        cmocka_unit_test(listen_errors_are_exact),
        cmocka_unit_test(ipv6_loopback_in_brackets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_registry.c - the schema source against a real HTTP server: the fake
 * registry (tests/integration/fake_registry.py, started with python3 on a
 * free loopback port) and a schema directory. Checks exact error texts and
 * the cache by counting the requests the server saw (GET /_count).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "codec/registry.h"

typedef struct server {
    pid_t pid;
    int stdin_fd; /* closing it stops the server (--exit-on-eof) */
    int port;
    char url[64];
    char dir[64];
} server;

static const char *source_dir(void)
{
    const char *d = getenv("HF_SOURCE_DIR");
#ifdef HF_SOURCE_DIR
    if (d == NULL)
        d = HF_SOURCE_DIR;
#endif
    return d;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts fake_registry.py with extra arguments (NULL-terminated). */
static void start_server(server *srv, ...)
{
    char script[1024], schema1[1100], portfile[128];
    snprintf(script, sizeof(script), "%s/tests/integration/fake_registry.py",
             source_dir());
    snprintf(schema1, sizeof(schema1), "1=%s/schemas/customer_event.avsc",
             source_dir());
    snprintf(srv->dir, sizeof(srv->dir), "/tmp/hf-test-registry-XXXXXX");
    assert_non_null(mkdtemp(srv->dir));
    snprintf(portfile, sizeof(portfile), "%s/port", srv->dir);

    const char *argv[16] = {"python3", script, "--port-file", portfile,
                            "--schema", schema1, "--lifetime", "120",
                            "--exit-on-eof"};
    int argc = 9;
    va_list ap;
    va_start(ap, srv);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    srv->pid = fork();
    assert_true(srv->pid >= 0);
    if (srv->pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execvp("python3", (char **)argv);
        _exit(127);
    }
    close(fds[0]);
    srv->stdin_fd = fds[1];
    for (int i = 0; i < 200; i++) {
        FILE *fp = fopen(portfile, "r");
        if (fp != NULL) {
            int ok = fscanf(fp, "%d", &srv->port) == 1;
            fclose(fp);
            if (ok)
                break;
        }
        sleep_ms(50);
    }
    assert_true(srv->port > 0);
    snprintf(srv->url, sizeof(srv->url), "http://127.0.0.1:%d", srv->port);
}

static void stop_server(server *srv)
{
    char path[128];
    close(srv->stdin_fd);
    waitpid(srv->pid, NULL, 0);
    snprintf(path, sizeof(path), "%s/port", srv->dir);
    unlink(path);
    rmdir(srv->dir);
}

static size_t collect(char *p, size_t size, size_t n, void *opaque)
{
    return fwrite(p, size, n, opaque) * size;
}

/* How many times the fake saw `what` ("GET /schemas/ids/7"); all when NULL. */
static long server_count(const server *srv, const char *what)
{
    char url[128];
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    snprintf(url, sizeof(url), "%s/_count", srv->url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    fclose(mem);
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    long n = what == NULL
                 ? (long)json_integer_value(json_object_get(root, "requests"))
                 : (long)json_integer_value(
                       json_object_get(json_object_get(root, "paths"), what));
    json_decref(root);
    free(text);
    return n;
}

static char *read_text(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

/*--- Registry ---------------------------------------------------------------*/

static void test_get_is_cached(void **state)
{
    (void)state;
    server srv = {0};
    char err[512] = "";
    start_server(&srv, NULL);
    hf_schema_source *s = hf_schema_source_new(srv.url, NULL, err, sizeof(err));
    assert_non_null(s);
    char want[128];
    snprintf(want, sizeof(want), "schema registry %s", srv.url);
    assert_string_equal(hf_schema_source_describe(s), want);

    avro_schema_t a = hf_schema_source_get(s, 1, err, sizeof(err));
    assert_non_null(a);
    assert_true(is_avro_record(a));
    assert_string_equal(avro_schema_name(a), "CustomerEvent");
    avro_schema_t b = hf_schema_source_get(s, 1, err, sizeof(err));
    assert_ptr_equal(a, b);
    assert_int_equal(server_count(&srv, "GET /schemas/ids/1"), 1);
    assert_int_equal(server_count(&srv, NULL), 1);
    assert_int_equal(hf_schema_source_requests(s), 1);

    hf_schema_source_destroy(s);
    stop_server(&srv);
}

static void test_unknown_id_is_retried_at_most_once_per_second(void **state)
{
    (void)state;
    server srv = {0};
    char err[512] = "";
    start_server(&srv, NULL);
    hf_schema_source *s = hf_schema_source_new(srv.url, "", err, sizeof(err));
    assert_non_null(s);

    assert_null(hf_schema_source_get(s, 7, err, sizeof(err)));
    assert_string_equal(err, "schema registry returned 404 for schema id 7: "
                             "Schema 7 not found");
    err[0] = '\0';
    assert_null(hf_schema_source_get(s, 7, err, sizeof(err)));
    assert_string_equal(err, "schema registry returned 404 for schema id 7: "
                             "Schema 7 not found");
    assert_int_equal(server_count(&srv, "GET /schemas/ids/7"), 1);
    /* another unknown id is not throttled by the first */
    assert_null(hf_schema_source_get(s, 8, err, sizeof(err)));
    assert_string_equal(err, "schema registry returned 404 for schema id 8: "
                             "Schema 8 not found");
    assert_int_equal(server_count(&srv, "GET /schemas/ids/8"), 1);

    sleep_ms(1100);
    assert_null(hf_schema_source_get(s, 7, err, sizeof(err)));
    assert_int_equal(server_count(&srv, "GET /schemas/ids/7"), 2);

    hf_schema_source_destroy(s);
    stop_server(&srv);
}

static void test_register_then_get_uses_cache(void **state)
{
    (void)state;
    server srv = {0};
    char err[512] = "";
    start_server(&srv, NULL);
    hf_schema_source *s = hf_schema_source_new(srv.url, NULL, err, sizeof(err));
    assert_non_null(s);
    char *signal = read_text("schemas/switch_signal.avsc");

    int32_t id = -1;
    assert_int_equal(hf_schema_source_register(s, "signals-value", signal, &id,
                                               err, sizeof(err)), 0);
    assert_int_equal(id, 2);
    id = -1;
    assert_int_equal(hf_schema_source_register(s, "signals-value", signal, &id,
                                               err, sizeof(err)), 0);
    assert_int_equal(id, 2);
    assert_int_equal(server_count(&srv, "POST /subjects/signals-value/versions"), 2);

    avro_schema_t sch = hf_schema_source_get(s, 2, err, sizeof(err));
    assert_non_null(sch);
    assert_string_equal(avro_schema_name(sch), "SwitchSignal");
    assert_int_equal(server_count(&srv, "GET /schemas/ids/2"), 0);

    /* a subject with characters that need escaping */
    assert_int_equal(hf_schema_source_register(s, "a b/c-value", signal, &id,
                                               err, sizeof(err)), 0);
    assert_int_equal(id, 2);
    assert_int_equal(server_count(&srv, "POST /subjects/a%20b%2Fc-value/versions"), 1);

    /* not Avro at all: refused before any request */
    assert_int_equal(hf_schema_source_register(s, "x-value", "{\"type\": \"nope\"}",
                                               &id, err, sizeof(err)), -1);
    assert_memory_equal(err, "invalid Avro schema to register: ", 33);
    assert_int_equal(server_count(&srv, NULL), 3);

    free(signal);
    hf_schema_source_destroy(s);
    stop_server(&srv);
}

static void test_connection_refused(void **state)
{
    (void)state;
    char err[512] = "";
    hf_schema_source *s = hf_schema_source_new("http://127.0.0.1:1/", NULL, err,
                                               sizeof(err));
    assert_non_null(s);
    assert_null(hf_schema_source_get(s, 7, err, sizeof(err)));
    assert_string_equal(err, "schema registry http://127.0.0.1:1/schemas/ids/7: "
                             "Couldn't connect to server");
    int32_t id = 0;
    assert_int_equal(hf_schema_source_register(
                         s, "t-value", "{\"type\": \"string\"}", &id, err,
                         sizeof(err)), -1);
    assert_string_equal(err, "schema registry http://127.0.0.1:1/subjects/t-value/"
                             "versions: Couldn't connect to server");
    hf_schema_source_destroy(s);
}

static void test_basic_auth_and_timeout(void **state)
{
    (void)state;
    server srv = {0};
    char err[512] = "", url[128], want[256];
    start_server(&srv, "--auth", "reader:s3cr:et", "--slow-id", "9", NULL);

    hf_schema_source *anon = hf_schema_source_new(srv.url, NULL, err, sizeof(err));
    assert_non_null(anon);
    assert_null(hf_schema_source_get(anon, 1, err, sizeof(err)));
    assert_string_equal(err, "schema registry returned 401 for schema id 1: "
                             "Unauthorized");
    hf_schema_source_destroy(anon);

    /* the password is percent-encoded in the URL and never shown */
    snprintf(url, sizeof(url), "http://reader:s3cr%%3Aet@127.0.0.1:%d/", srv.port);
    hf_schema_source *s = hf_schema_source_new(url, NULL, err, sizeof(err));
    assert_non_null(s);
    snprintf(want, sizeof(want), "schema registry %s", srv.url);
    assert_string_equal(hf_schema_source_describe(s), want);
    assert_non_null(hf_schema_source_get(s, 1, err, sizeof(err)));

    hf_schema_source_set_timeouts(s, 200, 300);
    assert_null(hf_schema_source_get(s, 9, err, sizeof(err)));
    snprintf(want, sizeof(want),
             "schema registry http://127.0.0.1:%d/schemas/ids/9: Timeout was reached",
             srv.port);
    assert_string_equal(err, want);
    hf_schema_source_destroy(s);
    stop_server(&srv);
}

/*--- Schema directory and arguments ------------------------------------------*/

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_schema_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/hf-test-schemas-XXXXXX";
    char path[128], want[256], err[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/3.avsc", dir);
    char *event = read_text("schemas/customer_event.avsc");
    write_file(path, event);
    free(event);
    snprintf(path, sizeof(path), "%s/5.avsc", dir);
    write_file(path, "{\"type\": \"record\"");

    hf_schema_source *s = hf_schema_source_new(NULL, dir, err, sizeof(err));
    assert_non_null(s);
    snprintf(want, sizeof(want), "schema directory %s", dir);
    assert_string_equal(hf_schema_source_describe(s), want);
    avro_schema_t a = hf_schema_source_get(s, 3, err, sizeof(err));
    assert_non_null(a);
    assert_ptr_equal(hf_schema_source_get(s, 3, err, sizeof(err)), a);
    assert_int_equal(hf_schema_source_requests(s), 1);

    assert_null(hf_schema_source_get(s, 4, err, sizeof(err)));
    snprintf(want, sizeof(want), "cannot read %s/4.avsc: No such file or directory",
             dir);
    assert_string_equal(err, want);

    assert_null(hf_schema_source_get(s, 5, err, sizeof(err)));
    snprintf(want, sizeof(want), "invalid Avro schema in %s/5.avsc: ", dir);
    assert_memory_equal(err, want, strlen(want));

    int32_t id;
    assert_int_equal(hf_schema_source_register(s, "t-value", "\"string\"", &id,
                                               err, sizeof(err)), -1);
    assert_string_equal(err, "cannot register subject t-value: no schema registry "
                             "configured (schema.registry.url)");
    hf_schema_source_destroy(s);

    snprintf(path, sizeof(path), "%s/3.avsc", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/5.avsc", dir);
    unlink(path);
    rmdir(dir);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(hf_schema_source_new(NULL, "", err, sizeof(err)));
    assert_string_equal(err, "no schema source: set schema.registry.url or "
                             "input.schema.dir");
    assert_null(hf_schema_source_new("ftp://example.com", NULL, err, sizeof(err)));
    assert_string_equal(err, "schema.registry.url: must be an http or https URL, "
                             "got \"ftp://example.com\"");
    assert_null(hf_schema_source_new("http://[::1", NULL, err, sizeof(err)));
    assert_string_equal(err, "schema.registry.url: invalid URL \"http://[::1\"");
    hf_schema_source_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_schema_dir),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_get_is_cached),
        cmocka_unit_test(test_unknown_id_is_retried_at_most_once_per_second),
        cmocka_unit_test(test_register_then_get_uses_cache),
        cmocka_unit_test(test_basic_auth_and_timeout),
    };
    if (source_dir() == NULL) {
        fprintf(stderr, "test_registry: HF_SOURCE_DIR is not set\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

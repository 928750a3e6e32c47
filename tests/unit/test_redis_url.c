/*
 * test_redis_url.c - redis.url parsing (redis_url.c), without a server:
 * the parts of valid redis:// and unix:// URLs (default port and database,
 * IPv6 hosts, %XX escapes in the user info, the address shown in
 * messages), and the exact error text of each kind of invalid URL, with
 * the password masked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis/redis_int.h"

#define SYNTAX "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]"

/* Parses url, which must be valid, and checks its parts (NULL: absent). */
static void expect_url(const char *url, const char *host, int port, const char *path,
                       const char *user, const char *password, long db,
                       const char *address)
{
    hf_redis_url u;
    char err[512] = "";
    memset(&u, 0, sizeof(u));
    if (hf_redis_url_parse(&u, url, err, sizeof(err)) != 0)
        fail_msg("%s: %s", url, err);
    if (host)
        assert_string_equal(u.host, host);
    else
        assert_null(u.host);
    if (path)
        assert_string_equal(u.path, path);
    else
        assert_null(u.path);
    if (user)
        assert_string_equal(u.user, user);
    else
        assert_null(u.user);
    if (password)
        assert_string_equal(u.password, password);
    else
        assert_null(u.password);
    if (host)
        assert_int_equal(u.port, port);
    assert_int_equal(u.db, db);
    assert_string_equal(u.address, address);
    hf_redis_url_free(&u);
}

/* Parses url, which must be invalid, and checks the error text. */
static void expect_error(const char *url, const char *expected)
{
    hf_redis_url u;
    char err[512] = "";
    memset(&u, 0, sizeof(u));
    if (hf_redis_url_parse(&u, url, err, sizeof(err)) == 0)
        fail_msg("%s: accepted", url);
    assert_string_equal(err, expected);
    hf_redis_url_free(&u); /* what was parsed before the error */
}

static void test_redis_urls(void **state)
{
    (void)state;
    expect_url("redis://127.0.0.1:6380/2", "127.0.0.1", 6380, NULL, NULL, NULL, 2,
               "127.0.0.1:6380");
    expect_url("redis://h", "h", 6379, NULL, NULL, NULL, 0, "h:6379");
    expect_url("redis://h/", "h", 6379, NULL, NULL, NULL, 0, "h:6379");
    expect_url("redis://h:1/2147483647", "h", 1, NULL, NULL, NULL, 2147483647, "h:1");
    expect_url("redis://[::1]:7000/3", "::1", 7000, NULL, NULL, NULL, 3, "[::1]:7000");
    expect_url("redis://[::1]", "::1", 6379, NULL, NULL, NULL, 0, "[::1]:6379");
}

static void test_user_info(void **state)
{
    (void)state;
    expect_url("redis://:secret@h", "h", 6379, NULL, NULL, "secret", 0, "h:6379");
    expect_url("redis://:p%40ss%2f@h:1", "h", 1, NULL, NULL, "p@ss/", 0, "h:1");
    expect_url("redis://u%3A1:pw@h/0", "h", 6379, NULL, "u:1", "pw", 0, "h:6379");
    /* Without a colon the user info is the password (AUTH <password>). */
    expect_url("redis://only@h", "h", 6379, NULL, NULL, "only", 0, "h:6379");
    /* The last @ ends the user info; an empty password is a password. */
    expect_url("redis://u:a@b@h", "h", 6379, NULL, "u", "a@b", 0, "h:6379");
    expect_url("redis://u:@h", "h", 6379, NULL, "u", "", 0, "h:6379");
}

static void test_unix_urls(void **state)
{
    (void)state;
    expect_url("unix:///tmp/r.sock", NULL, 0, "/tmp/r.sock", NULL, NULL, 0, "/tmp/r.sock");
    expect_url("unix:///tmp/r.sock?db=5", NULL, 0, "/tmp/r.sock", NULL, NULL, 5,
               "/tmp/r.sock");
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", "redis.url \"\": unsupported scheme; " SYNTAX);
    expect_error("http://u:pw@h", "redis.url \"http://u:***@h\": unsupported scheme; " SYNTAX);
    expect_error("rediss://h", "redis.url \"rediss://h\": unsupported scheme; " SYNTAX);
    expect_error("redis://:pw@h:99999/0",
                 "redis.url \"redis://:***@h:99999/0\": bad port \"99999\"; " SYNTAX);
    expect_error("redis://h:0", "redis.url \"redis://h:0\": bad port \"0\"; " SYNTAX);
    expect_error("redis://h:", "redis.url \"redis://h:\": bad port \"\"; " SYNTAX);
    expect_error("redis://h:123456789012345678901234",
                 "redis.url \"redis://h:123456789012345678901234\": bad port "
                 "\"12345678901234567890\"; " SYNTAX);
    expect_error("redis://u:pw@h:6379/x",
                 "redis.url \"redis://u:***@h:6379/x\": bad database \"x\"; " SYNTAX);
    expect_error("redis://h/-1", "redis.url \"redis://h/-1\": bad database \"-1\"; " SYNTAX);
    expect_error("redis://h:1/0?timeout=3",
                 "redis.url \"redis://h:1/0?timeout=3\": bad database \"0?timeout=3\"; "
                 SYNTAX);
    expect_error("redis://:6379", "redis.url \"redis://:6379\": no host; " SYNTAX);
    expect_error("redis://pw@", "redis.url \"redis://***@\": no host; " SYNTAX);
    expect_error("redis://h?x=1",
                 "redis.url \"redis://h?x=1\": query and fragment are not supported; " SYNTAX);
    expect_error("redis://h#f",
                 "redis.url \"redis://h#f\": query and fragment are not supported; " SYNTAX);
    expect_error("redis://:%4@h",
                 "redis.url \"redis://:***@h\": bad %-escape in the password; " SYNTAX);
    expect_error("redis://:%zz@h",
                 "redis.url \"redis://:***@h\": bad %-escape in the password; " SYNTAX);
    expect_error("redis://%zz:pw@h",
                 "redis.url \"redis://%zz:***@h\": bad %-escape in the user; " SYNTAX);
    expect_error("redis://[::1", "redis.url \"redis://[::1\": unclosed [ in the host; " SYNTAX);
    expect_error("redis://[::1]x",
                 "redis.url \"redis://[::1]x\": expected :port after ]; " SYNTAX);
    expect_error("redis://[::1]:x", "redis.url \"redis://[::1]:x\": bad port \"x\"; " SYNTAX);
    expect_error("unix://sock",
                 "redis.url \"unix://sock\": the socket path must be absolute; " SYNTAX);
    expect_error("unix://", "redis.url \"unix://\": the socket path must be absolute; " SYNTAX);
    expect_error("unix:///tmp/x.sock?db=z",
                 "redis.url \"unix:///tmp/x.sock?db=z\": the only query is db=N; " SYNTAX);
    expect_error("unix:///tmp/x.sock?timeout=1",
                 "redis.url \"unix:///tmp/x.sock?timeout=1\": the only query is db=N; " SYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_urls),
        cmocka_unit_test(test_user_info),
        cmocka_unit_test(test_unix_urls),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_store_redis.c - the Redis state store (store_redis.h) against a real
 * redis-server, started by scripts/redis on a free 127.0.0.1 port in a
 * temporary directory and stopped by pid: URL errors, epochs, commit and
 * load byte for byte, fencing and conflicts that write nothing, retries of a
 * batch, the outbox, customers moving between compact and big hashes, lost
 * keys, corrupt states, NOSCRIPT and server restarts, partition discovery,
 * and Redis memory per customer (printed; asserted below a generous bound).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis.h>

#include "config/config.h"
#include "core/engine.h"
#include "core/store_memory.h"
#include "redis/store_redis.h"
#include "util/log.h"

#define D0 20000

typedef struct server {
    char dir[256];
    int port;
} server;

static server srv;

static const char *source_dir(void)
{
    const char *d = getenv("HF_SOURCE_DIR");
    return d && *d ? d : HF_SOURCE_DIR;
}

/* Runs scripts/redis with args; returns its last stdout line (static). */
static const char *script(const char *args)
{
    static char line[512];
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/scripts/redis' %s", source_dir(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    line[0] = '\0';
    char buf[512];
    while (fgets(buf, sizeof(buf), p) != NULL)
        snprintf(line, sizeof(line), "%s", buf);
    int rc = pclose(p);
    if (rc != 0)
        fail_msg("scripts/redis %s failed (status %d)", args, rc);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* A number from the env file that scripts/redis wrote for s (0 if none). */
static int server_env(const server *s, const char *name)
{
    char path[300], line[512];
    snprintf(path, sizeof(path), "%s/env", s->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int v = 0;
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == '=')
            v = atoi(line + n + 1);
    fclose(f);
    return v;
}

static void server_start(server *s, const char *extra)
{
    char args[512];
    if (s->dir[0] == '\0') {
        snprintf(s->dir, sizeof(s->dir), "/tmp/hf-test-redis-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
    }
    snprintf(args, sizeof(args), "start --dir '%s' --watch %d %s", s->dir, (int)getpid(),
             extra);
    script(args);
    s->port = server_env(s, "REDIS_PORT");
    assert_true(s->port > 0);
}

static void server_stop(server *s, int keep)
{
    char args[512];
    snprintf(args, sizeof(args), "stop --dir '%s'%s", s->dir, keep ? " --keep" : "");
    script(args);
    if (!keep)
        s->dir[0] = '\0';
}

static int group_setup(void **state)
{
    (void)state;
    hf_log_set_level("error");
    server_start(&srv, "");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_stop(&srv, 0);
    return 0;
}

/*--- Helpers ----------------------------------------------------------------*/

/* A raw connection for checking what is stored. */
static redisContext *raw(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long cmd_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void flushall(int port)
{
    redisContext *c = raw(port);
    freeReplyObject(cmd(c, "FLUSHALL"));
    redisFree(c);
}

static void config_for(hf_config *cfg, const char *url)
{
    char err[512];
    assert_int_equal(hf_config_init(cfg), 0);
    if (hf_config_set(cfg, "redis.url", url, HF_ORIGIN_FLAG, NULL, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(hf_config_set(cfg, "redis.command.timeout.ms", "2000", HF_ORIGIN_FLAG,
                                   NULL, err, sizeof(err)), 0);
}

static hf_redis *open_port(int port)
{
    hf_config cfg;
    char url[64], err[512] = "";
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", port);
    config_for(&cfg, url);
    hf_redis *r = hf_redis_open(&cfg, err, sizeof(err));
    hf_config_destroy(&cfg);
    if (r == NULL)
        fail_msg("hf_redis_open: %s", err);
    hf_redis_set_new_buckets(r, 16);
    return r;
}

static void engine(hf_engine *eng, uint32_t n)
{
    hf_behaviour b[2];
    hf_behaviour_init(&b[0], "repeat");
    hf_behaviour_init(&b[1], "monthly");
    b[1].window_days = 30;
    hf_engine_init(eng, b, n);
}

/* A customer with `days` days from D0 and `ids` recent event ids. */
static hf_customer *customer(const char *id, uint32_t nbeh, int days, int ids)
{
    hf_customer *c = hf_customer_new(id, strlen(id), nbeh);
    assert_non_null(c);
    for (int d = 0; d < days; d++) {
        assert_int_equal(hf_customer_add(c, D0 + 3 * d, 0, 1999 + d, 1 + d), 0);
        if (d % 2)
            assert_int_equal(hf_customer_add(c, D0 + 3 * d, 1, 500, 1), 0);
    }
    for (int k = 0; k < ids; k++) {
        char e[256];
        int n = snprintf(e, sizeof(e), "%s-e%d", id, k);
        assert_true(n > 0 && (size_t)n < sizeof(e));
        hf_customer_remember(c, hf_event_id_hash(e, (size_t)n));
    }
    if (days >= 2) {
        c->target = 1;
        c->flips[0] = 1;
    }
    return c;
}

static size_t encode(const hf_customer *c, uint8_t *buf, size_t n)
{
    size_t len = hf_state_encode(c, buf, n);
    assert_true(len <= n);
    return len;
}

static hf_redis_part *acquire(hf_redis *r, const char *group, int32_t p)
{
    hf_redis_part *part = NULL;
    char err[512] = "";
    hf_redis_status st = hf_redis_acquire(r, group, p, &part, err, sizeof(err));
    if (st != HF_REDIS_OK)
        fail_msg("acquire: %s: %s", hf_redis_status_name(st), err);
    return part;
}

static void commit_ok(hf_redis *r, hf_redis_part *part, hf_redis_batch *b)
{
    char err[512] = "";
    hf_redis_status st = hf_redis_commit(r, part, b, err, sizeof(err));
    if (st != HF_REDIS_OK)
        fail_msg("commit: %s: %s", hf_redis_status_name(st), err);
}

/* The stored bytes of a customer (raw HGET on its compact or big hash). */
static size_t stored(redisContext *c, const hf_redis_part *part, const char *id,
                     int big, uint8_t *out, size_t n)
{
    uint32_t b = hf_redis_bucket(id, strlen(id), part->buckets);
    redisReply *r = cmd(c, "HGET %s:%s:%u %s", part->tag, big ? "big" : "c", b, id);
    size_t len = 0;
    if (r->type == REDIS_REPLY_STRING) {
        assert_true(r->len <= n);
        memcpy(out, r->str, r->len);
        len = r->len;
    } else {
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    }
    freeReplyObject(r);
    return len;
}

static void assert_meta(redisContext *c, const char *key, const char *field,
                        const char *expected)
{
    redisReply *r = cmd(c, "HGET %s %s", key, field);
    if (expected == NULL) {
        assert_int_equal(r->type, REDIS_REPLY_NIL);
    } else {
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_string_equal(r->str, expected);
    }
    freeReplyObject(r);
}

/*--- URL and connection errors ----------------------------------------------*/

static void expect_open_error(const char *url, const char *expected)
{
    hf_config cfg;
    char err[512] = "";
    config_for(&cfg, url);
    hf_redis *r = hf_redis_open(&cfg, err, sizeof(err));
    hf_config_destroy(&cfg);
    assert_null(r);
    assert_string_equal(err, expected);
}

#define SYNTAX "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]"

static void test_url_errors(void **state)
{
    (void)state;
    expect_open_error("redis://:secret@h:99999/0",
                      "redis.url \"redis://:***@h:99999/0\": bad port \"99999\"; " SYNTAX);
    expect_open_error("redis://u:pw@h:6379/x",
                      "redis.url \"redis://u:***@h:6379/x\": bad database \"x\"; " SYNTAX);
    expect_open_error("redis://:6379",
                      "redis.url \"redis://:6379\": no host; " SYNTAX);
    expect_open_error("redis://h:1/0?timeout=3",
                      "redis.url \"redis://h:1/0?timeout=3\": bad database \"0?timeout=3\"; "
                      SYNTAX);
    expect_open_error("redis://h?x=1",
                      "redis.url \"redis://h?x=1\": query and fragment are not supported; "
                      SYNTAX);
    expect_open_error("redis://:a%zz@h",
                      "redis.url \"redis://:***@h\": bad %-escape in the password; " SYNTAX);
    expect_open_error("redis://[::1",
                      "redis.url \"redis://[::1\": unclosed [ in the host; " SYNTAX);
    expect_open_error("unix://sock",
                      "redis.url \"unix://sock\": the socket path must be absolute; " SYNTAX);
    expect_open_error("unix:///tmp/x.sock?db=z",
                      "redis.url \"unix:///tmp/x.sock?db=z\": the only query is db=N; " SYNTAX);
}

static void test_connect_errors(void **state)
{
    (void)state;
    /* A port that was free a moment ago: nothing listens there. */
    char url[64], expected[256];
    int port = srv.port == 1 ? 2 : 1;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    snprintf(expected, sizeof(expected),
             "cannot connect to Redis at 127.0.0.1:%d: Connection refused", port);
    expect_open_error(url, expected);

    /* AUTH against a server without a password. */
    snprintf(url, sizeof(url), "redis://:pw@127.0.0.1:%d", srv.port);
    hf_config cfg;
    char err[512] = "";
    config_for(&cfg, url);
    assert_null(hf_redis_open(&cfg, err, sizeof(err)));
    hf_config_destroy(&cfg);
    snprintf(expected, sizeof(expected), "Redis at 127.0.0.1:%d refused AUTH: ", srv.port);
    assert_memory_equal(err, expected, strlen(expected));

    /* SELECT of a database the server does not have. */
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/99", srv.port);
    snprintf(expected, sizeof(expected),
             "Redis at 127.0.0.1:%d refused SELECT 99: ERR DB index is out of range",
             srv.port);
    expect_open_error(url, expected);
}

/*--- Epochs, commit and load --------------------------------------------------*/

static void test_acquire_increments_epoch(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    hf_redis_part *a = acquire(r, "g1", 3);
    assert_int_equal(a->epoch, 1);
    assert_int_equal(a->batch, 0);
    assert_int_equal(a->buckets, 16);
    assert_int_equal(a->clock, INT32_MIN);
    assert_int_equal(a->outbox_seq, 0);
    assert_int_equal(a->customers, 0);
    assert_int_equal(a->napplied, 0);
    assert_string_equal(a->tag, "hf:{g1:3}");
    assert_int_equal(hf_redis_part_applied(a, "events"), -1);
    /* The bucket count is fixed when the partition is created. */
    hf_redis_set_new_buckets(r, 64);
    hf_redis_part *b = acquire(r, "g1", 3);
    assert_int_equal(b->epoch, 2);
    assert_int_equal(b->buckets, 16);
    hf_redis_part *c = acquire(r, "g1", 4);
    assert_int_equal(c->epoch, 1);
    assert_int_equal(c->buckets, 64);

    /* peek reads without taking. */
    hf_redis_part *p = NULL;
    char err[256] = "";
    assert_int_equal(hf_redis_peek(r, "g1", 3, &p, err, sizeof(err)), HF_REDIS_OK);
    assert_non_null(p);
    assert_int_equal(p->epoch, 2);
    hf_redis_part_destroy(p);
    assert_int_equal(hf_redis_peek(r, "g1", 9, &p, err, sizeof(err)), HF_REDIS_OK);
    assert_null(p);

    hf_redis_part_destroy(a);
    hf_redis_part_destroy(b);
    hf_redis_part_destroy(c);
    hf_redis_part_destroy(NULL);
    hf_redis_close(r);
    hf_redis_close(NULL);
}

static void test_commit_then_load_identical(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_engine eng;
    engine(&eng, 2);
    hf_redis *r = open_port(srv.port);
    hf_redis_part *part = acquire(r, "g", 0);
    const char *ids[] = {"c1", "c2", "c3", "busy", "new", ""};
    hf_customer *cs[6];
    cs[0] = customer("c1", 2, 3, 3);
    cs[1] = customer("c2", 2, 1, 1);
    cs[2] = customer("c3", 2, 0, 0);
    cs[3] = customer("busy", 2, 10, 32);      /* > 64 bytes: a big hash */
    cs[4] = customer("new", 2, 2, 2);
    char longid[100];
    memset(longid, 'x', 99);
    longid[99] = '\0';
    cs[5] = customer(longid, 2, 1, 1);        /* id > 64 bytes: a big hash */
    ids[5] = longid;

    hf_redis_batch *b = hf_redis_batch_new();
    assert_non_null(b);
    for (int i = 0; i < 6; i++)
        assert_int_equal(hf_redis_batch_customer(b, r, part, cs[i]), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", 41), 0);
    assert_int_equal(hf_redis_batch_offset(b, "returns", 7), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", 40), 0); /* the last one wins */
    hf_redis_batch_clock(b, D0 + 27);
    assert_int_equal(hf_redis_batch_customers(b), 6);
    commit_ok(r, part, b);
    assert_int_equal(part->batch, 1);
    assert_int_equal(part->clock, D0 + 27);
    assert_int_equal(part->customers, 6);
    assert_int_equal(hf_redis_part_applied(part, "events"), 41);
    assert_int_equal(hf_redis_part_applied(part, "returns"), 7);
    assert_int_equal(cs[0]->flags, HF_CUST_REDIS_SMALL);
    assert_int_equal(cs[3]->flags, HF_CUST_REDIS_BIG);
    assert_int_equal(cs[5]->flags, HF_CUST_REDIS_BIG);

    /* What Redis holds is hf_state_encode's bytes, in the right hash. */
    redisContext *c = raw(srv.port);
    uint8_t want[1024], got[1024];
    for (int i = 0; i < 6; i++) {
        size_t n = encode(cs[i], want, sizeof(want));
        int big = i == 3 || i == 5;
        assert_int_equal(n > 64, i == 3);
        assert_int_equal(stored(c, part, ids[i], big, got, sizeof(got)), n);
        assert_memory_equal(got, want, n);
        assert_int_equal(stored(c, part, ids[i], !big, got, sizeof(got)), 0);
    }
    assert_meta(c, "hf:{g:0}:meta", "clock", "20027");
    assert_meta(c, "hf:{g:0}:meta", "applied:events", "41");
    assert_meta(c, "hf:{g:0}:meta", "applied:returns", "7");
    assert_meta(c, "hf:{g:0}:meta", "batch", "1");
    assert_meta(c, "hf:{g:0}:meta", "customers", "6");
    assert_meta(c, "hf:{g:0}:meta", "outbox_seq", "0");
    assert_meta(c, "hf:{g:0}:meta", "epoch", "1");
    /* The compact hashes are listpacks. */
    uint32_t bk = hf_redis_bucket("c1", 2, part->buckets);
    redisReply *enc = cmd(c, "OBJECT ENCODING hf:{g:0}:c:%u", bk);
    assert_string_equal(enc->str, "listpack");
    freeReplyObject(enc);

    /* A new owner loads the same states. */
    hf_redis_part *next = acquire(r, "g", 0);
    assert_int_equal(next->epoch, 2);
    assert_int_equal(next->batch, 0);
    assert_int_equal(next->clock, D0 + 27);
    assert_int_equal(next->customers, 6);
    assert_int_equal(hf_redis_part_applied(next, "events"), 41);
    hf_memstore *ms = hf_memstore_new(2);
    size_t loaded = 0;
    char err[512] = "";
    hf_redis_status st = hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err));
    if (st != HF_REDIS_OK)
        fail_msg("load: %s", err);
    assert_int_equal(loaded, 6);
    assert_int_equal(hf_memstore_count(ms), 6);
    for (int i = 0; i < 6; i++) {
        hf_customer *l = hf_memstore_get(ms, ids[i], strlen(ids[i]));
        assert_non_null(l);
        size_t n = encode(cs[i], want, sizeof(want));
        assert_int_equal(encode(l, got, sizeof(got)), n);
        assert_memory_equal(got, want, n);
        for (uint32_t k = 0; k < 2; k++)
            assert_int_equal(l->due[k], hf_engine_due(&eng, l, k, D0 + 27));
        assert_int_equal(l->flags, (i == 3 || i == 5) ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL);
    }
    /* c1: one order on each of D0, D0+3, D0+6; at D0+27 both windows hold
     * all three. A target of the 90-day min-2 behaviour until D0+3 leaves
     * (due D0+93); stored as no target of the 30-day one, which it becomes
     * once D0 leaves (due D0+30). */
    hf_customer *l = hf_memstore_get(ms, "c1", 2);
    assert_int_equal(l->due[0], D0 + 93);
    assert_int_equal(l->due[1], D0 + 30);
    /* The expiry index has them: the first expiry due by D0 + 30. */
    hf_customer *due_c;
    uint32_t due_b;
    int32_t due_d;
    assert_int_equal(hf_memstore_next_expiry(ms, D0 + 30, &due_c, &due_b, &due_d), 1);
    assert_int_equal(due_d, D0 + 30);

    /* hf_redis_get_customer reads one. */
    hf_customer *one = NULL;
    char key[128];
    assert_int_equal(hf_redis_get_customer(r, next, "busy", 4, 2, &one, key, sizeof(key),
                                           err, sizeof(err)), HF_REDIS_OK);
    assert_non_null(one);
    char want_key[64];
    snprintf(want_key, sizeof(want_key), "hf:{g:0}:big:%u",
             hf_redis_bucket("busy", 4, next->buckets));
    assert_string_equal(key, want_key);
    hf_customer_destroy(one);

    hf_memstore_destroy(ms);
    hf_redis_part_destroy(next);
    hf_redis_batch_destroy(b);
    for (int i = 0; i < 6; i++)
        hf_customer_destroy(cs[i]);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    redisFree(c);
}

/*--- Fencing, conflicts, retries ------------------------------------------*/

/* DBSIZE and a digest of every key and its DUMP, to show that nothing was
 * written (DEBUG DIGEST is disabled in Redis 7 by default). */
static void snapshot(redisContext *c, long long *dbsize, char *digest, size_t n)
{
    *dbsize = cmd_int(c, "DBSIZE");
    redisReply *keys = cmd(c, "KEYS *");
    uint64_t h = 1469598103934665603ull;
    /* Order-independent: a sum of per-key FNV-1a hashes. */
    uint64_t sum = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *d = cmd(c, "DUMP %b", keys->element[i]->str, keys->element[i]->len);
        h = 1469598103934665603ull;
        for (size_t k = 0; k < keys->element[i]->len; k++)
            h = (h ^ (uint8_t)keys->element[i]->str[k]) * 1099511628211ull;
        for (size_t k = 0; k < d->len; k++)
            h = (h ^ (uint8_t)d->str[k]) * 1099511628211ull;
        sum += h;
        freeReplyObject(d);
    }
    freeReplyObject(keys);
    snprintf(digest, n, "%016llx", (unsigned long long)sum);
}

static hf_redis_batch *one_batch(hf_redis *r, hf_redis_part *part, hf_customer *c,
                                 int64_t offset)
{
    hf_redis_batch *b = hf_redis_batch_new();
    assert_int_equal(hf_redis_batch_customer(b, r, part, c), 0);
    assert_int_equal(hf_redis_batch_signal(b, "k", 1, "v", 1), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", offset), 0);
    hf_redis_batch_clock(b, D0 + 5);
    return b;
}

/*
 * The common start of a commit test on the shared server: Redis emptied, a
 * handle and a raw connection, partition p of group "g" acquired, customer
 * c1 and a batch of it (one_batch) applied up to offset.
 */
typedef struct one {
    hf_redis *r;
    redisContext *c;
    hf_redis_part *part;
    hf_customer *cu;
    hf_redis_batch *b;
} one;

static one one_open(int32_t p, int64_t offset)
{
    one t;
    flushall(srv.port);
    t.r = open_port(srv.port);
    t.c = raw(srv.port);
    t.part = acquire(t.r, "g", p);
    t.cu = customer("c1", 1, 2, 2);
    t.b = one_batch(t.r, t.part, t.cu, offset);
    return t;
}

static void one_close(one *t)
{
    hf_redis_batch_destroy(t->b);
    hf_customer_destroy(t->cu);
    hf_redis_part_destroy(t->part);
    hf_redis_close(t->r);
    redisFree(t->c);
}

static void test_stale_epoch_is_fenced_and_writes_nothing(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    redisContext *c = raw(srv.port);
    hf_redis_part *zombie = acquire(r, "g", 1);
    hf_customer *cu = customer("c1", 1, 2, 2);
    hf_redis_batch *b = one_batch(r, zombie, cu, 10);
    commit_ok(r, zombie, b);
    hf_redis_batch_clear(b);

    hf_redis_part *owner = acquire(r, "g", 1);   /* epoch 2 */
    long long n0;
    char d0[128], d1[128];
    snapshot(c, &n0, d0, sizeof(d0));
    hf_redis_batch_destroy(b);
    assert_int_equal(hf_customer_add(cu, D0 + 9, 0, 100, 1), 0);
    b = one_batch(r, zombie, cu, 11);
    char err[512] = "";
    assert_int_equal(hf_redis_commit(r, zombie, b, err, sizeof(err)), HF_REDIS_FENCED);
    assert_string_equal(err, "partition 1 of group \"g\" was taken over: its epoch is 2, ours 1");
    long long n1;
    snapshot(c, &n1, d1, sizeof(d1));
    assert_int_equal(n1, n0);
    assert_string_equal(d1, d0);
    assert_int_equal(zombie->batch, 1);      /* unchanged */
    assert_int_equal(hf_redis_part_applied(zombie, "events"), 10);
    uint64_t removed = 99;
    assert_int_equal(hf_redis_outbox_trim(r, zombie, 1, &removed, err, sizeof(err)),
                     HF_REDIS_FENCED);
    assert_int_equal(removed, 0);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:1}:outbox"), 1);

    /* The owner commits the same change. */
    hf_redis_batch_destroy(b);
    b = one_batch(r, owner, cu, 11);
    commit_ok(r, owner, b);
    assert_int_equal(owner->outbox_seq, 2);
    assert_meta(c, "hf:{g:1}:meta", "applied:events", "11");

    /* Meta deleted under the owner: fenced too. */
    freeReplyObject(cmd(c, "DEL hf:{g:1}:meta"));
    assert_int_equal(hf_redis_commit(r, owner, b, err, sizeof(err)), HF_REDIS_FENCED);
    assert_string_equal(err, "partition 1 of group \"g\" has no meta any more (deleted?); "
                             "our epoch is 2");

    hf_redis_batch_destroy(b);
    hf_customer_destroy(cu);
    hf_redis_part_destroy(zombie);
    hf_redis_part_destroy(owner);
    hf_redis_close(r);
    redisFree(c);
}

static void test_wrong_expected_offsets_conflict(void **state)
{
    (void)state;
    one t = one_open(2, 10);
    hf_redis *r = t.r;
    redisContext *c = t.c;
    hf_redis_part *part = t.part;
    commit_ok(r, part, t.b);
    hf_redis_batch_destroy(t.b);

    /* Someone else moved the offset: refused, nothing written. */
    freeReplyObject(cmd(c, "HSET hf:{g:2}:meta applied:events 12"));
    long long n0, n1;
    char d0[128], d1[128], err[512] = "";
    snapshot(c, &n0, d0, sizeof(d0));
    t.b = one_batch(r, part, t.cu, 11);
    assert_int_equal(hf_redis_commit(r, part, t.b, err, sizeof(err)), HF_REDIS_CONFLICT);
    assert_string_equal(err, "partition 2 of group \"g\": stored applied:events is 12, "
                             "expected 10");
    snapshot(c, &n1, d1, sizeof(d1));
    assert_int_equal(n1, n0);
    assert_string_equal(d1, d0);

    /* A topic never applied must be absent. */
    freeReplyObject(cmd(c, "HSET hf:{g:2}:meta applied:events 10 applied:other 3"));
    assert_int_equal(hf_redis_batch_offset(t.b, "other", 5), 0);
    assert_int_equal(hf_redis_commit(r, part, t.b, err, sizeof(err)), HF_REDIS_CONFLICT);
    assert_string_equal(err, "partition 2 of group \"g\": stored applied:other is 3, "
                             "expected -1");
    freeReplyObject(cmd(c, "HDEL hf:{g:2}:meta applied:other"));

    /* The outbox sequence is checked too. */
    freeReplyObject(cmd(c, "HSET hf:{g:2}:meta outbox_seq 7"));
    assert_int_equal(hf_redis_commit(r, part, t.b, err, sizeof(err)), HF_REDIS_CONFLICT);
    assert_string_equal(err, "partition 2 of group \"g\": stored outbox_seq is 7, "
                             "expected 1");

    one_close(&t);
}

static void test_retry_of_a_committed_batch_writes_once(void **state)
{
    (void)state;
    one t = one_open(3, 10);
    hf_redis *r = t.r;
    redisContext *c = t.c;
    hf_redis_part *part = t.part;
    assert_int_equal(hf_redis_batch_signal(t.b, "k2", 2, "v2", 2), 0);
    assert_int_equal(hf_redis_batch_signals(t.b), 2);
    /* As if the reply of the first attempt was lost: same part, same batch. */
    hf_redis_part before = *part;
    commit_ok(r, part, t.b);
    assert_int_equal(part->outbox_seq, 2);
    part->batch = before.batch;
    part->outbox_seq = before.outbox_seq;
    part->applied[0].offset = -1;
    commit_ok(r, part, t.b);
    assert_int_equal(part->batch, 1);
    assert_int_equal(part->outbox_seq, 2);
    assert_int_equal(part->customers, 1);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:3}:outbox"), 2);
    assert_meta(c, "hf:{g:3}:meta", "batch", "1");

    one_close(&t);
}

/*--- Pipelined commits -------------------------------------------------------*/

static hf_redis_status send_st(hf_redis *r, hf_redis_part *part, hf_redis_batch *b)
{
    char err[512] = "";
    hf_redis_status st = hf_redis_commit_send(r, part, b, err, sizeof(err));
    if (st != HF_REDIS_OK)
        fail_msg("send: %s: %s", hf_redis_status_name(st), err);
    return st;
}

/*
 * Waits until one client of the server is inside MULTI with `queued`
 * commands queued (CLIENT LIST: multi=N; -1 outside MULTI).
 */
static void wait_in_multi(redisContext *c, int queued)
{
    char want[32];
    snprintf(want, sizeof(want), " multi=%d ", queued);
    for (int i = 0; i < 500; i++) {
        redisReply *x = cmd(c, "CLIENT LIST");
        int found = x->type == REDIS_REPLY_STRING && strstr(x->str, want) != NULL;
        freeReplyObject(x);
        if (found)
            return;
        usleep(10000);
    }
    fail_msg("no client got to MULTI with %d commands queued", queued);
}

/*
 * A commit formatted ahead (as the helper thread does) is the commit sent;
 * formatted before the partition moved on, or before the batch changed, it
 * is formatted again.
 */
static void test_commit_formatted_ahead(void **state)
{
    (void)state;
    one t = one_open(12, 5);
    char err[512] = "";

    assert_int_equal(hf_redis_commit_format(t.part, t.b, err, sizeof(err)), HF_REDIS_OK);
    send_st(t.r, t.part, t.b);
    assert_int_equal(hf_redis_commit_wait(t.r, t.part, t.b, err, sizeof(err)), HF_REDIS_OK);
    assert_meta(t.c, "hf:{g:12}:meta", "batch", "1");
    assert_meta(t.c, "hf:{g:12}:meta", "outbox_seq", "1");
    assert_meta(t.c, "hf:{g:12}:meta", "applied:events", "5");
    uint8_t want[256], got[256];
    size_t n = encode(t.cu, want, sizeof(want));
    assert_int_equal(stored(t.c, t.part, "c1", 0, got, sizeof(got)), n);
    assert_memory_equal(got, want, n);

    /* Formatted at batch 1; batch 2 commits first: batch 3 is formatted again. */
    hf_redis_batch *b3 = one_batch(t.r, t.part, t.cu, 7);
    assert_int_equal(hf_redis_commit_format(t.part, b3, err, sizeof(err)), HF_REDIS_OK);
    hf_redis_batch *b2 = one_batch(t.r, t.part, t.cu, 6);
    commit_ok(t.r, t.part, b2);
    commit_ok(t.r, t.part, b3);
    assert_int_equal(t.part->batch, 3);
    assert_meta(t.c, "hf:{g:12}:meta", "batch", "3");
    assert_meta(t.c, "hf:{g:12}:meta", "outbox_seq", "3");
    assert_meta(t.c, "hf:{g:12}:meta", "applied:events", "7");
    assert_int_equal(cmd_int(t.c, "LLEN hf:{g:12}:outbox"), 3);

    /* Changed after it was formatted: formatted again. */
    hf_redis_batch *b4 = one_batch(t.r, t.part, t.cu, 8);
    assert_int_equal(hf_redis_commit_format(t.part, b4, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(hf_redis_batch_offset(b4, "other", 4), 0);
    assert_int_equal(hf_redis_batch_signal(b4, "k2", 2, "v2", 2), 0);
    commit_ok(t.r, t.part, b4);
    assert_meta(t.c, "hf:{g:12}:meta", "applied:events", "8");
    assert_meta(t.c, "hf:{g:12}:meta", "applied:other", "4");
    assert_meta(t.c, "hf:{g:12}:meta", "outbox_seq", "5");
    assert_int_equal(cmd_int(t.c, "LLEN hf:{g:12}:outbox"), 5);

    hf_redis_batch_destroy(b2);
    hf_redis_batch_destroy(b3);
    hf_redis_batch_destroy(b4);
    one_close(&t);
}

static void test_pipelined_commits(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    redisContext *c = raw(srv.port);
    hf_redis_part *p1 = acquire(r, "g", 10), *p2 = acquire(r, "g", 11);
    hf_customer *c1 = customer("c1", 1, 2, 2), *c2 = customer("c2", 1, 3, 1);
    hf_redis_batch *b1 = one_batch(r, p1, c1, 5), *b2 = one_batch(r, p2, c2, 7);
    char err[512] = "";

    /* Two partitions in flight; nothing else may be said meanwhile. */
    send_st(r, p1, b1);
    send_st(r, p2, b2);
    uint64_t removed;
    assert_int_equal(hf_redis_outbox_trim(r, p1, 1, &removed, err, sizeof(err)),
                     HF_REDIS_ERROR);
    char msg[256];
    snprintf(msg, sizeof(msg), "Redis at 127.0.0.1:%d: SCRIPT LOAD while 2 pipelined commits "
             "await their replies", srv.port);
    assert_string_equal(err, msg);
    assert_int_equal(hf_redis_commit_wait(r, p1, b1, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(hf_redis_commit_wait(r, p2, b2, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(p1->batch, 1);
    assert_int_equal(p1->outbox_seq, 1);
    assert_int_equal(hf_redis_part_applied(p1, "events"), 5);
    assert_int_equal(hf_redis_part_applied(p2, "events"), 7);
    assert_int_equal(p2->customers, 1);
    assert_meta(c, "hf:{g:10}:meta", "applied:events", "5");
    assert_meta(c, "hf:{g:11}:meta", "applied:events", "7");
    uint8_t want[256], got[256];
    size_t n = encode(c2, want, sizeof(want));
    assert_int_equal(stored(c, p2, "c2", 0, got, sizeof(got)), n);
    assert_memory_equal(got, want, n);

    /* Meta written by someone else after the check, before EXEC: the
     * transaction does nothing and says so; the synchronous retry checks
     * again and commits once. */
    hf_redis_batch_destroy(b1);
    b1 = one_batch(r, p1, c1, 6);
    send_st(r, p1, b1);
    wait_in_multi(c, 4); /* RPUSH, HSET of the bucket, HSET and HINCRBY of meta */
    freeReplyObject(cmd(c, "HSET hf:{g:10}:meta note x"));
    assert_int_equal(hf_redis_commit_wait(r, p1, b1, err, sizeof(err)), HF_REDIS_UNAVAILABLE);
    snprintf(msg, sizeof(msg), "Redis at 127.0.0.1:%d: partition 10 of group \"g\": its meta "
             "changed during the commit (another instance acquiring it?); nothing was "
             "written", srv.port);
    assert_string_equal(err, msg);
    assert_meta(c, "hf:{g:10}:meta", "applied:events", "5");
    assert_int_equal(cmd_int(c, "LLEN hf:{g:10}:outbox"), 1);
    assert_int_equal(p1->batch, 1);
    commit_ok(r, p1, b1);
    assert_int_equal(p1->batch, 2);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:10}:outbox"), 2);
    assert_meta(c, "hf:{g:10}:meta", "applied:events", "6");

    /* Fenced in flight: the outcome arrives with the reply. */
    hf_redis_part *taker = acquire(r, "g", 11);
    hf_redis_batch_destroy(b2);
    b2 = one_batch(r, p2, c2, 8);
    send_st(r, p2, b2);
    assert_int_equal(hf_redis_commit_wait(r, p2, b2, err, sizeof(err)), HF_REDIS_FENCED);
    assert_string_equal(err, "partition 11 of group \"g\" was taken over: its epoch is 2, "
                             "ours 1");
    assert_meta(c, "hf:{g:11}:meta", "applied:events", "7");

    /* Waiting for what was never sent (or went out on a lost connection). */
    assert_int_equal(hf_redis_commit_wait(r, p1, b1, err, sizeof(err)), HF_REDIS_UNAVAILABLE);
    snprintf(msg, sizeof(msg), "Redis at 127.0.0.1:%d: commit: connection lost", srv.port);
    assert_string_equal(err, msg);

    hf_redis_part_destroy(taker);
    hf_redis_batch_destroy(b1);
    hf_redis_batch_destroy(b2);
    hf_customer_destroy(c1);
    hf_customer_destroy(c2);
    hf_redis_part_destroy(p1);
    hf_redis_part_destroy(p2);
    hf_redis_close(r);
    redisFree(c);
}

/*--- Outbox ------------------------------------------------------------------*/

typedef struct seen {
    int n;
    uint64_t seq[8];
    char key[8][16];
    char value[8][16];
    int stop_after;
} seen;

static int on_entry(void *opaque, uint64_t seq, const char *key, size_t klen,
                    const char *value, size_t vlen)
{
    seen *s = opaque;
    assert_true(s->n < 8);
    s->seq[s->n] = seq;
    snprintf(s->key[s->n], 16, "%.*s", (int)klen, key);
    snprintf(s->value[s->n], 16, "%.*s", (int)vlen, value);
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void test_outbox_read_and_trim(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    redisContext *c = raw(srv.port);
    hf_redis_part *part = acquire(r, "g", 4);
    hf_redis_batch *b = hf_redis_batch_new();
    assert_int_equal(hf_redis_batch_signal(b, "c1", 2, "hire", 4), 0);
    assert_int_equal(hf_redis_batch_signal(b, "", 0, "", 0), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", 0), 0);
    commit_ok(r, part, b);
    hf_redis_batch_clear(b);
    assert_int_equal(hf_redis_batch_signal(b, "c2", 2, "fire\x01", 5), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", 1), 0);
    commit_ok(r, part, b);
    assert_int_equal(part->outbox_seq, 3);

    /* Entries: 16 hex digits of sequence, varint key length, key, value. */
    redisReply *e = cmd(c, "LINDEX hf:{g:4}:outbox 0");
    assert_int_equal(e->len, 16 + 1 + 2 + 4);
    assert_memory_equal(e->str, "0000000000000001\x02" "c1hire", e->len);
    freeReplyObject(e);

    seen s = {0};
    char err[256] = "";
    assert_int_equal(hf_redis_outbox_read(r, part, 0, on_entry, &s, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seq[0], 1);
    assert_string_equal(s.key[0], "c1");
    assert_string_equal(s.value[0], "hire");
    assert_int_equal(s.seq[1], 2);
    assert_string_equal(s.key[1], "");
    assert_string_equal(s.value[1], "");
    assert_int_equal(s.seq[2], 3);
    assert_string_equal(s.value[2], "fire\x01");
    memset(&s, 0, sizeof(s));
    assert_int_equal(hf_redis_outbox_read(r, part, 2, on_entry, &s, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 3);
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    assert_int_equal(hf_redis_outbox_read(r, part, 0, on_entry, &s, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(s.n, 1);

    uint64_t removed = 0, len = 0;
    assert_int_equal(hf_redis_outbox_trim(r, part, 2, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(hf_redis_outbox_len(r, part, &len, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(len, 1);
    assert_int_equal(hf_redis_outbox_trim(r, part, 2, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(hf_redis_outbox_trim(r, part, 100, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(cmd_int(c, "EXISTS hf:{g:4}:outbox"), 0);
    assert_int_equal(hf_redis_outbox_trim(r, part, 100, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, 0);
    /* The sequence goes on after a trim. */
    hf_redis_batch_clear(b);
    assert_int_equal(hf_redis_batch_signal(b, "c3", 2, "x", 1), 0);
    commit_ok(r, part, b);
    memset(&s, 0, sizeof(s));
    assert_int_equal(hf_redis_outbox_read(r, part, 0, on_entry, &s, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 4);

    hf_redis_batch_destroy(b);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    redisFree(c);
}

/*--- Compact and big hashes ------------------------------------------------*/

static void test_customer_moves_between_hashes(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    redisContext *c = raw(srv.port);
    assert_int_equal(hf_redis_small_limit(r), 64);
    hf_redis_part *part = acquire(r, "g", 5);
    hf_customer *cu = customer("mover", 1, 2, 1);
    hf_redis_batch *b = hf_redis_batch_new();
    uint8_t buf[512];

    assert_int_equal(hf_redis_batch_customer(b, r, part, cu), 0);
    commit_ok(r, part, b);
    assert_true(stored(c, part, "mover", 0, buf, sizeof(buf)) > 0);
    /* Grows past 64 bytes: moves to the big hash, leaves the compact one. */
    for (int d = 3; d < 12; d++)
        assert_int_equal(hf_customer_add(cu, D0 + 3 * d, 0, 100000, 9), 0);
    assert_true(encode(cu, buf, sizeof(buf)) > 64);
    hf_redis_batch_clear(b);
    assert_int_equal(hf_redis_batch_customer(b, r, part, cu), 0);
    commit_ok(r, part, b);
    assert_int_equal(cu->flags, HF_CUST_REDIS_BIG);
    assert_int_equal(stored(c, part, "mover", 0, buf, sizeof(buf)), 0);
    assert_true(stored(c, part, "mover", 1, buf, sizeof(buf)) > 64);
    assert_int_equal(part->customers, 1);
    /* Shrinks again (old days pruned): back to the compact hash. */
    hf_customer_prune(cu, D0 + 30);
    hf_redis_batch_clear(b);
    assert_int_equal(hf_redis_batch_customer(b, r, part, cu), 0);
    commit_ok(r, part, b);
    assert_int_equal(cu->flags, HF_CUST_REDIS_SMALL);
    assert_int_equal(stored(c, part, "mover", 1, buf, sizeof(buf)), 0);
    size_t n = stored(c, part, "mover", 0, buf, sizeof(buf));
    uint8_t want[512];
    assert_int_equal(encode(cu, want, sizeof(want)), n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(part->customers, 1);
    assert_meta(c, "hf:{g:5}:meta", "customers", "1");

    uint64_t small = 0, big = 0;
    char err[256];
    assert_int_equal(hf_redis_count(r, part, &small, &big, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(small, 1);
    assert_int_equal(big, 0);

    hf_redis_batch_destroy(b);
    hf_customer_destroy(cu);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    redisFree(c);
}

/*--- Damage ------------------------------------------------------------------*/

static void test_load_notices_lost_and_corrupt_state(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_engine eng;
    engine(&eng, 1);
    hf_redis *r = open_port(srv.port);
    redisContext *c = raw(srv.port);
    hf_redis_set_new_buckets(r, 1024);
    hf_redis_part *part = acquire(r, "g", 6);
    assert_int_equal(part->buckets, 1024);
    /* a, b and c in three different buckets */
    assert_int_not_equal(hf_redis_bucket("a", 1, 1024), hf_redis_bucket("b", 1, 1024));
    assert_int_not_equal(hf_redis_bucket("c", 1, 1024), hf_redis_bucket("b", 1, 1024));
    hf_redis_batch *b = hf_redis_batch_new();
    hf_customer *cs[3] = {customer("a", 1, 1, 1), customer("b", 1, 2, 2),
                          customer("c", 1, 3, 3)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(hf_redis_batch_customer(b, r, part, cs[i]), 0);
    commit_ok(r, part, b);

    hf_redis_part *next = acquire(r, "g", 6);
    char err[512] = "";
    size_t loaded;
    /* An evicted bucket. */
    freeReplyObject(cmd(c, "DEL hf:{g:6}:c:%u", hf_redis_bucket("b", 1, part->buckets)));
    hf_memstore *ms = hf_memstore_new(1);
    assert_int_equal(hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err)),
                     HF_REDIS_ERROR);
    assert_int_equal(loaded, 2);
    assert_string_equal(err, "partition 6 holds 2 customers but its meta counts 3: keys "
                             "were deleted or evicted (use maxmemory-policy noeviction)");
    hf_memstore_destroy(ms);

    /* A corrupt state names its key and customer. */
    uint32_t ba = hf_redis_bucket("a", 1, part->buckets);
    freeReplyObject(cmd(c, "HSET hf:{g:6}:c:%u a %b", ba, "\x09\x01", (size_t)2));
    ms = hf_memstore_new(1);
    assert_int_equal(hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err)),
                     HF_REDIS_ERROR);
    char want[256];
    snprintf(want, sizeof(want), "hf:{g:6}:c:%u: customer \"a\": state version 9 is not "
             "supported (expected 1)", ba);
    assert_string_equal(err, want);
    hf_memstore_destroy(ms);

    /* A customer in the wrong bucket. */
    freeReplyObject(cmd(c, "HDEL hf:{g:6}:c:%u a", ba));
    freeReplyObject(cmd(c, "HSET hf:{g:6}:c:%u a x", (ba + 1) % part->buckets));
    ms = hf_memstore_new(1);
    assert_int_equal(hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err)),
                     HF_REDIS_ERROR);
    snprintf(want, sizeof(want), "hf:{g:6}:c:%u: customer \"a\" belongs to bucket %u of 1024",
             (ba + 1) % part->buckets, ba);
    assert_string_equal(err, want);
    hf_memstore_destroy(ms);

    /* A wrong key type is an error, not a retry. */
    freeReplyObject(cmd(c, "DEL hf:{g:6}:outbox"));
    freeReplyObject(cmd(c, "SET hf:{g:6}:outbox x"));
    uint64_t len;
    assert_int_equal(hf_redis_outbox_len(r, next, &len, err, sizeof(err)), HF_REDIS_ERROR);
    snprintf(want, sizeof(want), "Redis at 127.0.0.1:%d: LLEN: WRONGTYPE Operation against "
             "a key holding the wrong kind of value", srv.port);
    assert_string_equal(err, want);

    hf_redis_batch_destroy(b);
    for (int i = 0; i < 3; i++)
        hf_customer_destroy(cs[i]);
    hf_redis_part_destroy(part);
    hf_redis_part_destroy(next);
    hf_redis_close(r);
    redisFree(c);
}

/* More customers in one bucket hash than any other test writes at once. */
static void test_large_batch_in_one_bucket(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_engine eng;
    engine(&eng, 1);
    hf_redis *r = open_port(srv.port);
    hf_redis_set_new_buckets(r, 1);
    redisContext *c = raw(srv.port);
    hf_redis_part *part = acquire(r, "g", 9);
    assert_int_equal(part->buckets, 1);
    enum { N = 4500, S = 9000 };
    hf_customer **cs = calloc(N, sizeof(*cs));
    assert_non_null(cs);
    hf_redis_batch *b = hf_redis_batch_new();
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        cs[i] = customer(id, 1, 1 + i % 3, 1);
        assert_int_equal(hf_redis_batch_customer(b, r, part, cs[i]), 0);
    }
    for (int i = 0; i < S; i++)
        assert_int_equal(hf_redis_batch_signal(b, "k", 1, "v", 1), 0);
    assert_int_equal(hf_redis_batch_offset(b, "events", 99), 0);
    commit_ok(r, part, b);
    assert_int_equal(part->customers, N);
    assert_int_equal(part->outbox_seq, S);
    assert_int_equal(cmd_int(c, "HLEN hf:{g:9}:c:0"), N);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:9}:outbox"), S);

    /* Every third customer grows past 64 bytes; one commit of all of them
     * (more writes than hashes: sorted by counting) moves those to the big
     * hash and out of the compact one. */
    hf_redis_batch_clear(b);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            for (int d = 3; d < 12; d++)
                assert_int_equal(hf_customer_add(cs[i], D0 + 3 * d, 0, 100000, 9), 0);
        assert_int_equal(hf_redis_batch_customer(b, r, part, cs[i]), 0);
    }
    assert_int_equal(hf_redis_batch_offset(b, "events", 100), 0);
    commit_ok(r, part, b);
    assert_int_equal(part->customers, N);
    assert_int_equal(cmd_int(c, "HLEN hf:{g:9}:c:0"), N - N / 3);
    assert_int_equal(cmd_int(c, "HLEN hf:{g:9}:big:0"), N / 3);
    uint8_t want[512], got[512];
    for (int i = 0; i < 2; i++) {
        size_t n = encode(cs[i], want, sizeof(want));
        assert_int_equal(n > 64, i == 0);
        assert_int_equal(stored(c, part, i == 0 ? "c0" : "c1", i == 0, got, sizeof(got)), n);
        assert_memory_equal(got, want, n);
        assert_int_equal(stored(c, part, i == 0 ? "c0" : "c1", i != 0, got, sizeof(got)), 0);
    }

    hf_redis_part *next = acquire(r, "g", 9);
    hf_memstore *ms = hf_memstore_new(1);
    size_t loaded = 0;
    char err[512] = "";
    assert_int_equal(hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(loaded, N);
    seen s = {0};
    s.stop_after = 0;
    uint64_t removed;
    assert_int_equal(hf_redis_outbox_trim(r, next, S - 2, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, S - 2);
    assert_int_equal(hf_redis_outbox_read(r, next, 0, on_entry, &s, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], S - 1);
    assert_int_equal(s.seq[1], S);

    hf_memstore_destroy(ms);
    hf_redis_part_destroy(next);
    hf_redis_batch_destroy(b);
    for (int i = 0; i < N; i++)
        hf_customer_destroy(cs[i]);
    free(cs);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    redisFree(c);
}

/*--- Scripts and restarts ----------------------------------------------------*/

static void test_noscript_recovery(void **state)
{
    (void)state;
    one t = one_open(7, 1);
    hf_redis *r = t.r;
    redisContext *c = t.c;
    hf_redis_part *part = t.part;
    commit_ok(r, part, t.b);
    freeReplyObject(cmd(c, "SCRIPT FLUSH"));
    hf_redis_batch_destroy(t.b);
    t.b = one_batch(r, part, t.cu, 2);
    commit_ok(r, part, t.b);
    assert_meta(c, "hf:{g:7}:meta", "applied:events", "2");
    freeReplyObject(cmd(c, "SCRIPT FLUSH"));
    uint64_t removed;
    char err[256];
    assert_int_equal(hf_redis_outbox_trim(r, part, 1, &removed, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(removed, 1);
    freeReplyObject(cmd(c, "SCRIPT FLUSH"));
    hf_redis_part *next = acquire(r, "g", 7);
    assert_int_equal(next->epoch, 2);

    hf_redis_part_destroy(next);
    one_close(&t);
}

/* At maxmemory (noeviction) Redis refuses the queued writes: EXEC writes
 * nothing, the commit is an outage to retry, and goes through once memory
 * is there again. */
static void test_full_redis_writes_nothing(void **state)
{
    (void)state;
    one t = one_open(8, 1);
    hf_redis *r = t.r;
    redisContext *c = t.c;
    hf_redis_part *part = t.part;
    freeReplyObject(cmd(c, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 1"));
    char err[512] = "", want[512];
    hf_redis_status st = hf_redis_commit(r, part, t.b, err, sizeof(err));
    freeReplyObject(cmd(c, "CONFIG SET maxmemory 0"));
    assert_int_equal(st, HF_REDIS_UNAVAILABLE);
    snprintf(want, sizeof(want), "Redis at 127.0.0.1:%d: commit: EXECABORT Transaction "
             "discarded because of previous errors.: OOM command not allowed when used "
             "memory > 'maxmemory'.", srv.port);
    assert_string_equal(err, want);
    assert_int_equal(cmd_int(c, "EXISTS hf:{g:8}:outbox"), 0);
    assert_meta(c, "hf:{g:8}:meta", "applied:events", NULL);
    assert_int_equal(part->batch, 0);
    commit_ok(r, part, t.b);
    assert_int_equal(part->batch, 1);
    assert_int_equal(part->customers, 1);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:8}:outbox"), 1);
    assert_meta(c, "hf:{g:8}:meta", "applied:events", "1");

    one_close(&t);
}

static void test_restart_unavailable_then_recovers(void **state)
{
    (void)state;
    server own = {{0}, 0};
    server_start(&own, "--aof");
    hf_redis *r = open_port(own.port);
    hf_redis_part *part = acquire(r, "g", 8);
    hf_customer *cu = customer("c1", 1, 2, 2);
    hf_redis_batch *b = one_batch(r, part, cu, 1);
    commit_ok(r, part, b);
    /* appendfsync everysec: wait for the AOF to be written before the stop. */
    redisContext *c = raw(own.port);
    freeReplyObject(cmd(c, "BGREWRITEAOF"));
    for (int i = 0; i < 100; i++) {
        redisReply *info = cmd(c, "INFO persistence");
        int busy = strstr(info->str, "aof_rewrite_in_progress:1") != NULL ||
                   strstr(info->str, "aof_rewrite_scheduled:1") != NULL;
        freeReplyObject(info);
        if (!busy)
            break;
        usleep(50000);
    }
    redisFree(c);

    server_stop(&own, 1);
    hf_redis_batch_destroy(b);
    b = one_batch(r, part, cu, 2);
    char err[512] = "", want[256];
    assert_int_equal(hf_redis_commit(r, part, b, err, sizeof(err)), HF_REDIS_UNAVAILABLE);
    snprintf(want, sizeof(want), "Redis at 127.0.0.1:%d: ", own.port);
    assert_memory_equal(err, want, strlen(want));
    /* Down: the next call fails to connect. */
    assert_int_equal(hf_redis_commit(r, part, b, err, sizeof(err)), HF_REDIS_UNAVAILABLE);
    snprintf(want, sizeof(want), "cannot connect to Redis at 127.0.0.1:%d: Connection refused",
             own.port);
    assert_string_equal(err, want);

    server_start(&own, "");  /* same port, same data (AOF), scripts gone */
    commit_ok(r, part, b);
    assert_int_equal(part->batch, 2);
    c = raw(own.port);
    assert_meta(c, "hf:{g:8}:meta", "applied:events", "2");
    assert_meta(c, "hf:{g:8}:meta", "outbox_seq", "2");
    redisFree(c);

    hf_redis_batch_destroy(b);
    hf_customer_destroy(cu);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    server_stop(&own, 0);
}

/* Pipelined commits to a server that went away: UNAVAILABLE, then a retry
 * commits once the server is back (the process ignores SIGPIPE, as run does). */
static void test_pipelined_commits_survive_a_restart(void **state)
{
    (void)state;
    server own = {{0}, 0};
    server_start(&own, "--aof");
    hf_redis *r = open_port(own.port);
    hf_redis_part *p1 = acquire(r, "g", 12), *p2 = acquire(r, "g", 13);
    hf_customer *c1 = customer("c1", 1, 2, 2), *c2 = customer("c2", 1, 2, 2);
    hf_redis_batch *b1 = one_batch(r, p1, c1, 1), *b2 = one_batch(r, p2, c2, 1);
    char err[512] = "";
    commit_ok(r, p1, b1); /* loads the script */
    hf_redis_batch_destroy(b1);
    b1 = one_batch(r, p1, c1, 2);
    server_stop(&own, 1);
    hf_redis_status s1 = hf_redis_commit_send(r, p1, b1, err, sizeof(err));
    hf_redis_status s2 = s1 == HF_REDIS_OK ? hf_redis_commit_send(r, p2, b2, err, sizeof(err))
                                           : s1;
    if (s1 == HF_REDIS_OK)
        s1 = hf_redis_commit_wait(r, p1, b1, err, sizeof(err));
    if (s2 == HF_REDIS_OK)
        s2 = hf_redis_commit_wait(r, p2, b2, err, sizeof(err));
    assert_int_equal(s1, HF_REDIS_UNAVAILABLE);
    assert_int_equal(s2, HF_REDIS_UNAVAILABLE);

    server_start(&own, "");
    commit_ok(r, p1, b1);
    commit_ok(r, p2, b2);
    assert_int_equal(p1->batch, 2);
    assert_int_equal(p2->batch, 1);

    hf_redis_batch_destroy(b1);
    hf_redis_batch_destroy(b2);
    hf_customer_destroy(c1);
    hf_customer_destroy(c2);
    hf_redis_part_destroy(p1);
    hf_redis_part_destroy(p2);
    hf_redis_close(r);
    server_stop(&own, 0);
}

/* A commit larger than the socket buffers, to a server that stopped
 * reading (SIGSTOP): the send times out (redis.command.timeout.ms) as
 * UNAVAILABLE, and once the server runs again the same batch commits once. */
static void test_commit_send_times_out(void **state)
{
    (void)state;
    server own = {{0}, 0};
    server_start(&own, "");
    hf_config cfg;
    char url[64], err[512] = "", want[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", own.port);
    config_for(&cfg, url);
    assert_int_equal(hf_config_set(&cfg, "redis.command.timeout.ms", "200", HF_ORIGIN_FLAG,
                                   NULL, err, sizeof(err)), 0);
    hf_redis *r = hf_redis_open(&cfg, err, sizeof(err));
    hf_config_destroy(&cfg);
    if (r == NULL)
        fail_msg("hf_redis_open: %s", err);
    hf_redis_part *part = acquire(r, "g", 14);
    hf_customer *cu = customer("c1", 1, 2, 2);
    hf_redis_batch *b = one_batch(r, part, cu, 1);
    commit_ok(r, part, b); /* connected, script loaded */
    hf_redis_batch_destroy(b);

    /* 48 MB of outbox entries: more than loopback's buffers hold. */
    enum { S = 768, V = 64 * 1024 };
    char *v = malloc(V);
    assert_non_null(v);
    memset(v, 'v', V);
    b = one_batch(r, part, cu, 2);
    for (int i = 0; i < S; i++)
        assert_int_equal(hf_redis_batch_signal(b, "k", 1, v, V), 0);
    free(v);

    pid_t pid = (pid_t)server_env(&own, "REDIS_PID");
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    hf_redis_status st = hf_redis_commit(r, part, b, err, sizeof(err));
    assert_int_equal(kill(pid, SIGCONT), 0);
    assert_int_equal(st, HF_REDIS_UNAVAILABLE);
    snprintf(want, sizeof(want), "Redis at 127.0.0.1:%d: commit: timed out (redis.command.timeout.ms)", own.port);
    assert_string_equal(err, want);
    assert_int_equal(part->batch, 1);

    /* The half-sent transaction died with its connection: nothing of it. */
    commit_ok(r, part, b);
    assert_int_equal(part->batch, 2);
    assert_int_equal(part->outbox_seq, 2 + S);
    redisContext *c = raw(own.port);
    assert_int_equal(cmd_int(c, "LLEN hf:{g:14}:outbox"), 2 + S);
    assert_meta(c, "hf:{g:14}:meta", "applied:events", "2");
    redisFree(c);

    hf_redis_batch_destroy(b);
    hf_customer_destroy(cu);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    server_stop(&own, 0);
}

/*--- Discovery ----------------------------------------------------------*/

static void test_partitions_of_a_group(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    const int32_t ps[] = {12, 0, 3};
    for (int i = 0; i < 3; i++)
        hf_redis_part_destroy(acquire(r, "orders*", ps[i]));
    hf_redis_part_destroy(acquire(r, "orders-x", 5));   /* matched by the glob */
    hf_redis_part_destroy(acquire(r, "other", 1));
    int32_t *out = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(hf_redis_partitions(r, "orders*", &out, &n, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 12);
    free(out);
    assert_int_equal(hf_redis_partitions(r, "none", &out, &n, err, sizeof(err)),
                     HF_REDIS_OK);
    assert_int_equal(n, 0);
    free(out);
    hf_redis_close(r);
}

/*--- Memory ------------------------------------------------------------------*/

static long long used_memory(redisContext *c)
{
    redisReply *r = cmd(c, "INFO memory");
    const char *p = strstr(r->str, "used_memory:");
    assert_non_null(p);
    long long v = atoll(p + strlen("used_memory:"));
    freeReplyObject(r);
    return v;
}

/* 100,000 realistic customers (3 days, 3 event ids, ids like "C0012345"). */
/*--- Bucket growth ------------------------------------------------------------*/

/* Sets hash-max-listpack-entries; returns the value it had (free it). */
static char *listpack_limit(redisContext *c, const char *value)
{
    redisReply *r = cmd(c, "CONFIG GET hash-max-listpack-entries");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    char *old = strdup(r->element[1]->str);
    freeReplyObject(r);
    r = cmd(c, "CONFIG SET hash-max-listpack-entries %s", value);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    return old;
}

/* An empty Redis with hash-max-listpack-entries 128 (Redis' default;
 * Debian's is 512) and a store connected to it; undone by small_end. */
static hf_redis *small_begin(redisContext **c, char **limit)
{
    flushall(srv.port);
    *c = raw(srv.port);
    *limit = listpack_limit(*c, "128");
    return open_port(srv.port);
}

static void small_end(hf_redis *r, redisContext *c, char *limit)
{
    hf_redis_close(r);
    free(listpack_limit(c, limit));
    free(limit);
    redisFree(c);
}

/* The encoding of every customer hash of the partition is a listpack. */
static void assert_all_listpacks(redisContext *c, const hf_redis_part *part)
{
    for (uint32_t b = 0; b < hf_redis_part_nbuckets(part); b++) {
        redisReply *r = cmd(c, "OBJECT ENCODING %s:c:%u", part->tag, b);
        if (r->type != REDIS_REPLY_NIL) {
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            if (strcmp(r->str, "listpack") != 0)
                fail_msg("%s:c:%u is a %s", part->tag, b, r->str);
        }
        freeReplyObject(r);
    }
}

/* Commits n new customers ("<prefix><i>", from i = from) and grows. */
static int commit_new(hf_redis *r, hf_redis_part *part, hf_memstore *ms, hf_redis_batch *b,
                      const char *prefix, int from, int n)
{
    hf_redis_batch_clear(b);
    for (int i = from; i < from + n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s%d", prefix, i);
        hf_customer *cu = customer(id, 1, 1 + i % 3, 2);
        assert_int_equal(hf_memstore_insert(ms, cu), 0);
        assert_int_equal(hf_redis_batch_customer(b, r, part, cu), 0);
    }
    int split = hf_redis_batch_grow(b, r, part, ms);
    assert_true(split >= 0);
    commit_ok(r, part, b);
    return split;
}

/*
 * The documented rule, for hash-max-listpack-entries 128: with c customers
 * stored, a commit splits buckets until split = (c - 48 * buckets) / 48 + 1
 * (all of them once c reaches 96 * buckets), 256 at a time (fewer only to
 * finish a round); a finished round doubles buckets.
 */
static void rule(uint64_t c, uint32_t *buckets, uint32_t *split)
{
    uint64_t per = c / *buckets;
    if (per < 48)
        return;
    uint64_t want = per >= 96 ? *buckets : (c - 48 * (uint64_t)*buckets) / 48 + 1;
    if (want > *buckets)
        want = *buckets;
    if (want <= *split || (want - *split < 256 && want < *buckets))
        return;
    uint64_t n = want - *split > 256 ? 256 : want - *split;
    *split += (uint32_t)n;
    if (*split == *buckets) {
        *buckets *= 2;
        *split = 0;
    }
}

/*
 * Commits customers 0..n-1 in steps to a new partition (group g, p) of
 * `initial` buckets, checking after each commit the buckets and split
 * against rule(), the count, and that every hash is a listpack. Returns
 * the writer's partition; *ms holds its customers.
 */
static hf_redis_part *grow_to(hf_redis *r, redisContext *c, int32_t p, uint32_t initial,
                              int n, int step, hf_memstore **ms)
{
    hf_redis_set_new_buckets(r, initial);
    hf_redis_part *part = acquire(r, "g", p);
    *ms = hf_memstore_new(1);
    hf_redis_batch *b = hf_redis_batch_new();
    uint32_t buckets = initial, split = 0;
    for (int i = 0; i < n; i += step) {
        uint32_t before = hf_redis_part_nbuckets(part);
        rule(part->customers, &buckets, &split);
        int k = commit_new(r, part, *ms, b, "cust-", i, step);
        assert_int_equal(part->buckets, buckets);
        assert_int_equal(part->split, split);
        assert_int_equal(hf_redis_part_nbuckets(part), before + (uint32_t)k);
        assert_int_equal(part->customers, (uint64_t)(i + step));
        assert_all_listpacks(c, part);
    }
    hf_redis_batch_destroy(b);
    return part;
}

/* A new owner loads all n customers of the partition, each in its bucket. */
static void load_all(hf_redis *r, int32_t p, const hf_memstore *ms, size_t n,
                     uint32_t buckets, uint32_t split)
{
    hf_engine eng;
    engine(&eng, 1);
    hf_redis_part *next = acquire(r, "g", p);
    assert_int_equal(next->buckets, buckets);
    assert_int_equal(next->split, split);
    hf_memstore *loaded_ms = hf_memstore_new(1);
    size_t loaded = 0;
    char err[512] = "";
    if (hf_redis_load(r, next, &eng, loaded_ms, &loaded, err, sizeof(err)) != HF_REDIS_OK)
        fail_msg("load: %s", err);
    assert_int_equal(loaded, n);
    uint64_t small = 0, big = 0;
    assert_int_equal(hf_redis_count(r, next, &small, &big, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(small + big, n);
    uint8_t want[256], got[256];
    hf_customer *x = hf_memstore_get((hf_memstore *)ms, "cust-4321", 9);
    hf_customer *y = hf_memstore_get(loaded_ms, "cust-4321", 9);
    assert_non_null(x);
    assert_non_null(y);
    size_t len = encode(x, want, sizeof(want));
    assert_int_equal(encode(y, got, sizeof(got)), len);
    assert_memory_equal(got, want, len);
    hf_memstore_destroy(loaded_ms);
    hf_redis_part_destroy(next);
}

static void test_buckets_grow_by_splitting(void **state)
{
    (void)state;
    redisContext *c;
    char *limit;
    hf_redis *r = small_begin(&c, &limit);
    char err[512] = "";

    /* 9000 customers in 16 buckets at first: whole rounds at 96 per bucket
     * (16, 32 and 64 buckets split). */
    hf_memstore *ms;
    hf_redis_part *part = grow_to(r, c, 3, 16, 9000, 250, &ms);
    assert_int_equal(part->buckets, 128);
    assert_int_equal(part->split, 0);
    assert_meta(c, "hf:{g:3}:meta", "buckets", "128");
    assert_meta(c, "hf:{g:3}:meta", "customers", "9000");
    redisReply *rep = cmd(c, "EXISTS hf:{g:3}:c:128");
    assert_int_equal(rep->integer, 0); /* no hash beyond the last bucket */
    freeReplyObject(rep);
    load_all(r, 3, ms, 9000, 128, 0);

    /* The old owner is fenced, and its growth with it: nothing changes. */
    hf_redis_batch *b = hf_redis_batch_new();
    part->customers = 20000; /* would split all 128 */
    assert_int_equal(hf_redis_batch_grow(b, r, part, ms), 128);
    assert_int_equal(hf_redis_commit(r, part, b, err, sizeof(err)), HF_REDIS_FENCED);
    assert_int_equal(part->buckets, 128);
    assert_int_equal(part->split, 0);
    assert_meta(c, "hf:{g:3}:meta", "buckets", "128");
    hf_redis_batch_destroy(b);
    hf_memstore_destroy(ms);
    hf_redis_part_destroy(part);

    /* 40000 in 512: the round starts at 48 per bucket (24576) and splits
     * 256 buckets once 256 are due (at 36816), so half of it is split. */
    part = grow_to(r, c, 5, 512, 40000, 1000, &ms);
    assert_int_equal(part->buckets, 512);
    assert_int_equal(part->split, 256);
    assert_int_equal(hf_redis_part_nbuckets(part), 768);
    assert_meta(c, "hf:{g:5}:meta", "buckets", "512");
    assert_meta(c, "hf:{g:5}:meta", "split", "256");
    load_all(r, 5, ms, 40000, 512, 256);
    hf_memstore_destroy(ms);
    hf_redis_part_destroy(part);
    small_end(r, c, limit);
}

/* A bucket that became a hash table (stored before growth) is rewritten
 * as listpacks by the splits. */
static void test_oversized_buckets_are_rewritten(void **state)
{
    (void)state;
    redisContext *c;
    char *limit;
    hf_redis *r = small_begin(&c, &limit);
    hf_redis_set_new_buckets(r, 1);
    hf_redis_part *part = acquire(r, "g", 4);
    hf_memstore *ms = hf_memstore_new(1);
    hf_redis_batch *b = hf_redis_batch_new();
    /* 300 customers in one commit: nothing to grow from yet. */
    assert_int_equal(commit_new(r, part, ms, b, "x", 0, 300), 0);
    assert_int_equal(part->buckets, 1);
    redisReply *rep = cmd(c, "OBJECT ENCODING %s:c:0", part->tag);
    assert_string_equal(rep->str, "hashtable");
    freeReplyObject(rep);
    /* Then empty commits split: 1 -> 2 -> 4 buckets of ~75, and no more
     * (3 of 4 are due at 300 customers, but they wait for 256 or the end
     * of the round). */
    assert_int_equal(commit_new(r, part, ms, b, "x", 300, 0), 1);
    assert_int_equal(part->buckets, 2);
    assert_int_equal(commit_new(r, part, ms, b, "x", 300, 0), 2);
    assert_int_equal(part->buckets, 4);
    assert_int_equal(commit_new(r, part, ms, b, "x", 300, 0), 0);
    assert_int_equal(part->buckets, 4);
    assert_int_equal(part->split, 0);
    assert_int_equal(hf_redis_part_nbuckets(part), 4);
    assert_int_equal(part->customers, 300);
    assert_all_listpacks(c, part);
    uint64_t small = 0, big = 0;
    char err[512];
    assert_int_equal(hf_redis_count(r, part, &small, &big, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(small + big, 300);

    hf_redis_batch_destroy(b);
    hf_memstore_destroy(ms);
    hf_redis_part_destroy(part);
    small_end(r, c, limit);
}

static void test_memory_per_customer(void **state)
{
    (void)state;
    flushall(srv.port);
    hf_redis *r = open_port(srv.port);
    hf_redis_set_new_buckets(r, HF_REDIS_DEFAULT_BUCKETS);
    redisContext *c = raw(srv.port);
    hf_redis_part *part = acquire(r, "g", 0);
    long long before = used_memory(c);
    hf_redis_batch *b = hf_redis_batch_new();
    enum { N = 100000, BATCH = 2000 };
    hf_customer **cs = calloc(BATCH, sizeof(*cs));
    assert_non_null(cs);
    for (int i = 0; i < N; i += BATCH) {
        hf_redis_batch_clear(b);
        for (int j = 0; j < BATCH; j++) {
            char id[16];
            snprintf(id, sizeof(id), "C%07d", i + j);
            hf_customer *cu = hf_customer_new(id, strlen(id), 1);
            int32_t day = D0 + (i + j) % 60;
            for (int d = 0; d < 3; d++) {
                assert_int_equal(hf_customer_add(cu, day + 7 * d, 0, 1000 + 37 * ((i + j + d) % 400),
                                                 1 + (i + j + d) % 4), 0);
                char e[32];
                int n = snprintf(e, sizeof(e), "E%d-%d", i + j, d);
                hf_customer_remember(cu, hf_event_id_hash(e, (size_t)n));
            }
            cu->target = 1;
            cu->flips[0] = 1;
            cs[j] = cu;
            assert_int_equal(hf_redis_batch_customer(b, r, part, cu), 0);
        }
        commit_ok(r, part, b);
        for (int j = 0; j < BATCH; j++)
            hf_customer_destroy(cs[j]);
    }
    free(cs);
    long long after = used_memory(c);
    double per = (double)(after - before) / N;
    uint8_t buf[256];
    hf_customer *sample = hf_customer_new("C0000001", 8, 1);
    size_t state_bytes = hf_state_encode(sample, buf, sizeof(buf));
    hf_customer_destroy(sample);
    (void)state_bytes;
    print_message("redis memory: %.1f bytes per customer (%d customers, %u buckets)\n", per,
                  N, part->buckets);
    assert_true(per < 100.0);
    assert_int_equal(part->customers, N);

    hf_redis_batch_destroy(b);
    hf_redis_part_destroy(part);
    hf_redis_close(r);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_acquire_increments_epoch),
        cmocka_unit_test(test_commit_then_load_identical),
        cmocka_unit_test(test_stale_epoch_is_fenced_and_writes_nothing),
        cmocka_unit_test(test_wrong_expected_offsets_conflict),
        cmocka_unit_test(test_retry_of_a_committed_batch_writes_once),
        cmocka_unit_test(test_pipelined_commits),
        cmocka_unit_test(test_commit_formatted_ahead),
        cmocka_unit_test(test_outbox_read_and_trim),
        cmocka_unit_test(test_customer_moves_between_hashes),
        cmocka_unit_test(test_load_notices_lost_and_corrupt_state),
        cmocka_unit_test(test_large_batch_in_one_bucket),
        cmocka_unit_test(test_noscript_recovery),
        cmocka_unit_test(test_full_redis_writes_nothing),
        cmocka_unit_test(test_restart_unavailable_then_recovers),
        cmocka_unit_test(test_pipelined_commits_survive_a_restart),
        cmocka_unit_test(test_commit_send_times_out),
        cmocka_unit_test(test_partitions_of_a_group),
        cmocka_unit_test(test_buckets_grow_by_splitting),
        cmocka_unit_test(test_oversized_buckets_are_rewritten),
        cmocka_unit_test(test_memory_per_customer),
    };
    signal(SIGPIPE, SIG_IGN); /* as hirefire run does */
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

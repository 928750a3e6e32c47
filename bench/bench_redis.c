/*
 * bench_redis.c - the Redis state store: commit and load throughput and
 * Redis memory per customer.
 *
 * Writes N realistic customers (3 days, 3 event ids, ids like "C0012345",
 * two behaviours) into one partition in commits of --batch customers, each
 * commit also carrying one outbox signal per 10 customers and growing the
 * buckets as `hirefire run` does (the writer keeps every customer in its
 * in-memory store); then a new owner acquires and loads the partition into
 * an in-memory store. The outbox is
 * trimmed before memory is measured. Prints
 * customers/s for commits and for the load, the mean commit latency, and
 * Redis' used_memory growth per customer (target: <= 64 bytes).
 *
 * Usage: bench_redis [--customers N] [--batch N] [--buckets N] [--url redis://HOST:PORT]
 * (--buckets: redis.buckets, the partition's first customer hashes; default 1024)
 * Defaults: 100,000 customers, batches of 1,000, and a throwaway
 * redis-server started with scripts/redis in a temporary directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "config/config.h"
#include "core/engine.h"
#include "core/store_memory.h"
#include "redis/store_redis.h"

#define D0 20000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long used_memory(const char *host, int port)
{
    redisContext *c = redisConnect(host, port);
    long long v = -1;
    if (c != NULL && !c->err) {
        redisReply *r = redisCommand(c, "INFO memory");
        const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:")
                                                           : NULL;
        if (p != NULL)
            v = atoll(p + strlen("used_memory:"));
        freeReplyObject(r);
    }
    redisFree(c);
    return v;
}

/* Redis' hash-max-listpack-entries, or -1. */
static long long listpack_entries(const char *host, int port)
{
    redisContext *c = redisConnect(host, port);
    long long v = -1;
    if (c != NULL && !c->err) {
        redisReply *r = redisCommand(c, "CONFIG GET hash-max-listpack-entries");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            v = atoll(r->element[1]->str);
        freeReplyObject(r);
    }
    redisFree(c);
    return v;
}

static int run_script(const char *args, char *last, size_t n)
{
    char cmd[1024];
    const char *src = getenv("HF_SOURCE_DIR");
    snprintf(cmd, sizeof(cmd), "'%s/scripts/redis' %s", src && *src ? src : HF_SOURCE_DIR,
             args);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    char buf[512];
    if (last)
        last[0] = '\0';
    while (fgets(buf, sizeof(buf), p) != NULL)
        if (last)
            snprintf(last, n, "%.*s", (int)strcspn(buf, "\n"), buf);
    return pclose(p) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n = 100000, batch = 1000;
    const char *url = NULL, *buckets = "1024";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--customers") == 0 && i + 1 < argc)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atol(argv[++i]);
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--buckets") == 0 && i + 1 < argc)
            buckets = argv[++i];
        else {
            fprintf(stderr, "usage: bench_redis [--customers N] [--batch N] [--buckets N] "
                    "[--url URL]\n");
            return 2;
        }
    }
    if (n < 1 || batch < 1) {
        fprintf(stderr, "bench_redis: --customers and --batch must be >= 1\n");
        return 2;
    }
    char dir[] = "/tmp/hf-bench-redis-XXXXXX", envpath[512] = "", urlbuf[128];
    int own = url == NULL;
    if (own) {
        char args[600];
        if (mkdtemp(dir) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(args, sizeof(args), "start --dir '%s' --watch %d", dir, (int)getpid());
        if (run_script(args, envpath, sizeof(envpath)) != 0) {
            fprintf(stderr, "bench_redis: scripts/redis start failed\n");
            return 1;
        }
        FILE *f = fopen(envpath, "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
            if (strncmp(line, "REDIS_URL=", 10) == 0)
                snprintf(urlbuf, sizeof(urlbuf), "%.*s", (int)strcspn(line + 10, "\n"),
                         line + 10);
        if (f)
            fclose(f);
        url = urlbuf;
    }
    int rc = 1;
    hf_config cfg;
    char err[1024];
    hf_redis *r = NULL;
    hf_redis_part *part = NULL, *next = NULL;
    hf_redis_batch *b = hf_redis_batch_new();
    hf_memstore *ms = NULL, *writer = hf_memstore_new(2);
    hf_engine eng;
    hf_behaviour beh[2];
    hf_behaviour_init(&beh[0], "repeat");
    hf_behaviour_init(&beh[1], "monthly");
    beh[1].window_days = 30;
    hf_engine_init(&eng, beh, 2);
    if (hf_config_init(&cfg) != 0 || b == NULL || writer == NULL ||
        hf_config_set(&cfg, "redis.url", url, HF_ORIGIN_FLAG, NULL, err, sizeof(err)) != 0 ||
        hf_config_set(&cfg, "redis.buckets", buckets, HF_ORIGIN_FLAG, NULL, err,
                      sizeof(err)) != 0 ||
        (r = hf_redis_open(&cfg, err, sizeof(err))) == NULL ||
        hf_redis_acquire(r, "bench", 0, &part, err, sizeof(err)) != HF_REDIS_OK) {
        fprintf(stderr, "bench_redis: %s\n", err);
        goto out;
    }
    char host[64];
    int port = 0;
    if (sscanf(hf_redis_address(r), "%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "bench_redis: needs a host:port URL\n");
        goto out;
    }
    long long before = used_memory(host, port);
    double t0 = now_s(), tcommit = 0;
    long commits = 0;
    for (long i = 0; i < n; i += batch) {
        long m = n - i < batch ? n - i : batch;
        hf_redis_batch_clear(b);
        for (long j = 0; j < m; j++) {
            char id[24];
            long k = i + j;
            snprintf(id, sizeof(id), "C%07ld", k);
            hf_customer *c = hf_customer_new(id, strlen(id), 2);
            for (int d = 0; d < 3; d++) {
                char e[32];
                int len = snprintf(e, sizeof(e), "E%ld-%d", k, d);
                hf_customer_add(c, D0 + (int32_t)(k % 60) + 7 * d, 0,
                                1000 + 37 * ((k + d) % 400), 1 + (k + d) % 4);
                hf_customer_remember(c, hf_event_id_hash(e, (size_t)len));
            }
            c->target = 1;
            c->flips[0] = 1;
            if (hf_memstore_insert(writer, c) != 0) {
                hf_customer_destroy(c);
                fprintf(stderr, "bench_redis: out of memory\n");
                goto out;
            }
            if (hf_redis_batch_customer(b, r, part, c) != 0 ||
                (k % 10 == 0 && hf_redis_batch_signal(b, id, strlen(id), "{\"kind\":\"hire\"}",
                                                      15) != 0)) {
                fprintf(stderr, "bench_redis: out of memory\n");
                goto out;
            }
        }
        hf_redis_batch_offset(b, "events", i + m - 1);
        hf_redis_batch_clock(b, D0 + 80);
        double c0 = now_s();
        hf_redis_status st = HF_REDIS_ERROR;
        if (hf_redis_batch_grow(b, r, part, writer) < 0)
            snprintf(err, sizeof(err), "out of memory");
        else
            st = hf_redis_commit(r, part, b, err, sizeof(err));
        tcommit += now_s() - c0;
        commits++;
        if (st != HF_REDIS_OK) {
            fprintf(stderr, "bench_redis: commit: %s\n", err);
            goto out;
        }
    }
    double t1 = now_s();
    /* The signals were "published": trim them, so memory is the state's. */
    uint64_t trimmed = 0;
    if (hf_redis_outbox_trim(r, part, part->outbox_seq, &trimmed, err, sizeof(err)) !=
        HF_REDIS_OK) {
        fprintf(stderr, "bench_redis: trim: %s\n", err);
        goto out;
    }
    long long after = used_memory(host, port);
    if (hf_redis_acquire(r, "bench", 0, &next, err, sizeof(err)) != HF_REDIS_OK ||
        (ms = hf_memstore_new(2)) == NULL) {
        fprintf(stderr, "bench_redis: %s\n", err);
        goto out;
    }
    size_t loaded = 0;
    double l0 = now_s();
    if (hf_redis_load(r, next, &eng, ms, &loaded, err, sizeof(err)) != HF_REDIS_OK) {
        fprintf(stderr, "bench_redis: load: %s\n", err);
        goto out;
    }
    double l1 = now_s();
    printf("customers            %ld in %u buckets, grown from %s (compact hashes: at most "
           "%lld entries of %zu bytes)\n", n, hf_redis_part_nbuckets(part), buckets,
           listpack_entries(host, port), hf_redis_small_limit(r));
    printf("commit               %.0f customers/s (%ld commits of %ld, %.2f ms each, "
           "growth included)\n",
           (double)n / (t1 - t0), commits, batch, 1000.0 * tcommit / (double)commits);
    printf("load                 %.0f customers/s (%zu loaded)\n",
           (double)loaded / (l1 - l0), loaded);
    printf("redis memory         %.1f bytes per customer (target <= 64; %llu outbox "
           "signals trimmed before measuring)\n", (double)(after - before) / (double)n,
           (unsigned long long)trimmed);
    rc = 0;
out:
    hf_memstore_destroy(ms);
    hf_memstore_destroy(writer);
    hf_redis_part_destroy(part);
    hf_redis_part_destroy(next);
    hf_redis_batch_destroy(b);
    hf_redis_close(r);
    hf_config_destroy(&cfg);
    if (own) {
        char args[600];
        snprintf(args, sizeof(args), "stop --dir '%s'", dir);
        run_script(args, NULL, 0);
    }
    return rc;
}

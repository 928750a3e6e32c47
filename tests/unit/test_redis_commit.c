/*
 * test_redis_commit.c - the Redis store's commit as bytes, without a
 * server: a batch built in memory (customers new, staying, moving between
 * the compact and the big hash, an id too long for the compact one, outbox
 * signals, offsets, the clock; and a batch that splits a bucket) is
 * formatted with hf_redis_commit_format and compared byte for byte with
 * the RESP the commit sends: WATCH, HMGET of the checked fields, MULTI,
 * RPUSH of the outbox, per bucket hash DEL/HSET/HDEL, HSET and HINCRBY of
 * meta (redis_commit.c). Also the outbox entry layout and what formatting
 * leaves in the batch.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/state.h"
#include "core/store_memory.h"
#include "redis/redis_int.h"

#define D0 20000

/*
 * The commit of batch 42 of partition 3 (epoch 7, outbox_seq 9, 4 buckets
 * of which 1 split): two signals (sequences 10 and 11), C003 moves from
 * big:1 to c:1, C001 is new in c:2, C002 moves from c:2 to big:2, C004
 * stays in c:3, the 71-byte id is new in big:2 (too long for c:); meta
 * gets batch 42, outbox_seq 11, the clock, both offsets, and 2 new
 * customers. A state is hf_state_encode's bytes: version 1, 2 behaviours,
 * target 1, flips {1, 0}, the event-id ring, the day aggregates.
 */
static const char plain_resp[] =
    /* WATCH hf:{g:3}:meta */
    "*2\r\n"
    "$5\r\n"
    "WATCH\r\n"
    "$13\r\n"
    "hf:{g:3}:meta\r\n"

    /* HMGET hf:{g:3}:meta */
    "*8\r\n"
    "$5\r\n"
    "HMGET\r\n"
    "$13\r\n"
    "hf:{g:3}:meta\r\n"
    "$5\r\n"
    "epoch\r\n"
    "$5\r\n"
    "batch\r\n"
    "$10\r\n"
    "outbox_seq\r\n"
    "$9\r\n"
    "customers\r\n"
    "$17\r\n"
    "applied:purchases\r\n"
    "$15\r\n"
    "applied:returns\r\n"

    /* MULTI */
    "*1\r\n"
    "$5\r\n"
    "MULTI\r\n"

    /* RPUSH hf:{g:3}:outbox */
    "*4\r\n"
    "$5\r\n"
    "RPUSH\r\n"
    "$15\r\n"
    "hf:{g:3}:outbox\r\n"
    "$33\r\n"
    "000000000000000a\004C001{\"s\":\"hire\"}\r\n"
    "$33\r\n"
    "000000000000000b\004C002{\"s\":\"fire\"}\r\n"

    /* HSET hf:{g:3}:c:1 */
    "*4\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$12\r\n"
    "hf:{g:3}:c:1\r\n"
    "$4\r\n"
    "C003\r\n"
    "$27\r\n"
    "\001\002\001\001\000\001\011\254\026,\367\276\002\300\270\002\001\000\001\317\017\001"
    "\001\000\002\263\020\r\n"

    /* HSET hf:{g:3}:c:2 */
    "*4\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$12\r\n"
    "hf:{g:3}:c:2\r\n"
    "$4\r\n"
    "C001\r\n"
    "$21\r\n"
    "\001\002\001\001\000\001:33\237Kj\001\300\270\002\001\000\001\317\017\r\n"

    /* HDEL hf:{g:3}:c:2 */
    "*3\r\n"
    "$4\r\n"
    "HDEL\r\n"
    "$12\r\n"
    "hf:{g:3}:c:2\r\n"
    "$4\r\n"
    "C002\r\n"

    /* HSET hf:{g:3}:c:3 */
    "*4\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$12\r\n"
    "hf:{g:3}:c:3\r\n"
    "$4\r\n"
    "C004\r\n"
    "$27\r\n"
    "\001\002\001\001\000\001\233\033\302\335D\325\002\300\270\002\001\000\001\317\017\001"
    "\001\000\002\263\020\r\n"

    /* HDEL hf:{g:3}:big:1 */
    "*3\r\n"
    "$4\r\n"
    "HDEL\r\n"
    "$14\r\n"
    "hf:{g:3}:big:1\r\n"
    "$4\r\n"
    "C003\r\n"

    /* HSET hf:{g:3}:big:2 */
    "*6\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$14\r\n"
    "hf:{g:3}:big:2\r\n"
    "$4\r\n"
    "C002\r\n"
    "$66\r\n"
    "\001\002\001\001\000\001r|Ay\352\244\011\300\270\002\001\000\001\317\017\001\001\000\002"
    "\263\020\001\000\001\227\021\001\001\000\002\373\021\001\001\000\001\337\022\001\000\001"
    "\303\023\001\001\000\001\247\024\001\001\000\002\213\025\001\000\001\357\025\r\n"
    "$71\r\n"
    "L0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
    "$21\r\n"
    "\001\002\001\001\000\001n\224U\300\220\207\001\300\270\002\001\000\001\317\017\r\n"

    /* HSET hf:{g:3}:meta */
    "*12\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$13\r\n"
    "hf:{g:3}:meta\r\n"
    "$5\r\n"
    "batch\r\n"
    "$2\r\n"
    "42\r\n"
    "$10\r\n"
    "outbox_seq\r\n"
    "$2\r\n"
    "11\r\n"
    "$5\r\n"
    "clock\r\n"
    "$5\r\n"
    "20006\r\n"
    "$17\r\n"
    "applied:purchases\r\n"
    "$3\r\n"
    "120\r\n"
    "$15\r\n"
    "applied:returns\r\n"
    "$2\r\n"
    "45\r\n"

    /* HINCRBY hf:{g:3}:meta */
    "*4\r\n"
    "$7\r\n"
    "HINCRBY\r\n"
    "$13\r\n"
    "hf:{g:3}:meta\r\n"
    "$9\r\n"
    "customers\r\n"
    "$1\r\n"
    "2\r\n";

/*
 * The commit of batch 1 of a partition of 1 bucket with 100 customers,
 * which splits bucket 0 into 0 and 1 (buckets 2, split 0): DEL c:0, its
 * customers written again (A2 to c:0; A1, A4 and A3 to c:1, the batch's
 * own customers first, then the store's), DEL big:0, meta with the new
 * buckets and split, and 1 new customer (A4). No signals, offsets or clock.
 */
static const char grow_resp[] =
    /* WATCH hf:{g:0}:meta */
    "*2\r\n"
    "$5\r\n"
    "WATCH\r\n"
    "$13\r\n"
    "hf:{g:0}:meta\r\n"

    /* HMGET hf:{g:0}:meta */
    "*6\r\n"
    "$5\r\n"
    "HMGET\r\n"
    "$13\r\n"
    "hf:{g:0}:meta\r\n"
    "$5\r\n"
    "epoch\r\n"
    "$5\r\n"
    "batch\r\n"
    "$10\r\n"
    "outbox_seq\r\n"
    "$9\r\n"
    "customers\r\n"

    /* MULTI */
    "*1\r\n"
    "$5\r\n"
    "MULTI\r\n"

    /* DEL hf:{g:0}:c:0 */
    "*2\r\n"
    "$3\r\n"
    "DEL\r\n"
    "$12\r\n"
    "hf:{g:0}:c:0\r\n"

    /* HSET hf:{g:0}:c:0 */
    "*4\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$12\r\n"
    "hf:{g:0}:c:0\r\n"
    "$2\r\n"
    "A2\r\n"
    "$27\r\n"
    "\001\002\001\001\000\001\214\\\222\010\033\016\002\300\270\002\001\000\001\317\017\001"
    "\001\000\002\263\020\r\n"

    /* HSET hf:{g:0}:c:1 */
    "*8\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$12\r\n"
    "hf:{g:0}:c:1\r\n"
    "$2\r\n"
    "A1\r\n"
    "$21\r\n"
    "\001\002\001\001\000\001\375i7\235\267\255\001\300\270\002\001\000\001\317\017\r\n"
    "$2\r\n"
    "A4\r\n"
    "$21\r\n"
    "\001\002\001\001\000\001k`\000\270\361:\001\300\270\002\001\000\001\317\017\r\n"
    "$2\r\n"
    "A3\r\n"
    "$21\r\n"
    "\001\002\001\001\000\001\313\262\310H\236I\001\300\270\002\001\000\001\317\017\r\n"

    /* DEL hf:{g:0}:big:0 */
    "*2\r\n"
    "$3\r\n"
    "DEL\r\n"
    "$14\r\n"
    "hf:{g:0}:big:0\r\n"

    /* HSET hf:{g:0}:meta */
    "*10\r\n"
    "$4\r\n"
    "HSET\r\n"
    "$13\r\n"
    "hf:{g:0}:meta\r\n"
    "$5\r\n"
    "batch\r\n"
    "$1\r\n"
    "1\r\n"
    "$10\r\n"
    "outbox_seq\r\n"
    "$1\r\n"
    "0\r\n"
    "$7\r\n"
    "buckets\r\n"
    "$1\r\n"
    "2\r\n"
    "$5\r\n"
    "split\r\n"
    "$1\r\n"
    "0\r\n"

    /* HINCRBY hf:{g:0}:meta */
    "*4\r\n"
    "$7\r\n"
    "HINCRBY\r\n"
    "$13\r\n"
    "hf:{g:0}:meta\r\n"
    "$9\r\n"
    "customers\r\n"
    "$1\r\n"
    "1\r\n";

typedef struct fixture {
    struct hf_redis r;
    hf_redis_part *part;
    hf_redis_batch *b;
    hf_memstore *store;     /* owns the customers when not NULL */
    hf_customer *own[8];    /* else these */
    size_t nown;
} fixture;

static hf_customer *cust(const char *id, int ndays, uint32_t flags)
{
    hf_customer *c = hf_customer_new(id, strlen(id), 2);
    assert_non_null(c);
    for (int d = 0; d < ndays; d++)
        assert_int_equal(hf_customer_add(c, D0 + d, d % 3 == 2, 1999 + 100 * d, 1 + d % 2), 0);
    hf_customer_remember(c, hf_event_id_hash(id, strlen(id)));
    c->target = 1;
    c->flips[0] = 1;
    c->flags = flags;
    return c;
}

static hf_redis_part *part_make(const char *tag, uint64_t epoch, uint64_t batch,
                                int32_t clock, uint64_t seq, uint32_t buckets,
                                uint32_t split, uint64_t customers)
{
    hf_redis_part *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->group = strdup("g");
    p->partition = 3;
    p->epoch = epoch;
    p->batch = batch;
    p->clock = clock;
    p->outbox_seq = seq;
    p->buckets = buckets;
    p->split = split;
    p->customers = customers;
    p->tag = strdup(tag);
    return p;
}

/* A handle that never connects: the server's defaults for placing customers. */
static void handle_init(struct hf_redis *r)
{
    memset(r, 0, sizeof(*r));
    r->small_limit = 64;
    r->small_entries = 128;
}

static int setup_plain(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    handle_init(&f->r);
    f->part = part_make("hf:{g:3}", 7, 41, 20005, 9, 4, 1, 5);
    f->b = hf_redis_batch_new();
    assert_non_null(f->b);
    f->own[f->nown++] = cust("C001", 1, 0);
    f->own[f->nown++] = cust("C002", 9, HF_CUST_REDIS_SMALL);
    f->own[f->nown++] = cust("C003", 2, HF_CUST_REDIS_BIG);
    f->own[f->nown++] = cust("C004", 2, HF_CUST_REDIS_SMALL);
    f->own[f->nown++] =
        cust("L0123456789012345678901234567890123456789012345678901234567890123456789", 1, 0);
    for (size_t i = 0; i < f->nown; i++)
        assert_int_equal(hf_redis_batch_customer(f->b, &f->r, f->part, f->own[i]), 0);
    assert_int_equal(hf_redis_batch_signal(f->b, "C001", 4, "{\"s\":\"hire\"}", 12), 0);
    assert_int_equal(hf_redis_batch_signal(f->b, "C002", 4, "{\"s\":\"fire\"}", 12), 0);
    assert_int_equal(hf_redis_batch_offset(f->b, "purchases", 120), 0);
    assert_int_equal(hf_redis_batch_offset(f->b, "returns", 45), 0);
    assert_int_equal(hf_redis_batch_offset(f->b, "purchases", 100), 0); /* lower: kept 120 */
    hf_redis_batch_clock(f->b, 20006);
    *state = f;
    return 0;
}

static int setup_grow(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    handle_init(&f->r);
    f->part = part_make("hf:{g:0}", 1, 0, INT32_MIN, 0, 1, 0, 100);
    f->b = hf_redis_batch_new();
    f->store = hf_memstore_new(2);
    assert_non_null(f->b);
    assert_non_null(f->store);
    hf_customer *a1 = cust("A1", 1, HF_CUST_REDIS_SMALL), *a4 = cust("A4", 1, 0);
    assert_int_equal(hf_memstore_insert(f->store, a1), 0);
    assert_int_equal(hf_memstore_insert(f->store, cust("A2", 2, HF_CUST_REDIS_SMALL)), 0);
    assert_int_equal(hf_memstore_insert(f->store, cust("A3", 1, HF_CUST_REDIS_SMALL)), 0);
    assert_int_equal(hf_memstore_insert(f->store, a4), 0);
    assert_int_equal(hf_redis_batch_customer(f->b, &f->r, f->part, a1), 0);
    assert_int_equal(hf_redis_batch_customer(f->b, &f->r, f->part, a4), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hf_redis_batch_destroy(f->b);
    hf_redis_part_destroy(f->part);
    for (size_t i = 0; i < f->nown; i++)
        hf_customer_destroy(f->own[i]);
    hf_memstore_destroy(f->store);
    free(f);
    return 0;
}

/* Compares the formatted commit with want, naming the first differing byte. */
static void assert_resp(const hf_redis_batch *b, const char *want, size_t want_len)
{
    size_t n = b->resp.len < want_len ? b->resp.len : want_len, at = 0;
    while (at < n && b->resp.data[at] == want[at])
        at++;
    if (at < n || b->resp.len != want_len)
        fail_msg("commit differs at byte %zu of %zu (expected %zu): got \"%.40s\"", at,
                 b->resp.len, want_len, b->resp.data + at);
}

static void test_commit_bytes(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    assert_int_equal(hf_redis_batch_customers(f->b), 5);
    assert_int_equal(hf_redis_batch_signals(f->b), 2);
    assert_int_equal(hf_redis_commit_format(f->part, f->b, err, sizeof(err)), HF_REDIS_OK);
    assert_resp(f->b, plain_resp, sizeof(plain_resp) - 1);
    /* RPUSH, 6 bucket writes (HSET c:1, HSET and HDEL c:2, HSET c:3, HDEL big:1,
     * HSET big:2), HSET and HINCRBY of meta */
    assert_int_equal(f->b->nqueued, 9);
    assert_int_equal(f->b->formatted, 1);
    assert_int_equal(f->b->fmt_batch, 41);
    assert_int_equal(f->b->fmt_seq, 9);
}

/* Formatting writes only the batch: again, it gives the same bytes. */
static void test_format_again(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    assert_int_equal(hf_redis_commit_format(f->part, f->b, err, sizeof(err)), HF_REDIS_OK);
    assert_int_equal(hf_redis_commit_format(f->part, f->b, err, sizeof(err)), HF_REDIS_OK);
    assert_resp(f->b, plain_resp, sizeof(plain_resp) - 1);
    assert_int_equal(f->part->batch, 41);
    assert_int_equal(f->part->outbox_seq, 9);
    assert_int_equal(f->own[0]->flags, 0); /* set by a successful commit only */
    /* A change to the batch asks for formatting again. */
    hf_redis_batch_clock(f->b, 20007);
    assert_int_equal(f->b->formatted, 0);
}

/* A later outbox sequence numbers the same entries anew. */
static void test_outbox_sequences(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    f->part->outbox_seq = 0xfff;
    assert_int_equal(hf_redis_commit_format(f->part, f->b, err, sizeof(err)), HF_REDIS_OK);
    const char *p = memmem(f->b->resp.data, f->b->resp.len, "$33\r\n", 5);
    assert_non_null(p);
    assert_memory_equal(p, "$33\r\n0000000000001000\004C001{\"s\":\"hire\"}\r\n"
                           "$33\r\n0000000000001001\004C002{\"s\":\"fire\"}\r\n", 2 * 40);
    assert_non_null(memmem(f->b->resp.data, f->b->resp.len,
                           "$10\r\noutbox_seq\r\n$4\r\n4097\r\n", 27));
}

static void test_grow_bytes(void **state)
{
    fixture *f = *state;
    char err[256] = "";
    assert_int_equal(hf_redis_batch_grow(f->b, &f->r, f->part, f->store), 1);
    assert_int_equal(hf_redis_batch_customers(f->b), 4);
    assert_int_equal(hf_redis_batch_grow(f->b, &f->r, f->part, f->store), 0); /* once */
    assert_int_equal(hf_redis_commit_format(f->part, f->b, err, sizeof(err)), HF_REDIS_OK);
    assert_resp(f->b, grow_resp, sizeof(grow_resp) - 1);
    /* DEL c:0, HSET c:0, HSET c:1, DEL big:0, HSET and HINCRBY of meta */
    assert_int_equal(f->b->nqueued, 6);
}

/* An entry: 16 hex digits (zeros until formatted), varint key length, key, value. */
static void test_outbox_entry(void **state)
{
    (void)state;
    hf_buf data = HF_BUF_INIT;
    char key[200];
    memset(key, 'k', sizeof(key));
    assert_int_equal(hf_redis_outbox_entry_append(&data, "K", 1, "v", 1), 0);
    assert_int_equal(hf_redis_outbox_entry_append(&data, key, sizeof(key), "", 0), 0);
    assert_int_equal(data.len, 16 + 1 + 1 + 1 + 16 + 2 + 200);
    assert_memory_equal(data.data, "0000000000000000\001Kv", 19);
    assert_memory_equal(data.data + 19, "0000000000000000\310\001", 18);
    hf_redis_put_seq(data.data, UINT64_C(0x0123456789abcdef));
    assert_memory_equal(data.data, "0123456789abcdef\001Kv", 19);
    hf_buf_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_bytes, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_format_again, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_sequences, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_grow_bytes, setup_grow, teardown),
        cmocka_unit_test(test_outbox_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

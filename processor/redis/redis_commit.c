/*
 * redis_commit.c - the fenced commit of a batch: its RESP formatting (one
 * WATCH/HMGET/MULTI/writes transaction, pure, no I/O: the commit's bytes
 * follow from the partition and the batch alone), the verdict of the
 * check's reply (EXEC or DISCARD, and why), and the pipelining of commits
 * on the handle's connection (send, decide, finish, wait).
 */
#include "redis/redis_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A commit is one Redis transaction on the handle's connection:
 *
 *   WATCH T:meta
 *   HMGET T:meta epoch batch outbox_seq customers applied:<topic>...
 *   MULTI
 *   RPUSH T:outbox <entries>                  (when the batch has signals)
 *   per bucket hash: DEL (a split bucket, written again whole), HSET, HDEL
 *   HSET T:meta batch <n> outbox_seq <s> [clock] applied:<topic> <o>... [buckets, split]
 *   HINCRBY T:meta customers <new customers>
 *   EXEC, or DISCARD
 *
 * sent in one write. Redis queues the writes; the HMGET's reply decides
 * (commit_decide): EXEC when epoch is ours and the batch, outbox sequence
 * and offsets are what this owner last wrote, else DISCARD (FENCED, DONE or
 * CONFLICT, as the check says). WATCH makes the EXEC fail (a nil reply)
 * if anyone wrote meta after the check: an acquisition increments epoch
 * there, so an instance that lost the partition meanwhile writes nothing.
 * A connection lost before EXEC discards the transaction. Redis runs the
 * queued writes as one (as it would a script), without making Lua strings
 * of a batch's hundreds of thousands of arguments and collecting them,
 * which would cost the server as much CPU per customer as the writes
 * (bench/README.md).
 *
 * Replies come in order, so a pipelined commit is decided when the next is
 * sent (its HMGET's reply is there by then), and its remaining replies
 * (MULTI, one QUEUED per write, EXEC) are read when the one after it is
 * decided or when it is waited for. r->fly holds the commits whose replies
 * are not all read yet, in the order sent; all but the last are decided.
 */

/*--- The commit's writes to bucket hashes -----------------------------------*/

/*
 * One write to a bucket hash: delete the whole hash first (kind 0: a split
 * bucket, rewritten), set (kind 1) or delete (kind 2) a customer.
 */
typedef struct op {
    uint32_t bucket;
    uint8_t big;
    uint8_t kind;
    uint32_t cust;
} op;

static int op_cmp(const void *pa, const void *pb)
{
    const op *a = pa, *b = pb;
    if (a->big != b->big)
        return a->big < b->big ? -1 : 1;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->cust < b->cust ? -1 : a->cust > b->cust;
}

/*
 * Sorts ops[0, n) by op_cmp, into out. When the ops outnumber the bucket
 * hashes, a counting sort on (big, bucket, kind), stable, so cust keeps
 * the ascending order that bucket_ops adds the ops in, and cheaper than
 * qsort on a batch of many customers; else qsort. 0, or -1 (OOM).
 */
static int ops_sort(const op *ops, size_t n, op *out)
{
    uint32_t max_bucket = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].bucket > max_bucket)
            max_bucket = ops[i].bucket;
    size_t per_big = ((size_t)max_bucket + 1) * 3u, nkeys = 2 * per_big;
    if (nkeys > 4 * n) {
        memcpy(out, ops, n * sizeof(*ops));
        qsort(out, n, sizeof(*out), op_cmp);
        return 0;
    }
    size_t *at = calloc(nkeys + 1, sizeof(*at));
    if (at == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)ops[i].big * per_big + (size_t)ops[i].bucket * 3u + ops[i].kind;
        at[k + 1]++;
    }
    for (size_t k = 1; k <= nkeys; k++)
        at[k] += at[k - 1];
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)ops[i].big * per_big + (size_t)ops[i].bucket * 3u + ops[i].kind;
        out[at[k]++] = ops[i];
    }
    free(at);
    return 0;
}

/*--- RESP formatting (no I/O) ----------------------------------------------*/

static void resp_array(hf_buf *o, size_t n, int *oom)
{
    char tmp[24];
    tmp[0] = '*';
    char *e = hf_put_u64(tmp + 1, n, 1);
    e[0] = '\r';
    e[1] = '\n';
    if (hf_buf_append(o, tmp, (size_t)(e - tmp) + 2) != 0)
        *oom = 1;
}

static void resp_bulk(hf_buf *o, const void *p, size_t len, int *oom)
{
    if (hf_buf_reserve(o, len + 26) != 0) {
        *oom = 1;
        return;
    }
    char *d = o->data + o->len, *s = d;
    *d++ = '$';
    d = hf_put_u64(d, len, 1);
    *d++ = '\r';
    *d++ = '\n';
    memcpy(d, p, len);
    d += len;
    *d++ = '\r';
    *d++ = '\n';
    o->len += (size_t)(d - s);
}

static void resp_str(hf_buf *o, const char *s, int *oom)
{
    resp_bulk(o, s, strlen(s), oom);
}

static void resp_u64(hf_buf *o, uint64_t v, int *oom)
{
    char tmp[24];
    resp_bulk(o, tmp, (size_t)(hf_put_u64(tmp, v, 1) - tmp), oom);
}

static void resp_i64(hf_buf *o, int64_t v, int *oom)
{
    char tmp[24];
    resp_bulk(o, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v), oom);
}

static void resp_key(hf_buf *o, const char *tag, const char *suffix, int *oom)
{
    char key[512];
    int len = snprintf(key, sizeof(key), "%s%s", tag, suffix);
    if (len < 0 || (size_t)len >= sizeof(key)) {
        *oom = 1;
        return;
    }
    resp_bulk(o, key, (size_t)len, oom);
}

/* The key of a bucket hash: <tag>:c:<bucket> or <tag>:big:<bucket>. */
static void resp_bucket(hf_buf *o, const char *tag, int big, uint32_t bucket, int *oom)
{
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "%s%" PRIu32, big ? ":big:" : ":c:", bucket);
    resp_key(o, tag, suffix, oom);
}
/*
 * The writes to the bucket hashes, grouped by hash (rewrite, sets, then
 * deletes), in a malloc'd array (free it) whose sorted half is *sorted, of
 * *n; *added gets the number of customers new to the partition. NULL when
 * out of memory.
 */
static op *bucket_ops(const hf_redis_batch *b, const op **sorted, size_t *n,
                      uint64_t *added)
{
    size_t maxops = 2 * b->ncusts + 2 * (size_t)b->nsplit + 1;
    op *ops = malloc(2 * maxops * sizeof(*ops));
    if (ops == NULL)
        return NULL;
    size_t nops = 0;
    *added = 0;
    for (size_t i = 0; i < b->ncusts; i++) {
        const hf_redis_bcust *e = &b->custs[i];
        ops[nops++] = (op){e->bucket, (uint8_t)e->big, 1, (uint32_t)i};
        uint32_t other = e->big ? HF_CUST_REDIS_SMALL : HF_CUST_REDIS_BIG;
        if (e->c->flags & other)
            ops[nops++] = (op){e->bucket, (uint8_t)!e->big, 2, (uint32_t)i};
        /* A stored customer moves (or stays) and is counted already. */
        *added += !(e->c->flags & (HF_CUST_REDIS_SMALL | HF_CUST_REDIS_BIG));
    }
    for (uint32_t k = 0; k < b->nsplit; k++)
        for (uint8_t big = 0; big < 2; big++)
            ops[nops++] = (op){b->split_from + k, big, 0, 0};
    if (ops_sort(ops, nops, ops + maxops) != 0) {
        free(ops);
        return NULL;
    }
    *sorted = ops + maxops;
    *n = nops;
    return ops;
}

/* The check: WATCH T:meta, HMGET T:meta <checked fields>, MULTI. */
static void put_check(hf_buf *o, const hf_redis_part *part, const hf_redis_batch *b,
                      int *oom)
{
    resp_array(o, 2, oom);
    resp_str(o, "WATCH", oom);
    resp_key(o, part->tag, ":meta", oom);
    resp_array(o, 6 + b->ntopics, oom);
    resp_str(o, "HMGET", oom);
    resp_key(o, part->tag, ":meta", oom);
    resp_str(o, "epoch", oom);
    resp_str(o, "batch", oom);
    resp_str(o, "outbox_seq", oom);
    resp_str(o, "customers", oom);
    for (size_t i = 0; i < b->ntopics; i++) {
        char field[300];
        snprintf(field, sizeof(field), "applied:%s", b->topics[i].topic);
        resp_str(o, field, oom);
    }
    resp_array(o, 1, oom);
    resp_str(o, "MULTI", oom);
}

/*
 * RPUSH T:outbox of the batch's signals, numbered from part->outbox_seq + 1
 * (written into their entries in b->data). The number of writes queued.
 */
static size_t put_outbox(hf_buf *o, const hf_redis_part *part, hf_redis_batch *b, int *oom)
{
    if (b->nouts == 0)
        return 0;
    resp_array(o, 2 + b->nouts, oom);
    resp_str(o, "RPUSH", oom);
    resp_key(o, part->tag, ":outbox", oom);
    for (size_t i = 0; i < b->nouts; i++) {
        char *d = b->data.data + b->outs[i].off;
        hf_redis_put_seq(d, part->outbox_seq + 1 + i);
        resp_bulk(o, d, b->outs[i].len, oom);
    }
    return 1;
}

/*
 * Per bucket hash of the sorted ops: DEL (a split bucket), HSET of its
 * customers, HDEL of those that moved to the other hash of the bucket.
 * The number of writes queued.
 */
static size_t put_buckets(hf_buf *o, const char *tag, const hf_redis_batch *b,
                          const op *sorted, size_t nops, int *oom)
{
    size_t queued = 0;
    for (size_t i = 0; i < nops && !*oom;) {
        size_t j = i, nset = 0;
        const op g = sorted[i];
        if (g.kind == 0) { /* the marker sorts first */
            resp_array(o, 2, oom);
            resp_str(o, "DEL", oom);
            resp_bucket(o, tag, g.big, g.bucket, oom);
            queued++;
            i++;
        }
        while (j < nops && sorted[j].big == g.big && sorted[j].bucket == g.bucket) {
            nset += sorted[j].kind == 1;
            j++;
        }
        size_t k = i;
        if (nset > 0) {
            resp_array(o, 2 + 2 * nset, oom);
            resp_str(o, "HSET", oom);
            resp_bucket(o, tag, g.big, g.bucket, oom);
            for (; k < i + nset; k++) {
                const hf_redis_bcust *e = &b->custs[sorted[k].cust];
                resp_bulk(o, b->data.data + e->id_off, e->id_len, oom);
                resp_bulk(o, b->data.data + e->val_off, e->val_len, oom);
            }
            queued++;
        }
        if (j > k) {
            resp_array(o, 2 + (j - k), oom);
            resp_str(o, "HDEL", oom);
            resp_bucket(o, tag, g.big, g.bucket, oom);
            for (; k < j; k++) {
                const hf_redis_bcust *e = &b->custs[sorted[k].cust];
                resp_bulk(o, b->data.data + e->id_off, e->id_len, oom);
            }
            queued++;
        }
        i = j;
    }
    return queued;
}

/*
 * The meta writes (2 queued): HSET T:meta batch, outbox_seq, [clock],
 * applied:<topic>..., [buckets, split]; HINCRBY T:meta customers <added>.
 */
static void put_meta(hf_buf *o, const hf_redis_part *part, const hf_redis_batch *b,
                     uint64_t added, int *oom)
{
    resp_array(o, 6 + 2 * (b->clock != INT32_MIN) + 2 * b->ntopics + 4 * (b->nsplit > 0),
               oom);
    resp_str(o, "HSET", oom);
    resp_key(o, part->tag, ":meta", oom);
    resp_str(o, "batch", oom);
    resp_u64(o, part->batch + 1, oom);
    resp_str(o, "outbox_seq", oom);
    resp_u64(o, part->outbox_seq + b->nouts, oom);
    if (b->clock != INT32_MIN) {
        resp_str(o, "clock", oom);
        resp_i64(o, b->clock, oom);
    }
    for (size_t i = 0; i < b->ntopics; i++) {
        char field[300];
        snprintf(field, sizeof(field), "applied:%s", b->topics[i].topic);
        resp_str(o, field, oom);
        resp_i64(o, b->topics[i].offset, oom);
    }
    if (b->nsplit > 0) {
        resp_str(o, "buckets", oom);
        resp_u64(o, b->new_buckets, oom);
        resp_str(o, "split", oom);
        resp_u64(o, b->new_split, oom);
    }
    resp_array(o, 4, oom);
    resp_str(o, "HINCRBY", oom);
    resp_key(o, part->tag, ":meta", oom);
    resp_str(o, "customers", oom);
    resp_u64(o, added, oom);
}

/* The commit's commands up to the last queued write into b->resp. */
hf_redis_status hf_redis_commit_format(const hf_redis_part *part, hf_redis_batch *b,
                                       char *errstr, size_t errstr_size)
{
    const op *sorted = NULL;
    size_t nops = 0;
    uint64_t added = 0;
    op *ops = bucket_ops(b, &sorted, &nops, &added);
    if (ops == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    hf_buf *o = &b->resp;
    int oom = 0;
    b->formatted = 0;
    hf_buf_reset(o);
    put_check(o, part, b, &oom);
    size_t queued = put_outbox(o, part, b, &oom);
    queued += put_buckets(o, part->tag, b, sorted, nops, &oom);
    free(ops);
    put_meta(o, part, b, added, &oom);
    queued += 2;
    if (oom) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    b->nqueued = queued;
    b->formatted = 1;
    b->fmt_batch = part->batch;
    b->fmt_seq = part->outbox_seq;
    return HF_REDIS_OK;
}

/*--- Verdicts ---------------------------------------------------------------*/

/* The outcome of b's commit, in b->st and b->err (on HF_REDIS_OK: b->seq, b->count). */
static void verdict(hf_redis_batch *b, hf_redis_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verdict(hf_redis_batch *b, hf_redis_status st, const char *fmt, ...)
{
    b->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof(b->err), fmt, ap);
    va_end(ap);
}

static int reply_is(const redisReply *x, const char *s)
{
    return x != NULL && x->type == REDIS_REPLY_STRING && strcmp(x->str, s) == 0;
}

/*
 * Checks the meta that b's HMGET read (m) against what part's owner wrote
 * last; sets b's verdict and returns 1 when the transaction may run.
 */
static int check_meta(const hf_redis *r, const hf_redis_part *part, hf_redis_batch *b,
                      const redisReply *m)
{
    char want[32];
    const redisReply *const *e = (const redisReply *const *)m->element;
    snprintf(want, sizeof(want), "%" PRIu64, part->epoch);
    if (!reply_is(e[0], want)) {
        if (e[0]->type != REDIS_REPLY_STRING)
            verdict(b, HF_REDIS_FENCED, "partition %" PRId32 " of group \"%s\" has no meta "
                    "any more (deleted?); our epoch is %" PRIu64, part->partition,
                    part->group, part->epoch);
        else
            verdict(b, HF_REDIS_FENCED, "partition %" PRId32 " of group \"%s\" was taken "
                    "over: its epoch is %s, ours %" PRIu64, part->partition, part->group,
                    e[0]->str, part->epoch);
        return 0;
    }
    snprintf(want, sizeof(want), "%" PRIu64, part->batch + 1);
    if (reply_is(e[1], want)) { /* a retry of a batch that Redis applied */
        int64_t seq = 0, count = 0;
        if ((e[2]->type == REDIS_REPLY_STRING &&
             hf_redis_parse_i64(e[2]->str, e[2]->len, &seq) != 0) ||
            (e[3]->type == REDIS_REPLY_STRING &&
             hf_redis_parse_i64(e[3]->str, e[3]->len, &count) != 0) ||
            seq < 0 || count < 0) {
            verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: partition %" PRId32 " of group "
                    "\"%s\": corrupt meta (outbox_seq or customers)", r->url.address,
                    part->partition, part->group);
            return 0;
        }
        b->seq = (uint64_t)seq;
        b->count = count;
        b->st = HF_REDIS_OK;
        return 0;
    }
    snprintf(want, sizeof(want), "%" PRIu64, part->outbox_seq);
    const char *stored = e[2]->type == REDIS_REPLY_STRING ? e[2]->str : "0";
    if (strcmp(stored, want) != 0) {
        verdict(b, HF_REDIS_CONFLICT, "partition %" PRId32 " of group \"%s\": stored "
                "outbox_seq is %s, expected %s", part->partition, part->group, stored, want);
        return 0;
    }
    for (size_t i = 0; i < b->ntopics; i++) {
        const redisReply *x = e[4 + i];
        snprintf(want, sizeof(want), "%" PRId64,
                 hf_redis_part_applied(part, b->topics[i].topic));
        stored = x->type == REDIS_REPLY_STRING ? x->str : "-1";
        if (strcmp(stored, want) != 0) {
            verdict(b, HF_REDIS_CONFLICT, "partition %" PRId32 " of group \"%s\": stored "
                    "applied:%s is %s, expected %s", part->partition, part->group,
                    b->topics[i].topic, stored, want);
            return 0;
        }
    }
    return 1;
}

/*--- Pipelining -------------------------------------------------------------*/

/* Reads and frees the remaining replies of r->fly[0]: MULTI, QUEUED..., EXEC. */
static hf_redis_status commit_finish(hf_redis *r, char *errstr, size_t errstr_size)
{
    hf_redis_batch *b = r->fly[0];
    const hf_redis_part *part = b->part;
    redisReply *x;
    hf_redis_status st;
    char queue_err[256] = "";
    if ((st = hf_redis_next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (x->type != REDIS_REPLY_STATUS || strcmp(x->str, "OK") != 0) {
        /* Redis takes MULTI even when loading or busy: an ACL that refuses
         * it is all that is left, and then the writes ran as they came,
         * unchecked: say so and stop. */
        snprintf(errstr, errstr_size, "Redis at %s: commit: MULTI was refused (%s), so "
                 "partition %" PRId32 " of group \"%s\" may be written in part; give "
                 "hirefire's Redis user WATCH, MULTI, EXEC and DISCARD",
                 r->url.address, x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply",
                 part->partition, part->group);
        freeReplyObject(x);
        hf_redis_drop(r);
        return HF_REDIS_ERROR;
    }
    freeReplyObject(x);
    for (size_t i = 0; i < b->nqueued; i++) {
        if ((st = hf_redis_next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
            return st;
        if (x->type == REDIS_REPLY_ERROR && queue_err[0] == '\0')
            snprintf(queue_err, sizeof(queue_err), "%s", x->str);
        freeReplyObject(x);
    }
    if ((st = hf_redis_next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    memmove(r->fly, r->fly + 1, --r->nfly * sizeof(*r->fly));
    b->stage = HF_REDIS_STAGE_FINISHED;
    if (!b->exec) { /* DISCARD: the verdict stands */
        freeReplyObject(x);
        return HF_REDIS_OK;
    }
    if (x->type == REDIS_REPLY_NIL) {
        verdict(b, HF_REDIS_UNAVAILABLE, "Redis at %s: partition %" PRId32 " of group \"%s\": "
                "its meta changed during the commit (another instance acquiring it?); "
                "nothing was written", r->url.address, part->partition, part->group);
    } else if (x->type == REDIS_REPLY_ERROR) {
        /* EXECABORT: a write was refused when queued (e.g. OOM); none ran. */
        verdict(b, hf_redis_transient(queue_err) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR,
                "Redis at %s: commit: %s%s%s", r->url.address, x->str,
                queue_err[0] ? ": " : "", queue_err);
    } else if (x->type != REDIS_REPLY_ARRAY || x->elements != b->nqueued ||
               x->element[x->elements - 1]->type != REDIS_REPLY_INTEGER ||
               x->element[x->elements - 1]->integer < 0) {
        verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: unexpected reply (type %d)",
                r->url.address, x->type);
    } else {
        b->st = HF_REDIS_OK;
        for (size_t i = 0; i < x->elements; i++)
            if (x->element[i]->type == REDIS_REPLY_ERROR) {
                /* Redis does not roll a transaction back (nor a script). */
                verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: partition %" PRId32
                        " of group \"%s\" is written in part: %s", r->url.address,
                        part->partition, part->group, x->element[i]->str);
                break;
            }
        b->seq = part->outbox_seq + b->nouts;
        b->count = x->element[x->elements - 1]->integer;
    }
    freeReplyObject(x);
    return HF_REDIS_OK;
}

/*
 * Reads the check of b (after finishing the commits sent before it), and
 * sends EXEC or DISCARD.
 */
static hf_redis_status commit_decide(hf_redis *r, hf_redis_batch *b, char *errstr,
                                     size_t errstr_size)
{
    hf_redis_status st;
    while (r->nfly > 0 && r->fly[0] != b)
        if ((st = commit_finish(r, errstr, errstr_size)) != HF_REDIS_OK)
            return st;
    redisReply *w, *m;
    if ((st = hf_redis_next_reply(r, &w, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if ((st = hf_redis_next_reply(r, &m, errstr, errstr_size)) != HF_REDIS_OK) {
        freeReplyObject(w);
        return st;
    }
    b->exec = 0;
    if (w->type == REDIS_REPLY_ERROR || m->type == REDIS_REPLY_ERROR) {
        const char *msg = w->type == REDIS_REPLY_ERROR ? w->str : m->str;
        verdict(b, hf_redis_transient(msg) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR,
                "Redis at %s: commit: %s", r->url.address, msg);
    } else if (m->type != REDIS_REPLY_ARRAY || m->elements != 4 + b->ntopics) {
        verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: unexpected reply (type %d)",
                r->url.address, m->type);
    } else {
        b->exec = check_meta(r, b->part, b, m);
    }
    freeReplyObject(w);
    freeReplyObject(m);
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n", discard[] = "*1\r\n$7\r\nDISCARD\r\n";
    if (redisAppendFormattedCommand(r->c, b->exec ? exec : discard,
                                    b->exec ? sizeof(exec) - 1 : sizeof(discard) - 1) !=
        REDIS_OK)
        return hf_redis_io_error(r, "commit", errstr, errstr_size);
    b->stage = HF_REDIS_STAGE_DECIDED;
    return hf_redis_flush(r, errstr, errstr_size);
}

/* Writes b's commit (all but EXEC) after deciding the one sent before. */
static hf_redis_status commit_send(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                   char *errstr, size_t errstr_size)
{
    hf_redis_status st = hf_redis_ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (r->nfly > 0 && r->fly[r->nfly - 1]->stage == HF_REDIS_STAGE_SENT &&
        (st = commit_decide(r, r->fly[r->nfly - 1], errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (!(b->formatted && b->fmt_batch == part->batch && b->fmt_seq == part->outbox_seq) &&
        (st = hf_redis_commit_format(part, b, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (hf_redis_grow((void **)&r->fly, &r->flycap, r->nfly + 1, sizeof(*r->fly)) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    if ((st = hf_redis_send_raw(r, b->resp.data, b->resp.len, errstr, errstr_size)) !=
        HF_REDIS_OK)
        return st;
    b->part = part;
    b->stage = HF_REDIS_STAGE_SENT;
    b->sent_on = r->conn_gen;
    r->fly[r->nfly++] = b;
    return HF_REDIS_OK;
}

/* Reads b's outcome (deciding it first if needed) and applies it to part. */
static hf_redis_status commit_result(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                     char *errstr, size_t errstr_size)
{
    hf_redis_status st;
    if (b->stage != HF_REDIS_STAGE_FINISHED) {
        if (b->stage == HF_REDIS_STAGE_IDLE || r->c == NULL || b->sent_on != r->conn_gen) {
            snprintf(errstr, errstr_size, "Redis at %s: commit: connection lost", r->url.address);
            return HF_REDIS_UNAVAILABLE;
        }
        if (b->stage == HF_REDIS_STAGE_SENT && (st = commit_decide(r, b, errstr, errstr_size)) !=
                                          HF_REDIS_OK)
            return st;
        while (b->stage != HF_REDIS_STAGE_FINISHED && r->nfly > 0)
            if ((st = commit_finish(r, errstr, errstr_size)) != HF_REDIS_OK)
                return st;
        if (b->stage != HF_REDIS_STAGE_FINISHED) { /* not in flight: never sent */
            snprintf(errstr, errstr_size, "Redis at %s: commit: connection lost", r->url.address);
            return HF_REDIS_UNAVAILABLE;
        }
    }
    b->stage = HF_REDIS_STAGE_IDLE;
    if (b->st != HF_REDIS_OK) {
        snprintf(errstr, errstr_size, "%s", b->err);
        return b->st;
    }
    for (size_t i = 0; i < b->ntopics; i++)
        if (hf_redis_part_set_applied(part, b->topics[i].topic, strlen(b->topics[i].topic),
                                      b->topics[i].offset) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            return HF_REDIS_ERROR;
        }
    part->batch++;
    part->outbox_seq = b->seq;
    if (b->clock != INT32_MIN)
        part->clock = b->clock;
    part->customers = (uint64_t)b->count;
    if (b->nsplit > 0) {
        part->buckets = b->new_buckets;
        part->split = b->new_split;
    }
    for (size_t i = 0; i < b->ncusts; i++) {
        hf_customer *c = b->custs[i].c;
        c->flags = (c->flags & ~(HF_CUST_REDIS_SMALL | HF_CUST_REDIS_BIG)) |
                   (b->custs[i].big ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL);
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_commit(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                char *errstr, size_t errstr_size)
{
    if (r->pending > 0) {
        snprintf(errstr, errstr_size, "Redis at %s: commit while %zu pipelined commits "
                 "await their replies", r->url.address, r->pending);
        return HF_REDIS_ERROR;
    }
    /* A change of meta between the check and EXEC is looked at again:
     * the check then says who wrote it. */
    hf_redis_status st = HF_REDIS_UNAVAILABLE;
    for (int attempt = 0; attempt < 3 && st == HF_REDIS_UNAVAILABLE; attempt++) {
        st = commit_send(r, part, b, errstr, errstr_size);
        if (st == HF_REDIS_OK)
            st = commit_result(r, part, b, errstr, errstr_size);
        if (st == HF_REDIS_UNAVAILABLE && r->c == NULL)
            break; /* the connection: the caller backs off */
    }
    return st;
}

hf_redis_status hf_redis_commit_send(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                     char *errstr, size_t errstr_size)
{
    hf_redis_status st = commit_send(r, part, b, errstr, errstr_size);
    if (st == HF_REDIS_OK)
        r->pending++;
    return st;
}

hf_redis_status hf_redis_commit_wait(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                     char *errstr, size_t errstr_size)
{
    if (r->pending > 0)
        r->pending--;
    return commit_result(r, part, b, errstr, errstr_size);
}

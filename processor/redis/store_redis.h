/*
 * store_redis.h - customer state, applied offsets and the signal outbox of
 * each input partition in Redis, written with fencing so that the live
 * pipeline gets exactly-once results (ARCHITECTURE.md, "Exactly-once with
 * Redis state").
 *
 * Keys. Everything of partition p of consumer group g shares one hash tag,
 * so one Redis Cluster node owns it and one transaction can touch it all
 * (T = "<redis.key.prefix>:{<g>:<p>}"):
 *   T:meta       hash: layout (1), epoch (fencing token), batch (commits by
 *                the current epoch), clock (day), outbox_seq (sequence of the
 *                last outbox entry ever written), buckets, split, customers, and
 *                applied:<topic> = last applied offset of each input topic.
 *   T:c:<b>      hash customer_id -> hf_state_encode() bytes, for customers
 *                whose id and state both fit Redis' compact hash encoding
 *                (hash-max-listpack-value, 64 bytes by default, read from
 *                the server at connect). The buckets grow by linear
 *                hashing: with h = XXH3_64(customer_id), b = h mod buckets,
 *                and b = h mod 2*buckets where b < split. A new partition
 *                starts with redis.buckets (a power of two, default 1024);
 *                as customers arrive, commits split buckets one by one
 *                (hf_redis_batch_grow: a split bucket is deleted and
 *                written again with the customers that stay, the others go
 *                to b + buckets; split reaching buckets doubles buckets),
 *                so that an unsplit bucket holds 48-96 customers and stays
 *                a listpack under hash-max-listpack-entries (128): ~60
 *                bytes of Redis memory per typical customer at any
 *                partition size (3 days, 3 event ids; bench/bench_redis).
 *   T:big:<b>    the same for the others (long states of busy customers).
 *                Kept apart so that one big value does not turn a whole
 *                bucket of 100 small ones into a (3x larger) hash table.
 *                A customer is in exactly one of the two; a commit that
 *                moves one deletes it from the other.
 *   T:outbox     list of signals committed but maybe not yet in Kafka; an
 *                entry is its sequence (16 lowercase hex digits), a varint
 *                key length, the key, then the value.
 * There is no expiry index in Redis: the owner of a partition loads all of
 * its customers on assignment (hf_redis_load: one pipelined HGETALL per
 * bucket hash) and keeps them in its in-memory store, whose expiry index
 * finds the customers due when the clock moves. Due days are not stored;
 * they follow from each customer's days and the partition's clock.
 *
 * Fencing and idempotence. hf_redis_acquire increments epoch: the token of
 * this owner. Every write first checks that epoch is still the caller's
 * (else FENCED: another instance took the partition) and, for a commit,
 * that outbox_seq and the applied offsets are what the caller last read or
 * wrote (else CONFLICT), and only then writes, atomically: the outbox trim
 * is a script; a commit is a transaction, WATCH meta, HMGET of the checked
 * fields, MULTI, the writes, EXEC only when the check passed (else
 * DISCARD), so that a meta changed after the check (an acquisition
 * increments epoch there) makes EXEC write nothing. Each commit carries a
 * batch number (1, 2, ... per epoch); a retry of the same batch after a
 * lost reply finds its number already stored and succeeds without writing
 * twice.
 *
 * Use by the live pipeline, per assigned partition p:
 *   1. hf_redis_acquire -> part (epoch is ours now); hf_redis_load into the
 *      stream's store; set the stream's clock to part->clock; seek each
 *      input topic to hf_redis_part_applied(part, topic) + 1.
 *   2. Read the group's committed offset metadata for p (the outbox sequence
 *      the last committed transaction carried, S); hf_redis_outbox_trim(S);
 *      hf_redis_outbox_read(after S) and publish those signals in one Kafka
 *      transaction with the input offsets (applied + 1) and metadata =
 *      part->outbox_seq; then trim up to it.
 *   3. Per batch: apply the events; add every customer that changed (events
 *      applied, and customers of expiry signals) with
 *      hf_redis_batch_customer, the batch's signals with
 *      hf_redis_batch_signal, the last offset per topic and the clock;
 *      hf_redis_commit. Then, in one Kafka transaction, produce the signals
 *      and send the offsets (last + 1) with metadata = part->outbox_seq;
 *      commit it; hf_redis_outbox_trim(part->outbox_seq); clear the batch.
 *   On UNAVAILABLE: back off and retry the same call (the same batch). On
 *   FENCED: drop the partition. On CONFLICT: drop the in-memory state and
 *   start again at 1.
 *
 * Atomicity limits: Redis rolls neither a script nor a transaction back.
 * Both check before writing, and their only writes that can fail are
 * against keys of the wrong type (someone else wrote into the prefix); such
 * a commit returns HF_REDIS_ERROR and may have written part of the batch. A
 * write refused when queued (out of memory under maxmemory) makes EXEC
 * write nothing (HF_REDIS_UNAVAILABLE: retried).
 *
 * Errors. Calls return an hf_redis_status and fill errstr:
 *   HF_REDIS_UNAVAILABLE  no connection, a timeout, or Redis busy or
 *                         loading: pause and retry with backoff; the handle
 *                         reconnects on the next call. A commit's outcome is
 *                         unknown then: retry the SAME batch (it is kept).
 *   HF_REDIS_FENCED       another instance owns the partition: drop it.
 *   HF_REDIS_CONFLICT     the stored offsets or outbox differ from what this
 *                         owner knows: acquire and load the partition again.
 *   HF_REDIS_ERROR        anything else (corrupt state, wrong key type, a
 *                         refused AUTH, out of memory): not worth retrying.
 *
 * Threads: a handle is one connection; use it from one thread at a time.
 * Building batches (hf_redis_batch_*) only reads the server's settings that
 * the handle's first connection read, so other threads may build batches
 * while one thread uses the handle, once it has connected.
 */
#ifndef HF_STORE_REDIS_H
#define HF_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/engine.h"
#include "core/state.h"
#include "core/store_memory.h"

#define HF_REDIS_LAYOUT 1
#define HF_REDIS_DEFAULT_BUCKETS 1024u
#define HF_REDIS_MAX_BUCKETS 1048576u

typedef enum hf_redis_status {
    HF_REDIS_OK = 0,
    HF_REDIS_FENCED = 1,
    HF_REDIS_CONFLICT = 2,
    HF_REDIS_UNAVAILABLE = 3,
    HF_REDIS_ERROR = 4
} hf_redis_status;

/* "ok", "fenced", "conflict", "unavailable", "error". */
const char *hf_redis_status_name(hf_redis_status s);

/*--- Connection ---------------------------------------------------------*/

typedef struct hf_redis hf_redis;

/*
 * Parses redis.url and connects (redis.connect.timeout.ms; commands time
 * out after redis.command.timeout.ms), with AUTH and SELECT when the URL
 * asks. URLs: redis://[[user]:password@]host[:port][/db] (port 6379, db 0
 * by default; IPv6 hosts in brackets; %XX escapes in user and password) or
 * unix://PATH[?db=N]. Borrows nothing from cfg. Returns NULL with errstr:
 *   redis.url "redis://:***@h:x": expected redis://[[user]:password@]host[:port][/db] or unix:///path
 *   cannot connect to Redis at 127.0.0.1:1: Connection refused
 *   Redis at 127.0.0.1:6379 refused AUTH: WRONGPASS invalid username-password pair ...
 * (passwords are shown as ***).
 */
hf_redis *hf_redis_open(const hf_config *cfg, char *errstr, size_t errstr_size);
void hf_redis_close(hf_redis *r); /* accepts NULL */

/* Bucket count for partitions acquired for the first time (a power of two). */
void hf_redis_set_new_buckets(hf_redis *r, uint32_t buckets);
/* The size limit of the compact hash encoding used to place customers. */
size_t hf_redis_small_limit(const hf_redis *r);
/* Where the handle connects, password masked: "127.0.0.1:6379". */
const char *hf_redis_address(const hf_redis *r);

/*--- One partition --------------------------------------------------------*/

typedef struct hf_redis_offset {
    char *topic;     /* owned */
    int64_t offset;  /* last applied offset */
} hf_redis_offset;

/*
 * What this owner knows of a partition's meta. Read-only for callers: a
 * successful commit updates it.
 */
typedef struct hf_redis_part {
    char *group;
    int32_t partition;
    uint64_t epoch;          /* this owner's fencing token */
    uint64_t batch;          /* commits made with this epoch */
    int32_t clock;           /* HF_NO_CLOCK (INT32_MIN) before the first */
    uint64_t outbox_seq;     /* last outbox entry ever written, 0: none */
    uint32_t buckets;        /* this round's base bucket count, a power of two */
    uint32_t split;          /* buckets of this round split so far (< buckets) */
    uint64_t customers;      /* stored customers, as meta counts them */
    hf_redis_offset *applied;
    size_t napplied;
    char *tag;               /* "<prefix>:{<group>:<partition>}" */
} hf_redis_part;

void hf_redis_part_destroy(hf_redis_part *part); /* accepts NULL */
/* Last applied offset of topic, or -1 when none. */
int64_t hf_redis_part_applied(const hf_redis_part *part, const char *topic);

/*
 * Takes ownership of partition p of group: increments its epoch and reads
 * its meta (creating it with the new-partition bucket count). *out is a new
 * hf_redis_part on HF_REDIS_OK, else NULL.
 */
hf_redis_status hf_redis_acquire(hf_redis *r, const char *group, int32_t p,
                                 hf_redis_part **out, char *errstr,
                                 size_t errstr_size);

/*
 * Reads the meta of partition p without taking it (for inspection): epoch
 * and batch are the stored ones. HF_REDIS_OK with *out = NULL when the
 * partition has no meta.
 */
hf_redis_status hf_redis_peek(hf_redis *r, const char *group, int32_t p,
                              hf_redis_part **out, char *errstr,
                              size_t errstr_size);

/*
 * Loads every customer of the partition into dst (which should be empty):
 * decodes each state, sets its due days with hf_engine_due at part->clock
 * and inserts it (hf_memstore_insert indexes them). Checks the number found
 * against meta.customers, so keys lost to eviction or deletion are noticed:
 *   partition 3 holds 41 customers but its meta counts 42: keys were deleted or evicted (use maxmemory-policy noeviction)
 * Sets *loaded (may be NULL) to the number of customers inserted.
 */
hf_redis_status hf_redis_load(hf_redis *r, const hf_redis_part *part,
                              const hf_engine *eng, hf_memstore *dst,
                              size_t *loaded, char *errstr, size_t errstr_size);

/*
 * Reads one customer (NULL *out when absent): decoded for nbeh behaviours,
 * due days not set. *key_out (may be NULL) gets the hash key it is in.
 */
hf_redis_status hf_redis_get_customer(hf_redis *r, const hf_redis_part *part,
                                      const char *id, size_t id_len,
                                      uint32_t nbeh, hf_customer **out,
                                      char *key_out, size_t key_out_size,
                                      char *errstr, size_t errstr_size);

/*--- Commits --------------------------------------------------------------*/

/*
 * The writes of one batch of a partition, built once and committed (and
 * re-committed after HF_REDIS_UNAVAILABLE) as they are: customers are
 * encoded when added, so later changes to them do not leak into a retry.
 */
typedef struct hf_redis_batch hf_redis_batch;

hf_redis_batch *hf_redis_batch_new(void);
void hf_redis_batch_destroy(hf_redis_batch *b); /* accepts NULL */
/* Empties the batch for the next one (keeps its memory). */
void hf_redis_batch_clear(hf_redis_batch *b);

/*
 * Adds a customer's current state (add each changed customer once per
 * batch). c must stay alive until the batch is committed or cleared: a
 * successful commit records in c->flags which hash now holds it.
 * Returns 0, or -1 when out of memory.
 */
int hf_redis_batch_customer(hf_redis_batch *b, const hf_redis *r,
                            const hf_redis_part *part, hf_customer *c);
/*
 * Splits buckets when the partition has outgrown them: when
 * part->customers / buckets passes 48, the buckets of the round are split
 * in step with the customers (all of them by 96 per unsplit bucket; or by
 * 3/4 of a smaller hash-max-listpack-entries, from half that), at most 128
 * per batch. Each split bucket's customers are taken from store
 * (the owner's cache of every customer of the partition) and added to the
 * batch, and the bucket hash is rewritten whole by the commit, together
 * with the new buckets and split in meta; a failed commit changes nothing.
 * Call it after the batch's changed customers. Returns the number of
 * buckets split, or -1 when out of memory.
 */
int hf_redis_batch_grow(hf_redis_batch *b, const hf_redis *r, const hf_redis_part *part,
                        hf_memstore *store);
/* Adds a signal to the outbox: its Kafka key and value. 0, or -1 (OOM). */
int hf_redis_batch_signal(hf_redis_batch *b, const void *key, size_t key_len,
                          const void *value, size_t value_len);
/* Records that the batch applied topic up to offset (the last one). */
int hf_redis_batch_offset(hf_redis_batch *b, const char *topic, int64_t offset);
/* The partition's clock after the batch (HF_NO_CLOCK: unchanged). */
void hf_redis_batch_clock(hf_redis_batch *b, int32_t clock);
/* Number of customers and signals in the batch. */
size_t hf_redis_batch_customers(const hf_redis_batch *b);
size_t hf_redis_batch_signals(const hf_redis_batch *b);

/*
 * Commits the batch with ONE Redis transaction: checks the epoch, the
 * outbox sequence and the applied offsets of the batch's topics against
 * part, then writes states, outbox entries (sequences part->outbox_seq + 1
 * ...), offsets and clock (redis_commit.c). On HF_REDIS_OK part is updated
 * (batch, clock, outbox_seq, applied, customers) and so are the customers'
 * flags; the batch is left as it is (clear it for the next).
 */
hf_redis_status hf_redis_commit(hf_redis *r, hf_redis_part *part,
                                hf_redis_batch *b, char *errstr,
                                size_t errstr_size);

/*
 * Pipelined commits, so that Redis runs one partition's transaction while
 * the caller computes the next: hf_redis_commit_send writes it (as
 * hf_redis_commit does) without waiting, and decides the one sent before
 * (its check's reply is there by then: EXEC or DISCARD);
 * hf_redis_commit_wait reads its outcome and then does what
 * hf_redis_commit does with it. Wait for every sent batch, in the order
 * sent, before any other call on r (other calls fail with HF_REDIS_ERROR
 * meanwhile). HF_REDIS_UNAVAILABLE from either means the batch may or may
 * not be in Redis (connection lost, or meta changed between the check and
 * EXEC): commit it again with hf_redis_commit, which checks again and
 * recognises a batch that Redis applied. hiredis writes without
 * MSG_NOSIGNAL: a process that pipelines must ignore SIGPIPE, or a second
 * write to a server that went away kills it.
 */
hf_redis_status hf_redis_commit_send(hf_redis *r, hf_redis_part *part,
                                     hf_redis_batch *b, char *errstr,
                                     size_t errstr_size);

/*
 * Formats b's commit ahead of hf_redis_commit_send or hf_redis_commit, in
 * any thread: it reads only part and b (neither may change meanwhile) and
 * writes only b. The commit uses what was formatted while part's batch and
 * outbox sequence are the ones it was formatted at, and formats it again
 * otherwise. HF_REDIS_OK, or HF_REDIS_ERROR (out of memory).
 */
hf_redis_status hf_redis_commit_format(const hf_redis_part *part,
                                       hf_redis_batch *b, char *errstr,
                                       size_t errstr_size);
hf_redis_status hf_redis_commit_wait(hf_redis *r, hf_redis_part *part,
                                     hf_redis_batch *b, char *errstr,
                                     size_t errstr_size);

/*--- Outbox -----------------------------------------------------------------*/

typedef int (*hf_redis_outbox_fn)(void *opaque, uint64_t seq, const char *key,
                                  size_t key_len, const char *value,
                                  size_t value_len);

/*
 * Calls fn for every outbox entry with sequence > after_seq, in order (read
 * in chunks of 1000). fn returning non-zero stops the walk (HF_REDIS_OK).
 */
hf_redis_status hf_redis_outbox_read(hf_redis *r, const hf_redis_part *part,
                                     uint64_t after_seq, hf_redis_outbox_fn fn,
                                     void *opaque, char *errstr,
                                     size_t errstr_size);

/* Drops the entries with sequence <= upto_seq; fenced by part->epoch. */
hf_redis_status hf_redis_outbox_trim(hf_redis *r, const hf_redis_part *part,
                                     uint64_t upto_seq, uint64_t *removed,
                                     char *errstr, size_t errstr_size);

/* Number of entries in the outbox. */
hf_redis_status hf_redis_outbox_len(hf_redis *r, const hf_redis_part *part,
                                    uint64_t *len, char *errstr,
                                    size_t errstr_size);

/*--- Discovery ----------------------------------------------------------*/

/*
 * The partitions of group that have meta in Redis (SCAN over
 * "<prefix>:{<group>:*}:meta"), ascending, in a malloc'd array (*out, free
 * it) of *n.
 */
hf_redis_status hf_redis_partitions(hf_redis *r, const char *group,
                                    int32_t **out, size_t *n, char *errstr,
                                    size_t errstr_size);

/* The bucket of a customer id among `buckets` (a power of two), none split. */
uint32_t hf_redis_bucket(const char *id, size_t len, uint32_t buckets);
/* The bucket of a customer id in the partition (its buckets and split). */
uint32_t hf_redis_part_bucket(const hf_redis_part *part, const char *id, size_t len);
/* The number of bucket hashes of the partition: buckets + split. */
uint32_t hf_redis_part_nbuckets(const hf_redis_part *part);

/*
 * Counts the customers in the partition's bucket hashes (pipelined HLEN):
 * *small in the compact hashes, *big in the others.
 */
hf_redis_status hf_redis_count(hf_redis *r, const hf_redis_part *part,
                               uint64_t *small, uint64_t *big, char *errstr,
                               size_t errstr_size);

#endif

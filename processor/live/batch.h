/*
 * batch.h - the pure parts of a batch of the live loop: its items, grouping
 * them by stream, and where the batch is split between the helper thread
 * and the loop. No Kafka calls (the messages are only pointed to).
 */
#ifndef HF_LIVE_BATCH_H
#define HF_LIVE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef struct batch_item {
    rd_kafka_message_t *m;
    uint64_t h;        /* hf_memstore_hash of its key (the customer id), once hashed */
    int hashed;
    int32_t partition; /* m->partition, where passes over the batch read it without
                          touching the message (long out of the cache) */
    int topic;         /* its topic's index in input.topics, or -1 */
} batch_item;

/* The helper's share of a batch moves by a step each batch, towards the
 * share where neither thread waits for the other. */
#define SHARE_UNITS 1000
#define SHARE_STEP 10
/* Smaller batches are not worth a handover to the helper thread. */
#define SPLIT_MIN 512

/*
 * Copies the n items of `in` to `out` grouped by stream (partition number),
 * in partition order, keeping their order within each stream (a counting
 * sort). *starts (of *starts_cap entries) is its scratch table, grown as
 * needed. Returns 0, or -1 (OOM; out is then unchanged). @locality loop thread
 */
int hf_live_group_by_stream(const batch_item *in, size_t n, batch_item *out, size_t **starts,
                            size_t *starts_cap);

/*
 * Where the helper thread's part of the n grouped items ends (its streams
 * are the first ones): between two streams, nearest share/SHARE_UNITS of n;
 * 0 (the loop does it all) below SPLIT_MIN items or with a single stream.
 * @locality loop thread
 */
size_t hf_live_split_point(const batch_item *work, size_t n, int share);

#endif

/*
 * partitioner.h - which partition a customer's events belong to.
 *
 * Input topics are keyed by customer_id and written with librdkafka's default
 * partitioner, `consistent_random`: CRC-32 of the key modulo the partition
 * count (a random partition only for an empty key, which no valid event has).
 * hf_partitioner_partition() gives the same answer as that producer, so the
 * live loop can tell when an event arrived in a partition its customer does
 * not belong to. (Java clients default to murmur2 and place keys elsewhere.)
 */
#ifndef HF_PARTITIONER_H
#define HF_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

/*
 * The partition (0..partition_cnt-1) of a non-empty key, or -1 when key_len
 * is 0 or partition_cnt < 1.
 */
int32_t hf_partitioner_partition(const char *key, size_t key_len,
                                 int32_t partition_cnt);

#endif

/*
 * partitioner.c - the producer's partition of a key: librdkafka's own
 * consistent partitioner (CRC-32 of the key modulo the partition count),
 * called directly so the two can never disagree.
 */
#include "kafka/partitioner.h"

#include <librdkafka/rdkafka.h>

int32_t hf_partitioner_partition(const char *key, size_t key_len,
                                 int32_t partition_cnt)
{
    if (key_len == 0 || partition_cnt < 1)
        return -1;
    /* The consistent partitioner reads neither the topic nor the opaques. */
    return rd_kafka_msg_partitioner_consistent(NULL, key, key_len,
                                               partition_cnt, NULL, NULL);
}

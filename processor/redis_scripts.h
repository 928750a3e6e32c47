/*
 * redis_scripts.h - the Lua scripts of the Redis state store (store_redis.c)
 * as C strings, with the layout of their keys and arguments.
 *
 * Each script checks everything before its first write, so a script that
 * refuses (FENCED, CONFLICT) has written nothing, and Redis runs it
 * atomically. They avoid Redis 7 shebang flags so that Redis 5 and later
 * run them; Redis then checks maxmemory only at a script's first write, and
 * a script that started writing finishes.
 *
 * Replies are arrays whose first element is a status string:
 *   {"OK", ...}        done
 *   {"DONE", seq, n}   commit only: this batch number was already committed
 *                      by this epoch (a retry after a lost reply)
 *   {"FENCED", epoch}  meta.epoch is not the caller's (epoch "" = no meta)
 *   {"CONFLICT", field, stored}  a value the caller expected differs
 */
#ifndef HF_REDIS_SCRIPTS_H
#define HF_REDIS_SCRIPTS_H

typedef enum hf_redis_script_id {
    /*
     * KEYS: meta. ARGV: default bucket count, layout version.
     * Refuses (error reply HFLAYOUT) a meta of another layout version;
     * increments epoch, sets buckets if absent, sets layout and batch = 0,
     * and returns HGETALL meta (a flat field/value array, not a status).
     */
    HF_SCRIPT_ACQUIRE = 0,
    /*
     * KEYS: meta, outbox, then one key per bucket hash the batch touches.
     * ARGV: epoch, batch number, expected outbox_seq, new outbox_seq,
     *   clock ("" = unchanged), ntopics, ntopics x (field "applied:<topic>",
     *   expected offset ("-1" = none), new offset), nmeta, nmeta x (meta
     *   field, value) (the buckets and split of a growth), nout, nout x
     *   outbox entries, then per bucket key (KEYS[3..]): rewrite ("1": a
     *   split bucket, deleted first), nset, nset x (customer id, state),
     *   ndel, ndel x customer id.
     * Checks epoch (FENCED), batch (DONE), outbox_seq and every expected
     * offset (CONFLICT); then RPUSHes the outbox entries, DELs the split
     * buckets, HSETs and HDELs the buckets (one call per bucket key,
     * chunked below Lua's stack limit), adds the change in customer count
     * to meta.customers and sets batch, outbox_seq, clock, the offsets and
     * the meta fields in one HSET.
     * Returns {"OK", new outbox_seq, customers}.
     */
    HF_SCRIPT_COMMIT = 1,
    /*
     * KEYS: meta, outbox. ARGV: epoch, upto sequence.
     * Drops outbox entries with sequence <= upto (entries start with their
     * sequence as 16 hex digits, ascending). Returns {"OK", removed}.
     */
    HF_SCRIPT_TRIM = 2,
    HF_SCRIPT_COUNT = 3
} hf_redis_script_id;

/* The script's Lua source. */
const char *hf_redis_script(hf_redis_script_id id);
/* A short name for error messages: "acquire", "commit", "trim". */
const char *hf_redis_script_name(hf_redis_script_id id);

#endif

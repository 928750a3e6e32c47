/*
 * redis_scripts.h - the Lua scripts of the Redis state store as C strings
 * (redis_conn.c runs them), with the layout of their keys and arguments.
 *
 * Each script checks everything before its first write, so a script that
 * refuses (FENCED, CONFLICT) has written nothing, and Redis runs it
 * atomically. They avoid Redis 7 shebang flags so that Redis 5 and later
 * run them; Redis then checks maxmemory only at a script's first write, and
 * a script that started writing finishes.
 *
 * The trim script's replies are arrays whose first element is a status
 * string:
 *   {"OK", ...}        done
 *   {"FENCED", epoch}  meta.epoch is not the caller's (epoch "" = no meta)
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
     * KEYS: meta, outbox. ARGV: epoch, upto sequence.
     * Drops outbox entries with sequence <= upto (entries start with their
     * sequence as 16 hex digits, ascending). Returns {"OK", removed}.
     */
    HF_SCRIPT_TRIM = 1,
    HF_SCRIPT_COUNT = 2
} hf_redis_script_id;

/* The script's Lua source. */
const char *hf_redis_script(hf_redis_script_id id);
/* A short name for error messages: "acquire", "trim". */
const char *hf_redis_script_name(hf_redis_script_id id);

#endif

/*
 * redis_int.h - what the files of the Redis state store share and callers
 * do not see: the handle (struct hf_redis), its parsed URL, a batch
 * (struct hf_redis_batch), the per-key helpers that run on the commit
 * path (static inline, so that they inline across files), and the
 * functions one file of the store offers the others:
 *   store_redis.c    the handle, partitions (meta), discovery
 *   redis_url.c      redis.url parsing
 *   redis_conn.c     connection, timeouts, send/receive, error mapping, scripts
 *   redis_load.c     reading bucket hashes: load, one customer, counts
 *   redis_batch.c    building a batch, bucket growth
 *   redis_commit.c   the fenced commit: RESP formatting, pipelining, verdicts
 *   redis_outbox.c   the outbox: its entries, read, trim, length
 *   redis_scripts.c  the Lua scripts
 * Key layout and protocol: store_redis.h.
 */
#ifndef HF_REDIS_INT_H
#define HF_REDIS_INT_H

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>
#include <xxhash.h>

#include "redis/redis_scripts.h"
#include "redis/store_redis.h"
#include "util/buf.h"

/* An outbox entry starts with its sequence in this many lowercase hex digits. */
#define HF_REDIS_SEQ_DIGITS 16

/*--- The handle -------------------------------------------------------------*/

/* A parsed redis.url (redis_url.c). */
typedef struct hf_redis_url {
    char *host;              /* NULL for a unix socket */
    int port;
    char *path;              /* unix socket, or NULL */
    char *user;              /* NULL: no user name */
    char *password;          /* NULL: no AUTH */
    long db;
    char address[300];       /* for messages: "host:port", "[v6]:port" or the path */
} hf_redis_url;

struct hf_redis {
    redisContext *c;
    hf_redis_url url;
    struct timeval connect_tv;
    struct timeval command_tv;
    char *prefix;
    uint32_t new_buckets;
    size_t small_limit;
    size_t small_entries;    /* hash-max-listpack-entries */
    int probed;              /* server settings read once */
    char sha[HF_SCRIPT_COUNT][41];
    uint64_t conn_gen;       /* connections made so far */
    size_t pending;          /* commits sent and not waited for */
    struct hf_redis_batch **fly; /* commits with replies to read, in order */
    size_t nfly, flycap;
};

/*--- A batch ----------------------------------------------------------------*/

typedef struct hf_redis_bcust {
    hf_customer *c;
    size_t id_off, id_len;   /* in the batch's data */
    size_t val_off, val_len; /* its hf_state_encode() bytes, in the batch's data */
    uint32_t bucket;
    int big;
} hf_redis_bcust;

typedef struct hf_redis_bout {
    size_t off, len; /* sequence placeholder + varint key length + key + value */
} hf_redis_bout;

typedef struct hf_redis_btopic {
    char *topic;
    int64_t offset;
} hf_redis_btopic;

/* Where a commit in flight is (redis_commit.c). */
enum { HF_REDIS_STAGE_IDLE, HF_REDIS_STAGE_SENT, HF_REDIS_STAGE_DECIDED,
       HF_REDIS_STAGE_FINISHED };

struct hf_redis_batch {
    hf_buf data;
    hf_redis_bcust *custs;
    size_t ncusts, custcap;
    hf_redis_bout *outs;
    size_t nouts, outcap;
    hf_redis_btopic *topics;
    size_t ntopics, topiccap;
    int32_t clock;
    /* its commands up to the last queued write (hf_redis_commit_format), for the
     * partition's batch and outbox sequence they were formatted at */
    hf_buf resp;
    int formatted;
    uint64_t fmt_batch, fmt_seq;
    /* a commit in flight (redis_commit.c) */
    hf_redis_part *part;
    int stage;         /* HF_REDIS_STAGE_* */
    int exec;          /* EXEC (1) or DISCARD (0) was sent */
    size_t nqueued;    /* writes between MULTI and EXEC */
    uint64_t sent_on;  /* the connection it went out on */
    hf_redis_status st; /* its outcome, with err, and on HF_REDIS_OK: */
    uint64_t seq;      /* the outbox sequence after it */
    int64_t count;     /* the partition's customers after it */
    char err[512];
    /* growth (hf_redis_batch_grow): buckets [split_from, split_from + nsplit)
     * are rewritten; the partition then has new_buckets and new_split */
    uint32_t split_from, nsplit, new_buckets, new_split;
};

/*--- Per-key helpers --------------------------------------------------------*/

/* Grows the array *p of *cap elements of size to hold need. 0, or -1 (OOM). */
static inline int hf_redis_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Linear hashing: the bucket of hash h among buckets, of which split are split. */
static inline uint32_t hf_redis_map_bucket(uint64_t h, uint32_t buckets, uint32_t split)
{
    uint32_t b = (uint32_t)(h & (uint64_t)(buckets - 1u));
    return b < split ? (uint32_t)(h & ((uint64_t)buckets * 2u - 1u)) : b;
}

/* hf_redis_part_bucket, inlined. */
static inline uint32_t hf_redis_bucket_of(const hf_redis_part *part, const char *id,
                                          size_t len)
{
    return hf_redis_map_bucket(XXH3_64bits(id, len), part->buckets, part->split);
}

/* Writes seq as the HF_REDIS_SEQ_DIGITS hex digits that start an outbox entry. */
static inline void hf_redis_put_seq(char *d, uint64_t seq)
{
    static const char hex[] = "0123456789abcdef";
    for (int k = HF_REDIS_SEQ_DIGITS - 1; k >= 0; k--, seq >>= 4)
        d[k] = hex[seq & 0xf];
}

/*--- Numbers in URLs and replies --------------------------------------------*/

static inline int hf_redis_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decimal digits only (at most 10), within [min, max]. 0, or -1. */
static inline int hf_redis_parse_long(const char *s, size_t len, long min, long max,
                                      long *out)
{
    long v = 0;
    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A signed decimal as strtoll reads it, the whole of s[0..len). 0, or -1. */
static inline int hf_redis_parse_i64(const char *s, size_t len, int64_t *out)
{
    char buf[32];
    char *end;
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/*--- redis_url.c ------------------------------------------------------------*/

/*
 * Parses url into u (zeroed by the caller; free it with hf_redis_url_free
 * whatever the outcome). 0, or -1 with err:
 *   redis.url "redis://:***@h:x": bad port "x"; expected redis://...
 */
int hf_redis_url_parse(hf_redis_url *u, const char *url, char *err, size_t n);
/* Frees u's strings, the password wiped first; u may be partly filled. */
void hf_redis_url_free(hf_redis_url *u);

/*--- redis_conn.c -----------------------------------------------------------*/

/* Connects when not connected: connect, timeouts, AUTH, SELECT, the server's settings. */
hf_redis_status hf_redis_ensure(hf_redis *r, char *err, size_t n);
/* Closes the connection; the replies still pending are lost with it. */
void hf_redis_drop(hf_redis *r);
/* Whether an error reply is transient: busy, loading, failing over or full. */
int hf_redis_transient(const char *msg);
/* After a failed read or write: drops the connection, HF_REDIS_UNAVAILABLE. */
hf_redis_status hf_redis_io_error(hf_redis *r, const char *what, char *err, size_t n);
/* An error reply to `what`: transient ones are UNAVAILABLE. Frees reply. */
hf_redis_status hf_redis_reply_error(hf_redis *r, redisReply *reply, const char *what,
                                     char *err, size_t n);
/* A reply of the wrong type: HF_REDIS_ERROR. Frees reply (may be NULL). */
hf_redis_status hf_redis_bad_reply(hf_redis *r, redisReply *reply, const char *what,
                                   char *err, size_t n);
/* Sends one command whose reply must not be an error, and reads the reply. */
hf_redis_status hf_redis_simple(hf_redis *r, int argc, const char **argv,
                                redisReply **out, const char *what, char *err, size_t n);
/*
 * EVALSHA of script id; argv[0..2] are filled here (the caller leaves them
 * free), argv[3..] are the keys and arguments. Connects first; loads the
 * script when its SHA is unknown, and again on NOSCRIPT (a flushed or
 * restarted server). *out may be an error reply.
 */
hf_redis_status hf_redis_eval(hf_redis *r, hf_redis_script_id id, int nkeys, int argc,
                              const char **argv, size_t *lens, redisReply **out,
                              char *err, size_t n);
/* Writes what hiredis has buffered: out now, so that Redis works on it. */
hf_redis_status hf_redis_flush(hf_redis *r, char *err, size_t n);
/* Writes data to the socket after whatever hiredis holds (the commit's own buffer). */
hf_redis_status hf_redis_send_raw(hf_redis *r, const char *data, size_t len, char *err,
                                  size_t n);
/* Reads one reply of a commit in flight; on failure the connection is gone. */
hf_redis_status hf_redis_next_reply(hf_redis *r, redisReply **out, char *err, size_t n);

/*--- store_redis.c ----------------------------------------------------------*/

/* Sets the applied offset of topic[0..len) in part. 0, or -1 (OOM). */
int hf_redis_part_set_applied(hf_redis_part *part, const char *topic, size_t len,
                              int64_t off);

/*--- redis_outbox.c ---------------------------------------------------------*/

/*
 * Appends an outbox entry to data: a sequence placeholder of
 * HF_REDIS_SEQ_DIGITS (hf_redis_put_seq fills it when the commit is
 * formatted), the varint key length, the key, the value. 0, or -1 (OOM).
 */
int hf_redis_outbox_entry_append(hf_buf *data, const void *key, size_t key_len,
                                 const void *value, size_t value_len);

#endif

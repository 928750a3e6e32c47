/*
 * redis_conn.c - the handle's connection to Redis: connecting (timeouts,
 * AUTH, SELECT, the server's compact-hash settings read once), reconnecting
 * after a loss, one command and its reply, EVALSHA of the store's scripts,
 * the raw writes and reply reads of pipelined commits, and the mapping of
 * failures to hf_redis_status: a lost connection or a transient error
 * reply is HF_REDIS_UNAVAILABLE, anything else HF_REDIS_ERROR.
 */
#include "redis/redis_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"

/*--- Connection -------------------------------------------------------------*/

void hf_redis_drop(hf_redis *r)
{
    if (r->c != NULL) {
        redisFree(r->c);
        r->c = NULL;
    }
    r->pending = 0; /* their replies are lost with the connection */
    r->nfly = 0;
}

/* Transient error replies: the server is busy, loading, failing over or full. */
int hf_redis_transient(const char *msg)
{
    static const char *const codes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                        "CLUSTERDOWN", "READONLY", "OOM", "NOREPLICAS"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        size_t l = strlen(codes[i]);
        if (strncmp(msg, codes[i], l) == 0 && (msg[l] == ' ' || msg[l] == '\0'))
            return 1;
    }
    return 0;
}

/* After a failed read or write: the connection is unusable. */
hf_redis_status hf_redis_io_error(hf_redis *r, const char *what, char *err, size_t n)
{
    snprintf(err, n, "Redis at %s: %s: %s", r->url.address, what,
             r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
    hf_redis_drop(r);
    return HF_REDIS_UNAVAILABLE;
}

/* An error reply to `what`: transient ones are UNAVAILABLE. Frees reply. */
hf_redis_status hf_redis_reply_error(hf_redis *r, redisReply *reply, const char *what,
                                     char *err, size_t n)
{
    hf_redis_status st = hf_redis_transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
    snprintf(err, n, "Redis at %s: %s: %s", r->url.address, what, reply->str);
    freeReplyObject(reply);
    return st;
}

hf_redis_status hf_redis_bad_reply(hf_redis *r, redisReply *reply, const char *what,
                                   char *err, size_t n)
{
    snprintf(err, n, "Redis at %s: %s: unexpected reply (type %d)", r->url.address, what,
             reply ? reply->type : -1);
    freeReplyObject(reply);
    return HF_REDIS_ERROR;
}

/* Sends one command and reads its reply (which may be an error reply). */
static hf_redis_status roundtrip(hf_redis *r, int argc, const char **argv,
                                 const size_t *lens, redisReply **out,
                                 const char *what, char *err, size_t n)
{
    if (r->pending > 0) { /* their replies come first: a caller's mistake */
        *out = NULL;
        snprintf(err, n, "Redis at %s: %s while %zu pipelined commits await their replies",
                 r->url.address, what, r->pending);
        return HF_REDIS_ERROR;
    }
    *out = redisCommandArgv(r->c, argc, argv, lens);
    if (*out == NULL)
        return hf_redis_io_error(r, what, err, n);
    return HF_REDIS_OK;
}

/* A command whose reply must not be an error. */
hf_redis_status hf_redis_simple(hf_redis *r, int argc, const char **argv,
                                redisReply **out, const char *what, char *err, size_t n)
{
    hf_redis_status st = roundtrip(r, argc, argv, NULL, out, what, err, n);
    if (st != HF_REDIS_OK)
        return st;
    if ((*out)->type == REDIS_REPLY_ERROR) {
        st = hf_redis_reply_error(r, *out, what, err, n);
        *out = NULL;
    }
    return st;
}

/* Reads the server's compact-hash limit and warns about eviction, once. */
static void probe(hf_redis *r)
{
    const char *a[] = {"CONFIG", "GET", "hash-max-ziplist-value"};
    const char *b[] = {"CONFIG", "GET", "maxmemory-policy"};
    const char *e[] = {"CONFIG", "GET", "hash-max-ziplist-entries"};
    redisReply *x = NULL, *y = NULL, *z = NULL;
    if (redisAppendCommandArgv(r->c, 3, a, NULL) != REDIS_OK ||
        redisAppendCommandArgv(r->c, 3, b, NULL) != REDIS_OK ||
        redisAppendCommandArgv(r->c, 3, e, NULL) != REDIS_OK ||
        redisGetReply(r->c, (void **)&x) != REDIS_OK ||
        redisGetReply(r->c, (void **)&y) != REDIS_OK ||
        redisGetReply(r->c, (void **)&z) != REDIS_OK) {
        freeReplyObject(x);
        freeReplyObject(y);
        hf_redis_drop(r); /* reconnects on the next call */
        return;
    }
    r->probed = 1;
    /* CONFIG may be disabled (managed Redis): then Redis' defaults. */
    long v;
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
        x->element[1]->type == REDIS_REPLY_STRING &&
        hf_redis_parse_long(x->element[1]->str, x->element[1]->len, 0, INT_MAX, &v) == 0)
        r->small_limit = (size_t)v;
    if (z->type == REDIS_REPLY_ARRAY && z->elements == 2 &&
        z->element[1]->type == REDIS_REPLY_STRING &&
        hf_redis_parse_long(z->element[1]->str, z->element[1]->len, 0, INT_MAX, &v) == 0)
        r->small_entries = (size_t)v;
    freeReplyObject(z);
    if (y->type == REDIS_REPLY_ARRAY && y->elements == 2 &&
        y->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(y->element[1]->str, "noeviction") != 0)
        hf_log_warn("redis",
                    "Redis at %s has maxmemory-policy %s: evicted state would be lost "
                    "(hirefire notices it when loading); use noeviction",
                    r->url.address, y->element[1]->str);
    freeReplyObject(x);
    freeReplyObject(y);
}

/* Connects when not connected: connect, timeouts, AUTH, SELECT. */
hf_redis_status hf_redis_ensure(hf_redis *r, char *err, size_t n)
{
    if (r->c != NULL)
        return HF_REDIS_OK;
    redisContext *c = r->url.path ? redisConnectUnixWithTimeout(r->url.path, r->connect_tv)
                              : redisConnectWithTimeout(r->url.host, r->url.port, r->connect_tv);
    if (c == NULL || c->err) {
        snprintf(err, n, "cannot connect to Redis at %s: %s", r->url.address,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return HF_REDIS_UNAVAILABLE;
    }
    if (redisSetTimeout(c, r->command_tv) != REDIS_OK) {
        snprintf(err, n, "cannot set the command timeout on the Redis connection: %s",
                 c->errstr);
        redisFree(c);
        return HF_REDIS_UNAVAILABLE;
    }
    r->c = c;
    r->conn_gen++;
    redisReply *reply = NULL;
    hf_redis_status st;
    if (r->url.password != NULL) {
        const char *argv[3] = {"AUTH", r->url.user ? r->url.user : r->url.password,
                               r->url.password};
        st = roundtrip(r, r->url.user ? 3 : 2, argv, NULL, &reply, "AUTH", err, n);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(err, n, "Redis at %s refused AUTH: %s", r->url.address, reply->str);
            st = hf_redis_transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
            freeReplyObject(reply);
            hf_redis_drop(r);
            return st;
        }
        freeReplyObject(reply);
    }
    if (r->url.db != 0) {
        char db[24];
        snprintf(db, sizeof(db), "%ld", r->url.db);
        const char *argv[2] = {"SELECT", db};
        st = roundtrip(r, 2, argv, NULL, &reply, "SELECT", err, n);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(err, n, "Redis at %s refused SELECT %s: %s", r->url.address, db, reply->str);
            st = hf_redis_transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
            freeReplyObject(reply);
            hf_redis_drop(r);
            return st;
        }
        freeReplyObject(reply);
    }
    if (!r->probed) {
        probe(r);
        if (r->c == NULL)
            return hf_redis_io_error(r, "CONFIG GET", err, n);
    }
    return HF_REDIS_OK;
}

/*--- Scripts ----------------------------------------------------------------*/

static hf_redis_status load_script(hf_redis *r, hf_redis_script_id id, char *err, size_t n)
{
    const char *argv[3] = {"SCRIPT", "LOAD", hf_redis_script(id)};
    redisReply *reply;
    hf_redis_status st = hf_redis_simple(r, 3, argv, &reply, "SCRIPT LOAD", err, n);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40)
        return hf_redis_bad_reply(r, reply, "SCRIPT LOAD", err, n);
    memcpy(r->sha[id], reply->str, 40);
    r->sha[id][40] = '\0';
    freeReplyObject(reply);
    return HF_REDIS_OK;
}

/*
 * EVALSHA of script id; argv[0..2] are filled here (the caller leaves them
 * free), argv[3..] are the keys and arguments. Loads the script first when
 * its SHA is unknown, and again on NOSCRIPT (a flushed or restarted server).
 * *out may be an error reply.
 */
hf_redis_status hf_redis_eval(hf_redis *r, hf_redis_script_id id, int nkeys, int argc,
                              const char **argv, size_t *lens, redisReply **out,
                              char *err, size_t n)
{
    char nk[16];
    hf_redis_status st = hf_redis_ensure(r, err, n);
    if (st != HF_REDIS_OK)
        return st;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->sha[id][0] == '\0' && (st = load_script(r, id, err, n)) != HF_REDIS_OK)
            return st;
        argv[0] = "EVALSHA";
        lens[0] = 7;
        argv[1] = r->sha[id];
        lens[1] = 40;
        argv[2] = nk;
        lens[2] = strlen(nk);
        st = roundtrip(r, argc, argv, lens, out, hf_redis_script_name(id), err, n);
        if (st != HF_REDIS_OK)
            return st;
        if ((*out)->type == REDIS_REPLY_ERROR && strncmp((*out)->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(*out);
            *out = NULL;
            r->sha[id][0] = '\0';
            continue;
        }
        return HF_REDIS_OK;
    }
    snprintf(err, n, "Redis at %s: the %s script disappeared right after SCRIPT LOAD",
             r->url.address, hf_redis_script_name(id));
    return HF_REDIS_ERROR;
}

/*--- Commits: raw writes and replies ----------------------------------------*/

/* Writes what r->c has buffered: out now, so that Redis works on it. */
hf_redis_status hf_redis_flush(hf_redis *r, char *errstr, size_t errstr_size)
{
    for (int done = 0; !done;)
        if (redisBufferWrite(r->c, &done) != REDIS_OK)
            return hf_redis_io_error(r, "commit", errstr, errstr_size);
    return HF_REDIS_OK;
}

/*
 * Writes a commit's formatted commands to the socket from the batch's own
 * buffer, after whatever hiredis holds. Not through hiredis' output buffer:
 * that copies them into an sds that it frees once written, a copy and a
 * buffer grown anew for each commit of a few hundred kB.
 */
hf_redis_status hf_redis_send_raw(hf_redis *r, const char *data, size_t len,
                                  char *errstr, size_t errstr_size)
{
    hf_redis_status st = hf_redis_flush(r, errstr, errstr_size);
    while (st == HF_REDIS_OK && len > 0) {
        ssize_t k = send(r->c->fd, data, len, MSG_NOSIGNAL);
        if (k >= 0) {
            data += k;
            len -= (size_t)k;
        } else if (errno != EINTR) {
            /* A blocking socket's EAGAIN is its send timeout running out. */
            const char *why = errno == EAGAIN || errno == EWOULDBLOCK
                                  ? "timed out (redis.command.timeout.ms)"
                                  : strerror(errno);
            snprintf(errstr, errstr_size, "Redis at %s: commit: %s", r->url.address, why);
            hf_redis_drop(r);
            st = HF_REDIS_UNAVAILABLE;
        }
    }
    return st;
}

/* Reads one reply of a commit in flight; on failure the connection is gone. */
hf_redis_status hf_redis_next_reply(hf_redis *r, redisReply **out, char *errstr,
                                    size_t errstr_size)
{
    *out = NULL;
    if (redisGetReply(r->c, (void **)out) != REDIS_OK || *out == NULL)
        return hf_redis_io_error(r, "commit", errstr, errstr_size);
    return HF_REDIS_OK;
}

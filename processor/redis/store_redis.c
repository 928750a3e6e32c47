/*
 * store_redis.c - the Redis state store: connection (URL, AUTH, SELECT,
 * reconnect), the fenced scripts (acquire, outbox trim), the commit
 * transactions, pipelined loading and the outbox. Key layout and protocol:
 * store_redis.h.
 */
#include "redis/store_redis.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis.h>
#include <xxhash.h>

#include "redis/redis_scripts.h"
#include "util/buf.h"
#include "util/log.h"

#define URL_SYNTAX "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]"
#define LOAD_WINDOW 128      /* buckets whose HGETALLs are in flight at once */
#define OUTBOX_CHUNK 1000
#define SEQ_DIGITS 16
/*
 * Bucket growth (hf_redis_batch_grow): a round of splits starts at 3/8 of
 * hash-max-listpack-entries customers per unsplit bucket and has split
 * every bucket at 3/4 of it; buckets are split GROW_SPLITS at a time (one
 * pass over the owner's customers finds theirs).
 */
#define GROW_SPLITS 256

struct hf_redis {
    redisContext *c;
    char *host;
    int port;
    char *path;              /* unix socket, or NULL */
    char *user;              /* NULL: no user name */
    char *password;          /* NULL: no AUTH */
    long db;
    char address[300];
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

const char *hf_redis_status_name(hf_redis_status s)
{
    switch (s) {
    case HF_REDIS_OK: return "ok";
    case HF_REDIS_FENCED: return "fenced";
    case HF_REDIS_CONFLICT: return "conflict";
    case HF_REDIS_UNAVAILABLE: return "unavailable";
    case HF_REDIS_ERROR: return "error";
    }
    return "?";
}

/*--- URL ------------------------------------------------------------------*/

/* The URL with the password of its user info replaced by ***. */
static void mask_url(const char *url, char *out, size_t n)
{
    const char *auth = strstr(url, "://");
    if (auth == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    auth += 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon)
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
    else
        snprintf(out, n, "%.*s***%s", (int)(auth - url), url, at);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A copy of s[0..len) with %XX escapes decoded; NULL on a bad escape. */
static char *unescape(const char *s, size_t len, int *bad)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    *bad = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len) {
                free(out);
                *bad = 1;
                return NULL;
            }
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) {
                free(out);
                *bad = 1;
                return NULL;
            }
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int parse_long(const char *s, size_t len, long min, long max, long *out)
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

static int url_error(const char *url, const char *why, char *err, size_t n)
{
    char masked[512];
    mask_url(url, masked, sizeof(masked));
    snprintf(err, n, "redis.url \"%s\": %s; " URL_SYNTAX, masked, why);
    return -1;
}

static int parse_unix(hf_redis *r, const char *url, char *err, size_t n)
{
    const char *p = url + strlen("unix://");
    size_t plen = strcspn(p, "?");
    if (plen == 0 || p[0] != '/')
        return url_error(url, "the socket path must be absolute", err, n);
    if (p[plen] == '?') {
        const char *q = p + plen + 1;
        if (strncmp(q, "db=", 3) != 0 ||
            parse_long(q + 3, strlen(q + 3), 0, INT_MAX, &r->db) != 0)
            return url_error(url, "the only query is db=N", err, n);
    }
    r->path = strndup(p, plen);
    if (r->path == NULL)
        return url_error(url, "out of memory", err, n);
    snprintf(r->address, sizeof(r->address), "%s", r->path);
    return 0;
}

static int parse_url(hf_redis *r, const char *url, char *err, size_t n)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix(r, url, err, n);
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return url_error(url, "unsupported scheme", err, n);
    const char *auth = url + sizeof(scheme) - 1;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    const char *at = NULL;
    for (const char *p = auth; p < rest; p++)
        if (*p == '@')
            at = p;
    const char *hp = auth;
    int bad = 0;
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *pw = colon ? colon + 1 : auth;
        if (colon && colon > auth) {
            r->user = unescape(auth, (size_t)(colon - auth), &bad);
            if (r->user == NULL)
                return url_error(url, bad ? "bad %-escape in the user" : "out of memory",
                                 err, n);
        }
        r->password = unescape(pw, (size_t)(at - pw), &bad);
        if (r->password == NULL)
            return url_error(url, bad ? "bad %-escape in the password" : "out of memory",
                             err, n);
        hp = at + 1;
    }
    const char *hend = rest, *port = NULL;
    size_t hlen;
    const char *host = hp;
    if (*hp == '[') {
        const char *close = memchr(hp, ']', (size_t)(rest - hp));
        if (close == NULL)
            return url_error(url, "unclosed [ in the host", err, n);
        host = hp + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < rest) {
            if (close[1] != ':')
                return url_error(url, "expected :port after ]", err, n);
            port = close + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(rest - hp));
        hlen = colon ? (size_t)(colon - hp) : (size_t)(rest - hp);
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0)
        return url_error(url, "no host", err, n);
    long v = 6379;
    if (port != NULL && parse_long(port, (size_t)(hend - port), 1, 65535, &v) != 0) {
        char why[96];
        snprintf(why, sizeof(why), "bad port \"%.*s\"", (int)(hend - port > 20 ? 20 : hend - port),
                 port);
        return url_error(url, why, err, n);
    }
    r->port = (int)v;
    r->host = strndup(host, hlen);
    if (r->host == NULL)
        return url_error(url, "out of memory", err, n);
    if (*rest == '/' && rest[1] != '\0') {
        if (parse_long(rest + 1, strlen(rest + 1), 0, INT_MAX, &r->db) != 0) {
            char why[96];
            snprintf(why, sizeof(why), "bad database \"%.20s\"", rest + 1);
            return url_error(url, why, err, n);
        }
    } else if (*rest == '?' || *rest == '#') {
        return url_error(url, "query and fragment are not supported", err, n);
    }
    if (memchr(r->host, ':', hlen))
        snprintf(r->address, sizeof(r->address), "[%s]:%d", r->host, r->port);
    else
        snprintf(r->address, sizeof(r->address), "%s:%d", r->host, r->port);
    return 0;
}

/*--- Connection ---------------------------------------------------------*/

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static void drop(hf_redis *r)
{
    if (r->c != NULL) {
        redisFree(r->c);
        r->c = NULL;
    }
    r->pending = 0; /* their replies are lost with the connection */
    r->nfly = 0;
}

/* Transient error replies: the server is busy, loading, failing over or full. */
static int transient(const char *msg)
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
static hf_redis_status io_error(hf_redis *r, const char *what, char *err, size_t n)
{
    snprintf(err, n, "Redis at %s: %s: %s", r->address, what,
             r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
    drop(r);
    return HF_REDIS_UNAVAILABLE;
}

/* An error reply to `what`: transient ones are UNAVAILABLE. Frees reply. */
static hf_redis_status reply_error(hf_redis *r, redisReply *reply, const char *what,
                                   char *err, size_t n)
{
    hf_redis_status st = transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
    snprintf(err, n, "Redis at %s: %s: %s", r->address, what, reply->str);
    freeReplyObject(reply);
    return st;
}

static hf_redis_status bad_reply(hf_redis *r, redisReply *reply, const char *what,
                                 char *err, size_t n)
{
    snprintf(err, n, "Redis at %s: %s: unexpected reply (type %d)", r->address, what,
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
                 r->address, what, r->pending);
        return HF_REDIS_ERROR;
    }
    *out = redisCommandArgv(r->c, argc, argv, lens);
    if (*out == NULL)
        return io_error(r, what, err, n);
    return HF_REDIS_OK;
}

/* A command whose reply must not be an error. */
static hf_redis_status simple(hf_redis *r, int argc, const char **argv,
                              redisReply **out, const char *what, char *err, size_t n)
{
    hf_redis_status st = roundtrip(r, argc, argv, NULL, out, what, err, n);
    if (st != HF_REDIS_OK)
        return st;
    if ((*out)->type == REDIS_REPLY_ERROR) {
        st = reply_error(r, *out, what, err, n);
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
        drop(r); /* reconnects on the next call */
        return;
    }
    r->probed = 1;
    /* CONFIG may be disabled (managed Redis): then Redis' defaults. */
    long v;
    if (x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
        x->element[1]->type == REDIS_REPLY_STRING &&
        parse_long(x->element[1]->str, x->element[1]->len, 0, INT_MAX, &v) == 0)
        r->small_limit = (size_t)v;
    if (z->type == REDIS_REPLY_ARRAY && z->elements == 2 &&
        z->element[1]->type == REDIS_REPLY_STRING &&
        parse_long(z->element[1]->str, z->element[1]->len, 0, INT_MAX, &v) == 0)
        r->small_entries = (size_t)v;
    freeReplyObject(z);
    if (y->type == REDIS_REPLY_ARRAY && y->elements == 2 &&
        y->element[1]->type == REDIS_REPLY_STRING &&
        strcmp(y->element[1]->str, "noeviction") != 0)
        hf_log_warn("redis",
                    "Redis at %s has maxmemory-policy %s: evicted state would be lost "
                    "(hirefire notices it when loading); use noeviction",
                    r->address, y->element[1]->str);
    freeReplyObject(x);
    freeReplyObject(y);
}

/* Connects when not connected: connect, timeouts, AUTH, SELECT. */
static hf_redis_status ensure(hf_redis *r, char *err, size_t n)
{
    if (r->c != NULL)
        return HF_REDIS_OK;
    redisContext *c = r->path ? redisConnectUnixWithTimeout(r->path, r->connect_tv)
                              : redisConnectWithTimeout(r->host, r->port, r->connect_tv);
    if (c == NULL || c->err) {
        snprintf(err, n, "cannot connect to Redis at %s: %s", r->address,
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
    if (r->password != NULL) {
        const char *argv[3] = {"AUTH", r->user ? r->user : r->password, r->password};
        st = roundtrip(r, r->user ? 3 : 2, argv, NULL, &reply, "AUTH", err, n);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(err, n, "Redis at %s refused AUTH: %s", r->address, reply->str);
            st = transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
            freeReplyObject(reply);
            drop(r);
            return st;
        }
        freeReplyObject(reply);
    }
    if (r->db != 0) {
        char db[24];
        snprintf(db, sizeof(db), "%ld", r->db);
        const char *argv[2] = {"SELECT", db};
        st = roundtrip(r, 2, argv, NULL, &reply, "SELECT", err, n);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type == REDIS_REPLY_ERROR) {
            snprintf(err, n, "Redis at %s refused SELECT %s: %s", r->address, db, reply->str);
            st = transient(reply->str) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR;
            freeReplyObject(reply);
            drop(r);
            return st;
        }
        freeReplyObject(reply);
    }
    if (!r->probed) {
        probe(r);
        if (r->c == NULL)
            return io_error(r, "CONFIG GET", err, n);
    }
    return HF_REDIS_OK;
}

hf_redis *hf_redis_open(const hf_config *cfg, char *errstr, size_t errstr_size)
{
    hf_redis *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->connect_tv = tv_ms(cfg->redis_connect_timeout_ms);
    r->command_tv = tv_ms(cfg->redis_command_timeout_ms);
    r->new_buckets = cfg->redis_buckets > 0 ? (uint32_t)cfg->redis_buckets
                                            : HF_REDIS_DEFAULT_BUCKETS;
    r->small_limit = 64;
    r->small_entries = 128;
    r->prefix = strdup(cfg->redis_key_prefix ? cfg->redis_key_prefix : "hf");
    if (r->prefix == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        hf_redis_close(r);
        return NULL;
    }
    if (parse_url(r, cfg->redis_url ? cfg->redis_url : "", errstr, errstr_size) != 0 ||
        ensure(r, errstr, errstr_size) != HF_REDIS_OK) {
        hf_redis_close(r);
        return NULL;
    }
    return r;
}

void hf_redis_close(hf_redis *r)
{
    if (r == NULL)
        return;
    drop(r);
    free(r->host);
    free(r->path);
    free(r->user);
    if (r->password)
        memset(r->password, 0, strlen(r->password));
    free(r->password);
    free(r->prefix);
    free(r->fly);
    free(r);
}

void hf_redis_set_new_buckets(hf_redis *r, uint32_t buckets)
{
    if (buckets >= 1 && buckets <= HF_REDIS_MAX_BUCKETS && (buckets & (buckets - 1)) == 0)
        r->new_buckets = buckets;
}

size_t hf_redis_small_limit(const hf_redis *r)
{
    return r->small_limit;
}

const char *hf_redis_address(const hf_redis *r)
{
    return r->address;
}

static uint32_t map_bucket(uint64_t h, uint32_t buckets, uint32_t split)
{
    uint32_t b = (uint32_t)(h & (uint64_t)(buckets - 1u));
    return b < split ? (uint32_t)(h & ((uint64_t)buckets * 2u - 1u)) : b;
}

uint32_t hf_redis_part_bucket(const hf_redis_part *part, const char *id, size_t len)
{
    return map_bucket(XXH3_64bits(id, len), part->buckets, part->split);
}

uint32_t hf_redis_part_nbuckets(const hf_redis_part *part)
{
    return part->buckets + part->split;
}

uint32_t hf_redis_bucket(const char *id, size_t len, uint32_t buckets)
{
    return (uint32_t)(XXH3_64bits(id, len) & (uint64_t)(buckets - 1u));
}

/*--- Scripts -------------------------------------------------------------*/

static hf_redis_status load_script(hf_redis *r, hf_redis_script_id id, char *err, size_t n)
{
    const char *argv[3] = {"SCRIPT", "LOAD", hf_redis_script(id)};
    redisReply *reply;
    hf_redis_status st = simple(r, 3, argv, &reply, "SCRIPT LOAD", err, n);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40)
        return bad_reply(r, reply, "SCRIPT LOAD", err, n);
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
static hf_redis_status eval(hf_redis *r, hf_redis_script_id id, int nkeys, int argc,
                            const char **argv, size_t *lens, redisReply **out,
                            char *err, size_t n)
{
    char nk[16];
    hf_redis_status st = ensure(r, err, n);
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
             r->address, hf_redis_script_name(id));
    return HF_REDIS_ERROR;
}

/*--- Partitions ----------------------------------------------------------*/

void hf_redis_part_destroy(hf_redis_part *part)
{
    if (part == NULL)
        return;
    for (size_t i = 0; i < part->napplied; i++)
        free(part->applied[i].topic);
    free(part->applied);
    free(part->group);
    free(part->tag);
    free(part);
}

int64_t hf_redis_part_applied(const hf_redis_part *part, const char *topic)
{
    for (size_t i = 0; i < part->napplied; i++)
        if (strcmp(part->applied[i].topic, topic) == 0)
            return part->applied[i].offset;
    return -1;
}

static int set_applied(hf_redis_part *part, const char *topic, size_t len, int64_t off)
{
    for (size_t i = 0; i < part->napplied; i++)
        if (strlen(part->applied[i].topic) == len &&
            memcmp(part->applied[i].topic, topic, len) == 0) {
            part->applied[i].offset = off;
            return 0;
        }
    hf_redis_offset *a = realloc(part->applied, (part->napplied + 1) * sizeof(*a));
    if (a == NULL)
        return -1;
    part->applied = a;
    a[part->napplied].topic = strndup(topic, len);
    if (a[part->napplied].topic == NULL)
        return -1;
    a[part->napplied++].offset = off;
    return 0;
}

static hf_redis_part *part_new(const hf_redis *r, const char *group, int32_t p)
{
    hf_redis_part *part = calloc(1, sizeof(*part));
    if (part == NULL)
        return NULL;
    part->group = strdup(group);
    size_t len = strlen(r->prefix) + strlen(group) + 32;
    part->tag = malloc(len);
    if (part->group == NULL || part->tag == NULL) {
        hf_redis_part_destroy(part);
        return NULL;
    }
    snprintf(part->tag, len, "%s:{%s:%" PRId32 "}", r->prefix, group, p);
    part->partition = p;
    part->clock = INT32_MIN;
    return part;
}

static int parse_i64(const char *s, size_t len, int64_t *out)
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

/* Fills part from a flat HGETALL reply of meta. */
static hf_redis_status parse_meta(hf_redis_part *part, const redisReply *m, char *err,
                                  size_t n)
{
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        const redisReply *f = m->element[i], *v = m->element[i + 1];
        int64_t x = 0;
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            snprintf(err, n, "%s:meta is not a hash of strings", part->tag);
            return HF_REDIS_ERROR;
        }
        int ok = parse_i64(v->str, v->len, &x) == 0;
        if (strncmp(f->str, "applied:", 8) == 0 && f->len > 8) {
            if (!ok || x < -1)
                goto bad;
            if (set_applied(part, f->str + 8, f->len - 8, x) != 0) {
                snprintf(err, n, "out of memory");
                return HF_REDIS_ERROR;
            }
        } else if (strcmp(f->str, "epoch") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->epoch = (uint64_t)x;
        } else if (strcmp(f->str, "batch") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->batch = (uint64_t)x;
        } else if (strcmp(f->str, "clock") == 0) {
            if (!ok || x < INT32_MIN || x > INT32_MAX)
                goto bad;
            part->clock = (int32_t)x;
        } else if (strcmp(f->str, "outbox_seq") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->outbox_seq = (uint64_t)x;
        } else if (strcmp(f->str, "customers") == 0) {
            if (!ok || x < 0)
                goto bad;
            part->customers = (uint64_t)x;
        } else if (strcmp(f->str, "buckets") == 0) {
            if (!ok || x < 1 || x > HF_REDIS_MAX_BUCKETS || (x & (x - 1)) != 0)
                goto bad;
            part->buckets = (uint32_t)x;
        } else if (strcmp(f->str, "split") == 0) {
            if (!ok || x < 0 || x >= HF_REDIS_MAX_BUCKETS)
                goto bad;
            part->split = (uint32_t)x;
        }
        continue;
    bad:
        snprintf(err, n, "%s:meta field %s is \"%.*s\": not a valid value", part->tag,
                 f->str, (int)(v->len > 40 ? 40 : v->len), v->str);
        return HF_REDIS_ERROR;
    }
    if (part->buckets == 0) {
        snprintf(err, n, "%s:meta has no buckets field", part->tag);
        return HF_REDIS_ERROR;
    }
    if (part->split >= part->buckets) {
        snprintf(err, n, "%s:meta has split %" PRIu32 " of %" PRIu32 " buckets: not a valid "
                 "value", part->tag, part->split, part->buckets);
        return HF_REDIS_ERROR;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_acquire(hf_redis *r, const char *group, int32_t p,
                                 hf_redis_part **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_part *part = part_new(r, group, p);
    if (part == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    char meta[512], buckets[16], layout[16];
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    snprintf(buckets, sizeof(buckets), "%" PRIu32, r->new_buckets);
    snprintf(layout, sizeof(layout), "%d", HF_REDIS_LAYOUT);
    const char *argv[6] = {NULL, NULL, NULL, meta, buckets, layout};
    size_t lens[6] = {0, 0, 0, strlen(meta), strlen(buckets), strlen(layout)};
    redisReply *reply;
    hf_redis_status st = eval(r, HF_SCRIPT_ACQUIRE, 1, 6, argv, lens, &reply, errstr,
                              errstr_size);
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        hf_redis_part_destroy(part);
        return reply_error(r, reply, "acquire", errstr, errstr_size);
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        hf_redis_part_destroy(part);
        return bad_reply(r, reply, "acquire", errstr, errstr_size);
    }
    st = parse_meta(part, reply, errstr, errstr_size);
    freeReplyObject(reply);
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    /* Only when growth has stopped can buckets outgrow the listpack limit. */
    if (part->buckets >= HF_REDIS_MAX_BUCKETS &&
        part->customers * 10 > (uint64_t)part->buckets * r->small_entries * 9)
        hf_log_warn("redis",
                    "partition %" PRId32 " holds %" PRIu64 " customers in %" PRIu32
                    " buckets, the most there can be: buckets beyond "
                    "hash-max-listpack-entries (%zu) take 2-3x the memory; use more "
                    "input partitions", p, part->customers, part->buckets,
                    r->small_entries);
    *out = part;
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_peek(hf_redis *r, const char *group, int32_t p,
                              hf_redis_part **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    hf_redis_part *part = part_new(r, group, p);
    if (part == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    char meta[512];
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    const char *argv[2] = {"HGETALL", meta};
    redisReply *reply;
    st = simple(r, 2, argv, &reply, "HGETALL", errstr, errstr_size);
    if (st == HF_REDIS_OK && reply->type != REDIS_REPLY_ARRAY)
        st = bad_reply(r, reply, "HGETALL", errstr, errstr_size);
    else if (st == HF_REDIS_OK) {
        if (reply->elements > 0)
            st = parse_meta(part, reply, errstr, errstr_size);
        else {
            hf_redis_part_destroy(part);
            part = NULL;
        }
        freeReplyObject(reply);
    }
    if (st != HF_REDIS_OK) {
        hf_redis_part_destroy(part);
        return st;
    }
    *out = part;
    return HF_REDIS_OK;
}

static void bucket_key(const hf_redis_part *part, int big, uint32_t b, char *out, size_t n)
{
    snprintf(out, n, "%s:%s:%" PRIu32, part->tag, big ? "big" : "c", b);
}

/*--- Loading ---------------------------------------------------------------*/

static hf_redis_status load_hash(const hf_redis_part *part, const hf_engine *eng,
                                 hf_memstore *dst, int big, uint32_t b,
                                 const redisReply *h, size_t *count, char *err, size_t n)
{
    char key[600], why[256];
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        bucket_key(part, big, b, key, sizeof(key));
        if (hf_redis_part_bucket(part, f->str, f->len) != b) {
            snprintf(err, n, "%s: customer \"%.*s\" belongs to bucket %" PRIu32
                     " of %" PRIu32, key, (int)(f->len > 80 ? 80 : f->len), f->str,
                     hf_redis_part_bucket(part, f->str, f->len), hf_redis_part_nbuckets(part));
            return HF_REDIS_ERROR;
        }
        if (hf_memstore_get(dst, f->str, f->len) != NULL) {
            snprintf(err, n, "%s: customer \"%.*s\" is stored twice", key,
                     (int)(f->len > 80 ? 80 : f->len), f->str);
            return HF_REDIS_ERROR;
        }
        hf_customer *c = hf_customer_new(f->str, f->len, eng->n);
        if (c == NULL) {
            snprintf(err, n, "out of memory");
            return HF_REDIS_ERROR;
        }
        if (hf_state_decode(c, (const uint8_t *)v->str, v->len, why, sizeof(why)) != 0) {
            snprintf(err, n, "%s: customer \"%.*s\": %s", key,
                     (int)(f->len > 80 ? 80 : f->len), f->str, why);
            hf_customer_destroy(c);
            return HF_REDIS_ERROR;
        }
        for (uint32_t k = 0; k < eng->n; k++)
            c->due[k] = hf_engine_due(eng, c, k, part->clock);
        c->flags |= big ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL;
        if (hf_memstore_insert(dst, c) != 0) {
            hf_customer_destroy(c);
            snprintf(err, n, "out of memory");
            return HF_REDIS_ERROR;
        }
        (*count)++;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_load(hf_redis *r, const hf_redis_part *part,
                              const hf_engine *eng, hf_memstore *dst, size_t *loaded,
                              char *errstr, size_t errstr_size)
{
    size_t count = 0;
    if (loaded)
        *loaded = 0;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    uint32_t nb = hf_redis_part_nbuckets(part);
    for (uint32_t start = 0; start < nb; start += LOAD_WINDOW) {
        uint32_t end = start + LOAD_WINDOW < nb ? start + LOAD_WINDOW : nb;
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                bucket_key(part, big, b, key, sizeof(key));
                const char *argv[2] = {"HGETALL", key};
                if (redisAppendCommandArgv(r->c, 2, argv, NULL) != REDIS_OK) {
                    snprintf(errstr, errstr_size, "out of memory");
                    drop(r);
                    return HF_REDIS_ERROR;
                }
            }
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                redisReply *reply = NULL;
                if (redisGetReply(r->c, (void **)&reply) != REDIS_OK)
                    return io_error(r, "HGETALL", errstr, errstr_size);
                if (reply->type == REDIS_REPLY_ERROR) {
                    st = reply_error(r, reply, "HGETALL", errstr, errstr_size);
                    drop(r); /* discards the replies still pending */
                    return st;
                }
                if (reply->type != REDIS_REPLY_ARRAY) {
                    drop(r);
                    return bad_reply(r, reply, "HGETALL", errstr, errstr_size);
                }
                st = load_hash(part, eng, dst, big, b, reply, &count, errstr, errstr_size);
                freeReplyObject(reply);
                if (st != HF_REDIS_OK) {
                    drop(r);
                    if (loaded)
                        *loaded = count;
                    return st;
                }
            }
    }
    if (loaded)
        *loaded = count;
    if (count != part->customers) {
        snprintf(errstr, errstr_size,
                 "partition %" PRId32 " holds %zu customers but its meta counts %" PRIu64
                 ": keys were deleted or evicted (use maxmemory-policy noeviction)",
                 part->partition, count, part->customers);
        return HF_REDIS_ERROR;
    }
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_get_customer(hf_redis *r, const hf_redis_part *part,
                                      const char *id, size_t id_len, uint32_t nbeh,
                                      hf_customer **out, char *key_out,
                                      size_t key_out_size, char *errstr, size_t errstr_size)
{
    *out = NULL;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    uint32_t b = hf_redis_part_bucket(part, id, id_len);
    char keys[2][600];
    for (int big = 0; big < 2; big++) {
        bucket_key(part, big, b, keys[big], sizeof(keys[big]));
        const char *argv[3] = {"HGET", keys[big], id};
        size_t lens[3] = {4, strlen(keys[big]), id_len};
        if (redisAppendCommandArgv(r->c, 3, argv, lens) != REDIS_OK) {
            drop(r);
            snprintf(errstr, errstr_size, "out of memory");
            return HF_REDIS_ERROR;
        }
    }
    redisReply *rep[2] = {NULL, NULL};
    for (int big = 0; big < 2; big++)
        if (redisGetReply(r->c, (void **)&rep[big]) != REDIS_OK) {
            freeReplyObject(rep[0]);
            return io_error(r, "HGET", errstr, errstr_size);
        }
    int found = -1;
    for (int big = 0; big < 2 && st == HF_REDIS_OK; big++) {
        if (rep[big]->type == REDIS_REPLY_ERROR) {
            st = reply_error(r, rep[big], "HGET", errstr, errstr_size);
            rep[big] = NULL;
        } else if (rep[big]->type == REDIS_REPLY_STRING) {
            if (found >= 0) {
                snprintf(errstr, errstr_size, "%s: customer \"%.*s\" is stored twice",
                         keys[big], (int)(id_len > 80 ? 80 : id_len), id);
                st = HF_REDIS_ERROR;
            }
            found = big;
        } else if (rep[big]->type != REDIS_REPLY_NIL) {
            st = bad_reply(r, rep[big], "HGET", errstr, errstr_size);
            rep[big] = NULL;
        }
    }
    if (st == HF_REDIS_OK && found >= 0) {
        char why[256];
        hf_customer *c = hf_customer_new(id, id_len, nbeh);
        if (c == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            st = HF_REDIS_ERROR;
        } else if (hf_state_decode(c, (const uint8_t *)rep[found]->str, rep[found]->len,
                                   why, sizeof(why)) != 0) {
            snprintf(errstr, errstr_size, "%s: customer \"%.*s\": %s", keys[found],
                     (int)(id_len > 80 ? 80 : id_len), id, why);
            hf_customer_destroy(c);
            st = HF_REDIS_ERROR;
        } else {
            c->flags |= found ? HF_CUST_REDIS_BIG : HF_CUST_REDIS_SMALL;
            *out = c;
            if (key_out)
                snprintf(key_out, key_out_size, "%s", keys[found]);
        }
    }
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return st;
}

hf_redis_status hf_redis_count(hf_redis *r, const hf_redis_part *part, uint64_t *small,
                               uint64_t *big_out, char *errstr, size_t errstr_size)
{
    *small = *big_out = 0;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    uint32_t nb = hf_redis_part_nbuckets(part);
    for (uint32_t start = 0; start < nb; start += LOAD_WINDOW) {
        uint32_t end = start + LOAD_WINDOW < nb ? start + LOAD_WINDOW : nb;
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                bucket_key(part, big, b, key, sizeof(key));
                const char *argv[2] = {"HLEN", key};
                if (redisAppendCommandArgv(r->c, 2, argv, NULL) != REDIS_OK) {
                    drop(r);
                    snprintf(errstr, errstr_size, "out of memory");
                    return HF_REDIS_ERROR;
                }
            }
        for (uint32_t b = start; b < end; b++)
            for (int big = 0; big < 2; big++) {
                redisReply *reply = NULL;
                if (redisGetReply(r->c, (void **)&reply) != REDIS_OK)
                    return io_error(r, "HLEN", errstr, errstr_size);
                if (reply->type != REDIS_REPLY_INTEGER) {
                    drop(r);
                    return reply->type == REDIS_REPLY_ERROR
                               ? reply_error(r, reply, "HLEN", errstr, errstr_size)
                               : bad_reply(r, reply, "HLEN", errstr, errstr_size);
                }
                *(big ? big_out : small) += (uint64_t)reply->integer;
                freeReplyObject(reply);
            }
    }
    return HF_REDIS_OK;
}

/*--- Batches -----------------------------------------------------------------*/

typedef struct bcust {
    hf_customer *c;
    size_t id_off, id_len;
    size_t val_off, val_len;
    uint32_t bucket;
    int big;
} bcust;

typedef struct bout {
    size_t off, len; /* SEQ_DIGITS placeholder + varint key length + key + value */
} bout;

typedef struct btopic {
    char *topic;
    int64_t offset;
} btopic;

struct hf_redis_batch {
    hf_buf data;
    bcust *custs;
    size_t ncusts, custcap;
    bout *outs;
    size_t nouts, outcap;
    btopic *topics;
    size_t ntopics, topiccap;
    int32_t clock;
    /* its commands up to the last queued write (hf_redis_commit_format), for the
     * partition's batch and outbox sequence they were formatted at */
    hf_buf resp;
    int formatted;
    uint64_t fmt_batch, fmt_seq;
    /* a commit in flight (store_redis.c, "Commit") */
    hf_redis_part *part;
    int stage;         /* STAGE_* */
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

hf_redis_batch *hf_redis_batch_new(void)
{
    hf_redis_batch *b = calloc(1, sizeof(*b));
    if (b != NULL)
        b->clock = INT32_MIN;
    return b;
}

void hf_redis_batch_clear(hf_redis_batch *b)
{
    b->nsplit = 0;
    hf_buf_reset(&b->data);
    b->ncusts = b->nouts = 0;
    for (size_t i = 0; i < b->ntopics; i++)
        free(b->topics[i].topic);
    b->ntopics = 0;
    b->clock = INT32_MIN;
    b->formatted = 0;
}

void hf_redis_batch_destroy(hf_redis_batch *b)
{
    if (b == NULL)
        return;
    hf_redis_batch_clear(b);
    hf_buf_free(&b->data);
    hf_buf_free(&b->resp);
    free(b->custs);
    free(b->outs);
    free(b->topics);
    free(b);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
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

int hf_redis_batch_customer(hf_redis_batch *b, const hf_redis *r,
                            const hf_redis_part *part, hf_customer *c)
{
    b->formatted = 0; /* changed: formatted again when committed */
    if (grow((void **)&b->custs, &b->custcap, b->ncusts + 1, sizeof(*b->custs)) != 0)
        return -1;
    size_t id_off = b->data.len;
    if (hf_buf_append(&b->data, c->id, c->id_len) != 0)
        return -1;
    /* Encoded in place, into room for its largest encoding. */
    size_t val_off = b->data.len, room = hf_state_encode_bound(c);
    if (hf_buf_reserve(&b->data, room) != 0)
        return -1;
    size_t len = hf_state_encode(c, (uint8_t *)b->data.data + val_off, room);
    b->data.len += len;
    bcust *e = &b->custs[b->ncusts++];
    e->c = c;
    e->id_off = id_off;
    e->id_len = c->id_len;
    e->val_off = val_off;
    e->val_len = len;
    e->bucket = b->nsplit > 0 ? map_bucket(XXH3_64bits(c->id, c->id_len), b->new_buckets,
                                           b->new_split)
                              : hf_redis_part_bucket(part, c->id, c->id_len);
    e->big = c->id_len > r->small_limit || len > r->small_limit;
    return 0;
}

typedef struct grow_ctx {
    hf_redis_batch *b;
    const hf_redis *r;
    const hf_redis_part *part;
    int oom;
} grow_ctx;

/* Adds c when it is in one of the buckets being split. */
static void grow_add(void *opaque, hf_customer *c)
{
    grow_ctx *g = opaque;
    if (g->oom || (c->flags & HF_CUST_REDIS_BATCH) ||
        !(c->flags & (HF_CUST_REDIS_SMALL | HF_CUST_REDIS_BIG)))
        return;
    uint32_t old = hf_redis_part_bucket(g->part, c->id, c->id_len);
    if (old >= g->b->split_from && old - g->b->split_from < g->b->nsplit &&
        hf_redis_batch_customer(g->b, g->r, g->part, c) != 0)
        g->oom = 1;
}

int hf_redis_batch_grow(hf_redis_batch *b, const hf_redis *r, const hf_redis_part *part,
                        hf_memstore *store)
{
    b->formatted = 0; /* changed: formatted again when committed */
    uint64_t high = r->small_entries * 3 / 4;
    if (high < 2)
        high = 2;
    uint64_t low = high / 2;
    uint64_t per = part->customers / part->buckets;
    if (b->nsplit > 0 || per < low || part->buckets >= HF_REDIS_MAX_BUCKETS)
        return 0;
    /* Where this round should be: split in step with the customers. */
    uint64_t want = per >= high ? part->buckets
                                : (part->customers - low * part->buckets) / (high - low) + 1;
    if (want > part->buckets)
        want = part->buckets;
    if (want <= part->split || (want - part->split < GROW_SPLITS && want < part->buckets))
        return 0;
    uint32_t n = (uint32_t)(want - part->split);
    if (n > GROW_SPLITS)
        n = GROW_SPLITS;
    b->split_from = part->split;
    b->nsplit = n;
    b->new_buckets = part->buckets;
    b->new_split = part->split + n;
    if (b->new_split == part->buckets) {
        b->new_buckets = part->buckets * 2;
        b->new_split = 0;
    }
    /* The batch's customers first move to the new layout, then the others
     * of the split buckets join them. */
    size_t mine = b->ncusts;
    for (size_t i = 0; i < mine; i++) {
        b->custs[i].bucket = map_bucket(XXH3_64bits(b->custs[i].c->id,
                                                    b->custs[i].c->id_len),
                                        b->new_buckets, b->new_split);
        b->custs[i].c->flags |= HF_CUST_REDIS_BATCH;
    }
    grow_ctx g = {b, r, part, 0};
    hf_memstore_foreach(store, grow_add, &g);
    for (size_t i = 0; i < mine; i++)
        b->custs[i].c->flags &= ~HF_CUST_REDIS_BATCH;
    return g.oom ? -1 : (int)n;
}

int hf_redis_batch_signal(hf_redis_batch *b, const void *key, size_t key_len,
                          const void *value, size_t value_len)
{
    b->formatted = 0; /* changed: formatted again when committed */
    if (grow((void **)&b->outs, &b->outcap, b->nouts + 1, sizeof(*b->outs)) != 0)
        return -1;
    uint8_t v[10];
    size_t nv = 0;
    uint64_t x = key_len;
    while (x >= 0x80) {
        v[nv++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    v[nv++] = (uint8_t)x;
    size_t off = b->data.len;
    if (hf_buf_reserve(&b->data, SEQ_DIGITS + nv + key_len + value_len) != 0)
        return -1;
    memset(b->data.data + off, '0', SEQ_DIGITS);
    b->data.len += SEQ_DIGITS;
    hf_buf_append(&b->data, v, nv);
    hf_buf_append(&b->data, key, key_len);
    hf_buf_append(&b->data, value, value_len);
    b->outs[b->nouts].off = off;
    b->outs[b->nouts].len = b->data.len - off;
    b->nouts++;
    return 0;
}

int hf_redis_batch_offset(hf_redis_batch *b, const char *topic, int64_t offset)
{
    b->formatted = 0; /* changed: formatted again when committed */
    for (size_t i = 0; i < b->ntopics; i++)
        if (strcmp(b->topics[i].topic, topic) == 0) {
            if (offset > b->topics[i].offset)
                b->topics[i].offset = offset;
            return 0;
        }
    if (grow((void **)&b->topics, &b->topiccap, b->ntopics + 1, sizeof(*b->topics)) != 0)
        return -1;
    char *t = strdup(topic);
    if (t == NULL)
        return -1;
    b->topics[b->ntopics].topic = t;
    b->topics[b->ntopics++].offset = offset;
    return 0;
}

void hf_redis_batch_clock(hf_redis_batch *b, int32_t clock)
{
    b->formatted = 0; /* changed: formatted again when committed */
    b->clock = clock;
}

size_t hf_redis_batch_customers(const hf_redis_batch *b)
{
    return b->ncusts;
}

size_t hf_redis_batch_signals(const hf_redis_batch *b)
{
    return b->nouts;
}

/*--- Commit ----------------------------------------------------------------*/

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
 * the ascending order that hf_redis_commit_format adds the ops in (qsort took ~2%
 * of a Redis run of 250,000-event batches); else qsort. 0, or -1 (OOM).
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
 * of a batch's hundreds of thousands of arguments and collecting them:
 * about half of the server's CPU per customer written (bench/README.md).
 *
 * Replies come in order, so a pipelined commit is decided when the next is
 * sent (its HMGET's reply is there by then), and its remaining replies
 * (MULTI, one QUEUED per write, EXEC) are read when the one after it is
 * decided or when it is waited for. r->fly holds the commits whose replies
 * are not all read yet, in the order sent; all but the last are decided.
 */

enum { STAGE_IDLE, STAGE_SENT, STAGE_DECIDED, STAGE_FINISHED };

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

/* The commit's commands up to the last queued write into b->resp. */
hf_redis_status hf_redis_commit_format(const hf_redis_part *part, hf_redis_batch *b,
                                       char *errstr, size_t errstr_size)
{
    /* The writes, grouped by bucket hash: rewrite, sets, then deletes. */
    size_t maxops = 2 * b->ncusts + 2 * (size_t)b->nsplit + 1;
    op *ops = malloc(2 * maxops * sizeof(*ops));
    if (ops == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    size_t nops = 0;
    uint64_t added = 0;
    for (size_t i = 0; i < b->ncusts; i++) {
        const bcust *e = &b->custs[i];
        ops[nops++] = (op){e->bucket, (uint8_t)e->big, 1, (uint32_t)i};
        uint32_t other = e->big ? HF_CUST_REDIS_SMALL : HF_CUST_REDIS_BIG;
        if (e->c->flags & other)
            ops[nops++] = (op){e->bucket, (uint8_t)!e->big, 2, (uint32_t)i};
        /* A stored customer moves (or stays) and is counted already. */
        added += !(e->c->flags & (HF_CUST_REDIS_SMALL | HF_CUST_REDIS_BIG));
    }
    for (uint32_t k = 0; k < b->nsplit; k++)
        for (uint8_t big = 0; big < 2; big++)
            ops[nops++] = (op){b->split_from + k, big, 0, 0};
    if (ops_sort(ops, nops, ops + maxops) != 0) {
        free(ops);
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    const op *sorted = ops + maxops;

    hf_buf *o = &b->resp;
    int oom = 0;
    b->formatted = 0;
    hf_buf_reset(o);
    resp_array(o, 2, &oom);
    resp_str(o, "WATCH", &oom);
    resp_key(o, part->tag, ":meta", &oom);
    resp_array(o, 6 + b->ntopics, &oom);
    resp_str(o, "HMGET", &oom);
    resp_key(o, part->tag, ":meta", &oom);
    resp_str(o, "epoch", &oom);
    resp_str(o, "batch", &oom);
    resp_str(o, "outbox_seq", &oom);
    resp_str(o, "customers", &oom);
    for (size_t i = 0; i < b->ntopics; i++) {
        char field[300];
        snprintf(field, sizeof(field), "applied:%s", b->topics[i].topic);
        resp_str(o, field, &oom);
    }
    resp_array(o, 1, &oom);
    resp_str(o, "MULTI", &oom);
    size_t queued = 0;

    if (b->nouts > 0) {
        resp_array(o, 2 + b->nouts, &oom);
        resp_str(o, "RPUSH", &oom);
        resp_key(o, part->tag, ":outbox", &oom);
        for (size_t i = 0; i < b->nouts; i++) {
            static const char hex[] = "0123456789abcdef";
            uint64_t seq = part->outbox_seq + 1 + i;
            char *d = b->data.data + b->outs[i].off;
            for (int k = SEQ_DIGITS - 1; k >= 0; k--, seq >>= 4)
                d[k] = hex[seq & 0xf];
            resp_bulk(o, d, b->outs[i].len, &oom);
        }
        queued++;
    }
    for (size_t i = 0; i < nops && !oom;) {
        size_t j = i, nset = 0;
        const op g = sorted[i];
        if (g.kind == 0) { /* the marker sorts first */
            resp_array(o, 2, &oom);
            resp_str(o, "DEL", &oom);
            resp_bucket(o, part->tag, g.big, g.bucket, &oom);
            queued++;
            i++;
        }
        while (j < nops && sorted[j].big == g.big && sorted[j].bucket == g.bucket) {
            nset += sorted[j].kind == 1;
            j++;
        }
        size_t k = i;
        if (nset > 0) {
            resp_array(o, 2 + 2 * nset, &oom);
            resp_str(o, "HSET", &oom);
            resp_bucket(o, part->tag, g.big, g.bucket, &oom);
            for (; k < i + nset; k++) {
                const bcust *e = &b->custs[sorted[k].cust];
                resp_bulk(o, b->data.data + e->id_off, e->id_len, &oom);
                resp_bulk(o, b->data.data + e->val_off, e->val_len, &oom);
            }
            queued++;
        }
        if (j > k) {
            resp_array(o, 2 + (j - k), &oom);
            resp_str(o, "HDEL", &oom);
            resp_bucket(o, part->tag, g.big, g.bucket, &oom);
            for (; k < j; k++) {
                const bcust *e = &b->custs[sorted[k].cust];
                resp_bulk(o, b->data.data + e->id_off, e->id_len, &oom);
            }
            queued++;
        }
        i = j;
    }
    free(ops);

    resp_array(o, 6 + 2 * (b->clock != INT32_MIN) + 2 * b->ntopics + 4 * (b->nsplit > 0),
               &oom);
    resp_str(o, "HSET", &oom);
    resp_key(o, part->tag, ":meta", &oom);
    resp_str(o, "batch", &oom);
    resp_u64(o, part->batch + 1, &oom);
    resp_str(o, "outbox_seq", &oom);
    resp_u64(o, part->outbox_seq + b->nouts, &oom);
    if (b->clock != INT32_MIN) {
        resp_str(o, "clock", &oom);
        resp_i64(o, b->clock, &oom);
    }
    for (size_t i = 0; i < b->ntopics; i++) {
        char field[300];
        snprintf(field, sizeof(field), "applied:%s", b->topics[i].topic);
        resp_str(o, field, &oom);
        resp_i64(o, b->topics[i].offset, &oom);
    }
    if (b->nsplit > 0) {
        resp_str(o, "buckets", &oom);
        resp_u64(o, b->new_buckets, &oom);
        resp_str(o, "split", &oom);
        resp_u64(o, b->new_split, &oom);
    }
    resp_array(o, 4, &oom);
    resp_str(o, "HINCRBY", &oom);
    resp_key(o, part->tag, ":meta", &oom);
    resp_str(o, "customers", &oom);
    resp_u64(o, added, &oom);
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

/* Writes what r->c has buffered: out now, so that Redis works on it. */
static hf_redis_status flush_out(hf_redis *r, char *errstr, size_t errstr_size)
{
    for (int done = 0; !done;)
        if (redisBufferWrite(r->c, &done) != REDIS_OK)
            return io_error(r, "commit", errstr, errstr_size);
    return HF_REDIS_OK;
}

/*
 * Writes a commit's formatted commands to the socket from the batch's own
 * buffer, after whatever hiredis holds. Not through hiredis' output buffer:
 * it copies them into an sds that it frees once written, so each commit
 * of a few hundred kB paid for a copy and a buffer grown anew.
 */
static hf_redis_status send_formatted(hf_redis *r, const char *data, size_t len,
                                      char *errstr, size_t errstr_size)
{
    hf_redis_status st = flush_out(r, errstr, errstr_size);
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
            snprintf(errstr, errstr_size, "Redis at %s: commit: %s", r->address, why);
            drop(r);
            st = HF_REDIS_UNAVAILABLE;
        }
    }
    return st;
}

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
        if ((e[2]->type == REDIS_REPLY_STRING && parse_i64(e[2]->str, e[2]->len, &seq) != 0) ||
            (e[3]->type == REDIS_REPLY_STRING && parse_i64(e[3]->str, e[3]->len, &count) != 0) ||
            seq < 0 || count < 0) {
            verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: partition %" PRId32 " of group "
                    "\"%s\": corrupt meta (outbox_seq or customers)", r->address,
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

/* Reads one reply of a commit in flight; on failure the connection is gone. */
static hf_redis_status next_reply(hf_redis *r, redisReply **out, char *errstr,
                                  size_t errstr_size)
{
    *out = NULL;
    if (redisGetReply(r->c, (void **)out) != REDIS_OK || *out == NULL)
        return io_error(r, "commit", errstr, errstr_size);
    return HF_REDIS_OK;
}

/* Reads and frees the remaining replies of r->fly[0]: MULTI, QUEUED..., EXEC. */
static hf_redis_status commit_finish(hf_redis *r, char *errstr, size_t errstr_size)
{
    hf_redis_batch *b = r->fly[0];
    const hf_redis_part *part = b->part;
    redisReply *x;
    hf_redis_status st;
    char queue_err[256] = "";
    if ((st = next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (x->type != REDIS_REPLY_STATUS || strcmp(x->str, "OK") != 0) {
        /* Redis takes MULTI even when loading or busy: an ACL that refuses
         * it is all that is left, and then the writes ran as they came,
         * unchecked: say so and stop. */
        snprintf(errstr, errstr_size, "Redis at %s: commit: MULTI was refused (%s), so "
                 "partition %" PRId32 " of group \"%s\" may be written in part; give "
                 "hirefire's Redis user WATCH, MULTI, EXEC and DISCARD",
                 r->address, x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply",
                 part->partition, part->group);
        freeReplyObject(x);
        drop(r);
        return HF_REDIS_ERROR;
    }
    freeReplyObject(x);
    for (size_t i = 0; i < b->nqueued; i++) {
        if ((st = next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
            return st;
        if (x->type == REDIS_REPLY_ERROR && queue_err[0] == '\0')
            snprintf(queue_err, sizeof(queue_err), "%s", x->str);
        freeReplyObject(x);
    }
    if ((st = next_reply(r, &x, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    memmove(r->fly, r->fly + 1, --r->nfly * sizeof(*r->fly));
    b->stage = STAGE_FINISHED;
    if (!b->exec) { /* DISCARD: the verdict stands */
        freeReplyObject(x);
        return HF_REDIS_OK;
    }
    if (x->type == REDIS_REPLY_NIL) {
        verdict(b, HF_REDIS_UNAVAILABLE, "Redis at %s: partition %" PRId32 " of group \"%s\": "
                "its meta changed during the commit (another instance acquiring it?); "
                "nothing was written", r->address, part->partition, part->group);
    } else if (x->type == REDIS_REPLY_ERROR) {
        /* EXECABORT: a write was refused when queued (e.g. OOM); none ran. */
        verdict(b, transient(queue_err) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR,
                "Redis at %s: commit: %s%s%s", r->address, x->str,
                queue_err[0] ? ": " : "", queue_err);
    } else if (x->type != REDIS_REPLY_ARRAY || x->elements != b->nqueued ||
               x->element[x->elements - 1]->type != REDIS_REPLY_INTEGER ||
               x->element[x->elements - 1]->integer < 0) {
        verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: unexpected reply (type %d)",
                r->address, x->type);
    } else {
        b->st = HF_REDIS_OK;
        for (size_t i = 0; i < x->elements; i++)
            if (x->element[i]->type == REDIS_REPLY_ERROR) {
                /* Redis does not roll a transaction back (nor a script). */
                verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: partition %" PRId32
                        " of group \"%s\" is written in part: %s", r->address,
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
    if ((st = next_reply(r, &w, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if ((st = next_reply(r, &m, errstr, errstr_size)) != HF_REDIS_OK) {
        freeReplyObject(w);
        return st;
    }
    b->exec = 0;
    if (w->type == REDIS_REPLY_ERROR || m->type == REDIS_REPLY_ERROR) {
        const char *msg = w->type == REDIS_REPLY_ERROR ? w->str : m->str;
        verdict(b, transient(msg) ? HF_REDIS_UNAVAILABLE : HF_REDIS_ERROR,
                "Redis at %s: commit: %s", r->address, msg);
    } else if (m->type != REDIS_REPLY_ARRAY || m->elements != 4 + b->ntopics) {
        verdict(b, HF_REDIS_ERROR, "Redis at %s: commit: unexpected reply (type %d)",
                r->address, m->type);
    } else {
        b->exec = check_meta(r, b->part, b, m);
    }
    freeReplyObject(w);
    freeReplyObject(m);
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n", discard[] = "*1\r\n$7\r\nDISCARD\r\n";
    if (redisAppendFormattedCommand(r->c, b->exec ? exec : discard,
                                    b->exec ? sizeof(exec) - 1 : sizeof(discard) - 1) !=
        REDIS_OK)
        return io_error(r, "commit", errstr, errstr_size);
    b->stage = STAGE_DECIDED;
    return flush_out(r, errstr, errstr_size);
}

/* Writes b's commit (all but EXEC) after deciding the one sent before. */
static hf_redis_status commit_send(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                   char *errstr, size_t errstr_size)
{
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (r->nfly > 0 && r->fly[r->nfly - 1]->stage == STAGE_SENT &&
        (st = commit_decide(r, r->fly[r->nfly - 1], errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (!(b->formatted && b->fmt_batch == part->batch && b->fmt_seq == part->outbox_seq) &&
        (st = hf_redis_commit_format(part, b, errstr, errstr_size)) != HF_REDIS_OK)
        return st;
    if (grow((void **)&r->fly, &r->flycap, r->nfly + 1, sizeof(*r->fly)) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    if ((st = send_formatted(r, b->resp.data, b->resp.len, errstr, errstr_size)) !=
        HF_REDIS_OK)
        return st;
    b->part = part;
    b->stage = STAGE_SENT;
    b->sent_on = r->conn_gen;
    r->fly[r->nfly++] = b;
    return HF_REDIS_OK;
}

/* Reads b's outcome (deciding it first if needed) and applies it to part. */
static hf_redis_status commit_result(hf_redis *r, hf_redis_part *part, hf_redis_batch *b,
                                     char *errstr, size_t errstr_size)
{
    hf_redis_status st;
    if (b->stage != STAGE_FINISHED) {
        if (b->stage == STAGE_IDLE || r->c == NULL || b->sent_on != r->conn_gen) {
            snprintf(errstr, errstr_size, "Redis at %s: commit: connection lost", r->address);
            return HF_REDIS_UNAVAILABLE;
        }
        if (b->stage == STAGE_SENT && (st = commit_decide(r, b, errstr, errstr_size)) !=
                                          HF_REDIS_OK)
            return st;
        while (b->stage != STAGE_FINISHED && r->nfly > 0)
            if ((st = commit_finish(r, errstr, errstr_size)) != HF_REDIS_OK)
                return st;
        if (b->stage != STAGE_FINISHED) { /* not in flight: never sent */
            snprintf(errstr, errstr_size, "Redis at %s: commit: connection lost", r->address);
            return HF_REDIS_UNAVAILABLE;
        }
    }
    b->stage = STAGE_IDLE;
    if (b->st != HF_REDIS_OK) {
        snprintf(errstr, errstr_size, "%s", b->err);
        return b->st;
    }
    for (size_t i = 0; i < b->ntopics; i++)
        if (set_applied(part, b->topics[i].topic, strlen(b->topics[i].topic),
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
                 "await their replies", r->address, r->pending);
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

/*--- Outbox -----------------------------------------------------------------*/

static int parse_entry(const char *s, size_t len, uint64_t *seq, const char **key,
                       size_t *klen, const char **val, size_t *vlen)
{
    uint64_t v = 0;
    if (len < SEQ_DIGITS + 1)
        return -1;
    for (int i = 0; i < SEQ_DIGITS; i++) {
        int h = hexval((unsigned char)s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (uint64_t)h;
    }
    size_t pos = SEQ_DIGITS;
    uint64_t k = 0;
    for (int shift = 0;; shift += 7) {
        if (pos >= len || shift > 63)
            return -1;
        uint8_t byte = (uint8_t)s[pos++];
        k |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
    }
    if (k > len - pos)
        return -1;
    *seq = v;
    *key = s + pos;
    *klen = (size_t)k;
    *val = s + pos + k;
    *vlen = len - pos - (size_t)k;
    return 0;
}

hf_redis_status hf_redis_outbox_read(hf_redis *r, const hf_redis_part *part,
                                     uint64_t after_seq, hf_redis_outbox_fn fn, void *opaque,
                                     char *errstr, size_t errstr_size)
{
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600], from[24], to[24];
    snprintf(key, sizeof(key), "%s:outbox", part->tag);
    for (long start = 0;; start += OUTBOX_CHUNK) {
        snprintf(from, sizeof(from), "%ld", start);
        snprintf(to, sizeof(to), "%ld", start + OUTBOX_CHUNK - 1);
        const char *argv[4] = {"LRANGE", key, from, to};
        redisReply *reply;
        st = simple(r, 4, argv, &reply, "LRANGE", errstr, errstr_size);
        if (st != HF_REDIS_OK)
            return st;
        if (reply->type != REDIS_REPLY_ARRAY)
            return bad_reply(r, reply, "LRANGE", errstr, errstr_size);
        size_t got = reply->elements;
        for (size_t i = 0; i < got; i++) {
            const redisReply *e = reply->element[i];
            uint64_t seq;
            const char *k, *v;
            size_t kl, vl;
            if (e->type != REDIS_REPLY_STRING ||
                parse_entry(e->str, e->len, &seq, &k, &kl, &v, &vl) != 0) {
                snprintf(errstr, errstr_size, "%s: entry %ld is not an outbox entry", key,
                         start + (long)i);
                freeReplyObject(reply);
                return HF_REDIS_ERROR;
            }
            if (seq <= after_seq)
                continue;
            if (fn(opaque, seq, k, kl, v, vl) != 0) {
                freeReplyObject(reply);
                return HF_REDIS_OK;
            }
        }
        freeReplyObject(reply);
        if (got < OUTBOX_CHUNK)
            return HF_REDIS_OK;
    }
}

hf_redis_status hf_redis_outbox_trim(hf_redis *r, const hf_redis_part *part,
                                     uint64_t upto_seq, uint64_t *removed, char *errstr,
                                     size_t errstr_size)
{
    char meta[600], outbox[600], epoch[24], upto[24];
    if (removed)
        *removed = 0;
    snprintf(meta, sizeof(meta), "%s:meta", part->tag);
    snprintf(outbox, sizeof(outbox), "%s:outbox", part->tag);
    snprintf(epoch, sizeof(epoch), "%" PRIu64, part->epoch);
    snprintf(upto, sizeof(upto), "%" PRIu64, upto_seq);
    const char *argv[7] = {NULL, NULL, NULL, meta, outbox, epoch, upto};
    size_t lens[7] = {0, 0, 0, strlen(meta), strlen(outbox), strlen(epoch), strlen(upto)};
    redisReply *reply;
    hf_redis_status st = eval(r, HF_SCRIPT_TRIM, 2, 7, argv, lens, &reply, errstr,
                              errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type == REDIS_REPLY_ERROR)
        return reply_error(r, reply, "trim", errstr, errstr_size);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return bad_reply(r, reply, "trim", errstr, errstr_size);
    if (strcmp(reply->element[0]->str, "FENCED") == 0) {
        snprintf(errstr, errstr_size, "partition %" PRId32 " of group \"%s\" was taken "
                 "over: its epoch is %s, ours %" PRIu64, part->partition, part->group,
                 reply->element[1]->len ? reply->element[1]->str : "gone", part->epoch);
        freeReplyObject(reply);
        return HF_REDIS_FENCED;
    }
    if (removed && reply->element[1]->type == REDIS_REPLY_INTEGER)
        *removed = (uint64_t)reply->element[1]->integer;
    freeReplyObject(reply);
    return HF_REDIS_OK;
}

hf_redis_status hf_redis_outbox_len(hf_redis *r, const hf_redis_part *part, uint64_t *len,
                                    char *errstr, size_t errstr_size)
{
    *len = 0;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    char key[600];
    snprintf(key, sizeof(key), "%s:outbox", part->tag);
    const char *argv[2] = {"LLEN", key};
    redisReply *reply;
    st = simple(r, 2, argv, &reply, "LLEN", errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    if (reply->type != REDIS_REPLY_INTEGER)
        return bad_reply(r, reply, "LLEN", errstr, errstr_size);
    *len = (uint64_t)reply->integer;
    freeReplyObject(reply);
    return HF_REDIS_OK;
}

/*--- Discovery ----------------------------------------------------------*/

/* Appends s to b with glob characters escaped for SCAN MATCH. */
static int glob_escape(hf_buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s) && hf_buf_append(b, "\\", 1) != 0)
            return -1;
        if (hf_buf_append(b, s, 1) != 0)
            return -1;
    }
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

hf_redis_status hf_redis_partitions(hf_redis *r, const char *group, int32_t **out,
                                    size_t *n, char *errstr, size_t errstr_size)
{
    *out = NULL;
    *n = 0;
    hf_redis_status st = ensure(r, errstr, errstr_size);
    if (st != HF_REDIS_OK)
        return st;
    hf_buf pat = HF_BUF_INIT, head = HF_BUF_INIT;
    if (glob_escape(&pat, r->prefix) != 0 || hf_buf_puts(&pat, ":{") != 0 ||
        glob_escape(&pat, group) != 0 || hf_buf_puts(&pat, ":*}:meta") != 0 ||
        hf_buf_printf(&head, "%s:{%s:", r->prefix, group) != 0) {
        hf_buf_free(&pat);
        hf_buf_free(&head);
        snprintf(errstr, errstr_size, "out of memory");
        return HF_REDIS_ERROR;
    }
    int32_t *parts = NULL;
    size_t np = 0, cap = 0;
    char cursor[32] = "0";
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pat.data, "COUNT", "1000"};
        redisReply *reply;
        st = simple(r, 6, argv, &reply, "SCAN", errstr, errstr_size);
        if (st != HF_REDIS_OK)
            break;
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            reply->element[1]->type != REDIS_REPLY_ARRAY) {
            st = bad_reply(r, reply, "SCAN", errstr, errstr_size);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        const redisReply *keys = reply->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            size_t kl = keys->element[i]->len;
            if (kl <= head.len + 6 || memcmp(k, head.data, head.len) != 0 ||
                memcmp(k + kl - 6, "}:meta", 6) != 0)
                continue;
            long v;
            if (parse_long(k + head.len, kl - head.len - 6, 0, INT32_MAX, &v) != 0)
                continue;
            if (grow((void **)&parts, &cap, np + 1, sizeof(*parts)) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                st = HF_REDIS_ERROR;
                break;
            }
            parts[np++] = (int32_t)v;
        }
        freeReplyObject(reply);
    } while (st == HF_REDIS_OK && strcmp(cursor, "0") != 0);
    hf_buf_free(&pat);
    hf_buf_free(&head);
    if (st != HF_REDIS_OK) {
        free(parts);
        return st;
    }
    if (np > 1)
        qsort(parts, np, sizeof(*parts), cmp_i32);
    /* SCAN may return a key more than once. */
    size_t u = 0;
    for (size_t i = 0; i < np; i++)
        if (u == 0 || parts[u - 1] != parts[i])
            parts[u++] = parts[i];
    *out = parts;
    *n = u;
    return HF_REDIS_OK;
}

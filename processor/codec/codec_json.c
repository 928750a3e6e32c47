/*
 * codec_json.c - JSON events in (yajl, jansson for the rest), JSON signals and events out
 * (hand-written, always valid JSON whatever the bytes), RFC 3339 times.
 */
#include "codec/codec_json.h"

#include <jansson.h>
#include <yajl/yajl_parse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hf_json_decoder {
    json_t *root;   /* jansson's tree of the last slow-path document */
    hf_buf arena;   /* the fast path's decoded strings */
};

/*--- Writing ---------------------------------------------------------------*/

/* Appends the decimal digits of v. */
static int append_i64(hf_buf *b, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    char *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return hf_buf_append(b, p, (size_t)(end - p));
}

/* "name": followed by a string value. */
static int put_key(hf_buf *b, const char *key_with_quotes_colon)
{
    return hf_buf_puts(b, key_with_quotes_colon);
}

static int put_str(hf_buf *b, const char *key, const char *s, size_t len)
{
    if (put_key(b, key) != 0)
        return -1;
    return hf_json_append_string(b, s ? s : "", s ? len : 0);
}

static int put_i64(hf_buf *b, const char *key, int64_t v)
{
    if (put_key(b, key) != 0)
        return -1;
    return append_i64(b, v);
}

static int encode_signal(const hf_signal *s, hf_buf *b)
{
    const char *behaviour = s->behaviour_name ? s->behaviour_name : "";
    if (put_str(b, "{\"signal_id\":", s->signal_id, strlen(s->signal_id)) ||
        put_str(b, ",\"behaviour\":", behaviour, strlen(behaviour)) ||
        put_str(b, ",\"customer_id\":", s->customer_id, s->customer_id_len) ||
        put_key(b, ",\"kind\":\"") ||
        hf_buf_puts(b, hf_signal_kind_name(s->kind)) ||
        put_key(b, "\",\"cause\":\"") ||
        hf_buf_puts(b, hf_signal_cause_name(s->cause)) ||
        put_i64(b, "\",\"effective_time\":", s->effective_time) ||
        put_i64(b, ",\"metrics\":{\"orders\":", s->metrics.orders) ||
        put_i64(b, ",\"items\":", s->metrics.items) ||
        put_i64(b, ",\"gross_minor\":", s->metrics.gross_minor) ||
        put_i64(b, ",\"returned_minor\":", s->metrics.returned_minor) ||
        put_i64(b, ",\"net_minor\":", s->metrics.net_minor) ||
        put_i64(b, ",\"returns\":", s->metrics.returns) ||
        put_key(b, "},\"failing\":["))
        return -1;
    int first = 1;
    for (unsigned i = 0; i < HF_FAIL_COUNT; i++) {
        unsigned bit = 1u << i;
        if (!(s->failing & bit))
            continue;
        if ((!first && hf_buf_append(b, ",", 1)) ||
            hf_buf_append(b, "\"", 1) || hf_buf_puts(b, hf_fail_name(bit)) ||
            hf_buf_append(b, "\"", 1))
            return -1;
        first = 0;
    }
    if (s->trigger_event_id == NULL)
        return hf_buf_puts(b, "],\"trigger\":null}");
    if (put_str(b, "],\"trigger\":{\"event_id\":", s->trigger_event_id,
                s->trigger_event_id_len))
        return -1;
    if (s->trigger_source.topic != NULL) {
        const char *t = s->trigger_source.topic;
        if (put_str(b, ",\"topic\":", t, strlen(t)) ||
            put_i64(b, ",\"partition\":", s->trigger_source.partition) ||
            put_i64(b, ",\"offset\":", s->trigger_source.offset))
            return -1;
    }
    return hf_buf_puts(b, "}}");
}

int hf_json_encode_signal(const hf_signal *s, hf_buf *out)
{
    size_t mark = out->len;
    if (encode_signal(s, out) == 0)
        return 0;
    out->len = mark; /* leave the buffer as it was */
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

int hf_json_encode_event(const hf_event *e, hf_buf *out)
{
    size_t mark = out->len;
    if (put_str(out, "{\"event_id\":", e->event_id, e->event_id_len) ||
        put_key(out, ",\"type\":\"") ||
        hf_buf_puts(out, hf_event_type_name(e->type)) ||
        put_str(out, "\",\"customer_id\":", e->customer_id,
                e->customer_id_len) ||
        put_str(out, ",\"order_id\":", e->order_id, e->order_id_len) ||
        put_i64(out, ",\"event_time\":", e->event_time) ||
        put_i64(out, ",\"amount_minor\":", e->amount_minor) ||
        put_str(out, ",\"currency\":", e->currency,
                strnlen(e->currency, sizeof(e->currency))) ||
        put_i64(out, ",\"items\":", e->items) || hf_buf_puts(out, "}")) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}

/*--- RFC 3339 --------------------------------------------------------------*/

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* n decimal digits at s into *v; -1 if any is not a digit. */
static int digits(const char *s, int n, int *v)
{
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        r = r * 10 + (s[i] - '0');
    }
    *v = r;
    return 0;
}

int hf_parse_rfc3339(const char *s, size_t len, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    if (len < 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60) /* 60: a leap second */
        return -1;
    size_t i = 19;
    int frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        int scale = 100;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (s[i] - '0') * scale; /* digits beyond ms: truncated */
            scale /= 10;
            i++;
        }
        if (i == start)
            return -1;
    }
    if (i >= len)
        return -1; /* the offset is not optional */
    int offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (len - i != 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else
        return -1;
    if (i != len)
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
                (int64_t)mi * 60 + sec - (int64_t)offset_min * 60;
    *ms = t * 1000 + frac;
    return 0;
}

/*--- Reading: field values -------------------------------------------------*/

enum {
    F_EVENT_ID, F_TYPE, F_CUSTOMER_ID, F_ORDER_ID, F_EVENT_TIME,
    F_AMOUNT_MINOR, F_CURRENCY, F_ITEMS, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "event_id", "type", "customer_id", "order_id", "event_time",
    "amount_minor", "currency", "items"};

/* A field's value as either parser saw it; V_ABSENT for missing or null. */
enum { V_ABSENT = 0, V_STRING, V_INTEGER, V_OTHER };

typedef struct fval {
    int kind;
    const char *s; /* V_STRING: NUL-terminated, len bytes */
    size_t len;
    int64_t i;     /* V_INTEGER */
} fval;

static int field_index(const char *k, size_t n)
{
    switch (n) {
    case 4:
        return memcmp(k, "type", 4) == 0 ? F_TYPE : -1;
    case 5:
        return memcmp(k, "items", 5) == 0 ? F_ITEMS : -1;
    case 8:
        if (memcmp(k, "event_id", 8) == 0)
            return F_EVENT_ID;
        if (memcmp(k, "order_id", 8) == 0)
            return F_ORDER_ID;
        if (memcmp(k, "currency", 8) == 0)
            return F_CURRENCY;
        return -1;
    case 10:
        return memcmp(k, "event_time", 10) == 0 ? F_EVENT_TIME : -1;
    case 11:
        return memcmp(k, "customer_id", 11) == 0 ? F_CUSTOMER_ID : -1;
    case 12:
        return memcmp(k, "amount_minor", 12) == 0 ? F_AMOUNT_MINOR : -1;
    }
    return -1;
}

/*--- Reading: the fast path ------------------------------------------------*/

/*
 * jansson builds a tree with a hash table per object for every line, too
 * slow for the replay's throughput target (bench/bench_replay.c). The fast
 * path streams the line through yajl's event parser (no tree, no allocation
 * per value) and keeps only the fields of an event. It accepts exactly what
 * jansson accepts and sees the same values, or gives up: on any syntax error,
 * on a top level that is not an object, on integers out of range, on strings
 * with NUL bytes or invalid UTF-8 (which jansson rejects), the input is
 * decoded with jansson, so error texts are jansson's in every case.
 */

#define FAST_FAIL 1

typedef struct fast_ctx {
    fval *f;
    char *w;     /* where the next decoded string goes in the arena */
    int depth;   /* object/array nesting; 1 = the event object */
    int field;   /* index of the current top-level key, or -1 */
    int top;     /* the top level was an object */
} fast_ctx;

/* A value at depth 1 for one of our fields; deeper values are ignored. */
static fval *fast_slot(fast_ctx *c)
{
    if (c->depth != 1 || c->field < 0)
        return NULL;
    return &c->f[c->field];
}

static int valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == 0)
            return 0;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = hf_utf8_seq(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static int fast_null(void *ctx)
{
    fast_ctx *c = ctx;
    fval *v = fast_slot(c);
    if (c->depth == 0)
        return 0;
    if (v)
        memset(v, 0, sizeof(*v));
    return 1;
}

static int fast_other(fast_ctx *c)
{
    fval *v = fast_slot(c);
    if (c->depth == 0)
        return 0;
    if (v) {
        memset(v, 0, sizeof(*v));
        v->kind = V_OTHER;
    }
    return 1;
}

static int fast_boolean(void *ctx, int b)
{
    (void)b;
    return fast_other(ctx);
}

static int fast_double(void *ctx, double d)
{
    (void)d;
    return fast_other(ctx);
}

static int fast_integer(void *ctx, long long i)
{
    fast_ctx *c = ctx;
    fval *v = fast_slot(c);
    if (c->depth == 0)
        return 0;
    if (v) {
        memset(v, 0, sizeof(*v));
        v->kind = V_INTEGER;
        v->i = (int64_t)i;
    }
    return 1;
}

static int fast_string(void *ctx, const unsigned char *s, size_t len)
{
    fast_ctx *c = ctx;
    if (c->depth == 0 || !valid_utf8(s, len))
        return 0;
    fval *v = fast_slot(c);
    if (v) {
        memcpy(c->w, s, len);
        c->w[len] = '\0';
        v->kind = V_STRING;
        v->s = c->w;
        v->len = len;
        v->i = 0;
        c->w += len + 1;
    }
    return 1;
}

static int fast_start_map(void *ctx)
{
    fast_ctx *c = ctx;
    if (c->depth == 0) {
        if (c->top)
            return 0; /* a second document */
        c->top = 1;
    } else if (fast_other(c) == 0)
        return 0;
    c->depth++;
    return 1;
}

static int fast_map_key(void *ctx, const unsigned char *k, size_t len)
{
    fast_ctx *c = ctx;
    if (!valid_utf8(k, len))
        return 0;
    if (c->depth == 1)
        c->field = field_index((const char *)k, len);
    return 1;
}

static int fast_end(void *ctx)
{
    fast_ctx *c = ctx;
    c->depth--;
    return 1;
}

static int fast_start_array(void *ctx)
{
    fast_ctx *c = ctx;
    if (c->depth == 0 || fast_other(c) == 0)
        return 0;
    c->depth++;
    return 1;
}

static const yajl_callbacks fast_callbacks = {
    fast_null, fast_boolean, fast_integer, fast_double, NULL, fast_string,
    fast_start_map, fast_map_key, fast_end, fast_start_array, fast_end,
};

/* Returns 0 with f filled, or FAST_FAIL (then f is to be ignored). The
 * arena must hold len + 1 bytes per string at least: 2 * len + 1 does. */
static int fast_parse(const char *buf, size_t len, char *arena, fval *f)
{
    fast_ctx c = {f, arena, 0, -1, 0};
    yajl_handle h = yajl_alloc(&fast_callbacks, NULL, &c);
    if (h == NULL)
        return FAST_FAIL;
    int ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok && c.top;
    yajl_free(h);
    return ok ? 0 : FAST_FAIL;
}

/*--- Reading: the decoder --------------------------------------------------*/

hf_json_decoder *hf_json_decoder_new(void)
{
    return calloc(1, sizeof(hf_json_decoder));
}

void hf_json_decoder_destroy(hf_json_decoder *d)
{
    if (d == NULL)
        return;
    json_decref(d->root);
    hf_buf_free(&d->arena);
    free(d);
}

/* Writes `prefix"<escaped, shortened value>"` into errstr. */
static void err_value(char *errstr, size_t errstr_size, const char *prefix,
                      const char *v, size_t len)
{
    char q[HF_QUOTE_MAX];
    hf_json_quote_short(q, sizeof(q), v, len);
    snprintf(errstr, errstr_size, "%s%s", prefix, q);
}

static int want_string(const fval *v, int field, char *errstr,
                       size_t errstr_size)
{
    if (v->kind == V_STRING)
        return 0;
    snprintf(errstr, errstr_size, "field %s: expected a string",
             field_names[field]);
    return -1;
}

static int want_integer(const fval *v, int field, char *errstr,
                        size_t errstr_size)
{
    if (v->kind == V_INTEGER)
        return 0;
    snprintf(errstr, errstr_size, "field %s: expected an integer",
             field_names[field]);
    return -1;
}

static int decode_fields(const fval *f, const hf_event_type *fixed,
                         hf_event *e, char *errstr, size_t errstr_size)
{
    static const int required[] = {F_EVENT_ID, F_TYPE, F_CUSTOMER_ID,
                                   F_EVENT_TIME, F_AMOUNT_MINOR, F_ITEMS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (required[i] == F_TYPE && fixed != NULL)
            continue;
        if (f[required[i]].kind == V_ABSENT) {
            snprintf(errstr, errstr_size, "missing field: %s",
                     field_names[required[i]]);
            return -1;
        }
    }
    if (want_string(&f[F_EVENT_ID], F_EVENT_ID, errstr, errstr_size) != 0 ||
        (fixed == NULL &&
         want_string(&f[F_TYPE], F_TYPE, errstr, errstr_size) != 0))
        return -1;
    e->event_id = f[F_EVENT_ID].s;
    e->event_id_len = f[F_EVENT_ID].len;
    if (fixed != NULL)
        e->type = *fixed;
    else if (hf_event_type_parse(f[F_TYPE].s, f[F_TYPE].len, &e->type) != 0) {
        err_value(errstr, errstr_size,
                  "field type: expected \"purchase\" or \"return\", got ",
                  f[F_TYPE].s, f[F_TYPE].len);
        return -1;
    }
    if (want_string(&f[F_CUSTOMER_ID], F_CUSTOMER_ID, errstr, errstr_size))
        return -1;
    e->customer_id = f[F_CUSTOMER_ID].s;
    e->customer_id_len = f[F_CUSTOMER_ID].len;
    if (f[F_ORDER_ID].kind != V_ABSENT) {
        if (want_string(&f[F_ORDER_ID], F_ORDER_ID, errstr, errstr_size))
            return -1;
        e->order_id = f[F_ORDER_ID].s;
        e->order_id_len = f[F_ORDER_ID].len;
    }
    const fval *t = &f[F_EVENT_TIME];
    if (t->kind == V_INTEGER) {
        e->event_time = t->i;
    } else if (t->kind == V_STRING) {
        if (hf_parse_rfc3339(t->s, t->len, &e->event_time) != 0) {
            err_value(errstr, errstr_size,
                      "field event_time: not an RFC 3339 timestamp: ", t->s,
                      t->len);
            return -1;
        }
    } else {
        snprintf(errstr, errstr_size,
                 "field event_time: expected an integer or an RFC 3339 string");
        return -1;
    }
    if (want_integer(&f[F_AMOUNT_MINOR], F_AMOUNT_MINOR, errstr, errstr_size))
        return -1;
    e->amount_minor = f[F_AMOUNT_MINOR].i;
    if (f[F_CURRENCY].kind != V_ABSENT) {
        const fval *c = &f[F_CURRENCY];
        if (want_string(c, F_CURRENCY, errstr, errstr_size) != 0)
            return -1;
        if (c->len >= sizeof(e->currency)) {
            err_value(errstr, errstr_size,
                      "field currency: longer than 3 bytes: ", c->s, c->len);
            return -1;
        }
        memcpy(e->currency, c->s, c->len);
        e->currency[c->len] = '\0';
    }
    if (want_integer(&f[F_ITEMS], F_ITEMS, errstr, errstr_size) != 0)
        return -1;
    e->items = f[F_ITEMS].i;
    return hf_event_validate(e, errstr, errstr_size);
}

/* The slow path: jansson parses; its values fill f. */
static int jansson_parse(hf_json_decoder *d, const char *buf, size_t len,
                         fval *f, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    d->root = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    if (d->root == NULL) {
        if (jerr.line > 1)
            snprintf(errstr, errstr_size,
                     "invalid JSON: %s at line %d column %d", jerr.text,
                     jerr.line, jerr.column);
        else
            snprintf(errstr, errstr_size, "invalid JSON: %s at column %d",
                     jerr.text, jerr.column);
        return -1;
    }
    if (!json_is_object(d->root)) {
        snprintf(errstr, errstr_size, "not a JSON object");
        return -1;
    }
    for (void *it = json_object_iter(d->root); it != NULL;
         it = json_object_iter_next(d->root, it)) {
        int i = field_index(json_object_iter_key(it),
                            json_object_iter_key_len(it));
        if (i < 0)
            continue;
        json_t *v = json_object_iter_value(it);
        fval *o = &f[i];
        memset(o, 0, sizeof(*o));
        if (json_is_string(v)) {
            o->kind = V_STRING;
            o->s = json_string_value(v);
            o->len = json_string_length(v);
        } else if (json_is_integer(v)) {
            o->kind = V_INTEGER;
            o->i = (int64_t)json_integer_value(v);
        } else if (!json_is_null(v)) {
            o->kind = V_OTHER;
        }
    }
    return 0;
}

int hf_json_decode_event(hf_json_decoder *d, const char *buf, size_t len,
                         hf_event *e, char *errstr, size_t errstr_size)
{
    return hf_json_decode_event_as(d, buf, len, NULL, e, errstr, errstr_size);
}

int hf_json_decode_event_as(hf_json_decoder *d, const char *buf, size_t len,
                            const hf_event_type *fixed, hf_event *e,
                            char *errstr, size_t errstr_size)
{
    fval f[F_COUNT];
    memset(e, 0, sizeof(*e));
    e->order_id = "";
    e->source.partition = -1;
    if (d->root != NULL) {
        json_decref(d->root);
        d->root = NULL;
    }
    /* Decoded strings are never longer than the input, and each needs one
     * NUL: 2 * len + 1 bytes are enough, so the arena never moves while the
     * fast path writes into it. */
    hf_buf_reset(&d->arena);
    if (len > (SIZE_MAX - 16) / 2 || hf_buf_reserve(&d->arena, 2 * len + 1)) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    memset(f, 0, sizeof(f));
    if (fast_parse(buf, len, d->arena.data, f) != 0) {
        memset(f, 0, sizeof(f));
        if (jansson_parse(d, buf, len, f, errstr, errstr_size) != 0)
            return -1;
    }
    return decode_fields(f, fixed, e, errstr, errstr_size);
}

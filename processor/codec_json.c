/*
 * codec_json.c - JSON events in (jansson), JSON signals and events out
 * (hand-written, always valid JSON whatever the bytes), RFC 3339 times.
 */
#include "codec_json.h"

#include <jansson.h>
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

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* not above U+10FFFF */
    } else
        return 0;
    if (left < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

int hf_json_append_string(hf_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 8) / 6)
        return -1;
    /* Worst case: every byte becomes a 6-character escape. */
    if (hf_buf_reserve(out, len * 6 + 2) != 0)
        return -1;
    char *w = out->data + out->len;
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    *w++ = '"';
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *w++ = (char)c;
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq(p, (size_t)(end - p));
            if (n == 0) {
                memcpy(w, "\\ufffd", 6);
                w += 6;
                p++;
            } else {
                memcpy(w, p, n);
                w += n;
                p += n;
            }
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"':  *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 0xF];
        }
        p++;
    }
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

void hf_json_quote_short(char *dst, size_t dst_size, const char *s,
                         size_t len)
{
    enum { MAX_SHOWN = 64 };
    hf_buf b = HF_BUF_INIT;
    int cut = len > MAX_SHOWN;
    if (dst_size == 0)
        return;
    if (hf_json_append_string(&b, s, cut ? MAX_SHOWN : len) != 0)
        snprintf(dst, dst_size, "(value not shown)");
    else if (cut)
        snprintf(dst, dst_size, "%.*s...\"", (int)(b.len - 1), b.data);
    else
        snprintf(dst, dst_size, "%s", b.data);
    hf_buf_free(&b);
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
 * jansson builds a tree with a hash table per object and costs ~5 us for a
 * typical event line; that alone would miss the throughput target. The fast
 * path parses the common shape - one flat object of strings, numbers,
 * booleans and nulls - in one pass, with exactly jansson's acceptance rules
 * for that subset. Whenever it meets anything else (nesting, exponents,
 * unusual escapes, any syntax error) it gives up and the input is decoded
 * with jansson, so results and error texts are jansson's in every case.
 */

#define FAST_FAIL 1

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        r = (r << 4) | (unsigned)h;
    }
    *v = r;
    return 0;
}

/*
 * Parses the string starting after its opening quote at *pp; the decoded
 * bytes go to *w (when w is not NULL) followed by a NUL. Returns 0 and moves
 * *pp past the closing quote, or FAST_FAIL.
 */
static int fast_string(const char **pp, const char *end, char **w, size_t *len)
{
    const char *p = *pp;
    char *o = w ? *w : NULL;
    char *start = o;
    for (;;) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && *p != '"' &&
               *p != '\\' && (unsigned char)*p < 0x80)
            p++;
        if (o) {
            memcpy(o, run, (size_t)(p - run));
            o += p - run;
        }
        if (p >= end)
            return FAST_FAIL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20)
            return FAST_FAIL;
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)p, (size_t)(end - p));
            if (n == 0)
                return FAST_FAIL;
            if (o) {
                memcpy(o, p, n);
                o += n;
            }
            p += n;
            continue;
        }
        /* a backslash escape */
        if (end - p < 2)
            return FAST_FAIL;
        char e = p[1];
        char out;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            unsigned u;
            if (end - p < 6 || hex4(p + 2, &u) != 0)
                return FAST_FAIL;
            /* NUL and surrogates: leave them to jansson's rules */
            if (u == 0 || (u >= 0xD800 && u <= 0xDFFF))
                return FAST_FAIL;
            if (o) {
                if (u < 0x80) {
                    *o++ = (char)u;
                } else if (u < 0x800) {
                    *o++ = (char)(0xC0 | (u >> 6));
                    *o++ = (char)(0x80 | (u & 0x3F));
                } else {
                    *o++ = (char)(0xE0 | (u >> 12));
                    *o++ = (char)(0x80 | ((u >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (u & 0x3F));
                }
            }
            p += 6;
            continue;
        }
        default:
            return FAST_FAIL;
        }
        if (o)
            *o++ = out;
        p += 2;
    }
    if (o) {
        *len = (size_t)(o - start);
        *o++ = '\0';
        *w = o;
    }
    *pp = p;
    return 0;
}

/*
 * Parses a number at *pp. An integer sets *kind = V_INTEGER and *v; a
 * fraction without exponent is V_OTHER; exponents (which may overflow in
 * jansson's eyes) and integers out of range are left to jansson.
 */
static int fast_number(const char **pp, const char *end, int *kind, int64_t *v)
{
    const char *p = *pp;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return FAST_FAIL;
    uint64_t u = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned dgt = (unsigned)(*p - '0');
            if (u > (limit - dgt) / 10)
                return FAST_FAIL; /* jansson: "too big integer" */
            u = u * 10 + dgt;
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        return FAST_FAIL;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return FAST_FAIL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p < end && (*p == 'e' || *p == 'E'))
            return FAST_FAIL;
        *kind = V_OTHER;
    } else {
        *kind = V_INTEGER;
        *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    }
    /* a number must end at a delimiter (jansson reads "12a" as an error) */
    if (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\n' &&
        *p != '\r' && *p != '\t')
        return FAST_FAIL;
    *pp = p;
    return 0;
}

static int fast_literal(const char **pp, const char *end, const char *lit,
                        size_t n)
{
    if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
        return FAST_FAIL;
    *pp += n;
    return 0;
}

static int fast_parse(const char *buf, size_t len, char *arena, fval *f)
{
    const char *p = skip_ws(buf, buf + len);
    const char *end = buf + len;
    char *w = arena;
    if (p >= end || *p != '{')
        return FAST_FAIL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto done;
    }
    for (;;) {
        if (p >= end || *p != '"')
            return FAST_FAIL;
        p++;
        /* keys that are plain ASCII are matched in place */
        const char *k = p;
        while (p < end && *p != '"' && *p != '\\' &&
               (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80)
            p++;
        int idx;
        if (p < end && *p == '"') {
            idx = field_index(k, (size_t)(p - k));
            p++;
        } else {
            p = k;
            if (fast_string(&p, end, NULL, NULL) != 0)
                return FAST_FAIL;
            idx = -1; /* escaped or non-ASCII: not one of ours */
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return FAST_FAIL;
        p = skip_ws(p + 1, end);
        if (p >= end)
            return FAST_FAIL;
        fval v = {V_ABSENT, NULL, 0, 0};
        switch (*p) {
        case '"':
            p++;
            if (idx < 0) {
                if (fast_string(&p, end, NULL, NULL) != 0)
                    return FAST_FAIL;
            } else {
                v.s = w;
                if (fast_string(&p, end, &w, &v.len) != 0)
                    return FAST_FAIL;
                v.kind = V_STRING;
            }
            break;
        case 't':
            if (fast_literal(&p, end, "true", 4) != 0)
                return FAST_FAIL;
            v.kind = V_OTHER;
            break;
        case 'f':
            if (fast_literal(&p, end, "false", 5) != 0)
                return FAST_FAIL;
            v.kind = V_OTHER;
            break;
        case 'n':
            if (fast_literal(&p, end, "null", 4) != 0)
                return FAST_FAIL;
            break;
        default:
            if (fast_number(&p, end, &v.kind, &v.i) != 0)
                return FAST_FAIL;
        }
        if (idx >= 0)
            f[idx] = v; /* the last duplicate wins, as in jansson */
        p = skip_ws(p, end);
        if (p >= end)
            return FAST_FAIL;
        if (*p == '}') {
            p++;
            break;
        }
        if (*p != ',')
            return FAST_FAIL;
        p = skip_ws(p + 1, end);
    }
done:
    p = skip_ws(p, end);
    return p == end ? 0 : FAST_FAIL;
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

static int decode_fields(const fval *f, hf_event *e,
                         char *errstr, size_t errstr_size)
{
    static const int required[] = {F_EVENT_ID, F_TYPE, F_CUSTOMER_ID,
                                   F_EVENT_TIME, F_AMOUNT_MINOR, F_ITEMS};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (f[required[i]].kind == V_ABSENT) {
            snprintf(errstr, errstr_size, "missing field: %s",
                     field_names[required[i]]);
            return -1;
        }
    }
    if (want_string(&f[F_EVENT_ID], F_EVENT_ID, errstr, errstr_size) != 0 ||
        want_string(&f[F_TYPE], F_TYPE, errstr, errstr_size) != 0)
        return -1;
    e->event_id = f[F_EVENT_ID].s;
    e->event_id_len = f[F_EVENT_ID].len;
    if (hf_event_type_parse(f[F_TYPE].s, f[F_TYPE].len, &e->type) != 0) {
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
    return decode_fields(f, e, errstr, errstr_size);
}

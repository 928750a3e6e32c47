/*
 * codec_avro.c - Avro events in (mapped by field name from the writer's
 * schema), Avro signals and events out as raw datums; the compiled-in
 * schemas. Container files are in avro_file.c.
 *
 * Datums are encoded here by hand: the binary encoding of our two records
 * is a few varints and strings, and writing it directly avoids filling an
 * avro-c generic value field by field. Decoding reads the event's fields
 * straight from the datum's bytes in one pass, by a plan made once per
 * writer schema (fast_decode); a datum it does not know is walked against
 * the writer's schema (check_datum) and decoded by avro-c generic values.
 */
#include "codec/codec_avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/avro_int.h"
#include "codec/codec_json.h"


/*--- Schemas ---------------------------------------------------------------*/

const char hf_avro_customer_event_schema_json[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"CustomerEvent\",\n"
    "  \"namespace\": \"io.hirefire\",\n"
    "  \"doc\": \"A purchase or return of one customer (SEMANTICS.md, Events).\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"event_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"type\", \"type\": {\"type\": \"enum\", \"name\": \"EventType\", \"symbols\": [\"purchase\", \"return\"]}},\n"
    "    {\"name\": \"customer_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"order_id\", \"type\": \"string\", \"default\": \"\"},\n"
    "    {\"name\": \"event_time\", \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}},\n"
    "    {\"name\": \"amount_minor\", \"type\": \"long\"},\n"
    "    {\"name\": \"currency\", \"type\": \"string\", \"default\": \"\"},\n"
    "    {\"name\": \"items\", \"type\": \"long\"}\n"
    "  ]\n"
    "}\n";

const char hf_avro_switch_signal_schema_json[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"SwitchSignal\",\n"
    "  \"namespace\": \"io.hirefire\",\n"
    "  \"doc\": \"A hire or fire switch of one customer for one behaviour (SEMANTICS.md, Signals).\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"signal_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"behaviour\", \"type\": \"string\"},\n"
    "    {\"name\": \"customer_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"SignalKind\", \"symbols\": [\"hire\", \"fire\"]}},\n"
    "    {\"name\": \"cause\", \"type\": {\"type\": \"enum\", \"name\": \"SignalCause\", \"symbols\": [\"purchase\", \"return\", \"expiry\"]}},\n"
    "    {\"name\": \"effective_time\", \"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}},\n"
    "    {\"name\": \"metrics\", \"type\": {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Metrics\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"orders\", \"type\": \"long\"},\n"
    "        {\"name\": \"items\", \"type\": \"long\"},\n"
    "        {\"name\": \"gross_minor\", \"type\": \"long\"},\n"
    "        {\"name\": \"returned_minor\", \"type\": \"long\"},\n"
    "        {\"name\": \"net_minor\", \"type\": \"long\"},\n"
    "        {\"name\": \"returns\", \"type\": \"long\"}\n"
    "      ]\n"
    "    }},\n"
    "    {\"name\": \"failing\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},\n"
    "    {\"name\": \"trigger\", \"type\": [\"null\", {\n"
    "      \"type\": \"record\",\n"
    "      \"name\": \"Trigger\",\n"
    "      \"fields\": [\n"
    "        {\"name\": \"event_id\", \"type\": \"string\"},\n"
    "        {\"name\": \"topic\", \"type\": [\"null\", \"string\"], \"default\": null},\n"
    "        {\"name\": \"partition\", \"type\": [\"null\", \"int\"], \"default\": null},\n"
    "        {\"name\": \"offset\", \"type\": [\"null\", \"long\"], \"default\": null}\n"
    "      ]\n"
    "    }], \"default\": null}\n"
    "  ]\n"
    "}\n";

int hf_avro_schema_parse(const char *json, size_t len, avro_schema_t *schema,
                         char *errstr, size_t errstr_size)
{
    if (avro_schema_from_json_length(json, len, schema) != 0) {
        snprintf(errstr, errstr_size, "invalid Avro schema: %s",
                 avro_strerror());
        return -1;
    }
    return 0;
}

int hf_avro_is_container(const void *buf, size_t len)
{
    return len >= 4 && memcmp(buf, "Obj\x01", 4) == 0;
}

/*--- Event fields ----------------------------------------------------------*/

enum {
    F_EVENT_ID, F_TYPE, F_CUSTOMER_ID, F_ORDER_ID, F_EVENT_TIME,
    F_AMOUNT_MINOR, F_CURRENCY, F_ITEMS, F_COUNT
};

#define T(t) (1u << (t))

static const struct field_rule {
    const char *name;
    int required;
    unsigned types;       /* avro_type_t bits a (non-null) value may have */
    const char *expected; /* the same, in words */
} rules[F_COUNT] = {
    {"event_id", 1, T(AVRO_STRING), "string"},
    {"type", 1, T(AVRO_ENUM) | T(AVRO_STRING), "enum or string"},
    {"customer_id", 1, T(AVRO_STRING), "string"},
    {"order_id", 0, T(AVRO_STRING), "string"},
    {"event_time", 1, T(AVRO_INT64) | T(AVRO_INT32) | T(AVRO_STRING),
     "long, int or string"},
    {"amount_minor", 1, T(AVRO_INT64) | T(AVRO_INT32), "long or int"},
    {"currency", 0, T(AVRO_STRING), "string"},
    {"items", 1, T(AVRO_INT64) | T(AVRO_INT32), "long or int"},
};

/*
 * How fast_decode reads one field of the writer's record, worked out once
 * per writer schema: avro-c's schema accessors (field by index, union
 * branch, enum symbol) are hash table lookups, too slow for every datum.
 */
typedef struct value_plan {
    avro_type_t type;    /* links resolved */
    avro_schema_t s;
    int nsymbols;        /* AVRO_ENUM: its symbols, or 0 (ask avro-c) */
    const char **symbol;
    size_t *symbol_len;
} value_plan;

typedef struct field_plan {
    int f;               /* F_* the field maps to, or -1 (skipped) */
    avro_schema_t s;     /* the field's schema as written */
    int is_union;        /* a union: v holds its branches */
    int nv;
    value_plan *v;       /* the value, or each branch of the union */
} field_plan;

struct hf_avro_event_reader {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;  /* the last datum; events point into it */
    avro_reader_t mem;
    int index[F_COUNT];  /* field index in the writer's record, or -1 */
    field_plan *plan;    /* [writer field], for fast_decode */
    size_t nfields;
};

static const char *type_name(avro_schema_t s)
{
    switch (avro_typeof(s)) {
    case AVRO_STRING: return "string";
    case AVRO_BYTES: return "bytes";
    case AVRO_INT32: return "int";
    case AVRO_INT64: return "long";
    case AVRO_FLOAT: return "float";
    case AVRO_DOUBLE: return "double";
    case AVRO_BOOLEAN: return "boolean";
    case AVRO_NULL: return "null";
    case AVRO_RECORD: return "record";
    case AVRO_ENUM: return "enum";
    case AVRO_FIXED: return "fixed";
    case AVRO_MAP: return "map";
    case AVRO_ARRAY: return "array";
    case AVRO_UNION: return "union";
    case AVRO_LINK: return "link";
    }
    return "unknown";
}

static avro_schema_t unlink_schema(avro_schema_t s)
{
    while (s != NULL && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* Checks that a field's writer type (or each non-null branch) is usable. */
static int check_field_type(avro_schema_t ft, const struct field_rule *rule,
                            char *errstr, size_t errstr_size)
{
    ft = unlink_schema(ft);
    size_t n = is_avro_union(ft) ? avro_schema_union_size(ft) : 1;
    int usable = 0;
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = is_avro_union(ft)
                              ? unlink_schema(avro_schema_union_branch(ft, (int)i))
                              : ft;
        if (is_avro_null(b))
            continue;
        if (!(rule->types & T(avro_typeof(b)))) {
            snprintf(errstr, errstr_size,
                     "writer schema field \"%s\" has type %s, expected %s",
                     rule->name, type_name(b), rule->expected);
            return -1;
        }
        usable = 1;
    }
    if (!usable) {
        snprintf(errstr, errstr_size,
                 "writer schema field \"%s\" has type null, expected %s",
                 rule->name, rule->expected);
        return -1;
    }
    return 0;
}

static int value_plan_init(value_plan *v, avro_schema_t s)
{
    v->s = unlink_schema(s);
    v->type = avro_typeof(v->s);
    if (v->type != AVRO_ENUM)
        return 0;
    int n = avro_schema_enum_number_of_symbols(v->s);
    if (n <= 0)
        return 0;
    v->symbol = calloc((size_t)n, sizeof(*v->symbol));
    v->symbol_len = calloc((size_t)n, sizeof(*v->symbol_len));
    if (v->symbol == NULL || v->symbol_len == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        v->symbol[i] = avro_schema_enum_get(v->s, i);
        if (v->symbol[i] == NULL)
            return 0; /* nsymbols stays 0: avro-c decodes it */
        v->symbol_len[i] = strlen(v->symbol[i]);
    }
    v->nsymbols = n;
    return 0;
}

/* r->plan for r->nfields fields of writer (r->index set); 0 or -1 (OOM). */
static int plan_init(hf_avro_event_reader *r, avro_schema_t writer)
{
    r->plan = calloc(r->nfields > 0 ? r->nfields : 1, sizeof(*r->plan));
    if (r->plan == NULL)
        return -1;
    for (size_t i = 0; i < r->nfields; i++) {
        field_plan *fp = &r->plan[i];
        fp->f = -1;
        fp->s = avro_schema_record_field_get_by_index(writer, (int)i);
        avro_schema_t t = unlink_schema(fp->s);
        fp->nv = is_avro_union(t) ? (int)avro_schema_union_size(t) : 1;
        fp->is_union = is_avro_union(t);
        fp->v = calloc(fp->nv > 0 ? (size_t)fp->nv : 1, sizeof(*fp->v));
        if (fp->v == NULL)
            return -1;
        for (int b = 0; b < fp->nv; b++)
            if (value_plan_init(&fp->v[b], fp->is_union ? avro_schema_union_branch(t, b) : t) != 0)
                return -1;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (r->index[f] >= 0)
            r->plan[r->index[f]].f = f;
    return 0;
}

static void plan_free(hf_avro_event_reader *r)
{
    for (size_t i = 0; r->plan != NULL && i < r->nfields; i++) {
        for (int b = 0; r->plan[i].v != NULL && b < r->plan[i].nv; b++) {
            free(r->plan[i].v[b].symbol);
            free(r->plan[i].v[b].symbol_len);
        }
        free(r->plan[i].v);
    }
    free(r->plan);
    r->plan = NULL;
}

hf_avro_event_reader *hf_avro_event_reader_new(avro_schema_t writer,
                                               char *errstr,
                                               size_t errstr_size)
{
    writer = unlink_schema(writer);
    if (writer == NULL || !is_avro_record(writer)) {
        snprintf(errstr, errstr_size, "writer schema is not a record");
        return NULL;
    }
    hf_avro_event_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    for (int f = 0; f < F_COUNT; f++) {
        r->index[f] = avro_schema_record_field_get_index(writer, rules[f].name);
        if (r->index[f] < 0) {
            /* type may be fixed by the topic instead (hf_avro_event_decode_as) */
            if (!rules[f].required || f == F_TYPE)
                continue;
            snprintf(errstr, errstr_size, "writer schema has no field \"%s\"",
                     rules[f].name);
            free(r);
            return NULL;
        }
        avro_schema_t ft = avro_schema_record_field_get_by_index(writer,
                                                                 r->index[f]);
        if (check_field_type(ft, &rules[f], errstr, errstr_size) != 0) {
            free(r);
            return NULL;
        }
    }
    r->nfields = avro_schema_record_size(writer);
    if (plan_init(r, writer) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        plan_free(r);
        free(r);
        return NULL;
    }
    r->schema = avro_schema_incref(writer);
    r->iface = avro_generic_class_from_schema(writer);
    if (r->iface == NULL ||
        avro_generic_value_new(r->iface, &r->value) != 0) {
        snprintf(errstr, errstr_size,
                 "cannot build a decoder for the writer schema: %s",
                 avro_strerror());
        if (r->iface)
            avro_value_iface_decref(r->iface);
        avro_schema_decref(r->schema);
        plan_free(r);
        free(r);
        return NULL;
    }
    r->mem = avro_reader_memory(NULL, 0);
    if (r->mem == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        hf_avro_event_reader_destroy(r);
        return NULL;
    }
    return r;
}

void hf_avro_event_reader_destroy(hf_avro_event_reader *r)
{
    if (r == NULL)
        return;
    if (r->mem)
        avro_reader_free(r->mem);
    avro_value_decref(&r->value);
    avro_value_iface_decref(r->iface);
    avro_schema_decref(r->schema);
    plan_free(r);
    free(r);
}

/* The value of field f, through a union; 0 when present, 1 when absent. */
static int field_value(hf_avro_event_reader *r, avro_value_t *rec, int f,
                       avro_value_t *out)
{
    if (r->index[f] < 0 ||
        avro_value_get_by_index(rec, (size_t)r->index[f], out, NULL) != 0)
        return 1;
    if (avro_value_get_type(out) == AVRO_UNION) {
        avro_value_t branch;
        if (avro_value_get_current_branch(out, &branch) != 0)
            return 1;
        *out = branch;
    }
    return avro_value_get_type(out) == AVRO_NULL;
}

/* A string value's bytes (avro-c's sizes count the NUL terminator). */
static void get_string(avro_value_t *v, const char **s, size_t *len)
{
    const char *p = NULL;
    size_t size = 0;
    if (avro_value_get_string(v, &p, &size) != 0 || p == NULL) {
        *s = "";
        *len = 0;
        return;
    }
    *s = p;
    *len = size > 0 ? size - 1 : 0;
}

static int64_t get_integer(avro_value_t *v)
{
    if (avro_value_get_type(v) == AVRO_INT32) {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        return i;
    }
    int64_t l = 0;
    avro_value_get_long(v, &l);
    return l;
}

static void err_value(char *errstr, size_t errstr_size, const char *prefix,
                      const char *v, size_t len)
{
    char q[HF_QUOTE_MAX];
    hf_json_quote_short(q, sizeof(q), v, len);
    snprintf(errstr, errstr_size, "%s%s", prefix, q);
}

void hf_avro_event_clear(hf_event *e)
{
    memset(e, 0, sizeof(*e));
    e->order_id = "";
    e->source.partition = -1;
}

/* One event field of a datum, however it was decoded. */
typedef struct fval {
    int absent;        /* null, or not in the writer's schema */
    avro_type_t type;  /* of the (non-null) value */
    const char *s;     /* AVRO_STRING: the bytes; AVRO_ENUM: the symbol */
    size_t n;
    int64_t i;         /* AVRO_INT32, AVRO_INT64 */
} fval;

static void fval_string(const fval *v, const char **s, size_t *n)
{
    *s = v->type == AVRO_STRING ? v->s : "";
    *n = v->type == AVRO_STRING ? v->n : 0;
}

static int64_t fval_integer(const fval *v)
{
    return v->type == AVRO_INT32 || v->type == AVRO_INT64 ? v->i : 0;
}

/* Makes e of the fields of a record and validates it. */
static int build_event(const fval *v, const hf_event_type *fixed, hf_event *e,
                       char *errstr, size_t errstr_size)
{
    hf_avro_event_clear(e);
    for (int f = 0; f < F_COUNT; f++)
        if (v[f].absent && rules[f].required && !(f == F_TYPE && fixed != NULL)) {
            snprintf(errstr, errstr_size, "missing field: %s", rules[f].name);
            return -1;
        }
    fval_string(&v[F_EVENT_ID], &e->event_id, &e->event_id_len);

    const char *s;
    size_t n;
    if (fixed != NULL) {
        e->type = *fixed;
    } else {
        if (v[F_TYPE].type == AVRO_ENUM) {
            s = v[F_TYPE].s;
            n = v[F_TYPE].n;
        } else {
            fval_string(&v[F_TYPE], &s, &n);
        }
        if (hf_event_type_parse(s, n, &e->type) != 0) {
            err_value(errstr, errstr_size,
                      "field type: expected \"purchase\" or \"return\", got ", s, n);
            return -1;
        }
    }

    fval_string(&v[F_CUSTOMER_ID], &e->customer_id, &e->customer_id_len);
    if (!v[F_ORDER_ID].absent)
        fval_string(&v[F_ORDER_ID], &e->order_id, &e->order_id_len);

    if (v[F_EVENT_TIME].type == AVRO_STRING) {
        fval_string(&v[F_EVENT_TIME], &s, &n);
        if (hf_parse_rfc3339(s, n, &e->event_time) != 0) {
            err_value(errstr, errstr_size,
                      "field event_time: not an RFC 3339 timestamp: ", s, n);
            return -1;
        }
    } else {
        e->event_time = fval_integer(&v[F_EVENT_TIME]);
    }
    e->amount_minor = fval_integer(&v[F_AMOUNT_MINOR]);
    if (!v[F_CURRENCY].absent) {
        fval_string(&v[F_CURRENCY], &s, &n);
        if (n >= sizeof(e->currency)) {
            err_value(errstr, errstr_size,
                      "field currency: longer than 3 bytes: ", s, n);
            return -1;
        }
        memcpy(e->currency, s, n);
        e->currency[n] = '\0';
    }
    e->items = fval_integer(&v[F_ITEMS]);
    return hf_event_validate(e, errstr, errstr_size);
}

int hf_avro_map_record(hf_avro_event_reader *r, avro_value_t *rec,
                       const hf_event_type *fixed, hf_event *e, char *errstr,
                       size_t errstr_size)
{
    fval v[F_COUNT];
    for (int f = 0; f < F_COUNT; f++) {
        avro_value_t x;
        memset(&v[f], 0, sizeof(v[f]));
        v[f].absent = field_value(r, rec, f, &x);
        v[f].type = v[f].absent ? AVRO_NULL : avro_value_get_type(&x);
        if (v[f].absent)
            continue;
        if (v[f].type == AVRO_ENUM) {
            int sym = 0;
            avro_value_get_enum(&x, &sym);
            avro_schema_t es = avro_value_get_schema(&x);
            /* avro-c reads any index; its symbol lookup does not check it */
            v[f].s = sym >= 0 && sym < avro_schema_enum_number_of_symbols(es)
                         ? avro_schema_enum_get(es, sym) : NULL;
            if (v[f].s == NULL)
                v[f].s = "";
            v[f].n = strlen(v[f].s);
        } else if (v[f].type == AVRO_STRING) {
            get_string(&x, &v[f].s, &v[f].n);
        } else {
            v[f].i = get_integer(&x);
        }
    }
    return build_event(v, fixed, e, errstr, errstr_size);
}

/*--- Checking a datum before avro-c reads it -------------------------------*/

/*
 * avro-c 1.11.1 allocates a string or bytes value at its declared length
 * before it reads it, and leaks it when the data ends first: a 28-byte
 * message declaring a 2 GB string costs 2 GB (and keeps it). So a datum from
 * outside is first walked against the writer schema here, checking that
 * every length fits in the bytes that remain. Only the structure is
 * checked; avro-c still decodes the values.
 */

static int skip_long(hf_avro_cursor *c, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->left == 0)
            return -1;
        uint8_t b = *c->p++;
        c->left--;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (out)
                *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return -1;
}

static int skip_bytes(hf_avro_cursor *c, uint64_t n)
{
    if (n > c->left)
        return -1;
    c->p += n;
    c->left -= n;
    return 0;
}

static int check_datum(avro_schema_t s, hf_avro_cursor *c, int depth)
{
    int64_t n;
    if (depth > 32)
        return -1;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        return skip_bytes(c, 1);
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_ENUM:
        return skip_long(c, NULL);
    case AVRO_FLOAT:
        return skip_bytes(c, 4);
    case AVRO_DOUBLE:
        return skip_bytes(c, 8);
    case AVRO_STRING:
    case AVRO_BYTES:
        if (skip_long(c, &n) != 0 || n < 0)
            return -1;
        return skip_bytes(c, (uint64_t)n);
    case AVRO_FIXED:
        return skip_bytes(c, (uint64_t)avro_schema_fixed_size(s));
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if (check_datum(avro_schema_record_field_get_by_index(s, (int)i), c,
                            depth + 1) != 0)
                return -1;
        return 0;
    case AVRO_UNION:
        if (skip_long(c, &n) != 0 || n < 0 || (size_t)n >= avro_schema_union_size(s))
            return -1;
        return check_datum(avro_schema_union_branch(s, (int)n), c, depth + 1);
    case AVRO_ARRAY:
    case AVRO_MAP:
        for (;;) {
            if (skip_long(c, &n) != 0)
                return -1;
            if (n == 0)
                return 0;
            if (n < 0) {
                int64_t size;
                if (n == INT64_MIN || skip_long(c, &size) != 0 || size < 0)
                    return -1;
                n = -n;
            }
            if ((uint64_t)n > c->left) /* every item takes a byte at least */
                return -1;
            for (int64_t i = 0; i < n; i++) {
                if (avro_typeof(s) == AVRO_MAP) {
                    int64_t kl;
                    if (skip_long(c, &kl) != 0 || kl < 0 || skip_bytes(c, (uint64_t)kl) != 0)
                        return -1;
                    if (check_datum(avro_schema_map_values(s), c, depth + 1) != 0)
                        return -1;
                } else if (check_datum(avro_schema_array_items(s), c, depth + 1) != 0) {
                    return -1;
                }
            }
        }
    case AVRO_LINK:
        return check_datum(avro_schema_link_target(s), c, depth + 1);
    default:
        return -1;
    }
}

/*--- Decoding without avro-c ---------------------------------------------*/

/*
 * avro-c's generic values allocate every string they read and free it on
 * the next read: most of the cost of a small record. A datum is decoded
 * here instead, straight from its bytes, checking every length on the way,
 * with the same field mapping (build_event); strings point into the datum.
 * Anything unusual (an enum index or int out of range, a type the event
 * fields never have) is left to avro-c, so that both give the same answer.
 */

/* One field value into v; 0, or -1: not for this decoder. */
static int fast_value(const field_plan *fp, hf_avro_cursor *c, fval *v)
{
    int64_t x;
    const value_plan *vp = &fp->v[0];
    if (fp->is_union) {
        if (skip_long(c, &x) != 0 || x < 0 || x >= fp->nv)
            return -1;
        vp = &fp->v[x];
    }
    v->type = vp->type;
    switch (v->type) {
    case AVRO_NULL:
        v->absent = 1;
        return 0;
    case AVRO_STRING:
        if (skip_long(c, &x) != 0 || x < 0 || (uint64_t)x > c->left)
            return -1;
        v->s = (const char *)c->p;
        v->n = (size_t)x;
        c->p += x;
        c->left -= (size_t)x;
        return 0;
    case AVRO_INT32:
    case AVRO_INT64:
        if (skip_long(c, &x) != 0 || (v->type == AVRO_INT32 && (x < INT32_MIN || x > INT32_MAX)))
            return -1;
        v->i = x;
        return 0;
    case AVRO_ENUM:
        if (skip_long(c, &x) != 0 || x < 0 || x >= vp->nsymbols)
            return -1;
        v->s = vp->symbol[x];
        v->n = vp->symbol_len[x];
        return 0;
    default:
        return -1;
    }
}

/*
 * Decodes the datum at c into e; returns 1 with *rc the outcome, the cursor
 * past the datum, or 0 when avro-c must decode it (or it is corrupt: every
 * length is checked on the way, so a datum decoded here would have passed
 * check_datum).
 */
static int fast_decode(hf_avro_event_reader *r, hf_avro_cursor *c, const hf_event_type *fixed,
                       hf_event *e, int *rc, char *errstr, size_t errstr_size)
{
    fval v[F_COUNT];
    for (int f = 0; f < F_COUNT; f++)
        v[f] = (fval){.absent = 1, .type = AVRO_NULL};
    for (size_t i = 0; i < r->nfields; i++) {
        const field_plan *fp = &r->plan[i];
        if (fp->f < 0) {
            if (check_datum(fp->s, c, 1) != 0)
                return 0;
        } else {
            v[fp->f].absent = 0;
            if (fast_value(fp, c, &v[fp->f]) != 0)
                return 0;
        }
    }
    *rc = build_event(v, fixed, e, errstr, errstr_size);
    return 1;
}

int hf_avro_event_decode(hf_avro_event_reader *r, const void *buf,
                         size_t len, hf_event *e, char *errstr,
                         size_t errstr_size)
{
    return hf_avro_event_decode_as(r, buf, len, NULL, e, errstr, errstr_size);
}

int hf_avro_event_decode_as(hf_avro_event_reader *r, const void *buf,
                            size_t len, const hf_event_type *fixed, hf_event *e,
                            char *errstr, size_t errstr_size)
{
    /* Bytes after the datum are ignored, as Confluent's deserializers do:
     * avro-c has no public read position, and finding the datum's size
     * (avro_value_sizeof) would walk every datum a second time. */
    int rc;
    hf_avro_cursor cur = {buf, len};
    if (fast_decode(r, &cur, fixed, e, &rc, errstr, errstr_size))
        return rc;
    hf_avro_cursor again = {buf, len};
    if (check_datum(r->schema, &again, 0) != 0) {
        hf_avro_event_clear(e);
        snprintf(errstr, errstr_size,
                 "invalid Avro datum: it ends before the lengths it declares (%zu bytes)", len);
        return -1;
    }
    avro_reader_memory_set_source(r->mem, buf, (int64_t)len);
    avro_set_error("no details"); /* avro-c appends to its last error */
    if (avro_value_read(r->mem, &r->value) != 0) {
        /* A partly read datum holds what it read so far: free it. */
        avro_value_reset(&r->value);
        hf_avro_event_clear(e);
        snprintf(errstr, errstr_size, "invalid Avro datum: %s",
                 avro_strerror());
        return -1;
    }
    return hf_avro_map_record(r, &r->value, fixed, e, errstr, errstr_size);
}

/*--- For avro_file.c -------------------------------------------------------*/

int hf_avro_check_record(const hf_avro_event_reader *r, hf_avro_cursor *c)
{
    return check_datum(r->schema, c, 0);
}

int hf_avro_fast_decode(hf_avro_event_reader *r, hf_avro_cursor *c, hf_event *e,
                        int *rc, char *errstr, size_t errstr_size)
{
    return fast_decode(r, c, NULL, e, rc, errstr, errstr_size);
}

avro_value_t *hf_avro_event_reader_value(hf_avro_event_reader *r)
{
    return &r->value;
}

/*--- Raw datums ------------------------------------------------------------*/

static int encode_signal(const hf_signal *s, hf_buf *b)
{
    const char *behaviour = s->behaviour_name ? s->behaviour_name : "";
    int nfail = 0;
    for (unsigned i = 0; i < HF_FAIL_COUNT; i++)
        nfail += (s->failing >> i) & 1u;
    if (put_string(b, s->signal_id, strlen(s->signal_id)) ||
        put_string(b, behaviour, strlen(behaviour)) ||
        put_string(b, s->customer_id, s->customer_id_len) ||
        put_long(b, s->kind == HF_KIND_FIRE ? 1 : 0) ||
        put_long(b, (int64_t)s->cause) ||
        put_long(b, s->effective_time) ||
        put_long(b, s->metrics.orders) || put_long(b, s->metrics.items) ||
        put_long(b, s->metrics.gross_minor) ||
        put_long(b, s->metrics.returned_minor) ||
        put_long(b, s->metrics.net_minor) ||
        put_long(b, s->metrics.returns))
        return -1;
    if (nfail > 0) {
        if (put_long(b, nfail) != 0)
            return -1;
        for (unsigned i = 0; i < HF_FAIL_COUNT; i++) {
            const char *name = hf_fail_name(1u << i);
            if (((s->failing >> i) & 1u) &&
                put_string(b, name, strlen(name)) != 0)
                return -1;
        }
    }
    if (put_long(b, 0) != 0) /* end of the failing array */
        return -1;
    if (s->trigger_event_id == NULL)
        return put_long(b, 0); /* trigger: null */
    if (put_long(b, 1) != 0 ||
        put_string(b, s->trigger_event_id, s->trigger_event_id_len) != 0)
        return -1;
    const char *topic = s->trigger_source.topic;
    if (topic == NULL) /* from a file: topic, partition, offset null */
        return put_long(b, 0) || put_long(b, 0) || put_long(b, 0) ? -1 : 0;
    return put_long(b, 1) || put_string(b, topic, strlen(topic)) ||
                   put_long(b, 1) || put_long(b, s->trigger_source.partition) ||
                   put_long(b, 1) || put_long(b, s->trigger_source.offset)
               ? -1
               : 0;
}

static void restore(hf_buf *b, size_t mark)
{
    b->len = mark;
    if (b->data)
        b->data[mark] = '\0';
}

int hf_avro_encode_signal(const hf_signal *s, hf_buf *out)
{
    size_t mark = out->len;
    if (encode_signal(s, out) == 0)
        return 0;
    restore(out, mark);
    return -1;
}

int hf_avro_encode_event(const hf_event *e, hf_buf *out)
{
    size_t mark = out->len;
    if (put_string(out, e->event_id, e->event_id_len) ||
        put_long(out, e->type == HF_EVENT_RETURN ? 1 : 0) ||
        put_string(out, e->customer_id, e->customer_id_len) ||
        put_string(out, e->order_id, e->order_id_len) ||
        put_long(out, e->event_time) || put_long(out, e->amount_minor) ||
        put_string(out, e->currency,
                   strnlen(e->currency, sizeof(e->currency))) ||
        put_long(out, e->items)) {
        restore(out, mark);
        return -1;
    }
    return 0;
}

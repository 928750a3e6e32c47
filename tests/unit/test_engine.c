/*
 * test_engine.c - unit tests of the behaviour semantics (SEMANTICS.md,
 * "Processing one event" steps 1 to 6) through the stream API.
 *
 * Every test builds behaviours and events directly, runs them through an
 * hf_stream, collects the emitted signals (copying their strings) and
 * asserts the exact sequence: behaviour, customer, kind, cause,
 * effective_time, every metric, failing bits, trigger; and the counters.
 *
 * Days are counted from D0 (2024-10-04); an event of day d at offset o ms
 * has event_time = d * 86400000 + o.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/behaviour.h"
#include "core/engine.h"
#include "core/event.h"
#include "core/state.h"
#include "core/store_memory.h"
#include "core/stream.h"
#include "core/switch_signal.h"

#define D0 20000
#define T(day, off) ((int64_t)(day) * HF_MS_PER_DAY + (int64_t)(off))

/* Metrics in hf_window_metrics field order; net_minor = gross - returned. */
#define MET(orders, items, gross, returned, returns) \
    {(orders), (items), (gross), (returned), (gross) - (returned), (returns)}
#define NOMET MET(0, 0, 0, 0, 0)

#define HIRE HF_KIND_HIRE
#define FIRE HF_KIND_FIRE
#define PURCHASE HF_CAUSE_PURCHASE
#define RETURN HF_CAUSE_RETURN
#define EXPIRY HF_CAUSE_EXPIRY

/*--- Collecting signals ------------------------------------------------*/

typedef struct got {
    char id[33];
    size_t id_len;
    uint32_t beh;
    char beh_name[HF_BEHAVIOUR_NAME_MAX];
    char cust[64];
    hf_signal_kind kind;
    hf_signal_cause cause;
    int64_t eff;
    hf_window_metrics m;
    unsigned failing;
    int has_trigger;
    char trigger[64];
    int has_topic;
    char topic[32];
    int32_t partition;
    int64_t offset;
} got;

typedef struct sent {
    char cust[64];
    char id[64];
    int64_t line;
} sent;

#define MAX_GOT 256
#define MAX_SENT 512

typedef struct fx {
    hf_engine eng;
    hf_stream st;
    got sig[MAX_GOT];
    size_t n;
    sent ev[MAX_SENT];
    size_t nev;
    int64_t line;
} fx;

static void copy_str(char *dst, size_t size, const char *s, size_t len)
{
    assert_true(len < size);
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static void collect(void *opaque, const hf_signal *s)
{
    fx *f = opaque;
    assert_true(f->n < MAX_GOT);
    got *g = &f->sig[f->n++];
    memset(g, 0, sizeof(*g));
    g->id_len = strnlen(s->signal_id, sizeof(s->signal_id));
    assert_true(g->id_len < sizeof(g->id));
    memcpy(g->id, s->signal_id, g->id_len);
    g->beh = s->behaviour;
    assert_non_null(s->behaviour_name);
    copy_str(g->beh_name, sizeof(g->beh_name), s->behaviour_name,
             strlen(s->behaviour_name));
    copy_str(g->cust, sizeof(g->cust), s->customer_id, s->customer_id_len);
    g->kind = s->kind;
    g->cause = s->cause;
    g->eff = s->effective_time;
    g->m = s->metrics;
    g->failing = s->failing;
    g->has_trigger = s->trigger_event_id != NULL;
    if (g->has_trigger)
        copy_str(g->trigger, sizeof(g->trigger), s->trigger_event_id,
                 s->trigger_event_id_len);
    g->has_topic = s->trigger_source.topic != NULL;
    if (g->has_topic)
        copy_str(g->topic, sizeof(g->topic), s->trigger_source.topic,
                 strlen(s->trigger_source.topic));
    g->partition = s->trigger_source.partition;
    g->offset = s->trigger_source.offset;
}

static fx *fx_new(const hf_behaviour *behs, uint32_t n)
{
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    hf_engine_init(&f->eng, behs, n);
    assert_int_equal(hf_stream_init(&f->st, &f->eng, collect, f), 0);
    assert_int_equal(f->st.clock, HF_NO_CLOCK);
    return f;
}

static void fx_free(fx *f)
{
    hf_stream_destroy(&f->st);
    free(f);
}

/* A behaviour with only min_orders (off when min_orders < 0). */
static hf_behaviour beh(const char *name, int32_t window, int64_t min_orders)
{
    hf_behaviour b;
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", name);
    b.window_days = window;
    b.has_min_orders = min_orders >= 0;
    b.min_orders = min_orders >= 0 ? min_orders : 0;
    return b;
}

/* Hands one event from a file (source: line number) to the stream. */
static void ev_src(fx *f, hf_event_type type, const char *id, const char *cust,
                   int32_t day, int64_t off, int64_t amount, int64_t items,
                   hf_source src)
{
    hf_event e;
    memset(&e, 0, sizeof(e));
    e.event_id = id;
    e.event_id_len = strlen(id);
    e.type = type;
    e.customer_id = cust;
    e.customer_id_len = strlen(cust);
    e.order_id = "";
    e.order_id_len = 0;
    e.event_time = T(day, off);
    e.amount_minor = amount;
    snprintf(e.currency, sizeof(e.currency), "EUR");
    e.items = items;
    e.source = src;
    char err[128];
    assert_int_equal(hf_event_validate(&e, err, sizeof(err)), 0);
    assert_true(f->nev < MAX_SENT);
    sent *s = &f->ev[f->nev++];
    copy_str(s->cust, sizeof(s->cust), cust, strlen(cust));
    copy_str(s->id, sizeof(s->id), id, strlen(id));
    s->line = src.offset;
    uint64_t dups = f->st.stats.duplicate;
    assert_int_equal(hf_stream_process(&f->st, &e), 0);
    if (f->st.stats.duplicate != dups)
        f->nev--; /* a duplicate never triggers a signal */
}

static void ev(fx *f, hf_event_type type, const char *id, const char *cust,
               int32_t day, int64_t off, int64_t amount, int64_t items)
{
    hf_source src = {NULL, -1, ++f->line};
    ev_src(f, type, id, cust, day, off, amount, items, src);
}

static void pur(fx *f, const char *id, const char *cust, int32_t day,
                int64_t off, int64_t amount, int64_t items)
{
    ev(f, HF_EVENT_PURCHASE, id, cust, day, off, amount, items);
}

static void ret(fx *f, const char *id, const char *cust, int32_t day,
                int64_t off, int64_t amount, int64_t items)
{
    ev(f, HF_EVENT_RETURN, id, cust, day, off, amount, items);
}

/*--- Expectations ------------------------------------------------------*/

typedef struct want {
    uint32_t beh;
    const char *cust;
    hf_signal_kind kind;
    hf_signal_cause cause;
    int64_t eff;
    hf_window_metrics m;
    unsigned failing;
    const char *trigger; /* NULL: an expiry */
} want;

static void dump(const fx *f)
{
    for (size_t i = 0; i < f->n; i++) {
        const got *g = &f->sig[i];
        print_message("  [%zu] beh=%u(%s) cust=%s %s %s eff=%lld (day %lld +%lld) "
                      "orders=%lld items=%lld gross=%lld returned=%lld net=%lld "
                      "returns=%lld failing=0x%x trigger=%s\n",
                      i, g->beh, g->beh_name, g->cust, hf_signal_kind_name(g->kind),
                      hf_signal_cause_name(g->cause), (long long)g->eff,
                      (long long)(g->eff / HF_MS_PER_DAY - D0),
                      (long long)(g->eff % HF_MS_PER_DAY),
                      (long long)g->m.orders, (long long)g->m.items,
                      (long long)g->m.gross_minor, (long long)g->m.returned_minor,
                      (long long)g->m.net_minor, (long long)g->m.returns,
                      g->failing, g->has_trigger ? g->trigger : "(none)");
    }
}

static int64_t line_of(const fx *f, const char *cust, const char *id)
{
    for (size_t i = f->nev; i-- > 0;)
        if (strcmp(f->ev[i].cust, cust) == 0 && strcmp(f->ev[i].id, id) == 0)
            return f->ev[i].line;
    return -1;
}

static int differs(const fx *f, size_t i, const want *w)
{
    const got *g = &f->sig[i];
    const char *what = NULL;
    if (g->beh != w->beh)
        what = "behaviour";
    else if (strcmp(g->beh_name, f->eng.behaviours[w->beh].name) != 0)
        what = "behaviour name";
    else if (strcmp(g->cust, w->cust) != 0)
        what = "customer";
    else if (g->kind != w->kind)
        what = "kind";
    else if (g->cause != w->cause)
        what = "cause";
    else if (g->eff != w->eff)
        what = "effective_time";
    else if (g->m.orders != w->m.orders)
        what = "orders";
    else if (g->m.items != w->m.items)
        what = "items";
    else if (g->m.gross_minor != w->m.gross_minor)
        what = "gross_minor";
    else if (g->m.returned_minor != w->m.returned_minor)
        what = "returned_minor";
    else if (g->m.net_minor != w->m.net_minor)
        what = "net_minor";
    else if (g->m.returns != w->m.returns)
        what = "returns";
    else if (g->failing != w->failing)
        what = "failing";
    else if (g->has_trigger != (w->trigger != NULL))
        what = "trigger presence";
    else if (w->trigger != NULL && strcmp(g->trigger, w->trigger) != 0)
        what = "trigger event id";
    else if (w->trigger == NULL && g->has_topic)
        what = "expiry with a trigger topic";
    else if (w->trigger != NULL && !g->has_topic &&
             g->offset != line_of(f, w->cust, w->trigger))
        what = "trigger line";
    else if (g->id_len != 32)
        what = "signal_id length";
    if (what == NULL)
        return 0;
    print_error("signal %zu: %s differs (want beh=%u cust=%s %s %s day %lld +%lld "
                "orders=%lld items=%lld gross=%lld returned=%lld returns=%lld "
                "failing=0x%x trigger=%s)\n",
                i, what, w->beh, w->cust, hf_signal_kind_name(w->kind),
                hf_signal_cause_name(w->cause),
                (long long)(w->eff / HF_MS_PER_DAY - D0),
                (long long)(w->eff % HF_MS_PER_DAY), (long long)w->m.orders,
                (long long)w->m.items, (long long)w->m.gross_minor,
                (long long)w->m.returned_minor, (long long)w->m.returns,
                w->failing, w->trigger ? w->trigger : "(none)");
    return 1;
}

static void expect_signals(const fx *f, const want *w, size_t n)
{
    int bad = f->n != n;
    if (bad)
        print_error("got %zu signals, want %zu\n", f->n, n);
    for (size_t i = 0; !bad && i < n; i++)
        bad = differs(f, i, &w[i]);
    if (bad) {
        print_message("signals emitted:\n");
        dump(f);
        fail();
    }
}

#define EXPECT(f, ...)                                                     \
    do {                                                                   \
        const want w_[] = {__VA_ARGS__};                                   \
        expect_signals((f), w_, sizeof(w_) / sizeof(w_[0]));               \
    } while (0)

#define EXPECT_NONE(f) expect_signals((f), NULL, 0)

static void expect_stats(const fx *f, uint64_t read, uint64_t applied,
                         uint64_t duplicate, uint64_t late, uint64_t invalid)
{
    assert_int_equal(f->st.stats.read, read);
    assert_int_equal(f->st.stats.applied, applied);
    assert_int_equal(f->st.stats.duplicate, duplicate);
    assert_int_equal(f->st.stats.late, late);
    assert_int_equal(f->st.stats.invalid, invalid);
}

static void expect_counts(const fx *f, uint32_t b, uint64_t hire_p,
                          uint64_t hire_r, uint64_t hire_e, uint64_t fire_p,
                          uint64_t fire_r, uint64_t fire_e, int64_t targets)
{
    const hf_stream_stats *s = &f->st.stats;
    assert_int_equal(s->signals[b][HIRE][PURCHASE], hire_p);
    assert_int_equal(s->signals[b][HIRE][RETURN], hire_r);
    assert_int_equal(s->signals[b][HIRE][EXPIRY], hire_e);
    assert_int_equal(s->signals[b][FIRE][PURCHASE], fire_p);
    assert_int_equal(s->signals[b][FIRE][RETURN], fire_r);
    assert_int_equal(s->signals[b][FIRE][EXPIRY], fire_e);
    assert_int_equal(s->targets[b], targets);
}

/*--- Step 5: hire on the second purchase -------------------------------*/

static void test_hire_on_second_purchase(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 90, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "p1", "alice", D0, 1000, 2500, 1);
    EXPECT_NONE(f); /* one purchase: non-target, which emits nothing */
    assert_int_equal(f->st.clock, D0);
    pur(f, "p2", "alice", D0 + 3, 5000, 1500, 2);
    EXPECT(f, {0, "alice", HIRE, PURCHASE, T(D0 + 3, 5000), MET(2, 3, 4000, 0, 0), 0, "p2"});
    assert_int_equal(f->st.clock, D0 + 3);
    assert_false(f->sig[0].has_topic);
    assert_int_equal(f->sig[0].offset, 2); /* second line */
    expect_stats(f, 2, 2, 0, 0, 0);
    expect_counts(f, 0, 1, 0, 0, 0, 0, 0, 1);
    fx_free(f);
}

/* The trigger carries the Kafka source of the event; expiries carry none. */
static void test_trigger_source_from_kafka(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);
    hf_source s1 = {"orders", 3, 41};
    hf_source s2 = {"orders", 3, 42};
    ev_src(f, HF_EVENT_PURCHASE, "k1", "c", D0, 0, 100, 1, s1);
    ev_src(f, HF_EVENT_PURCHASE, "k2", "c", D0, 1, 100, 1, s2);
    hf_stream_advance(&f->st, D0 + 5);
    EXPECT(f, {0, "c", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 200, 0, 0), 0, "k2"},
           {0, "c", FIRE, EXPIRY, T(D0 + 5, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    assert_true(f->sig[0].has_topic);
    assert_string_equal(f->sig[0].topic, "orders");
    assert_int_equal(f->sig[0].partition, 3);
    assert_int_equal(f->sig[0].offset, 42);
    assert_false(f->sig[1].has_topic);
    fx_free(f);
}

/*--- Step 3: expiries ---------------------------------------------------*/

/* due = min(d_i) + W; the fire's effective_time is 00:00 UTC of that day. */
static void test_fire_by_expiry_at_start_of_due_day(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 10, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "a1", "alice", D0, 3600000, 1000, 1);
    pur(f, "a2", "alice", D0 + 4, 7200000, 2000, 3);
    pur(f, "b1", "bob", D0 + 9, 1, 500, 1);     /* day D0+9: nothing due */
    assert_int_equal(f->n, 1);
    pur(f, "b2", "bob", D0 + 10, 7, 700, 2);    /* alice due D0+10 first */
    EXPECT(f,
           {0, "alice", HIRE, PURCHASE, T(D0 + 4, 7200000), MET(2, 4, 3000, 0, 0), 0, "a2"},
           {0, "alice", FIRE, EXPIRY, T(D0 + 10, 0), MET(1, 3, 2000, 0, 0),
            HF_FAIL_MIN_ORDERS, NULL},
           {0, "bob", HIRE, PURCHASE, T(D0 + 10, 7), MET(2, 3, 1200, 0, 0), 0, "b2"});
    expect_stats(f, 4, 4, 0, 0, 0);
    expect_counts(f, 0, 2, 0, 0, 0, 0, 1, 1);
    fx_free(f);
}

/* An expiry due on the event's own day runs before the event is applied. */
static void test_expiry_before_apply_on_due_day(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 2, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "p1", "a", D0, 10, 100, 1);
    pur(f, "p2", "a", D0 + 1, 20, 200, 1);
    pur(f, "p3", "a", D0 + 2, 30, 300, 1);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0 + 1, 20), MET(2, 2, 300, 0, 0), 0, "p2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 2, 0), MET(1, 1, 200, 0, 0), HF_FAIL_MIN_ORDERS, NULL},
           {0, "a", HIRE, PURCHASE, T(D0 + 2, 30), MET(2, 2, 500, 0, 0), 0, "p3"});
    expect_counts(f, 0, 2, 0, 0, 0, 0, 1, 1);
    fx_free(f);
}

/*
 * Same due day: ordered by customer_id bytes ("B" < "a" < "ab" < "b"), then
 * by behaviour order in the configuration; an earlier due day goes first
 * whatever the customer.
 */
static void test_expiry_order_customer_bytes_and_behaviours(void **state)
{
    (void)state;
    hf_behaviour bs[3] = {beh("first", 5, 2), beh("second", 5, 2), beh("shorter", 3, 2)};
    fx *f = fx_new(bs, 3);
    const char *custs[4] = {"b", "ab", "B", "a"}; /* not in byte order */
    char id[16];
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(id, sizeof(id), "%s-%d", custs[i], k);
            pur(f, id, custs[i], D0, 100 * i + k, 10, 1);
        }
    }
    hf_stream_advance(&f->st, D0 + 10);
    assert_int_equal(f->st.clock, D0 + 10);
    hf_window_metrics zero = NOMET;
    const char *order[4] = {"B", "a", "ab", "b"};
    want w[24];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        static char trig[4][16];
        snprintf(trig[i], sizeof(trig[i]), "%s-1", custs[i]);
        for (uint32_t b = 0; b < 3; b++)
            w[n++] = (want){b, custs[i], HIRE, PURCHASE, T(D0, 100 * i + 1),
                            MET(2, 2, 20, 0, 0), 0, trig[i]};
    }
    for (int i = 0; i < 4; i++)
        w[n++] = (want){2, order[i], FIRE, EXPIRY, T(D0 + 3, 0), zero,
                        HF_FAIL_MIN_ORDERS, NULL};
    for (int i = 0; i < 4; i++)
        for (uint32_t b = 0; b < 2; b++)
            w[n++] = (want){b, order[i], FIRE, EXPIRY, T(D0 + 5, 0), zero,
                            HF_FAIL_MIN_ORDERS, NULL};
    expect_signals(f, w, n);
    for (uint32_t b = 0; b < 3; b++)
        expect_counts(f, b, 4, 0, 0, 0, 0, 4, 0);
    fx_free(f);
}

/*
 * An expiry that yields another due day <= the new clock is processed in
 * the same pass, in (due day, customer) order: z's second expiry (day 6,
 * created during the pass) comes after m's expiry of day 6 ("m" < "z") and
 * before a's of day 7 ("a" < "z").
 */
static void test_expiry_chain_in_same_pass_in_order(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "z1", "z", D0, 1, 100, 1);
    pur(f, "z2", "z", D0 + 1, 2, 200, 2);
    pur(f, "m1", "m", D0 + 1, 3, 10, 1);
    pur(f, "m2", "m", D0 + 1, 4, 20, 1);
    pur(f, "z3", "z", D0 + 2, 5, 400, 4);
    pur(f, "a1", "a", D0 + 2, 6, 1, 1);
    pur(f, "a2", "a", D0 + 2, 7, 2, 1);
    hf_stream_advance(&f->st, D0 + 10);
    EXPECT(f, {0, "z", HIRE, PURCHASE, T(D0 + 1, 2), MET(2, 3, 300, 0, 0), 0, "z2"},
           {0, "m", HIRE, PURCHASE, T(D0 + 1, 4), MET(2, 2, 30, 0, 0), 0, "m2"},
           {0, "a", HIRE, PURCHASE, T(D0 + 2, 7), MET(2, 2, 3, 0, 0), 0, "a2"},
           /* day 5: z keeps days 1 and 2, still target, due again day 6 */
           {0, "m", FIRE, EXPIRY, T(D0 + 6, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL},
           {0, "z", FIRE, EXPIRY, T(D0 + 6, 0), MET(1, 4, 400, 0, 0), HF_FAIL_MIN_ORDERS, NULL},
           {0, "a", FIRE, EXPIRY, T(D0 + 7, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    expect_counts(f, 0, 3, 0, 0, 0, 0, 3, 0);
    assert_int_equal(f->st.clock, D0 + 10);
    fx_free(f);
}

/*
 * The clock jumps many days at once: one customer goes through several
 * expiries, and a return leaving the window hires again by expiry. With
 * purchases and returns both 0, return_ratio is 0 (only min_orders fails).
 */
static void test_clock_jump_several_expiries_rehire_by_expiry(void **state)
{
    (void)state;
    hf_behaviour b = beh("lowret", 3, 1);
    b.has_max_return_ratio = true;
    b.max_return_ratio = 0.5;
    fx *f = fx_new(&b, 1);

    pur(f, "p1", "x", D0, 100, 1000, 1);
    pur(f, "p2", "x", D0 + 1, 200, 1000, 1);
    ret(f, "r1", "x", D0 + 1, 300, 1500, 1);
    pur(f, "p3", "x", D0 + 2, 400, 100, 1);
    EXPECT(f, {0, "x", HIRE, PURCHASE, T(D0, 100), MET(1, 1, 1000, 0, 0), 0, "p1"},
           {0, "x", FIRE, RETURN, T(D0 + 1, 300), MET(2, 2, 2000, 1500, 1),
            HF_FAIL_MAX_RETURN_RATIO, "r1"});
    /* Another customer's event jumps the clock by 30 days. */
    pur(f, "y1", "y", D0 + 32, 500, 1, 1);
    EXPECT(f, {0, "x", HIRE, PURCHASE, T(D0, 100), MET(1, 1, 1000, 0, 0), 0, "p1"},
           {0, "x", FIRE, RETURN, T(D0 + 1, 300), MET(2, 2, 2000, 1500, 1),
            HF_FAIL_MAX_RETURN_RATIO, "r1"},
           /* day 3: days 1 and 2 remain, ratio 1500/1100: still non-target */
           {0, "x", HIRE, EXPIRY, T(D0 + 4, 0), MET(1, 1, 100, 0, 0), 0, NULL},
           {0, "x", FIRE, EXPIRY, T(D0 + 5, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL},
           {0, "y", HIRE, PURCHASE, T(D0 + 32, 500), MET(1, 1, 1, 0, 0), 0, "y1"});
    expect_stats(f, 5, 5, 0, 0, 0);
    expect_counts(f, 0, 2, 0, 1, 0, 1, 1, 1);
    fx_free(f);
}

/*--- Late events (steps 4 and 5) ---------------------------------------*/

/* d < C inside the window: counts, evaluated at C, effective_time its own. */
static void test_late_event_inside_window_counts(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 10, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "a1", "a", D0, 100, 1000, 1);
    pur(f, "b1", "b", D0 + 8, 200, 1, 1);
    pur(f, "a2", "a", D0 + 5, 300, 3000, 2);
    assert_int_equal(f->st.clock, D0 + 8); /* a late event does not move it */
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0 + 5, 300), MET(2, 3, 4000, 0, 0), 0, "a2"});
    expect_stats(f, 3, 3, 0, 0, 0);
    assert_int_equal(f->st.stats.late_by_behaviour[0], 0);
    /* due = min(d_i) + W = D0 + 10: a's day 0 leaves, day 5 stays. */
    hf_stream_advance(&f->st, D0 + 10);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0 + 5, 300), MET(2, 3, 4000, 0, 0), 0, "a2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 10, 0), MET(1, 2, 3000, 0, 0), HF_FAIL_MIN_ORDERS, NULL});
    fx_free(f);
}

/*
 * A late event is evaluated at the clock day C, not at its own day: the
 * customer's day-0 purchase is outside the short window at C although it
 * would be inside it at the late event's day (the long behaviour keeps that
 * day in the state, so it cannot simply have been dropped).
 */
static void test_late_event_evaluated_at_clock_day(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("short", 10, 2), beh("long", 30, 3)};
    fx *f = fx_new(bs, 2);

    pur(f, "a1", "a", D0, 0, 100, 1);
    pur(f, "b1", "b", D0 + 9, 0, 100, 1);
    pur(f, "b2", "b", D0 + 12, 5, 100, 1);
    pur(f, "a2", "a", D0 + 3, 0, 100, 1); /* short at D0+12: (D0+2, D0+12] */
    EXPECT(f, {0, "b", HIRE, PURCHASE, T(D0 + 12, 5), MET(2, 2, 200, 0, 0), 0, "b2"});
    /* Window boundary: d = C - W + 1 counts, d = C - W is too late. */
    pur(f, "a3", "a", D0 + 3, 9, 100, 1);
    pur(f, "a4", "a", D0 + 2, 9, 100, 1);   /* too late for short only */
    pur(f, "c1", "c", D0 - 18, 9, 100, 1);  /* too late for both */
    EXPECT(f, {0, "b", HIRE, PURCHASE, T(D0 + 12, 5), MET(2, 2, 200, 0, 0), 0, "b2"},
           {0, "a", HIRE, PURCHASE, T(D0 + 3, 9), MET(2, 2, 200, 0, 0), 0, "a3"},
           {1, "a", HIRE, PURCHASE, T(D0 + 3, 9), MET(3, 3, 300, 0, 0), 0, "a3"});
    expect_stats(f, 7, 6, 0, 1, 0);
    assert_int_equal(f->st.stats.late_by_behaviour[0], 2);
    assert_int_equal(f->st.stats.late_by_behaviour[1], 1);
    /* a4 counted for long: at day 30 days 2 and 3 keep a target, due 32. */
    hf_stream_advance(&f->st, D0 + 32);
    EXPECT(f, {0, "b", HIRE, PURCHASE, T(D0 + 12, 5), MET(2, 2, 200, 0, 0), 0, "b2"},
           {0, "a", HIRE, PURCHASE, T(D0 + 3, 9), MET(2, 2, 200, 0, 0), 0, "a3"},
           {1, "a", HIRE, PURCHASE, T(D0 + 3, 9), MET(3, 3, 300, 0, 0), 0, "a3"},
           {0, "a", FIRE, EXPIRY, T(D0 + 13, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL},
           {0, "b", FIRE, EXPIRY, T(D0 + 19, 0), MET(1, 1, 100, 0, 0), HF_FAIL_MIN_ORDERS, NULL},
           {1, "a", FIRE, EXPIRY, T(D0 + 32, 0), MET(2, 2, 200, 0, 0), HF_FAIL_MIN_ORDERS, NULL});
    fx_free(f);
}

/*
 * Too late for one behaviour (d <= C - W) but not for another: per-behaviour
 * late counts; stats.late counts only events too late for every behaviour.
 * A too-late event was still received: its id is remembered.
 */
static void test_too_late_for_one_behaviour_not_another(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("short", 3, 2), beh("long", 10, 2)};
    fx *f = fx_new(bs, 2);

    pur(f, "a1", "a", D0, 1, 100, 1);
    pur(f, "b1", "b", D0 + 5, 2, 10, 1);
    pur(f, "a2", "a", D0 + 2, 3, 200, 2);  /* late for short (2 <= 5-3) */
    pur(f, "a3", "a", D0 + 1, 4, 400, 4);  /* late for short */
    EXPECT(f, {1, "a", HIRE, PURCHASE, T(D0 + 2, 3), MET(2, 3, 300, 0, 0), 0, "a2"});
    expect_stats(f, 4, 4, 0, 0, 0);
    assert_int_equal(f->st.stats.late_by_behaviour[0], 2);
    assert_int_equal(f->st.stats.late_by_behaviour[1], 0);

    pur(f, "a4", "a", D0 - 5, 5, 800, 8);  /* too late for both */
    expect_stats(f, 5, 4, 0, 1, 0);
    assert_int_equal(f->st.stats.late_by_behaviour[0], 3);
    assert_int_equal(f->st.stats.late_by_behaviour[1], 1);
    ret(f, "a4", "a", D0 + 5, 6, 50, 1);    /* same id again: a duplicate */
    expect_stats(f, 6, 4, 1, 1, 0);

    pur(f, "b2", "b", D0 + 6, 7, 20, 1);
    hf_stream_advance(&f->st, D0 + 20);
    EXPECT(f, {1, "a", HIRE, PURCHASE, T(D0 + 2, 3), MET(2, 3, 300, 0, 0), 0, "a2"},
           {0, "b", HIRE, PURCHASE, T(D0 + 6, 7), MET(2, 2, 30, 0, 0), 0, "b2"},
           {1, "b", HIRE, PURCHASE, T(D0 + 6, 7), MET(2, 2, 30, 0, 0), 0, "b2"},
           {0, "b", FIRE, EXPIRY, T(D0 + 8, 0), MET(1, 1, 20, 0, 0), HF_FAIL_MIN_ORDERS, NULL},
           /* long, day 10: a keeps days 1 and 2; day 11: only day 2 */
           {1, "a", FIRE, EXPIRY, T(D0 + 11, 0), MET(1, 2, 200, 0, 0), HF_FAIL_MIN_ORDERS, NULL},
           {1, "b", FIRE, EXPIRY, T(D0 + 15, 0), MET(1, 1, 20, 0, 0), HF_FAIL_MIN_ORDERS, NULL});
    expect_stats(f, 7, 5, 1, 1, 0);
    expect_counts(f, 0, 1, 0, 0, 0, 0, 1, 0);
    expect_counts(f, 1, 2, 0, 0, 0, 0, 2, 0);
    fx_free(f);
}

/*--- Step 2: duplicates -------------------------------------------------*/

/* Ignored (whatever its content), counted, and it does not move the clock. */
static void test_duplicate_ignored_does_not_move_clock(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "e1", "a", D0, 0, 100, 1);
    pur(f, "e2", "a", D0, 1, 100, 1);
    ret(f, "e1", "a", D0 + 50, 0, 100, 1);
    assert_int_equal(f->st.clock, D0);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 200, 0, 0), 0, "e2"});
    expect_stats(f, 3, 2, 1, 0, 0);
    hf_stream_advance(&f->st, D0 + 4);
    assert_int_equal(f->n, 1);
    hf_stream_advance(&f->st, D0 + 5);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 200, 0, 0), 0, "e2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 5, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    fx_free(f);
}

/*
 * Only the last 32 ids received count, and duplicates do not enter them:
 * after e0..e32, e32 and e1 are duplicates (e1 is 32 back even after the
 * duplicate of e32), e0 (33 back) is not.
 */
static void test_duplicate_window_is_last_32_ids(void **state)
{
    (void)state;
    hf_behaviour b = beh("many", 90, 35);
    fx *f = fx_new(&b, 1);
    char id[16];
    for (int i = 0; i <= 32; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        pur(f, id, "a", D0, i, 1, 1);
    }
    expect_stats(f, 33, 33, 0, 0, 0);
    pur(f, "e32", "a", D0, 100, 1, 1);
    pur(f, "e1", "a", D0, 101, 1, 1);
    expect_stats(f, 35, 33, 2, 0, 0);
    pur(f, "e0", "a", D0, 102, 1, 1);
    expect_stats(f, 36, 34, 2, 0, 0);
    EXPECT_NONE(f);
    pur(f, "e34", "a", D0, 103, 1, 1);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 103), MET(35, 35, 35, 0, 0), 0, "e34"});
    /* Now the ring holds e3..e32, e0, e34: e2 is new again, e3 is not. */
    pur(f, "e3", "a", D0, 104, 1, 1);
    pur(f, "e2", "a", D0, 105, 1, 1);
    expect_stats(f, 39, 36, 3, 0, 0);
    fx_free(f);
}

static void test_duplicates_are_per_customer(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 90, 2);
    fx *f = fx_new(&b, 1);
    pur(f, "x1", "a", D0, 1, 10, 1);
    pur(f, "x1", "b", D0, 2, 20, 1);
    pur(f, "x2", "a", D0, 3, 30, 1);
    pur(f, "x2", "b", D0, 4, 40, 1);
    pur(f, "x2", "b", D0, 5, 40, 1);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 3), MET(2, 2, 40, 0, 0), 0, "x2"},
           {0, "b", HIRE, PURCHASE, T(D0, 4), MET(2, 2, 60, 0, 0), 0, "x2"});
    expect_stats(f, 5, 4, 1, 0, 0);
    expect_counts(f, 0, 2, 0, 0, 0, 0, 0, 2);
    fx_free(f);
}

/*--- Step 1: invalid events ---------------------------------------------*/

static void test_invalid_changes_nothing(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);
    hf_stream_count_invalid(&f->st);
    assert_int_equal(f->st.clock, HF_NO_CLOCK);
    expect_stats(f, 1, 0, 0, 0, 1);
    pur(f, "e1", "a", D0, 0, 100, 1);
    pur(f, "e2", "a", D0, 1, 100, 1);
    hf_stream_count_invalid(&f->st);
    hf_stream_count_invalid(&f->st);
    assert_int_equal(f->st.clock, D0);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 200, 0, 0), 0, "e2"});
    expect_stats(f, 5, 2, 0, 0, 3);
    assert_int_equal(f->st.stats.late_by_behaviour[0], 0);
    expect_counts(f, 0, 1, 0, 0, 0, 0, 0, 1);
    fx_free(f);
}

/*--- Thresholds ---------------------------------------------------------*/

/* Returns fire by min_net_minor and max_return_ratio; ratio == max holds. */
static void test_return_fires_net_and_ratio(void **state)
{
    (void)state;
    hf_behaviour bs[3] = {beh("net", 30, 1), beh("ratio", 30, 1), beh("both", 30, 1)};
    bs[0].has_min_net_minor = true;
    bs[0].min_net_minor = 5000;
    bs[1].has_max_return_ratio = true;
    bs[1].max_return_ratio = 0.25;
    bs[2].has_min_net_minor = true;
    bs[2].min_net_minor = 5000;
    bs[2].has_max_return_ratio = true;
    bs[2].max_return_ratio = 0.25;
    fx *f = fx_new(bs, 3);

    pur(f, "p1", "a", D0, 1, 6000, 2);
    ret(f, "r1", "a", D0 + 1, 2, 2000, 1);
    pur(f, "p2", "a", D0 + 1, 3, 4000, 1);
    ret(f, "r2", "a", D0 + 2, 4, 500, 1);   /* 2500/10000 = 0.25: holds */
    ret(f, "r3", "a", D0 + 2, 5, 3000, 1);
    hf_window_metrics m1 = MET(1, 2, 6000, 0, 0);
    hf_window_metrics m2 = MET(1, 2, 6000, 2000, 1);
    hf_window_metrics m3 = MET(2, 3, 10000, 2000, 1);
    hf_window_metrics m4 = MET(2, 3, 10000, 5500, 3);
    const unsigned NET = HF_FAIL_MIN_NET_MINOR, RAT = HF_FAIL_MAX_RETURN_RATIO;
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), m1, 0, "p1"},
           {1, "a", HIRE, PURCHASE, T(D0, 1), m1, 0, "p1"},
           {2, "a", HIRE, PURCHASE, T(D0, 1), m1, 0, "p1"},
           {0, "a", FIRE, RETURN, T(D0 + 1, 2), m2, NET, "r1"},
           {1, "a", FIRE, RETURN, T(D0 + 1, 2), m2, RAT, "r1"},
           {2, "a", FIRE, RETURN, T(D0 + 1, 2), m2, NET | RAT, "r1"},
           {0, "a", HIRE, PURCHASE, T(D0 + 1, 3), m3, 0, "p2"},
           {1, "a", HIRE, PURCHASE, T(D0 + 1, 3), m3, 0, "p2"},
           {2, "a", HIRE, PURCHASE, T(D0 + 1, 3), m3, 0, "p2"},
           {0, "a", FIRE, RETURN, T(D0 + 2, 5), m4, NET, "r3"},
           {1, "a", FIRE, RETURN, T(D0 + 2, 5), m4, RAT, "r3"},
           {2, "a", FIRE, RETURN, T(D0 + 2, 5), m4, NET | RAT, "r3"});
    for (uint32_t b = 0; b < 3; b++)
        expect_counts(f, b, 2, 0, 0, 0, 2, 0, 0);
    fx_free(f);
}

/* min_net_minor may be negative; without min_orders one purchase hires. */
static void test_negative_min_net_minor(void **state)
{
    (void)state;
    hf_behaviour b = beh("refunder", 30, -1);
    b.has_min_net_minor = true;
    b.min_net_minor = -100;
    fx *f = fx_new(&b, 1);
    pur(f, "p1", "a", D0, 1, 50, 1);
    ret(f, "r1", "a", D0, 2, 200, 1);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(1, 1, 50, 0, 0), 0, "p1"},
           {0, "a", FIRE, RETURN, T(D0, 2), MET(1, 1, 50, 200, 1), HF_FAIL_MIN_NET_MINOR, "r1"});
    pur(f, "p2", "a", D0 + 1, 3, 100, 1);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(1, 1, 50, 0, 0), 0, "p1"},
           {0, "a", FIRE, RETURN, T(D0, 2), MET(1, 1, 50, 200, 1), HF_FAIL_MIN_NET_MINOR, "r1"},
           {0, "a", HIRE, PURCHASE, T(D0 + 1, 3), MET(2, 2, 150, 200, 1), 0, "p2"});
    fx_free(f);
}

/* items counts purchase items only; an expiry fires on min_items alone. */
static void test_min_items(void **state)
{
    (void)state;
    hf_behaviour b = beh("basket", 30, 1);
    b.has_min_items = true;
    b.min_items = 3;
    fx *f = fx_new(&b, 1);

    pur(f, "p1", "a", D0, 1, 1000, 2);
    ret(f, "r1", "a", D0, 2, 100, 5);
    EXPECT_NONE(f);
    pur(f, "p2", "a", D0 + 1, 3, 500, 1);
    hf_stream_advance(&f->st, D0 + 31);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0 + 1, 3), MET(2, 3, 1500, 100, 1), 0, "p2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 30, 0), MET(1, 1, 500, 0, 0), HF_FAIL_MIN_ITEMS, NULL});
    expect_counts(f, 0, 1, 0, 0, 0, 0, 1, 0);
    fx_free(f);
}

/*
 * return_ratio is infinite with only returns (never <= any finite max) and
 * 0 when purchases and returns are both 0.
 */
static void test_return_ratio_infinite_and_zero(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("zero", 30, -1), beh("huge", 30, -1)};
    bs[0].has_max_return_ratio = true;
    bs[0].max_return_ratio = 0.0;
    bs[1].has_max_return_ratio = true;
    bs[1].max_return_ratio = 1e9;
    fx *f = fx_new(bs, 2);

    ret(f, "r1", "a", D0, 1, 100, 1);   /* infinite: non-target for both */
    EXPECT_NONE(f);
    pur(f, "p1", "b", D0, 2, 0, 1);     /* 0/0 = 0: target for both */
    ret(f, "r2", "b", D0, 3, 0, 1);     /* still 0/0 */
    ret(f, "r3", "b", D0, 4, 1, 0);     /* 1/0: infinite */
    pur(f, "p2", "a", D0, 5, 1, 1);     /* 100/1 = 100 */
    hf_window_metrics m1 = MET(1, 1, 0, 0, 0);
    hf_window_metrics m3 = MET(1, 1, 0, 1, 2);
    const unsigned RAT = HF_FAIL_MAX_RETURN_RATIO;
    EXPECT(f, {0, "b", HIRE, PURCHASE, T(D0, 2), m1, 0, "p1"},
           {1, "b", HIRE, PURCHASE, T(D0, 2), m1, 0, "p1"},
           {0, "b", FIRE, RETURN, T(D0, 4), m3, RAT, "r3"},
           {1, "b", FIRE, RETURN, T(D0, 4), m3, RAT, "r3"},
           {1, "a", HIRE, PURCHASE, T(D0, 5), MET(1, 1, 1, 100, 1), 0, "p2"});
    expect_counts(f, 0, 1, 0, 0, 0, 1, 0, 0);
    expect_counts(f, 1, 2, 0, 0, 0, 1, 0, 1);
    fx_free(f);
}

/* Events on the same day, even at the same millisecond, in stream order. */
static void test_ties_on_the_same_day(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 90, 2);
    b.has_max_return_ratio = true;
    b.max_return_ratio = 0.5;
    fx *f = fx_new(&b, 1);
    const int64_t ms = 43200000; /* noon */

    pur(f, "p1", "a", D0, ms, 1000, 1);
    pur(f, "p2", "a", D0, ms, 1000, 1);
    ret(f, "r1", "a", D0, ms, 1500, 1);
    pur(f, "p3", "a", D0, ms, 1000, 1);   /* 1500/3000 = 0.5 holds */
    pur(f, "p4", "b", D0, ms, 5, 1);
    pur(f, "p5", "b", D0, ms, 5, 1);
    hf_stream_advance(&f->st, D0 + 90);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, ms), MET(2, 2, 2000, 0, 0), 0, "p2"},
           {0, "a", FIRE, RETURN, T(D0, ms), MET(2, 2, 2000, 1500, 1),
            HF_FAIL_MAX_RETURN_RATIO, "r1"},
           {0, "a", HIRE, PURCHASE, T(D0, ms), MET(3, 3, 3000, 1500, 1), 0, "p3"},
           {0, "b", HIRE, PURCHASE, T(D0, ms), MET(2, 2, 10, 0, 0), 0, "p5"},
           {0, "a", FIRE, EXPIRY, T(D0 + 90, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL},
           {0, "b", FIRE, EXPIRY, T(D0 + 90, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    expect_counts(f, 0, 3, 0, 0, 0, 1, 2, 0);
    fx_free(f);
}

/*--- hf_stream_advance (--advance-to) -----------------------------------*/

static void test_advance(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);

    pur(f, "p1", "a", D0, 0, 10, 1);
    pur(f, "p2", "a", D0, 1, 20, 1);
    hf_stream_advance(&f->st, D0 - 3);      /* earlier: nothing */
    assert_int_equal(f->st.clock, D0);
    hf_stream_advance(&f->st, D0 + 4);      /* due - 1: nothing due */
    assert_int_equal(f->st.clock, D0 + 4);
    assert_int_equal(f->n, 1);
    pur(f, "p3", "a", D0, 2, 40, 1);        /* 0 > 4 - 5: counts */
    expect_stats(f, 3, 3, 0, 0, 0);
    hf_stream_advance(&f->st, D0 + 5);      /* due day itself */
    assert_int_equal(f->st.clock, D0 + 5);
    pur(f, "p4", "b", D0, 0, 10, 1);        /* 0 <= 5 - 5: too late */
    expect_stats(f, 4, 3, 0, 1, 0);
    hf_stream_advance(&f->st, D0 + 3);
    assert_int_equal(f->st.clock, D0 + 5);
    hf_stream_advance(&f->st, D0 + 5);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 30, 0, 0), 0, "p2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 5, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    expect_counts(f, 0, 1, 0, 0, 0, 0, 1, 0);
    fx_free(f);
}

/*--- Out of memory in the expiry index -------------------------------------*/

static void test_out_of_memory(void **state)
{
    (void)state;
    hf_behaviour b = beh("repeat", 5, 2);
    fx *f = fx_new(&b, 1);

    /* The first due day needs the index's ring: the event fails. */
    hf_memstore_fail_index_alloc(f->st.store, 0);
    hf_event e;
    memset(&e, 0, sizeof(e));
    e.event_id = "p0";
    e.event_id_len = 2;
    e.type = HF_EVENT_PURCHASE;
    e.customer_id = "z";
    e.customer_id_len = 1;
    e.order_id = "";
    e.event_time = T(D0, 0);
    e.amount_minor = 10;
    snprintf(e.currency, sizeof(e.currency), "EUR");
    e.items = 1;
    assert_int_equal(hf_stream_process(&f->st, &e), -1);

    pur(f, "p1", "a", D0, 0, 10, 1);
    pur(f, "p2", "a", D0, 1, 20, 1);
    /* Draining day D0 + 5 needs the batch: the clock stays, then moves. */
    hf_memstore_fail_index_alloc(f->st.store, 0);
    assert_int_equal(hf_stream_advance(&f->st, D0 + 5), -1);
    assert_int_equal(f->st.clock, D0);
    assert_int_equal(hf_stream_advance(&f->st, D0 + 5), 0);
    assert_int_equal(f->st.clock, D0 + 5);
    EXPECT(f, {0, "a", HIRE, PURCHASE, T(D0, 1), MET(2, 2, 30, 0, 0), 0, "p2"},
           {0, "a", FIRE, EXPIRY, T(D0 + 5, 0), NOMET, HF_FAIL_MIN_ORDERS, NULL});
    fx_free(f);
}

/*--- Signal ids -----------------------------------------------------------*/

static void scenario(fx *f)
{
    pur(f, "p1", "x", D0, 100, 1000, 1);
    pur(f, "p2", "x", D0 + 1, 200, 1000, 1);
    ret(f, "r1", "x", D0 + 1, 300, 1500, 1);
    pur(f, "p3", "x", D0 + 2, 400, 100, 1);
    pur(f, "p1", "y", D0 + 2, 500, 100, 1);
    pur(f, "p2", "y", D0 + 2, 600, 100, 1);
    hf_stream_advance(&f->st, D0 + 40);
    /* The same customer hires and fires again with identical metrics. */
    pur(f, "p4", "x", D0 + 40, 0, 7, 1);
    hf_stream_advance(&f->st, D0 + 80);
    pur(f, "p5", "x", D0 + 80, 0, 7, 1);
    hf_stream_advance(&f->st, D0 + 120);
}

static int is_lower_hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static void test_signal_ids_deterministic_and_distinct(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("lowret", 3, 1), beh("repeat", 3, 2)};
    bs[0].has_max_return_ratio = true;
    bs[0].max_return_ratio = 0.5;
    fx *f1 = fx_new(bs, 2);
    fx *f2 = fx_new(bs, 2);
    scenario(f1);
    scenario(f2);
    /* lowret x: hire, fire(return), hire(expiry), fire(expiry), then twice
     * hire+fire; y: hire, fire. repeat: x and y hire and fire once. */
    assert_int_equal(f1->n, 14);
    assert_int_equal(f2->n, 14);
    for (size_t i = 0; i < f1->n; i++) {
        assert_true(is_lower_hex32(f1->sig[i].id));
        assert_string_equal(f1->sig[i].id, f2->sig[i].id);
        assert_int_equal(f1->sig[i].kind, f2->sig[i].kind);
        assert_int_equal(f1->sig[i].eff, f2->sig[i].eff);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f1->sig[i].id, f1->sig[j].id);
    }
    fx_free(f1);
    fx_free(f2);
}

/*--- Engine functions directly ------------------------------------------*/

static void test_engine_metrics_and_due(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("w5", 5, 2), beh("w30", 30, 2)};
    hf_engine eng;
    hf_engine_init(&eng, bs, 2);
    assert_int_equal(eng.n, 2);
    assert_int_equal(eng.max_window, 30);
    assert_string_equal(eng.behaviours[1].name, "w30");

    hf_customer *c = hf_customer_new("c", 1, 2);
    assert_non_null(c);
    assert_int_equal(hf_customer_add(c, D0, 0, 1000, 2), 0);
    assert_int_equal(hf_customer_add(c, D0 + 3, 1, 300, 1), 0);
    assert_int_equal(hf_customer_add(c, D0 + 5, 0, 500, 1), 0);

    hf_window_metrics m;
    hf_engine_metrics(&eng, c, 0, D0 + 5, &m);  /* (D0, D0+5] */
    assert_int_equal(m.orders, 1);
    assert_int_equal(m.items, 1);
    assert_int_equal(m.gross_minor, 500);
    assert_int_equal(m.returned_minor, 300);
    assert_int_equal(m.net_minor, 200);
    assert_int_equal(m.returns, 1);
    hf_engine_metrics(&eng, c, 1, D0 + 5, &m);
    assert_int_equal(m.orders, 2);
    assert_int_equal(m.items, 3);
    assert_int_equal(m.gross_minor, 1500);
    assert_int_equal(m.net_minor, 1200);
    hf_engine_metrics(&eng, c, 0, D0 + 4, &m);  /* (D0-1, D0+4] */
    assert_int_equal(m.orders, 1);
    assert_int_equal(m.gross_minor, 1000);
    assert_int_equal(m.returns, 1);

    /*
     * Due days: the first window exit that changes the class. c is not a
     * target of either behaviour: w5 at D0+4 holds 1 order, then 0 after D0
     * leaves (D0+5) and after D0+3 leaves (D0+8): no change, and w5 is not
     * the longest window, so nothing is due.
     */
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 4), HF_NO_DUE);
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 5), HF_NO_DUE);
    /* w30 (the longest window) holds 2 orders at D0+5, yet as a non-target
     * nothing leaving makes it one: due when the window empties, D0+5+30. */
    assert_int_equal(hf_engine_due(&eng, c, 1, D0 + 5), D0 + 35);
    /* As targets: w5 drops to 0 orders when D0 leaves; w30 to 1 order. */
    c->target = 3;
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 4), D0 + 5);
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 5), D0 + 8);
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 8), D0 + 10);
    assert_int_equal(hf_engine_due(&eng, c, 0, D0 + 10), HF_NO_DUE);
    assert_int_equal(hf_engine_due(&eng, c, 1, D0 + 5), D0 + 30);
    assert_int_equal(hf_engine_due(&eng, c, 1, D0 + 30), D0 + 33);
    hf_customer_destroy(c);
}

static void fx_count(void *opaque, const hf_signal *s)
{
    (void)s;
    (*(int *)opaque)++;
}

/* Exits that leave the class as it is are not due: three orders on three
 * days keep a min-2 target through the first exit, not the second. */
static void test_engine_due_skips_exits_without_change(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("w10", 10, 2), beh("w20", 20, 5)};
    hf_engine eng;
    hf_engine_init(&eng, bs, 2);
    hf_customer *c = hf_customer_new("c", 1, 2);
    assert_non_null(c);
    int nsig = 0;
    for (int i = 0; i < 3; i++) {
        hf_event e;
        memset(&e, 0, sizeof(e));
        const char *ids[3] = {"e0", "e1", "e2"};
        e.event_id = ids[i];
        e.event_id_len = 2;
        e.customer_id = "c";
        e.customer_id_len = 1;
        e.order_id = "";
        e.type = HF_EVENT_PURCHASE;
        e.event_time = (int64_t)(D0 + i) * HF_MS_PER_DAY;
        e.amount_minor = 100;
        e.items = 1;
        uint32_t counted;
        assert_int_equal(hf_engine_apply(&eng, c, &e, D0 + i, fx_count, &nsig,
                                         &counted), 0);
        assert_int_equal(counted, 3);
    }
    assert_int_equal(nsig, 1); /* the hire of w10 */
    assert_int_equal(c->target, 1);
    /* w10: 3 orders; D0 leaves on D0+10 (2 left), D0+1 on D0+11 (1 left). */
    assert_int_equal(c->due[0], D0 + 11);
    /* w20, not a target with 3 of 5 orders: due when its window empties. */
    assert_int_equal(c->due[1], D0 + 22);
    hf_engine_expire(&eng, c, 0, D0 + 11, fx_count, &nsig);
    assert_int_equal(nsig, 2); /* the fire */
    assert_int_equal(c->target, 0);
    assert_int_equal(c->due[0], HF_NO_DUE);
    assert_int_equal(c->ndays, 3);
    /* The last expiry prunes the days no window can see any more. */
    hf_engine_expire(&eng, c, 1, D0 + 22, fx_count, &nsig);
    assert_int_equal(nsig, 2);
    assert_int_equal(c->due[1], HF_NO_DUE);
    assert_int_equal(c->ndays, 0);
    hf_customer_destroy(c);
}

static void test_behaviour_failing(void **state)
{
    (void)state;
    hf_behaviour b;
    hf_behaviour_init(&b, "repeat");
    assert_string_equal(b.name, "repeat");
    assert_int_equal(b.window_days, 90);
    assert_true(b.has_min_orders);
    assert_int_equal(b.min_orders, 2);
    assert_false(b.has_min_items || b.has_min_net_minor || b.has_max_return_ratio);

    hf_window_metrics m = MET(1, 0, 0, 0, 0);
    assert_int_equal(hf_behaviour_failing(&b, &m), HF_FAIL_MIN_ORDERS);
    m.orders = 2;
    assert_int_equal(hf_behaviour_failing(&b, &m), 0);

    b.has_min_items = true;
    b.min_items = 1;
    b.has_min_net_minor = true;
    b.min_net_minor = 1;
    b.has_max_return_ratio = true;
    b.max_return_ratio = 0.0;
    hf_window_metrics only_returns = MET(0, 0, 0, 5, 1);
    assert_int_equal(hf_behaviour_failing(&b, &only_returns),
                     HF_FAIL_MIN_ORDERS | HF_FAIL_MIN_ITEMS | HF_FAIL_MIN_NET_MINOR |
                         HF_FAIL_MAX_RETURN_RATIO);
    b.max_return_ratio = 1e300;
    assert_int_equal(hf_behaviour_failing(&b, &only_returns) & HF_FAIL_MAX_RETURN_RATIO,
                     HF_FAIL_MAX_RETURN_RATIO);
    b.max_return_ratio = 0.0;
    hf_window_metrics zero = NOMET;
    assert_int_equal(hf_behaviour_failing(&b, &zero) & HF_FAIL_MAX_RETURN_RATIO, 0);

    assert_string_equal(hf_fail_name(HF_FAIL_MIN_ORDERS), "min_orders");
    assert_string_equal(hf_fail_name(HF_FAIL_MIN_ITEMS), "min_items");
    assert_string_equal(hf_fail_name(HF_FAIL_MIN_NET_MINOR), "min_net_minor");
    assert_string_equal(hf_fail_name(HF_FAIL_MAX_RETURN_RATIO), "max_return_ratio");
    assert_string_equal(hf_signal_kind_name(HF_KIND_FIRE), "fire");
    assert_string_equal(hf_signal_cause_name(HF_CAUSE_EXPIRY), "expiry");
}

/*--- Several streams ------------------------------------------------------*/

static void test_stats_add(void **state)
{
    (void)state;
    hf_behaviour bs[2] = {beh("short", 3, 2), beh("long", 10, 2)};
    fx *f = fx_new(bs, 2);
    pur(f, "a1", "a", D0, 1, 100, 1);
    pur(f, "b1", "b", D0 + 5, 2, 10, 1);
    pur(f, "a2", "a", D0 + 2, 3, 200, 2);
    pur(f, "a2", "a", D0 + 2, 3, 200, 2);
    pur(f, "a3", "a", D0 - 6, 3, 200, 2);
    hf_stream_count_invalid(&f->st);

    hf_stream_stats sum;
    memset(&sum, 0, sizeof(sum));
    hf_stream_stats_add(&sum, &f->st.stats, 2);
    hf_stream_stats_add(&sum, &f->st.stats, 2);
    assert_int_equal(sum.read, 12);
    assert_int_equal(sum.applied, 6);
    assert_int_equal(sum.duplicate, 2);
    assert_int_equal(sum.late, 2);
    assert_int_equal(sum.invalid, 2);
    assert_int_equal(sum.late_by_behaviour[0], 4);
    assert_int_equal(sum.late_by_behaviour[1], 2);
    assert_int_equal(sum.signals[1][HIRE][PURCHASE], 2);
    assert_int_equal(sum.signals[0][HIRE][PURCHASE], 0);
    assert_int_equal(sum.targets[1], 2);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hire_on_second_purchase),
        cmocka_unit_test(test_trigger_source_from_kafka),
        cmocka_unit_test(test_fire_by_expiry_at_start_of_due_day),
        cmocka_unit_test(test_expiry_before_apply_on_due_day),
        cmocka_unit_test(test_expiry_order_customer_bytes_and_behaviours),
        cmocka_unit_test(test_expiry_chain_in_same_pass_in_order),
        cmocka_unit_test(test_clock_jump_several_expiries_rehire_by_expiry),
        cmocka_unit_test(test_late_event_inside_window_counts),
        cmocka_unit_test(test_late_event_evaluated_at_clock_day),
        cmocka_unit_test(test_too_late_for_one_behaviour_not_another),
        cmocka_unit_test(test_duplicate_ignored_does_not_move_clock),
        cmocka_unit_test(test_duplicate_window_is_last_32_ids),
        cmocka_unit_test(test_duplicates_are_per_customer),
        cmocka_unit_test(test_invalid_changes_nothing),
        cmocka_unit_test(test_return_fires_net_and_ratio),
        cmocka_unit_test(test_negative_min_net_minor),
        cmocka_unit_test(test_min_items),
        cmocka_unit_test(test_return_ratio_infinite_and_zero),
        cmocka_unit_test(test_ties_on_the_same_day),
        cmocka_unit_test(test_advance),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_signal_ids_deterministic_and_distinct),
        cmocka_unit_test(test_engine_metrics_and_due),
        cmocka_unit_test(test_engine_due_skips_exits_without_change),
        cmocka_unit_test(test_behaviour_failing),
        cmocka_unit_test(test_stats_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

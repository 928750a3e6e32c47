/*
 * fuzz_common.h - helpers shared by the libFuzzer targets: an in-memory file
 * with a path (for decoders that open paths), event checks that make ASan
 * look at every byte a decoder hands out, and a round-trip comparison.
 */
#ifndef HF_FUZZ_COMMON_H
#define HF_FUZZ_COMMON_H

#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/event.h"

/* Aborts with a message: libFuzzer reports it as a crash with the input. */
#define FUZZ_CHECK(cond, what)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", what,         \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* An anonymous in-memory file and its /proc/self/fd path. */
typedef struct fuzz_memfile {
    int fd;
    char path[64];
} fuzz_memfile;

static inline void fuzz_memfile_open(fuzz_memfile *m, const char *name)
{
    m->fd = memfd_create(name, 0);
    FUZZ_CHECK(m->fd >= 0, "memfd_create");
    snprintf(m->path, sizeof(m->path), "/proc/self/fd/%d", m->fd);
}

/* Replaces the file's content with data. */
static inline void fuzz_memfile_set(fuzz_memfile *m, const uint8_t *data,
                                    size_t size)
{
    FUZZ_CHECK(ftruncate(m->fd, 0) == 0, "ftruncate");
    size_t off = 0;
    while (off < size) {
        ssize_t n = pwrite(m->fd, data + off, size - off, (off_t)off);
        FUZZ_CHECK(n > 0, "pwrite");
        off += (size_t)n;
    }
}

/* Reads every byte of s so that ASan checks the pointer and length. */
static inline unsigned fuzz_touch(const char *s, size_t len)
{
    unsigned h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31u + (unsigned char)s[i];
    return h;
}

/* The invariants of a decoded, validated event (event.h). */
static inline void fuzz_check_event(const hf_event *e)
{
    volatile unsigned sink = 0;
    FUZZ_CHECK(e->event_id != NULL && e->customer_id != NULL &&
                   e->order_id != NULL,
               "event strings set");
    sink += fuzz_touch(e->event_id, e->event_id_len);
    sink += fuzz_touch(e->customer_id, e->customer_id_len);
    sink += fuzz_touch(e->order_id, e->order_id_len);
    FUZZ_CHECK(memchr(e->currency, '\0', sizeof(e->currency)) != NULL,
               "currency NUL-terminated");
    FUZZ_CHECK(e->type == HF_EVENT_PURCHASE || e->type == HF_EVENT_RETURN,
               "event type");
    FUZZ_CHECK(e->amount_minor >= 0 && e->amount_minor <= HF_MAX_AMOUNT_MINOR,
               "amount_minor in bounds");
    FUZZ_CHECK(e->items >= 0 && e->items <= HF_MAX_ITEMS, "items in bounds");
    char err[256];
    FUZZ_CHECK(hf_event_validate(e, err, sizeof(err)) == 0,
               "decoded event validates");
    (void)sink;
}

static inline int fuzz_same_str(const char *a, size_t alen, const char *b,
                                size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Aborts unless a and b carry the same event (the source is not compared). */
static inline void fuzz_check_same_event(const hf_event *a, const hf_event *b)
{
    FUZZ_CHECK(fuzz_same_str(a->event_id, a->event_id_len, b->event_id,
                             b->event_id_len),
               "round trip: event_id");
    FUZZ_CHECK(a->type == b->type, "round trip: type");
    FUZZ_CHECK(fuzz_same_str(a->customer_id, a->customer_id_len,
                             b->customer_id, b->customer_id_len),
               "round trip: customer_id");
    FUZZ_CHECK(fuzz_same_str(a->order_id, a->order_id_len, b->order_id,
                             b->order_id_len),
               "round trip: order_id");
    FUZZ_CHECK(a->event_time == b->event_time, "round trip: event_time");
    FUZZ_CHECK(a->amount_minor == b->amount_minor, "round trip: amount_minor");
    FUZZ_CHECK(strcmp(a->currency, b->currency) == 0, "round trip: currency");
    FUZZ_CHECK(a->items == b->items, "round trip: items");
}

#endif

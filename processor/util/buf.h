/* buf.h - a growable byte buffer for encoders. */
#ifndef HF_BUF_H
#define HF_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_buf {
    char *data;   /* NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
} hf_buf;

#define HF_BUF_INIT {NULL, 0, 0}

/* Each returns 0, or -1 when out of memory (the buffer is unchanged). */
int hf_buf_reserve(hf_buf *b, size_t extra);
int hf_buf_append(hf_buf *b, const void *data, size_t len);
int hf_buf_puts(hf_buf *b, const char *s);
int hf_buf_printf(hf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hf_buf_reset(hf_buf *b); /* len = 0, keeps memory */
void hf_buf_free(hf_buf *b);

/*
 * Writes v in decimal at p, zero-padded to at least `width` digits, and a
 * NUL (21 bytes at most, or width + 1); returns the end (where the NUL is).
 */
char *hf_put_u64(char *p, uint64_t v, int width);

#endif

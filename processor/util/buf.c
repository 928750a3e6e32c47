/* buf.c - a growable byte buffer for encoders. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hf_buf_reserve(hf_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int hf_buf_append(hf_buf *b, const void *data, size_t len)
{
    if (hf_buf_reserve(b, len) != 0)
        return -1;
    if (len > 0) /* data may be NULL then (an empty buffer's) */
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int hf_buf_puts(hf_buf *b, const char *s)
{
    return hf_buf_append(b, s, strlen(s));
}

int hf_buf_printf(hf_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return hf_buf_append(b, small, (size_t)n);
    if (hf_buf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void hf_buf_reset(hf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void hf_buf_free(hf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *hf_put_u64(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n < width && n < (int)sizeof(tmp))
        tmp[n++] = '0';
    while (n > 0)
        *p++ = tmp[--n];
    *p = '\0';
    return p;
}

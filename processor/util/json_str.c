/*
 * json_str.c - JSON string literals: always valid JSON whatever the bytes
 * (invalid UTF-8 is written as U+FFFD), and short quoted values for error texts.
 */
#include "util/json_str.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t hf_utf8_seq(const unsigned char *s, size_t left)
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
            size_t n = hf_utf8_seq(p, (size_t)(end - p));
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

/* json_str.h - JSON string literals for every writer of JSON text. */
#ifndef HF_JSON_STR_H
#define HF_JSON_STR_H

#include <stddef.h>

#include "util/buf.h"

/* Length of the valid UTF-8 sequence at s (1..4, left > 0), or 0 when it is
 * invalid (overlong forms, surrogates and code points over U+10FFFF are). */
size_t hf_utf8_seq(const unsigned char *s, size_t left);

/* Appends s as a JSON string literal with quotes and escapes. */
int hf_json_append_string(hf_buf *out, const char *s, size_t len);

/*
 * Writes s as a JSON string literal into dst for error texts: at most 64
 * bytes of s are shown, a longer value ends in `..."`. dst is always
 * NUL-terminated; HF_QUOTE_MAX bytes always hold the whole text.
 */
#define HF_QUOTE_MAX 400
void hf_json_quote_short(char *dst, size_t dst_size, const char *s,
                         size_t len);

#endif

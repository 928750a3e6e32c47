/* csv.c - CSV fields (RFC 4180). */
#include "util/csv.h"

#include <string.h>

int hf_csv_append_field(hf_buf *b, const char *s, size_t len)
{
    int plain = 1;
    for (size_t i = 0; i < len && plain; i++)
        plain = s[i] != ',' && s[i] != '"' && s[i] != '\r' && s[i] != '\n' && s[i] != '\0';
    if (plain)
        return hf_buf_append(b, s, len);
    if (hf_buf_append(b, "\"", 1) != 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((s[i] == '"' && hf_buf_append(b, "\"", 1) != 0) || hf_buf_append(b, s + i, 1) != 0)
            return -1;
    return hf_buf_append(b, "\"", 1);
}

/*
 * avro_file.c - Avro object container files: the reader of event files and
 * the writer of signal and event files.
 *
 * Reading: avro-c's 1.11.1 file reader cannot open a file without blocks,
 * ignores errors after a block and reports the end of the file like any
 * read error. So hf_avro_file_open first walks the file's framing itself
 * (header, block counts and sizes, sync markers); then the records of the
 * intact blocks are read here (null codec, decoded by codec_avro.c's plan)
 * or by avro-c's reader (deflate and the other codecs).
 */
#define _GNU_SOURCE /* fopencookie */
#include "codec/avro_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/avro_int.h"
#include "codec/codec_avro.h"

/*--- Container files: the framing check ------------------------------------*/

/* Limits against absurd lengths in a damaged header. */
#define MAX_META_VALUE (16 * 1024 * 1024)

struct hf_avro_file {
    char *path;
    avro_file_reader_t fr;   /* NULL when no block is intact */
    hf_avro_event_reader *r; /* for the file's writer schema */
    int64_t records;         /* records in the intact blocks */
    int64_t read;            /* records read so far */
    int failed;              /* -2 was returned: nothing more to read */
    char corrupt[256];       /* why the intact part ends early, or "" */
    /* null codec: the blocks are read here, not by avro-c */
    FILE *fp;
    uint8_t *block;
    size_t block_cap;
    hf_avro_cursor cur;      /* in block */
    int64_t block_left;      /* records left in block */
};

static int read_exact(FILE *fp, void *p, size_t n)
{
    return fread(p, 1, n, fp) == n ? 0 : -1;
}

/* A zig-zag varint long; *at_eof set when the file ends before its first
 * byte. Returns 0 or -1. */
static int read_long(FILE *fp, int64_t *v, int *at_eof)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        int c = getc(fp);
        if (c == EOF) {
            if (at_eof)
                *at_eof = shift == 0;
            return -1;
        }
        u |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

/* Reads the header; sets *schema_json (malloc'ed) and *codec_null. */
static int scan_header(FILE *fp, char sync[16], char **schema_json,
                       size_t *schema_len, int *codec_null, char *errstr,
                       size_t errstr_size)
{
    *codec_null = 1; /* no avro.codec means null */
    char magic[4];
    if (read_exact(fp, magic, 4) != 0 || !hf_avro_is_container(magic, 4)) {
        snprintf(errstr, errstr_size, "not an Avro container file");
        return -1;
    }
    for (;;) {
        int64_t count, bytes;
        if (read_long(fp, &count, NULL) != 0)
            goto corrupt;
        if (count == 0)
            break;
        if (count < 0) {
            if (count == INT64_MIN)
                goto corrupt;
            count = -count;
            if (read_long(fp, &bytes, NULL) != 0)
                goto corrupt;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t klen, vlen;
            char key[64];
            if (read_long(fp, &klen, NULL) != 0 || klen < 0)
                goto corrupt;
            if ((size_t)klen < sizeof(key)) {
                if (read_exact(fp, key, (size_t)klen) != 0)
                    goto corrupt;
                key[klen] = '\0';
            } else {
                key[0] = '\0';
                if (fseeko(fp, (off_t)klen, SEEK_CUR) != 0)
                    goto corrupt;
            }
            if (read_long(fp, &vlen, NULL) != 0 || vlen < 0 ||
                vlen > MAX_META_VALUE)
                goto corrupt;
            if (strcmp(key, "avro.schema") == 0 && *schema_json == NULL) {
                *schema_json = malloc((size_t)vlen + 1);
                if (*schema_json == NULL) {
                    snprintf(errstr, errstr_size, "out of memory");
                    return -1;
                }
                if (read_exact(fp, *schema_json, (size_t)vlen) != 0)
                    goto corrupt;
                (*schema_json)[vlen] = '\0';
                *schema_len = (size_t)vlen;
            } else if (strcmp(key, "avro.codec") == 0 && vlen < 16) {
                char codec[16];
                if (read_exact(fp, codec, (size_t)vlen) != 0)
                    goto corrupt;
                *codec_null = vlen == 4 && memcmp(codec, "null", 4) == 0;
            } else if (fseeko(fp, (off_t)vlen, SEEK_CUR) != 0) {
                goto corrupt;
            }
        }
    }
    if (read_exact(fp, sync, 16) != 0)
        goto corrupt;
    if (*schema_json == NULL) {
        snprintf(errstr, errstr_size, "Avro file header has no schema");
        return -1;
    }
    return 0;
corrupt:
    snprintf(errstr, errstr_size, "corrupt Avro file header");
    return -1;
}

/*
 * With the null codec, the records of a block are checked before avro-c
 * reads them (hf_avro_check_record: avro-c allocates declared lengths
 * first). Deflated blocks are checked by avro-c alone.
 */
static int check_block(FILE *fp, int64_t count, int64_t size,
                       const hf_avro_event_reader *r)
{
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    int ok = buf != NULL && read_exact(fp, buf, (size_t)size) == 0;
    hf_avro_cursor c = {buf, (size_t)size};
    for (int64_t i = 0; ok && i < count; i++)
        ok = hf_avro_check_record(r, &c) == 0;
    free(buf);
    return ok ? 0 : -1;
}

/* Walks the blocks after the header: f->records and f->corrupt. */
static void scan_blocks(FILE *fp, off_t file_size, const char sync[16],
                        int codec_null, hf_avro_file *f)
{
    for (int64_t block = 1;; block++) {
        int64_t count, size;
        int at_eof = 0;
        char marker[16];
        if (read_long(fp, &count, &at_eof) != 0) {
            if (!at_eof)
                snprintf(f->corrupt, sizeof(f->corrupt),
                         "corrupt Avro file: block %lld: bad record count",
                         (long long)block);
            return; /* at_eof: the clean end */
        }
        if (count <= 0 || read_long(fp, &size, NULL) != 0 || size < 0) {
            snprintf(f->corrupt, sizeof(f->corrupt),
                     "corrupt Avro file: block %lld: bad block header",
                     (long long)block);
            return;
        }
        off_t pos = ftello(fp);
        if (codec_null && pos >= 0 && size <= (int64_t)(file_size - pos)) {
            if (check_block(fp, count, size, f->r) != 0) {
                snprintf(f->corrupt, sizeof(f->corrupt),
                         "corrupt Avro file: block %lld: a record does not fit the block",
                         (long long)block);
                return;
            }
            size = 0; /* read already */
        }
        if (pos < 0 || size > (int64_t)(file_size - pos) ||
            fseeko(fp, (off_t)size, SEEK_CUR) != 0 ||
            read_exact(fp, marker, 16) != 0) {
            snprintf(f->corrupt, sizeof(f->corrupt),
                     "corrupt Avro file: block %lld: truncated",
                     (long long)block);
            return;
        }
        if (memcmp(marker, sync, 16) != 0) {
            snprintf(f->corrupt, sizeof(f->corrupt),
                     "corrupt Avro file: block %lld: sync marker mismatch",
                     (long long)block);
            return;
        }
        f->records += count;
    }
}

/*--- Container files: reading ----------------------------------------------*/

hf_avro_file *hf_avro_file_open(const char *path, char *errstr,
                                size_t errstr_size)
{
    char sync[16];
    char *schema_json = NULL;
    size_t schema_len = 0;
    avro_schema_t schema = NULL;
    char why[256];
    struct stat st;

    if (strcmp(path, "-") == 0) {
        snprintf(errstr, errstr_size,
                 "-: cannot read an Avro container file from a stream");
        return NULL;
    }
    hf_avro_file *f = calloc(1, sizeof(*f));
    FILE *fp = fopen(path, "rb");
    if (fp == NULL || f == NULL || fstat(fileno(fp), &st) != 0) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path,
                 f ? strerror(errno) : "out of memory");
        goto fail;
    }
    f->path = strdup(path);
    if (f->path == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    int codec_null;
    if (scan_header(fp, sync, &schema_json, &schema_len, &codec_null, why,
                    sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, why);
        goto fail;
    }
    if (hf_avro_schema_parse(schema_json, schema_len, &schema, why,
                             sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, why);
        goto fail;
    }
    f->r = hf_avro_event_reader_new(schema, why, sizeof(why));
    if (f->r == NULL) {
        snprintf(errstr, errstr_size, "%s: %s", path, why);
        goto fail;
    }
    off_t data_start = ftello(fp);
    scan_blocks(fp, st.st_size, sync, codec_null, f);
    if (codec_null && data_start >= 0 && fseeko(fp, data_start, SEEK_SET) == 0) {
        /* Checked block by block already: read them here (hf_avro_fast_decode). */
        f->fp = fp;
        fp = NULL;
    } else {
        fclose(fp);
        fp = NULL;
    }
    /* avro-c reads the header and the first block on open: only open it
     * when there is an intact block */
    if (f->records > 0 && f->fp == NULL) {
        int rc = avro_file_reader(path, &f->fr);
        if (rc != 0) {
            f->fr = NULL;
            snprintf(errstr, errstr_size, "%s: %s", path,
                     rc == EILSEQ || rc == EINVAL ? avro_strerror()
                                                  : strerror(rc));
            goto fail;
        }
    }
    avro_schema_decref(schema);
    free(schema_json);
    return f;
fail:
    if (fp)
        fclose(fp);
    if (schema)
        avro_schema_decref(schema);
    free(schema_json);
    hf_avro_file_close(f);
    return NULL;
}

/* The next block of a null-codec file (checked on open) into f->block. */
static int next_block(hf_avro_file *f)
{
    int64_t count, size;
    char marker[16];
    if (read_long(f->fp, &count, NULL) != 0 || read_long(f->fp, &size, NULL) != 0 ||
        count <= 0 || size < 0)
        return -1;
    if ((size_t)size > f->block_cap) {
        uint8_t *b = realloc(f->block, (size_t)size);
        if (b == NULL)
            return -1;
        f->block = b;
        f->block_cap = (size_t)size;
    }
    if (read_exact(f->fp, f->block, (size_t)size) != 0 || read_exact(f->fp, marker, 16) != 0)
        return -1;
    f->cur = (hf_avro_cursor){f->block, (size_t)size};
    f->block_left = count;
    return 0;
}

/* hf_avro_file_next of a null-codec file: its datums decoded here. */
static int next_raw(hf_avro_file *f, hf_event *e, char *errstr, size_t errstr_size)
{
    if (f->block_left == 0 && next_block(f) != 0) {
        snprintf(f->corrupt, sizeof(f->corrupt), "corrupt Avro file: record %lld: %s",
                 (long long)f->read,
                 ferror(f->fp) ? strerror(errno)
                               : "the file changed while it was read (replay a copy that "
                                 "nothing writes to)");
        f->failed = 1;
        hf_avro_event_clear(e);
        snprintf(errstr, errstr_size, "%s", f->corrupt);
        return -2;
    }
    f->block_left--;
    const uint8_t *start = f->cur.p;
    int rc;
    if (!hf_avro_fast_decode(f->r, &f->cur, e, &rc, errstr, errstr_size)) {
        hf_avro_cursor end = {start, f->cur.left + (size_t)(f->cur.p - start)};
        if (hf_avro_check_record(f->r, &end) != 0) { /* checked on open */
            snprintf(f->corrupt, sizeof(f->corrupt),
                     "corrupt Avro file: record %lld: the file changed while it was read "
                     "(replay a copy that nothing writes to)", (long long)f->read);
            f->failed = 1;
            hf_avro_event_clear(e);
            snprintf(errstr, errstr_size, "%s", f->corrupt);
            return -2;
        }
        f->cur = end;
        rc = hf_avro_event_decode(f->r, start, (size_t)(end.p - start), e, errstr,
                                  errstr_size);
    }
    e->source.topic = NULL;
    e->source.partition = -1;
    e->source.offset = f->read;
    return rc == 0 ? 1 : -1;
}

int hf_avro_file_next(hf_avro_file *f, hf_event *e, char *errstr,
                      size_t errstr_size)
{
    if (f->failed || f->read >= f->records) {
        if (f->corrupt[0] == '\0')
            return 0;
        f->failed = 1;
        hf_avro_event_clear(e);
        snprintf(errstr, errstr_size, "%s", f->corrupt);
        return -2;
    }
    f->read++;
    if (f->fp != NULL)
        return next_raw(f, e, errstr, errstr_size);
    if (avro_file_reader_read_value(f->fr, hf_avro_event_reader_value(f->r)) != 0) {
        snprintf(f->corrupt, sizeof(f->corrupt),
                 "corrupt Avro file: record %lld: %s", (long long)f->read,
                 avro_strerror());
        f->failed = 1;
        hf_avro_event_clear(e);
        snprintf(errstr, errstr_size, "%s", f->corrupt);
        return -2;
    }
    int rc = hf_avro_map_record(f->r, hf_avro_event_reader_value(f->r), NULL, e,
                                errstr, errstr_size);
    e->source.topic = NULL;
    e->source.partition = -1;
    e->source.offset = f->read;
    return rc == 0 ? 1 : -1;
}

int64_t hf_avro_file_records(const hf_avro_file *f)
{
    return f->records;
}

void hf_avro_file_close(hf_avro_file *f)
{
    if (f == NULL)
        return;
    if (f->fr)
        avro_file_reader_close(f->fr);
    if (f->fp)
        fclose(f->fp);
    free(f->block);
    hf_avro_event_reader_destroy(f->r);
    free(f->path);
    free(f);
}

/*--- Container files: writing ----------------------------------------------*/

/*
 * avro-c's file writer blocks and compresses the records, but the schema it
 * puts in the header is its own rendering of the parsed schema, without
 * "logicalType" and "default" attributes. So it writes into a stream of
 * ours that swallows its header and writes one with our schema text (and
 * avro-c's codec and sync marker) in its place; the blocks pass through.
 */

/* avro-c buffers a block in memory; a record must fit in one. */
#define BLOCK_SIZE (64 * 1024)

struct hf_avro_writer {
    avro_schema_t schema; /* avro-c's writer borrows it: keep it alive */
    avro_file_writer_t fw;
    FILE *stream;         /* the stream avro-c writes to (sink_write) */
    FILE *out;            /* the file, or stdout */
    const char *schema_json;
    const char *codec;
    hf_buf header;        /* avro-c's header, until it is replaced */
    int header_done;
    int failed;           /* a write to out failed */
    hf_buf buf;
};

static ssize_t sink_write(void *cookie, const char *data, size_t n)
{
    hf_avro_writer *w = cookie;
    if (!w->header_done)
        return hf_buf_append(&w->header, data, n) == 0 ? (ssize_t)n : -1;
    if (fwrite(data, 1, n, w->out) != n) {
        w->failed = 1;
        return -1;
    }
    return (ssize_t)n;
}

/* Writes our header with the sync marker that ends avro-c's. */
static int write_header(hf_avro_writer *w)
{
    if (w->header.len < 4 + 16)
        return -1;
    hf_buf h = HF_BUF_INIT;
    int rc = hf_buf_append(&h, "Obj\x01", 4) || put_long(&h, 2) ||
             put_string(&h, "avro.codec", 10) ||
             put_string(&h, w->codec, strlen(w->codec)) ||
             put_string(&h, "avro.schema", 11) ||
             put_string(&h, w->schema_json, strlen(w->schema_json)) ||
             put_long(&h, 0) ||
             hf_buf_append(&h, w->header.data + w->header.len - 16, 16);
    if (rc == 0 && fwrite(h.data, 1, h.len, w->out) != h.len)
        rc = -1;
    hf_buf_free(&h);
    hf_buf_free(&w->header);
    w->header_done = 1;
    return rc ? -1 : 0;
}

static void writer_free(hf_avro_writer *w)
{
    if (w->stream)
        fclose(w->stream);
    if (w->out && w->out != stdout)
        fclose(w->out);
    if (w->schema)
        avro_schema_decref(w->schema);
    hf_buf_free(&w->header);
    hf_buf_free(&w->buf);
    free(w);
}

static hf_avro_writer *writer_open(const char *path, const char *codec,
                                   const char *schema_json, char *errstr,
                                   size_t errstr_size)
{
    static const char *const codecs[] = {"null", "deflate", "snappy", "lzma"};
    size_t c = 0;
    while (c < 4 && strcmp(codec, codecs[c]) != 0)
        c++;
    if (c == 4) { /* avro-c 1.11.1 reads uninitialised memory on these */
        snprintf(errstr, errstr_size,
                 "unknown Avro codec \"%s\" (null, deflate, snappy, lzma)",
                 codec);
        return NULL;
    }
    hf_avro_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    w->schema_json = schema_json;
    w->codec = codecs[c];
    if (hf_avro_schema_parse(schema_json, strlen(schema_json), &w->schema,
                             errstr, errstr_size) != 0) {
        writer_free(w);
        return NULL;
    }
    w->out = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (w->out == NULL) {
        snprintf(errstr, errstr_size, "cannot create Avro file %s: %s", path,
                 strerror(errno));
        writer_free(w);
        return NULL;
    }
    cookie_io_functions_t io = {NULL, sink_write, NULL, NULL};
    w->stream = fopencookie(w, "w", io);
    if (w->stream == NULL ||
        avro_file_writer_create_with_codec_fp(w->stream, path, 0, w->schema,
                                              &w->fw, codec, BLOCK_SIZE) != 0) {
        snprintf(errstr, errstr_size, "cannot create Avro file %s: %s", path,
                 w->stream ? avro_strerror() : strerror(errno));
        writer_free(w);
        return NULL;
    }
    if (fflush(w->stream) != 0 || write_header(w) != 0) {
        snprintf(errstr, errstr_size, "cannot write Avro file %s: %s", path,
                 strerror(errno));
        avro_file_writer_close(w->fw);
        writer_free(w);
        return NULL;
    }
    return w;
}

hf_avro_writer *hf_avro_signal_file_open(const char *path, const char *codec,
                                         char *errstr, size_t errstr_size)
{
    return writer_open(path, codec, hf_avro_switch_signal_schema_json, errstr,
                       errstr_size);
}

hf_avro_writer *hf_avro_event_file_open(const char *path, const char *codec,
                                        char *errstr, size_t errstr_size)
{
    return writer_open(path, codec, hf_avro_customer_event_schema_json,
                       errstr, errstr_size);
}

static int writer_append(hf_avro_writer *w, char *errstr, size_t errstr_size)
{
    if (avro_file_writer_append_encoded(w->fw, w->buf.data,
                                        (int64_t)w->buf.len) != 0) {
        snprintf(errstr, errstr_size, "cannot write Avro record: %s",
                 avro_strerror());
        return -1;
    }
    return 0;
}

int hf_avro_signal_file_write(hf_avro_writer *w, const hf_signal *s,
                              char *errstr, size_t errstr_size)
{
    hf_buf_reset(&w->buf);
    if (hf_avro_encode_signal(s, &w->buf) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return writer_append(w, errstr, errstr_size);
}

int hf_avro_event_file_write(hf_avro_writer *w, const hf_event *e,
                             char *errstr, size_t errstr_size)
{
    hf_buf_reset(&w->buf);
    if (hf_avro_encode_event(e, &w->buf) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return writer_append(w, errstr, errstr_size);
}

int hf_avro_writer_close(hf_avro_writer *w, char *errstr, size_t errstr_size)
{
    int rc = 0;
    if (w == NULL)
        return 0;
    if (avro_file_writer_close(w->fw) != 0) {
        snprintf(errstr, errstr_size, "cannot write Avro file: %s",
                 avro_strerror());
        rc = -1;
    }
    FILE *stream = w->stream, *out = w->out;
    w->stream = NULL;
    w->out = NULL;
    int bad = fclose(stream) != 0 || w->failed;
    bad |= out == stdout ? fflush(out) != 0 : fclose(out) != 0;
    if (bad && rc == 0) {
        snprintf(errstr, errstr_size, "cannot write Avro file: %s",
                 strerror(errno));
        rc = -1;
    }
    writer_free(w);
    return rc;
}

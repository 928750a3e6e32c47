/*
 * fuzz_avro_file.c - libFuzzer target for Avro input (codec_avro.h):
 *  - the input as a container file (hf_avro_file_open on an in-memory file,
 *    then hf_avro_file_next to the end or to the first corrupt record);
 *  - the input as one raw datum of schemas/customer_event.avsc
 *    (hf_avro_event_decode).
 * Events that decode must satisfy the event invariants; a file never yields
 * more events than hf_avro_file_records counted.
 */
#include "fuzz_common.h"

#include "codec/codec_avro.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fuzz_memfile file;
static hf_avro_event_reader *reader;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    avro_schema_t schema;
    char err[512];

    fuzz_memfile_open(&file, "hf-fuzz-avro-file");
    FUZZ_CHECK(hf_avro_schema_parse(hf_avro_customer_event_schema_json,
                                    strlen(hf_avro_customer_event_schema_json),
                                    &schema, err, sizeof(err)) == 0,
               err);
    reader = hf_avro_event_reader_new(schema, err, sizeof(err));
    FUZZ_CHECK(reader != NULL, err);
    avro_schema_decref(schema);
    return 0;
}

static void read_file(void)
{
    char err[512];
    hf_event e;
    hf_avro_file *f = hf_avro_file_open(file.path, err, sizeof(err));
    if (f == NULL) {
        FUZZ_CHECK(err[0] != '\0', "error text set");
        return;
    }
    int64_t records = hf_avro_file_records(f), seen = 0;
    FUZZ_CHECK(records >= 0, "records >= 0");
    for (;;) {
        int rc = hf_avro_file_next(f, &e, err, sizeof(err));
        FUZZ_CHECK(rc >= -2 && rc <= 1, "file_next result");
        if (rc == 0 || rc == -2)
            break;
        seen++;
        FUZZ_CHECK(seen <= records, "no more records than counted");
        if (rc == 1) {
            fuzz_check_event(&e);
            FUZZ_CHECK(e.source.offset == seen, "record number");
        }
    }
    hf_avro_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    hf_event e;

    fuzz_memfile_set(&file, data, size);
    read_file();
    if (hf_avro_event_decode(reader, data, size, &e, err, sizeof(err)) == 0)
        fuzz_check_event(&e);
    else
        FUZZ_CHECK(err[0] != '\0', "error text set");
    return 0;
}

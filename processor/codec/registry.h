/*
 * registry.h - where Avro writer schemas come from, by schema id: a
 * Confluent schema registry (REST, with a cache), or a directory of
 * <id>.avsc files when no registry is configured.
 *
 * Registry requests:
 *   GET  <url>/schemas/ids/<id>           -> {"schema": "<schema json>"}
 *   POST <url>/subjects/<subject>/versions  {"schema": "..."} -> {"id": N}
 * with Accept: application/vnd.schemaregistry.v1+json, a connect timeout of
 * 2 s and a total timeout of 5 s (hf_schema_source_set_timeouts), and HTTP
 * basic auth from the userinfo of the URL (http://user:pass@host:8081); the
 * password never appears in error texts.
 *
 * Cache: a schema is fetched (or read) once per id and kept, parsed, until
 * the source is destroyed. A failed lookup is reported on every call, but
 * the same id is asked again at most once per second; in between, the last
 * error text is returned without a request.
 *
 * Error texts (errstr), e.g.
 *   schema registry http://127.0.0.1:1/schemas/ids/7: Couldn't connect to server
 *   schema registry returned 404 for schema id 7: Schema 7 not found
 *   schema registry returned 409 for subject signals-value: Schema being registered is incompatible ...
 *   schema registry http://h:8081/schemas/ids/7: response is not a JSON object with a "schema" string
 *   schema id 7 is a PROTOBUF schema, not Avro
 *   invalid Avro schema for id 7: <avro-c's reason>
 *   cannot read schemas/7.avsc: No such file or directory
 *
 * A source may be used from several threads (calls are serialised).
 */
#ifndef HF_REGISTRY_H
#define HF_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

typedef struct hf_schema_source hf_schema_source;

/*
 * registry_url: "http[s]://[user:pass@]host:port[/path]", or NULL/"" for
 * none. schema_dir: a directory of <id>.avsc files, used only when there is
 * no registry URL. At least one of them must be given. Returns NULL with
 * errstr on a bad URL or when neither is set.
 */
hf_schema_source *hf_schema_source_new(const char *registry_url,
                                       const char *schema_dir, char *errstr,
                                       size_t errstr_size);
void hf_schema_source_destroy(hf_schema_source *s); /* accepts NULL */

/* Registry timeouts in milliseconds (defaults 2000 and 5000). */
void hf_schema_source_set_timeouts(hf_schema_source *s, long connect_ms,
                                   long total_ms);

/*
 * The writer schema with this id. Returns a borrowed reference that stays
 * valid until hf_schema_source_destroy(), or NULL with errstr.
 */
avro_schema_t hf_schema_source_get(hf_schema_source *s, int32_t id,
                                   char *errstr, size_t errstr_size);

/*
 * Registers schema_json under subject (e.g. "<output.topic>-value") and sets
 * *id. Needs a registry (a schema directory cannot register). The schema is
 * cached under the returned id. Returns 0, or -1 with errstr.
 */
int hf_schema_source_register(hf_schema_source *s, const char *subject,
                              const char *schema_json, int32_t *id,
                              char *errstr, size_t errstr_size);

/* "schema registry http://host:8081" (no password) or "schema directory D". */
const char *hf_schema_source_describe(const hf_schema_source *s);

/* Number of HTTP requests made (or files read) so far, for metrics and tests. */
uint64_t hf_schema_source_requests(const hf_schema_source *s);

#endif

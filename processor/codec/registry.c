/*
 * registry.c - writer schemas by id from a Confluent schema registry (libcurl
 * + jansson) or a directory of <id>.avsc files, with a cache by id.
 */
#include "codec/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/clock.h"

#define ACCEPT_HEADER "Accept: application/vnd.schemaregistry.v1+json"
#define CONTENT_HEADER "Content-Type: application/vnd.schemaregistry.v1+json"
#define MAX_RESPONSE (8u << 20) /* a schema bigger than this is a mistake */
#define RETRY_MS 1000
#define ERR_MAX 512

typedef struct entry {
    int32_t id;
    int used;
    avro_schema_t schema; /* NULL while the id is unknown */
    int64_t failed_at_ms; /* monotonic time of the last failed lookup */
    char *error;          /* its error text */
} entry;

struct hf_schema_source {
    char *base;       /* registry URL without userinfo and trailing '/', or NULL */
    char *userpwd;    /* "user:password" for basic auth, or NULL */
    char *dir;        /* schema directory, or NULL */
    char *describe;
    long connect_ms;
    long total_ms;
    CURL *curl;       /* one handle, so connections are reused */
    entry *tab;       /* open addressing, linear probing, power-of-2 size */
    size_t cap;
    size_t n;
    uint64_t requests;
    pthread_mutex_t lock;
};

/*--- Helpers ----------------------------------------------------------------*/

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/*--- Cache ------------------------------------------------------------------*/

static size_t slot_of(int32_t id, size_t cap)
{
    uint32_t h = (uint32_t)id * 2654435761u;
    return h & (cap - 1);
}

static entry *find(hf_schema_source *s, int32_t id)
{
    if (s->cap == 0)
        return NULL;
    for (size_t i = slot_of(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->tab[i].used)
            return NULL;
        if (s->tab[i].id == id)
            return &s->tab[i];
    }
}

static entry *insert(hf_schema_source *s, int32_t id)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        entry *tab = calloc(cap, sizeof(*tab));
        if (tab == NULL)
            return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->tab[i].used)
                continue;
            size_t j = slot_of(s->tab[i].id, cap);
            while (tab[j].used)
                j = (j + 1) & (cap - 1);
            tab[j] = s->tab[i];
        }
        free(s->tab);
        s->tab = tab;
        s->cap = cap;
    }
    size_t i = slot_of(id, s->cap);
    while (s->tab[i].used)
        i = (i + 1) & (s->cap - 1);
    s->tab[i].used = 1;
    s->tab[i].id = id;
    s->n++;
    return &s->tab[i];
}

/*--- Construction -----------------------------------------------------------*/

/* Splits userinfo off the URL: s->base (no credentials) and s->userpwd. */
static int parse_url(hf_schema_source *s, const char *url, char *errstr,
                     size_t errstr_size)
{
    CURLU *u = curl_url();
    char *user = NULL, *pass = NULL, *clean = NULL, *scheme = NULL;
    int rc = -1;
    if (u == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(errstr, errstr_size, "schema.registry.url: invalid URL \"%s\"",
                 url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(errstr, errstr_size,
                 "schema.registry.url: must be an http or https URL, got \"%s\"",
                 url);
        goto out;
    }
    curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
    curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &clean, 0) != CURLUE_OK) {
        snprintf(errstr, errstr_size, "schema.registry.url: invalid URL \"%s\"",
                 url);
        goto out;
    }
    size_t len = strlen(clean);
    while (len > 0 && clean[len - 1] == '/')
        clean[--len] = '\0';
    s->base = strdup(clean);
    if (user != NULL) {
        size_t n = strlen(user) + 1 + (pass ? strlen(pass) : 0) + 1;
        s->userpwd = malloc(n);
        if (s->userpwd != NULL)
            snprintf(s->userpwd, n, "%s:%s", user, pass ? pass : "");
    }
    if (s->base == NULL || (user != NULL && s->userpwd == NULL)) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    rc = 0;
out:
    curl_free(user);
    curl_free(pass);
    curl_free(clean);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

hf_schema_source *hf_schema_source_new(const char *registry_url,
                                       const char *schema_dir, char *errstr,
                                       size_t errstr_size)
{
    int have_url = registry_url != NULL && registry_url[0] != '\0';
    int have_dir = schema_dir != NULL && schema_dir[0] != '\0';
    if (!have_url && !have_dir) {
        snprintf(errstr, errstr_size,
                 "no schema source: set schema.registry.url or input.schema.dir");
        return NULL;
    }
    hf_schema_source *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->connect_ms = 2000;
    s->total_ms = 5000;
    if (have_url) {
        pthread_once(&curl_once, curl_init_once);
        if (parse_url(s, registry_url, errstr, errstr_size) != 0)
            goto fail;
        s->curl = curl_easy_init();
        if (s->curl == NULL) {
            snprintf(errstr, errstr_size, "cannot initialise libcurl");
            goto fail;
        }
        size_t n = strlen(s->base) + 32;
        s->describe = malloc(n);
        if (s->describe)
            snprintf(s->describe, n, "schema registry %s", s->base);
    } else {
        s->dir = xstrdup(schema_dir);
        size_t n = strlen(schema_dir) + 32;
        s->describe = malloc(n);
        if (s->describe)
            snprintf(s->describe, n, "schema directory %s", schema_dir);
    }
    if (s->describe == NULL || (have_dir && !have_url && s->dir == NULL)) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    return s;
fail:
    hf_schema_source_destroy(s);
    return NULL;
}

void hf_schema_source_destroy(hf_schema_source *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->tab[i].used)
            continue;
        if (s->tab[i].schema != NULL)
            avro_schema_decref(s->tab[i].schema);
        free(s->tab[i].error);
    }
    free(s->tab);
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    free(s->base);
    if (s->userpwd != NULL) {
        memset(s->userpwd, 0, strlen(s->userpwd));
        free(s->userpwd);
    }
    free(s->dir);
    free(s->describe);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void hf_schema_source_set_timeouts(hf_schema_source *s, long connect_ms,
                                   long total_ms)
{
    if (connect_ms > 0)
        s->connect_ms = connect_ms;
    if (total_ms > 0)
        s->total_ms = total_ms;
}

const char *hf_schema_source_describe(const hf_schema_source *s)
{
    return s->describe;
}

uint64_t hf_schema_source_requests(const hf_schema_source *s)
{
    return s->requests;
}

/*--- HTTP -------------------------------------------------------------------*/

typedef struct body {
    char *data;
    size_t len;
    int too_big;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    body *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n > MAX_RESPONSE) {
        b->too_big = 1;
        return 0;
    }
    char *p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/*
 * One request. post_body NULL means GET. On transport failure fills errstr
 * with "schema registry <url>: <curl's reason>" and returns -1; otherwise
 * sets *status and the response body (caller frees resp->data).
 */
static int http(hf_schema_source *s, const char *url, const char *post_body,
                long *status, body *resp, char *errstr, size_t errstr_size)
{
    CURL *c = s->curl;
    struct curl_slist *headers = NULL;
    curl_easy_reset(c);
    headers = curl_slist_append(headers, ACCEPT_HEADER);
    if (post_body != NULL)
        headers = curl_slist_append(headers, CONTENT_HEADER);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->total_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hirefire");
    if (s->userpwd != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
    }
    if (post_body != NULL) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post_body));
    }
    s->requests++;
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (cc != CURLE_OK) {
        if (resp->too_big)
            snprintf(errstr, errstr_size,
                     "schema registry %s: response larger than %u bytes", url,
                     MAX_RESPONSE);
        else
            snprintf(errstr, errstr_size, "schema registry %s: %s", url,
                     curl_easy_strerror(cc));
        free(resp->data);
        resp->data = NULL;
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* The registry's reason for an error status: its "message", or the body. */
static void error_reason(const body *resp, char *out, size_t out_size)
{
    json_t *root = resp->data ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(root, "message"));
    if (msg != NULL) {
        snprintf(out, out_size, "%s", msg);
    } else if (resp->data != NULL && resp->len > 0) {
        size_t n = resp->len;
        while (n > 0 && (resp->data[n - 1] == '\n' || resp->data[n - 1] == '\r'))
            n--;
        snprintf(out, out_size, "%.*s", (int)(n > 200 ? 200 : n), resp->data);
    } else {
        snprintf(out, out_size, "(empty response)");
    }
    json_decref(root);
}

static avro_schema_t parse_schema(const char *json, size_t len,
                                  const char *where, char *errstr,
                                  size_t errstr_size)
{
    avro_schema_t schema = NULL;
    if (avro_schema_from_json_length(json, len, &schema) != 0 || schema == NULL) {
        char why[256];
        snprintf(why, sizeof(why), "%s", avro_strerror());
        size_t n = strlen(why);
        while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
            why[--n] = '\0';
        snprintf(errstr, errstr_size, "invalid Avro schema %s: %s", where, why);
        return NULL;
    }
    return schema;
}

static avro_schema_t fetch_registry(hf_schema_source *s, int32_t id,
                                    char *errstr, size_t errstr_size)
{
    char url[2048];
    char where[64];
    snprintf(url, sizeof(url), "%s/schemas/ids/%d", s->base, (int)id);
    long status = 0;
    body resp = {NULL, 0, 0};
    if (http(s, url, NULL, &status, &resp, errstr, errstr_size) != 0)
        return NULL;
    avro_schema_t schema = NULL;
    json_t *root = NULL;
    if (status != 200) {
        char why[ERR_MAX];
        error_reason(&resp, why, sizeof(why));
        snprintf(errstr, errstr_size,
                 "schema registry returned %ld for schema id %d: %s", status,
                 (int)id, why);
        goto out;
    }
    root = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    json_t *text = json_object_get(root, "schema");
    if (!json_is_string(text)) {
        snprintf(errstr, errstr_size,
                 "schema registry %s: response is not a JSON object with a "
                 "\"schema\" string",
                 url);
        goto out;
    }
    const char *type = json_string_value(json_object_get(root, "schemaType"));
    if (type != NULL && strcmp(type, "AVRO") != 0) {
        snprintf(errstr, errstr_size, "schema id %d is a %s schema, not Avro",
                 (int)id, type);
        goto out;
    }
    snprintf(where, sizeof(where), "for id %d", (int)id);
    schema = parse_schema(json_string_value(text), json_string_length(text),
                          where, errstr, errstr_size);
out:
    json_decref(root);
    free(resp.data);
    return schema;
}

static avro_schema_t read_dir(hf_schema_source *s, int32_t id, char *errstr,
                              size_t errstr_size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%d.avsc", s->dir, (int)id);
    s->requests++;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    body b = {NULL, 0, 0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (on_data(chunk, 1, n, &b) != n) {
            snprintf(errstr, errstr_size, "cannot read %s: %s", path,
                     b.too_big ? "file too large" : "out of memory");
            fclose(fp);
            free(b.data);
            return NULL;
        }
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        snprintf(errstr, errstr_size, "cannot read %s: read error", path);
        free(b.data);
        return NULL;
    }
    char where[4200];
    snprintf(where, sizeof(where), "in %s", path);
    avro_schema_t schema = parse_schema(b.data ? b.data : "", b.len, where,
                                        errstr, errstr_size);
    free(b.data);
    return schema;
}

/*--- API --------------------------------------------------------------------*/

avro_schema_t hf_schema_source_get(hf_schema_source *s, int32_t id,
                                   char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&s->lock);
    avro_schema_t schema = NULL;
    entry *e = find(s, id);
    if (e != NULL && e->schema != NULL) {
        schema = e->schema;
        goto out;
    }
    int64_t now = hf_clock_mono_ms();
    if (e != NULL && e->error != NULL && now - e->failed_at_ms < RETRY_MS) {
        snprintf(errstr, errstr_size, "%s", e->error);
        goto out;
    }
    char why[ERR_MAX];
    schema = s->base ? fetch_registry(s, id, why, sizeof(why))
                     : read_dir(s, id, why, sizeof(why));
    if (e == NULL)
        e = insert(s, id);
    if (e == NULL) {
        if (schema != NULL)
            avro_schema_decref(schema);
        schema = NULL;
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (schema != NULL) {
        e->schema = schema;
        free(e->error);
        e->error = NULL;
    } else {
        free(e->error);
        e->error = strdup(why);
        e->failed_at_ms = now;
        snprintf(errstr, errstr_size, "%s", why);
    }
out:
    pthread_mutex_unlock(&s->lock);
    return schema;
}

int hf_schema_source_register(hf_schema_source *s, const char *subject,
                              const char *schema_json, int32_t *id,
                              char *errstr, size_t errstr_size)
{
    if (s->base == NULL) {
        snprintf(errstr, errstr_size,
                 "cannot register subject %s: no schema registry configured "
                 "(schema.registry.url)",
                 subject);
        return -1;
    }
    avro_schema_t schema = parse_schema(schema_json, strlen(schema_json),
                                        "to register", errstr, errstr_size);
    if (schema == NULL)
        return -1;
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *payload = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (payload == NULL) {
        avro_schema_decref(schema);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }

    pthread_mutex_lock(&s->lock);
    int rc = -1;
    json_t *root = NULL;
    body resp = {NULL, 0, 0};
    char url[2048];
    char *esc = curl_easy_escape(s->curl, subject, 0);
    snprintf(url, sizeof(url), "%s/subjects/%s/versions", s->base,
             esc ? esc : subject);
    curl_free(esc);
    long status = 0;
    if (http(s, url, payload, &status, &resp, errstr, errstr_size) != 0)
        goto out;
    if (status != 200) {
        char why[ERR_MAX];
        error_reason(&resp, why, sizeof(why));
        snprintf(errstr, errstr_size,
                 "schema registry returned %ld for subject %s: %s", status,
                 subject, why);
        goto out;
    }
    root = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    json_t *jid = json_object_get(root, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        json_integer_value(jid) > INT32_MAX) {
        snprintf(errstr, errstr_size,
                 "schema registry %s: response is not a JSON object with an "
                 "\"id\" integer",
                 url);
        goto out;
    }
    *id = (int32_t)json_integer_value(jid);
    entry *e = find(s, *id);
    if (e == NULL)
        e = insert(s, *id);
    if (e != NULL && e->schema == NULL) {
        e->schema = schema;
        schema = NULL;
        free(e->error);
        e->error = NULL;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&s->lock);
    if (schema != NULL)
        avro_schema_decref(schema);
    json_decref(root);
    free(resp.data);
    free(payload);
    return rc;
}

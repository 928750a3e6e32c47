/*
 * http.h - the operations endpoint: a small HTTP server (libmicrohttpd, one
 * internal thread) on http.listen that serves
 *   GET /metrics  200, Content-Type "text/plain; version=0.0.4; charset=utf-8",
 *                 the registry rendered by hf_metrics_render (metrics.h)
 *   GET /healthz  200 "ok\n" while the process runs (liveness)
 *   GET /readyz   200 "ready\n" when the readiness callback says so, else
 *                 503 "not ready: <why>\n" (readiness)
 *   other paths   404 "not found\n"
 *   other methods 405 "method not allowed\n" with "Allow: GET, HEAD"
 * HEAD is answered like GET, without the body. Query strings are ignored.
 *
 * Usage:
 *   char err[256];
 *   hf_http *h = hf_http_start(cfg->http_listen, metrics, ready_cb, pipeline,
 *                              err, sizeof(err));
 *   if (h == NULL && err[0] != '\0') { ... fail with err ... }
 *   ...                                  // h == NULL, err "" : switched off
 *   hf_http_stop(h);
 */
#ifndef HF_HTTP_H
#define HF_HTTP_H

#include <stddef.h>

#include "ops/metrics.h"

typedef struct hf_http hf_http;

/*
 * Readiness: returns non-zero when ready; otherwise writes the reason
 * (e.g. "no partitions assigned", "redis unavailable") into why (a buffer of
 * why_size bytes, why[0] = '\0' on entry) and returns 0. It runs on the
 * server's thread, concurrently with everything else: it must only read
 * state that is safe to read from another thread (atomics, or a mutex).
 */
typedef int (*hf_http_ready_fn)(void *opaque, char *why, size_t why_size);

/*
 * Starts serving on listen, "HOST:PORT" (HOST a name or an address, IPv6 in
 * brackets: "[::1]:9464"; PORT 0 = any free port, see hf_http_port).
 * metrics may be NULL (empty /metrics); ready may be NULL (always ready).
 * metrics and opaque are borrowed: they must outlive the server.
 *
 * Returns the server, or NULL with errstr:
 *   - listen "" (or NULL): the endpoint is off; errstr is "" (not an error);
 *   - http.listen "127.0.0.1": expected HOST:PORT
 *   - http.listen "127.0.0.1:99999": port must be 0-65535
 *   - http.listen "nosuchhost:9464": cannot resolve "nosuchhost": <reason>
 *   - cannot listen on 127.0.0.1:9464: Address already in use
 *   - cannot start the HTTP server on 127.0.0.1:9464
 */
hf_http *hf_http_start(const char *listen_spec, hf_metrics *metrics,
                       hf_http_ready_fn ready, void *opaque, char *errstr,
                       size_t errstr_size);

/* The bound TCP port (the real one when listen asked for port 0). */
int hf_http_port(const hf_http *h);

/* Stops the thread, closes the socket, frees h. Accepts NULL. */
void hf_http_stop(hf_http *h);

#endif

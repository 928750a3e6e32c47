/*
 * log.c - levelled logging to stderr, as text or one JSON object per line:
 * {"time":"2026-11-23T20:00:00.123Z","level":"info","component":"replay",
 *  "message":"..."}
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/json_str.h"

static hf_log_level g_level = HF_LOG_INFO;
static int g_json = 0;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int hf_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            g_level = (hf_log_level)i;
            return 0;
        }
    return -1;
}

int hf_log_set_format(const char *name)
{
    if (strcmp(name, "text") == 0)
        g_json = 0;
    else if (strcmp(name, "json") == 0)
        g_json = 1;
    else
        return -1;
    return 0;
}

hf_log_level hf_log_get_level(void)
{
    return g_level;
}

void hf_log(hf_log_level level, const char *component, const char *fmt, ...)
{
    if (level > g_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    int64_t now = hf_clock_wall_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[96];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)(now % 1000));
    if (!g_json) {
        fprintf(stderr, "%s %s %s: %s\n", when, level_names[level], component, msg);
        return;
    }
    hf_buf b = HF_BUF_INIT;
    hf_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", when,
                  level_names[level]);
    hf_json_append_string(&b, component, strlen(component));
    hf_buf_puts(&b, ",\"message\":");
    hf_json_append_string(&b, msg, strlen(msg));
    hf_buf_puts(&b, "}\n");
    if (b.data)
        fputs(b.data, stderr);
    hf_buf_free(&b);
}

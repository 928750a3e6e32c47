/*
 * log.h - levelled logging to stderr, as text or one JSON object per line.
 */
#ifndef HF_LOG_H
#define HF_LOG_H

typedef enum hf_log_level {
    HF_LOG_ERROR = 0,
    HF_LOG_WARN = 1,
    HF_LOG_INFO = 2,
    HF_LOG_DEBUG = 3
} hf_log_level;

/* Defaults: text, info. Returns 0, or -1 for an unknown name. */
int hf_log_set_level(const char *name);
int hf_log_set_format(const char *name); /* "text" or "json" */
hf_log_level hf_log_get_level(void);

/* component: short module name ("pipeline", "kafka", ...). */
void hf_log(hf_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hf_log_error(comp, ...) hf_log(HF_LOG_ERROR, comp, __VA_ARGS__)
#define hf_log_warn(comp, ...) hf_log(HF_LOG_WARN, comp, __VA_ARGS__)
#define hf_log_info(comp, ...) hf_log(HF_LOG_INFO, comp, __VA_ARGS__)
#define hf_log_debug(comp, ...)                                                \
    do {                                                                       \
        if (hf_log_get_level() >= HF_LOG_DEBUG)                                \
            hf_log(HF_LOG_DEBUG, comp, __VA_ARGS__);                           \
    } while (0)

#endif

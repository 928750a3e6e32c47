/*
 * clock.h - clock helpers: the monotonic clock for intervals and timeouts, the
 * wall clock for timestamps that leave the process. Every module reads time
 * through these, never through clock_gettime directly.
 */
#ifndef HF_CLOCK_H
#define HF_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in milliseconds (for deadlines and waits). */
static inline int64_t hf_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic time in seconds (for rates and durations). */
static inline double hf_clock_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock time in milliseconds since the Unix epoch (UTC). */
static inline int64_t hf_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif

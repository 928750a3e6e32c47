/* summary.c - the end-of-run summary that replays and runs print on stderr. */
#include "cmd/summary.h"

void hf_summary_print(FILE *out, const char *what, const hf_engine *eng,
                      const hf_stream_stats *s, uint64_t customers,
                      double seconds)
{
    double rate = seconds > 0 ? (double)s->read / seconds : 0.0;
    fprintf(out, "%s: %llu events in %.2f s (%.0f events/s)\n", what,
            (unsigned long long)s->read, seconds, rate);
    fprintf(out, "  events     read %llu  applied %llu  duplicate %llu  late %llu  invalid %llu\n",
            (unsigned long long)s->read, (unsigned long long)s->applied,
            (unsigned long long)s->duplicate, (unsigned long long)s->late,
            (unsigned long long)s->invalid);
    fprintf(out, "  customers  %llu\n", (unsigned long long)customers);
    for (uint32_t b = 0; b < eng->n; b++) {
        const uint64_t(*k)[HF_CAUSE_COUNT] = s->signals[b];
        fprintf(out,
                "  behaviour  %s (%d days): hire %llu (purchase %llu, return %llu, expiry %llu)"
                "  fire %llu (purchase %llu, return %llu, expiry %llu)  target now %lld"
                "  late %llu\n",
                eng->behaviours[b].name, (int)eng->behaviours[b].window_days,
                (unsigned long long)(k[0][0] + k[0][1] + k[0][2]),
                (unsigned long long)k[0][0], (unsigned long long)k[0][1],
                (unsigned long long)k[0][2],
                (unsigned long long)(k[1][0] + k[1][1] + k[1][2]),
                (unsigned long long)k[1][0], (unsigned long long)k[1][1],
                (unsigned long long)k[1][2], (long long)s->targets[b],
                (unsigned long long)s->late_by_behaviour[b]);
    }
}

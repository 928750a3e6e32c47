/*
 * gen_int.h - what gen.c and sinks.c share: the splitmix64 finalizer that
 * draws the journeys and derives an Avro file's sync marker. Not for other
 * modules.
 */
#ifndef HF_GEN_INT_H
#define HF_GEN_INT_H

#include <stdint.h>

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif

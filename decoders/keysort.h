/* decoders/keysort.h - stable sort of (key, value) pairs by a 64-bit key.
 *
 * Replay sorts the records a timer emits by content (flow_rec_cmp,
 * dns_rec_cmp in the worker) so that 1, 2 or 4 workers give the same
 * stream. Those orders start with a time; keysort() sorts on that time alone
 * with an LSD radix sort over the bits in which the keys differ, then orders
 * each run of equal keys with the full comparison. A million flows flushed at
 * the end of a flood's replay: ~15 ms, where qsort through pointers to the
 * records took 160-220 ms (a cache miss per comparison). */
#ifndef MG_KEYSORT_H
#define MG_KEYSORT_H

#include <stddef.h>
#include <stdint.h>

struct sort_key {
    uint64_t k;                     /* sorted by this first */
    uintptr_t v;                    /* then by tie(v, v') among equal k */
};

/* Sort a[0..n) by k, then by tie() within equal k; stable (pairs that
 * compare equal keep their order). tmp: room for n pairs. */
void keysort(struct sort_key *a, struct sort_key *tmp, size_t n,
             int (*tie)(uintptr_t x, uintptr_t y, void *arg), void *arg);

#endif

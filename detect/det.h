/* detect/det.h - the detector interface.
 *
 * One detector module per threat family. A detector sees flow records, DNS
 * transactions and time ticks, keeps its own bounded state, and emits finding
 * candidates; it does no I/O, so each is unit-testable and fuzzable alone.
 * Instances are per detection thread (state is never shared between
 * threads). det.c holds the one registry, det_all[].
 *
 * Issue 2 builds the pipeline the detectors plug into; the registry is empty
 * until the findings issue (#3) adds the first detectors. */
#ifndef MG_DET_H
#define MG_DET_H

#include <stdint.h>
#include "rec.h"

struct cfg;

struct det_ops {
    const char *name;                   /* config key */
    /* Allocate per-thread state into *state. 0 or -1 with err filled. */
    int  (*init)(void **state, const struct cfg *c, char *err, unsigned errlen);
    void (*on_flow)(void *state, const struct flow_rec *f);         /* or NULL */
    void (*on_dns)(void *state, const struct dns_rec *d);           /* or NULL */
    void (*tick)(void *state, uint64_t now_ns);                     /* or NULL */
    void (*fini)(void *state);
};

/* All detectors for one detection thread. */
struct det_set {
    unsigned n;
    const struct det_ops *ops[16];
    void *state[16];
};

int  det_set_init(struct det_set *s, const struct cfg *c, char *err, unsigned errlen);
void det_set_flow(struct det_set *s, const struct flow_rec *f);
void det_set_dns(struct det_set *s, const struct dns_rec *d);
void det_set_tick(struct det_set *s, uint64_t now_ns);
void det_set_fini(struct det_set *s);

#endif /* MG_DET_H */

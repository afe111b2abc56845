/* detect/det.h - the detector interface.
 *
 * One detector module per threat family. A detector sees flow records, DNS
 * transactions and time ticks, keeps its own bounded state, and emits
 * finding candidates (detect/finding.h) through env->emit; it does no I/O,
 * so each is unit-testable and fuzzable alone. Instances are per detection
 * thread (state is never shared between threads). det.c holds the one
 * registry, det_all[].
 *
 * Threat intelligence: env->lists() returns the list set in force (it can
 * change between two calls when SIGHUP reloads the lists; a detector must not
 * keep the pointer across calls). */
#ifndef MG_DET_H
#define MG_DET_H

#include <stdint.h>
#include "finding.h"
#include "rec.h"

struct cfg;
struct lists;

struct det_env {
    const struct cfg *cfg;
    const struct lists *(*lists)(void *arg);    /* may return NULL: no lists */
    void (*emit)(void *arg, const struct finding_cand *fc);
    void *arg;
};

struct det_ops {
    const char *name;                   /* config key */
    /* Allocate per-thread state into *state. 0 or -1 with err filled. */
    int  (*init)(void **state, const struct det_env *env, char *err, unsigned errlen);
    void (*on_flow)(void *state, const struct flow_rec *f);         /* or NULL */
    void (*on_dns)(void *state, const struct dns_rec *d);           /* or NULL */
    /* A connection attempt was answered or refused (as soon as known). */
    void (*on_conn)(void *state, const struct conn_event *c);       /* or NULL */
    void (*tick)(void *state, uint64_t now_ns);                     /* or NULL */
    void (*fini)(void *state);
};

/* All detectors for one detection thread. */
struct det_set {
    unsigned n;
    const struct det_ops *ops[16];
    void *state[16];
};

int  det_set_init(struct det_set *s, const struct det_env *env, char *err, unsigned errlen);
void det_set_flow(struct det_set *s, const struct flow_rec *f);
void det_set_dns(struct det_set *s, const struct dns_rec *d);
void det_set_conn(struct det_set *s, const struct conn_event *c);
void det_set_tick(struct det_set *s, uint64_t now_ns);
void det_set_fini(struct det_set *s);

/* The detectors. */
extern const struct det_ops det_threat_ops;     /* det_threat.c: threat-list matches */
extern const struct det_ops det_brute_ops;      /* det_brute.c: SSH/RDP/WinRM brute force */
extern const struct det_ops det_scan_ops;       /* det_scan.c: port scans, sweeps, probes */
extern const struct det_ops det_dnsmisc_ops;    /* det_dnsmisc.c: metadata DNS rebind, unusual resolvers */
extern const struct det_ops det_mining_ops;     /* det_mining.c: Stratum etc. on any port */
extern const struct det_ops det_exfil_ops;      /* det_exfil.c: DNS data exfiltration */
extern const struct det_ops det_dga_ops;        /* det_dga.c: DGA names (NXDOMAIN bursts), dga threat lists */
extern const struct det_ops det_beacon_ops;   /* det_beacon.c: regular-interval beaconing */
extern const struct det_ops det_dos_ops;      /* det_dos.c: outbound denial of service */
extern const struct det_ops det_baseline_ops; /* det_baseline.c: unusual ports, volume, spambot */

/* Shared helper: is a in one of c's home_net CIDRs? */
int det_in_home_net(const struct cfg *c, const struct mg_addr *a, int family);

/* Shared helper: a special-use address, never a public host (private,
 * loopback, link-local, CGNAT, multicast, broadcast, unspecified, ULA). */
int det_addr_special(const struct mg_addr *a, int family);

/* Shared helper: a DNS_REQUEST candidate of the instance that asked d (an
 * outbound actor; the resolver is the remote, the query name the domain),
 * count 1, at ts_ns. The caller adds what is its own (info, another domain). */
struct finding_cand;
void det_dns_cand(struct finding_cand *fc, const struct dns_rec *d, const char *type,
                  double severity, uint64_t ts_ns);

#endif /* MG_DET_H */

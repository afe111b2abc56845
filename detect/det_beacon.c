/* detect/det_beacon.c - beaconing: an instance contacts one remote address
 * (and port) at regular intervals with regular sizes (beyond GuardDuty).
 *
 *   Backdoor:EC2/Beaconing  (Medium 5.0)
 *       ACTOR/OUTBOUND, local = the instance (the initiator, in home_net),
 *       remote = the contacted address, remote_port = its port.
 *       additionalInfo: "intervalSeconds" (median interval), "score" (0..1),
 *       "connections" (in the ring), "jitter" (see below),
 *       "durationSeconds" (median connection duration),
 *       "bytesToServer" (median IP bytes of one connection to the server).
 *
 * Type: GuardDuty's grammar is ThreatPurpose:ResourceType/ThreatFamilyName.
 * "Backdoor" is the purpose GuardDuty gives to an instance that talks to a
 * command-and-control server (Backdoor:EC2/C&CActivity.B); "Trojan" is kept
 * for DNS-borne malware behaviour. The family is "Beaconing" rather than
 * C&CActivity because nothing here says the remote IS a C&C server (that is
 * what C&CActivity.B means, from a threat list): only that the instance calls
 * it like an implant would, so consumers filtering on C&CActivity do not get
 * a statistical guess mixed in.
 *
 * Connections: every TCP/UDP flow record that starts a flow (its
 * initiator's first packet is the flow's start_ns: records cut by the active
 * timeout of a long-lived flow carry a later first_ns and are skipped) is one
 * connection at start_ns with dir[0].bytes to the server. Per (instance,
 * remote, proto, port) a ring of the last BEACON_RING connections (start
 * time, bytes) within detect.beacon.window seconds.
 *
 * Score, in the manner of RITA (Active Countermeasures): over the sorted
 * start times' intervals d and the sizes b,
 *   skew score  = 1 - |Bowley skewness| = 1 - |(Q3 + Q1 - 2 Q2) / (Q3 - Q1)|
 *                 (0 skew when Q3 == Q1 or the median equals a quartile)
 *   MADM score  = 1 - MAD / median (>= 0)
 *   interval score = mean(skew, MADM, count), count = min(1, n / (2 min_connections))
 *   size score  = mean(skew, MADM, smallness), smallness = 1 - min(1, median / 65535)
 *   score       = (interval score + size score) / 2.
 * jitter = (P90 - P10) / (1.6 median) of the intervals: for intervals drawn
 * uniformly from median +-a (Cobalt Strike-style jitter) it estimates a, so a
 * 60 s +-20% beacon has ~0.2, a cron job every 5-15 minutes ~0.5 (the RITA
 * score alone cannot tell them apart: uniform jitter is not skewed, and the
 * sizes of a cron job are as regular as a beacon's). The central 80% are used
 * rather than the MAD because their estimate is steadier with 20 intervals.
 * A finding when n >= min_connections, score >= score_threshold, jitter <=
 * max_jitter, the median interval >= min_interval seconds and the median
 * connection duration (of its first record) <= max_duty x the median
 * interval; then again at most once per report_interval. The duty cycle
 * tells a beacon (calls, then sleeps) from back-to-back sessions such as an
 * outbound brute force (the next attempt starts when the last ends, at a
 * regular pace too); a C&C channel that stays connected most of the time
 * (long polling) is not reported.
 * Never counted: remotes in home_net when skip_internal (agents pushing to
 * internal endpoints, scrapes between instances), link-local remotes
 * (169.254.0.0/16, fe80::/10: the VPC resolver 169.254.169.253, Amazon Time
 * Sync 169.254.169.123, the metadata service) and fd00:ec2::/32, remote ports
 * in skip_ports (NTP 123, DNS 53), flows started by a host outside home_net
 * (inbound), multicast/broadcast. A UDP "beacon" that reuses one source port
 * within the UDP idle timeout stays one flow and is not seen.
 *
 * State: one LRU table of max_pairs entries (~1.1 KB each), allocated at init. */
#include "det.h"
#include "cfg.h"
#include "lru.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_BEACON "Backdoor:EC2/Beaconing"
#define SEV_BEACON 5.0
#define NS 1000000000ull

struct key {                        /* zeroed where unused: one memcmp */
    struct mg_addr a, b;            /* instance, remote */
    uint16_t port;
    uint8_t proto, family;
};

#define BEACON_RING 64              /* connections kept per pair */

/* Bounded state: detect/lru.h; every entry starts with this. */
struct hdr {
    struct lru_hdr l;
    struct key k;
};

/* ------------------------------------------------------------ detector */

struct conn {
    uint64_t ts;                    /* flow start, ns */
    uint32_t bytes;                 /* initiator's IP bytes in the first record */
    uint32_t dur_ms;                /* the record's last packet - start, ms */
};

struct pair_ent {
    struct hdr h;
    uint64_t last_report;
    uint32_t n, head;               /* ring: n used, head = next slot */
    uint16_t sport;
    uint32_t vni;
    struct conn c[BEACON_RING];
};

struct beacon {
    struct det_env env;
    const struct cfg *cfg;
    int enabled;
    uint64_t window_ns, interval_ns;
    struct lru pairs;
    uint64_t conns, evaluated, emitted;
    struct finding_cand fc;
};

static int
cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quantile of sorted v[0..n) (linear interpolation). */
static double
quant(const double *v, unsigned n, double q)
{
    if (n == 1)
        return v[0];
    double pos = q * (n - 1);
    unsigned i = (unsigned)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (v[i + 1] - v[i]) * (pos - i);
}

struct dist {
    double median, mad, skew_score, madm_score, p10, p90;
};

/* Sorts v in place; tmp has room for n. */
static void
describe(double *v, double *tmp, unsigned n, struct dist *d)
{
    qsort(v, n, sizeof(*v), cmp_dbl);
    double q1 = quant(v, n, 0.25), q2 = quant(v, n, 0.5), q3 = quant(v, n, 0.75);
    double skew = 0;
    if (q3 - q1 > 1e-9 && fabs(q2 - q1) > 1e-9 && fabs(q3 - q2) > 1e-9)
        skew = (q3 + q1 - 2 * q2) / (q3 - q1);
    for (unsigned i = 0; i < n; i++)
        tmp[i] = fabs(v[i] - q2);
    qsort(tmp, n, sizeof(*tmp), cmp_dbl);
    d->median = q2;
    d->p10 = quant(v, n, 0.1);
    d->p90 = quant(v, n, 0.9);
    d->mad = quant(tmp, n, 0.5);
    d->skew_score = 1 - fabs(skew);
    if (d->skew_score < 0)
        d->skew_score = 0;
    d->madm_score = q2 > 0 ? 1 - d->mad / q2 : 0;
    if (d->madm_score < 0)
        d->madm_score = 0;
}

/* Exposed for the unit tests: the score of n start times (ns, any order)
 * and sizes; *interval_s, *jitter out. */
double det_beacon_score(const uint64_t *ts, const uint32_t *bytes, unsigned n,
                        unsigned min_connections, double *interval_s, double *jitter,
                        double *median_bytes);

double
det_beacon_score(const uint64_t *ts, const uint32_t *bytes, unsigned n,
                 unsigned min_connections, double *interval_s, double *jitter,
                 double *median_bytes)
{
    double v[BEACON_RING], tmp[BEACON_RING];
    *interval_s = *jitter = *median_bytes = 0;
    if (n < 3 || n > BEACON_RING)
        return 0;
    /* intervals of the sorted start times */
    for (unsigned i = 0; i < n; i++)
        v[i] = (double)ts[i] / 1e9;
    qsort(v, n, sizeof(*v), cmp_dbl);
    for (unsigned i = 0; i + 1 < n; i++)
        v[i] = v[i + 1] - v[i];
    struct dist di, db;
    describe(v, tmp, n - 1, &di);
    double count = min_connections ? (double)n / (2.0 * min_connections) : 1;
    if (count > 1)
        count = 1;
    double ts_score = (di.skew_score + di.madm_score + count) / 3;
    for (unsigned i = 0; i < n; i++)
        v[i] = bytes[i];
    describe(v, tmp, n, &db);
    double small = 1 - (db.median / 65535 > 1 ? 1 : db.median / 65535);
    double ds_score = (db.skew_score + db.madm_score + small) / 3;
    *interval_s = di.median;
    *jitter = di.median > 0 ? (di.p90 - di.p10) / (1.6 * di.median) : 1;
    *median_bytes = db.median;
    return (ts_score + ds_score) / 2;
}

static int
in_ports(const uint16_t *p, unsigned n, uint16_t port)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] == port)
            return 1;
    return 0;
}

/* Link-local, AWS service addresses, multicast, broadcast: never a beacon peer. */
static int
skip_addr(const struct mg_addr *a, int family)
{
    if (family == 4)
        return (a->b[0] == 169 && a->b[1] == 254) || (a->b[0] & 0xf0) == 0xe0 ||
               (a->b[0] == 255 && a->b[1] == 255 && a->b[2] == 255 && a->b[3] == 255) ||
               a->b[0] == 127 || a->b[0] == 0;
    return (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) || a->b[0] == 0xff ||
           (a->b[0] == 0xfd && a->b[1] == 0x00 && a->b[2] == 0x0e && a->b[3] == 0xc2);
}

static void
evaluate(struct beacon *s, struct pair_ent *p, uint64_t now)
{
    const struct cfg *c = s->cfg;
    uint64_t ts[BEACON_RING];
    uint32_t by[BEACON_RING];
    double du[BEACON_RING];
    unsigned n = 0;
    for (unsigned i = 0; i < p->n; i++) {
        if (p->c[i].ts + s->window_ns < now)
            continue;               /* out of the window */
        ts[n] = p->c[i].ts;
        du[n] = p->c[i].dur_ms / 1000.0;
        by[n++] = p->c[i].bytes;
    }
    if (n < c->detect.beacon.min_connections)
        return;
    qsort(du, n, sizeof(*du), cmp_dbl);
    double dur = quant(du, n, 0.5);
    s->evaluated++;
    double iv, jit, mb;
    double score = det_beacon_score(ts, by, n, c->detect.beacon.min_connections, &iv, &jit, &mb);
    if (score < c->detect.beacon.score_threshold || jit > c->detect.beacon.max_jitter ||
        iv < c->detect.beacon.min_interval || dur > c->detect.beacon.max_duty * iv)
        return;
    if (p->last_report && now < p->last_report + s->interval_ns)
        return;
    p->last_report = now ? now : 1;
    struct finding_cand *fc = &s->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", T_BEACON);
    fc->severity = SEV_BEACON;
    fc->ts_ns = now;
    fc->vni = p->vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->role = FC_ACTOR;
    fc->direction = FC_OUTBOUND;
    fc->family = p->h.k.family;
    fc->proto = p->h.k.proto;
    fc->local = p->h.k.a;
    fc->remote = p->h.k.b;
    fc->local_port = p->sport;
    fc->remote_port = p->h.k.port;
    fc->count = 1;
    snprintf(fc->info, sizeof(fc->info),
             "\"intervalSeconds\":%.1f,\"score\":%.3f,\"connections\":%u,\"jitter\":%.3f,"
             "\"bytesToServer\":%.0f,\"durationSeconds\":%.1f", iv, score, n, jit, mb, dur);
    s->emitted++;
    s->env.emit(s->env.arg, fc);
}

static void
beacon_flow(void *state, const struct flow_rec *f)
{
    struct beacon *s = state;
    if (!s->enabled)
        return;
    const struct flow_dir *d0 = &f->dir[0];
    if (f->proto != 6 && f->proto != 17)
        return;
    if (!d0->pkts || d0->first_ns != f->start_ns || (f->family != 4 && f->family != 6))
        return;                     /* not the record that starts the flow */
    const struct cfg *c = s->cfg;
    if (in_ports(c->detect.beacon.skip_ports, c->detect.beacon.n_skip_ports, f->dport))
        return;
    if (skip_addr(&f->dst, f->family) || !det_in_home_net(c, &f->src, f->family))
        return;
    if (c->detect.beacon.skip_internal && det_in_home_net(c, &f->dst, f->family))
        return;
    struct key k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.b = f->dst;
    k.port = f->dport;
    k.proto = f->proto;
    k.family = f->family;
    struct pair_ent *p = lru_get(&s->pairs, &k);
    /* the same flow seen again (evicted and re-created records share nothing,
     * but a repeated start time is one connection) */
    for (unsigned i = 0; i < p->n; i++)
        if (p->c[i].ts == f->start_ns)
            return;
    s->conns++;
    p->c[p->head].ts = f->start_ns;
    p->c[p->head].bytes = d0->bytes > 0xffffffffu ? 0xffffffffu : (uint32_t)d0->bytes;
    uint64_t last = d0->last_ns > f->dir[1].last_ns ? d0->last_ns : f->dir[1].last_ns;
    uint64_t dms = last > f->start_ns ? (last - f->start_ns) / 1000000 : 0;
    p->c[p->head].dur_ms = dms > 0xffffffffu ? 0xffffffffu : (uint32_t)dms;
    p->head = (p->head + 1) % BEACON_RING;
    if (p->n < BEACON_RING)
        p->n++;
    p->sport = f->sport;
    p->vni = d0->vni ? d0->vni : f->vni;
    uint64_t now = 0;
    for (unsigned i = 0; i < p->n; i++)
        if (p->c[i].ts > now)
            now = p->c[i].ts;
    evaluate(s, p, now);
}

static int
beacon_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct beacon *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "beacon detector: out of memory");
        return -1;
    }
    s->env = *env;
    s->cfg = env->cfg;
    const struct cfg *c = env->cfg;
    s->enabled = c->detect.beacon.enabled;
    s->window_ns = (uint64_t)c->detect.beacon.window * NS;
    s->interval_ns = (uint64_t)c->detect.beacon.report_interval * NS;
    if (s->enabled && lru_init(&s->pairs, c->detect.beacon.max_pairs, sizeof(struct pair_ent), offsetof(struct hdr, k), sizeof(struct key))) {
        lru_free(&s->pairs);
        free(s);
        snprintf(err, errlen, "beacon detector: out of memory");
        return -1;
    }
    *state = s;
    return 0;
}

static void
beacon_fini(void *state)
{
    struct beacon *s = state;
    if (!s)
        return;
    lru_free(&s->pairs);
    free(s);
}

/* Counters by name (tests): "connections", "evaluated", "emitted", "pairs",
 * "pairs_evicted"; -1 for an unknown name. */
int64_t det_beacon_stat(const void *state, const char *name);

int64_t
det_beacon_stat(const void *state, const char *name)
{
    const struct beacon *s = state;
    if (!strcmp(name, "connections"))
        return (int64_t)s->conns;
    if (!strcmp(name, "evaluated"))
        return (int64_t)s->evaluated;
    if (!strcmp(name, "emitted"))
        return (int64_t)s->emitted;
    if (!strcmp(name, "pairs"))
        return s->pairs.n;
    if (!strcmp(name, "pairs_evicted"))
        return (int64_t)s->pairs.evicted;
    return -1;
}

const struct det_ops det_beacon_ops = {
    .name = "beacon",
    .init = beacon_init,
    .on_flow = beacon_flow,
    .fini = beacon_fini,
};

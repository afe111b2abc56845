/* detect/det_baseline.c - learned per-instance behaviour: unusual remote
 * ports, unusual outbound volume, spam (issue #6).
 *
 *   Behavior:EC2/NetworkPortUnusual  (Medium 5.0; High 8.0 for remote ports
 *       389 and 1389, the LDAP callbacks of log4j exploitation)
 *       an instance starts a TCP/UDP flow to a public remote on a remote
 *       port it never used during its learning period; once per (instance,
 *       port, remote). Instances that used more than max_ports distinct
 *       remote ports while learning (proxies, crawlers) are exempt.
 *       additionalInfo: "learnedPorts", "learningSeconds".
 *   Behavior:EC2/TrafficVolumeUnusual  (Medium 5.0)
 *       a flow record's bytes sent by the instance (the initiator) to one
 *       public remote exceed max(mean + volume_k stddev, volume_min_bytes),
 *       mean/stddev over the instance's flow records while learning (Welford,
 *       at least volume_min_samples of them); at most once per (instance,
 *       remote) per report_interval. additionalInfo: "bytes", "meanBytes",
 *       "stddevBytes", "thresholdBytes", "samples".
 *   Backdoor:EC2/Spambot  (Medium 5.0)
 *       TCP flows to smtp_ports (25, 465, 587) of >= spam_min_hosts distinct
 *       public remotes within spam_window_seconds, or, after learning, of >=
 *       spam_new_hosts distinct remotes not used while learning; instances
 *       that used >= spam_min_hosts SMTP remotes while learning (mail servers)
 *       are exempt after learning. At most once per instance per
 *       report_interval. additionalInfo: "distinctHosts", "newHosts",
 *       "windowSeconds".
 * All: ACTOR/OUTBOUND, local = the instance (in home_net, initiator), remote
 * = a public address (not home_net, not private/link-local/multicast).
 *
 * Learning: learning_seconds of observed packet time from the instance's
 * first flow: the time between two of its records counts at most
 * learning_max_gap (3600 s), so days when the sensor was down (or a capture
 * made of sessions years apart) do not count as learning.
 * Ports and SMTP peers are learned from the record that starts a flow (its
 * initiator's first packet is the flow's start), volume from every record.
 * Learned sets are hashed bitsets (4096 bits of ports, 256 of SMTP peers): a
 * collision can hide a new port (a false negative, never a false positive).
 *
 * State: an LRU table of max_instances instances (~1.7 KB each) and one of
 * max_reported (instance, remote, port, kind) report marks (~64 B each).
 *
 * State file (state_file, "" = off), host byte order:
 *   header 24 bytes: "MGBL", u32 version (1), u32 record size (624),
 *                    u32 count, u32 CRC-32 (IEEE) of the records, u32 0x01020304
 *   count records of 624 bytes (struct prec below), least recently used first.
 * Written to "<state_file>.tmp", fsync'ed and renamed over state_file at fini
 * and every save_interval seconds of packet time; loaded at init. A file that
 * is missing is silent; unreadable, short, long, of another magic, version,
 * record size or byte order, with a bad CRC or an invalid record is ignored
 * as a whole with a warning on stderr. Report marks and SMTP windows are not
 * saved (a restart may report an unusual port once more). */
#include "crc32.h"
#include "det.h"
#include "cfg.h"
#include "lru.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T_PORT "Behavior:EC2/NetworkPortUnusual"
#define T_VOLUME "Behavior:EC2/TrafficVolumeUnusual"
#define T_SPAM "Backdoor:EC2/Spambot"
#define SEV_MEDIUM 5.0
#define SEV_HIGH 8.0
#define NS 1000000000ull

#define PORT_BITS 4096
#define SMTP_BITS 256
#define SMTP_RING 64

#define BL_MAGIC "MGBL"
#define BL_VERSION 1u
#define BL_ORDER 0x01020304u

struct ikey {                       /* zeroed where unused: one memcmp */
    struct mg_addr a;
    uint8_t family, _pad[3];
};

struct smtp_peer {
    uint64_t ts;                    /* last flow start to it */
    uint32_t h;                     /* hash of the remote address */
    uint8_t is_new;                 /* after learning, not among the learned peers */
    uint8_t _pad[3];
};

struct inst_ent {
    struct lru_hdr l;
    struct ikey k;
    /* learned (saved) */
    uint64_t first_ns, last_ns;     /* first flow; latest record time */
    uint64_t learned_ns;            /* observed time (gaps capped at learning_max_gap) */
    uint64_t vol_n;
    double vol_mean, vol_m2;
    uint16_t n_ports, n_smtp;
    uint8_t ports[PORT_BITS / 8];
    uint8_t smtp[SMTP_BITS / 8];
    /* transient */
    uint64_t spam_last;
    uint32_t n_ring;
    struct smtp_peer ring[SMTP_RING];
};

enum { K_PORT = 1, K_VOLUME = 2 };

struct rkey {
    struct mg_addr a, b;            /* instance, remote */
    uint16_t port;                  /* K_PORT: the remote port, else 0 */
    uint8_t family, kind;
};

struct rep_ent {
    struct lru_hdr l;
    struct rkey k;
    uint64_t last;
};

/* One saved instance: fixed layout, no implicit padding. */
struct prec {
    uint8_t addr[16];
    uint8_t family, _pad[7];
    uint64_t first_ns, last_ns, learned_ns, vol_n;
    double vol_mean, vol_m2;
    uint16_t n_ports, n_smtp;
    uint8_t _pad2[4];
    uint8_t ports[PORT_BITS / 8];
    uint8_t smtp[SMTP_BITS / 8];
};
_Static_assert(sizeof(struct prec) == 624, "state record layout");

struct fhdr {
    char magic[4];
    uint32_t version, rec_size, count, crc, order;
};
_Static_assert(sizeof(struct fhdr) == 24, "state header layout");

struct baseline {
    struct det_env env;
    const struct cfg *cfg;
    int enabled;
    uint64_t learn_ns, gap_ns, save_ns, window_ns, interval_ns;
    uint64_t now, last_save;
    struct lru inst, rep;
    uint64_t flows, emitted, saved, loaded, load_errors, save_errors;
    struct finding_cand fc;
};

/* ------------------------------------------------------------ helpers */

static int
in_ports(const uint16_t *p, unsigned n, uint16_t port)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] == port)
            return 1;
    return 0;
}

static unsigned
port_bit(uint16_t port)
{
    return (uint32_t)(port * 2654435761u) >> 20;        /* 12 bits */
}

static uint32_t
addr_hash(const struct mg_addr *a)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 16777619u;
    return h ^ (h >> 15);
}

static int
bit_get(const uint8_t *set, unsigned i)
{
    return set[i >> 3] >> (i & 7) & 1;
}

/* Sets bit i; 1 if it was clear. */
static int
bit_set(uint8_t *set, unsigned i)
{
    if (bit_get(set, i))
        return 0;
    set[i >> 3] |= (uint8_t)(1u << (i & 7));
    return 1;
}

/* ------------------------------------------------------------ state file */

static void
save_state(struct baseline *s)
{
    const char *path = s->cfg->detect.baseline.state_file;
    if (!path || !*path)
        return;
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        fprintf(stderr, "mirrorguard: baseline: state file name too long\n");
        s->save_errors++;
        return;
    }
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        fprintf(stderr, "mirrorguard: baseline: cannot write %s: %s\n", tmp, strerror(errno));
        s->save_errors++;
        return;
    }
    struct fhdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, BL_MAGIC, 4);
    h.version = BL_VERSION;
    h.rec_size = sizeof(struct prec);
    h.order = BL_ORDER;
    int ok = fwrite(&h, sizeof(h), 1, fp) == 1;
    uint32_t crc = 0, count = 0;
    /* least recently used first: loading in file order restores the order */
    for (uint32_t i = s->inst.tail; ok && i != 0xffffffffu;) {
        const struct inst_ent *e = (const struct inst_ent *)(s->inst.mem + (size_t)i * s->inst.esz);
        struct prec r;
        memset(&r, 0, sizeof(r));
        memcpy(r.addr, e->k.a.b, 16);
        r.family = e->k.family;
        r.first_ns = e->first_ns;
        r.last_ns = e->last_ns;
        r.learned_ns = e->learned_ns;
        r.vol_n = e->vol_n;
        r.vol_mean = e->vol_mean;
        r.vol_m2 = e->vol_m2;
        r.n_ports = e->n_ports;
        r.n_smtp = e->n_smtp;
        memcpy(r.ports, e->ports, sizeof(r.ports));
        memcpy(r.smtp, e->smtp, sizeof(r.smtp));
        crc = mg_crc32(crc, &r, sizeof(r));
        ok = fwrite(&r, sizeof(r), 1, fp) == 1;
        count++;
        i = e->l.prev;
    }
    h.count = count;
    h.crc = crc;
    if (ok)
        ok = fseek(fp, 0, SEEK_SET) == 0 && fwrite(&h, sizeof(h), 1, fp) == 1;
    if (ok)
        ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    if (fclose(fp) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "mirrorguard: baseline: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        s->save_errors++;
        return;
    }
    s->saved++;
}

static int
valid_rec(const struct prec *r)
{
    if (r->family != 4 && r->family != 6)
        return 0;
    if (r->family == 4)
        for (int i = 4; i < 16; i++)
            if (r->addr[i])
                return 0;
    if (!r->first_ns || r->last_ns < r->first_ns || r->n_ports > PORT_BITS || r->n_smtp > SMTP_BITS)
        return 0;
    if (!isfinite(r->vol_mean) || !isfinite(r->vol_m2) || r->vol_mean < 0 || r->vol_m2 < 0)
        return 0;
    return 1;
}

static void
load_warn(struct baseline *s, const char *path, const char *why)
{
    fprintf(stderr, "mirrorguard: baseline: ignoring state file %s: %s\n", path, why);
    s->load_errors++;
}

static void
load_state(struct baseline *s)
{
    const char *path = s->cfg->detect.baseline.state_file;
    if (!path || !*path)
        return;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno != ENOENT)
            load_warn(s, path, strerror(errno));
        return;
    }
    struct fhdr h;
    struct prec r;
    const char *why = NULL;
    if (fread(&h, sizeof(h), 1, fp) != 1)
        why = "short header";
    else if (memcmp(h.magic, BL_MAGIC, 4))
        why = "not a baseline state file";
    else if (h.order != BL_ORDER)
        why = "other byte order";
    else if (h.version != BL_VERSION)
        why = "unknown version";
    else if (h.rec_size != sizeof(struct prec))
        why = "record size differs";
    else if (fseek(fp, 0, SEEK_END) != 0 ||
             ftell(fp) != (long)(sizeof(h) + (uint64_t)h.count * sizeof(r)))
        why = "size does not match its header";
    if (!why) {             /* first pass: checksum and record validity */
        fseek(fp, (long)sizeof(h), SEEK_SET);
        uint32_t crc = 0;
        for (uint32_t i = 0; i < h.count && !why; i++) {
            if (fread(&r, sizeof(r), 1, fp) != 1)
                why = "read error";
            else if (!valid_rec(&r))
                why = "invalid record";
            else
                crc = mg_crc32(crc, &r, sizeof(r));
        }
        if (!why && crc != h.crc)
            why = "checksum mismatch";
    }
    if (why) {
        load_warn(s, path, why);
        fclose(fp);
        return;
    }
    fseek(fp, (long)sizeof(h), SEEK_SET);
    for (uint32_t i = 0; i < h.count; i++) {
        if (fread(&r, sizeof(r), 1, fp) != 1)
            break;
        struct ikey k;
        memset(&k, 0, sizeof(k));
        memcpy(k.a.b, r.addr, 16);
        k.family = r.family;
        struct inst_ent *e = lru_get(&s->inst, &k);
        e->first_ns = r.first_ns;
        e->last_ns = r.last_ns;
        e->learned_ns = r.learned_ns;
        e->vol_n = r.vol_n;
        e->vol_mean = r.vol_mean;
        e->vol_m2 = r.vol_m2;
        e->n_ports = r.n_ports;
        e->n_smtp = r.n_smtp;
        memcpy(e->ports, r.ports, sizeof(e->ports));
        memcpy(e->smtp, r.smtp, sizeof(e->smtp));
        s->loaded++;
    }
    fclose(fp);
}

static void
maybe_save(struct baseline *s)
{
    const char *path = s->cfg->detect.baseline.state_file;
    if (!path || !*path || !s->now)
        return;
    if (!s->last_save) {
        s->last_save = s->now;
        return;
    }
    if (s->now >= s->last_save + s->save_ns) {
        s->last_save = s->now;
        save_state(s);
    }
}

/* ------------------------------------------------------------ detector */

static void
emit(struct baseline *s, const struct flow_rec *f, const char *type, double sev, uint64_t now)
{
    struct finding_cand *fc = &s->fc;
    snprintf(fc->type, sizeof(fc->type), "%s", type);
    fc->severity = sev;
    fc->ts_ns = now;
    fc->vni = f->dir[0].vni ? f->dir[0].vni : f->vni;
    fc->action = FC_NETWORK_CONNECTION;
    fc->role = FC_ACTOR;
    fc->direction = FC_OUTBOUND;
    fc->family = f->family;
    fc->proto = f->proto;
    fc->local = f->src;
    fc->remote = f->dst;
    fc->local_port = f->sport;
    fc->remote_port = f->dport;
    fc->count = 1;
    s->emitted++;
    s->env.emit(s->env.arg, fc);
}

static struct rep_ent *
mark(struct baseline *s, const struct flow_rec *f, uint16_t port, uint8_t kind)
{
    struct rkey k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.b = f->dst;
    k.port = port;
    k.family = f->family;
    k.kind = kind;
    return lru_get(&s->rep, &k);
}

static void
check_port(struct baseline *s, struct inst_ent *e, const struct flow_rec *f, int learning,
           uint64_t now)
{
    const struct cfg *c = s->cfg;
    unsigned b = port_bit(f->dport);
    if (learning) {
        e->n_ports += (uint16_t)bit_set(e->ports, b);
        return;
    }
    if (bit_get(e->ports, b) || e->n_ports > c->detect.baseline.max_ports)
        return;
    struct rep_ent *r = mark(s, f, f->dport, K_PORT);
    if (r->last)
        return;
    r->last = now ? now : 1;
    memset(&s->fc, 0, sizeof(s->fc));
    snprintf(s->fc.info, sizeof(s->fc.info), "\"learnedPorts\":%u,\"learningSeconds\":%u",
             e->n_ports, c->detect.baseline.learning_seconds);
    emit(s, f, T_PORT, (f->dport == 389 || f->dport == 1389) ? SEV_HIGH : SEV_MEDIUM, now);
}

static void
check_volume(struct baseline *s, struct inst_ent *e, const struct flow_rec *f, int learning,
             uint64_t now)
{
    const struct cfg *c = s->cfg;
    double x = (double)f->dir[0].bytes;
    if (learning) {                 /* Welford */
        e->vol_n++;
        double d = x - e->vol_mean;
        e->vol_mean += d / (double)e->vol_n;
        e->vol_m2 += d * (x - e->vol_mean);
        return;
    }
    if (e->vol_n < c->detect.baseline.volume_min_samples)
        return;
    double sd = sqrt(e->vol_m2 / (double)(e->vol_n - 1));
    double thr = e->vol_mean + c->detect.baseline.volume_k * sd;
    if (thr < c->detect.baseline.volume_min_bytes)
        thr = c->detect.baseline.volume_min_bytes;
    if (x <= thr)
        return;
    struct rep_ent *r = mark(s, f, 0, K_VOLUME);
    if (r->last && now < r->last + s->interval_ns)
        return;
    r->last = now ? now : 1;
    memset(&s->fc, 0, sizeof(s->fc));
    snprintf(s->fc.info, sizeof(s->fc.info),
             "\"bytes\":%.0f,\"meanBytes\":%.0f,\"stddevBytes\":%.0f,\"thresholdBytes\":%.0f,"
             "\"samples\":%llu", x, e->vol_mean, sd, thr, (unsigned long long)e->vol_n);
    emit(s, f, T_VOLUME, SEV_MEDIUM, now);
}

static void
check_smtp(struct baseline *s, struct inst_ent *e, const struct flow_rec *f, int learning,
           uint64_t now)
{
    const struct cfg *c = s->cfg;
    uint32_t h = addr_hash(&f->dst);
    unsigned b = h % SMTP_BITS;
    if (learning)
        e->n_smtp += (uint16_t)bit_set(e->smtp, b);
    /* the ring of distinct peers: refresh, or take the oldest slot */
    unsigned slot = e->n_ring;
    for (unsigned i = 0; i < e->n_ring; i++)
        if (e->ring[i].h == h) {
            slot = i;
            break;
        }
    if (slot == e->n_ring) {
        if (e->n_ring < SMTP_RING) {
            e->n_ring++;
        } else {
            slot = 0;
            for (unsigned i = 1; i < SMTP_RING; i++)
                if (e->ring[i].ts < e->ring[slot].ts)
                    slot = i;
        }
        e->ring[slot].h = h;
        e->ring[slot].is_new = !learning && !bit_get(e->smtp, b);
    }
    if (f->start_ns > e->ring[slot].ts)
        e->ring[slot].ts = f->start_ns;
    if (!learning && e->n_smtp >= c->detect.baseline.spam_min_hosts)
        return;                     /* a mail server while learning */
    unsigned n = 0, nnew = 0;
    uint64_t t = e->ring[slot].ts;
    for (unsigned i = 0; i < e->n_ring; i++)
        if (e->ring[i].ts + s->window_ns >= t) {
            n++;
            nnew += e->ring[i].is_new;
        }
    if (n < c->detect.baseline.spam_min_hosts &&
        (learning || nnew < c->detect.baseline.spam_new_hosts))
        return;
    if (e->spam_last && now < e->spam_last + s->interval_ns)
        return;
    e->spam_last = now ? now : 1;
    memset(&s->fc, 0, sizeof(s->fc));
    snprintf(s->fc.info, sizeof(s->fc.info),
             "\"distinctHosts\":%u,\"newHosts\":%u,\"windowSeconds\":%u", n, nnew,
             c->detect.baseline.spam_window_seconds);
    emit(s, f, T_SPAM, SEV_MEDIUM, now);
}

static void
baseline_flow(void *state, const struct flow_rec *f)
{
    struct baseline *s = state;
    if (!s->enabled)
        return;
    const struct flow_dir *d0 = &f->dir[0];
    if ((f->proto != 6 && f->proto != 17) || (f->family != 4 && f->family != 6) || !d0->pkts)
        return;
    const struct cfg *c = s->cfg;
    if (!det_in_home_net(c, &f->src, f->family) || det_addr_special(&f->dst, f->family) ||
        det_in_home_net(c, &f->dst, f->family))
        return;
    uint64_t now = f->start_ns;
    if (d0->last_ns > now)
        now = d0->last_ns;
    if (f->dir[1].last_ns > now)
        now = f->dir[1].last_ns;
    if (now > s->now)
        s->now = now;
    s->flows++;
    struct ikey k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.family = f->family;
    struct inst_ent *e = lru_get(&s->inst, &k);
    if (!e->first_ns)
        e->first_ns = e->last_ns = f->start_ns ? f->start_ns : (now ? now : 1);
    if (now > e->last_ns) {         /* observed time: a long silence counts as max_gap */
        uint64_t gap = now - e->last_ns;
        if (e->learned_ns < s->learn_ns)
            e->learned_ns += gap < s->gap_ns ? gap : s->gap_ns;
        e->last_ns = now;
    }
    int learning = e->learned_ns < s->learn_ns;
    int starts = d0->first_ns == f->start_ns;
    if (starts)
        check_port(s, e, f, learning, now);
    check_volume(s, e, f, learning, now);
    if (starts && f->proto == 6 &&
        in_ports(c->detect.baseline.smtp_ports, c->detect.baseline.n_smtp_ports, f->dport))
        check_smtp(s, e, f, learning, now);
    maybe_save(s);
}

static void
baseline_tick(void *state, uint64_t now_ns)
{
    struct baseline *s = state;
    if (!s->enabled)
        return;
    if (now_ns > s->now)
        s->now = now_ns;
    maybe_save(s);
}

static int
baseline_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    struct baseline *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "baseline detector: out of memory");
        return -1;
    }
    s->env = *env;
    s->cfg = env->cfg;
    const struct cfg *c = env->cfg;
    s->enabled = c->detect.baseline.enabled;
    s->learn_ns = (uint64_t)c->detect.baseline.learning_seconds * NS;
    s->gap_ns = (uint64_t)c->detect.baseline.learning_max_gap * NS;
    s->save_ns = (uint64_t)c->detect.baseline.save_interval * NS;
    s->window_ns = (uint64_t)c->detect.baseline.spam_window_seconds * NS;
    s->interval_ns = (uint64_t)c->detect.baseline.report_interval * NS;
    if (s->enabled &&
        (lru_init(&s->inst, c->detect.baseline.max_instances, sizeof(struct inst_ent),
                  offsetof(struct inst_ent, k), sizeof(struct ikey)) ||
         lru_init(&s->rep, c->detect.baseline.max_reported, sizeof(struct rep_ent),
                  offsetof(struct rep_ent, k), sizeof(struct rkey)))) {
        lru_free(&s->inst);
        lru_free(&s->rep);
        free(s);
        snprintf(err, errlen, "baseline detector: out of memory");
        return -1;
    }
    if (s->enabled)
        load_state(s);
    *state = s;
    return 0;
}

static void
baseline_fini(void *state)
{
    struct baseline *s = state;
    if (!s)
        return;
    if (s->enabled)
        save_state(s);
    lru_free(&s->inst);
    lru_free(&s->rep);
    free(s);
}

/* Counters by name (tests): "flows", "emitted", "instances", "instances_evicted",
 * "reported", "loaded", "load_errors", "saved", "save_errors"; -1 if unknown. */
int64_t det_baseline_stat(const void *state, const char *name);

int64_t
det_baseline_stat(const void *state, const char *name)
{
    const struct baseline *s = state;
    if (!strcmp(name, "flows"))
        return (int64_t)s->flows;
    if (!strcmp(name, "emitted"))
        return (int64_t)s->emitted;
    if (!strcmp(name, "instances"))
        return s->inst.n;
    if (!strcmp(name, "instances_evicted"))
        return (int64_t)s->inst.evicted;
    if (!strcmp(name, "reported"))
        return s->rep.n;
    if (!strcmp(name, "loaded"))
        return (int64_t)s->loaded;
    if (!strcmp(name, "load_errors"))
        return (int64_t)s->load_errors;
    if (!strcmp(name, "saved"))
        return (int64_t)s->saved;
    if (!strcmp(name, "save_errors"))
        return (int64_t)s->save_errors;
    return -1;
}

const struct det_ops det_baseline_ops = {
    .name = "baseline",
    .init = baseline_init,
    .on_flow = baseline_flow,
    .tick = baseline_tick,
    .fini = baseline_fini,
};

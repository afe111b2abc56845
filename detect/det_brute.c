/* detect/det_brute.c - brute force against SSH, RDP and WinRM.
 *
 *   UnauthorizedAccess:EC2/SSHBruteForce
 *   UnauthorizedAccess:EC2/RDPBruteForce
 *   Impact:EC2/WinRMBruteForce
 *       inbound  (a remote attacks the instance): TARGET, INBOUND, Low 2.0
 *       outbound (the instance attacks a remote): ACTOR, OUTBOUND, High 8.0
 *
 * Flow logs only show "many connections to port 22". Packets show more, and
 * this detector uses it to tell password guessing from a busy server:
 *
 * An ATTEMPT is one TCP flow record that
 *   - is SSH (an "SSH-" banner, flow_rec.app == APP_SSH, on any port; or no
 *     payload recognised and the server port in ssh_ports), RDP (an X.224
 *     Connection Request on any port; or no/TLS payload on rdp_ports) or
 *     WinRM (server port in winrm_ports, HTTP, TLS or unrecognised payload);
 *   - completed its handshake (outcome CONN_SUCCESS: the responder's SYN-ACK
 *     was seen, so dir[0] really is the client). Connections that were
 *     refused or never answered are scans: det_scan's business, not ours;
 *   - is not a piece cut by the active timeout (FLOW_END_ACTIVE: a session
 *     still open after 60 s is long-lived), and lasted at most
 *     max_session_seconds from its first packet (flow_rec.start_ns, which an
 *     active timeout does not reset, so the tail of a long session is long);
 *   - carried a login exchange: at least min_payload_bytes of estimated
 *     payload each way (IP bytes minus 40 (IPv4) / 60 (IPv6) per packet, an
 *     upper bound of the payload), which leaves out bare handshakes, load
 *     balancer health checks and banner grabs;
 *   - carried little: at most max_bytes_to_server / max_bytes_to_client IP
 *     bytes. A failed SSH password session is key exchange plus a few
 *     authentication packets, 3-8 KB each way in a few seconds; scp, git,
 *     sftp and interactive sessions carry much more or last longer.
 *
 * RULE 1, repeated attempts: a (source, target, service) record counts
 * attempts in a sliding window of window_seconds (10 buckets, so the window
 * is exact to a tenth). When it holds min_attempts, a candidate is emitted;
 * after that one more per 'batch' further attempts in the same EPISODE (an
 * episode ends when no attempt is seen for window_seconds; the next one
 * starts counting from zero and reports again at the threshold).
 *
 * RULE 2, password spraying: a (source, service) record counts the source's
 * attempts against all targets in the window and remembers its 16 most
 * recent targets. When at least spray_min_targets distinct targets and
 * spray_min_attempts attempts in all fall in the window, every target in it
 * not yet reported in this episode gets one candidate (rule "spray"), and so
 * does every new target while the source keeps spraying. A target already
 * reported by rule 1 is not reported again by rule 2.
 *
 * COUNT. Each candidate has count 1 and stands for one report: the first
 * crossing of the threshold, or one further batch of 'batch' attempts. The
 * aggregated finding's service.count is therefore the number of reports
 * (about 1 + (attempts - min_attempts) / batch for rule 1), and
 * additionalInfo.attempts is the number of attempts counted in the episode
 * so far (rule 1) or against that target (rule 2).
 *
 * additionalInfo: attempts, windowSeconds, medianBytesToServer,
 * medianBytesToClient (IP bytes), medianDurationMs (over the pair's last 16
 * attempts), protocolFrom ("banner": recognised from the first bytes,
 * "port": from the port only), rule ("repeated" | "spray"), and for spraying
 * targets and sourceAttempts.
 *
 * DIRECTION. The target (responder) in home_net gives the inbound finding on
 * the target instance; the source in home_net gives the outbound finding on
 * the attacking instance; both in home_net (an instance attacking another),
 * both findings; neither (home_net does not cover the mirrored instance),
 * the inbound one on the target.
 *
 * LIMITS (by design). Attempts slower than min_attempts per window_seconds
 * (default: one every 30 s or slower) are not reported: raise window_seconds
 * to see slow guessing, at the price of more automation looking like it.
 * Automation that opens many tiny sessions to one host (monitoring over SSH,
 * Ansible without ControlPersist) looks like guessing from the packets
 * alone: put it on the trusted list or a suppression rule. RDP servers
 * without NLA send the bitmap logon screen before authentication: their
 * failed attempts can exceed max_bytes_to_client.
 *
 * STATE. Two fixed-capacity tables (max_pairs entries of ~370 bytes,
 * max_sources entries of ~780 bytes, allocated zeroed at start so pages are
 * touched only as they fill), chained hashing, the least recently used entry
 * evicted when full (counted: det_brute_counter()). Only attempts create
 * entries: other traffic costs one classification. Packet time only: the
 * window moves with the records' timestamps; no tick is needed, an episode
 * ends lazily when the next attempt comes after a quiet window. */
#include "det.h"
#include "cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull

#define SEV_INBOUND  2.0
#define SEV_OUTBOUND 8.0

enum { SVC_SSH = 0, SVC_RDP, SVC_WINRM, SVC_N };

static const char *const svc_type[SVC_N] = {
    [SVC_SSH] = "UnauthorizedAccess:EC2/SSHBruteForce",
    [SVC_RDP] = "UnauthorizedAccess:EC2/RDPBruteForce",
    [SVC_WINRM] = "Impact:EC2/WinRMBruteForce",
};

#define NB 10               /* window buckets */
#define NSAMP 16            /* attempts kept per pair for the medians */
#define NTGT 16             /* targets remembered per source */
#define NIL 0xffffffffu

/* Attempts in a sliding window: NB buckets of window/NB, each tagged with
 * its absolute bucket number (packet time / width). */
struct win {
    uint32_t epoch[NB];
    uint32_t cnt[NB];
};

struct bkey {
    struct mg_addr a, b;    /* source, target (zero for a source record) */
    uint8_t family, svc;
    uint8_t _pad[2];
};

/* Every table entry starts with this. */
struct hdr {
    uint32_t hnext;         /* hash chain */
    uint32_t prev, next;    /* LRU list: prev toward most recent */
    uint32_t hash;
    struct bkey key;
};

struct pair {               /* (source, target, service) */
    struct hdr h;
    struct win w;
    uint64_t last_ns;       /* latest attempt */
    uint32_t attempts;      /* in this episode */
    uint32_t next_report;   /* attempts at which the next batch is reported */
    uint8_t  reported;      /* rule 1 reported in this episode */
    uint8_t  banner;        /* the latest attempt was recognised by its bytes */
    uint8_t  ns, si;        /* samples held, next slot */
    uint16_t sport, cport;  /* server and client port of the latest attempt */
    uint32_t vni_c, vni_s;  /* mirror sessions of the client and server sides */
    uint32_t s_to_srv[NSAMP], s_to_cli[NSAMP], s_dur_ms[NSAMP];
};

struct tgt {
    struct mg_addr addr;
    uint64_t last_ns;       /* 0 = empty slot */
    uint32_t attempts;      /* since this target's episode began */
    uint32_t vni_s;
    uint16_t sport, cport;
    uint8_t  reported;      /* rule 2 reported it in this episode */
    uint8_t  banner;
};

struct src {                /* (source, service) */
    struct hdr h;
    struct win w;
    uint32_t vni_c;
    struct tgt t[NTGT];
};

struct tab {
    char *ents;
    size_t stride;
    uint32_t cap, used, nb_mask;
    uint32_t *buckets;
    uint32_t mru, lru;
    uint64_t evicted;
};

struct brute {
    struct det_env env;
    int enabled;
    uint64_t window_ns, width_ns, max_dur_ns;
    struct tab pairs, srcs;
    uint64_t attempts, reports;
    struct finding_cand fc;
};

/* ------------------------------------------------------------- window */

static void
win_add(struct win *w, uint64_t t_ns, uint64_t width)
{
    uint32_t e = (uint32_t)(t_ns / width);
    unsigned s = e % NB;
    if (w->epoch[s] != e) {
        if (w->cnt[s] && w->epoch[s] > e)
            return;             /* older than the whole window: not counted */
        w->epoch[s] = e;
        w->cnt[s] = 0;
    }
    if (w->cnt[s] != UINT32_MAX)
        w->cnt[s]++;
}

static uint32_t
win_sum(const struct win *w, uint64_t now_ns, uint64_t width)
{
    uint32_t e = (uint32_t)(now_ns / width);
    uint64_t sum = 0;
    for (unsigned s = 0; s < NB; s++)
        if (w->cnt[s] && w->epoch[s] <= e && w->epoch[s] + NB > e)
            sum += w->cnt[s];
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* -------------------------------------------------------------- table */

static uint32_t
key_hash(const struct bkey *k)
{
    uint64_t w[4];
    memcpy(w, k->a.b, 16);
    memcpy(w + 2, k->b.b, 16);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)k->family << 8 | k->svc);
    for (int i = 0; i < 4; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static struct hdr *
ent(const struct tab *t, uint32_t i)
{
    return (struct hdr *)(t->ents + (size_t)i * t->stride);
}

static int
tab_init(struct tab *t, uint32_t cap, size_t stride)
{
    memset(t, 0, sizeof(*t));
    uint32_t nb = 1;
    while (nb < cap && nb < (1u << 30))
        nb <<= 1;
    t->ents = calloc(cap, stride);
    t->buckets = malloc((size_t)nb * sizeof(uint32_t));
    if (!t->ents || !t->buckets)
        return -1;
    for (uint32_t i = 0; i < nb; i++)
        t->buckets[i] = NIL;
    t->nb_mask = nb - 1;
    t->cap = cap;
    t->stride = stride;
    t->mru = t->lru = NIL;
    return 0;
}

static void
tab_free(struct tab *t)
{
    free(t->ents);
    free(t->buckets);
}

static void
lru_unlink(struct tab *t, uint32_t i)
{
    struct hdr *h = ent(t, i);
    if (h->prev != NIL)
        ent(t, h->prev)->next = h->next;
    else
        t->mru = h->next;
    if (h->next != NIL)
        ent(t, h->next)->prev = h->prev;
    else
        t->lru = h->prev;
}

static void
lru_push(struct tab *t, uint32_t i)
{
    struct hdr *h = ent(t, i);
    h->prev = NIL;
    h->next = t->mru;
    if (t->mru != NIL)
        ent(t, t->mru)->prev = i;
    t->mru = i;
    if (t->lru == NIL)
        t->lru = i;
}

static struct hdr *
tab_find(const struct tab *t, const struct bkey *k)
{
    uint32_t h = key_hash(k);
    for (uint32_t i = t->buckets[h & t->nb_mask]; i != NIL; i = ent(t, i)->hnext) {
        struct hdr *e = ent(t, i);
        if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0)
            return e;
    }
    return NULL;
}

/* The entry for k, made most recent; a new one is zeroed past the header
 * (*fresh = 1), evicting the least recently used entry when full. */
static struct hdr *
tab_get(struct tab *t, const struct bkey *k, int *fresh)
{
    uint32_t h = key_hash(k);
    uint32_t *bp = &t->buckets[h & t->nb_mask];
    for (uint32_t i = *bp; i != NIL; i = ent(t, i)->hnext) {
        struct hdr *e = ent(t, i);
        if (e->hash == h && memcmp(&e->key, k, sizeof(*k)) == 0) {
            if (t->mru != i) {
                lru_unlink(t, i);
                lru_push(t, i);
            }
            *fresh = 0;
            return e;
        }
    }
    uint32_t i;
    if (t->used < t->cap) {
        i = t->used++;
    } else {
        i = t->lru;
        struct hdr *old = ent(t, i);
        uint32_t *pp = &t->buckets[old->hash & t->nb_mask];
        while (*pp != i)
            pp = &ent(t, *pp)->hnext;
        *pp = old->hnext;
        lru_unlink(t, i);
        t->evicted++;
    }
    struct hdr *e = ent(t, i);
    memset(e, 0, t->stride);
    e->key = *k;
    e->hash = h;
    e->hnext = *bp;
    *bp = i;
    lru_push(t, i);
    *fresh = 1;
    return e;
}

/* ------------------------------------------------------------ helpers */

static int
port_in(const uint16_t *ports, unsigned n, uint16_t p)
{
    for (unsigned i = 0; i < n; i++)
        if (ports[i] == p)
            return 1;
    return 0;
}

static uint32_t
median(const uint32_t *v, unsigned n)
{
    uint32_t a[NSAMP];
    if (!n)
        return 0;
    memcpy(a, v, n * sizeof(a[0]));
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && a[j - 1] > a[j]; j--) {
            uint32_t x = a[j];
            a[j] = a[j - 1];
            a[j - 1] = x;
        }
    return a[n / 2];
}

static uint32_t
clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The service of f, -1 if none; *banner: recognised from its bytes. */
static int
service_of(const struct cfg *c, const struct flow_rec *f, int *banner)
{
    *banner = 0;
    if (f->app == APP_SSH) {
        *banner = 1;
        return SVC_SSH;
    }
    if (f->app == APP_RDP) {
        *banner = 1;
        return SVC_RDP;
    }
    if (f->app == APP_NONE && port_in(c->detect.brute.ssh_ports, c->detect.brute.n_ssh_ports,
                                      f->dport))
        return SVC_SSH;
    if ((f->app == APP_NONE || f->app == APP_TLS) &&
        port_in(c->detect.brute.rdp_ports, c->detect.brute.n_rdp_ports, f->dport))
        return SVC_RDP;
    if ((f->app == APP_NONE || f->app == APP_HTTP || f->app == APP_TLS) &&
        port_in(c->detect.brute.winrm_ports, c->detect.brute.n_winrm_ports, f->dport))
        return SVC_WINRM;
    return -1;
}

/* ----------------------------------------------------------- emission */

struct report {
    int svc;
    uint8_t family;
    const struct mg_addr *src, *dst;
    uint16_t sport, cport;      /* server, client port */
    uint32_t vni_c, vni_s;
    uint64_t ts_ns;
    const struct pair *p;       /* evidence (medians), may be NULL */
    uint32_t attempts;
    int banner;
    int spray;
    uint32_t targets, src_attempts;
};

static void
emit_one(struct brute *b, const struct report *r, int inbound)
{
    struct finding_cand *fc = &b->fc;
    memset(fc, 0, sizeof(*fc));
    snprintf(fc->type, sizeof(fc->type), "%s", svc_type[r->svc]);
    fc->severity = inbound ? SEV_INBOUND : SEV_OUTBOUND;
    fc->ts_ns = r->ts_ns;
    fc->vni = inbound ? r->vni_s : r->vni_c;
    if (!fc->vni)
        fc->vni = inbound ? r->vni_c : r->vni_s;
    fc->action = FC_NETWORK_CONNECTION;
    fc->role = inbound ? FC_TARGET : FC_ACTOR;
    fc->direction = inbound ? FC_INBOUND : FC_OUTBOUND;
    fc->family = r->family;
    fc->proto = 6;
    fc->local = inbound ? *r->dst : *r->src;
    fc->remote = inbound ? *r->src : *r->dst;
    fc->local_port = inbound ? r->sport : r->cport;
    fc->remote_port = inbound ? r->cport : r->sport;
    fc->count = 1;
    const struct pair *p = r->p;
    int n = snprintf(fc->info, sizeof(fc->info),
                     "\"attempts\":%u,\"windowSeconds\":%u,\"medianBytesToServer\":%u,"
                     "\"medianBytesToClient\":%u,\"medianDurationMs\":%u,"
                     "\"protocolFrom\":\"%s\",\"rule\":\"%s\"",
                     r->attempts, b->env.cfg->detect.brute.window_seconds,
                     p ? median(p->s_to_srv, p->ns) : 0, p ? median(p->s_to_cli, p->ns) : 0,
                     p ? median(p->s_dur_ms, p->ns) : 0, r->banner ? "banner" : "port",
                     r->spray ? "spray" : "repeated");
    if (r->spray && n > 0 && (size_t)n < sizeof(fc->info))
        n += snprintf(fc->info + n, sizeof(fc->info) - (size_t)n,
                      ",\"targets\":%u,\"sourceAttempts\":%u", r->targets, r->src_attempts);
    if (n < 0 || (size_t)n >= sizeof(fc->info))
        fc->info[0] = '\0';     /* cut JSON is worse than none */
    b->env.emit(b->env.arg, fc);
}

static void
emit_report(struct brute *b, const struct report *r)
{
    const struct cfg *c = b->env.cfg;
    int src_home = det_in_home_net(c, r->src, r->family);
    int dst_home = det_in_home_net(c, r->dst, r->family);
    b->reports++;
    if (dst_home || !src_home)
        emit_one(b, r, 1);
    if (src_home)
        emit_one(b, r, 0);
}

/* ----------------------------------------------------------- detector */

static int
brute_init(void **state, const struct det_env *env, char *err, unsigned errlen)
{
    const struct cfg *c = env->cfg;
    struct brute *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "brute detector: out of memory");
        return -1;
    }
    b->env = *env;
    b->enabled = c->detect.brute.enabled;
    b->window_ns = (uint64_t)c->detect.brute.window_seconds * NS_PER_S;
    b->width_ns = b->window_ns / NB;
    if (!b->width_ns)
        b->width_ns = 1;
    b->max_dur_ns = (uint64_t)c->detect.brute.max_session_seconds * NS_PER_S;
    if (b->enabled &&
        (tab_init(&b->pairs, c->detect.brute.max_pairs, sizeof(struct pair)) != 0 ||
         tab_init(&b->srcs, c->detect.brute.max_sources, sizeof(struct src)) != 0)) {
        tab_free(&b->pairs);
        tab_free(&b->srcs);
        free(b);
        snprintf(err, errlen, "brute detector: out of memory for %u + %u entries",
                 c->detect.brute.max_pairs, c->detect.brute.max_sources);
        return -1;
    }
    *state = b;
    return 0;
}

static void
brute_fini(void *state)
{
    struct brute *b = state;
    if (!b)
        return;
    tab_free(&b->pairs);
    tab_free(&b->srcs);
    free(b);
}

/* Rule 2 for the attempt just counted in pair p. */
static void
spray_check(struct brute *b, const struct flow_rec *f, int svc, int banner, uint64_t t,
            struct pair *p)
{
    const struct cfg *c = b->env.cfg;
    struct bkey k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.family = f->family;
    k.svc = (uint8_t)svc;
    int fresh;
    struct src *s = (struct src *)tab_get(&b->srcs, &k, &fresh);
    win_add(&s->w, t, b->width_ns);
    s->vni_c = f->dir[0].vni;

    /* This target's slot: its own, a free or stale one, else the oldest. */
    struct tgt *slot = NULL, *old = &s->t[0];
    for (unsigned i = 0; i < NTGT; i++) {
        struct tgt *x = &s->t[i];
        if (x->last_ns && memcmp(&x->addr, &f->dst, sizeof(f->dst)) == 0) {
            slot = x;
            break;
        }
        if (x->last_ns < old->last_ns)
            old = x;
    }
    if (!slot) {
        slot = old;
        memset(slot, 0, sizeof(*slot));
        slot->addr = f->dst;
    } else if (slot->last_ns + b->window_ns < t) {
        slot->attempts = 0;     /* a new episode for this target */
        slot->reported = 0;
    }
    if (t > slot->last_ns)
        slot->last_ns = t;
    if (slot->attempts != UINT32_MAX)
        slot->attempts++;
    slot->vni_s = f->dir[1].vni;
    slot->sport = f->dport;
    slot->cport = f->sport;
    slot->banner = (uint8_t)banner;
    if (p->reported)
        slot->reported = 1;     /* rule 1 has it */

    uint32_t want_t = c->detect.brute.spray_min_targets;
    if (!want_t)
        return;
    uint32_t total = win_sum(&s->w, t, b->width_ns);
    if (total < c->detect.brute.spray_min_attempts)
        return;
    uint32_t n = 0;
    for (unsigned i = 0; i < NTGT; i++)
        if (s->t[i].last_ns && s->t[i].last_ns + b->window_ns >= t)
            n++;
    if (n < want_t)
        return;
    for (unsigned i = 0; i < NTGT; i++) {
        struct tgt *x = &s->t[i];
        if (!x->last_ns || x->last_ns + b->window_ns < t || x->reported)
            continue;
        struct bkey pk;
        memset(&pk, 0, sizeof(pk));
        pk.a = f->src;
        pk.b = x->addr;
        pk.family = f->family;
        pk.svc = (uint8_t)svc;
        const struct pair *xp = (const struct pair *)tab_find(&b->pairs, &pk);
        if (xp && xp->reported) {
            x->reported = 1;
            continue;
        }
        struct report r = {
            .svc = svc, .family = f->family, .src = &f->src, .dst = &x->addr,
            .sport = x->sport, .cport = x->cport, .vni_c = s->vni_c, .vni_s = x->vni_s,
            .ts_ns = t, .p = xp, .attempts = x->attempts, .banner = x->banner,
            .spray = 1, .targets = n, .src_attempts = total,
        };
        x->reported = 1;
        emit_report(b, &r);
    }
}

static void
brute_flow(void *state, const struct flow_rec *f)
{
    struct brute *b = state;
    const struct cfg *c = b->env.cfg;
    if (!b->enabled || f->proto != 6 || f->reason == FLOW_END_ACTIVE ||
        f->outcome != CONN_SUCCESS || !f->dir[0].pkts || !f->dir[1].pkts)
        return;
    int banner;
    int svc = service_of(c, f, &banner);
    if (svc < 0)
        return;

    uint64_t t = f->dir[0].last_ns > f->dir[1].last_ns ? f->dir[0].last_ns : f->dir[1].last_ns;
    uint64_t dur = t > f->start_ns ? t - f->start_ns : 0;
    if (dur > b->max_dur_ns)
        return;                                 /* long-lived: a real session */
    uint64_t hdr = f->family == 6 ? 60 : 40;
    uint64_t pay0 = f->dir[0].bytes > hdr * f->dir[0].pkts ?
                    f->dir[0].bytes - hdr * f->dir[0].pkts : 0;
    uint64_t pay1 = f->dir[1].bytes > hdr * f->dir[1].pkts ?
                    f->dir[1].bytes - hdr * f->dir[1].pkts : 0;
    if (pay0 < c->detect.brute.min_payload_bytes || pay1 < c->detect.brute.min_payload_bytes)
        return;                                 /* no login exchanged */
    if (f->dir[0].bytes > c->detect.brute.max_bytes_to_server ||
        f->dir[1].bytes > c->detect.brute.max_bytes_to_client)
        return;                                 /* real use: transfer, shell */

    b->attempts++;
    struct bkey k;
    memset(&k, 0, sizeof(k));
    k.a = f->src;
    k.b = f->dst;
    k.family = f->family;
    k.svc = (uint8_t)svc;
    int fresh;
    struct pair *p = (struct pair *)tab_get(&b->pairs, &k, &fresh);
    if (!fresh && p->last_ns + b->window_ns < t) {
        p->attempts = 0;                        /* quiet for a window: new episode */
        p->reported = 0;
    }
    if (t > p->last_ns)
        p->last_ns = t;
    win_add(&p->w, t, b->width_ns);
    if (p->attempts != UINT32_MAX)
        p->attempts++;
    p->banner = (uint8_t)banner;
    p->sport = f->dport;
    p->cport = f->sport;
    p->vni_c = f->dir[0].vni;
    p->vni_s = f->dir[1].vni;
    p->s_to_srv[p->si] = clamp32(f->dir[0].bytes);
    p->s_to_cli[p->si] = clamp32(f->dir[1].bytes);
    p->s_dur_ms[p->si] = clamp32(dur / NS_PER_MS);
    p->si = (uint8_t)((p->si + 1) % NSAMP);
    if (p->ns < NSAMP)
        p->ns++;

    int report = 0;
    if (!p->reported) {
        if (win_sum(&p->w, t, b->width_ns) >= c->detect.brute.min_attempts) {
            p->reported = 1;
            p->next_report = p->attempts + c->detect.brute.batch;
            report = 1;
        }
    } else if (p->attempts >= p->next_report) {
        p->next_report = p->attempts + c->detect.brute.batch;
        report = 1;
    }
    if (report) {
        struct report r = {
            .svc = svc, .family = f->family, .src = &f->src, .dst = &f->dst,
            .sport = f->dport, .cport = f->sport, .vni_c = p->vni_c, .vni_s = p->vni_s,
            .ts_ns = t, .p = p, .attempts = p->attempts, .banner = banner,
        };
        emit_report(b, &r);
    }
    spray_check(b, f, svc, banner, t, p);
}

/* For tests and figures: "attempts", "reports", "pairs_used",
 * "pairs_evicted", "sources_used", "sources_evicted"; 0 for anything else. */
uint64_t det_brute_counter(const void *state, const char *name);

uint64_t
det_brute_counter(const void *state, const char *name)
{
    const struct brute *b = state;
    if (!b || !name)
        return 0;
    if (!strcmp(name, "attempts"))
        return b->attempts;
    if (!strcmp(name, "reports"))
        return b->reports;
    if (!strcmp(name, "pairs_used"))
        return b->pairs.used;
    if (!strcmp(name, "pairs_evicted"))
        return b->pairs.evicted;
    if (!strcmp(name, "sources_used"))
        return b->srcs.used;
    if (!strcmp(name, "sources_evicted"))
        return b->srcs.evicted;
    return 0;
}

const struct det_ops det_brute_ops = {
    .name = "brute",
    .init = brute_init,
    .on_flow = brute_flow,
    .fini = brute_fini,
};

/* sensor/output.c - flow records in the VPC Flow Logs text format and DNS
 * transactions as JSON lines, findings as JSON lines and to Redis. Runs in
 * the output thread, which owns the files; Redis delivery runs in a thread
 * of its own (see "Redis delivery thread"). Write errors (disk full) are
 * said when they happen and again at close, loudly, never silently ignored. */
#define _GNU_SOURCE 1
#include "sensor.h"
#include "obuf.h"
#include "findings.h"
#include "lists.h"
#include "report_redis.h"
#include "mono.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* VPC Flow Logs fields (docs: "Flow log records"), with the version that
 * introduced each. The version field of a record is the highest among the
 * chosen fields, as AWS does for custom formats. */
enum vpc_field {
    VF_VERSION, VF_ACCOUNT, VF_IFACE, VF_SRCADDR, VF_DSTADDR, VF_SRCPORT, VF_DSTPORT,
    VF_PROTO, VF_PACKETS, VF_BYTES, VF_START, VF_END, VF_ACTION, VF_LOGSTATUS,
    VF_VPC, VF_SUBNET, VF_INSTANCE, VF_TCPFLAGS, VF_TYPE, VF_PKTSRC, VF_PKTDST,
    VF_REGION, VF_AZ, VF_SUBLOC_TYPE, VF_SUBLOC_ID, VF_PKT_SRC_SVC, VF_PKT_DST_SVC,
    VF_FLOWDIR, VF_TRAFFIC_PATH, VF_MAX
};

static const struct { const char *name; int version; } vpc_fields[VF_MAX] = {
    [VF_VERSION] = { "version", 2 },        [VF_ACCOUNT] = { "account-id", 2 },
    [VF_IFACE] = { "interface-id", 2 },     [VF_SRCADDR] = { "srcaddr", 2 },
    [VF_DSTADDR] = { "dstaddr", 2 },        [VF_SRCPORT] = { "srcport", 2 },
    [VF_DSTPORT] = { "dstport", 2 },        [VF_PROTO] = { "protocol", 2 },
    [VF_PACKETS] = { "packets", 2 },        [VF_BYTES] = { "bytes", 2 },
    [VF_START] = { "start", 2 },            [VF_END] = { "end", 2 },
    [VF_ACTION] = { "action", 2 },          [VF_LOGSTATUS] = { "log-status", 2 },
    [VF_VPC] = { "vpc-id", 3 },             [VF_SUBNET] = { "subnet-id", 3 },
    [VF_INSTANCE] = { "instance-id", 3 },   [VF_TCPFLAGS] = { "tcp-flags", 3 },
    [VF_TYPE] = { "type", 3 },              [VF_PKTSRC] = { "pkt-srcaddr", 3 },
    [VF_PKTDST] = { "pkt-dstaddr", 3 },     [VF_REGION] = { "region", 4 },
    [VF_AZ] = { "az-id", 4 },               [VF_SUBLOC_TYPE] = { "sublocation-type", 4 },
    [VF_SUBLOC_ID] = { "sublocation-id", 4 },
    [VF_PKT_SRC_SVC] = { "pkt-src-aws-service", 5 },
    [VF_PKT_DST_SVC] = { "pkt-dst-aws-service", 5 },
    [VF_FLOWDIR] = { "flow-direction", 5 }, [VF_TRAFFIC_PATH] = { "traffic-path", 5 },
};

static FILE *
open_out(const char *path, int *own, char *err, size_t errlen)
{
    *own = 0;
    if (!path || !*path)
        return NULL;
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* The obuf (obuf.h) is the buffer: writes go straight to the file, so a
     * failed one says exactly which lines it lost. */
    setvbuf(f, NULL, _IONBF, 0);
    *own = 1;
    return f;
}

/* ==== Findings ==== */

/* A trusted entry suppresses every finding that involves it: either
 * address, or the queried domain. */
static int
trusted_fn(void *arg, const struct finding_cand *fc)
{
    struct output *o = arg;
    const struct lists *l = o->lists ? atomic_load_explicit(o->lists, memory_order_acquire) : NULL;
    if (!l)
        return 0;
    if (fc->family && ((lists_match_ip(l, &fc->local, fc->family, NULL) & LISTS_TRUSTED) ||
                       (lists_match_ip(l, &fc->remote, fc->family, NULL) & LISTS_TRUSTED)))
        return 1;
    return fc->domain[0] && (lists_match_domain(l, fc->domain, NULL) & LISTS_TRUSTED);
}

/* ==== Redis delivery thread ====
 *
 * Redis is talked to from a thread of its own ("mg-redis"): a connect or a
 * command to a stalled server blocks for up to its timeout, and on the
 * output thread that held back the flow and DNS logs (and, live, filled the
 * ring to it). The output thread hands each publication over as a copy on a
 * list under pump_mu; the Redis thread submits them, polls (retries, spool)
 * and refreshes the Redis figures for the stats. Only the Redis thread
 * touches o->redis until output_close() has joined it. */

struct pump_msg {
    struct pump_msg *next;
    double severity;
    uint64_t epoch_s, count;
    int archived;
    const char *id, *type, *updated_at, *instance_id, *json;   /* into text[] */
    char text[];
};

#define PUMP_MAX 65536              /* publications waiting: the output thread waits beyond */

static void
pump_put(struct output *o, const struct finding_pub *p)
{
    const char *str[5] = { p->id, p->type, p->updated_at, p->instance_id ? p->instance_id : "",
                           p->json };
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++)
        total += (len[i] = strlen(str[i])) + 1;
    struct pump_msg *m = malloc(sizeof(*m) + total);
    if (!m) {
        fprintf(stderr, "mirrorguard: out of memory: finding %s not handed to Redis "
                "(it is in the findings file)\n", p->id);
        pthread_mutex_lock(&o->pump_mu);
        o->pump_lost++;                 /* counted as lost in the stats */
        pthread_mutex_unlock(&o->pump_mu);
        return;
    }
    m->next = NULL;
    m->severity = p->severity;
    m->epoch_s = p->updated_epoch / 1000;
    m->count = p->count;
    m->archived = p->archived;
    const char **dst[5] = { &m->id, &m->type, &m->updated_at, &m->instance_id, &m->json };
    char *t = m->text;
    for (int i = 0; i < 5; i++) {
        memcpy(t, str[i], len[i] + 1);
        *dst[i] = t;
        t += len[i] + 1;
    }
    pthread_mutex_lock(&o->pump_mu);
    while (o->pump_n >= PUMP_MAX)       /* never dropped: wait for the Redis thread */
        pthread_cond_wait(&o->pump_room, &o->pump_mu);
    if (o->pump_tail)
        o->pump_tail->next = m;
    else
        o->pump_head = m;
    o->pump_tail = m;
    o->pump_n++;
    pthread_cond_signal(&o->pump_work);
    pthread_mutex_unlock(&o->pump_mu);
}

/* The Redis thread's rest between rounds: until a publication is handed
 * over or PUMP_IDLE_MS pass (retries, reconnects and the spool's batched
 * fsync (200 ms) need a round now and then, not 200 a second). */
#define PUMP_IDLE_MS 50

static void
pump_rest(struct output *o)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += PUMP_IDLE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&o->pump_mu);
    if (!o->pump_head && !o->pump_stop)
        pthread_cond_timedwait(&o->pump_work, &o->pump_mu, &ts);
    pthread_mutex_unlock(&o->pump_mu);
}

static void *
pump_main(void *arg)
{
    struct output *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->pump_mu);
        struct pump_msg *m = o->pump_head;
        o->pump_head = o->pump_tail = NULL;
        int stop = o->pump_stop;
        pthread_mutex_unlock(&o->pump_mu);
        while (m) {
            struct pump_msg *next = m->next;
            redis_out_submit(o->redis, m->id, m->type, m->severity, m->updated_at, m->epoch_s,
                             m->instance_id, m->archived, m->count, m->json);
            free(m);
            m = next;
            /* pump_n counts a publication until redis_out has it (queued,
             * spooled or lost): the stats' 'handover'. */
            pthread_mutex_lock(&o->pump_mu);
            if (o->pump_n-- == PUMP_MAX)
                pthread_cond_broadcast(&o->pump_room);
            pthread_mutex_unlock(&o->pump_mu);
        }
        if (stop)
            break;              /* output_close() delivers the rest and closes */
        redis_out_poll(o->redis, mono_ms());
        struct redis_out_stats rs;
        redis_out_stats(o->redis, &rs);
        pthread_mutex_lock(&o->snap_mu);
        o->rstats = rs;
        o->have_rstats = 1;
        pthread_mutex_unlock(&o->snap_mu);
        pump_rest(o);
    }
    return NULL;
}

/* A file that cannot be written is said once, when it happens (exit says
 * it again and fails); 'bit' keeps which files have been said. */
enum { SAID_FLOWS = 1, SAID_DNS = 2, SAID_FINDINGS = 4 };

static void
say_write_error(struct output *o, const struct obuf *b, int bit, const char *path,
                const char *what)
{
    if (!b || !b->err || (o->errs_said & bit))
        return;
    o->errs_said |= bit;
    fprintf(stderr, "mirrorguard: writing %s failed: %s (%s lost from here)\n", path,
            strerror(errno ? errno : EIO), what);
}

/* Every publication goes to the findings file (JSON lines) and to Redis. */
static void
publish_fn(void *arg, const struct finding_pub *p)
{
    struct output *o = arg;
    if (o->findings) {
        /* Each finding reaches the file at once (they are few): a reader
         * tailing it, or a crash, never waits on 64 KiB of others; a write
         * error is said when it happens, and again at close. */
        ob_str(o->xb, p->json);
        ob_ch(o->xb, '\n');
        ob_flush(o->xb);
        if (fflush(o->findings) != 0)
            o->xb->err = 1;
        say_write_error(o, o->xb, SAID_FINDINGS, o->cfg->outputs.findings_path,
                        "finding lines");
    }
    if (o->redis)
        pump_put(o, p);
    STAT_INC(o->finding_lines);
}

static void
redis_log(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "mirrorguard: %s\n", line);
}

static int
open_redis(struct output *o, const struct cfg *c, char *err, size_t errlen)
{
    const char *url = c->outputs.redis.url;
    if (!url || !*url)
        return 0;
    struct redis_out_cfg rc = {
        .url = url,
        .password_file = c->outputs.redis.password_file,
        .password_env = c->outputs.redis.password_env,
        .stream = c->outputs.redis.stream,
        .channel = c->outputs.redis.channel,
        .stream_maxlen = c->outputs.redis.stream_maxlen,
        .spool_dir = c->outputs.redis.spool_dir,
        .fsync = c->outputs.redis.fsync,
        .connect_timeout_ms = c->outputs.redis.connect_timeout_ms,
        .command_timeout_ms = c->outputs.redis.command_timeout_ms,
        .queue_size = c->outputs.redis.queue_size,
        .sensor_id = c->sensor_id,
        .connect_at_open = 1,
        .log = redis_log,
    };
    o->redis = redis_out_open(&rc, err, errlen);
    if (!o->redis)
        return -1;
    if (pthread_create(&o->pump_thread, NULL, pump_main, o) != 0) {
        snprintf(err, errlen, "cannot start the Redis thread");
        return -1;
    }
    pthread_setname_np(o->pump_thread, "mg-redis");
    o->pump_running = 1;
    return 0;
}

void
output_candidate(struct output *o, const struct finding_cand *fc)
{
    findings_add(o->findings_agg, fc);
}

void
output_tick(struct output *o, uint64_t packet_ns)
{
    findings_tick(o->findings_agg, packet_ns);
}

/* Output thread: the live findings figures for the stats line and JSON. */
static void
take_snapshot(struct output *o, uint64_t now)
{
    struct findings_stats fs;
    memset(&fs, 0, sizeof(fs));
    if (o->findings_agg)
        findings_stats(o->findings_agg, &fs);
    pthread_mutex_lock(&o->snap_mu);
    o->fstats = fs;                 /* the Redis figures: pump_main() */
    o->snap_ms = now;
    pthread_mutex_unlock(&o->snap_mu);
}

void
output_poll(struct output *o)
{
    struct cfg *nc = atomic_exchange_explicit(&o->pending_cfg, NULL, memory_order_acq_rel);
    if (nc) {                       /* SIGHUP: rules change between two records */
        findings_reload_rules(o->findings_agg, nc);
        atomic_store_explicit(&o->applied_cfg, nc, memory_order_release);
    }
    uint64_t now = mono_ms();
    say_write_error(o, o->fb, SAID_FLOWS, o->cfg->outputs.flows_path, "flow records");
    say_write_error(o, o->db, SAID_DNS, o->cfg->outputs.dns_path, "DNS records");
    if (now >= o->snap_ms + 500)
        take_snapshot(o, now);
}

void
output_snapshot(const struct output *o, struct findings_stats *fs, struct redis_out_stats *rs,
                int *have_redis)
{
    /* The stats functions see the pipeline as const; the lock is the one
     * thing they change. */
    pthread_mutex_t *mu = (pthread_mutex_t *)&o->snap_mu;
    pthread_mutex_lock(mu);
    *fs = o->fstats;
    *rs = o->rstats;
    *have_redis = o->have_rstats;
    pthread_mutex_unlock(mu);
    mu = (pthread_mutex_t *)&o->pump_mu;
    pthread_mutex_lock(mu);
    rs->handover = o->pump_n;
    rs->lost += o->pump_lost;
    pthread_mutex_unlock(mu);
}

int
output_open(struct output *o, const struct cfg *c, char *err, size_t errlen)
{
    _Atomic(const struct lists *) *lists = o->lists;
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->snap_mu, NULL);
    pthread_mutex_init(&o->pump_mu, NULL);
    pthread_cond_init(&o->pump_room, NULL);
    pthread_cond_init(&o->pump_work, NULL);
    atomic_init(&o->pending_cfg, NULL);
    atomic_init(&o->applied_cfg, NULL);
    o->lists = lists;
    o->cfg = c;
    o->flow_version = 2;
    for (unsigned i = 0; i < c->outputs.n_flow_fields && o->n_fields < 64; i++) {
        for (int f = 0; f < VF_MAX; f++) {
            if (strcmp(c->outputs.flow_fields[i], vpc_fields[f].name) == 0) {
                o->fields[o->n_fields++] = (uint8_t)f;
                if (vpc_fields[f].version > o->flow_version)
                    o->flow_version = vpc_fields[f].version;
                break;
            }
        }
    }
    o->flows = open_out(c->outputs.flows_path, &o->own_flows, err, errlen);
    if (!o->flows && c->outputs.flows_path && *c->outputs.flows_path)
        return -1;
    o->dns = open_out(c->outputs.dns_path, &o->own_dns, err, errlen);
    if (!o->dns && c->outputs.dns_path && *c->outputs.dns_path)
        return -1;
    o->findings = open_out(c->outputs.findings_path, &o->own_findings, err, errlen);
    if (!o->findings && c->outputs.findings_path && *c->outputs.findings_path)
        return -1;
    o->fb = calloc(1, sizeof(*o->fb));
    o->db = calloc(1, sizeof(*o->db));
    o->xb = calloc(1, sizeof(*o->xb));
    if (!o->fb || !o->db || !o->xb) {
        snprintf(err, errlen, "out of memory for output buffers");
        return -1;
    }
    o->fb->f = o->flows;
    o->db->f = o->dns;
    o->xb->f = o->findings;
    o->fb->lost = &o->flow_lost;
    o->db->lost = &o->dns_lost;
    o->xb->lost = &o->finding_lost;
    o->findings_agg = findings_new(c, err, errlen);
    if (!o->findings_agg)
        return -1;
    findings_set_trusted(o->findings_agg, trusted_fn, o);
    findings_set_publisher(o->findings_agg, publish_fn, o);
    if (open_redis(o, c, err, errlen) != 0)
        return -1;
    if (o->flows) {                 /* header line, as in S3-delivered logs */
        for (unsigned i = 0; i < o->n_fields; i++) {
            if (i)
                ob_ch(o->fb, ' ');
            ob_str(o->fb, vpc_fields[o->fields[i]].name);
        }
        ob_ch(o->fb, '\n');
    }
    return 0;
}

static int
in_home_net(const struct cfg *c, const struct mg_addr *a, int family)
{
    for (unsigned i = 0; i < c->n_home_net; i++) {
        const struct cfg_cidr *n = &c->home_net[i];
        if (n->family != family)
            continue;
        unsigned bits = n->prefix, k = 0;
        for (; bits >= 8; bits -= 8, k++)
            if (a->b[k] != n->addr[k])
                goto next;
        if (bits && ((a->b[k] ^ n->addr[k]) & (uint8_t)(0xff << (8 - bits))))
            goto next;
        return 1;
next:;
    }
    return 0;
}

/* VPC Flow Logs' tcp-flags: FIN 1, SYN 2, RST 4, SYN-ACK 18; ACK, PSH and
 * URG are not reported. A SYN from the responder came with ACK. */
static unsigned
vpc_tcp_flags(uint8_t raw, int responder)
{
    unsigned v = 0;
    if (raw & 0x01) v |= 1;
    if (raw & 0x04) v |= 4;
    if (raw & 0x02) v |= (responder && (raw & 0x10)) ? 18 : 2;
    return v;
}

static const char *
dash(const char *s)
{
    return s && *s ? s : "-";
}

static void
ob_addr(struct obuf *b, const struct mg_addr *a, int family)
{
    char t[64];
    if (family == 4)
        ob_ipv4(b, a->b);
    else
        ob_str(b, mg_addr_str(a, family, t, sizeof(t)));
}

static void
flow_line(struct output *o, const struct flow_rec *r, int d)
{
    const struct cfg *c = o->cfg;
    const struct flow_dir *fd = &r->dir[d];
    const struct mg_addr *src = d ? &r->dst : &r->src;
    const struct mg_addr *dst = d ? &r->src : &r->dst;
    unsigned sport = d ? r->dport : r->sport;
    unsigned dport = d ? r->sport : r->dport;
    const struct cfg_mirror_session *ms = cfg_session_by_vni(c, fd->vni);
    struct obuf *b = o->fb;

    if (r->proto == 1 || r->proto == 58)
        sport = dport = 0;          /* VPC Flow Logs carry no ports for ICMP */
    for (unsigned i = 0; i < o->n_fields; i++) {
        if (i)
            ob_ch(b, ' ');
        switch (o->fields[i]) {
        case VF_VERSION: ob_u64(b, (uint64_t)o->flow_version); break;
        case VF_ACCOUNT: ob_str(b, dash(ms && ms->account_id && *ms->account_id ?
                                        ms->account_id : c->account_id)); break;
        case VF_IFACE: ob_str(b, dash(ms ? ms->eni : NULL)); break;
        case VF_SRCADDR: case VF_PKTSRC: ob_addr(b, src, r->family); break;
        case VF_DSTADDR: case VF_PKTDST: ob_addr(b, dst, r->family); break;
        case VF_SRCPORT: ob_u64(b, sport); break;
        case VF_DSTPORT: ob_u64(b, dport); break;
        case VF_PROTO: ob_u64(b, r->proto); break;
        case VF_PACKETS: ob_u64(b, fd->pkts); break;
        case VF_BYTES: ob_u64(b, fd->bytes); break;
        case VF_START: ob_u64(b, fd->first_ns / 1000000000ull); break;
        case VF_END: ob_u64(b, fd->last_ns / 1000000000ull); break;
        case VF_ACTION: ob_str(b, "ACCEPT"); break;   /* a mirror only sees what was let through */
        case VF_LOGSTATUS: ob_str(b, "OK"); break;
        case VF_VPC: ob_str(b, dash(ms ? ms->vpc_id : NULL)); break;
        case VF_SUBNET: ob_str(b, dash(ms ? ms->subnet_id : NULL)); break;
        case VF_INSTANCE: ob_str(b, dash(ms ? ms->instance_id : NULL)); break;
        case VF_TCPFLAGS: ob_u64(b, r->proto == 6 ? vpc_tcp_flags(fd->tcp_flags, d) : 0); break;
        case VF_TYPE: ob_str(b, r->family == 6 ? "IPv6" : "IPv4"); break;
        case VF_REGION: ob_str(b, dash(c->region)); break;
        case VF_AZ: ob_str(b, dash(c->az_id)); break;
        case VF_FLOWDIR:
            ob_str(b, in_home_net(c, src, r->family) ? "egress" : "ingress");
            break;
        case VF_TRAFFIC_PATH:
            /* egress only: 1 = within the VPC, 8 = through an internet gateway */
            if (!in_home_net(c, src, r->family))
                ob_ch(b, '-');
            else
                ob_ch(b, in_home_net(c, dst, r->family) ? '1' : '8');
            break;
        default: ob_ch(b, '-'); break;
        }
    }
    ob_ch(b, '\n');
    ob_line_done(b);
    STAT_INC(o->flow_lines);
}

void
output_flow(struct output *o, const struct flow_rec *r)
{
    if (!o->flows)
        return;
    for (int d = 0; d < 2; d++)
        if (r->dir[d].pkts)
            flow_line(o, r, d);
}

static void
json_str(struct obuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    ob_ch(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            ob_ch(b, '\\');
            ob_ch(b, (char)ch);
        } else if (ch < 0x20 || ch >= 0x7f) {
            char u[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };
            ob_mem(b, u, 6);
        } else {
            ob_ch(b, (char)ch);
        }
    }
    ob_ch(b, '"');
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (quoted, UTC). Records come in time order,
 * so the text up to the seconds is formatted once per second and kept. */
static void
json_time(struct obuf *b, uint64_t ns)
{
    static _Thread_local uint64_t last_s = UINT64_MAX;
    static _Thread_local char head[48];
    static _Thread_local size_t head_len;
    uint64_t sec = ns / 1000000000ull;
    if (sec != last_s) {
        time_t s = (time_t)sec;
        struct tm tm;
        gmtime_r(&s, &tm);
        int k = snprintf(head, sizeof(head), "\"%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        head_len = k > 0 && (size_t)k < sizeof(head) ? (size_t)k : 0;
        last_s = sec;
    }
    char t[9];
    unsigned us = (unsigned)(ns % 1000000000ull / 1000);
    for (int i = 5; i >= 0; i--) {
        t[i] = (char)('0' + us % 10);
        us /= 10;
    }
    t[6] = 'Z';
    t[7] = '"';
    ob_mem(b, head, head_len);
    ob_mem(b, t, 8);
}

static void
json_bool(struct obuf *b, const char *key, int v)
{
    ob_str(b, key);
    ob_str(b, v ? "true" : "false");
}

static void
json_type(struct obuf *b, uint16_t type)
{
    const char *tn = dns_type_name(type);
    if (tn) {
        json_str(b, tn);
    } else {
        ob_str(b, "\"TYPE");
        ob_u64(b, type);
        ob_ch(b, '"');
    }
}

void
output_dns(struct output *o, const struct dns_rec *r)
{
    struct obuf *b = o->db;
    if (!o->dns)
        return;
    char a[64];
    const struct cfg_mirror_session *ms = cfg_session_by_vni(o->cfg, r->vni);
    ob_str(b, "{\"ts\":");
    json_time(b, r->has_query ? r->query_ns : r->response_ns);
    ob_str(b, ",\"client\":");
    json_str(b, mg_addr_str(&r->client, r->family, a, sizeof(a)));
    ob_str(b, ",\"client_port\":");
    ob_u64(b, r->cport);
    ob_str(b, ",\"server\":");
    json_str(b, mg_addr_str(&r->server, r->family, a, sizeof(a)));
    ob_str(b, ",\"server_port\":");
    ob_u64(b, r->sport);
    ob_str(b, r->transport == 6 ? ",\"transport\":\"tcp\",\"id\":" : ",\"transport\":\"udp\",\"id\":");
    ob_u64(b, r->id);
    ob_str(b, ",\"qname\":");
    json_str(b, r->qname);
    ob_str(b, ",\"qclass\":");
    ob_u64(b, r->qclass);
    ob_str(b, ",\"qtype\":");
    ob_u64(b, r->qtype);
    ob_str(b, ",\"qtype_name\":");
    json_type(b, r->qtype);
    if (r->has_response) {
        const char *rn = dns_rcode_name(r->rcode);
        ob_str(b, ",\"rcode\":");
        ob_u64(b, r->rcode);
        ob_str(b, ",\"rcode_name\":");
        if (rn)
            json_str(b, rn);
        else
            ob_str(b, "null");
        json_bool(b, ",\"aa\":", r->flags & DNS_F_AA);
        json_bool(b, ",\"tc\":", r->flags & DNS_F_TC);
        json_bool(b, ",\"rd\":", r->flags & DNS_F_RD);
        json_bool(b, ",\"ra\":", r->flags & DNS_F_RA);
        if (r->has_query) {
            uint64_t us = r->response_ns >= r->query_ns ? (r->response_ns - r->query_ns) / 1000 : 0;
            unsigned frac = (unsigned)(us % 1000);
            char t[4] = { '.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                          (char)('0' + frac % 10) };
            ob_str(b, ",\"rtt_ms\":");
            ob_u64(b, us / 1000);
            ob_mem(b, t, 4);
        }
        ob_str(b, ",\"answers\":[");
        for (unsigned i = 0; i < r->n_answers && i < DNS_MAX_ANSWERS; i++) {
            const struct dns_answer *an = &r->answers[i];
            ob_str(b, i ? ",{\"type\":" : "{\"type\":");
            json_type(b, an->type);
            ob_str(b, ",\"ttl\":");
            ob_u64(b, an->ttl);
            ob_str(b, ",\"data\":");
            json_str(b, an->data);
            ob_ch(b, '}');
        }
        ob_str(b, "],\"answers_total\":");
        ob_u64(b, r->an_count);
    } else {
        ob_str(b, ",\"rcode\":null,\"rcode_name\":null,\"answers\":[]");
    }
    json_bool(b, ",\"has_query\":", r->has_query);
    json_bool(b, ",\"has_response\":", r->has_response);
    ob_str(b, ",\"vni\":");
    ob_u64(b, r->vni);
    if (ms) {
        ob_str(b, ",\"interface_id\":");
        json_str(b, dash(ms->eni));
        ob_str(b, ",\"instance_id\":");
        json_str(b, dash(ms->instance_id));
    }
    ob_str(b, "}\n");
    ob_line_done(b);
    STAT_INC(o->dns_lines);
}

static int
close_one(FILE *f, struct obuf *b, int own, const char *path, char *err, size_t errlen)
{
    if (!f)
        return 0;
    ob_flush(b);
    int bad = ferror(f) || b->err;
    if (fflush(f) != 0)
        bad = 1;
    if (own && fclose(f) != 0)
        bad = 1;
    if (bad) {
        /* Each file's error in full, here (a message buffer shared with
         * Redis's and the other files' could cut some off); the caller's
         * message only says there were some, when it has nothing else. */
        fprintf(stderr, "mirrorguard: writing %s failed: %s (records lost)\n",
                path && strcmp(path, "-") ? path : "stdout", strerror(errno ? errno : EIO));
        if (errlen && !err[0])
            snprintf(err, errlen, "output files could not be written (see above)");
        return -1;
    }
    return 0;
}

int
output_close(struct output *o, char *err, size_t errlen)
{
    int rc = 0;
    if (errlen)
        err[0] = '\0';
    if (o->findings_agg) {
        findings_flush(o->findings_agg);
        struct findings_stats fs;
        findings_stats(o->findings_agg, &fs);
        pthread_mutex_lock(&o->snap_mu);
        o->fstats = fs;
        pthread_mutex_unlock(&o->snap_mu);
        findings_free(o->findings_agg);
        o->findings_agg = NULL;
    }
    if (o->pump_running) {
        /* The Redis thread submits what it was handed, then stops. */
        pthread_mutex_lock(&o->pump_mu);
        o->pump_stop = 1;
        pthread_cond_signal(&o->pump_work);
        pthread_mutex_unlock(&o->pump_mu);
        pthread_join(o->pump_thread, NULL);
        o->pump_running = 0;
    }
    if (o->redis) {
        /* Deliver what can be delivered within the timeout; the rest stays
         * in the spool for the next start. */
        char rerr[512] = "";
        uint64_t until = mono_ms() + o->cfg->outputs.redis.command_timeout_ms + 3000;
        while (!redis_out_idle(o->redis) && mono_ms() < until) {
            struct redis_out_stats before, after;
            redis_out_stats(o->redis, &before);
            redis_out_poll(o->redis, mono_ms());
            redis_out_stats(o->redis, &after);
            if (after.delivered == before.delivered && !redis_out_idle(o->redis)) {
                struct timespec ts = { 0, 20 * 1000 * 1000 };  /* waiting on a retry */
                nanosleep(&ts, NULL);
            }
        }
        struct redis_out_stats rs;
        if (redis_out_close(o->redis, 1000, rerr, sizeof(rerr), &rs) != 0) {
            snprintf(err, errlen, "%s", rerr);     /* already starts "redis: " */
            rc = -1;
        }
        pthread_mutex_lock(&o->snap_mu);
        o->redis = NULL;
        o->rstats = rs;
        o->have_rstats = 1;
        pthread_mutex_unlock(&o->snap_mu);
    }
    rc |= close_one(o->flows, o->fb, o->own_flows, o->cfg->outputs.flows_path, err, errlen);
    rc |= close_one(o->dns, o->db, o->own_dns, o->cfg->outputs.dns_path, err, errlen);
    rc |= close_one(o->findings, o->xb, o->own_findings, o->cfg->outputs.findings_path, err, errlen);
    o->flows = o->dns = o->findings = NULL;
    free(o->fb);
    free(o->db);
    free(o->xb);
    o->fb = o->db = o->xb = NULL;
    return rc ? -1 : 0;
}

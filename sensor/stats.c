/* sensor/stats.c - the figures at exit (and periodically live): on stderr as
 * text, and the same as JSON for --stats-json. */
#include "sensor.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>

struct totals {
    struct worker_stats w;
    struct flow_stats f;
    struct dns_txn_stats d;
    struct cap_stats c;
    uint64_t dns_bad_total, undecodable;
};

/* The copy of a worker's figures it last published (at its last tick, or
 * when it stopped: exact at exit), never its live counters. */
static void
snapshot(struct worker *w, struct worker_snap *s)
{
    pthread_mutex_lock(&w->snap_mu);
    *s = w->snap;
    pthread_mutex_unlock(&w->snap_mu);
}

static void
sum(const struct pipeline *p, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < p->n_workers; i++) {
        struct worker_snap snap;
        snapshot(&p->workers[i], &snap);
        const struct worker_stats *s = &snap.st;
        t->w.pkts += s->pkts;
        t->w.wire_bytes += s->wire_bytes;
        t->w.cap_bytes += s->cap_bytes;
        for (int k = 0; k < DEC_STATUS_MAX; k++)
            t->w.status[k] += s->status[k];
        t->w.tunnelled += s->tunnelled;
        t->w.vxlan += s->vxlan;
        t->w.geneve += s->geneve;
        t->w.partial += s->partial;
        t->w.dns_msgs += s->dns_msgs;
        t->w.dns_tcp_msgs += s->dns_tcp_msgs;
        for (int k = 0; k < DNS_STATUS_MAX; k++) {
            t->w.dns_bad[k] += s->dns_bad[k];
            t->dns_bad_total += s->dns_bad[k];
        }
        t->w.ring_drops += s->ring_drops;
        t->w.icmp_matched += s->icmp_matched;
        t->w.fwd_sent += s->fwd_sent;
        t->w.fwd_received += s->fwd_received;
        t->w.fwd_drops += s->fwd_drops;
        t->w.fwd_zero_copy += s->fwd_zero_copy;
        t->w.fwd_headers += s->fwd_headers;
        t->w.fwd_overflow += s->fwd_overflow;
        t->w.part_waits += s->part_waits;
        t->w.idle_sleeps += s->idle_sleeps;
        t->w.icmp_unmatched += s->icmp_unmatched;
        t->w.cpu_seconds += s->cpu_seconds;
        t->w.ring_waits += s->ring_waits;
        if (s->first_ns && (!t->w.first_ns || s->first_ns < t->w.first_ns))
            t->w.first_ns = s->first_ns;
        if (s->last_ns > t->w.last_ns)
            t->w.last_ns = s->last_ns;
        t->f.created += snap.flows.created;
        t->f.idle += snap.flows.idle;
        t->f.active += snap.flows.active;
        t->f.evicted += snap.flows.evicted;
        t->f.flushed += snap.flows.flushed;
        t->f.duplicates += snap.flows.duplicates;
        t->f.records += snap.flows.records;
        t->f.in_use += snap.flows.in_use;
        t->f.capacity += snap.flows.capacity;
        t->f.bytes_alloc += snap.flows.bytes_alloc;
        t->d.queries += snap.dns.queries;
        t->d.responses += snap.dns.responses;
        t->d.paired += snap.dns.paired;
        t->d.unanswered += snap.dns.unanswered;
        t->d.unsolicited += snap.dns.unsolicited;
        t->d.evicted += snap.dns.evicted;
        t->c.drops += snap.cap.drops;
        t->c.bad_records += snap.cap.bad_records;
        t->c.skipped_blocks += snap.cap.skipped_blocks;
    }
    for (int k = 1; k < DEC_STATUS_MAX; k++)
        if (k != DEC_PROTO_OTHER)
            t->undecodable += t->w.status[k];
}

void
stats_print(FILE *f, const struct pipeline *p, double wall_s)
{
    struct totals t;
    sum(p, &t);
    double pps = wall_s > 0 ? (double)t.w.pkts / wall_s : 0;
    double gbps = wall_s > 0 ? (double)t.w.wire_bytes * 8 / wall_s / 1e9 : 0;
    fprintf(f, "mirrorguard: %" PRIu64 " packets, %" PRIu64 " bytes in %.3f s: %.2f Mpps, %.2f Gbit/s\n",
            t.w.pkts, t.w.wire_bytes, wall_s, pps / 1e6, gbps);
    if (t.w.cpu_seconds > 0)
        fprintf(f, "  workers: %.3f s CPU, %.1f ns/packet, %.2f Mpps per core\n", t.w.cpu_seconds,
                t.w.cpu_seconds * 1e9 / (double)(t.w.pkts ? t.w.pkts : 1),
                (double)t.w.pkts / t.w.cpu_seconds / 1e6);
    fprintf(f, "  tunnelled %" PRIu64 " (vxlan %" PRIu64 ", geneve %" PRIu64 "), decoded %" PRIu64
            ", undecodable %" PRIu64 ", partial headers %" PRIu64 "\n",
            t.w.tunnelled, t.w.vxlan, t.w.geneve, t.w.status[DEC_OK] + t.w.status[DEC_PROTO_OTHER],
            t.undecodable, t.w.partial);
    for (int k = 1; k < DEC_STATUS_MAX; k++)
        if (t.w.status[k])
            fprintf(f, "    %-20s %" PRIu64 "\n", dec_status_name(k), t.w.status[k]);
    fprintf(f, "  flows: %" PRIu64 " created, %" PRIu64 " records (idle %" PRIu64 ", active %" PRIu64
            ", evicted %" PRIu64 ", flushed %" PRIu64 "), mirror duplicates %" PRIu64 "\n",
            t.f.created, t.f.records, t.f.idle, t.f.active, t.f.evicted, t.f.flushed, t.f.duplicates);
    fprintf(f, "  dns: %" PRIu64 " messages (%" PRIu64 " over tcp), %" PRIu64 " unparsable; %" PRIu64
            " paired, %" PRIu64 " unanswered, %" PRIu64 " unsolicited, %" PRIu64 " evicted\n",
            t.w.dns_msgs, t.w.dns_tcp_msgs, t.dns_bad_total, t.d.paired, t.d.unanswered,
            t.d.unsolicited, t.d.evicted);
    fprintf(f, "  rings: %" PRIu64 " drops (workers), %" PRIu64 " drops (detect), %" PRIu64 " waits;"
            " capture drops %" PRIu64 ", bad file records %" PRIu64 "\n",
            t.w.ring_drops, STAT_GET(p->det_drops), t.w.ring_waits, t.c.drops, t.c.bad_records);
    if (t.w.fwd_sent || t.w.fwd_drops)
        fprintf(f, "  hand-over: %" PRIu64 " packets to their flow's worker (%" PRIu64
                " as headers, %" PRIu64 " as mbufs, %" PRIu64 " copied), %" PRIu64 " dropped%s\n",
                t.w.fwd_sent, t.w.fwd_headers, t.w.fwd_zero_copy,
                t.w.fwd_sent - t.w.fwd_headers - t.w.fwd_zero_copy, t.w.fwd_drops,
                t.w.fwd_drops ? " (DROPPED: the owner's hand-over ring was full)" : "");
    fprintf(f, "  output: %" PRIu64 " flow log lines, %" PRIu64 " dns lines, %" PRIu64
            " finding publications\n", STAT_GET(p->out.flow_lines), STAT_GET(p->out.dns_lines),
            STAT_GET(p->out.finding_lines));
    uint64_t fl = STAT_GET(p->out.flow_lost), dl = STAT_GET(p->out.dns_lost),
             xl = STAT_GET(p->out.finding_lost);
    if (fl || dl || xl)
        fprintf(f, "  output LOST (writes failed): %" PRIu64 " flow log lines, %" PRIu64
                " dns lines, %" PRIu64 " findings file lines\n", fl, dl, xl);
    struct findings_stats fsnap;
    struct redis_out_stats rsnap;
    int have_redis;
    output_snapshot(&p->out, &fsnap, &rsnap, &have_redis);
    const struct findings_stats *fs = &fsnap;
    fprintf(f, "  findings: %" PRIu64 " candidates, %" PRIu64 " created, %" PRIu64 " updates, %" PRIu64
            " published, %" PRIu64 " archived, %" PRIu64 " dropped as trusted, %" PRIu64 " evicted\n",
            fs->candidates, fs->created, fs->updated, fs->published, fs->archived,
            fs->trusted_dropped, fs->evicted);
    if (have_redis) {
        const struct redis_out_stats *r = &rsnap;
        fprintf(f, "  redis: %" PRIu64 " submitted, %" PRIu64 " delivered, %" PRIu64 " queued, %" PRIu64
                " spooled, %" PRIu64 " retried, %" PRIu64 " duplicates skipped, %" PRIu64
                " reconnects, %" PRIu64 " LOST, %" PRIu64 " rejected, queue %" PRIu64 ", spool %" PRIu64
                " records, %" PRIu64 " handed over%s%s\n",
                r->submitted, r->delivered, r->queued, r->spooled, r->retried, r->duplicates,
                r->reconnects, r->lost, r->rejected, r->queue_depth, r->spool_records, r->handover,
                r->last_error[0] ? "; last error: " : "", r->last_error);
    }
}

int
stats_write_json(const char *path, const struct pipeline *p, double wall_s)
{
    struct totals t;
    sum(p, &t);
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f)
        return -1;
    double pps = wall_s > 0 ? (double)t.w.pkts / wall_s : 0;
    double gbps = wall_s > 0 ? (double)t.w.wire_bytes * 8 / wall_s / 1e9 : 0;
    fprintf(f, "{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"captured_bytes\":%" PRIu64
            ",\"wall_seconds\":%.6f,\"packets_per_second\":%.1f,\"gbit_per_second\":%.4f"
            ",\"ns_per_packet\":%.2f,\"packet_time_first_ns\":%" PRIu64 ",\"packet_time_last_ns\":%" PRIu64,
            t.w.pkts, t.w.wire_bytes, t.w.cap_bytes, wall_s, pps, gbps,
            t.w.pkts ? wall_s * 1e9 / (double)t.w.pkts : 0.0, t.w.first_ns, t.w.last_ns);
    fprintf(f, ",\"worker_cpu_seconds\":%.6f,\"worker_cpu_ns_per_packet\":%.2f",
            t.w.cpu_seconds, t.w.pkts ? t.w.cpu_seconds * 1e9 / (double)t.w.pkts : 0.0);
    fprintf(f, ",\"tunnelled\":%" PRIu64 ",\"vxlan\":%" PRIu64 ",\"geneve\":%" PRIu64
            ",\"partial_headers\":%" PRIu64 ",\"undecodable\":%" PRIu64 ",\"decode\":{",
            t.w.tunnelled, t.w.vxlan, t.w.geneve, t.w.partial, t.undecodable);
    for (int k = 0; k < DEC_STATUS_MAX; k++)
        fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", dec_status_name(k), t.w.status[k]);
    fprintf(f, "},\"flows\":{\"created\":%" PRIu64 ",\"records\":%" PRIu64 ",\"idle\":%" PRIu64
            ",\"active\":%" PRIu64 ",\"evicted\":%" PRIu64 ",\"flushed\":%" PRIu64
            ",\"mirror_duplicates\":%" PRIu64 ",\"capacity\":%u,\"table_bytes\":%" PRIu64
            ",\"bytes_per_flow\":%.1f}",
            t.f.created, t.f.records, t.f.idle, t.f.active, t.f.evicted, t.f.flushed,
            t.f.duplicates, t.f.capacity, t.f.bytes_alloc,
            t.f.capacity ? (double)t.f.bytes_alloc / t.f.capacity : 0.0);
    fprintf(f, ",\"dns\":{\"messages\":%" PRIu64 ",\"tcp_messages\":%" PRIu64 ",\"unparsable\":%" PRIu64
            ",\"queries\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"paired\":%" PRIu64
            ",\"unanswered\":%" PRIu64 ",\"unsolicited\":%" PRIu64 ",\"evicted\":%" PRIu64 ",\"errors\":{",
            t.w.dns_msgs, t.w.dns_tcp_msgs, t.dns_bad_total, t.d.queries, t.d.responses, t.d.paired,
            t.d.unanswered, t.d.unsolicited, t.d.evicted);
    for (int k = 1; k < DNS_STATUS_MAX; k++)
        fprintf(f, "%s\"%s\":%" PRIu64, k > 1 ? "," : "", dns_status_name(k), t.w.dns_bad[k]);
    fprintf(f, "}},\"rings\":{\"worker_drops\":%" PRIu64 ",\"detect_drops\":%" PRIu64
            ",\"waits\":%" PRIu64 ",\"detect_findings\":%" PRIu64 "},\"capture\":{\"drops\":%" PRIu64 ",\"bad_records\":%" PRIu64
            ",\"skipped_blocks\":%" PRIu64 "},\"output\":{\"flow_lines\":%" PRIu64
            ",\"dns_lines\":%" PRIu64 ",\"flow_lines_lost\":%" PRIu64 ",\"dns_lines_lost\":%" PRIu64
            ",\"finding_lines_lost\":%" PRIu64 "},\"workers\":%u",
            t.w.ring_drops, STAT_GET(p->det_drops), t.w.ring_waits, STAT_GET(p->det_findings),
            t.c.drops, t.c.bad_records, t.c.skipped_blocks, STAT_GET(p->out.flow_lines),
            STAT_GET(p->out.dns_lines), STAT_GET(p->out.flow_lost), STAT_GET(p->out.dns_lost),
            STAT_GET(p->out.finding_lost), p->n_workers);
    fprintf(f, ",\"icmp_unreachable\":{\"matched\":%" PRIu64 ",\"unmatched\":%" PRIu64 "}",
            t.w.icmp_matched, t.w.icmp_unmatched);
    fprintf(f, ",\"handover\":{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"drops\":%" PRIu64
            ",\"zero_copy\":%" PRIu64 ",\"headers\":%" PRIu64 ",\"overflow\":%" PRIu64
            ",\"waits\":%" PRIu64 "}", t.w.fwd_sent, t.w.fwd_received,
            t.w.fwd_drops, t.w.fwd_zero_copy, t.w.fwd_headers, t.w.fwd_overflow, t.w.part_waits);
    fprintf(f, ",\"idle_sleeps\":%" PRIu64, t.w.idle_sleeps);
    fprintf(f, ",\"new_flows_per_second\":%.1f,\"per_worker\":[",
            wall_s > 0 ? (double)t.f.created / wall_s : 0.0);
    for (unsigned i = 0; i < p->n_workers; i++) {
        struct worker_snap snap;
        snapshot(&p->workers[i], &snap);
        fprintf(f, "%s{\"packets\":%" PRIu64 ",\"cpu_seconds\":%.6f,\"flows\":%" PRIu64 "}",
                i ? "," : "", snap.st.pkts, snap.st.cpu_seconds, snap.flows.created);
    }
    fputc(']', f);
    struct findings_stats fsnap;
    struct redis_out_stats rsnap;
    int have_redis;
    output_snapshot(&p->out, &fsnap, &rsnap, &have_redis);
    const struct findings_stats *fs = &fsnap;
    fprintf(f, ",\"findings\":{\"candidates\":%" PRIu64 ",\"created\":%" PRIu64 ",\"updated\":%" PRIu64
            ",\"published\":%" PRIu64 ",\"archived\":%" PRIu64 ",\"trusted_dropped\":%" PRIu64
            ",\"evicted\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
            fs->candidates, fs->created, fs->updated, fs->published, fs->archived,
            fs->trusted_dropped, fs->evicted, fs->errors);
    if (have_redis) {
        const struct redis_out_stats *r = &rsnap;
        fprintf(f, ",\"redis\":{\"submitted\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"queued\":%" PRIu64
                ",\"spooled\":%" PRIu64 ",\"retried\":%" PRIu64 ",\"duplicates\":%" PRIu64
                ",\"reconnects\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"rejected\":%" PRIu64
                ",\"queue_depth\":%" PRIu64 ",\"spool_records\":%" PRIu64 ",\"handover\":%" PRIu64
                ",\"connected\":%d}",
                r->submitted, r->delivered, r->queued, r->spooled, r->retried, r->duplicates,
                r->reconnects, r->lost, r->rejected, r->queue_depth, r->spool_records, r->handover,
                r->connected);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)   /* ru_maxrss is in KiB on Linux */
        fprintf(f, ",\"peak_rss_bytes\":%ld,\"cpu_user_seconds\":%.3f,\"cpu_system_seconds\":%.3f",
                ru.ru_maxrss * 1024L, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    fputs("}\n", f);
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        fflush(f);
    return bad ? -1 : 0;
}

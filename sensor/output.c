/* sensor/output.c - flow records in the VPC Flow Logs text format and DNS
 * transactions as JSON lines. Runs in the output thread only: it owns the
 * files. Write errors (disk full) are counted and reported at close, loudly,
 * never silently ignored. */
#include "sensor.h"

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
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    *own = 1;
    return f;
}

int
output_open(struct output *o, const struct cfg *c, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
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
    if (o->flows) {                 /* header line, as in S3-delivered logs */
        for (unsigned i = 0; i < o->n_fields; i++)
            fprintf(o->flows, "%s%s", i ? " " : "", vpc_fields[o->fields[i]].name);
        fputc('\n', o->flows);
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
flow_line(struct output *o, const struct flow_rec *r, int d)
{
    const struct cfg *c = o->cfg;
    const struct flow_dir *fd = &r->dir[d];
    const struct mg_addr *src = d ? &r->dst : &r->src;
    const struct mg_addr *dst = d ? &r->src : &r->dst;
    unsigned sport = d ? r->dport : r->sport;
    unsigned dport = d ? r->sport : r->dport;
    const struct cfg_mirror_session *ms = cfg_session_by_vni(c, fd->vni);
    char a[64], b[64];
    FILE *f = o->flows;

    if (r->proto == 1 || r->proto == 58)
        sport = dport = 0;          /* VPC Flow Logs carry no ports for ICMP */
    for (unsigned i = 0; i < o->n_fields; i++) {
        if (i)
            fputc(' ', f);
        switch (o->fields[i]) {
        case VF_VERSION: fprintf(f, "%d", o->flow_version); break;
        case VF_ACCOUNT: fputs(dash(ms && ms->account_id && *ms->account_id ?
                                    ms->account_id : c->account_id), f); break;
        case VF_IFACE: fputs(dash(ms ? ms->eni : NULL), f); break;
        case VF_SRCADDR: case VF_PKTSRC: fputs(mg_addr_str(src, r->family, a, sizeof(a)), f); break;
        case VF_DSTADDR: case VF_PKTDST: fputs(mg_addr_str(dst, r->family, b, sizeof(b)), f); break;
        case VF_SRCPORT: fprintf(f, "%u", sport); break;
        case VF_DSTPORT: fprintf(f, "%u", dport); break;
        case VF_PROTO: fprintf(f, "%u", r->proto); break;
        case VF_PACKETS: fprintf(f, "%" PRIu32, fd->pkts); break;
        case VF_BYTES: fprintf(f, "%" PRIu64, fd->bytes); break;
        case VF_START: fprintf(f, "%" PRIu64, (uint64_t)(fd->first_ns / 1000000000ull)); break;
        case VF_END: fprintf(f, "%" PRIu64, (uint64_t)(fd->last_ns / 1000000000ull)); break;
        case VF_ACTION: fputs("ACCEPT", f); break;  /* a mirror only sees what was let through */
        case VF_LOGSTATUS: fputs("OK", f); break;
        case VF_VPC: fputs(dash(ms ? ms->vpc_id : NULL), f); break;
        case VF_SUBNET: fputs(dash(ms ? ms->subnet_id : NULL), f); break;
        case VF_INSTANCE: fputs(dash(ms ? ms->instance_id : NULL), f); break;
        case VF_TCPFLAGS: fprintf(f, "%u", r->proto == 6 ? vpc_tcp_flags(fd->tcp_flags, d) : 0); break;
        case VF_TYPE: fputs(r->family == 6 ? "IPv6" : "IPv4", f); break;
        case VF_REGION: fputs(dash(c->region), f); break;
        case VF_AZ: fputs(dash(c->az_id), f); break;
        case VF_FLOWDIR:
            fputs(in_home_net(c, src, r->family) ? "egress" : "ingress", f);
            break;
        case VF_TRAFFIC_PATH:
            /* egress only: 1 = within the VPC, 8 = through an internet gateway */
            if (!in_home_net(c, src, r->family))
                fputc('-', f);
            else
                fputc(in_home_net(c, dst, r->family) ? '1' : '8', f);
            break;
        default: fputc('-', f); break;
        }
    }
    fputc('\n', f);
    o->flow_lines++;
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
json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void
json_time(FILE *f, uint64_t ns)
{
    time_t s = (time_t)(ns / 1000000000ull);
    struct tm tm;
    gmtime_r(&s, &tm);
    fprintf(f, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06uZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (unsigned)(ns % 1000000000ull / 1000));
}

void
output_dns(struct output *o, const struct dns_rec *r)
{
    FILE *f = o->dns;
    if (!f)
        return;
    char a[64];
    const struct cfg_mirror_session *ms = cfg_session_by_vni(o->cfg, r->vni);
    const char *tn = dns_type_name(r->qtype);
    fputs("{\"ts\":", f);
    json_time(f, r->has_query ? r->query_ns : r->response_ns);
    fputs(",\"client\":", f);
    json_str(f, mg_addr_str(&r->client, r->family, a, sizeof(a)));
    fprintf(f, ",\"client_port\":%u,\"server\":", r->cport);
    json_str(f, mg_addr_str(&r->server, r->family, a, sizeof(a)));
    fprintf(f, ",\"server_port\":%u,\"transport\":\"%s\",\"id\":%u,\"qname\":", r->sport,
            r->transport == 6 ? "tcp" : "udp", r->id);
    json_str(f, r->qname);
    fprintf(f, ",\"qclass\":%u,\"qtype\":%u,\"qtype_name\":", r->qclass, r->qtype);
    if (tn)
        json_str(f, tn);
    else
        fprintf(f, "\"TYPE%u\"", r->qtype);
    if (r->has_response) {
        const char *rn = dns_rcode_name(r->rcode);
        fprintf(f, ",\"rcode\":%u,\"rcode_name\":", r->rcode);
        if (rn)
            json_str(f, rn);
        else
            fputs("null", f);
        fprintf(f, ",\"aa\":%s,\"tc\":%s,\"rd\":%s,\"ra\":%s",
                r->flags & DNS_F_AA ? "true" : "false", r->flags & DNS_F_TC ? "true" : "false",
                r->flags & DNS_F_RD ? "true" : "false", r->flags & DNS_F_RA ? "true" : "false");
        if (r->has_query)
            fprintf(f, ",\"rtt_ms\":%.3f",
                    r->response_ns >= r->query_ns ? (double)(r->response_ns - r->query_ns) / 1e6 : 0.0);
        fputs(",\"answers\":[", f);
        for (unsigned i = 0; i < r->n_answers && i < DNS_MAX_ANSWERS; i++) {
            const struct dns_answer *an = &r->answers[i];
            const char *at = dns_type_name(an->type);
            fputs(i ? ",{\"type\":" : "{\"type\":", f);
            if (at)
                json_str(f, at);
            else
                fprintf(f, "\"TYPE%u\"", an->type);
            fprintf(f, ",\"ttl\":%u,\"data\":", an->ttl);
            json_str(f, an->data);
            fputc('}', f);
        }
        fprintf(f, "],\"answers_total\":%u", r->an_count);
    } else {
        fputs(",\"rcode\":null,\"rcode_name\":null,\"answers\":[]", f);
    }
    fprintf(f, ",\"has_query\":%s,\"has_response\":%s,\"vni\":%u",
            r->has_query ? "true" : "false", r->has_response ? "true" : "false", r->vni);
    if (ms) {
        fputs(",\"interface_id\":", f);
        json_str(f, dash(ms->eni));
        fputs(",\"instance_id\":", f);
        json_str(f, dash(ms->instance_id));
    }
    fputs("}\n", f);
    o->dns_lines++;
}

static int
close_one(FILE *f, int own, const char *path, char *err, size_t errlen)
{
    if (!f)
        return 0;
    int bad = ferror(f);
    if (fflush(f) != 0)
        bad = 1;
    if (own && fclose(f) != 0)
        bad = 1;
    if (bad) {
        snprintf(err, errlen, "writing %s failed: %s (records lost)",
                 path && strcmp(path, "-") ? path : "stdout", strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

int
output_close(struct output *o, char *err, size_t errlen)
{
    int rc = 0;
    rc |= close_one(o->flows, o->own_flows, o->cfg->outputs.flows_path, err, errlen);
    rc |= close_one(o->dns, o->own_dns, o->cfg->outputs.dns_path, err, errlen);
    rc |= close_one(o->findings, o->own_findings, o->cfg->outputs.findings_path, err, errlen);
    o->flows = o->dns = o->findings = NULL;
    return rc ? -1 : 0;
}

/* config/cfg.c - the configuration schema: one declarative table of keys,
 * applied to the node tree of cfg_yaml.c to fill struct cfg.
 *
 * How a configuration is loaded (cfg_load):
 *
 *   1. cfg_defaults() fills a fresh struct from the 'dflt' text of every
 *      row of the schema, parsed by the same converters as the file.
 *   2. The file is read whole and parsed into a node tree (cfg_yaml.c).
 *   3. Each '--set key.path=value' is parsed as a small YAML document and
 *      grafted onto the tree, replacing whatever the file said there. Its
 *      nodes carry the origin "--set key.path" for messages.
 *   4. The tree is walked with the schema: every key is looked up in the
 *      table, converted, range-checked and stored at its offset. Unknown
 *      keys, duplicates, wrong types and bad values are all reported, the
 *      walk goes on after each, so one run shows every mistake.
 *   5. Cross-key checks (duplicate VNIs) run on the filled struct.
 *
 * Only if no error was found does the caller's struct receive the result;
 * on error it is left zeroed (cfg_free() on it is a no-op).
 *
 * Adding a key: add the field to struct cfg (cfg.h), one row to the right
 * table below (the row names the field, so the compiler checks its type),
 * and one documented line to config/mirrorguard.example.yaml; the unit
 * tests fail until the example documents the key with its default. */
#include "cfg_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_ERRORS 64           /* messages kept; the rest are counted */
#define CFG_MAX_FILE (16u << 20)    /* a configuration is kilobytes */
#define CFG_MAX_LIST 65536          /* items in any list */
#define PATHLEN 256

/* Every string field is either heap-allocated or points here. Empty
 * strings are by far the most common default, sharing one needs no
 * allocation, and a failed allocation degrades to "" instead of NULL so no
 * reader ever has to test for NULL. cfg_free() knows not to free it. */
static char cfg_empty[1] = "";

/* ------------------------------------------------------------- schema */

enum ktype {
    KT_BOOL,    /* bool: true/false, yes/no, on/off */
    KT_INT,     /* int, min..max */
    KT_U32,     /* uint32_t (or unsigned), min..max */
    KT_DBL,     /* double, dmin..dmax: plain decimal such as 7 or 7.5 */
    KT_STR,     /* char *; optional choices / prefix / check */
    KT_PORTS,   /* uint16_t[CFG_MAX_PORTS] + unsigned count */
    KT_CIDRS,   /* struct cfg_cidr * + unsigned count */
    KT_CIDR,    /* struct cfg_cidr */
    KT_STRS,    /* char ** + unsigned count; optional choices */
    KT_MAP,     /* nested map: sub-schema, offsets in the same struct */
    KT_LIST,    /* T * + unsigned count: list of maps with sub-schema */
    KT_TAGS,    /* struct cfg_tag * + unsigned count: free-form map */
};

#define K_REQ    1u     /* list items: the key must be present */
#define K_POW2   2u     /* integers: a power of two */
#define K_UNIQUE 4u     /* string lists: no repeated item */
#define K_NONEMPTY 8u   /* string lists: at least one item */
#define K_OFF0   16u    /* integers: 0 (off) or min..max */

struct key {
    const char *name;
    enum ktype type;
    size_t off;             /* the field, from the start of the struct */
    size_t off_n;           /* lists: the 'unsigned' item count */
    long long min, max;     /* integers: range; lists: max items in 'max' */
    double dmin, dmax;      /* KT_DBL: range */
    const char *dflt;       /* default as text; lists: items space-separated */
    const char *const *choices;     /* strings: allowed values, NULL-ended */
    const char *prefix;     /* strings: a non-empty value starts with this */
    const char *(*check)(const char *s);    /* strings: NULL or why not */
    const struct key *sub;  /* KT_MAP, KT_LIST: keys, ended by name NULL */
    size_t elem_size;       /* KT_LIST */
    unsigned flags;
};

/* offsetof(T, m), and a compile error unless field m of T has type 'ty':
 * a row naming the wrong field type cannot build. T is #defined before
 * each table. */
#define FLD(m, ty)                                                          \
    (offsetof(T, m) +                                                       \
     0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *)0)->m),  \
                                                  ty) ? 1 : -1]))

#define KBOOL(n, m, d, ...) \
    { .name = n, .type = KT_BOOL, .off = FLD(m, bool), .dflt = d, __VA_ARGS__ }
#define KINT(n, m, lo, hi, d, ...) \
    { .name = n, .type = KT_INT, .off = FLD(m, int), .min = lo, .max = hi, \
      .dflt = d, __VA_ARGS__ }
#define KU32(n, m, lo, hi, d, ...) \
    { .name = n, .type = KT_U32, .off = FLD(m, uint32_t), .min = lo, .max = hi, \
      .dflt = d, __VA_ARGS__ }
#define KDBL(n, m, lo, hi, d, ...) \
    { .name = n, .type = KT_DBL, .off = FLD(m, double), .dmin = lo, .dmax = hi, \
      .dflt = d, __VA_ARGS__ }
#define KSTR(n, m, d, ...) \
    { .name = n, .type = KT_STR, .off = FLD(m, char *), .dflt = d, __VA_ARGS__ }
#define KPORTS(n, m, nm, d) \
    { .name = n, .type = KT_PORTS, .off = FLD(m, uint16_t[CFG_MAX_PORTS]), \
      .off_n = FLD(nm, unsigned), .max = CFG_MAX_PORTS, .dflt = d }
#define KCIDRS(n, m, nm, d) \
    { .name = n, .type = KT_CIDRS, .off = FLD(m, struct cfg_cidr *), \
      .off_n = FLD(nm, unsigned), .max = CFG_MAX_LIST, .dflt = d }
#define KCIDR(n, m, ...) \
    { .name = n, .type = KT_CIDR, .off = FLD(m, struct cfg_cidr), __VA_ARGS__ }
#define KSTRS(n, m, nm, d, mx, ...) \
    { .name = n, .type = KT_STRS, .off = FLD(m, char **), \
      .off_n = FLD(nm, unsigned), .max = mx, .dflt = d, __VA_ARGS__ }
#define KMAP(n, s) { .name = n, .type = KT_MAP, .sub = s }
#define KLIST(n, m, nm, s, ET) \
    { .name = n, .type = KT_LIST, .off = FLD(m, ET *), \
      .off_n = FLD(nm, unsigned), .max = CFG_MAX_LIST, .sub = s, \
      .elem_size = sizeof(ET) }
#define KTAGS(n, m, nm) \
    { .name = n, .type = KT_TAGS, .off = FLD(m, struct cfg_tag *), \
      .off_n = FLD(nm, unsigned), .max = CFG_MAX_LIST }
#define KEND { .name = NULL }

static const char *check_account(const char *s);
static const char *check_redis_url(const char *s);
static const char *check_frequency(const char *s);
static const char *check_partition(const char *s);
static const char *check_domain(const char *s);
static const char *check_nonempty(const char *s);

static const char *const sources[] = { "file", "pcap", "dpdk", NULL };
static const char *const fsyncs[] = { "always", "batch", "never", NULL };
static const char *const formats[] = { "txt", "otx", "proofpoint", NULL };
static const char *const rule_actions[] = { "archive", NULL };
static const char *const directions[] = { "INBOUND", "OUTBOUND", NULL };
static const char *const roles[] = { "ACTOR", "TARGET", NULL };

/* VPC Flow Logs field names (versions 2 to 5; the ECS fields of version 7
 * are left out: the sensor cannot know them from packets). */
static const char *const flow_field_names[] = {
    "version", "account-id", "interface-id", "srcaddr", "dstaddr",
    "srcport", "dstport", "protocol", "packets", "bytes", "start", "end",
    "action", "log-status", "vpc-id", "subnet-id", "instance-id",
    "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr", "region", "az-id",
    "sublocation-type", "sublocation-id", "pkt-src-aws-service",
    "pkt-dst-aws-service", "flow-direction", "traffic-path", NULL
};

#define DEFAULT_FLOW_FIELDS                                                 \
    "version account-id interface-id srcaddr dstaddr srcport dstport "      \
    "protocol packets bytes start end action log-status"

#define T struct cfg
static const struct key dpdk_keys[] = {
    KSTRS("eal_args", capture.dpdk.eal_args, capture.dpdk.n_eal_args, "", 64),
    KINT("port", capture.dpdk.port, 0, 1023, "0"),
    KINT("queues", capture.dpdk.queues, 1, 64, "1"),
    KINT("mbufs", capture.dpdk.mbufs, 1023, 16777215, "8191"),
    KINT("handover_pool_percent", capture.dpdk.handover_pool_percent, 0, 100, "25"),
    KBOOL("handover_headers", capture.dpdk.handover_headers, "true"),
    KINT("idle_sleep_us", capture.dpdk.idle_sleep_us, 0, 10000, "50"),
    KEND
};

static const struct key capture_keys[] = {
    KSTR("source", capture.source, "pcap", .choices = sources),
    KSTR("interface", capture.interface, ""),
    KINT("snaplen", capture.snaplen, 64, 262144, "65535"),
    KINT("buffer_mb", capture.buffer_mb, 1, 4096, "64"),
    KSTR("bpf", capture.bpf, ""),
    KBOOL("promiscuous", capture.promiscuous, "true"),
    KBOOL("immediate", capture.immediate, "false"),
    KINT("timeout_ms", capture.timeout_ms, 1, 10000, "100"),
    KINT("fanout_group", capture.fanout_group, 0, 65535, "0"),
    KMAP("dpdk", dpdk_keys),
    KEND
};

static const struct key decoder_keys[] = {
    KPORTS("vxlan_ports", decoder.vxlan_ports, decoder.n_vxlan_ports, "4789"),
    KPORTS("geneve_ports", decoder.geneve_ports, decoder.n_geneve_ports, "6081"),
    KINT("max_depth", decoder.max_depth, 1, 8, "3"),
    KBOOL("dedup_mirror_copies", decoder.dedup_mirror_copies, "true"),
    KEND
};

static const struct key flows_keys[] = {
    KU32("max_flows", flows.max_flows, 1024, 268435456, "1048576"),
    KU32("active_timeout", flows.active_timeout, 1, 86400, "60"),
    KU32("tcp_syn_timeout", flows.tcp_syn_timeout, 1, 86400, "30"),
    KU32("tcp_established_timeout", flows.tcp_established_timeout, 1, 86400, "300"),
    KU32("tcp_closed_timeout", flows.tcp_closed_timeout, 1, 86400, "5"),
    KU32("udp_timeout", flows.udp_timeout, 1, 86400, "60"),
    KU32("icmp_timeout", flows.icmp_timeout, 1, 86400, "30"),
    KU32("other_timeout", flows.other_timeout, 1, 86400, "60"),
    KEND
};

static const struct key dns_keys[] = {
    KBOOL("enabled", dns.enabled, "true"),
    KPORTS("ports", dns.ports, dns.n_ports, "53"),
    KBOOL("tcp", dns.tcp, "true"),
    KU32("max_pending", dns.max_pending, 1, 16777216, "65536"),
    KU32("timeout_ms", dns.timeout_ms, 1, 600000, "5000"),
    KU32("max_tcp_streams", dns.max_tcp_streams, 1, 1048576, "1024"),
    KEND
};

/* cfg.h leaves three defaults open; chosen here: both timeouts 2000 ms
 * (a local or same-VPC Redis answers in well under that), and a
 * stream_maxlen of 0 meaning "do not trim the stream". */
static const struct key redis_keys[] = {
    KSTR("url", outputs.redis.url, "", .check = check_redis_url),
    KSTR("stream", outputs.redis.stream, "mirrorguard:findings"),
    KSTR("password_file", outputs.redis.password_file, ""),
    KSTR("password_env", outputs.redis.password_env, ""),
    KU32("stream_maxlen", outputs.redis.stream_maxlen, 0, 1073741824, "100000"),
    KU32("connect_timeout_ms", outputs.redis.connect_timeout_ms, 1, 60000, "2000"),
    KU32("command_timeout_ms", outputs.redis.command_timeout_ms, 1, 60000, "2000"),
    KSTR("channel", outputs.redis.channel, "mirrorguard:notify"),
    KSTR("spool_dir", outputs.redis.spool_dir, "/var/lib/mirrorguard/spool"),
    KSTR("fsync", outputs.redis.fsync, "batch", .choices = fsyncs),
    KU32("queue_size", outputs.redis.queue_size, 16, 16777216, "10000"),
    KEND
};

static const struct key outputs_keys[] = {
    KSTR("flows_path", outputs.flows_path, ""),
    KSTRS("flow_fields", outputs.flow_fields, outputs.n_flow_fields,
          DEFAULT_FLOW_FIELDS, 64,
          .choices = flow_field_names, .flags = K_UNIQUE | K_NONEMPTY),
    KSTR("dns_path", outputs.dns_path, ""),
    KSTR("findings_path", outputs.findings_path, ""),
    KSTR("stats_json_path", outputs.stats_json_path, ""),
    KU32("stats_interval", outputs.stats_interval, 0, 86400, "60"),
    KMAP("redis", redis_keys),
    KEND
};

static const struct key brute_keys[] = {
    KBOOL("enabled", detect.brute.enabled, "true"),
    KU32("window_seconds", detect.brute.window_seconds, 10, 86400, "300"),
    KU32("min_attempts", detect.brute.min_attempts, 2, 1000000, "10"),
    KU32("batch", detect.brute.batch, 1, 1000000, "10"),
    KU32("max_session_seconds", detect.brute.max_session_seconds, 1, 3600, "30"),
    KU32("min_payload_bytes", detect.brute.min_payload_bytes, 0, 1048576, "200"),
    KU32("max_bytes_to_server", detect.brute.max_bytes_to_server, 256, 1073741824, "16384"),
    KU32("max_bytes_to_client", detect.brute.max_bytes_to_client, 256, 1073741824, "32768"),
    KU32("spray_min_targets", detect.brute.spray_min_targets, 0, 16, "10"),
    KU32("spray_min_attempts", detect.brute.spray_min_attempts, 2, 1000000, "20"),
    KPORTS("ssh_ports", detect.brute.ssh_ports, detect.brute.n_ssh_ports, "22"),
    KPORTS("rdp_ports", detect.brute.rdp_ports, detect.brute.n_rdp_ports, "3389"),
    KPORTS("winrm_ports", detect.brute.winrm_ports, detect.brute.n_winrm_ports, "5985 5986"),
    KU32("max_pairs", detect.brute.max_pairs, 64, 16777216, "32768"),
    KU32("max_sources", detect.brute.max_sources, 64, 16777216, "8192"),
    KEND
};

static const struct key findings_keys[] = {
    KSTR("publishing_frequency", findings.publishing_frequency, "FIFTEEN_MINUTES",
         .check = check_frequency),
    KU32("max_findings", findings.max_findings, 16, 10000000, "100000"),
    KSTR("partition", findings.partition, "aws", .check = check_partition),
    KEND
};
#undef T

#define T struct cfg
/* detect.scan (detect/det_scan.c). The TRW ranges keep theta1 < theta0
 * and alpha < beta without a cross-key check. */
static const struct key detect_scan_keys[] = {
    KBOOL("enabled", detect.scan.enabled, "true"),
    KDBL("theta0", detect.scan.theta0, 0.51, 0.999, "0.8"),
    KDBL("theta1", detect.scan.theta1, 0.001, 0.49, "0.2"),
    KDBL("alpha", detect.scan.alpha, 0.0001, 0.2, "0.01"),
    KDBL("beta", detect.scan.beta, 0.8, 0.9999, "0.99"),
    KU32("window", detect.scan.window, 10, 86400, "600"),
    KU32("portscan_ports", detect.scan.portscan_ports, 2, 1000, "20"),
    KU32("sweep_hosts", detect.scan.sweep_hosts, 2, 1000, "25"),
    KU32("sweep_min_hosts", detect.scan.sweep_min_hosts, 2, 1000, "10"),
    KU32("icmp_sweep_hosts", detect.scan.icmp_sweep_hosts, 2, 1000, "25"),
    KU32("inbound_ports", detect.scan.inbound_ports, 2, 1000, "20"),
    KU32("probe_min_ports", detect.scan.probe_min_ports, 1, 64, "3"),
    KU32("report_interval", detect.scan.report_interval, 1, 86400, "60"),
    KU32("report_probes", detect.scan.report_probes, 1, 1000000, "100"),
    KU32("max_sources", detect.scan.max_sources, 1024, 16777216, "65536"),
    KU32("max_pairs", detect.scan.max_pairs, 1024, 16777216, "65536"),
    KU32("max_fans", detect.scan.max_fans, 1024, 16777216, "32768"),
    KU32("max_instances", detect.scan.max_instances, 16, 1048576, "4096"),
    KPORTS("datastore_ports", detect.scan.datastore_ports, detect.scan.n_datastore_ports,
           "9200 9300 27017 6379 5432 3306 1433 11211 5984 9042 7000"),
    KPORTS("emr_ports", detect.scan.emr_ports, detect.scan.n_emr_ports,
           "8088 8042 8020 50070 50075 50090 9870 8888 16010 18080 19888"),
    KEND
};

/* detect.resolver and detect.mining (det_dnsmisc.c, det_mining.c). */
static const struct key detect_resolver_keys[] = {
    KBOOL("enabled", detect.resolver.enabled, "true"),
    KU32("learning_seconds", detect.resolver.learning_seconds, 0, 31536000, "86400"),
    KU32("max_instances", detect.resolver.max_instances, 16, 1048576, "4096"),
    KU32("max_resolvers", detect.resolver.max_resolvers, 1, 64, "8"),
    KEND
};

static const struct key detect_mining_keys[] = {
    KBOOL("enabled", detect.mining.enabled, "true"),
    KBOOL("p2p", detect.mining.p2p, "false"),
    KEND
};

/* detect.exfil (detect/det_exfil.c): DNS data exfiltration. */
#define EXFIL_ALLOW                                                              \
    "cloudfront.net amazonaws.com amazonaws.com.cn aws.dev awsdns.com "         \
    "akamai.net akamaiedge.net akamaihd.net akamaized.net akamaitechnologies.com " \
    "edgekey.net edgesuite.net akadns.net googlevideo.com googleusercontent.com " \
    "gvt1.com gvt2.com 1e100.net googleapis.com gstatic.com azureedge.net "      \
    "azurefd.net trafficmanager.net cloudapp.net windows.net msedge.net "        \
    "fastly.net fastlylb.net cloudflare.net llnwd.net cdn77.org "                \
    "spamhaus.org spamhaus.net surbl.org uribl.com barracudacentral.org "        \
    "sophosxl.net mcafee.com trendmicro.com e5.sk senderbase.org"
static const struct key detect_exfil_keys[] = {
    KBOOL("enabled", detect.exfil.enabled, "true"),
    KU32("window_seconds", detect.exfil.window_seconds, 60, 86400, "600"),
    KU32("min_unique", detect.exfil.min_unique, 2, 1000000, "30"),
    KU32("min_mean_label", detect.exfil.min_mean_label, 1, 63, "20"),
    KDBL("min_entropy", detect.exfil.min_entropy, 0, 8, "3.5"),
    KU32("bytes_per_minute", detect.exfil.bytes_per_minute, 64, 1073741824, "4096"),
    KU32("rate_min_unique", detect.exfil.rate_min_unique, 1, 1000000, "10"),
    KU32("data_min_queries", detect.exfil.data_min_queries, 2, 1000000, "8"),
    KU32("data_min_label", detect.exfil.data_min_label, 1, 63, "16"),
    KDBL("data_min_entropy", detect.exfil.data_min_entropy, 0, 8, "3.0"),
    KU32("null_min_queries", detect.exfil.null_min_queries, 2, 1000000, "8"),
    KU32("report_interval", detect.exfil.report_interval, 1, 86400, "300"),
    KU32("max_pairs", detect.exfil.max_pairs, 64, 16777216, "8192"),
    KSTRS("allow_suffixes", detect.exfil.allow_suffixes, detect.exfil.n_allow_suffixes,
          EXFIL_ALLOW, 4096, .check = check_domain, .flags = K_UNIQUE),
    KEND
};

/* detect.dga (detect/det_dga.c). */
static const struct key detect_dga_keys[] = {
    KBOOL("enabled", detect.dga.enabled, "true"),
    KSTR("model", detect.dga.model, ""),
    KDBL("threshold", detect.dga.threshold, 0, 1, "0"),
    KU32("burst_names", detect.dga.burst_names, 2, 32, "5"),
    KU32("burst_seconds", detect.dga.burst_seconds, 1, 86400, "60"),
    KDBL("threshold_low", detect.dga.threshold_low, 0, 1, "0"),
    KU32("burst_names_low", detect.dga.burst_names_low, 2, 32, "6", .flags = K_OFF0),
    KSTR("whitelist", detect.dga.whitelist, ""),
    KU32("max_hosts", detect.dga.max_hosts, 16, 1048576, "4096"),
    KU32("report_interval", detect.dga.report_interval, 1, 86400, "300"),
    KEND
};

/* detect.beacon (detect/det_beacon.c). min_connections <= 64: the ring. */
static const struct key detect_beacon_keys[] = {
    KBOOL("enabled", detect.beacon.enabled, "true"),
    KU32("min_connections", detect.beacon.min_connections, 4, 64, "20"),
    KDBL("score_threshold", detect.beacon.score_threshold, 0, 1, "0.7"),
    KDBL("max_jitter", detect.beacon.max_jitter, 0, 10, "0.3"),
    KU32("min_interval", detect.beacon.min_interval, 0, 86400, "2"),
    KDBL("max_duty", detect.beacon.max_duty, 0, 1000, "0.25"),
    KU32("window", detect.beacon.window, 60, 604800, "86400"),
    KU32("report_interval", detect.beacon.report_interval, 1, 604800, "3600"),
    KU32("max_pairs", detect.beacon.max_pairs, 16, 16777216, "8192"),
    KPORTS("skip_ports", detect.beacon.skip_ports, detect.beacon.n_skip_ports, "123 53"),
    KBOOL("skip_internal", detect.beacon.skip_internal, "true"),
    KEND
};

/* detect.dos (detect/det_dos.c). 443 is not in udp_tcp_ports: UDP/443 is QUIC. */
static const struct key detect_dos_keys[] = {
    KBOOL("enabled", detect.dos.enabled, "true"),
    KU32("window_seconds", detect.dos.window_seconds, 1, 3600, "10"),
    KU32("tcp_syn_pps", detect.dos.tcp_syn_pps, 1, 100000000, "500"),
    KU32("udp_pps", detect.dos.udp_pps, 1, 100000000, "5000"),
    KU32("dns_pps", detect.dos.dns_pps, 1, 100000000, "500"),
    KU32("udp_tcp_ports_pps", detect.dos.udp_tcp_ports_pps, 1, 100000000, "1000"),
    KU32("unusual_pps", detect.dos.unusual_pps, 1, 100000000, "1000"),
    KU32("min_packets", detect.dos.min_packets, 1, 100000000, "200"),
    KU32("min_packets_per_port", detect.dos.min_packets_per_port, 1, 1000000, "10"),
    KDBL("max_reply_ratio", detect.dos.max_reply_ratio, 0, 1, "0.1"),
    KPORTS("udp_tcp_ports", detect.dos.udp_tcp_ports, detect.dos.n_udp_tcp_ports,
           "21 22 23 25 80 110 143 445 1433 3306 3389 5432 8080"),
    KU32("report_interval", detect.dos.report_interval, 1, 86400, "300"),
    KU32("max_pairs", detect.dos.max_pairs, 16, 16777216, "16384"),
    KEND
};

/* detect.baseline (detect/det_baseline.c). spam_min_hosts <= 64: the ring. */
static const struct key detect_baseline_keys[] = {
    KBOOL("enabled", detect.baseline.enabled, "true"),
    KU32("learning_seconds", detect.baseline.learning_seconds, 0, 31536000, "86400"),
    KU32("learning_max_gap", detect.baseline.learning_max_gap, 1, 31536000, "3600"),
    KSTR("state_file", detect.baseline.state_file, ""),
    KU32("save_interval", detect.baseline.save_interval, 1, 604800, "3600"),
    KU32("max_instances", detect.baseline.max_instances, 16, 1048576, "4096"),
    KU32("max_ports", detect.baseline.max_ports, 1, 4096, "256"),
    KU32("max_reported", detect.baseline.max_reported, 16, 16777216, "16384"),
    KDBL("volume_k", detect.baseline.volume_k, 0, 1000, "6"),
    KU32("volume_min_bytes", detect.baseline.volume_min_bytes, 1, 4294967295u, "104857600"),
    KU32("volume_min_samples", detect.baseline.volume_min_samples, 2, 1000000000, "20"),
    KPORTS("smtp_ports", detect.baseline.smtp_ports, detect.baseline.n_smtp_ports, "25 465 587"),
    KU32("spam_min_hosts", detect.baseline.spam_min_hosts, 2, 64, "20"),
    KU32("spam_new_hosts", detect.baseline.spam_new_hosts, 1, 64, "5"),
    KU32("spam_window_seconds", detect.baseline.spam_window_seconds, 1, 86400, "600"),
    KU32("report_interval", detect.baseline.report_interval, 1, 604800, "3600"),
    KEND
};

static const struct key detect_keys[] = {
    KMAP("scan", detect_scan_keys),
    KMAP("brute", brute_keys),
    KMAP("resolver", detect_resolver_keys),
    KMAP("mining", detect_mining_keys),
    KMAP("exfil", detect_exfil_keys),
    KMAP("dga", detect_dga_keys),
    KMAP("beacon", detect_beacon_keys),
    KMAP("dos", detect_dos_keys),
    KMAP("baseline", detect_baseline_keys),
    KEND
};
#undef T

#define T struct cfg_threat_list
static const struct key threat_keys[] = {
    KSTR("name", name, "", .flags = K_REQ),
    KSTR("path", path, "", .flags = K_REQ),
    KSTR("category", category, ""),
    KSTR("format", format, "txt", .choices = formats),
    KEND
};
#undef T

#define T struct cfg
static const struct key lists_keys[] = {
    KSTR("trusted", lists.trusted, ""),
    KLIST("threat", lists.threat, lists.n_threat, threat_keys, struct cfg_threat_list),
    KEND
};
#undef T

#define T struct cfg_asset
static const struct key asset_keys[] = {
    KCIDR("cidr", cidr, .flags = K_REQ),
    KSTR("instance_id", instance_id, "", .prefix = "i-"),
    KSTR("eni", eni, "", .prefix = "eni-"),
    KSTR("subnet_id", subnet_id, "", .prefix = "subnet-"),
    KSTR("vpc_id", vpc_id, "", .prefix = "vpc-"),
    KTAGS("tags", tags, n_tags),
    KEND
};
#undef T

/* suppression_rules[]: criteria is a map inside each item, so its rows
 * name fields of struct cfg_suppression_rule too (criteria.x). */
#define T struct cfg_tag
static const struct key rule_tag_keys[] = {
    KSTR("key", key, "", .flags = K_REQ, .check = check_nonempty),
    KSTR("value", value, ""),
    KEND
};
#undef T

#define T struct cfg_suppression_rule
static const struct key criteria_keys[] = {
    KSTRS("type", criteria.type, criteria.n_type, "", CFG_MAX_LIST,
          .check = check_nonempty, .flags = K_UNIQUE),
    KDBL("severity_min", criteria.severity_min, 0, 10, "0"),
    KDBL("severity_max", criteria.severity_max, 0, 10, "10"),
    KSTRS("instance_id", criteria.instance_id, criteria.n_instance_id, "",
          CFG_MAX_LIST, .prefix = "i-", .flags = K_UNIQUE),
    KLIST("tags", criteria.tags, criteria.n_tags, rule_tag_keys, struct cfg_tag),
    KCIDRS("local_ip", criteria.local_ip, criteria.n_local_ip, ""),
    KCIDRS("remote_ip", criteria.remote_ip, criteria.n_remote_ip, ""),
    KPORTS("remote_port", criteria.remote_port, criteria.n_remote_port, ""),
    KSTRS("domain", criteria.domain, criteria.n_domain, "", CFG_MAX_LIST,
          .check = check_domain, .flags = K_UNIQUE),
    KSTRS("direction", criteria.direction, criteria.n_direction, "", 2,
          .choices = directions, .flags = K_UNIQUE),
    KSTRS("resource_role", criteria.resource_role, criteria.n_resource_role, "", 2,
          .choices = roles, .flags = K_UNIQUE),
    KEND
};

static const struct key rule_keys[] = {
    KSTR("name", name, "", .flags = K_REQ, .check = check_nonempty),
    KSTR("action", action, "archive", .choices = rule_actions),
    KMAP("criteria", criteria_keys),
    KEND
};
#undef T

#define T struct cfg_mirror_session
static const struct key session_keys[] = {
    KU32("vni", vni, 0, 16777215, "0", .flags = K_REQ),
    KSTR("eni", eni, "", .prefix = "eni-"),
    KSTR("instance_id", instance_id, "", .prefix = "i-"),
    KSTR("account_id", account_id, "", .check = check_account),
    KSTR("vpc_id", vpc_id, "", .prefix = "vpc-"),
    KSTR("subnet_id", subnet_id, "", .prefix = "subnet-"),
    KSTR("name", name, ""),
    KEND
};
#undef T

#define T struct cfg
static const struct key top_keys[] = {
    KSTR("account_id", account_id, "000000000000", .check = check_account),
    KSTR("region", region, "us-east-1"),
    KSTR("az_id", az_id, ""),
    KSTR("sensor_id", sensor_id, "mirrorguard"),
    KCIDRS("home_net", home_net, n_home_net,
           "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"),
    KU32("workers", workers, 1, 64, "1"),
    KU32("ring_size", ring_size, 1024, 16777216, "65536", .flags = K_POW2),
    KU32("replay_ring_size", replay_ring_size, 1024, 16777216, "8192", .flags = K_POW2),
    KBOOL("ring_block", ring_block, "true"),
    KU32("replay_part_kb", replay_part_kb, 0, 3839, "1024"),
    KMAP("capture", capture_keys),
    KMAP("decoder", decoder_keys),
    KMAP("flows", flows_keys),
    KMAP("dns", dns_keys),
    KMAP("outputs", outputs_keys),
    KMAP("lists", lists_keys),
    KMAP("findings", findings_keys),
    KMAP("detect", detect_keys),
    KLIST("suppression_rules", suppression_rules, n_suppression_rules, rule_keys,
          struct cfg_suppression_rule),
    KLIST("assets", assets, n_assets, asset_keys, struct cfg_asset),
    KLIST("mirror_sessions", mirror_sessions, n_mirror_sessions, session_keys,
          struct cfg_mirror_session),
    KEND
};
#undef T

#define AT(base, k, type) ((type *)((char *)(base) + (k)->off))
#define COUNT(base, k) ((unsigned *)((char *)(base) + (k)->off_n))

/* Key paths are for messages only: one too deep to fit in PATHLEN is cut
 * short, which is why this goes through vsnprintf (truncation is fine). */
__attribute__((format(printf, 2, 3)))
static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATHLEN, fmt, ap);
    va_end(ap);
}

static void join(char *out, const char *path, const char *name)
{
    pathf(out, "%s%s%s", path, *path ? "." : "", name);
}

/* ---------------------------------------------------- scalar converters */

static char *dupstr(const char *s, bool *oom)
{
    if (!s || !*s)
        return cfg_empty;
    char *d = strdup(s);
    if (!d) {
        *oom = true;
        return cfg_empty;
    }
    return d;
}

static void free_str(char *s)
{
    if (s != cfg_empty)
        free(s);
}

int cfg_set_string(struct cfg *c, char **field, const char *v)
{
    (void)c;
    bool oom = false;
    char *d = dupstr(v, &oom);
    if (oom)
        return -1;
    free_str(*field);
    *field = d;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const t[] = { "true", "yes", "on" };
    static const char *const f[] = { "false", "no", "off" };
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, t[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, f[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Strict decimal: optional sign, digits, nothing else (no spaces, no
 * "0x", no "1e6", no "10k"). Returns 0, -1 (not an integer) or -2
 * (does not fit in a long long: reported as out of range). */
static int parse_ll(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -2;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* cfg_parse_cidr() with the reason it failed, for messages. */
static const char *cidr_parse(const char *s, struct cfg_cidr *out)
{
    char a[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    int max, prefix = -1;

    memset(out, 0, sizeof(*out));
    if (alen == 0)
        return "no address";
    if (alen >= sizeof(a))
        return "too long for an address";
    memcpy(a, s, alen);
    a[alen] = '\0';
    if (slash) {
        const char *p = slash + 1;
        if (!*p)
            return "no prefix length after '/'";
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || prefix > 999)
                return "prefix length is not a number";
            prefix = prefix * 10 + (*p - '0');
        }
    }
    if (inet_pton(AF_INET, a, out->addr) == 1) {
        out->family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, a, out->addr) == 1) {
        out->family = 6;
        max = 128;
    } else {
        memset(out, 0, sizeof(*out));
        return "not an IPv4 or IPv6 address";
    }
    if (prefix > max) {
        memset(out, 0, sizeof(*out));
        return max == 32 ? "prefix length over 32 for IPv4"
                         : "prefix length over 128 for IPv6";
    }
    if (prefix < 0)
        prefix = max;
    out->prefix = (uint8_t)prefix;
    /* Clear host bits: lookups compare masked addresses byte-wise. */
    for (int bit = prefix; bit < 128; bit++)
        out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return NULL;
}

int cfg_parse_cidr(const char *s, struct cfg_cidr *out)
{
    if (!s || !out)
        return -1;
    return cidr_parse(s, out) ? -1 : 0;
}

static void cidr_str(const struct cfg_cidr *c, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(c->family == 6 ? AF_INET6 : AF_INET, c->addr, a, sizeof(a));
    snprintf(out, len, "%s/%u", a, c->prefix);
}

static const char *check_account(const char *s)
{
    if (!*s)
        return NULL;        /* "" where allowed: the schema default */
    size_t n = strspn(s, "0123456789");
    return (n == 12 && !s[n]) ? NULL
        : "is not an AWS account id (expected 12 digits)";
}

/* "" | redis://[user:pass@]host[:port][/db] | unix:///path: catches the
 * usual slips (a missing scheme, "host:port" alone, a bad port) at start
 * rather than at the first finding. */
static const char *check_redis_url(const char *s)
{
    static const char *const why =
        "is not a Redis URL (expected redis://[user:pass@]host:port/db "
        "or unix:///path)";
    if (!*s)
        return NULL;
    if (!strncmp(s, "unix://", 7))
        return s[7] == '/' && s[8] ? NULL : why;
    if (strncmp(s, "redis://", 8))
        return why;
    const char *h = s + 8, *at = strrchr(h, '@');
    if (at)
        h = at + 1;
    const char *end = h + strcspn(h, "/");
    const char *colon = NULL;
    if (*h == '[') {                        /* [v6]:port */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb == h + 1)
            return why;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return why;
            colon = rb + 1;
        }
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon == h || h == end)
            return why;
    }
    if (colon) {
        long port = 0;
        const char *p = colon + 1;
        if (p == end)
            return why;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return why;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return why;
    }
    if (*end == '/' && end[1]) {
        const char *p = end + 1;
        if (strspn(p, "0123456789") != strlen(p))
            return why;
    }
    return NULL;
}

uint32_t cfg_publishing_seconds(const char *s)
{
    /* GuardDuty's three publishing frequencies, and plain seconds so that
     * a test or a short replay can see updates without 15 minutes of
     * packets. */
    static const struct { const char *name; uint32_t sec; } f[] = {
        { "FIFTEEN_MINUTES", 900 }, { "ONE_HOUR", 3600 }, { "SIX_HOURS", 21600 },
    };
    if (!s)
        return 0;
    for (unsigned i = 0; i < 3; i++)
        if (!strcmp(s, f[i].name))
            return f[i].sec;
    long long v;
    if (parse_ll(s, &v) || v < 1 || v > 86400 || *s == '+' || *s == '-')
        return 0;
    return (uint32_t)v;
}

static const char *check_frequency(const char *s)
{
    return cfg_publishing_seconds(s) ? NULL
        : "is not a publishing frequency (expected FIFTEEN_MINUTES, ONE_HOUR, "
          "SIX_HOURS or a number of seconds 1..86400)";
}

/* "aws", "aws-cn", "aws-us-gov", ...: checked loosely so that a partition
 * AWS adds later needs no new release, while a typo such as "AWS" or
 * "amazon" is caught before it is written into every ARN. */
static const char *check_partition(const char *s)
{
    static const char *const why =
        "is not an AWS partition (expected aws, aws-cn, aws-us-gov, ...)";
    if (strncmp(s, "aws", 3))
        return why;
    for (const char *p = s + 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              (*p == '-' && p[1] && p[1] != '-')))
            return why;
    return NULL;
}

static const char *check_nonempty(const char *s)
{
    return *s ? NULL : "must not be empty";
}

/* A domain criterion: "example.com" (that name) or "*.example.com" (it and
 * every name below it), as in the threat lists. Labels of letters, digits,
 * '-', '_' or UTF-8 bytes; one trailing dot is allowed. */
static const char *check_domain(const char *s)
{
    static const char *const why =
        "is not a domain name (expected e.g. example.com or *.example.com)";
    const char *p = s;
    if (!strncmp(p, "*.", 2))
        p += 2;
    size_t n = strlen(p);
    if (n && p[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return why;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '.') {
            if (label == 0)
                return why;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80))
            return why;
        if (++label > 63)
            return why;
    }
    return label ? NULL : why;
}

/* Strict decimal number for KT_DBL: "7", "7.5", "-0.5"; no exponent, no
 * hex, no inf/nan. Returns 0 or -1. */
static int parse_dbl(const char *s, double *out)
{
    const char *p = s;
    unsigned digits = 0, dots = 0;
    if (*p == '-' || *p == '+')
        p++;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && !dots++)
            continue;
        else
            return -1;
    }
    if (!digits || strlen(s) > 32)
        return -1;
    *out = strtod(s, NULL);
    return 0;
}

/* ------------------------------------------------------------- errors */

struct ld {
    const char *file;       /* for messages: the path given to cfg_load */
    char *buf;              /* messages, '\n'-separated */
    size_t len, cap;
    unsigned n, dropped;
    bool oom;
};

static void msg_add(struct ld *w, const char *m)
{
    if (w->n >= CFG_MAX_ERRORS) {
        w->dropped++;
        return;
    }
    size_t ml = strlen(m), need = w->len + ml + 2;
    if (need > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        while (cap < need)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->oom = true;
            w->dropped++;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    if (w->len)
        w->buf[w->len++] = '\n';
    memcpy(w->buf + w->len, m, ml + 1);
    w->len += ml;
    w->n++;
}

/* "file:line:col: key.path: text", or "--set k: key.path: text" for nodes
 * an override made, or "file: text" with no node. */
__attribute__((format(printf, 4, 5)))
static void err(struct ld *w, const struct cfg_node *at, const char *path,
                const char *fmt, ...)
{
    char m[1024], where[600];
    int o;
    if (at && at->origin)
        snprintf(where, sizeof(where), "%s", at->origin);
    else if (at)
        snprintf(where, sizeof(where), "%s:%u:%u", w->file, at->line, at->col);
    else
        snprintf(where, sizeof(where), "%s", w->file);
    if (path && *path)
        o = snprintf(m, sizeof(m), "%s: %s: ", where, path);
    else
        o = snprintf(m, sizeof(m), "%s: ", where);
    if (o < 0 || (size_t)o >= sizeof(m))
        o = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + o, sizeof(m) - (size_t)o, fmt, ap);
    va_end(ap);
    /* One message, one line: a value quoted in it (a multi-line YAML
     * string, say) shows its control characters escaped. */
    char e[sizeof(m) * 2];
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)m; *c && k + 5 < sizeof(e); c++) {
        if (*c == '\n' || *c == '\t' || *c == '\r')
            k += (size_t)snprintf(e + k, sizeof(e) - k, "\\%c", *c == '\n' ? 'n' : *c == '\t' ? 't' : 'r');
        else if (*c < 0x20 || *c == 0x7f)
            k += (size_t)snprintf(e + k, sizeof(e) - k, "\\x%02x", *c);
        else
            e[k++] = (char)*c;
    }
    e[k] = 0;
    msg_add(w, e);
}

static const char *kind_name(const struct cfg_node *n)
{
    if (n->kind == CFG_MAP)
        return "a mapping";
    if (n->kind == CFG_SEQ)
        return "a sequence";
    return cfg_node_is_null(n) ? "nothing" : "a scalar";
}

/* What a key wants, for the "(expected ...)" part of messages. */
static void expected(const struct key *k, char *out, size_t len)
{
    switch (k->type) {
    case KT_BOOL:
        snprintf(out, len, "true or false");
        break;
    case KT_INT:
    case KT_U32:
        snprintf(out, len, "%san integer %lld..%lld%s", (k->flags & K_OFF0) ? "0 (off) or " : "",
                 k->min, k->max, (k->flags & K_POW2) ? ", a power of two" : "");
        break;
    case KT_DBL:
        snprintf(out, len, "a number %g..%g", k->dmin, k->dmax);
        break;
    case KT_STR:
    case KT_STRS:
        if (k->choices && k->choices != flow_field_names) {
            size_t o = (size_t)snprintf(out, len, "one of");
            for (unsigned i = 0; k->choices[i] && o < len; i++)
                o += (size_t)snprintf(out + o, len - o, "%s %s",
                                      i ? "," : "", k->choices[i]);
        } else {
            snprintf(out, len, k->type == KT_STR ? "a string" : "a list of strings");
        }
        break;
    case KT_PORTS:
        snprintf(out, len, "a list of up to %lld ports 1..65535, e.g. [4789]",
                 k->max);
        break;
    case KT_CIDRS:
        snprintf(out, len, "a list of CIDRs, e.g. [10.0.0.0/8, fc00::/7]");
        break;
    case KT_CIDR:
        snprintf(out, len, "a CIDR or address, e.g. 10.1.2.0/24");
        break;
    case KT_MAP:
        snprintf(out, len, "a mapping of keys");
        break;
    case KT_LIST:
        snprintf(out, len, "a list of mappings");
        break;
    case KT_TAGS:
        snprintf(out, len, "a mapping of tag: value");
        break;
    }
}

/* Optimal string alignment distance (Levenshtein plus transpositions:
 * "snaplne" is one slip from "snaplen", not two). Short strings only. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    unsigned d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* The closest of 'names' to s within distance 2 (and closer than the
 * word's own length, so "a" does not suggest "az_id"), or NULL. */
static const char *closest(const char *s, const char *const *names, unsigned n)
{
    const char *best = NULL;
    unsigned bd = 3;
    for (unsigned i = 0; i < n; i++) {
        unsigned d = edit_distance(s, names[i]);
        if (d < bd && d < strlen(s)) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

static const char *closest_key(const char *s, const struct key *keys)
{
    const char *names[64];
    unsigned n = 0;
    for (; keys[n].name && n < 64; n++)
        names[n] = keys[n].name;
    return closest(s, names, n);
}

/* A key put in the wrong section ("snaplen" at top level) is found by
 * its exact name anywhere in the map part of the schema. */
static bool find_elsewhere(const char *s, const struct key *keys,
                           const char *prefix, char *out, size_t len)
{
    for (const struct key *k = keys; k->name; k++) {
        char p[PATHLEN];
        join(p, prefix, k->name);
        if (!strcmp(k->name, s)) {
            snprintf(out, len, "%s", p);
            return true;
        }
        if (k->type == KT_MAP && find_elsewhere(s, k->sub, p, out, len))
            return true;
    }
    return false;
}

/* ------------------------------------------------------ defaults / free */

static void free_keys(void *base, const struct key *keys);

static void free_value(void *base, const struct key *k)
{
    switch (k->type) {
    case KT_STR:
        free_str(*AT(base, k, char *));
        *AT(base, k, char *) = NULL;
        break;
    case KT_STRS: {
        char **v = *AT(base, k, char **);
        for (unsigned i = 0; v && i < *COUNT(base, k); i++)
            free_str(v[i]);
        free(v);
        *AT(base, k, char **) = NULL;
        *COUNT(base, k) = 0;
        break;
    }
    case KT_CIDRS:
        free(*AT(base, k, struct cfg_cidr *));
        *AT(base, k, struct cfg_cidr *) = NULL;
        *COUNT(base, k) = 0;
        break;
    case KT_TAGS: {
        struct cfg_tag *t = *AT(base, k, struct cfg_tag *);
        for (unsigned i = 0; t && i < *COUNT(base, k); i++) {
            free_str(t[i].key);
            free_str(t[i].value);
        }
        free(t);
        *AT(base, k, struct cfg_tag *) = NULL;
        *COUNT(base, k) = 0;
        break;
    }
    case KT_LIST: {
        char *v = *AT(base, k, char *);
        for (unsigned i = 0; v && i < *COUNT(base, k); i++)
            free_keys(v + i * k->elem_size, k->sub);
        free(v);
        *AT(base, k, char *) = NULL;
        *COUNT(base, k) = 0;
        break;
    }
    case KT_MAP:
        free_keys(base, k->sub);
        break;
    default:
        break;
    }
}

static void free_keys(void *base, const struct key *keys)
{
    for (const struct key *k = keys; k->name; k++)
        free_value(base, k);
}

/* Store one scalar item of a list default; the defaults are constants of
 * this file, checked by the unit tests, so they cannot fail but for OOM. */
static void default_item(void *base, const struct key *k, const char *s,
                         unsigned i, bool *oom)
{
    long long v;
    if (k->type == KT_PORTS) {
        if (parse_ll(s, &v) == 0)
            AT(base, k, uint16_t)[i] = (uint16_t)v;
    } else if (k->type == KT_CIDRS) {
        cidr_parse(s, &(*AT(base, k, struct cfg_cidr *))[i]);
    } else {
        (*AT(base, k, char **))[i] = dupstr(s, oom);
    }
}

static void apply_defaults(void *base, const struct key *keys, bool *oom)
{
    for (const struct key *k = keys; k->name; k++) {
        long long v = 0;
        switch (k->type) {
        case KT_BOOL:
            parse_bool(k->dflt, AT(base, k, bool));
            break;
        case KT_INT:
            parse_ll(k->dflt, &v);
            *AT(base, k, int) = (int)v;
            break;
        case KT_U32:
            parse_ll(k->dflt, &v);
            *AT(base, k, uint32_t) = (uint32_t)v;
            break;
        case KT_DBL:
            parse_dbl(k->dflt, AT(base, k, double));
            break;
        case KT_STR:
            *AT(base, k, char *) = dupstr(k->dflt, oom);
            break;
        case KT_CIDR:
            memset(AT(base, k, struct cfg_cidr), 0, sizeof(struct cfg_cidr));
            break;
        case KT_MAP:
            apply_defaults(base, k->sub, oom);
            break;
        case KT_LIST:
        case KT_TAGS:
            *AT(base, k, void *) = NULL;
            *COUNT(base, k) = 0;
            break;
        case KT_PORTS:
        case KT_CIDRS:
        case KT_STRS: {
            /* Count the space-separated items, allocate, then fill. */
            unsigned n = 0;
            for (const char *p = k->dflt; *p; ) {
                p += strspn(p, " ");
                if (!*p)
                    break;
                n++;
                p += strcspn(p, " ");
            }
            *COUNT(base, k) = 0;
            if (k->type == KT_CIDRS) {
                *AT(base, k, void *) = n ? calloc(n, sizeof(struct cfg_cidr)) : NULL;
            } else if (k->type == KT_STRS) {
                *AT(base, k, void *) = n ? calloc(n, sizeof(char *)) : NULL;
            }
            if (n && k->type != KT_PORTS && !*AT(base, k, void *)) {
                *oom = true;
                break;
            }
            unsigned i = 0;
            for (const char *p = k->dflt; *p && i < n; ) {
                char item[64];
                p += strspn(p, " ");
                size_t l = strcspn(p, " ");
                snprintf(item, sizeof(item), "%.*s", (int)l, p);
                default_item(base, k, item, i++, oom);
                p += l;
            }
            *COUNT(base, k) = i;
            break;
        }
        }
    }
}

void cfg_defaults(struct cfg *c)
{
    bool oom = false;
    memset(c, 0, sizeof(*c));
    c->path = cfg_empty;
    apply_defaults(c, top_keys, &oom);
}

void cfg_free(struct cfg *c)
{
    if (!c)
        return;
    free_keys(c, top_keys);
    free_str(c->path);
    memset(c, 0, sizeof(*c));
}

const struct cfg_mirror_session *cfg_session_by_vni(const struct cfg *c,
                                                    uint32_t vni)
{
    /* A linear scan: a sensor sees a handful of mirror sessions, and the
     * decoder caches the answer per flow rather than asking per packet. */
    for (unsigned i = 0; c && i < c->n_mirror_sessions; i++)
        if (c->mirror_sessions[i].vni == vni)
            return &c->mirror_sessions[i];
    return NULL;
}

/* ------------------------------------------------------------ the walk */

static void walk_map(struct ld *w, void *base, const struct key *keys,
                     const struct cfg_node *map, const char *path);


/* A string value: 'n' is a scalar. Checks choices / prefix / check. */
static bool check_string(struct ld *w, const struct key *k,
                         const struct cfg_node *n, const char *s,
                         const char *path)
{
    char exp[512];
    if (strlen(s) != n->len) {
        err(w, n, path, "contains a NUL character");
        return false;
    }
    if (k->choices) {
        for (unsigned i = 0; k->choices[i]; i++)
            if (!strcmp(s, k->choices[i]))
                return true;
        unsigned nc = 0;
        while (k->choices[nc])
            nc++;
        const char *hint = closest(s, k->choices, nc);
        if (k->choices == flow_field_names) {
            /* The list of VPC Flow Logs fields is too long to print. */
            if (hint)
                err(w, n, path, "unknown flow log field \"%s\" (did you mean %s?)",
                    s, hint);
            else
                err(w, n, path, "unknown flow log field \"%s\" (expected a VPC "
                    "Flow Logs field name such as srcaddr or tcp-flags)", s);
            return false;
        }
        expected(k, exp, sizeof(exp));
        if (hint)
            err(w, n, path, "\"%s\" is not allowed (expected %s; did you mean "
                "%s?)", s, exp, hint);
        else
            err(w, n, path, "\"%s\" is not allowed (expected %s)", s, exp);
        return false;
    }
    if (k->prefix && *s && strncmp(s, k->prefix, strlen(k->prefix))) {
        err(w, n, path, "\"%s\" is not %s (expected %s...)", s,
            !strcmp(k->prefix, "i-") ? "an instance id" :
            !strcmp(k->prefix, "eni-") ? "an ENI id" :
            !strcmp(k->prefix, "vpc-") ? "a VPC id" :
            !strcmp(k->prefix, "subnet-") ? "a subnet id" : "valid",
            k->prefix);
        return false;
    }
    const char *why = k->check ? k->check(s) : NULL;
    if (why) {
        err(w, n, path, "\"%s\" %s", s, why);
        return false;
    }
    return true;
}

/* Convert an integer scalar for key k; false (and an error) if it is not
 * one or is out of range. */
static bool get_int(struct ld *w, const struct key *k, const struct cfg_node *n,
                    const char *path, long long lo, long long hi, long long *v)
{
    char exp[128];
    int r = parse_ll(n->str, v);
    if (r == -1) {
        expected(k, exp, sizeof(exp));
        if (cfg_node_is_null(n))
            err(w, n, path, "missing value (expected %s)", exp);
        else
            err(w, n, path, "\"%s\" is not an integer (expected %s)", n->str, exp);
        return false;
    }
    if (r == 0 && *v == 0 && (k->flags & K_OFF0))
        return true;
    if (r == -2 || *v < lo || *v > hi) {
        if (k->flags & K_OFF0)
            err(w, n, path, "must be 0 (off) or between %lld and %lld (got %s)", lo, hi, n->str);
        else
            err(w, n, path, "must be between %lld and %lld (got %s)", lo, hi, n->str);
        return false;
    }
    return true;
}

/* Items of a list-of-scalars value: a sequence, one scalar (a list of
 * one: "--set decoder.vxlan_ports=4789" works), or null (empty list).
 * Returns the number of items and points *items at them. */
static unsigned list_items(const struct cfg_node *v, const struct cfg_node *const **items,
                           const struct cfg_node **one)
{
    if (v->kind == CFG_SEQ) {
        *items = (const struct cfg_node *const *)v->kids;
        return v->n;
    }
    if (cfg_node_is_null(v))
        return 0;
    *one = v;
    *items = one;
    return 1;
}

static void set_value(struct ld *w, void *base, const struct key *k,
                      const struct cfg_node *v, const char *path)
{
    char exp[512], ip[PATHLEN];
    long long x;

    expected(k, exp, sizeof(exp));

    /* First the shape: scalars want a scalar, maps a map, lists a list. */
    switch (k->type) {
    case KT_BOOL: case KT_INT: case KT_U32: case KT_DBL: case KT_STR: case KT_CIDR:
        if (v->kind != CFG_SCALAR) {
            err(w, v, path, "got %s (expected %s)", kind_name(v), exp);
            return;
        }
        break;
    case KT_MAP: case KT_TAGS:
        if (v->kind != CFG_MAP && !cfg_node_is_null(v)) {
            err(w, v, path, "got %s (expected %s)", kind_name(v), exp);
            return;
        }
        break;
    case KT_LIST:
        if (v->kind != CFG_SEQ && !cfg_node_is_null(v)) {
            err(w, v, path, "got %s (expected %s)", kind_name(v), exp);
            return;
        }
        break;
    case KT_PORTS: case KT_CIDRS: case KT_STRS:
        if (v->kind == CFG_MAP) {
            err(w, v, path, "got a mapping (expected %s)", exp);
            return;
        }
        break;
    }

    switch (k->type) {
    case KT_BOOL:
        if (parse_bool(v->str, AT(base, k, bool)) == 0)
            break;
        if (cfg_node_is_null(v))
            err(w, v, path, "missing value (expected true/false, yes/no or "
                "on/off)");
        else
            err(w, v, path, "\"%s\" is not a boolean (expected true/false, "
                "yes/no or on/off)", v->str);
        break;
    case KT_INT:
        if (get_int(w, k, v, path, k->min, k->max, &x))
            *AT(base, k, int) = (int)x;
        break;
    case KT_U32:
        if (!get_int(w, k, v, path, k->min, k->max, &x))
            break;
        if ((k->flags & K_POW2) && (x & (x - 1))) {
            err(w, v, path, "must be a power of two (got %lld; expected %s)",
                x, exp);
            break;
        }
        *AT(base, k, uint32_t) = (uint32_t)x;
        break;
    case KT_DBL: {
        double d;
        if (parse_dbl(v->str, &d) < 0) {
            if (cfg_node_is_null(v))
                err(w, v, path, "missing value (expected %s)", exp);
            else
                err(w, v, path, "\"%s\" is not a number (expected %s)", v->str, exp);
        } else if (d < k->dmin || d > k->dmax) {
            err(w, v, path, "must be between %g and %g (got %s)", k->dmin,
                k->dmax, v->str);
        } else {
            *AT(base, k, double) = d;
        }
        break;
    }
    case KT_STR: {
        const char *s = cfg_node_is_null(v) ? "" : v->str;
        if (!check_string(w, k, v, s, path))
            break;
        char *d = dupstr(s, &w->oom);
        free_str(*AT(base, k, char *));
        *AT(base, k, char *) = d;
        break;
    }
    case KT_CIDR: {
        const char *why = cidr_parse(v->str, AT(base, k, struct cfg_cidr));
        if (why)
            err(w, v, path, "\"%s\": %s (expected %s)", v->str, why, exp);
        break;
    }
    case KT_MAP:
        if (v->kind == CFG_MAP)
            walk_map(w, base, k->sub, v, path);
        break;
    case KT_PORTS:
    case KT_CIDRS:
    case KT_STRS: {
        const struct cfg_node *const *it, *one = NULL;
        unsigned n = list_items(v, &it, &one), ok = 0;
        if (n > k->max) {
            err(w, v, path, "too many items: %u (at most %lld)", n, k->max);
            break;
        }
        free_value(base, k);
        void *arr = NULL;
        if (n && k->type != KT_PORTS) {
            arr = calloc(n, k->type == KT_CIDRS ? sizeof(struct cfg_cidr)
                                                : sizeof(char *));
            if (!arr) {
                w->oom = true;
                break;
            }
            *AT(base, k, void *) = arr;
        }
        for (unsigned i = 0; i < n; i++) {
            const struct cfg_node *e = it[i];
            if (v->kind == CFG_SEQ)
                pathf(ip, "%s[%u]", path, i);
            else
                pathf(ip, "%s", path);
            if (e->kind != CFG_SCALAR || cfg_node_is_null(e)) {
                err(w, e, ip, "got %s (expected %s)", kind_name(e),
                    k->type == KT_PORTS ? "a port 1..65535" :
                    k->type == KT_CIDRS ? "a CIDR such as 10.0.0.0/8" : "a string");
                continue;
            }
            if (k->type == KT_PORTS) {
                if (get_int(w, k, e, ip, 1, 65535, &x))
                    AT(base, k, uint16_t)[ok++] = (uint16_t)x;
            } else if (k->type == KT_CIDRS) {
                struct cfg_cidr *c = &((struct cfg_cidr *)arr)[ok];
                const char *why = cidr_parse(e->str, c);
                if (why)
                    err(w, e, ip, "\"%s\": %s (expected a CIDR such as "
                        "10.0.0.0/8 or 2001:db8::/32)", e->str, why);
                else
                    ok++;
            } else {
                char **s = arr;
                if (!check_string(w, k, e, e->str, ip))
                    continue;
                bool dup = false;
                for (unsigned j = 0; (k->flags & K_UNIQUE) && j < ok; j++)
                    dup |= !strcmp(s[j], e->str);
                if (dup) {
                    err(w, e, ip, "\"%s\" is listed twice", e->str);
                    continue;
                }
                s[ok++] = dupstr(e->str, &w->oom);
            }
        }
        *COUNT(base, k) = ok;
        if ((k->flags & K_NONEMPTY) && n == 0)
            err(w, v, path, "must not be empty (expected %s)", exp);
        break;
    }
    case KT_TAGS: {
        free_value(base, k);
        if (v->kind != CFG_MAP || v->n == 0)
            break;
        struct cfg_tag *t = calloc(v->n / 2, sizeof(*t));
        if (!t) {
            w->oom = true;
            break;
        }
        *AT(base, k, struct cfg_tag *) = t;
        unsigned ok = 0;
        for (unsigned i = 0; i + 1 < v->n; i += 2) {
            const struct cfg_node *kn = v->kids[i], *vn = v->kids[i + 1];
            if (kn->kind != CFG_SCALAR) {
                err(w, kn, path, "a tag name must be a string, got %s", kind_name(kn));
                continue;
            }
            join(ip, path, kn->str);
            bool dup = false;
            for (unsigned j = 0; j < ok; j++)
                dup |= !strcmp(t[j].key, kn->str);
            if (dup) {
                err(w, kn, ip, "duplicate key");
                continue;
            }
            if (vn->kind != CFG_SCALAR) {
                err(w, vn, ip, "got %s (expected a string)", kind_name(vn));
                continue;
            }
            t[ok].key = dupstr(kn->str, &w->oom);
            t[ok].value = dupstr(cfg_node_is_null(vn) ? "" : vn->str, &w->oom);
            ok++;
        }
        *COUNT(base, k) = ok;
        break;
    }
    case KT_LIST: {
        free_value(base, k);
        if (v->kind != CFG_SEQ || v->n == 0)
            break;
        if (v->n > k->max) {
            err(w, v, path, "too many items: %u (at most %lld)", v->n, k->max);
            break;
        }
        char *arr = calloc(v->n, k->elem_size);
        if (!arr) {
            w->oom = true;
            break;
        }
        *AT(base, k, char *) = arr;
        for (unsigned i = 0; i < v->n; i++) {
            const struct cfg_node *item = v->kids[i];
            void *elem = arr + i * k->elem_size;
            apply_defaults(elem, k->sub, &w->oom);
            *COUNT(base, k) = i + 1;    /* so cfg_free frees it */
            pathf(ip, "%s[%u]", path, i);
            if (item->kind != CFG_MAP) {
                err(w, item, ip, "got %s (expected a mapping of keys such as "
                    "%s: ...)", kind_name(item), k->sub[0].name);
                continue;
            }
            walk_map(w, elem, k->sub, item, ip);
            for (const struct key *sk = k->sub; sk->name; sk++) {
                if ((sk->flags & K_REQ) && !cfg_map_get(item, sk->name)) {
                    char kp[PATHLEN];
                    join(kp, ip, sk->name);
                    err(w, item, kp, "required key is missing");
                }
            }
        }
        break;
    }
    }
}

static void walk_map(struct ld *w, void *base, const struct key *keys,
                     const struct cfg_node *map, const char *path)
{
    char kp[PATHLEN];
    for (unsigned i = 0; i + 1 < map->n; i += 2) {
        const struct cfg_node *kn = map->kids[i], *vn = map->kids[i + 1];
        if (kn->kind != CFG_SCALAR) {
            err(w, kn, path, "a key must be a plain string, got %s",
                kind_name(kn));
            continue;
        }
        join(kp, path, kn->str);

        const struct cfg_node *first = NULL;
        for (unsigned j = 0; j < i && !first; j += 2)
            if (map->kids[j]->kind == CFG_SCALAR && !strcmp(map->kids[j]->str, kn->str))
                first = map->kids[j];
        if (first) {
            if (first->origin)
                err(w, kn, kp, "duplicate key (first set by %s)", first->origin);
            else
                err(w, kn, kp, "duplicate key (first at line %u)", first->line);
            continue;
        }

        const struct key *k = keys;
        while (k->name && strcmp(k->name, kn->str))
            k++;
        if (k->name) {
            set_value(w, base, k, vn, kp);
            continue;
        }

        char where[PATHLEN];
        const char *hint = closest_key(kn->str, keys);
        if (hint) {
            err(w, kn, kp, "unknown key (did you mean %s?)", hint);
        } else if (find_elsewhere(kn->str, top_keys, "", where, sizeof(where))) {
            err(w, kn, kp, "unknown key here (did you mean %s?)", where);
        } else {
            char list[600];
            size_t o = 0;
            list[0] = '\0';
            for (const struct key *q = keys; q->name && o < sizeof(list); q++)
                o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
                                      q == keys ? "" : ", ", q->name);
            err(w, kn, kp, "unknown key (expected one of: %s)", list);
        }
    }
}

/* True when a criteria value is given and not empty: a scalar, a map or
 * a sequence with items (null and [] are "not used"). */
static bool criterion_given(const struct cfg_node *v)
{
    if (v->kind == CFG_SEQ || v->kind == CFG_MAP)
        return v->n > 0;
    return !cfg_node_is_null(v);
}

/* suppression_rules[]: each rule needs a criterion, a sane severity range
 * and a name of its own. Read from the tree (what the user wrote), so a
 * criterion that was given but rejected does not also earn "no criteria". */
static void check_rules(struct ld *w, const struct cfg *c,
                        const struct cfg_node *root)
{
    const struct cfg_node *seq = cfg_map_get(root, "suppression_rules");
    if (!seq || seq->kind != CFG_SEQ)
        return;
    for (unsigned i = 0; i < seq->n && i < c->n_suppression_rules; i++) {
        const struct cfg_node *item = seq->kids[i];
        const struct cfg_suppression_rule *r = &c->suppression_rules[i];
        char p[PATHLEN];
        if (item->kind != CFG_MAP)
            continue;
        const struct cfg_node *cr = cfg_map_get(item, "criteria");
        bool any = false;
        if (cr && cr->kind != CFG_MAP && !cfg_node_is_null(cr))
            any = true;         /* wrong type: reported by the walk */
        for (unsigned j = 1; cr && cr->kind == CFG_MAP && j < cr->n; j += 2)
            any |= criterion_given(cr->kids[j]);
        if (!any) {
            pathf(p, "suppression_rules[%u].criteria", i);
            err(w, cr && !cfg_node_is_null(cr) ? cr : item, p,
                "%s: a rule without criteria would archive every finding "
                "(add at least one criterion, e.g. type: [Recon:EC2/Portscan])",
                cr ? "no criterion given" : "required key is missing");
        }
        const struct cfg_node *mn = cr && cr->kind == CFG_MAP
                                    ? cfg_map_get(cr, "severity_min") : NULL;
        const struct cfg_node *mx = cr && cr->kind == CFG_MAP
                                    ? cfg_map_get(cr, "severity_max") : NULL;
        double a, b;
        if (mn && mx && mn->kind == CFG_SCALAR && mx->kind == CFG_SCALAR &&
            !parse_dbl(mn->str, &a) && !parse_dbl(mx->str, &b) && a > b &&
            a <= 10 && b >= 0) {
            pathf(p, "suppression_rules[%u].criteria.severity_max", i);
            err(w, mx, p, "%s is below severity_min %s (the rule could never "
                "match)", mx->str, mn->str);
        }
        const struct cfg_node *nn = cfg_map_get(item, "name");
        for (unsigned j = 0; nn && *r->name && j < i; j++) {
            if (strcmp(c->suppression_rules[j].name, r->name))
                continue;
            pathf(p, "suppression_rules[%u].name", i);
            err(w, nn, p, "duplicate rule name \"%s\" (also "
                "suppression_rules[%u])", r->name, j);
            break;
        }
    }
}

/* Keys whose validity depends on other items. */
static void cross_checks(struct ld *w, const struct cfg *c,
                         const struct cfg_node *root)
{
    check_rules(w, c, root);
    const struct cfg_node *seq = cfg_map_get(root, "mirror_sessions");
    if (!seq || seq->kind != CFG_SEQ)
        return;
    /* Re-read the VNI nodes rather than the struct: an item whose vni was
     * rejected holds the default 0 and must not look like a duplicate. */
    for (unsigned i = 0; i < seq->n && i < c->n_mirror_sessions; i++) {
        const struct cfg_node *vi = cfg_map_get(seq->kids[i], "vni");
        long long a, b;
        if (!vi || vi->kind != CFG_SCALAR || parse_ll(vi->str, &a) ||
            a < 0 || a > 16777215)
            continue;
        for (unsigned j = 0; j < i; j++) {
            const struct cfg_node *vj = cfg_map_get(seq->kids[j], "vni");
            if (!vj || vj->kind != CFG_SCALAR || parse_ll(vj->str, &b) || a != b)
                continue;
            char p[PATHLEN];
            snprintf(p, sizeof(p), "mirror_sessions[%u].vni", i);
            err(w, vi, p, "duplicate VNI %lld (also mirror_sessions[%u]; each "
                "mirror session needs its own VNI)", a, j);
            break;
        }
    }
}

/* ------------------------------------------------------------ --set */

/* Graft one "key.path=value" onto the tree. Missing maps on the way are
 * created (a number creates / indexes a sequence: mirror_sessions.0.vni,
 * where index == length appends an item). The new nodes carry 'origin',
 * so an unknown key or a bad value is reported as "--set key.path". */
static void apply_set(struct ld *w, struct cfg_node *root, const char *set,
                      const char *origin)
{
    const char *eq = strchr(set, '=');
    char key[PATHLEN];
    struct cfg_node probe = { .origin = origin };

    if (!eq || eq == set) {
        err(w, &probe, NULL, "expected key.path=value");
        return;
    }
    if ((size_t)(eq - set) >= sizeof(key)) {
        err(w, &probe, NULL, "key too long");
        return;
    }
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = '\0';

    /* Split the key into segments in place. */
    char *seg[32];
    unsigned ns = 0;
    for (char *p = key; ; ) {
        char *dot = strchr(p, '.');
        if (dot)
            *dot = '\0';
        if (!*p || ns == 32) {
            err(w, &probe, NULL, "bad key path (expected names separated by "
                "single dots, e.g. flows.max_flows)");
            return;
        }
        seg[ns++] = p;
        if (!dot)
            break;
        p = dot + 1;
    }

    const char *value = eq + 1;
    struct cfg_node *val = NULL;
    struct cfg_yaml_err ye;
    if (cfg_yaml_parse(value, strlen(value), origin, &val, &ye) < 0) {
        err(w, &probe, NULL, "bad value \"%s\": %s", value, ye.msg);
        return;
    }
    if (!val) {
        /* "", "~", "null": a null (an empty string for string keys). */
        val = cfg_node_new(CFG_SCALAR, 1, 1, origin);
        if (!val || !(val->str = calloc(1, 1))) {
            cfg_node_free(val);
            w->oom = true;
            return;
        }
        val->plain = true;
    }

    struct cfg_node *cur = root;
    char done[PATHLEN] = "";
    for (unsigned s = 0; s < ns; s++) {
        bool last = s + 1 == ns;
        const char *name = seg[s];
        struct cfg_node **slot = NULL;
        char *end;
        unsigned long idx = strtoul(name, &end, 10);
        bool numeric = name[0] >= '0' && name[0] <= '9' && !*end;

        if (cur->kind == CFG_MAP) {
            for (unsigned i = 0; i + 1 < cur->n && !slot; i += 2)
                if (cur->kids[i]->kind == CFG_SCALAR && !strcmp(cur->kids[i]->str, name))
                    slot = &cur->kids[i + 1];
            if (!slot) {
                struct cfg_node *kn = cfg_node_new(CFG_SCALAR, 0, 0, origin);
                if (!kn || !(kn->str = strdup(name)) || cfg_node_push(cur, kn) < 0) {
                    cfg_node_free(kn);
                    goto oom;
                }
                kn->len = strlen(name);
                kn->plain = true;
                if (cfg_node_push(cur, NULL) < 0) {
                    cur->n--;           /* drop the key again */
                    cfg_node_free(kn);
                    goto oom;
                }
                slot = &cur->kids[cur->n - 1];
            }
        } else if (cur->kind == CFG_SEQ && numeric && idx <= cur->n) {
            if (idx == cur->n) {
                if (cfg_node_push(cur, NULL) < 0)
                    goto oom;
            }
            slot = &cur->kids[idx];
        } else {
            if (cur->kind == CFG_SEQ)
                err(w, &probe, done, "is a list: expected an index 0..%u "
                    "instead of \"%s\"", cur->n, name);
            else
                err(w, &probe, done, "is not a mapping (cannot set \"%s\" "
                    "inside it)", name);
            cfg_node_free(val);
            return;
        }

        if (last) {
            cfg_node_free(*slot);
            *slot = val;
            return;
        }
        if (!*slot || cfg_node_is_null(*slot)) {
            /* Create the container the next segment needs. */
            const char *nx = seg[s + 1];
            bool nxnum = nx[0] >= '0' && nx[0] <= '9' && !nx[strspn(nx, "0123456789")];
            struct cfg_node *c = cfg_node_new(nxnum ? CFG_SEQ : CFG_MAP, 0, 0, origin);
            if (!c)
                goto oom;
            cfg_node_free(*slot);
            *slot = c;
        }
        /* 'done' names the node we step into, as messages spell it. */
        char t[PATHLEN];
        if (cur->kind == CFG_SEQ)
            pathf(t, "%s[%s]", done, name);
        else
            join(t, done, name);
        memcpy(done, t, sizeof(done));
        cur = *slot;
    }
    cfg_node_free(val);
    return;
oom:
    /* A NULL slot left behind would crash the walk: drop it. */
    w->oom = true;
    cfg_node_free(val);
}

/* ------------------------------------------------------------ loading */

static int read_file(struct ld *w, const char *path, char **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err(w, NULL, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        err(w, NULL, NULL, "cannot read: is a directory (expected a YAML file)");
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            w->oom = true;
            close(fd);
            return -1;
        }
        if (len == cap) {
            if (cap >= CFG_MAX_FILE) {
                err(w, NULL, NULL, "file too large (over %u MiB)", CFG_MAX_FILE >> 20);
                free(buf);
                close(fd);
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err(w, NULL, NULL, "cannot read: %s", strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* Copy the messages into the caller's buffer, ending with "..." if they
 * do not fit. */
static void export_errors(struct ld *w, char *out, size_t outlen)
{
    if (!out || !outlen)
        return;
    if (w->dropped) {
        char m[64];
        unsigned d = w->dropped;
        w->dropped = 0;
        w->n = 0;               /* let this last line in */
        snprintf(m, sizeof(m), "... and %u more error%s", d, d == 1 ? "" : "s");
        msg_add(w, m);
    }
    const char *src = w->buf ? w->buf : "configuration error";
    size_t l = strlen(src);
    if (l < outlen) {
        memcpy(out, src, l + 1);
        return;
    }
    if (outlen < 4) {
        out[0] = '\0';
        return;
    }
    memcpy(out, src, outlen - 4);
    memcpy(out + outlen - 4, "...", 4);
}

int cfg_load(struct cfg *c, const char *path, const char *const *sets,
             unsigned n_sets, char *errbuf, size_t errlen)
{
    struct ld w = { .file = path ? path : "(defaults)" };
    struct cfg n;
    struct cfg_node *root = NULL;
    char **origins = NULL;
    bool ok_tree = true;

    memset(&n, 0, sizeof(n));
    apply_defaults(&n, top_keys, &w.oom);
    n.path = dupstr(path ? path : "", &w.oom);

    if (path) {
        char *buf = NULL;
        size_t len = 0;
        struct cfg_yaml_err ye;
        if (read_file(&w, path, &buf, &len) < 0) {
            ok_tree = false;
        } else if (cfg_yaml_parse(buf, len, NULL, &root, &ye) < 0) {
            struct cfg_node at = { .line = ye.line, .col = ye.col };
            err(&w, &at, ye.path, "%s", ye.msg);
            ok_tree = false;
        } else if (!root) {
            struct cfg_node at = { .line = 1, .col = 1 };
            err(&w, &at, NULL, "the file holds no configuration (it is empty "
                "or only comments; expected a mapping such as "
                "\"capture: {source: pcap}\")");
            ok_tree = false;
        } else if (root->kind != CFG_MAP) {
            err(&w, root, "(top level)", "got %s (expected a mapping of "
                "configuration keys such as account_id: ...)", kind_name(root));
            ok_tree = false;
        }
        free(buf);
    }
    if (ok_tree && !root && !(root = cfg_node_new(CFG_MAP, 1, 1, NULL)))
        w.oom = true;

    if (ok_tree && root) {
        if (n_sets && !(origins = calloc(n_sets, sizeof(*origins))))
            w.oom = true;
        for (unsigned i = 0; origins && i < n_sets; i++) {
            const char *s = sets[i] ? sets[i] : "";
            size_t kl = strcspn(s, "=");
            if (kl == 0)
                kl = strlen(s);     /* "=3": name the whole argument */
            if (!(origins[i] = malloc(kl + 7))) {
                w.oom = true;
                continue;
            }
            snprintf(origins[i], kl + 7, "--set %.*s", (int)kl, s);
            apply_set(&w, root, s, origins[i]);
        }
        /* After an allocation failure the tree may hold holes. */
        if (!w.oom) {
            walk_map(&w, &n, top_keys, root, "");
            cross_checks(&w, &n, root);
        }
    }
    if (w.oom)
        err(&w, NULL, NULL, "out of memory");

    cfg_node_free(root);
    for (unsigned i = 0; origins && i < n_sets; i++)
        free(origins[i]);
    free(origins);

    if (w.n || w.dropped) {
        export_errors(&w, errbuf, errlen);
        free(w.buf);
        cfg_free(&n);
        memset(c, 0, sizeof(*c));
        return -1;
    }
    free(w.buf);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    *c = n;
    return 0;
}

/* --------------------------------------------------- schema introspection */

static void foreach_keys(const struct key *keys, const char *prefix,
                         void (*fn)(const char *, void *), void *arg)
{
    for (const struct key *k = keys; k->name; k++) {
        char p[PATHLEN];
        join(p, prefix, k->name);
        if (k->type == KT_MAP) {
            foreach_keys(k->sub, p, fn, arg);
        } else if (k->type == KT_LIST) {
            strncat(p, "[]", sizeof(p) - strlen(p) - 1);
            foreach_keys(k->sub, p, fn, arg);
        } else {
            fn(p, arg);
        }
    }
}

void cfg_schema_foreach(void (*fn)(const char *path, void *arg), void *arg)
{
    foreach_keys(top_keys, "", fn, arg);
}

struct diff {
    char *out;
    size_t len, o;
    unsigned n;
};

__attribute__((format(printf, 2, 3)))
static void diff_add(struct diff *d, const char *fmt, ...)
{
    d->n++;
    if (!d->out || d->o + 1 >= d->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(d->out + d->o, d->len - d->o, fmt, ap);
    va_end(ap);
    if (r > 0)
        d->o += (size_t)r < d->len - d->o ? (size_t)r : d->len - d->o - 1;
}

static void diff_keys(const void *a, const void *b, const struct key *keys,
                      const char *prefix, struct diff *d)
{
    for (const struct key *k = keys; k->name; k++) {
        char p[PATHLEN];
        join(p, prefix, k->name);
        switch (k->type) {
        case KT_BOOL:
            if (*AT(a, k, bool) != *AT(b, k, bool))
                diff_add(d, "%s: %d != %d\n", p, *AT(a, k, bool), *AT(b, k, bool));
            break;
        case KT_INT:
            if (*AT(a, k, int) != *AT(b, k, int))
                diff_add(d, "%s: %d != %d\n", p, *AT(a, k, int), *AT(b, k, int));
            break;
        case KT_U32:
            if (*AT(a, k, uint32_t) != *AT(b, k, uint32_t))
                diff_add(d, "%s: %u != %u\n", p, *AT(a, k, uint32_t),
                         *AT(b, k, uint32_t));
            break;
        case KT_DBL:
            if (*AT(a, k, double) != *AT(b, k, double))
                diff_add(d, "%s: %g != %g\n", p, *AT(a, k, double),
                         *AT(b, k, double));
            break;
        case KT_STR: {
            const char *x = *AT(a, k, char *), *y = *AT(b, k, char *);
            if (strcmp(x ? x : "(null)", y ? y : "(null)"))
                diff_add(d, "%s: \"%s\" != \"%s\"\n", p, x ? x : "(null)",
                         y ? y : "(null)");
            break;
        }
        case KT_CIDR:
            if (memcmp(AT(a, k, struct cfg_cidr), AT(b, k, struct cfg_cidr),
                       sizeof(struct cfg_cidr))) {
                char x[64], y[64];
                cidr_str(AT(a, k, struct cfg_cidr), x, sizeof(x));
                cidr_str(AT(b, k, struct cfg_cidr), y, sizeof(y));
                diff_add(d, "%s: %s != %s\n", p, x, y);
            }
            break;
        case KT_PORTS: {
            unsigned na = *COUNT(a, k), nb = *COUNT(b, k);
            if (na != nb || memcmp(AT(a, k, uint16_t), AT(b, k, uint16_t),
                                   na * sizeof(uint16_t)))
                diff_add(d, "%s: lists differ\n", p);
            break;
        }
        case KT_CIDRS: {
            unsigned na = *COUNT(a, k), nb = *COUNT(b, k);
            if (na != nb || (na && memcmp(*AT(a, k, struct cfg_cidr *),
                                          *AT(b, k, struct cfg_cidr *),
                                          na * sizeof(struct cfg_cidr))))
                diff_add(d, "%s: lists differ\n", p);
            break;
        }
        case KT_STRS: {
            unsigned na = *COUNT(a, k), nb = *COUNT(b, k);
            bool same = na == nb;
            for (unsigned i = 0; same && i < na; i++)
                same = !strcmp((*AT(a, k, char **))[i], (*AT(b, k, char **))[i]);
            if (!same)
                diff_add(d, "%s: lists differ\n", p);
            break;
        }
        case KT_TAGS: {
            unsigned na = *COUNT(a, k), nb = *COUNT(b, k);
            const struct cfg_tag *x = *AT(a, k, struct cfg_tag *);
            const struct cfg_tag *y = *AT(b, k, struct cfg_tag *);
            bool same = na == nb;
            for (unsigned i = 0; same && i < na; i++)
                same = !strcmp(x[i].key, y[i].key) && !strcmp(x[i].value, y[i].value);
            if (!same)
                diff_add(d, "%s: tags differ\n", p);
            break;
        }
        case KT_MAP:
            diff_keys(a, b, k->sub, p, d);
            break;
        case KT_LIST: {
            unsigned na = *COUNT(a, k), nb = *COUNT(b, k);
            if (na != nb) {
                diff_add(d, "%s: %u != %u items\n", p, na, nb);
                break;
            }
            const char *x = *AT(a, k, char *), *y = *AT(b, k, char *);
            for (unsigned i = 0; i < na; i++) {
                char ip[PATHLEN];
                pathf(ip, "%s[%u]", p, i);
                diff_keys(x + i * k->elem_size, y + i * k->elem_size, k->sub, ip, d);
            }
            break;
        }
        }
    }
}

unsigned cfg_diff(const struct cfg *a, const struct cfg *b, char *out,
                  size_t outlen)
{
    struct diff d = { .out = out, .len = outlen };
    if (out && outlen)
        out[0] = '\0';
    diff_keys(a, b, top_keys, "", &d);
    return d.n;
}

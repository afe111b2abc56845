/* config/cfg.h - the configuration: one YAML file (libyaml) parsed once at
 * start into these plain structs. The hot path reads struct fields, never
 * looks a key up by name.
 *
 * Errors name the file, line and column and the dotted key path:
 *   "sensor.yaml:12:5: flows.max_flows: must be between 1024 and 268435456"
 * cfg_load() collects every error (check-config reports all at once).
 * '--set key.path=value' overrides go through the same parser and the same
 * validation; their errors name "--set key.path" instead of a file line.
 *
 * Ownership: a struct cfg owns all its strings and arrays; cfg_free() frees
 * them. Not thread-safe while loading; read-only afterwards. */
#ifndef MG_CFG_H
#define MG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_PORTS 16

struct cfg_cidr {
    uint8_t family;         /* 4 or 6 */
    uint8_t prefix;         /* 0..32 / 0..128 */
    uint8_t addr[16];       /* v4 in the first 4 bytes, host bits cleared */
};

struct cfg_mirror_session {     /* mirror_sessions[]: VNI -> source ENI */
    uint32_t vni;
    char *eni;              /* "eni-..." */
    char *instance_id;      /* "i-..." or "" */
    char *account_id;       /* "" = the top-level account_id */
    char *vpc_id;
    char *subnet_id;
    char *name;             /* traffic mirror session id, informative */
};

struct cfg_tag { char *key, *value; };

struct cfg_asset {              /* assets[]: IP/CIDR -> instance */
    struct cfg_cidr cidr;
    char *instance_id, *eni, *subnet_id, *vpc_id;
    struct cfg_tag *tags;
    unsigned n_tags;
};

/* suppression_rules[]: findings matching every given criterion (values
 * within one criterion ORed) are still kept and published, but archived.
 * An empty list means "this criterion is not used"; severity_min/max
 * default to the whole range 0..10. A rule must use at least one
 * criterion (cfg_load refuses one that would archive everything). */
struct cfg_suppression_rule {
    char *name;             /* required, unique */
    char *action;           /* "archive" (the only action, default) */
    struct {
        char **type; unsigned n_type;           /* exact finding types */
        double severity_min, severity_max;      /* inclusive, default 0 / 10 */
        char **instance_id; unsigned n_instance_id;
        struct cfg_tag *tags; unsigned n_tags;  /* the instance's tags (assets);
                                                   value "" = any value */
        struct cfg_cidr *local_ip; unsigned n_local_ip;
        struct cfg_cidr *remote_ip; unsigned n_remote_ip;
        uint16_t remote_port[CFG_MAX_PORTS]; unsigned n_remote_port;
        char **domain; unsigned n_domain;       /* "evil.com" or "*.evil.com" */
        char **direction; unsigned n_direction; /* INBOUND | OUTBOUND */
        char **resource_role; unsigned n_resource_role;  /* ACTOR | TARGET */
    } criteria;
};

struct cfg_threat_list {        /* lists.threat[] */
    char *name, *path, *category, *format;  /* format: txt | otx | proofpoint */
};

struct cfg {
    char *path;             /* file it was read from ("" for defaults) */

    /* identity of this sensor and the account it watches */
    char *account_id;       /* default "000000000000" */
    char *region;           /* default "us-east-1" */
    char *az_id;            /* default "" */
    char *sensor_id;        /* detectorId in findings; default hostname-free "mirrorguard" */

    struct cfg_cidr *home_net;  /* default: RFC 1918 + RFC 4193 */
    unsigned n_home_net;

    struct {
        char *source;           /* "file" | "pcap" | "dpdk"; default "pcap" live, "file" replay */
        char *interface;        /* live: interface name */
        int snaplen;            /* 64..262144, default 65535 */
        int buffer_mb;          /* 1..4096, default 64 */
        char *bpf;              /* default "" */
        bool promiscuous;       /* default true */
        bool immediate;         /* default false (see the example configuration) */
        int timeout_ms;         /* 1..10000, default 100 */
        int fanout_group;       /* 0 = chosen at start; 1..65535 */
        struct {                /* DPDK EAL and port (issue 7) */
            char **eal_args; unsigned n_eal_args;
            int port;           /* default 0 */
            int queues;         /* default 1 */
            int mbufs;          /* default 8191 */
            int handover_pool_percent;  /* 0..100, default 25: share of the pool that
                                         * mbufs handed between workers may hold; 0 copies */
            bool handover_headers;      /* default true: a packet whose payload only the
                                         * first-bytes check reads goes to its flow's
                                         * worker as its decoded headers */
            int idle_sleep_us;  /* 0..10000, default 50 (0: poll without pause): live,
                                 * a worker whose queue and hand-over rings stay
                                 * empty sleeps this long between polls */
        } dpdk;
    } capture;

    struct {
        uint16_t vxlan_ports[CFG_MAX_PORTS];  unsigned n_vxlan_ports;  /* default [4789] */
        uint16_t geneve_ports[CFG_MAX_PORTS]; unsigned n_geneve_ports; /* default [6081] */
        int max_depth;          /* tunnel layers, 1..8, default 3 */
        bool dedup_mirror_copies;   /* default true */
    } decoder;

    struct {
        uint32_t max_flows;         /* per worker, 1024..2^28, default 1048576 */
        uint32_t active_timeout;    /* seconds, default 60 */
        uint32_t tcp_syn_timeout;   /* seconds: handshake not completed, default 30 */
        uint32_t tcp_established_timeout;   /* default 300 */
        uint32_t tcp_closed_timeout;        /* after FIN both ways or RST, default 5 */
        uint32_t udp_timeout;       /* default 60 */
        uint32_t icmp_timeout;      /* default 30 */
        uint32_t other_timeout;     /* default 60 */
    } flows;

    struct {
        bool enabled;               /* default true */
        uint16_t ports[CFG_MAX_PORTS]; unsigned n_ports;  /* default [53] */
        bool tcp;                   /* parse DNS over TCP, default true */
        uint32_t max_pending;       /* per worker, default 65536 */
        uint32_t timeout_ms;        /* unanswered query, default 5000 */
        uint32_t max_tcp_streams;   /* per worker, default 1024 */
    } dns;

    struct {
        char *flows_path;           /* "" = off; "-" = stdout */
        char **flow_fields;         /* VPC Flow Logs field names, in order */
        unsigned n_flow_fields;     /* default: the v2 default format */
        char *dns_path;
        char *findings_path;
        char *stats_json_path;
        uint32_t stats_interval;    /* seconds, live only, default 60; 0 = off */
        struct {
            char *url;              /* "" = off; redis://[user:pass@]host:port/db | unix:///path */
            char *stream;           /* default "mirrorguard:findings" */
            char *password_file, *password_env;
            uint32_t stream_maxlen; /* default 100000 */
            uint32_t connect_timeout_ms, command_timeout_ms;
            char *channel;          /* default "mirrorguard:notify" */
            char *spool_dir;        /* default "/var/lib/mirrorguard/spool" */
            char *fsync;            /* "always" | "batch" | "never" */
            uint32_t queue_size;    /* publications waiting in memory, default 10000 */
        } redis;
    } outputs;

    struct {
        char *trusted;              /* path or "" */
        struct cfg_threat_list *threat;
        unsigned n_threat;
    } lists;

    struct {
        char *publishing_frequency; /* FIFTEEN_MINUTES (default) | ONE_HOUR |
                                       SIX_HOURS | seconds: cfg_publishing_seconds() */
        uint32_t max_findings;      /* aggregated findings in memory, 16..10^7, default 100000 */
        char *partition;            /* ARN partition, default "aws" */
    } findings;

    struct cfg_suppression_rule *suppression_rules;
    unsigned n_suppression_rules;

    struct cfg_asset *assets;
    unsigned n_assets;
    struct cfg_mirror_session *mirror_sessions;
    unsigned n_mirror_sessions;

    unsigned workers;               /* 1..64, default 1 */
    uint32_t ring_size;             /* records per ring, power of two, default 65536 */
    uint32_t replay_ring_size;      /* the same for replay's worker rings, default 8192 */
    bool ring_block;                /* replay: wait when a ring is full instead of dropping; default true */
    uint32_t replay_part_kb;        /* replay, several workers: each reads parts of this size, 0: all */

    /* Detectors (detect/det_*.c): one sub-struct per detector. */
    struct {
        struct {                    /* detect.scan: det_scan.c, reconnaissance */
            bool enabled;               /* default true */
            double theta0, theta1;      /* TRW P(success | benign), P(success | scanner): 0.8, 0.2 */
            double alpha, beta;         /* TRW false-positive / detection probabilities: 0.01, 0.99 */
            uint32_t window;            /* seconds of the distinct-target windows, default 600 */
            uint32_t portscan_ports;    /* distinct probed ports of one host, default 20 */
            uint32_t sweep_hosts;       /* distinct public hosts probed on one port, default 25 */
            uint32_t sweep_min_hosts;   /* a TRW decision needs this many hosts too, default 10 */
            uint32_t icmp_sweep_hosts;  /* distinct hosts pinged (failed or public), default 25 */
            uint32_t inbound_ports;     /* distinct ports of an instance probed by a remote, default 20 */
            uint32_t probe_min_ports;   /* answered probes by one remote before PortProbe, default 3 */
            uint32_t report_interval;   /* seconds between repeat candidates, default 60 */
            uint32_t report_probes;     /* ... or this many further probes, default 100 */
            uint32_t max_sources;       /* per-source entries, default 65536 */
            uint32_t max_pairs;         /* (source, target host) entries, default 65536 */
            uint32_t max_fans;          /* (source, protocol, port) entries, default 32768 */
            uint32_t max_instances;     /* instances with port-probe state, default 4096 */
            uint16_t datastore_ports[CFG_MAX_PORTS]; unsigned n_datastore_ports;
            uint16_t emr_ports[CFG_MAX_PORTS]; unsigned n_emr_ports;
        } scan;
        struct {                    /* detect.brute: detect/det_brute.c */
            bool enabled;                   /* default true */
            uint32_t window_seconds;        /* 10..86400, default 300 */
            uint32_t min_attempts;          /* per (source, target, service), default 10 */
            uint32_t batch;                 /* one more report per this many, default 10 */
            uint32_t max_session_seconds;   /* an attempt is shorter, default 30 */
            uint32_t min_payload_bytes;     /* each way, estimated, default 200 */
            uint32_t max_bytes_to_server;   /* default 16384 */
            uint32_t max_bytes_to_client;   /* default 32768 */
            uint32_t spray_min_targets;     /* 0 = off, 1..16, default 10 */
            uint32_t spray_min_attempts;    /* default 20 */
            uint16_t ssh_ports[CFG_MAX_PORTS]; unsigned n_ssh_ports;     /* [22] */
            uint16_t rdp_ports[CFG_MAX_PORTS]; unsigned n_rdp_ports;     /* [3389] */
            uint16_t winrm_ports[CFG_MAX_PORTS]; unsigned n_winrm_ports; /* [5985,5986] */
            uint32_t max_pairs;             /* tracked (source, target, service), 32768 */
            uint32_t max_sources;           /* tracked (source, service), 8192 */
        } brute;
        struct {                    /* detect.resolver: detect/det_dnsmisc.c */
            bool enabled;                   /* default true */
            uint32_t learning_seconds;      /* per instance, from its first DNS, default 86400 */
            uint32_t max_instances;         /* instances tracked (LRU), default 4096 */
            uint32_t max_resolvers;         /* public resolvers kept per instance, default 8 */
        } resolver;
        struct {                    /* detect.mining: detect/det_mining.c */
            bool enabled;                   /* default true */
            bool p2p;                       /* also Bitcoin/Monero node P2P, default false */
        } mining;
        struct {                    /* detect.exfil: detect/det_exfil.c, DNS data exfiltration */
            bool enabled;                   /* default true */
            uint32_t window_seconds;        /* counters per (client, domain) reset, default 600 */
            uint32_t min_unique;            /* volume rule: unique subdomains, default 30 */
            uint32_t min_mean_label;        /* ... and mean longest label, default 20 */
            double   min_entropy;           /* ... and mean bits/char of the subdomain, 3.5 */
            uint32_t bytes_per_minute;      /* rate rule: encoded bytes in one minute, 4096 */
            uint32_t rate_min_unique;       /* ... with this many unique subdomains, 10 */
            uint32_t data_min_queries;      /* data-record rule: TXT/NULL/CNAME/MX/ANY queries
                                               and unique subdomains, default 8 */
            uint32_t data_min_label;        /* ... mean longest label, default 16 */
            double   data_min_entropy;      /* ... mean bits/char, default 3.0 */
            uint32_t null_min_queries;      /* NULL-record rule (iodine): unique names, 8 */
            uint32_t report_interval;       /* seconds between repeat candidates, 300 */
            uint32_t max_pairs;             /* (client, domain) entries, LRU, 8192 */
            char **allow_suffixes; unsigned n_allow_suffixes;   /* CDN/cloud/AV names */
        } exfil;
        struct {                    /* detect.dga: detect/det_dga.c, detect/dga.c */
            bool enabled;                   /* default true */
            char *model;                    /* model file; "" = the shipped one (dga.h) */
            double threshold;               /* score above = DGA-like; 0 = the model's own */
            uint32_t burst_names;           /* distinct high-score NXDOMAIN names ..., default 5 */
            uint32_t burst_seconds;         /* ... from one client within this, default 60 */
            double threshold_low;           /* second rule: score above this; 0 = the model's own */
            uint32_t burst_names_low;       /* ... this many distinct names, default 6; 0 = off */
            char *whitelist;                /* registrable domains never scored; "" = none */
            uint32_t max_hosts;             /* clients tracked (LRU), default 4096 */
            uint32_t report_interval;       /* seconds between repeat candidates, default 300 */
        } dga;
        struct {                    /* detect.beacon: detect/det_beacon.c, beaconing */
            bool enabled;                   /* default true */
            uint32_t min_connections;       /* per (instance, remote, port), 4..64, default 20 */
            double score_threshold;         /* combined RITA-like score, 0..1, default 0.7 */
            double max_jitter;              /* (P90 - P10) / (1.6 median) of intervals, 0.3 */
            uint32_t min_interval;          /* median interval, seconds, default 2 */
            double max_duty;                /* median duration / median interval, default 0.25 */
            uint32_t window;                /* seconds of connections kept, default 86400 */
            uint32_t report_interval;       /* seconds between repeat candidates, default 3600 */
            uint32_t max_pairs;             /* (instance, remote, port) entries, LRU, 8192 */
            uint16_t skip_ports[CFG_MAX_PORTS]; unsigned n_skip_ports;  /* [123, 53] */
            bool skip_internal;             /* ignore remotes in home_net, default true */
        } beacon;
        struct {                    /* detect.dos: detect/det_dos.c, outbound DoS */
            bool enabled;                   /* default true */
            uint32_t window_seconds;        /* rate window, default 10 */
            uint32_t tcp_syn_pps;           /* half-open SYNs/s to one remote, default 500 */
            uint32_t udp_pps;               /* UDP packets/s to one remote, default 5000 */
            uint32_t dns_pps;               /* DNS query packets/s to one server, default 500 */
            uint32_t udp_tcp_ports_pps;     /* UDP to udp_tcp_ports, packets/s, default 1000 */
            uint32_t unusual_pps;           /* other IP protocols, packets/s, default 1000 */
            uint32_t min_packets;           /* a window needs this many, default 200 */
            uint32_t min_packets_per_port;  /* .Tcp: SYNs per distinct port, default 10 */
            double max_reply_ratio;         /* UDP/other: replies / sent at most, default 0.1 */
            uint16_t udp_tcp_ports[CFG_MAX_PORTS]; unsigned n_udp_tcp_ports;
            uint32_t report_interval;       /* seconds between repeat candidates, default 300 */
            uint32_t max_pairs;             /* (instance, remote) entries, LRU, default 16384 */
        } dos;
        struct {                    /* detect.baseline: detect/det_baseline.c, learned behaviour */
            bool enabled;                   /* default true */
            uint32_t learning_seconds;      /* per instance, from its first flow, default 86400 */
            uint32_t learning_max_gap;      /* a silence counts at most this as learning, 3600 */
            char *state_file;               /* baselines kept across restarts; "" = off */
            uint32_t save_interval;         /* seconds of packet time between saves, 3600 */
            uint32_t max_instances;         /* instances tracked (LRU), default 4096 */
            uint32_t max_ports;             /* learned ports above this: exempt, default 256 */
            uint32_t max_reported;          /* (instance, remote, port) reported, LRU, 16384 */
            double volume_k;                /* mean + k stddev of bytes per record, default 6 */
            uint32_t volume_min_bytes;      /* ... and at least this many bytes, 100 MiB */
            uint32_t volume_min_samples;    /* records learned before judging, default 20 */
            uint16_t smtp_ports[CFG_MAX_PORTS]; unsigned n_smtp_ports;  /* [25, 465, 587] */
            uint32_t spam_min_hosts;        /* distinct SMTP remotes in the window, default 20 */
            uint32_t spam_new_hosts;        /* ... or this many not learned, after learning, 5 */
            uint32_t spam_window_seconds;   /* default 600 */
            uint32_t report_interval;       /* seconds between repeat volume/spam candidates, 3600 */
        } baseline;
    } detect;
};

/* Fill c with the defaults. */
void cfg_defaults(struct cfg *c);

/* Read 'path' (NULL: defaults only) and then apply the 'n_sets' overrides
 * "key.path=value" (value is YAML: a scalar, or a flow sequence such as
 * [4789,8472]). On error returns -1 and writes the messages, one per line,
 * into err (at most errlen bytes, truncated with "..."). On success returns
 * 0; c then owns its memory. */
int cfg_load(struct cfg *c, const char *path, const char *const *sets,
             unsigned n_sets, char *err, size_t errlen);

void cfg_free(struct cfg *c);

/* Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (/32, /128).
 * Returns 0 or -1. */
int cfg_parse_cidr(const char *s, struct cfg_cidr *out);

/* Replace one of c's string fields (e.g. &c->outputs.flows_path) with a copy
 * of v, freeing the old value the way cfg_free() would. For values that do
 * not go through YAML (command-line paths such as "-"). 0 or -1 (no memory). */
int cfg_set_string(struct cfg *c, char **field, const char *v);

/* findings.publishing_frequency in seconds: FIFTEEN_MINUTES 900, ONE_HOUR
 * 3600, SIX_HOURS 21600, or a decimal number of seconds 1..86400 (for
 * tests and replays). 0 when s is none of these. */
uint32_t cfg_publishing_seconds(const char *s);

/* Session for a VNI, or NULL. */
const struct cfg_mirror_session *cfg_session_by_vni(const struct cfg *c, uint32_t vni);

#endif /* MG_CFG_H */

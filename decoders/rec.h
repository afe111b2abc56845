/* decoders/rec.h - the fixed-size records that cross the SPSC rings.
 *
 * Workers fill these by value (never pointers into capture memory) and the
 * detection and output threads read them. Sizes are fixed so a ring slot holds
 * one record and nothing is allocated per packet. Times are nanoseconds since
 * the Unix epoch: packet time in replay, capture time live. */
#ifndef MG_REC_H
#define MG_REC_H

#include <stdint.h>

/* An address of either family. v4 addresses are stored in the first 4 bytes
 * with the other 12 zero, so a key compares with one memcmp. */
struct mg_addr {
    uint8_t b[16];
};

enum rec_kind {
    REC_FLOW = 1,       /* struct flow_rec */
    REC_DNS  = 2,       /* struct dns_rec */
    REC_TICK = 3,       /* time only: lets detectors age windows when quiet */
    REC_END  = 4,       /* producer finished (end of replay / shutdown) */
    REC_FINDING = 5,    /* struct finding_cand (detect/finding.h), detect -> output */
    REC_CONN = 6,       /* struct conn_event: handshake outcome, worker -> detect */
    REC_MARK = 7,       /* replay in parts: the worker's next records come after
                         * this one's order (the merge goes on; nothing else) */
};

/* Why a flow record was written. */
enum flow_reason {
    FLOW_END_IDLE   = 0,    /* idle timeout of its protocol/state */
    FLOW_END_ACTIVE = 1,    /* active timeout: flow goes on, counters reset */
    FLOW_END_EVICT  = 2,    /* table full: evicted to make room */
    FLOW_END_FLUSH  = 3,    /* end of capture / shutdown */
};

/* TCP state as far as the packets show it. */
enum flow_tcp_state {
    TCP_NONE = 0,       /* not TCP, or nothing seen yet */
    TCP_SYN,            /* SYN from initiator */
    TCP_SYNACK,         /* SYN-ACK from responder */
    TCP_ESTABLISHED,    /* ACK (or data) after SYN-ACK, or mid-stream pickup */
    TCP_FIN,            /* FIN seen from one side */
    TCP_CLOSED,         /* FIN both ways */
    TCP_RST,            /* reset */
};

/* VPC Flow Logs' tcp-flags bits. SYN-ACK is reported as 18 (SYN|ACK). */
#define VPC_TCP_FIN 0x01
#define VPC_TCP_SYN 0x02
#define VPC_TCP_RST 0x04
#define VPC_TCP_ACK 0x10

struct flow_dir {
    uint64_t bytes;         /* sum of IP total lengths (not captured length) */
    uint64_t first_ns;      /* 0 when no packet went this way */
    uint64_t last_ns;
    uint32_t pkts;
    uint32_t vni;           /* mirror session this direction came from */
    uint8_t  tcp_flags;     /* raw TCP flags OR'd over the direction */
    uint8_t  _pad[7];
};

/* One flow, both directions. dir[0] is the initiator (who sent the first
 * packet, or the SYN), dir[1] the responder. */
struct flow_rec {
    struct mg_addr src, dst;    /* initiator, responder */
    uint16_t sport, dport;      /* ICMP: type/code in sport, 0 in dport */
    uint8_t  proto;             /* IP protocol number */
    uint8_t  family;            /* 4 or 6 */
    uint8_t  reason;            /* enum flow_reason */
    uint8_t  tcp_state;         /* enum flow_tcp_state */
    uint32_t vni;               /* mirror session (0 = not tunnelled) */
    uint16_t vlan;              /* inner VLAN id, 0 = none */
    uint8_t  outcome;           /* enum conn_outcome: as reported by REC_CONN, 0 = none yet */
    uint8_t  app;               /* enum app_hint: protocol recognised from first bytes */
    uint64_t seq;               /* per-worker record number (ordering) */
    uint64_t start_ns;          /* first packet of the flow (not of this record) */
    struct flow_dir dir[2];
};

/* How a connection attempt ended, as soon as the packets tell (TRW's
 * success/failure, Jung et al. 2004). CONN_UNANSWERED is never sent as an
 * event: a flow record with outcome 0 and no responder packets says it. */
enum conn_outcome {
    CONN_NONE = 0,
    CONN_SUCCESS = 1,           /* SYN-ACK (TCP) or any reply (UDP, ICMP echo) */
    CONN_REJECTED = 2,          /* RST to the SYN, or ICMP/ICMPv6 unreachable */
};

/* Application recognised from the first payload bytes of either side, on
 * any port (so SSH on 2222 is still SSH). */
enum app_hint {
    APP_NONE = 0,
    APP_SSH,                    /* "SSH-" banner */
    APP_RDP,                    /* TPKT + X.224 Connection Request */
    APP_TLS,                    /* TLS handshake record */
    APP_HTTP,                   /* HTTP request line */
    APP_STRATUM,                /* Stratum JSON-RPC "mining.subscribe" (or unparsed mining.* / login) */
    APP_STRATUM_AUTHORIZE,      /* Stratum, first method "mining.authorize" */
    APP_STRATUM_MINING,         /* Stratum, another "mining.*" method first */
    APP_STRATUM_XMRIG,          /* XMRig / Monero Stratum "login" */
    APP_STRATUM_ETH,            /* EthProxy "eth_submitLogin" */
    APP_MONERO_P2P,             /* Monero levin handshake (node P2P) */
    APP_BITCOIN_P2P,            /* Bitcoin P2P "version" message */
    APP_MAX
};

/* REC_CONN: a connection attempt's outcome, sent the moment it is known. */
struct conn_event {
    struct mg_addr src, dst;    /* initiator, responder */
    uint16_t sport, dport;
    uint8_t  proto, family;
    uint8_t  outcome;           /* enum conn_outcome */
    uint8_t  app;
    uint32_t vni;
    uint32_t _pad;
    uint64_t start_ns;          /* the attempt (first packet) */
    uint64_t ts_ns;             /* the answer */
};

#define DNS_MAX_NAME    256     /* presentation form, with the final NUL */
#define DNS_MAX_ANSWERS 8
#define DNS_MAX_RDATA   128     /* presentation form of one answer, truncated */

struct dns_answer {
    uint16_t type;
    uint16_t len;               /* strlen(data) */
    uint32_t ttl;
    char     data[DNS_MAX_RDATA];   /* "1.2.3.4", "2001:db8::1", a name, TXT text */
};

/* One DNS transaction: a query and, when seen, its response. In a ring only
 * the first n_answers entries of answers[] are present: read no further. */
struct dns_rec {
    struct mg_addr client, server;
    uint16_t cport, sport;      /* client port, server port */
    uint8_t  family;            /* 4 or 6 */
    uint8_t  transport;         /* 17 UDP, 6 TCP */
    uint8_t  has_query;         /* query packet seen */
    uint8_t  has_response;      /* response packet seen */
    uint16_t id;                /* transaction id */
    uint16_t qtype, qclass;
    uint8_t  rcode;             /* valid when has_response */
    uint8_t  flags;             /* DNS_F_* below, from the response when seen */
    uint8_t  n_answers;         /* answers kept (<= DNS_MAX_ANSWERS) */
    uint8_t  answers_total_trunc; /* 1 if the message had more than were kept */
    uint16_t an_count;          /* ANCOUNT as the response claimed */
    uint16_t _pad;
    uint32_t vni;
    uint64_t query_ns, response_ns;
    uint64_t seq;
    uint16_t qname_len;         /* strlen(qname) */
    char     qname[DNS_MAX_NAME];   /* lower-case presentation form, no final dot */
    struct dns_answer answers[DNS_MAX_ANSWERS];
};

#define DNS_F_AA 0x01
#define DNS_F_TC 0x02
#define DNS_F_RD 0x04
#define DNS_F_RA 0x08

/* Where in the packet stream a record was made, so the detection thread can
 * merge the rings of several replay workers into the one order a single
 * worker gives (sensor/pipeline.c). Every replay worker knows every packet's
 * index in the stream (it reads every packet, or a packet handed over
 * carries its index) and ticks before the same packets (the first of each
 * new second of packet time); within one packet
 * the stages run in this order. Records of the same (packet, stage) come
 * from one worker only, except the timer stages, whose records each worker
 * sorts by content (rec_order_cmp) before sending. */
enum rec_stage {
    REC_STAGE_TIMER_FLOW = 0,   /* flows expired at the tick before the packet */
    REC_STAGE_TIMER_DNS = 1,    /* queries expired at that tick */
    REC_STAGE_TICK = 2,         /* the tick itself */
    REC_STAGE_FLOW = 3,         /* the packet's own flow: evictions, outcomes */
    REC_STAGE_REJECT = 4,       /* ICMP unreachable: the quoted flow's outcome */
    REC_STAGE_DNS = 5,          /* DNS transactions the packet completed */
    REC_STAGE_END = 6,          /* after the last packet (index = packets read) */
};
#define REC_ORDER(pkt, stage) ((uint64_t)(pkt) << 3 | (uint64_t)(stage))

/* What a ring slot holds: a tagged union of every record kind. */
struct mg_rec {
    uint32_t kind;              /* enum rec_kind */
    uint32_t worker;            /* producer's index */
    uint64_t ts_ns;             /* producer's packet clock when written */
    uint64_t order;             /* replay: (packet index << 3 | REC_STAGE_*), see below */
    union {
        struct flow_rec flow;
        struct dns_rec  dns;
        struct conn_event conn;
    } u;
};

#endif /* MG_REC_H */

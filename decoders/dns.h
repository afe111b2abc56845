/* decoders/dns.h - DNS message parser, DNS-over-TCP reassembly and the
 * query/response pairing table.
 *
 * No I/O and no allocation per message: everything works on caller-owned
 * structs and fixed tables sized at creation. Every read is bounds-checked
 * against the bytes that were captured; compression pointers may only point
 * backwards, a loop or an out-of-range offset is rejected (RFC 1035 4.1.4).
 * Used by the worker threads; one table per worker, not shared. */
#ifndef MG_DNS_H
#define MG_DNS_H

#include <stddef.h>
#include <stdint.h>
#include "rec.h"

enum dns_status {
    DNS_OK = 0,
    DNS_ERR_SHORT,          /* fewer than 12 bytes, or a section runs past the end */
    DNS_ERR_NAME,           /* bad label type, name over 255, label over 63 */
    DNS_ERR_PTR,            /* compression pointer out of range or forward */
    DNS_ERR_LOOP,           /* too many pointer hops */
    DNS_ERR_NOQUESTION,     /* QDCOUNT == 0 (we pair on the question) */
    DNS_STATUS_MAX
};

/* The parsed form of one message: the first question and up to
 * DNS_MAX_ANSWERS records of the answer section. */
struct dns_msg {
    uint16_t id;
    uint16_t flags;         /* the raw 16-bit flags word */
    uint8_t  qr;            /* 1 = response */
    uint8_t  opcode;
    uint8_t  rcode;
    uint8_t  n_answers;
    uint8_t  answers_truncated; /* more answers than kept, or the section was cut */
    uint16_t qdcount, ancount, nscount, arcount;
    uint16_t qtype, qclass;
    uint16_t qname_len;
    char     qname[DNS_MAX_NAME];   /* lower case, dots, no final dot; "" = root */
    struct dns_answer answers[DNS_MAX_ANSWERS];
};

/* Parse one DNS message. Returns DNS_OK or the reason it is not a DNS
 * message we can use. A message whose answer section is cut short (a
 * truncated mirror packet) still parses: answers up to the cut are kept and
 * answers_truncated is set. */
enum dns_status dns_parse(const uint8_t *p, size_t len, struct dns_msg *m);

const char *dns_status_name(enum dns_status s);
const char *dns_type_name(uint16_t type);      /* "A", "AAAA", ..., or NULL */
const char *dns_rcode_name(uint8_t rcode);     /* "NOERROR", ..., or NULL */

/* ==== DNS over TCP (RFC 1035 4.2.2, RFC 7766) ====
 * One stream per direction of a TCP connection. Messages are prefixed by a
 * 2-byte length; a stream may carry several and a message may be split over
 * segments. The buffer holds at most DNS_TCP_BUF bytes; a longer message is
 * skipped (counted) and the stream resyncs after it. Out-of-order or missing
 * segments desynchronise the stream, which then waits for the next segment
 * boundary it can trust: it gives up on the current message (counted). */
#define DNS_TCP_BUF 4096

struct dns_tcp_stream {
    uint32_t next_seq;      /* sequence number expected next */
    uint8_t  synced;        /* next_seq valid */
    uint8_t  _pad;
    uint16_t have;          /* bytes in buf */
    uint32_t need;          /* bytes still to skip of an oversized message */
    uint32_t msgs, skipped, gaps;   /* counters */
    uint8_t  buf[DNS_TCP_BUF];
};

typedef void (*dns_msg_cb)(void *arg, const uint8_t *msg, size_t len);

void dns_tcp_init(struct dns_tcp_stream *s);
/* Feed one segment's payload with its sequence number; 'syn' is set for the
 * SYN segment (its seq + 1 is the first payload byte). Calls cb once for each
 * complete message. */
void dns_tcp_feed(struct dns_tcp_stream *s, uint32_t seq, int syn,
                  const uint8_t *data, size_t len, dns_msg_cb cb, void *arg);

/* ==== Query/response pairing ====
 * Pairs by (transport, client, server, client port, server port, id). A
 * response completes its query and is emitted at once; a query unanswered
 * after 'timeout_ns' is emitted alone (has_response = 0); a response whose
 * query was never seen is emitted alone (has_query = 0). When the table is
 * full the oldest pending query is emitted to make room (counted). */
struct dns_txn_table;

struct dns_pkt_ctx {
    struct mg_addr src, dst;    /* of this packet */
    uint16_t sport, dport;
    uint8_t  family, transport;
    uint32_t vni;
    uint64_t ts_ns;
};

typedef void (*dns_emit_cb)(void *arg, const struct dns_rec *r);

struct dns_txn_stats {
    uint64_t queries, responses, paired, unanswered, unsolicited, evicted;
};

struct dns_txn_table *dns_txn_new(uint32_t capacity, uint64_t timeout_ns);
void dns_txn_free(struct dns_txn_table *t);
void dns_txn_on_msg(struct dns_txn_table *t, const struct dns_msg *m,
                    const struct dns_pkt_ctx *c, dns_emit_cb emit, void *arg);
/* Emit queries older than the timeout at packet time now_ns. */
void dns_txn_expire(struct dns_txn_table *t, uint64_t now_ns,
                    dns_emit_cb emit, void *arg);
/* Emit every pending query (end of capture). */
void dns_txn_flush(struct dns_txn_table *t, dns_emit_cb emit, void *arg);
void dns_txn_stats(const struct dns_txn_table *t, struct dns_txn_stats *st);

#endif /* MG_DNS_H */

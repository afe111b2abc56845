/* decoders/dns_tcp.c - DNS over TCP: cut a byte stream into messages.
 *
 * RFC 1035 4.2.2 and RFC 7766 8: on TCP every DNS message is preceded by a
 * two-octet length in network order. A stream (one direction of one TCP
 * connection) may carry many messages, and a message may be split over any
 * number of segments, down to the length prefix itself.
 *
 * We see the segments as a passive tap sees them: possibly retransmitted,
 * possibly missing, possibly starting mid-connection. The rules:
 *
 *  - Sequence numbers are compared with serial-number arithmetic (RFC 1982,
 *    as TCP does, RFC 9293 3.4): the signed 32-bit difference decides
 *    "before" or "after", so the stream keeps working across the 2^32 wrap.
 *  - A segment entirely before next_seq is a retransmission: ignored. One
 *    that overlaps next_seq has its already-seen head dropped and the rest
 *    is used. We keep the first copy of every byte; we never compare.
 *  - A segment after next_seq means bytes are missing (lost by the tap or
 *    reordered; we do not buffer out-of-order data). The message in progress
 *    is abandoned (gaps++) and the stream goes "hunting": it no longer knows
 *    where messages begin. A segment that arrives reordered later is then
 *    older than next_seq and ignored as a retransmission.
 *  - While hunting, each new in-order segment is tried as the start of a
 *    message. RFC 7766 8 asks senders to write the length and the message
 *    in one go, so segment starts are where message starts usually are. We
 *    trust a segment only if it looks like one: at least 8 bytes, a length
 *    of at least 12 (a DNS header) and QDCOUNT == 1 (what every real query
 *    and response carries, RFC 9619). Segments that fail are dropped. This
 *    is conservative: after a gap we may miss a message, but we rarely
 *    invent one from the middle of another.
 *  - A stream we pick up without its SYN starts hunting the same way.
 *  - A message longer than DNS_TCP_BUF - 2 does not fit the buffer: its
 *    bytes are counted down in 'need' and skipped (skipped++), and framing
 *    continues after it. A zero length is skipped the same way (it cannot
 *    be a DNS message, but the framing around it is still sound).
 *
 * The field 'synced' therefore has three values: 0 = next_seq unknown,
 * 1 = in sync (the next byte is where we think it is in the framing),
 * 2 = next_seq known but hunting for a message start.
 *
 * Complete messages are handed to the callback straight from the segment
 * when they lie inside it, otherwise from the stream's buffer once the last
 * piece arrives. No allocation, no I/O. */
#include <string.h>
#include "dns.h"

enum { TCP_NOSEQ = 0, TCP_SYNCED = 1, TCP_HUNT = 2 };

void dns_tcp_init(struct dns_tcp_stream *s)
{
    s->next_seq = 0;
    s->synced = TCP_NOSEQ;
    s->_pad = 0;
    s->have = 0;
    s->need = 0;
    s->msgs = s->skipped = s->gaps = 0;
}

/* Does a segment starting here look like the start of a DNS-over-TCP
 * message? See "hunting" above. */
static int looks_like_start(const uint8_t *d, size_t len)
{
    if (len < 8)
        return 0;
    unsigned mlen = ((unsigned)d[0] << 8) | d[1];
    unsigned qd = ((unsigned)d[6] << 8) | d[7];
    return mlen >= 12 && qd == 1;
}

/* Consume in-sync bytes: the framing state machine. */
static void consume(struct dns_tcp_stream *s, const uint8_t *d, size_t len,
                    dns_msg_cb cb, void *arg)
{
    while (len > 0) {
        if (s->need > 0) {                  /* inside an oversized message */
            size_t n = len < s->need ? len : s->need;
            s->need -= (uint32_t)n;
            d += n;
            len -= n;
            continue;
        }
        if (s->have == 0 && len >= 2) {
            /* Fast path: a whole message inside this segment. */
            size_t mlen = ((size_t)d[0] << 8) | d[1];
            if (mlen > 0 && mlen <= DNS_TCP_BUF - 2 && len >= 2 + mlen) {
                s->msgs++;
                cb(arg, d + 2, mlen);
                d += 2 + mlen;
                len -= 2 + mlen;
                continue;
            }
        }
        if (s->have < 2) {                  /* the length prefix */
            s->buf[s->have++] = *d++;
            len--;
            if (s->have < 2)
                continue;
            size_t mlen = ((size_t)s->buf[0] << 8) | s->buf[1];
            if (mlen == 0 || mlen > DNS_TCP_BUF - 2) {
                s->skipped++;
                s->need = (uint32_t)mlen;
                s->have = 0;
            }
            continue;
        }
        /* The body: copy what we lack, deliver when complete. */
        size_t mlen = ((size_t)s->buf[0] << 8) | s->buf[1];
        size_t want = 2 + mlen - s->have;
        size_t n = len < want ? len : want;
        memcpy(s->buf + s->have, d, n);
        s->have = (uint16_t)(s->have + n);
        d += n;
        len -= n;
        if (s->have == 2 + mlen) {
            s->have = 0;
            s->msgs++;
            cb(arg, s->buf + 2, mlen);
        }
    }
}

void dns_tcp_feed(struct dns_tcp_stream *s, uint32_t seq, int syn,
                  const uint8_t *data, size_t len, dns_msg_cb cb, void *arg)
{
    if (data == NULL)
        len = 0;
    if (syn) {
        /* A (new) connection: the SYN takes one sequence number and the
         * first payload byte (TCP Fast Open data, if any) follows it. */
        s->next_seq = seq + 1;
        s->synced = TCP_SYNCED;
        s->have = 0;
        s->need = 0;
        seq += 1;
    }
    if (len == 0)
        return;                             /* pure ACK/FIN: nothing to do */
    /* A tap hands us at most one IP packet per segment; anything near 2^31
     * would break the serial comparison, so it is not a segment. */
    if (len > 0x7fffffffu)
        return;

    if (s->synced == TCP_NOSEQ) {           /* mid-stream pickup */
        s->next_seq = seq;
        s->synced = TCP_HUNT;
    }

    int32_t diff = (int32_t)(seq - s->next_seq);
    if (diff < 0) {
        /* Starts before what we have seen: drop the part already used. */
        uint32_t old = (uint32_t)0 - (uint32_t)diff;
        if ((size_t)old >= len)
            return;                         /* a pure retransmission */
        data += old;
        len -= old;
        seq = s->next_seq;
    } else if (diff > 0) {
        /* Bytes are missing: give up the message in progress. */
        s->gaps++;
        s->have = 0;
        s->need = 0;
        s->synced = TCP_HUNT;
        s->next_seq = seq;
    }
    s->next_seq = seq + (uint32_t)len;

    if (s->synced == TCP_HUNT) {
        if (!looks_like_start(data, len))
            return;                         /* still hunting */
        s->synced = TCP_SYNCED;
        s->have = 0;
        s->need = 0;
    }
    consume(s, data, len, cb, arg);
}

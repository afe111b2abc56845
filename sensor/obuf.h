/* sensor/obuf.h - an output buffer with fast number and address formatting.
 *
 * The output thread writes one line per flow direction and per DNS
 * transaction; stdio's printf machinery cost ~3,000 instructions a line, more
 * than the worker spends on a packet. These appenders write straight into a
 * buffer that is handed to fwrite() in 64 KiB pieces. Single-threaded. */
#ifndef MG_OBUF_H
#define MG_OBUF_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define OBUF_SIZE  (1 << 17)
#define OBUF_FLUSH (1 << 16)        /* flush when this full: a line never overflows */

struct obuf {
    FILE *f;                        /* unbuffered when it is a file of ours (output.c) */
    size_t len;
    int err;                        /* a write failed (errno kept by stdio) */
    uint64_t *lost;                 /* when set: lines not written are counted here */
    char b[OBUF_SIZE];
};

/* What a failed write of b[from, to) lost: a line counts once, in the piece
 * that held its end (a buffer flushed mid-line ends a piece without one). */
static inline void
ob_count_lost(struct obuf *o, const char *b, size_t from, size_t to)
{
    if (!o->lost || from >= to)
        return;
    uint64_t n = 0;
    for (const char *p = b + from; (p = memchr(p, '\n', (size_t)(b + to - p))) != NULL; p++)
        n++;
    __atomic_store_n(o->lost, *o->lost + n, __ATOMIC_RELAXED);  /* the stats read it live */
}

static inline void
ob_flush(struct obuf *o)
{
    size_t w;
    if (o->len && (w = fwrite(o->b, 1, o->len, o->f)) != o->len) {
        o->err = 1;
        ob_count_lost(o, o->b, w, o->len);
    }
    o->len = 0;
}

/* Call after each line: keeps at least OBUF_SIZE - OBUF_FLUSH bytes free. */
static inline void
ob_line_done(struct obuf *o)
{
    if (o->len >= OBUF_FLUSH)
        ob_flush(o);
}

static inline void
ob_mem(struct obuf *o, const char *s, size_t n)
{
    if (o->len + n > OBUF_SIZE) {   /* a very long field: never overrun */
        ob_flush(o);
        if (n > OBUF_SIZE) {
            size_t w = fwrite(s, 1, n, o->f);
            if (w != n) {
                o->err = 1;
                ob_count_lost(o, s, w, n);
            }
            return;
        }
    }
    memcpy(o->b + o->len, s, n);
    o->len += n;
}

static inline void ob_str(struct obuf *o, const char *s) { ob_mem(o, s, strlen(s)); }

static inline void
ob_ch(struct obuf *o, char c)
{
    if (o->len == OBUF_SIZE)
        ob_flush(o);
    o->b[o->len++] = c;
}

/* Two digits a division (a flood's flush writes a million flow lines of
 * times and counters: the chain of divisions by 10 was a quarter of the
 * output thread). */
static inline void
ob_u64(struct obuf *o, uint64_t v)
{
    static const char d2[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char t[20];
    int n = 20;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        n -= 2;
        memcpy(t + n, d2 + 2 * r, 2);
    }
    if (v >= 10) {
        n -= 2;
        memcpy(t + n, d2 + 2 * v, 2);
    } else {
        t[--n] = (char)('0' + v);
    }
    size_t len = (size_t)(20 - n);
    if (o->len + len > OBUF_SIZE)
        ob_flush(o);
    memcpy(o->b + o->len, t + n, len);
    o->len += len;
}

/* Dotted quad without printf. */
static inline void
ob_ipv4(struct obuf *o, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            ob_ch(o, '.');
        ob_u64(o, a[i]);
    }
}

#endif /* MG_OBUF_H */

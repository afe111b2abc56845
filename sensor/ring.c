/* sensor/ring.c - SPSC record ring; see ring.h for the contract. */
#include "ring.h"
#include "bigmem.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t
rec_size(uint32_t len)
{
    return (sizeof(struct ring_hdr) + len + RING_ALIGN - 1) & ~(uint64_t)(RING_ALIGN - 1);
}

struct ring *
ring_new(size_t bytes)
{
    size_t size = 4096;
    while (size < bytes)
        size <<= 1;
    struct ring *r = aligned_alloc(64, sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->buf = big_alloc(size);           /* on huge pages: see bigmem.h */
    if (!r->buf) {
        free(r);
        return NULL;
    }
    r->size = size;
    r->mask = size - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void
ring_free(struct ring *r)
{
    if (!r)
        return;
    big_free(r->buf, r->size);
    free(r);
}

void *
ring_reserve(struct ring *r, uint32_t len, uint32_t kind)
{
    uint64_t need = rec_size(len);
    uint64_t h = r->local_head;
    uint64_t off = h & r->mask;
    uint64_t skip = 0;

    if (need > r->size / 2)
        return NULL;                    /* never fits: treat as full */
    /* A record never wraps: if it does not fit before the end, the rest of
     * the buffer is skipped with a len-0 header. A header always fits since
     * offsets and sizes are multiples of RING_ALIGN >= sizeof(header). */
    if (off + need > r->size)
        skip = r->size - off;
    if (h + skip + need - r->cached_tail > r->size) {
        r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h + skip + need - r->cached_tail > r->size) {
            /* Publish what we have so the consumer can make room. */
            ring_flush(r);
            return NULL;
        }
    }
    if (skip) {
        struct ring_hdr *sh = (struct ring_hdr *)(r->buf + off);
        sh->len = 0;
        sh->kind = 0;
        h += skip;
        r->local_head = h;              /* the skip is committed with the record */
        off = 0;
    }
    struct ring_hdr *hd = (struct ring_hdr *)(r->buf + off);
    hd->len = len;
    hd->kind = kind;
    return hd + 1;
}

void
ring_commit(struct ring *r)
{
    struct ring_hdr *hd = (struct ring_hdr *)(r->buf + (r->local_head & r->mask));
    r->local_head += rec_size(hd->len);
    if (++r->pending >= RING_BATCH)
        ring_flush(r);
}

void
ring_flush(struct ring *r)
{
    r->pending = 0;
    atomic_store_explicit(&r->head, r->local_head, memory_order_release);
}

uint64_t
ring_room(struct ring *r)
{
    r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->size - (r->local_head - r->cached_tail);
}

const void *
ring_peek(struct ring *r, uint32_t *kind, uint32_t *len)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        if (t == r->cached_head) {
            r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (t == r->cached_head)
                return NULL;
        }
        const struct ring_hdr *hd = (const struct ring_hdr *)(r->buf + (t & r->mask));
        if (hd->len == 0 && hd->kind == 0) {
            /* skip marker: the producer went back to offset 0 */
            t += r->size - (t & r->mask);
            atomic_store_explicit(&r->tail, t, memory_order_release);
            continue;
        }
        *kind = hd->kind;
        *len = hd->len;
        return hd + 1;
    }
}

void
ring_release(struct ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    const struct ring_hdr *hd = (const struct ring_hdr *)(r->buf + (t & r->mask));
    atomic_store_explicit(&r->tail, t + rec_size(hd->len), memory_order_release);
}

uint64_t
ring_pos(struct ring *r)
{
    return atomic_load_explicit(&r->tail, memory_order_relaxed);
}

const void *
ring_next(struct ring *r, uint64_t *pos, uint32_t *kind, uint32_t *len)
{
    uint64_t t = *pos;
    for (;;) {
        if (t == r->cached_head) {
            r->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (t == r->cached_head) {
                *pos = t;
                return NULL;
            }
        }
        const struct ring_hdr *hd = (const struct ring_hdr *)(r->buf + (t & r->mask));
        if (hd->len == 0 && hd->kind == 0) {
            t += r->size - (t & r->mask);   /* skip marker */
            continue;
        }
        *kind = hd->kind;
        *len = hd->len;
        *pos = t + rec_size(hd->len);
        return hd + 1;
    }
}

void
ring_release_to(struct ring *r, uint64_t pos)
{
    atomic_store_explicit(&r->tail, pos, memory_order_release);
}

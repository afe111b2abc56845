/* sensor/ring.h - lock-free single-producer/single-consumer record ring.
 *
 * Variable-size records in a power-of-two byte ring: the producer reserves a
 * contiguous slot, fills it in place and publishes it; the consumer peeks,
 * reads in place and releases. A record never wraps: when it would not fit
 * before the end, the producer writes a skip marker and starts at offset 0.
 * Head and tail are C11 atomics on their own cache lines; each side caches
 * the other's index and rereads it only when the cached one says full/empty,
 * so the common case touches no shared line (as DPDK's rte_ring does).
 *
 * Exactly one producer thread and one consumer thread per ring. Publishing is
 * batched: ring_commit() makes the record visible only at ring_flush() or when
 * RING_BATCH records are pending, so a record costs no store-release of its
 * own. */
#ifndef MG_RING_H
#define MG_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_ALIGN 16           /* every record starts on 16 bytes */
#define RING_BATCH 32

struct ring_hdr {
    uint32_t len;               /* payload bytes after this header; 0 = skip to start */
    uint32_t kind;              /* caller's tag (enum rec_kind) */
};

struct ring {
    /* consumer side */
    _Alignas(64) _Atomic uint64_t tail;
    uint64_t cached_head;
    /* producer side */
    _Alignas(64) _Atomic uint64_t head;
    uint64_t cached_tail;
    uint64_t local_head;        /* reserved and committed, not yet published */
    uint32_t pending;
    uint64_t drops;             /* records refused because full (producer-owned) */
    _Alignas(64) uint64_t size; /* bytes, power of two */
    uint64_t mask;
    uint8_t *buf;
};

/* Allocate a ring of 'bytes' (rounded up to a power of two, >= 4096).
 * Returns NULL on allocation failure. */
struct ring *ring_new(size_t bytes);
void ring_free(struct ring *r);

/* Producer: reserve room for a record of 'len' payload bytes. Returns a
 * pointer to the payload, or NULL when the ring is full (nothing reserved;
 * the caller decides to wait or to drop and count). */
void *ring_reserve(struct ring *r, uint32_t len, uint32_t kind);
/* Producer: the record last reserved is complete. */
void ring_commit(struct ring *r);
/* Producer: make every committed record visible to the consumer now. */
void ring_flush(struct ring *r);
/* Producer: bytes free now (the consumer's position read afresh). */
uint64_t ring_room(struct ring *r);

/* Consumer: the next record or NULL when empty; *kind and *len describe it.
 * The pointer stays valid until ring_release(). */
const void *ring_peek(struct ring *r, uint32_t *kind, uint32_t *len);
/* Consumer: done with the record returned by the last ring_peek(). */
void ring_release(struct ring *r);

/* Consumer, several records at once: start with pos = ring_pos(r); each
 * ring_next() returns the record at *pos (NULL when there is none yet) and
 * moves *pos past it. Every record returned stays valid until
 * ring_release_to(r, pos) gives them all back. */
uint64_t ring_pos(struct ring *r);
const void *ring_next(struct ring *r, uint64_t *pos, uint32_t *kind, uint32_t *len);
void ring_release_to(struct ring *r, uint64_t pos);

#endif /* MG_RING_H */

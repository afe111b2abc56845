/* detect/lru.h - the bounded state of detectors: a fixed-capacity hash table
 * whose full state reuses its least recently used entry.
 *
 * Entries are fixed-size records allocated once at init (no allocation per
 * event, so a flood of spoofed sources cannot exhaust memory: it evicts and
 * counts). Each entry starts with a struct lru_hdr; the key sits at
 * key_off inside the entry and is compared with memcmp, so keys must be
 * zeroed where unused. One table per detector instance (one thread). */
#ifndef MG_LRU_H
#define MG_LRU_H

#include <stddef.h>
#include <stdint.h>

struct lru_hdr {                    /* first member of every entry */
    uint32_t hnext, prev, next;
    uint8_t spared;                 /* had its second chance since last used */
};

struct lru {
    uint8_t *mem;
    size_t esz, key_off, key_len;
    uint32_t cap, n, mask;
    uint32_t *bkt;
    uint32_t head, tail;            /* head = most recently used */
    int (*keep)(const void *e);     /* NULL, or: e is worth a second chance */
    uint64_t evicted, spared;
};

/* cap entries of esz bytes, the key at key_off (key_len bytes). 0 or -1
 * (out of memory; lru_free() is still safe). */
int  lru_init(struct lru *t, uint32_t cap, size_t esz, size_t key_off, size_t key_len);
void lru_free(struct lru *t);

/* Second chance: when the least recently used entry is one keep() wants to
 * keep (it holds evidence), it is moved to the front once instead of being
 * evicted (at most 8 such moves per eviction; counted in spared), so a slow
 * actor survives a flood of one-off entries. */
void lru_set_keep(struct lru *t, int (*keep)(const void *e));

/* The entry for key, moved to the front; created zeroed (with its key) when
 * missing, evicting the least recently used one when full. Never NULL
 * after a successful lru_init(). */
void *lru_get(struct lru *t, const void *key);

/* The table's hashing, for detectors' own bit sets and sketches. */
static inline uint64_t
lru_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t lru_hash(const void *p, size_t n);

#endif /* MG_LRU_H */

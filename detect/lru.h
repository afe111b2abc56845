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
};

struct lru {
    uint8_t *mem;
    size_t esz, key_off, key_len;
    uint32_t cap, n, mask;
    uint32_t *bkt;
    uint32_t head, tail;            /* head = most recently used */
    uint64_t evicted;
};

/* cap entries of esz bytes, the key at key_off (key_len bytes). 0 or -1
 * (out of memory; lru_free() is still safe). */
int  lru_init(struct lru *t, uint32_t cap, size_t esz, size_t key_off, size_t key_len);
void lru_free(struct lru *t);

/* The entry for key, moved to the front; created zeroed (with its key) when
 * missing, evicting the least recently used one when full. Never NULL
 * after a successful lru_init(). */
void *lru_get(struct lru *t, const void *key);

#endif /* MG_LRU_H */

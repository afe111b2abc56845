/* detect/lru.c - fixed-capacity LRU hash table; see lru.h. */
#include "lru.h"
#include "bigmem.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0xffffffffu

static inline struct lru_hdr *
ent(const struct lru *t, uint32_t i)
{
    return (struct lru_hdr *)(t->mem + (size_t)i * t->esz);
}

static inline const void *
key_of(const struct lru *t, const struct lru_hdr *h)
{
    return (const uint8_t *)h + t->key_off;
}

uint64_t
lru_hash(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        h = lru_mix64(h ^ v);
        b += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, b, n);
    return lru_mix64(h ^ v);
}

int
lru_init(struct lru *t, uint32_t cap, size_t esz, size_t key_off, size_t key_len)
{
    memset(t, 0, sizeof(*t));
    uint32_t nb = 1;
    while (nb < cap)
        nb <<= 1;
    t->esz = esz;
    t->key_off = key_off;
    t->key_len = key_len;
    t->cap = cap;
    t->mask = nb - 1;
    /* On huge pages (bigmem.h): entries are touched at random, and a
     * detector's first minutes would otherwise fault its table in a 4 KiB
     * page at a time. The sizes are set first: lru_free() needs them. */
    if (esz && (size_t)cap * esz / esz == cap)
        t->mem = big_alloc((size_t)cap * esz);
    t->bkt = big_alloc((size_t)nb * sizeof(uint32_t));
    if (!t->mem || !t->bkt)
        return -1;
    memset(t->bkt, 0xff, (size_t)nb * sizeof(uint32_t));
    t->head = t->tail = NIL;
    return 0;
}

void
lru_free(struct lru *t)
{
    big_free(t->mem, (size_t)t->cap * t->esz);
    big_free(t->bkt, ((size_t)t->mask + 1) * sizeof(uint32_t));
    t->mem = NULL;
    t->bkt = NULL;
}

static void
unlink_lru(struct lru *t, uint32_t i)
{
    struct lru_hdr *h = ent(t, i);
    if (h->prev != NIL)
        ent(t, h->prev)->next = h->next;
    else
        t->head = h->next;
    if (h->next != NIL)
        ent(t, h->next)->prev = h->prev;
    else
        t->tail = h->prev;
}

static void
to_front(struct lru *t, uint32_t i)
{
    struct lru_hdr *h = ent(t, i);
    h->prev = NIL;
    h->next = t->head;
    if (t->head != NIL)
        ent(t, t->head)->prev = i;
    t->head = i;
    if (t->tail == NIL)
        t->tail = i;
}

void
lru_set_keep(struct lru *t, int (*keep)(const void *e))
{
    t->keep = keep;
}

static uint32_t
evict(struct lru *t)
{
    uint32_t i = t->tail;
    for (int tries = 0; tries < 8; tries++) {
        struct lru_hdr *e = ent(t, i);
        if (e->spared || !t->keep || !t->keep(e))
            break;
        e->spared = 1;
        t->spared++;
        unlink_lru(t, i);
        to_front(t, i);
        i = t->tail;
    }
    struct lru_hdr *h = ent(t, i);
    uint32_t *pp = &t->bkt[lru_hash(key_of(t, h), t->key_len) & t->mask];
    while (*pp != NIL && *pp != i)
        pp = &ent(t, *pp)->hnext;
    if (*pp == i)
        *pp = h->hnext;
    unlink_lru(t, i);
    t->evicted++;
    /* A full table under a flood of new keys evicts at every miss: the next
     * victim is the new tail, whose line unlink_lru() just wrote; fetch its
     * bucket and the entry before it now, so that the next eviction does
     * not wait for them. */
    if (t->tail != NIL) {
        const struct lru_hdr *n = ent(t, t->tail);
        __builtin_prefetch(&t->bkt[lru_hash(key_of(t, n), t->key_len) & t->mask]);
        if (n->prev != NIL)
            __builtin_prefetch(ent(t, n->prev));
    }
    return i;
}

void *
lru_get(struct lru *t, const void *key)
{
    uint32_t b = (uint32_t)lru_hash(key, t->key_len) & t->mask;
    for (uint32_t i = t->bkt[b]; i != NIL; i = ent(t, i)->hnext) {
        struct lru_hdr *h = ent(t, i);
        if (!memcmp(key_of(t, h), key, t->key_len)) {
            if (t->head != i) {
                unlink_lru(t, i);
                to_front(t, i);
            }
            h->spared = 0;
            return h;
        }
    }
    uint32_t i = t->n < t->cap ? t->n++ : evict(t);
    struct lru_hdr *h = ent(t, i);
    memset(h, 0, t->esz);
    memcpy((uint8_t *)h + t->key_off, key, t->key_len);
    h->hnext = t->bkt[b];
    t->bkt[b] = i;
    to_front(t, i);
    return h;
}

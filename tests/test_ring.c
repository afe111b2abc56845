/* tests/test_ring.c - the SPSC ring: order, wrap-around with skip markers,
 * full ring refuses, and a two-thread run that checks every record arrives
 * once and in order. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "ring.h"

static void
test_order_and_full(void)
{
    struct ring *r = ring_new(4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    unsigned n = 0;
    for (;;) {
        uint32_t *p = ring_reserve(r, 100, 7);
        if (!p)
            break;
        *p = n++;
        ring_commit(r);
    }
    ring_flush(r);
    CU_ASSERT(n > 10 && n < 4096 / 100 + 1);   /* full long before 4096 records */
    uint32_t kind, len;
    for (unsigned i = 0; i < n; i++) {
        const uint32_t *p = ring_peek(r, &kind, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(*p, i);
        CU_ASSERT_EQUAL(kind, 7);
        CU_ASSERT_EQUAL(len, 100);
        ring_release(r);
    }
    CU_ASSERT_PTR_NULL(ring_peek(r, &kind, &len));
    ring_free(r);
}

/* Several records held at once (ring_next), wrapping, then given back
 * together: every one in order, the room comes back only at release. */
static void
test_next_batch(void)
{
    struct ring *r = ring_new(4096);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    unsigned sent = 0, got = 0;
    for (int round = 0; round < 200; round++) {
        while (ring_reserve(r, 8 + (sent * 53) % 300, 2)) {
            ring_commit(r);
            sent++;
        }
        ring_flush(r);
        /* full now: take up to 5 without releasing; still full */
        uint64_t pos = ring_pos(r);
        uint32_t kind, len;
        unsigned k = 0;
        while (k < 5 && ring_next(r, &pos, &kind, &len)) {
            CU_ASSERT_EQUAL(len, 8 + (got * 53) % 300);
            CU_ASSERT_EQUAL(kind, 2);
            got++;
            k++;
        }
        CU_ASSERT_EQUAL(k, 5);
        CU_ASSERT_PTR_NULL(ring_reserve(r, 8 + (sent * 53) % 300, 2));
        ring_release_to(r, pos);
    }
    uint64_t pos = ring_pos(r);
    uint32_t kind, len;
    while (ring_next(r, &pos, &kind, &len))
        got++;
    ring_release_to(r, pos);
    CU_ASSERT_EQUAL(got, sent);
    CU_ASSERT_PTR_NULL(ring_peek(r, &kind, &len));
    ring_free(r);
}

static void
test_wrap(void)
{
    /* Sizes that do not divide the ring force skip markers at the end. */
    struct ring *r = ring_new(4096);
    uint32_t kind, len;
    for (unsigned i = 0; i < 10000; i++) {
        uint32_t sz = 8 + (i * 37) % 900;
        uint8_t *p = ring_reserve(r, sz, 1 + i % 3);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        memset(p, (int)(i & 0xff), sz);
        ring_commit(r);
        ring_flush(r);
        const uint8_t *q = ring_peek(r, &kind, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q);
        CU_ASSERT_EQUAL(len, sz);
        CU_ASSERT_EQUAL(kind, 1 + i % 3);
        CU_ASSERT_EQUAL(q[0], i & 0xff);
        CU_ASSERT_EQUAL(q[sz - 1], i & 0xff);
        ring_release(r);
    }
    ring_free(r);
}

static void
test_too_big(void)
{
    struct ring *r = ring_new(4096);
    CU_ASSERT_PTR_NULL(ring_reserve(r, 4000, 1));
    ring_free(r);
}

#define N_THREADED 2000000u

static void *
producer(void *arg)
{
    struct ring *r = arg;
    for (uint32_t i = 0; i < N_THREADED; i++) {
        uint32_t *p;
        while (!(p = ring_reserve(r, 4 + (i % 5) * 4, 1)))
            ;
        p[0] = i;
        ring_commit(r);
    }
    ring_flush(r);
    return NULL;
}

static void
test_threads(void)
{
    struct ring *r = ring_new(1 << 16);
    pthread_t t;
    pthread_create(&t, NULL, producer, r);
    uint32_t expect = 0, kind, len;
    int bad = 0;
    while (expect < N_THREADED) {
        const uint32_t *p = ring_peek(r, &kind, &len);
        if (!p)
            continue;
        if (p[0] != expect || len != 4 + (expect % 5) * 4)
            bad++;
        expect++;
        ring_release(r);
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(expect, N_THREADED);
    ring_free(r);
}

int
test_ring_register(void)
{
    CU_pSuite s = CU_add_suite("ring", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "order and full", test_order_and_full);
    CU_add_test(s, "wrap with skip markers", test_wrap);
    CU_add_test(s, "several held at once (ring_next)", test_next_batch);
    CU_add_test(s, "record larger than half the ring", test_too_big);
    CU_add_test(s, "two threads, 2M records in order", test_threads);
    return 0;
}

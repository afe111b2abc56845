/* decoders/keysort.c - see keysort.h. */
#include "keysort.h"

#include <string.h>

enum { DIGIT_BITS = 11, DIGITS = 1 << DIGIT_BITS, SMALL = 32 };

static inline int
full_cmp(const struct sort_key *x, const struct sort_key *y,
         int (*tie)(uintptr_t, uintptr_t, void *), void *arg)
{
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    return tie(x->v, y->v, arg);
}

/* Stable insertion sort: for short arrays and for the runs of equal keys
 * the radix pass leaves (equal start times are rare). */
static void
insertion_sort(struct sort_key *a, size_t n, int (*tie)(uintptr_t, uintptr_t, void *),
               void *arg)
{
    for (size_t i = 1; i < n; i++) {
        struct sort_key x = a[i];
        size_t j = i;
        while (j > 0 && full_cmp(&a[j - 1], &x, tie, arg) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Stable merge sort of a[0..n) by the full order, with tmp[0..n): for long
 * runs of equal keys (a capture whose packets all carry one time stamp
 * must not make the sort quadratic). */
static void
merge_sort(struct sort_key *a, struct sort_key *tmp, size_t n,
           int (*tie)(uintptr_t, uintptr_t, void *), void *arg)
{
    if (n <= SMALL) {
        insertion_sort(a, n, tie, arg);
        return;
    }
    size_t h = n / 2;
    merge_sort(a, tmp, h, tie, arg);
    merge_sort(a + h, tmp + h, n - h, tie, arg);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = full_cmp(&a[j], &a[i], tie, arg) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[o++] = a[i++];
    while (j < n)
        tmp[o++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

void
keysort(struct sort_key *a, struct sort_key *tmp, size_t n,
        int (*tie)(uintptr_t x, uintptr_t y, void *arg), void *arg)
{
    if (n <= SMALL) {
        insertion_sort(a, n, tie, arg);
        return;
    }
    uint64_t lo = a[0].k, hi = a[0].k;
    for (size_t i = 1; i < n; i++) {
        if (a[i].k < lo)
            lo = a[i].k;
        if (a[i].k > hi)
            hi = a[i].k;
    }
    /* LSD radix over the bits in which the keys differ only: the times of
     * one flush or one tick span far fewer than 64 bits. Each pass is
     * stable, so equal keys keep the order they came in. */
    uint64_t span = hi - lo;
    struct sort_key *src = a, *dst = tmp;
    size_t count[DIGITS];
    for (unsigned shift = 0; shift < 64 && (span >> shift); shift += DIGIT_BITS) {
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[((src[i].k - lo) >> shift) & (DIGITS - 1)]++;
        size_t sum = 0;
        for (unsigned d = 0; d < DIGITS; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[((src[i].k - lo) >> shift) & (DIGITS - 1)]++] = src[i];
        struct sort_key *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
    /* Runs of equal keys: by the full order. */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && a[j].k == a[i].k)
            j++;
        if (j - i > 1)
            merge_sort(a + i, tmp, j - i, tie, arg);
        i = j;
    }
}

/* sensor/bigmem.c - large tables and buffers on transparent huge pages; see
 * bigmem.h. */
#include "bigmem.h"

#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HUGE ((size_t)2 << 20)

static size_t
huge_len(size_t bytes)
{
    return (bytes + HUGE - 1) & ~(HUGE - 1);
}

void *
big_alloc(size_t bytes)
{
    if (bytes < BIG_MIN) {
        size_t len = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, len ? len : 64);
        if (p)
            memset(p, 0, len ? len : 64);
        return p;
    }
    size_t len = huge_len(bytes);
    if (len < bytes)
        return NULL;                    /* overflow */
    /* Map one huge page more than asked and trim both ends to a 2 MiB
     * boundary: only aligned 2 MiB extents can be huge pages. */
    uint8_t *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (raw + len + HUGE > p + len)
        munmap(p + len, (size_t)(raw + len + HUGE - (p + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);   /* a hint: failure costs only speed */
#endif
    return p;
}

void
big_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < BIG_MIN)
        free(p);
    else
        munmap(p, huge_len(bytes));
}

void *
big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    void *n = big_alloc(new_bytes);
    if (!n)
        return NULL;
    if (p)
        memcpy(n, p, old_bytes < new_bytes ? old_bytes : new_bytes);
    big_free(p, old_bytes);
    return n;
}

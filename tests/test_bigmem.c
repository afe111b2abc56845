/* tests/test_bigmem.c - large tables and buffers (sensor/bigmem.c): zeroed
 * and aligned on both sides of BIG_MIN, 2 MiB-aligned and advised onto huge
 * pages above it, contents kept across big_realloc() in both directions. */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bigmem.h"

static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void
test_small(void)
{
    uint8_t *p = big_alloc(1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % 64, 0);
    CU_ASSERT(all_zero(p, 1000));
    memset(p, 0xab, 1000);
    big_free(p, 1000);
    big_free(NULL, 1000);
    big_free(NULL, (size_t)8 << 20);
}

/* THPeligible of the mapping holding p, from /proc/self/smaps: -1 unknown. */
static int
thp_eligible(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int in = 0, r = -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (in && sscanf(line, "THPeligible: %d", &r) == 1)
            break;
    }
    fclose(f);
    return r;
}

static int
thp_never(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return 1;
    char b[128] = "";
    if (!fgets(b, sizeof(b), f))
        b[0] = 0;
    fclose(f);
    return strstr(b, "[never]") != NULL;
}

static void
test_large(void)
{
    size_t n = ((size_t)3 << 20) + 5;
    uint8_t *p = big_alloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % ((size_t)2 << 20), 0);
    CU_ASSERT(all_zero(p, n));
    memset(p, 0x5a, n);                 /* every byte is ours */
    if (!thp_never())
        CU_ASSERT_EQUAL(thp_eligible(p), 1);
    big_free(p, n);
}

static void
test_realloc(void)
{
    size_t small = 256 << 10, large = (size_t)4 << 20;
    uint8_t *p = big_realloc(NULL, 0, small);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (size_t i = 0; i < small; i++)
        p[i] = (uint8_t)(i * 7);
    p = big_realloc(p, small, large);   /* across BIG_MIN: heap -> mapping */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    int same = 1;
    for (size_t i = 0; i < small; i++)
        same &= p[i] == (uint8_t)(i * 7);
    CU_ASSERT(same);
    CU_ASSERT(all_zero(p + small, large - small));
    p = big_realloc(p, large, 100);     /* and back */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    same = 1;
    for (size_t i = 0; i < 100; i++)
        same &= p[i] == (uint8_t)(i * 7);
    CU_ASSERT(same);
    big_free(p, 100);
}

int
test_bigmem_register(void)
{
    CU_pSuite s = CU_add_suite("bigmem", NULL, NULL);
    if (!s)
        return -1;
    CU_add_test(s, "small: heap, zeroed, 64-aligned", test_small);
    CU_add_test(s, "large: 2 MiB-aligned, zeroed, huge pages advised", test_large);
    CU_add_test(s, "realloc keeps contents across BIG_MIN", test_realloc);
    return 0;
}

/* sensor/bigmem.h - memory for large, long-lived tables and buffers.
 *
 * The flow table, the rings, the capture file's read buffer, the detectors'
 * tables and the workers' timer batches are allocated once (or grow a few
 * times) and then touched at random or in laps. Each first touch of a 4 KiB
 * page is a page fault, and in a VM a fault is dear: ~14 us each on this
 * project's machine (README, Speed), so a 16 MiB ring cost 57 ms of its
 * thread's CPU in its first lap. From here such memory is anonymous,
 * aligned to 2 MiB and advised onto transparent huge pages (THP "madvise"
 * mode, Debian's default): one fault per 2 MiB. Where the kernel has no
 * huge page to give, it falls back to 4 KiB pages; only speed differs.
 *
 * Requests under BIG_MIN bytes come from the C heap instead (a huge page
 * for a small table would waste memory). Everything is zeroed and
 * 64-byte aligned. Pass big_free() and big_realloc() the size the block was
 * allocated with. */
#ifndef MG_BIGMEM_H
#define MG_BIGMEM_H

#include <stddef.h>

#define BIG_MIN ((size_t)1 << 20)

/* bytes of zeroed memory, or NULL. */
void *big_alloc(size_t bytes);
void big_free(void *p, size_t bytes);
/* A block of new_bytes holding the first min(old, new) bytes of p (the rest
 * zero); p is freed. NULL on failure, and p is then left as it was. */
void *big_realloc(void *p, size_t old_bytes, size_t new_bytes);

#endif /* MG_BIGMEM_H */

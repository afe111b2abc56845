/* tests/fuzz/fuzz_lists.c - libFuzzer target for detect/lists.c.
 *
 * The first input byte picks the format (txt, otx, proofpoint); the rest is
 * the file. The loader runs on it through lists_load_buffer(), and when it
 * loads, every line of the input is also looked up as a domain and every
 * 16-byte window as an IPv4 and an IPv6 address (with and without the
 * detailed answer), with the answer's invariants checked: messages are
 * NUL-terminated within their buffers, n is the number of bits in threats
 * and each entry text fits, the fast and the detailed answers agree, and
 * the statistics add up.
 *
 * Build and run (seeds: tests/fuzz/corpus/lists, first byte 0/1/2):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -Idetect -Idecoders -Iconfig tests/fuzz/fuzz_lists.c detect/lists.c \
 *       -o build-fuzz/fuzz_lists
 *   build-fuzz/fuzz_lists -max_len=4096 build-fuzz/corpus-lists tests/fuzz/corpus/lists
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lists.h"

static struct list_hit hit;

static void check_hit(int r, int quick)
{
    if (r != quick)
        abort();
    if ((unsigned)__builtin_popcountll(hit.threats) != hit.n || hit.n > LISTS_MAX_THREAT)
        abort();
    if (((r & LISTS_THREAT) != 0) != (hit.threats != 0) ||
        ((r & LISTS_TRUSTED) != 0) != hit.trusted)
        abort();
    for (unsigned i = 0; i < hit.n; i++) {
        if (strnlen(hit.m[i].entry, LISTS_ENTRY_LEN) >= LISTS_ENTRY_LEN ||
            !hit.m[i].entry[0] || hit.m[i].index >= LISTS_MAX_THREAT)
            abort();
        if (i && hit.m[i].index <= hit.m[i - 1].index)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *fmts[] = { "txt", "otx", "proofpoint" };
    if (size < 1)
        return 0;
    const char *fmt = fmts[data[0] % 3];
    data++;
    size--;
    char warn[300], err[200];
    memset(warn, 'x', sizeof(warn));
    memset(err, 'x', sizeof(err));
    struct lists *l = lists_load_buffer((const char *)data, size, fmt, warn, sizeof(warn),
                                        err, sizeof(err));
    if (strnlen(warn, sizeof(warn)) >= sizeof(warn) || strnlen(err, sizeof(err)) >= sizeof(err))
        abort();
    if (!l) {
        if (!err[0])
            abort();                    /* a failure always says why */
        return 0;
    }
    const struct list_stats *s = lists_threat_stats(l, 0);
    if (!s || lists_n_threat(l) != 1 || (list_stats_entries(s) == 0 && s->malformed))
        abort();

    /* Every line as a name. */
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char name[300];
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        int q = lists_match_domain(l, name, NULL);
        check_hit(lists_match_domain(l, name, &hit), q);
        p = nl ? nl + 1 : end;
    }
    /* Windows of the input as addresses. */
    for (size_t off = 0; off + 16 <= size && off < 512; off += 7) {
        struct mg_addr a;
        memcpy(a.b, data + off, 16);
        int q = lists_match_ip(l, &a, 6, NULL);
        check_hit(lists_match_ip(l, &a, 6, &hit), q);
        memset(a.b + 4, 0, 12);
        q = lists_match_ip(l, &a, 4, NULL);
        check_hit(lists_match_ip(l, &a, 4, &hit), q);
    }
    lists_free(l);
    return 0;
}

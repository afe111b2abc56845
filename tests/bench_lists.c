/* tests/bench_lists.c - load and lookup speed of detect/lists.c at scale.
 *
 * Generates, in a private mkdtemp() directory, three threat lists:
 *   v4.txt   1,000,000 lines: 900 k random IPv4 addresses + 100 k CIDRs
 *            (/12../30, mostly /20../28)
 *   v6.txt     200,000 lines: 150 k random IPv6 addresses + 50 k prefixes
 *   dom.txt  1,000,000 domains: 90 % exact names, 10 % "*." wildcards
 * then loads them as one set and prints the load time, the memory (the
 * set's own counter and the mallinfo2() delta, in bytes and bytes/entry)
 * and the lookup cost in ns for hits and misses, with and without the
 * detailed answer (struct list_hit). Not a unit test; build and run:
 *
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
 *       -Idetect -Idecoders -Iconfig tests/bench_lists.c detect/lists.c \
 *       -o build/bench_lists && build/bench_lists [scale]
 *
 * scale (default 1.0) multiplies every count. The files are removed on
 * exit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lists.h"

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static inline uint64_t rnd(void)
{
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return rs;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void rand_name(char *s, unsigned labels)
{
    static const char *tlds[] = { "com", "net", "org", "io", "ru", "xyz", "info", "top" };
    char *p = s;
    for (unsigned l = 0; l < labels; l++) {
        unsigned n = 5 + rnd() % 10;
        for (unsigned i = 0; i < n; i++)
            *p++ = "abcdefghijklmnopqrstuvwxyz0123456789-"[rnd() % (i && i + 1 < n ? 37 : 36)];
        *p++ = '.';
    }
    strcpy(p, tlds[rnd() % 8]);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    unsigned n4a = (unsigned)(900000 * scale), n4c = (unsigned)(100000 * scale);
    unsigned n6a = (unsigned)(150000 * scale), n6c = (unsigned)(50000 * scale);
    unsigned nd = (unsigned)(1000000 * scale);
    char dir[] = "/tmp/mg_bench_lists_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char p4[64], p6[64], pd[64];
    snprintf(p4, sizeof(p4), "%s/v4.txt", dir);
    snprintf(p6, sizeof(p6), "%s/v6.txt", dir);
    snprintf(pd, sizeof(pd), "%s/dom.txt", dir);

    /* Keep some entries to look up as hits. */
    enum { NS = 1 << 16 };
    static struct mg_addr hit4[NS], hit6[NS];
    static char hitd[NS][140];

    FILE *f = fopen(p4, "w");
    for (unsigned i = 0; i < n4a + n4c; i++) {
        uint32_t a = (uint32_t)rnd();
        unsigned plen = 32;
        if (i >= n4a) {
            plen = 20 + rnd() % 9;
            if (rnd() % 20 == 0)
                plen = 12 + rnd() % 18;
            a &= plen ? ~0U << (32 - plen) : 0;
        }
        uint32_t be = htonl(a);
        char s[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &be, s, sizeof(s));
        if (plen == 32)
            fprintf(f, "%s\n", s);
        else
            fprintf(f, "%s/%u\n", s, plen);
        if (i % 16 == 0 && i / 16 < NS)
            memcpy(hit4[i / 16].b, &be, 4);
    }
    fclose(f);
    f = fopen(p6, "w");
    for (unsigned i = 0; i < n6a + n6c; i++) {
        uint8_t a[16];
        uint64_t x = rnd(), y = rnd();
        memcpy(a, &x, 8);
        memcpy(a + 8, &y, 8);
        a[0] = 0x20; a[1] = (uint8_t)(rnd() % 4);  /* 2000::/14-ish */
        char s[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, a, s, sizeof(s));
        if (i < n6a)
            fprintf(f, "%s\n", s);
        else
            fprintf(f, "%s/%u\n", s, (unsigned)(32 + rnd() % 33));
        if (i % 4 == 0 && i / 4 < NS && i < n6a)
            memcpy(hit6[i / 4].b, a, 16);
    }
    fclose(f);
    f = fopen(pd, "w");
    for (unsigned i = 0; i < nd; i++) {
        char s[128];
        rand_name(s, 1 + (rnd() % 4 == 0));
        bool wild = rnd() % 10 == 0;
        fprintf(f, "%s%s\n", wild ? "*." : "", s);
        if (i % 16 == 0 && i / 16 < NS)
            snprintf(hitd[i / 16], sizeof(hitd[0]), "%s%s", wild ? "www." : "", s);
    }
    fclose(f);

    struct cfg_threat_list t[3] = {
        { "v4", p4, "bench", "txt" },
        { "v6", p6, "bench", "txt" },
        { "dom", pd, "bench", "txt" },
    };
    static char warn[4096], err[512];
    size_t h0 = heap_used();
    double t0 = now();
    struct lists *l = lists_load(NULL, t, 3, warn, sizeof(warn), err, sizeof(err));
    double t1 = now();
    size_t h1 = heap_used();
    unlink(p4); unlink(p6); unlink(pd); rmdir(dir);
    if (!l) {
        fprintf(stderr, "load failed: %s\n", err);
        return 1;
    }
    if (*warn)
        fprintf(stderr, "warnings:\n%s", warn);
    uint64_t total = 0;
    for (unsigned i = 0; i < 3; i++) {
        const struct list_stats *s = lists_threat_stats(l, i);
        uint64_t e = list_stats_entries(s);
        total += e;
        printf("%-4s %8llu entries (v4 %llu, v6 %llu, cidr4 %llu, cidr6 %llu, names %llu, "
               "wildcards %llu, dup %llu) in %7.1f ms\n", s->name, (unsigned long long)e,
               (unsigned long long)s->v4, (unsigned long long)s->v6,
               (unsigned long long)s->cidr4, (unsigned long long)s->cidr6,
               (unsigned long long)s->domains, (unsigned long long)s->wildcards,
               (unsigned long long)s->duplicates, s->load_ms);
    }
    printf("total %llu entries loaded in %.3f s (%.0f ns/entry)\n", (unsigned long long)total,
           t1 - t0, (t1 - t0) * 1e9 / (double)total);
    printf("memory: %zu bytes (own counter), %zu bytes (mallinfo2 delta), %.1f bytes/entry\n",
           lists_memory(l), h1 - h0, (double)lists_memory(l) / (double)total);

    /* Lookups. Queries are precomputed so only the lookup is timed. */
    enum { NQ = 2000000 };
    struct mg_addr *q = malloc(NQ * sizeof(*q));
    static struct list_hit out;
    volatile int sink = 0;
    struct { const char *what; int fam; bool miss; } runs[] = {
        { "IPv4 hit ", 4, false }, { "IPv4 miss", 4, true },
        { "IPv6 hit ", 6, false }, { "IPv6 miss", 6, true },
    };
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        for (unsigned i = 0; i < NQ; i++) {
            if (!runs[r].miss) {
                q[i] = runs[r].fam == 4 ? hit4[rnd() % (n4a / 16 < NS ? n4a / 16 : NS)]
                                        : hit6[rnd() % (n6a / 4 < NS ? n6a / 4 : NS)];
            } else {
                memset(&q[i], 0, sizeof(q[i]));
                uint64_t x = rnd(), y = rnd();
                memcpy(q[i].b, &x, runs[r].fam == 4 ? 4 : 8);
                if (runs[r].fam == 6) {
                    memcpy(q[i].b + 8, &y, 8);
                    q[i].b[0] = 0x20; q[i].b[1] = (uint8_t)(rnd() % 4);
                }
            }
        }
        unsigned hits = 0;
        double a = now();
        for (unsigned i = 0; i < NQ; i++)
            hits += lists_match_ip(l, &q[i], runs[r].fam, NULL) != 0;
        double b = now();
        for (unsigned i = 0; i < NQ; i++)
            sink += lists_match_ip(l, &q[i], runs[r].fam, &out);
        double c = now();
        printf("%s: %6.1f ns/lookup (answer only), %6.1f ns/lookup (with list_hit), "
               "%.1f%% matched\n", runs[r].what, (b - a) * 1e9 / NQ, (c - b) * 1e9 / NQ,
               100.0 * hits / NQ);
    }
    free(q);

    char (*qd)[140] = malloc((size_t)NQ / 2 * sizeof(*qd));
    for (int miss = 0; miss < 2; miss++) {
        unsigned n = NQ / 2;
        for (unsigned i = 0; i < n; i++) {
            if (!miss)
                snprintf(qd[i], sizeof(qd[0]), "%s", hitd[rnd() % (nd / 16 < NS ? nd / 16 : NS)]);
            else {
                char s[70];
                rand_name(s, 2);
                snprintf(qd[i], sizeof(qd[0]), "%s", s);
            }
        }
        unsigned hits = 0;
        double a = now();
        for (unsigned i = 0; i < n; i++)
            hits += lists_match_domain(l, qd[i], NULL) != 0;
        double b = now();
        for (unsigned i = 0; i < n; i++)
            sink += lists_match_domain(l, qd[i], &out);
        double c = now();
        printf("name %s: %6.1f ns/lookup (answer only), %6.1f ns/lookup (with list_hit), "
               "%.1f%% matched\n", miss ? "miss" : "hit ", (b - a) * 1e9 / n,
               (c - b) * 1e9 / n, 100.0 * hits / n);
    }
    free(qd);
    double f0 = now();
    lists_free(l);
    printf("free: %.1f ms\n", (now() - f0) * 1e3);
    return sink == 42 ? 2 : 0;
}

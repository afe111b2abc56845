/* tests/fuzz/fuzz_capfile.c - libFuzzer target for the memory-mapped
 * pcap/pcapng reader (capture/cap_file.c).
 *
 * The input is the capture file. libFuzzer hands it to us in a heap buffer
 * of exactly that size, so with ASan any read past the end is caught. We
 * open it with cap_file_open_mem(), drain it with varying burst sizes (the
 * reader must not care where bursts split), touch every delivered byte and
 * check the contracts the rest of the sensor relies on: packet data lies
 * inside the input, caplen <= wirelen, caplen <= 262144, rx_burst never
 * returns more than asked, CAP_EOF comes and then stays.
 *
 * A classic pcap is then also read from a file (a memfd) in parts, as
 * several replay workers read it (cap_file_parts): two readers in turn,
 * parts of 7, 100 or 4096 bytes, each part walked, rewound and read. The
 * packets, in order, the counters and whether the file ended at a bad
 * record must be those of the reading at once.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I capture \
 *        tests/fuzz/fuzz_capfile.c capture/cap_file.c -o fuzz_capfile
 * Run:   ./fuzz_capfile tests/fuzz/corpus/capfile */
#include "memfd_path.h"         /* first: it asks for _GNU_SOURCE */
#include "cap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a packet is, to compare two readings. */
static uint64_t pkt_sum(const struct cap_pkt *p)
{
    uint64_t h = 1469598103934665603ull ^ p->ts_ns ^ ((uint64_t)p->caplen << 32) ^ p->wirelen;
    for (uint32_t j = 0; j < p->caplen; j++)
        h = (h ^ p->data[j]) * 1099511628211ull;
    return h ^ p->linktype;
}

/* Read the file at path in parts of 'bytes' by two readers in turn; the
 * packets' sums must be want[0..n), the counters 'st'. */
static void parts_check(const char *path, uint32_t bytes, const uint64_t *want, uint64_t n,
                        const struct cap_stats *st)
{
    char err[256];
    struct cap_source *s[2] = { cap_file_open(path, err, sizeof(err)),
                                cap_file_open(path, err, sizeof(err)) };
    CHECK(s[0] && s[1]);
    uint64_t np = cap_file_parts(s[0], bytes);
    CHECK(np > 0 && cap_file_parts(s[1], bytes) == np);
    uint64_t first = cap_file_part_first(s[0]), got = 0;
    int ended = 0;
    struct cap_pkt pk[7];
    for (uint64_t part = 0; part < np; part++) {
        struct cap_source *src = s[part & 1];
        CHECK(cap_file_part_load(src, part) == 0);
        if (ended)
            continue;
        cap_file_part_begin(src, first);
        uint64_t walked = 0;
        int r;
        while ((r = src->ops->rx_burst(src, pk, 7)) != CAP_EOF) {
            CHECK(r > 0 && r <= 7);
            walked += (unsigned)r;
        }
        uint64_t next;
        int more = cap_file_part_end(src, &next);
        cap_file_part_rewind(src);
        while ((r = src->ops->rx_burst(src, pk, 7)) != CAP_EOF) {
            CHECK(r > 0 && r <= 7);
            for (int i = 0; i < r; i++, got++)
                CHECK(got < n && pkt_sum(&pk[i]) == want[got]);
            walked -= (unsigned)r;
        }
        CHECK(walked == 0);
        uint64_t next2;
        CHECK(cap_file_part_end(src, &next2) == more && next2 == next);
        ended = !more;
        first = next;
    }
    CHECK(ended && got == n);
    struct cap_stats a, b;
    s[0]->ops->stats(s[0], &a);
    s[1]->ops->stats(s[1], &b);
    CHECK(a.pkts + b.pkts == st->pkts && a.bytes + b.bytes == st->bytes &&
          a.bad_records + b.bad_records == st->bad_records);
    s[0]->ops->close(s[0]);
    s[1]->ops->close(s[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct cap_source *s = cap_file_open_mem(data, size, err, sizeof(err));
    if (!s) {
        CHECK(err[0] != 0);
        return 0;
    }
    static const unsigned bursts[] = { 1, 7, 32, 3, 64 };
    struct cap_pkt pk[64];
    volatile uint8_t sink = 0;
    uint64_t pkts = 0, bytes = 0;
    int eof = 0;
    static uint64_t sums[1 << 16];
    for (unsigned round = 0; round < 1000000; round++) {
        unsigned max = bursts[round % 5];
        int n = s->ops->rx_burst(s, pk, max);
        if (n == CAP_EOF) {
            eof = 1;
            break;
        }
        CHECK(n > 0 && (unsigned)n <= max);     /* a file never says "nothing yet" */
        for (int i = 0; i < n; i++) {
            const struct cap_pkt *p = &pk[i];
            CHECK(p->caplen <= 262144);
            CHECK(p->caplen <= p->wirelen);
            CHECK(p->data >= data && p->caplen <= size &&
                  (size_t)(p->data - data) <= size - p->caplen);
            uint8_t x = 0;
            for (uint32_t j = 0; j < p->caplen; j++)
                x ^= p->data[j];
            sink ^= x;
            bytes += p->caplen;
            if (pkts + (unsigned)i < sizeof(sums) / sizeof(sums[0]))
                sums[pkts + (unsigned)i] = pkt_sum(p);
        }
        pkts += (unsigned)n;
        s->ops->release(s, pk, (unsigned)n);
    }
    CHECK(eof);
    CHECK(s->ops->rx_burst(s, pk, 64) == CAP_EOF);
    struct cap_stats st;
    s->ops->stats(s, &st);
    CHECK(st.pkts == pkts && st.bytes == bytes);
    CHECK(s->ops->last_error(s) != NULL);
    s->ops->close(s);
    /* classic pcap: the same read in parts (from a file: parts are read
     * with pread) */
    uint32_t magic = size >= 4 ? (uint32_t)data[0] | (uint32_t)data[1] << 8 |
                                 (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24 : 0;
    if (pkts < sizeof(sums) / sizeof(sums[0]) &&
        (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u || magic == 0xa1b23c4du ||
         magic == 0x4d3cb2a1u)) {
        static char path[64];
        int fd = fuzz_memfd("fuzz-capfile.pcap", path, sizeof(path));
        CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size);
        /* one part size per input, from its length: the reading at once
         * stays most of the work */
        static const uint32_t part_bytes[] = { 7, 100, 4096 };
        parts_check(path, part_bytes[size % 3], sums, pkts, &st);
    }
    (void)sink;
    return 0;
}

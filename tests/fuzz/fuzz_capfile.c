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
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I capture \
 *        tests/fuzz/fuzz_capfile.c capture/cap_file.c -o fuzz_capfile
 * Run:   ./fuzz_capfile tests/fuzz/corpus/capfile */
#include "cap.h"

#include <stdint.h>
#include <stdlib.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    (void)sink;
    return 0;
}

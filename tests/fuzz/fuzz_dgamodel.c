/* tests/fuzz/fuzz_dgamodel.c - libFuzzer target for the DGA model loader,
 * dga_model_load() in detect/dga.c.
 *
 * The input is a model file without its last two lines: the harness makes
 * sure it ends with '\n', appends "crc32 XXXXXXXX" (CRC-32 of the input,
 * hashed as the loader hashes it: each line as fgets() reads it, up to its
 * first NUL, plus its '\n'; lines beginning "crc32" are not hashed) and
 * "end", writes it all to a memfd and loads it through /proc/self/fd (as
 * the loader reads any file). Without the appended checksum nearly every
 * mutation would stop at the checksum check.
 *
 * The loader must either refuse the file with a message that names it
 * ("PATH: ..." or "PATH:LINE: ...", NUL-terminated within the buffer) or
 * load it: then the threshold is in [0, 1] and a few fixed names (of every
 * shape: one-label suffix, two-label suffix, 63-character label, digits and
 * hyphens, a label with its suffix given directly or NULL) score a finite
 * number in [0, 1], and dga_model_free() frees everything (LeakSanitizer
 * runs at exit).
 *
 * Memory: a model declares its embedding's size on its 'nn' line and the
 * loader allocates 2^BITS * HIDDEN bytes as soon as it reads it; dga.h caps
 * that at DGA_NN_MAXTABLE (64 MiB; before the cap, "mgdga 2\nnn 22 256 1\n",
 * 20 bytes, cost 1 GiB). Everything else the loader holds is bounded by the
 * file (the dictionary trie) or fixed (32 ref and 32 sref lines, 8 KB lines).
 *
 * Build and run (seeds: tests/fuzz/corpus/dgamodel, small models cut from
 * detect/dga-model.txt with small networks (nn 8 16 N, 8 32 8, 9 48 2) and a
 * few odd files; regressions: tests/fuzz/regress/fuzz_dgamodel):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -std=gnu11 -D_GNU_SOURCE -Idetect -Idecoders -Iconfig \
 *       tests/fuzz/fuzz_dgamodel.c detect/dga.c detect/domain.c -lm -lpsl -lpthread \
 *       -o build-fuzz/fuzz_dgamodel
 *   build-fuzz/fuzz_dgamodel -max_len=32768 -artifact_prefix=build-fuzz/dgamodel- \
 *       build-fuzz/corpus-dgamodel tests/fuzz/corpus/dgamodel
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "memfd_path.h"
#include "dga.h"
#include "crc32.h"

#define MODEL_LINE 8192         /* dga.c's DGA_MODEL_LINE: fgets() buffer */

static char path[64];
static uint8_t *buf;
static size_t bufcap;

/* The loader's checksum of d[0..n) (n > 0, d[n - 1] == '\n'): fgets()
 * pieces of at most MODEL_LINE - 1 bytes, each hashed up to its first NUL
 * and then its '\n' if it ends the piece, unless it begins "crc32". */
static uint32_t
loader_crc(const uint8_t *d, size_t n)
{
    uint32_t crc = 0;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && e - i < MODEL_LINE - 1 && d[e] != '\n')
            e++;
        int nl = e < n && d[e] == '\n' && e - i < MODEL_LINE - 1;
        size_t piece = e - i + (size_t)nl;      /* bytes fgets() took */
        const uint8_t *z = memchr(d + i, 0, piece);
        size_t len = z ? (size_t)(z - (d + i)) : piece;
        int hashnl = 0;
        if (!z && nl) {
            len--;                              /* the '\n' */
            hashnl = 1;
        }
        if (!(len >= 5 && !memcmp(d + i, "crc32", 5))) {
            crc = mg_crc32(crc, d + i, len);
            if (hashnl)
                crc = mg_crc32(crc, (const uint8_t *)"\n", 1);
        }
        i += piece;
    }
    return crc;
}

static const char *const names[] = {
    "google.com", "www.facebook.com", "xjkqpzlvmwrtb.cc", "cvyh1po636avyrsxebwbkn7.ddns.net",
    "bbc.co.uk", "x.co.uk", "a-b-c-d-e-f.info", "eggnogthrushdeemster.net",
    "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ.org.",
    "a.b", "0.0", "x7fk2qpl.com.cn", "mortiscontrastatim.ru",
};

static void
check_score(double s)
{
    if (!isfinite(s) || s < 0.0 || s > 1.0) {
        fprintf(stderr, "score out of [0, 1]: %.17g\n", s);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd("fuzz-dga-model.txt", path, sizeof(path));
    size_t need = size + 1 + 32;
    if (need > bufcap) {
        free(buf);
        bufcap = need * 2;
        if (!(buf = malloc(bufcap)))
            abort();
    }
    memcpy(buf, data, size);
    size_t n = size;
    if (!n || buf[n - 1] != '\n')
        buf[n++] = '\n';
    /* the loader hashes every line as read up to its first NUL: a line with
     * a NUL byte before its '\n' is refused anyway ("line too long") */
    uint32_t crc = loader_crc(buf, n);
    n += (size_t)snprintf((char *)buf + n, bufcap - n, "crc32 %08x\nend\n", (unsigned)crc);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, n, 0) != (ssize_t)n)
        abort();

    char err[1024];
    memset(err, 'X', sizeof(err));
    err[0] = 0;
    struct dga_model *m = dga_model_load(path, err, sizeof(err));
    if (!m) {
        size_t pl = strlen(path), el = strnlen(err, sizeof(err));
        if (el == 0 || el >= sizeof(err) || el <= pl + 1 || strncmp(err, path, pl) ||
            err[pl] != ':') {
            fprintf(stderr, "bad loader message: '%.*s'\n", (int)el, err);
            abort();
        }
        return 0;
    }
    double t = dga_model_threshold(m);
    if (!(t >= 0.0 && t <= 1.0))
        abort();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check_score(dga_score(m, names[i]));
    check_score(dga_score_label(m, "z", 1, NULL));
    check_score(dga_score_label(m, "thequickbrownfox-jumps0ver", 26, "co.uk"));
    double f[DGA_NFEAT];
    dga_features(m, "kq0qw6o2siwq", 12, f);
    dga_model_free(m);
    return 0;
}

/* tests/fuzz/fuzz_config.c - libFuzzer target for config/cfg.c (libyaml and
 * our mapping of it onto struct cfg).
 *
 * The input up to its first NUL byte is the configuration file (written to a
 * memfd and read through /proc/self/fd, so cfg_load() reads it as it reads
 * any file); what follows the NUL, if anything, is one --set override (its
 * first line). The
 * loader must either accept it (cfg_free() then frees everything: LeakSanitizer
 * runs at exit) or refuse it with messages of which every line names where:
 * "FILE:LINE:COL: key: ..." for the file, "--set KEY: ..." for the override,
 * or is the "... and N more errors" of a long list, or its last line cut to
 * fit the buffer (ending "...").
 *
 * Build and run (seeds: tests/fuzz/corpus/config, the shipped example and
 * the scenario configurations):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE \
 *       -Iconfig -Idecoders tests/fuzz/fuzz_config.c config/cfg.c config/cfg_yaml.c -lyaml \
 *       -o build-fuzz/fuzz_config
 *   build-fuzz/fuzz_config -max_len=8192 build-fuzz/corpus-config tests/fuzz/corpus/config
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "memfd_path.h"
#include "cfg.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd("fuzz-config.yaml", path, sizeof(path));
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, flen, 0) != (ssize_t)flen)
        abort();
    char set[1024];
    const char *sets[1] = { set };
    unsigned nsets = 0;
    if (nul) {
        size_t sl = size - flen - 1;
        if (sl >= sizeof(set))
            sl = sizeof(set) - 1;
        memcpy(set, nul + 1, sl);
        set[sl] = 0;
        set[strcspn(set, "\n")] = 0;   /* one line, as a shell argument is */
        nsets = 1;
    }

    struct cfg c;
    char err[8192];
    err[0] = 0;
    int rc = cfg_load(&c, path, sets, nsets, err, sizeof(err));
    if (rc == 0) {
        cfg_free(&c);
        return 0;
    }
    if (rc != -1 || !err[0] || strnlen(err, sizeof(err)) >= sizeof(err))
        abort();
    /* Every message says where: the file with line and column, or the
     * override by its key. */
    size_t pl = strlen(path);
    for (const char *l = err; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        int ok = (n > pl + 1 && strncmp(l, path, pl) == 0 && l[pl] == ':') ||
                 (n >= 6 && strncmp(l, "--set ", 6) == 0) ||
                 (n >= 3 && strncmp(l, "...", 3) == 0) ||
                 /* the last line of a list cut to fit the buffer */
                 (!e && n >= 3 && strcmp(l + n - 3, "...") == 0 &&
                  strlen(err) == sizeof(err) - 1);
        if (!ok) {
            fprintf(stderr, "config error without a place: %.*s\n", (int)n, l);
            abort();
        }
        l += n + (e ? 1 : 0);
    }
    return 0;
}

/* tests/fuzz/memfd_path.h - a file in memory for loaders that take a path:
 * fuzz_memfd() creates it once (memfd_create) and returns its descriptor,
 * *path (>= 32 bytes) gets "/proc/self/fd/N". */
#ifndef MG_FUZZ_MEMFD_PATH_H
#define MG_FUZZ_MEMFD_PATH_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static int fuzz_memfd(const char *name, char *path, size_t len)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create(name, 0);
        if (fd < 0)
            abort();
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

#endif

/* detect/crc32.h - CRC-32 (IEEE 802.3, the one zlib's crc32() and Python's
 * zlib.crc32 compute), for the files we write and check ourselves: the DGA
 * model (written by scripts/train-dga) and the baseline state file.
 * crc = mg_crc32(0, buf, n); continue with mg_crc32(crc, more, m). */
#ifndef MG_CRC32_H
#define MG_CRC32_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
mg_crc32(uint32_t crc, const void *buf, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {       /* idempotent: racing threads write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *p = buf;
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#endif /* MG_CRC32_H */

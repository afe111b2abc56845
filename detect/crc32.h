/* detect/crc32.h - CRC-32 (IEEE 802.3, the one zlib's crc32() and Python's
 * zlib.crc32 compute), for the files we write and check ourselves: the DGA
 * model (written by scripts/train-dga) and the baseline state file.
 * crc = mg_crc32(0, buf, n); continue with mg_crc32(crc, more, m). */
#ifndef MG_CRC32_H
#define MG_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Slicing by 8 (eight tables, one derived from the next): eight bytes a
 * step instead of one. The DGA model is 4.4 MB of text checked at every
 * start; bytewise that was ~7 ms of it. */
static inline uint32_t
mg_crc32(uint32_t crc, const void *buf, size_t n)
{
    static uint32_t t[8][256];
    static int ready;
    if (!ready) {       /* idempotent: racing threads write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
            for (int k = 1; k < 8; k++)
                t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
        ready = 1;
    }
    const unsigned char *p = buf;
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
              t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#endif /* MG_CRC32_H */

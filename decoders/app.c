/* decoders/app.c - first-bytes protocol recognition; see app.h. */
#include "app.h"
#include "rec.h"

#include <string.h>

static int
has_prefix(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    return len >= n && memcmp(p, s, n) == 0;
}

/* memmem over at most the first 256 bytes: the JSON-RPC method of a mining
 * client sits in its first message. */
static int
contains(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (len > 256)
        len = 256;
    for (size_t i = 0; i + n <= len; i++)
        if (p[i] == (uint8_t)s[0] && memcmp(p + i, s, n) == 0)
            return 1;
    return 0;
}

uint8_t
app_classify(const uint8_t *p, size_t len)
{
    if (!p || len < 4)
        return APP_NONE;
    if (has_prefix(p, len, "SSH-"))                     /* RFC 4253 4.2 */
        return APP_SSH;
    /* RDP: TPKT (RFC 1006: version 3, reserved 0) then an X.224 Connection
     * Request TPDU (code 0xE0), MS-RDPBCGR 2.2.1.1. */
    if (len >= 7 && p[0] == 3 && p[1] == 0 && p[4] >= 6 && (p[5] & 0xf0) == 0xe0)
        return APP_RDP;
    if (p[0] == 0x16 && p[1] == 3 && p[2] <= 4)          /* TLS handshake record */
        return APP_TLS;
    if (has_prefix(p, len, "GET ") || has_prefix(p, len, "POST ") ||
        has_prefix(p, len, "HEAD ") || has_prefix(p, len, "PUT ") ||
        has_prefix(p, len, "HTTP/"))
        return APP_HTTP;
    if (p[0] == '{' && (contains(p, len, "\"mining.") || contains(p, len, "\"login\"") ||
                        contains(p, len, "\"eth_submitLogin\"")))
        return APP_STRATUM;
    return APP_NONE;
}

const char *
app_name(uint8_t app)
{
    static const char *const n[APP_MAX] = {
        [APP_NONE] = "", [APP_SSH] = "ssh", [APP_RDP] = "rdp", [APP_TLS] = "tls",
        [APP_HTTP] = "http", [APP_STRATUM] = "stratum",
    };
    return app < APP_MAX ? n[app] : "";
}

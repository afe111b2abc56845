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

/* The value of the first "method" member in the first 512 bytes of a
 * JSON-RPC message, as a Stratum sub-kind; APP_NONE if none or not mining. */
static uint8_t
stratum_method(const uint8_t *p, size_t len)
{
    static const char key[] = "\"method\"";
    size_t n = sizeof(key) - 1;
    if (len > 512)
        len = 512;
    for (size_t i = 0; i + n <= len; i++) {
        if (p[i] != '"' || memcmp(p + i, key, n) != 0)
            continue;
        size_t j = i + n;
        while (j < len && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
            j++;
        if (j >= len || p[j] != ':')
            continue;
        j++;
        while (j < len && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
            j++;
        if (j >= len || p[j] != '"')
            continue;
        const uint8_t *v = p + j + 1;
        size_t vl = len - j - 1;
        if (has_prefix(v, vl, "mining.subscribe\""))
            return APP_STRATUM;
        if (has_prefix(v, vl, "mining.authorize\""))
            return APP_STRATUM_AUTHORIZE;
        if (has_prefix(v, vl, "mining."))
            return APP_STRATUM_MINING;
        if (has_prefix(v, vl, "login\""))
            return APP_STRATUM_XMRIG;
        if (has_prefix(v, vl, "eth_submitLogin\""))
            return APP_STRATUM_ETH;
        return APP_NONE;
    }
    return APP_NONE;
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
    if (p[0] == '{') {
        /* The JSON-RPC "method" member names the dialect (sub-kinds of
         * Stratum); without a parsable one, the old substring test. */
        uint8_t m = stratum_method(p, len);
        if (m)
            return m;
        if (contains(p, len, "\"mining.") || contains(p, len, "\"login\"") ||
            contains(p, len, "\"eth_submitLogin\""))
            return APP_STRATUM;
    }
    /* Monero levin: signature 0x0101010101012101 (little-endian). */
    if (len >= 8 && !memcmp(p, "\x01\x21\x01\x01\x01\x01\x01\x01", 8))
        return APP_MONERO_P2P;
    /* Bitcoin P2P: mainnet/testnet3/regtest magic then "version" command. */
    if (len >= 16 && (!memcmp(p, "\xf9\xbe\xb4\xd9", 4) || !memcmp(p, "\x0b\x11\x09\x07", 4) ||
                      !memcmp(p, "\xfa\xbf\xb5\xda", 4)) &&
        !memcmp(p + 4, "version\0\0\0\0\0", 12))
        return APP_BITCOIN_P2P;
    return APP_NONE;
}

const char *
app_name(uint8_t app)
{
    static const char *const n[APP_MAX] = {
        [APP_NONE] = "", [APP_SSH] = "ssh", [APP_RDP] = "rdp", [APP_TLS] = "tls",
        [APP_HTTP] = "http", [APP_STRATUM] = "stratum",
        [APP_STRATUM_AUTHORIZE] = "stratum", [APP_STRATUM_MINING] = "stratum",
        [APP_STRATUM_XMRIG] = "stratum", [APP_STRATUM_ETH] = "stratum",
        [APP_MONERO_P2P] = "monero-p2p", [APP_BITCOIN_P2P] = "bitcoin-p2p",
    };
    return app < APP_MAX ? n[app] : "";
}

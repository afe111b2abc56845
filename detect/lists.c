/* detect/lists.c - trusted and threat lists: file parsers and the lookup
 * structures behind lists.h.
 *
 * Layout. Every address or name maps to a small integer "mask value": an
 * index into masks[], the table of distinct (threat bitmask, trusted) pairs
 * seen while loading. There are few distinct pairs (a handful of lists give
 * a handful of combinations), so a slot stores 4 bytes instead of 9 and an
 * entry shared by several lists costs nothing extra. Value 0 is reserved for
 * "no list", which also marks empty hash slots.
 *
 *   exact IPv4      open-addressing hash, 8-byte slots {addr, value}
 *   exact IPv6      open-addressing hash, 20-byte slots {addr[16], value}
 *   shorter CIDRs   one binary trie per family; nodes are 12-byte
 *                   {child[2], value} records in one growing array and
 *                   refer to each other by index, so there is no malloc per
 *                   entry and a node costs a third of a pointer-based one
 *   names           open-addressing hash, 16-byte slots {offset of the name
 *                   in one string arena, hash, exact value, wildcard value}
 *
 * Hash tables use linear probing and stay at most half full, so a miss
 * looks at ~2.5 slots on average. Everything is built in place by the loader
 * and trimmed to size at the end; afterwards the set is read-only.
 *
 * Exact addresses live in the hashes rather than as /32 and /128 leaves of
 * the tries: a probe touches one or two cache lines, where a 32- or 128-step
 * trie walk touches one per level. The tries only hold the (usually few)
 * shorter prefixes, so their walks stop early. For IPv4 a 65536-entry table
 * (512 KB, built once loading is done) replaces the top 16 levels of the
 * trie: each /16 gives the node to continue from and the union of every
 * shorter prefix above it, so a lookup starts at depth 16 after one read.
 * The lookups issue the hash-slot prefetch first, so the trie walk and the
 * probe's cache miss overlap. Only when something matched and the caller
 * wants the entries does the walk start again from the root to find each
 * list's longest prefix. */
#define _GNU_SOURCE
#include "lists.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mask { uint64_t threats; uint32_t trusted; uint32_t _pad; };
struct v4slot { uint32_t key, val; };
struct v6slot { uint8_t key[16]; uint32_t val; };
struct tnode { uint32_t child[2]; uint32_t val; };
struct dslot { uint32_t off, hash, exact, wild; };

/* IPv4 shortcut over the top 16 levels of t4: for each /16, the t4 node at
 * depth 16 (0 = none) and the union of the values on its path above. */
struct jump { uint32_t node, val; };
#define JUMP_BITS 16

struct trie {
    struct tnode *n;        /* n[0] is the root (the /0 prefix) */
    uint32_t len, cap;
};

struct lists {
    struct mask *masks;     /* masks[0] = no list */
    uint32_t n_masks, cap_masks;
    uint32_t *mintern;      /* loading only: hash of masks[] for dedup */
    uint32_t mintern_cap;

    struct v4slot *h4; uint32_t h4_cap, h4_n;
    struct v6slot *h6; uint32_t h6_cap, h6_n;
    struct trie t4, t6;
    struct jump *j4;        /* NULL when t4 holds no prefix */
    struct dslot *hd; uint32_t hd_cap, hd_n;
    char *arena;            /* NUL-terminated names; offset 0 unused */
    size_t arena_len, arena_cap;

    unsigned n_threat;
    bool has_trusted;
    struct list_stats trusted;
    struct list_stats threat[LISTS_MAX_THREAT];
    size_t mem;
};

/* ------------------------------------------------------------------ */
/* Messages. */

/* A bounded text buffer: lines are appended while they fit; the first one
 * that does not turns the tail into "..." and later ones are dropped. */
struct msgbuf { char *b; size_t cap, len; bool full; };

static void msg_init(struct msgbuf *m, char *b, size_t cap)
{
    m->b = b; m->cap = b ? cap : 0; m->len = 0; m->full = false;
    if (m->cap)
        b[0] = '\0';
}

static void msg_line(struct msgbuf *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void msg_line(struct msgbuf *m, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    if (!m->cap || m->full)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (m->len + n + 2 <= m->cap) {     /* line + '\n' + NUL */
        memcpy(m->b + m->len, line, n);
        m->len += n;
        m->b[m->len++] = '\n';
        m->b[m->len] = '\0';
        return;
    }
    m->full = true;
    if (m->cap < 4) {
        m->b[0] = '\0';
        return;
    }
    size_t at = m->len + 3 < m->cap ? m->len : m->cap - 4;
    memcpy(m->b + at, "...", 4);
    m->len = at + 3;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Quote at most 48 bytes of untrusted text for a message, escaping
 * anything that is not printable ASCII. */
static void excerpt(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 48) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            dst[o++] = (char)c;
        else
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
    }
    dst[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Hashing. */

static inline uint32_t mix32(uint32_t x)
{
    x ^= x >> 16; x *= 0x7feb352dU;
    x ^= x >> 15; x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint32_t hash_v6(const uint8_t *k)
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 8);
    return (uint32_t)mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ULL));
}

/* Names hash right to left (FNV-1a over the reversed bytes), so a lookup
 * gets the hash of every suffix of the queried name in one pass. */
#define FNV_BASIS 2166136261U
#define FNV_PRIME 16777619U

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = FNV_BASIS;
    while (n--)
        h = (h ^ (unsigned char)s[n]) * FNV_PRIME;
    return mix32(h);
}

/* ------------------------------------------------------------------ */
/* Mask values. */

static inline uint32_t mask_hash(const struct mask *m)
{
    return (uint32_t)mix64(m->threats ^ (m->trusted ? 0x5bd1e9955bd1e995ULL : 0));
}

/* The value for masks[val] plus list 'list' (-1 = trusted); *dup is set
 * when the list was already there. 0 when out of memory. */
static uint32_t mask_add(struct lists *l, uint32_t val, int list, bool *dup)
{
    struct mask m = l->masks[val];
    if (list < 0) {
        *dup = m.trusted != 0;
        m.trusted = 1;
    } else {
        *dup = (m.threats >> list) & 1;
        m.threats |= 1ULL << list;
    }
    if (*dup)
        return val;
    if ((l->n_masks + 1) * 2 > l->mintern_cap) {     /* grow the intern hash */
        uint32_t cap = l->mintern_cap ? l->mintern_cap * 2 : 64;
        uint32_t *t = calloc(cap, sizeof(*t));
        if (!t)
            return 0;
        for (uint32_t v = 1; v < l->n_masks; v++) {
            uint32_t i = mask_hash(&l->masks[v]) & (cap - 1);
            while (t[i])
                i = (i + 1) & (cap - 1);
            t[i] = v;
        }
        free(l->mintern);
        l->mintern = t;
        l->mintern_cap = cap;
    }
    uint32_t i = mask_hash(&m) & (l->mintern_cap - 1);
    for (; l->mintern[i]; i = (i + 1) & (l->mintern_cap - 1)) {
        const struct mask *o = &l->masks[l->mintern[i]];
        if (o->threats == m.threats && o->trusted == m.trusted)
            return l->mintern[i];
    }
    if (l->n_masks == l->cap_masks) {
        uint32_t cap = l->cap_masks * 2;
        struct mask *nm = realloc(l->masks, cap * sizeof(*nm));
        if (!nm)
            return 0;
        l->masks = nm;
        l->cap_masks = cap;
    }
    l->masks[l->n_masks] = m;
    l->mintern[i] = l->n_masks;
    return l->n_masks++;
}

/* The value for masks[a] | masks[b]; 0 when out of memory. */
static uint32_t mask_or(struct lists *l, uint32_t a, uint32_t b)
{
    if (!a || a == b)
        return b;
    if (!b)
        return a;
    struct mask m = l->masks[b];
    uint32_t v = a;
    bool dup;
    if (m.trusted && !(v = mask_add(l, v, -1, &dup)))
        return 0;
    for (uint64_t bits = m.threats; bits; bits &= bits - 1)
        if (!(v = mask_add(l, v, __builtin_ctzll(bits), &dup)))
            return 0;
    return v;
}

/* ------------------------------------------------------------------ */
/* Building. Each returns 0, or -1 when out of memory. */

static int h4_add(struct lists *l, uint32_t key, int list, bool *dup)
{
    if ((l->h4_n + 1) * 2 > l->h4_cap) {
        if (l->h4_cap >= (1U << 30))
            return -1;
        uint32_t cap = l->h4_cap ? l->h4_cap * 2 : 1024;
        struct v4slot *t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        for (uint32_t j = 0; j < l->h4_cap; j++) {
            if (!l->h4[j].val)
                continue;
            uint32_t i = mix32(l->h4[j].key) & (cap - 1);
            while (t[i].val)
                i = (i + 1) & (cap - 1);
            t[i] = l->h4[j];
        }
        free(l->h4);
        l->h4 = t;
        l->h4_cap = cap;
    }
    uint32_t m = l->h4_cap - 1, i = mix32(key) & m;
    while (l->h4[i].val && l->h4[i].key != key)
        i = (i + 1) & m;
    uint32_t nv = mask_add(l, l->h4[i].val, list, dup);
    if (!nv)
        return -1;
    if (!l->h4[i].val)
        l->h4_n++;
    l->h4[i].key = key;
    l->h4[i].val = nv;
    return 0;
}

static int h6_add(struct lists *l, const uint8_t *key, int list, bool *dup)
{
    if ((l->h6_n + 1) * 2 > l->h6_cap) {
        if (l->h6_cap >= (1U << 28))
            return -1;
        uint32_t cap = l->h6_cap ? l->h6_cap * 2 : 256;
        struct v6slot *t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        for (uint32_t j = 0; j < l->h6_cap; j++) {
            if (!l->h6[j].val)
                continue;
            uint32_t i = hash_v6(l->h6[j].key) & (cap - 1);
            while (t[i].val)
                i = (i + 1) & (cap - 1);
            t[i] = l->h6[j];
        }
        free(l->h6);
        l->h6 = t;
        l->h6_cap = cap;
    }
    uint32_t m = l->h6_cap - 1, i = hash_v6(key) & m;
    while (l->h6[i].val && memcmp(l->h6[i].key, key, 16) != 0)
        i = (i + 1) & m;
    uint32_t nv = mask_add(l, l->h6[i].val, list, dup);
    if (!nv)
        return -1;
    if (!l->h6[i].val)
        l->h6_n++;
    memcpy(l->h6[i].key, key, 16);
    l->h6[i].val = nv;
    return 0;
}

static inline unsigned addr_bit(const uint8_t *a, unsigned i)
{
    return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

static int trie_add(struct lists *l, struct trie *t, const uint8_t *a,
                    unsigned plen, int list, bool *dup)
{
    if (!t->cap) {
        t->n = calloc(1024, sizeof(*t->n));
        if (!t->n)
            return -1;
        t->cap = 1024;
        t->len = 1;
    }
    uint32_t n = 0;
    for (unsigned d = 0; d < plen; d++) {
        unsigned b = addr_bit(a, d);
        uint32_t c = t->n[n].child[b];
        if (!c) {
            if (t->len == t->cap) {
                if (t->cap >= (1U << 30))
                    return -1;
                struct tnode *nn = realloc(t->n, (size_t)t->cap * 2 * sizeof(*nn));
                if (!nn)
                    return -1;
                t->n = nn;
                t->cap *= 2;
            }
            c = t->len++;
            memset(&t->n[c], 0, sizeof(t->n[c]));
            t->n[n].child[b] = c;
        }
        n = c;
    }
    uint32_t nv = mask_add(l, t->n[n].val, list, dup);
    if (!nv)
        return -1;
    t->n[n].val = nv;
    return 0;
}

/* Does the arena string at off equal s[0..n)? */
static inline bool name_eq(const struct lists *l, uint32_t off, const char *s, size_t n)
{
    const char *a = l->arena + off;
    return strncmp(a, s, n) == 0 && a[n] == '\0';
}

/* name: lower-case, no final dot, no "*." (wild says that). */
static int dom_add(struct lists *l, const char *name, size_t n, bool wild,
                   int list, bool *dup)
{
    if ((l->hd_n + 1) * 2 > l->hd_cap) {
        if (l->hd_cap >= (1U << 28))
            return -1;
        uint32_t cap = l->hd_cap ? l->hd_cap * 2 : 1024;
        struct dslot *t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        for (uint32_t j = 0; j < l->hd_cap; j++) {
            if (!l->hd[j].off)
                continue;
            uint32_t i = l->hd[j].hash & (cap - 1);
            while (t[i].off)
                i = (i + 1) & (cap - 1);
            t[i] = l->hd[j];
        }
        free(l->hd);
        l->hd = t;
        l->hd_cap = cap;
    }
    uint32_t h = hash_name(name, n), m = l->hd_cap - 1, i = h & m;
    while (l->hd[i].off && !(l->hd[i].hash == h && name_eq(l, l->hd[i].off, name, n)))
        i = (i + 1) & m;
    struct dslot *s = &l->hd[i];
    uint32_t nv = mask_add(l, wild ? s->wild : s->exact, list, dup);
    if (!nv)
        return -1;
    if (!s->off) {
        if (l->arena_len + n + 1 > l->arena_cap) {
            size_t cap = l->arena_cap ? l->arena_cap * 2 : 65536;
            while (cap < l->arena_len + n + 1)
                cap *= 2;
            if (cap > UINT32_MAX)
                return -1;
            char *na = realloc(l->arena, cap);
            if (!na)
                return -1;
            l->arena = na;
            l->arena_cap = cap;
        }
        s->off = (uint32_t)l->arena_len;
        s->hash = h;
        memcpy(l->arena + l->arena_len, name, n);
        l->arena[l->arena_len + n] = '\0';
        l->arena_len += n + 1;
        l->hd_n++;
    }
    if (wild)
        s->wild = nv;
    else
        s->exact = nv;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Entry parsing, shared by the formats. */

struct ent {
    int family;             /* 4 or 6 for addresses, 0 for a name */
    unsigned plen;
    uint8_t a[16];
    bool wild;
    size_t nlen;
    char name[256];
};

enum { P_BAD = -1, P_IP = 1, P_NAME = 2, P_UNSUP = 3 };

/* "1.2.3.4", "2001:db8::/32", ... Returns P_IP or P_BAD with *why set. */
static int parse_ip(const char *s, size_t n, struct ent *e, const char **why)
{
    char buf[64];
    if (n >= sizeof(buf)) {
        *why = "address too long";
        return P_BAD;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = memchr(buf, '/', n);
    if (slash)
        *slash = '\0';
    bool v6 = strchr(buf, ':') != NULL;
    for (const char *p = buf; *p; p++) {
        bool ok = isdigit((unsigned char)*p) || *p == '.' ||
                  (v6 && (*p == ':' || isxdigit((unsigned char)*p)));
        if (!ok) {
            *why = v6 ? "bad IPv6 address" : "bad IPv4 address";
            return P_BAD;
        }
    }
    memset(e->a, 0, sizeof(e->a));
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, e->a) != 1) {
        *why = v6 ? "bad IPv6 address" : "bad IPv4 address";
        return P_BAD;
    }
    unsigned max = v6 ? 128 : 32, plen = max;
    if (slash) {
        const char *p = slash + 1;
        size_t k = strlen(p);
        if (k < 1 || k > 3 || strspn(p, "0123456789") != k || (unsigned)atoi(p) > max) {
            *why = "bad prefix length";
            return P_BAD;
        }
        plen = (unsigned)atoi(p);
    }
    e->family = v6 ? 6 : 4;
    static const uint8_t mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
    if (v6 && plen >= 96 && memcmp(e->a, mapped, 12) == 0) {
        memmove(e->a, e->a + 12, 4);    /* ::ffff:a.b.c.d is a.b.c.d */
        memset(e->a + 4, 0, 12);
        e->family = 4;
        plen -= 96;
    }
    for (unsigned i = plen; i < 128; i++)   /* clear the host bits */
        e->a[i >> 3] &= (uint8_t)~(0x80 >> (i & 7));
    e->plen = plen;
    return P_IP;
}

/* "evil.com", "*.evil.com", ".evil.com", "Evil.COM." Returns P_NAME or
 * P_BAD. allow_wild false: a leading "*." or "." is an error. */
static int parse_name(const char *s, size_t n, struct ent *e, bool allow_wild,
                      const char **why)
{
    e->wild = false;
    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        e->wild = true;
        s += 2; n -= 2;
    } else if (n >= 1 && s[0] == '.') {
        e->wild = true;
        s += 1; n -= 1;
    }
    if (e->wild && !allow_wild) {
        *why = "wildcard not allowed here";
        return P_BAD;
    }
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0) {
        *why = "empty name";
        return P_BAD;
    }
    if (n > 253) {
        *why = "name longer than 253 bytes";
        return P_BAD;
    }
    size_t lab = 0, labels = 1;
    bool lab_digits = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (lab == 0) {
                *why = "empty label";
                return P_BAD;
            }
            labels++;
            lab = 0;
            lab_digits = true;
            e->name[i] = '.';
            continue;
        }
        if (c == '*') {
            *why = "'*' is only allowed as a leading \"*.\"";
            return P_BAD;
        }
        if (!(isalnum(c) || c == '-' || c == '_' || c >= 0x80)) {
            *why = "bad character in name";
            return P_BAD;
        }
        if (!isdigit(c))
            lab_digits = false;
        if (++lab > 63) {
            *why = "label longer than 63 bytes";
            return P_BAD;
        }
        e->name[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    if (lab == 0) {
        *why = "empty label";
        return P_BAD;
    }
    if (lab_digits) {
        *why = "not an address or a name (numeric last label)";
        return P_BAD;
    }
    if (labels < 2 && !e->wild) {
        *why = "not an address or a domain name";
        return P_BAD;
    }
    e->name[n] = '\0';
    e->nlen = n;
    e->family = 0;
    return P_NAME;
}

/* Digits and dots only, or a colon: it is meant as an address. */
static bool looks_ip(const char *s, size_t n)
{
    if (memchr(s, ':', n))
        return true;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && s[i] != '.')
            return false;
    return n > 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* A host as written in a txt line or a URL: address, "[v6]", name, each
 * with an optional ":port". */
static int parse_host(const char *s, size_t n, struct ent *e, const char **why)
{
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            *why = "'[' without ']'";
            return P_BAD;
        }
        size_t in = (size_t)(close - s - 1), rest = n - in - 2;
        const char *r = close + 1;
        if (rest && !(r[0] == ':' && rest <= 6 && all_digits(r + 1, rest - 1))) {
            *why = "bad port";
            return P_BAD;
        }
        if (!memchr(s + 1, ':', in)) {
            *why = "bad IPv6 address";
            return P_BAD;
        }
        return parse_ip(s + 1, in, e, why);
    }
    const char *c1 = memchr(s, ':', n);
    if (c1 && !memchr(c1 + 1, ':', n - (size_t)(c1 - s) - 1)) {   /* one colon */
        size_t pl = n - (size_t)(c1 - s) - 1;
        if (pl < 1 || pl > 5 || !all_digits(c1 + 1, pl)) {
            *why = "bad port";
            return P_BAD;
        }
        n = (size_t)(c1 - s);
    }
    if (n >= 3 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's') &&
        all_digits(s + 2, n - 2))
        return P_UNSUP;                 /* AS number */
    if (looks_ip(s, n))
        return parse_ip(s, n, e, why);
    return parse_name(s, n, e, true, why);
}

/* The first field of a txt line. */
static int parse_txt_entry(const char *s, size_t n, struct ent *e, const char **why)
{
    /* scheme://host[:port][/]: the host; with a path it is a URL trail. */
    const char *sep = n > 3 ? memmem(s, n, "://", 3) : NULL;
    if (sep && sep > s) {
        bool scheme = isalpha((unsigned char)s[0]);
        for (const char *p = s; p < sep; p++)
            if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
                scheme = false;
        if (scheme) {
            const char *h = sep + 3, *end = s + n;
            const char *slash = memchr(h, '/', (size_t)(end - h));
            const char *q = memchr(h, '?', (size_t)(end - h));
            if (q && (!slash || q < slash))
                slash = q;
            size_t hl = (size_t)((slash ? slash : end) - h);
            if (hl == 0) {
                *why = "URL without a host";
                return P_BAD;
            }
            if (memchr(h, '@', hl)) {   /* user@host: take what follows */
                const char *at = memrchr(h, '@', hl);
                hl -= (size_t)(at + 1 - h);
                h = at + 1;
            }
            if (slash && !(slash + 1 == end && *slash == '/')) {
                int r = parse_host(h, hl, e, why);
                return r == P_BAD ? P_BAD : P_UNSUP;
            }
            return parse_host(h, hl, e, why);
        }
    }
    if (s[0] == '/')
        return P_UNSUP;                 /* a URL path trail */
    const char *slash = memchr(s, '/', n);
    if (slash) {
        size_t hl = (size_t)(slash - s);
        if (looks_ip(s, hl))
            return parse_ip(s, n, e, why);      /* CIDR */
        int r = parse_host(s, hl, e, why);      /* host/path: a URL trail */
        return r == P_BAD ? P_BAD : P_UNSUP;
    }
    return parse_host(s, n, e, why);
}

/* ------------------------------------------------------------------ */
/* Loading one list. */

struct ld {
    struct lists *l;
    int list;                   /* -1 trusted, else the threat index */
    struct list_stats *st;
    const char *path;
    struct msgbuf *warn;
    unsigned first_bad;         /* line of the first malformed line */
    const char *first_why;
    bool oom;
};

static void bad(struct ld *ld, unsigned line, const char *why, const char *s, size_t n)
{
    if (ld->st->malformed++ == 0) {
        ld->first_bad = line;
        ld->first_why = why;
    }
    if (ld->st->malformed <= LISTS_WARN_PER_FILE) {
        char ex[256];
        excerpt(ex, sizeof(ex), s, n);
        msg_line(ld->warn, "%s:%u: %s: '%s'", ld->path, line, why, ex);
    }
}

static void add(struct ld *ld, const struct ent *e)
{
    struct lists *l = ld->l;
    struct list_stats *st = ld->st;
    bool dup = false;
    int r;
    uint64_t *count;
    if (e->family == 4 && e->plen == 32) {
        uint32_t k;
        memcpy(&k, e->a, 4);
        r = h4_add(l, k, ld->list, &dup);
        count = &st->v4;
    } else if (e->family == 6 && e->plen == 128) {
        r = h6_add(l, e->a, ld->list, &dup);
        count = &st->v6;
    } else if (e->family == 4) {
        r = trie_add(l, &l->t4, e->a, e->plen, ld->list, &dup);
        count = &st->cidr4;
    } else if (e->family == 6) {
        r = trie_add(l, &l->t6, e->a, e->plen, ld->list, &dup);
        count = &st->cidr6;
    } else {
        r = dom_add(l, e->name, e->nlen, e->wild, ld->list, &dup);
        count = e->wild ? &st->wildcards : &st->domains;
    }
    if (r < 0)
        ld->oom = true;
    else if (dup)
        st->duplicates++;
    else
        (*count)++;
}

static inline bool is_sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static void load_txt(struct ld *ld, const char *buf, size_t len)
{
    unsigned line = 0;
    const char *p = buf, *end = buf + len;
    struct ent e;
    while (p < end && !ld->oom) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && is_sp(*s))
            s++;
        if (s == le || *s == '#')
            continue;
        const char *t = s;
        while (t < le && !is_sp(*t) && *t != '#' && *t != ',')
            t++;
        if (t == s) {                   /* a line starting with ',' */
            bad(ld, line, "empty entry", s, (size_t)(le - s));
            continue;
        }
        const char *why = "malformed";
        int r = parse_txt_entry(s, (size_t)(t - s), &e, &why);
        if (r == P_BAD)
            bad(ld, line, why, s, (size_t)(le - s));
        else if (r == P_UNSUP)
            ld->st->unsupported++;
        else
            add(ld, &e);
    }
    ld->st->lines = line;
}

/* CSV (RFC 4180 quoting, fields unescaped in place). */
#define CSV_MAXF 32
struct csvrec {
    unsigned line;              /* line the record starts on */
    unsigned nf;                /* fields kept (at most CSV_MAXF) */
    char *f[CSV_MAXF];
    size_t fl[CSV_MAXF];
    bool unterminated;          /* a quote never closed */
    char *raw; size_t rawlen;   /* the record's first line, for messages */
};

static void trim(char **s, size_t *n)
{
    while (*n && is_sp(**s)) { (*s)++; (*n)--; }
    while (*n && is_sp((*s)[*n - 1])) (*n)--;
}

static bool csv_next(char *buf, size_t len, size_t *pos, unsigned *line, struct csvrec *r)
{
    size_t i = *pos;
    if (i >= len)
        return false;
    r->nf = 0;
    r->unterminated = false;
    r->line = ++*line;
    r->raw = buf + i;
    const char *nl = memchr(buf + i, '\n', len - i);
    r->rawlen = (size_t)((nl ? nl : buf + len) - (buf + i));
    for (;;) {                          /* one field per turn */
        char *out = buf + i, *start = out;
        while (i < len && is_sp(buf[i]) && buf[i] != '\r')
            i++;
        if (i < len && buf[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) {
                    r->unterminated = true;
                    break;
                }
                if (buf[i] == '"') {
                    if (i + 1 < len && buf[i + 1] == '"') {
                        *out++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (buf[i] == '\n')
                    ++*line;
                *out++ = buf[i++];
            }
            while (i < len && buf[i] != ',' && buf[i] != '\n')
                i++;                    /* junk after the closing quote */
        } else {
            while (i < len && buf[i] != ',' && buf[i] != '\n')
                *out++ = buf[i++];
        }
        if (r->nf < CSV_MAXF) {
            char *f = start;
            size_t fl = (size_t)(out - start);
            trim(&f, &fl);
            r->f[r->nf] = f;
            r->fl[r->nf++] = fl;
        }
        if (i < len && buf[i] == ',') {
            i++;
            continue;
        }
        if (i < len)
            i++;                        /* the '\n' */
        break;
    }
    *pos = i;
    return true;
}

static bool blank_or_comment(const struct csvrec *r)
{
    return (r->nf == 1 && r->fl[0] == 0) || (r->nf >= 1 && r->fl[0] && r->f[0][0] == '#');
}

static bool field_is(const char *f, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(f, want, n) == 0;
}

static int load_otx(struct ld *ld, char *buf, size_t len, char *err, size_t errlen)
{
    size_t pos = 0;
    unsigned line = 0;
    struct csvrec r;
    int ctype = -1, cval = -1;
    struct ent e;
    while (csv_next(buf, len, &pos, &line, &r)) {
        if (blank_or_comment(&r))
            continue;
        for (unsigned i = 0; i < r.nf; i++) {
            if (field_is(r.f[i], r.fl[i], "indicator type"))
                ctype = (int)i;
            else if (field_is(r.f[i], r.fl[i], "indicator"))
                cval = (int)i;
        }
        break;
    }
    if (ctype < 0 || cval < 0) {
        set_err(err, errlen, "%s:%u: not an OTX export: no header row with "
                "'Indicator type' and 'Indicator' columns", ld->path, line ? line : 1);
        ld->st->lines = line;
        return -1;
    }
    while (!ld->oom && csv_next(buf, len, &pos, &line, &r)) {
        if (blank_or_comment(&r))
            continue;
        if (r.unterminated) {
            bad(ld, r.line, "unterminated quote", r.raw, r.rawlen);
            continue;
        }
        if (r.nf <= (unsigned)ctype || r.nf <= (unsigned)cval) {
            bad(ld, r.line, "too few columns", r.raw, r.rawlen);
            continue;
        }
        const char *t = r.f[ctype], *v = r.f[cval];
        size_t tl = r.fl[ctype], vl = r.fl[cval];
        const char *why = "indicator does not match its type";
        int p = P_BAD;
        if (field_is(t, tl, "IPv4") || field_is(t, tl, "IPv6") || field_is(t, tl, "CIDR")) {
            p = parse_ip(v, vl, &e, &why);
            if (p == P_IP) {
                bool cidr = field_is(t, tl, "CIDR");
                int fam = cidr ? e.family : (t[3] == '4' ? 4 : 6);
                if (e.family != fam || (!cidr && e.plen != (fam == 4 ? 32u : 128u))) {
                    p = P_BAD;
                    why = "indicator does not match its type";
                }
            }
        } else if (field_is(t, tl, "hostname") || field_is(t, tl, "domain")) {
            p = parse_name(v, vl, &e, true, &why);
            if (p == P_NAME && field_is(t, tl, "domain"))
                e.wild = true;          /* OTX: a domain covers its hostnames */
        } else {
            ld->st->unsupported++;
            continue;
        }
        if (p == P_BAD)
            bad(ld, r.line, why, r.raw, r.rawlen);
        else
            add(ld, &e);
    }
    ld->st->lines = line;
    return 0;
}

static bool is_int(const char *s, size_t n)
{
    return n >= 1 && n <= 10 && all_digits(s, n);
}

static void load_proofpoint(struct ld *ld, char *buf, size_t len)
{
    size_t pos = 0;
    unsigned line = 0;
    struct csvrec r;
    struct ent e;
    bool first = true;
    while (!ld->oom && csv_next(buf, len, &pos, &line, &r)) {
        if (blank_or_comment(&r))
            continue;
        const char *why = "malformed";
        int p = P_BAD;
        if (r.nf < 3) {
            why = "expected ip-or-domain,category,score";
        } else if (!is_int(r.f[1], r.fl[1]) || !is_int(r.f[2], r.fl[2])) {
            why = "category and score must be integers";
        } else if (looks_ip(r.f[0], r.fl[0])) {
            p = parse_ip(r.f[0], r.fl[0], &e, &why);
        } else {
            p = parse_name(r.f[0], r.fl[0], &e, true, &why);
        }
        bool was_first = first;
        first = false;
        if (p == P_BAD) {
            /* A header row ("ip,category,score") is a first row that does
             * not parse and names the columns. */
            if (was_first && r.nf >= 2 && !is_int(r.f[1], r.fl[1]) &&
                memmem(r.raw, r.rawlen, "ategory", 7))
                continue;
            bad(ld, r.line, why, r.raw, r.rawlen);
        } else {
            add(ld, &e);
        }
    }
    ld->st->lines = line;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Parse buf (mutable, len bytes) into list 'list' of l. 0 or -1 with err. */
static int load_list(struct lists *l, int list, const char *path, const char *format,
                     char *buf, size_t len, struct msgbuf *warn, char *err, size_t errlen)
{
    struct list_stats *st = list < 0 ? &l->trusted : &l->threat[list];
    struct ld ld = { .l = l, .list = list, .st = st, .path = path, .warn = warn };
    if (!strcmp(format, "txt"))
        load_txt(&ld, buf, len);
    else if (!strcmp(format, "otx")) {
        if (load_otx(&ld, buf, len, err, errlen) < 0)
            return -1;
    } else
        load_proofpoint(&ld, buf, len);
    if (ld.oom) {
        set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    uint64_t n = list_stats_entries(st);
    if (n == 0 && st->malformed) {
        set_err(err, errlen, "%s:%u: no valid entry in %llu lines (%llu malformed, "
                "first: %s); is the format '%s' right?", path, ld.first_bad,
                (unsigned long long)st->lines, (unsigned long long)st->malformed,
                ld.first_why, format);
        return -1;
    }
    if (st->malformed > LISTS_WARN_PER_FILE)
        msg_line(warn, "%s: %llu malformed lines skipped (first %d shown)", path,
                 (unsigned long long)st->malformed, LISTS_WARN_PER_FILE);
    if (st->unsupported)
        msg_line(warn, "%s: %llu entries of kinds not matched on skipped (%s)", path,
                 (unsigned long long)st->unsupported,
                 !strcmp(format, "otx") ? "indicator types other than IPv4, IPv6, "
                 "CIDR, domain, hostname" : "URLs with a path, AS numbers");
    if (n == 0 && !st->unsupported)
        msg_line(warn, "%s: no entries", path);
    return 0;
}

static char *read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
        if (len == cap) {
            char *nb = cap > (SIZE_MAX >> 2) ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (!b) {
        set_err(err, errlen, "%s: out of memory", path);
    } else if (ferror(f)) {
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        free(b);
        b = NULL;
    }
    fclose(f);
    *lenp = len;
    return b;
}

static struct lists *new_set(void)
{
    struct lists *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->cap_masks = 16;
    l->masks = calloc(l->cap_masks, sizeof(*l->masks));
    l->n_masks = 1;                     /* value 0: no list */
    l->arena_len = 1;                   /* offset 0: empty slot */
    if (!l->masks) {
        free(l);
        return NULL;
    }
    return l;
}

static const char *dup_str(const char *s, bool *oom)
{
    char *d = strdup(s ? s : "");
    if (!d)
        *oom = true;
    return d;
}

static int set_names(struct list_stats *st, const char *name, const char *cat,
                     const char *path, const char *fmt)
{
    bool oom = false;
    st->name = dup_str(name, &oom);
    st->category = dup_str(cat, &oom);
    st->path = dup_str(path, &oom);
    st->format = dup_str(fmt, &oom);
    return oom ? -1 : 0;
}

static int jump_fill(struct lists *l, uint32_t node, unsigned depth, uint32_t acc,
                     uint32_t prefix)
{
    if (depth == JUMP_BITS) {
        l->j4[prefix] = (struct jump){ node, acc };
        return 0;
    }
    uint32_t nv = mask_or(l, acc, l->t4.n[node].val);
    if (!nv && (acc || l->t4.n[node].val))
        return -1;
    for (unsigned b = 0; b < 2; b++) {
        uint32_t c = l->t4.n[node].child[b], p = prefix << 1 | b;
        if (c) {
            if (jump_fill(l, c, depth + 1, nv, p) < 0)
                return -1;
        } else {
            unsigned span = JUMP_BITS - depth - 1;
            for (uint32_t i = 0; i < (1U << span); i++)
                l->j4[(p << span) | i] = (struct jump){ 0, nv };
        }
    }
    return 0;
}

/* Trim to size and free what only loading needed. -1 when out of memory. */
static int finish(struct lists *l)
{
    if (l->t4.len > 1) {
        l->j4 = malloc(sizeof(*l->j4) << JUMP_BITS);
        if (!l->j4 || jump_fill(l, 0, 0, 0, 0) < 0)
            return -1;
    }
    free(l->mintern);
    l->mintern = NULL;
    l->mintern_cap = 0;
    struct trie *ts[2] = { &l->t4, &l->t6 };
    for (int i = 0; i < 2; i++) {
        struct trie *t = ts[i];
        if (t->cap > t->len) {
            struct tnode *n = realloc(t->n, t->len * sizeof(*n));
            if (n) {
                t->n = n;
                t->cap = t->len;
            }
        }
    }
    if (l->arena && l->arena_cap > l->arena_len) {
        char *a = realloc(l->arena, l->arena_len);
        if (a) {
            l->arena = a;
            l->arena_cap = l->arena_len;
        }
    }
    size_t m = sizeof(*l) + (size_t)l->cap_masks * sizeof(struct mask) +
               (size_t)l->h4_cap * sizeof(struct v4slot) +
               (size_t)l->h6_cap * sizeof(struct v6slot) +
               ((size_t)l->t4.cap + l->t6.cap) * sizeof(struct tnode) +
               (l->j4 ? sizeof(struct jump) << JUMP_BITS : 0) +
               (size_t)l->hd_cap * sizeof(struct dslot) + l->arena_cap;
    const struct list_stats *all[LISTS_MAX_THREAT + 1];
    unsigned na = 0;
    if (l->has_trusted)
        all[na++] = &l->trusted;
    for (unsigned i = 0; i < l->n_threat; i++)
        all[na++] = &l->threat[i];
    for (unsigned i = 0; i < na; i++)
        m += strlen(all[i]->name) + strlen(all[i]->category) +
             strlen(all[i]->path) + strlen(all[i]->format) + 4;
    l->mem = m;
    return 0;
}

struct lists *lists_load(const char *trusted_path,
                         const struct cfg_threat_list *threat, unsigned n,
                         char *warn, size_t warnlen, char *err, size_t errlen)
{
    struct msgbuf w;
    msg_init(&w, warn, warnlen);
    if (err && errlen)
        err[0] = '\0';
    if (n > LISTS_MAX_THREAT) {
        set_err(err, errlen, "lists.threat: at most %d threat lists, got %u",
                LISTS_MAX_THREAT, n);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        const char *f = threat[i].format && threat[i].format[0] ? threat[i].format : "txt";
        if (strcmp(f, "txt") && strcmp(f, "otx") && strcmp(f, "proofpoint")) {
            set_err(err, errlen, "lists.threat[%u] (%s): unknown format '%s' "
                    "(txt, otx or proofpoint)", i, threat[i].name ? threat[i].name : "", f);
            return NULL;
        }
        if (!threat[i].path || !threat[i].path[0]) {
            set_err(err, errlen, "lists.threat[%u] (%s): no path", i,
                    threat[i].name ? threat[i].name : "");
            return NULL;
        }
    }
    struct lists *l = new_set();
    if (!l) {
        set_err(err, errlen, "lists: out of memory");
        return NULL;
    }
    for (int i = trusted_path && trusted_path[0] ? -1 : 0; i < (int)n; i++) {
        const char *path = i < 0 ? trusted_path : threat[i].path;
        const char *fmt = i < 0 ? "txt" : threat[i].format && threat[i].format[0]
                                          ? threat[i].format : "txt";
        struct list_stats *st = i < 0 ? &l->trusted : &l->threat[i];
        if (i < 0)
            l->has_trusted = true;
        else
            l->n_threat = (unsigned)i + 1;
        if (set_names(st, i < 0 ? "trusted" : threat[i].name,
                      i < 0 ? "" : threat[i].category, path, fmt) < 0) {
            set_err(err, errlen, "lists: out of memory");
            lists_free(l);
            return NULL;
        }
        double t0 = now_ms();
        size_t len;
        char *buf = read_file(path, &len, err, errlen);
        if (!buf) {
            lists_free(l);
            return NULL;
        }
        int r = load_list(l, i, path, fmt, buf, len, &w, err, errlen);
        free(buf);
        if (r < 0) {
            lists_free(l);
            return NULL;
        }
        st->load_ms = now_ms() - t0;
    }
    if (finish(l) < 0) {
        set_err(err, errlen, "lists: out of memory");
        lists_free(l);
        return NULL;
    }
    return l;
}

struct lists *lists_load_buffer(const char *data, size_t len, const char *format,
                                char *warn, size_t warnlen, char *err, size_t errlen)
{
    struct msgbuf w;
    msg_init(&w, warn, warnlen);
    if (err && errlen)
        err[0] = '\0';
    if (!format || (strcmp(format, "txt") && strcmp(format, "otx") &&
                    strcmp(format, "proofpoint"))) {
        set_err(err, errlen, "mem: unknown format '%s'", format ? format : "");
        return NULL;
    }
    struct lists *l = new_set();
    char *buf = malloc(len ? len : 1);
    if (!l || !buf || set_names(&l->threat[0], "mem", "test", "mem", format) < 0) {
        if (l)
            l->n_threat = 1;
        lists_free(l);
        free(buf);
        set_err(err, errlen, "mem: out of memory");
        return NULL;
    }
    l->n_threat = 1;
    if (len)
        memcpy(buf, data, len);
    double t0 = now_ms();
    int r = load_list(l, 0, "mem", format, buf, len, &w, err, errlen);
    free(buf);
    if (r < 0) {
        lists_free(l);
        return NULL;
    }
    l->threat[0].load_ms = now_ms() - t0;
    if (finish(l) < 0) {
        set_err(err, errlen, "mem: out of memory");
        lists_free(l);
        return NULL;
    }
    return l;
}

static void free_names(struct list_stats *st)
{
    free((char *)st->name);
    free((char *)st->category);
    free((char *)st->path);
    free((char *)st->format);
}

void lists_free(struct lists *l)
{
    if (!l)
        return;
    if (l->has_trusted)
        free_names(&l->trusted);
    for (unsigned i = 0; i < l->n_threat; i++)
        free_names(&l->threat[i]);
    free(l->masks);
    free(l->mintern);
    free(l->h4);
    free(l->h6);
    free(l->t4.n);
    free(l->t6.n);
    free(l->j4);
    free(l->hd);
    free(l->arena);
    free(l);
}

/* ------------------------------------------------------------------ */
/* Lookups. */

static void hit_clear(struct list_hit *out)
{
    out->trusted = false;
    out->trusted_entry[0] = '\0';
    out->threats = 0;
    out->n = 0;
}

/* "addr" for a full-length prefix, else "network/plen". */
static void prefix_text(char *dst, const uint8_t *addr, int family, unsigned plen)
{
    uint8_t a[16];
    char s[INET6_ADDRSTRLEN];
    memcpy(a, addr, 16);
    for (unsigned i = plen; i < 128; i++)
        a[i >> 3] &= (uint8_t)~(0x80 >> (i & 7));
    inet_ntop(family == 4 ? AF_INET : AF_INET6, a, s, sizeof(s));
    if (plen == (family == 4 ? 32u : 128u))
        snprintf(dst, LISTS_ENTRY_LEN, "%s", s);
    else
        snprintf(dst, LISTS_ENTRY_LEN, "%s/%u", s, plen);
}

static void hit_add(const struct lists *l, struct list_hit *out, unsigned i)
{
    struct list_match *m = &out->m[out->n++];
    m->index = i;
    m->name = l->threat[i].name;
    m->category = l->threat[i].category;
    m->entry[0] = '\0';
}

/* Each list's longest matching prefix in t: depth[i] for threat list i,
 * *tdepth for the trusted list (-1 if none). */
static void walk_detail(const struct lists *l, const struct trie *t, const uint8_t *a,
                        unsigned maxd, uint8_t *depth, int *tdepth)
{
    uint32_t n = 0;
    for (unsigned d = 0;; d++) {
        const struct mask *mk = &l->masks[t->n[n].val];
        for (uint64_t b = mk->threats; b; b &= b - 1)
            depth[__builtin_ctzll(b)] = (uint8_t)d;
        if (mk->trusted)
            *tdepth = (int)d;
        if (d == maxd || !(n = t->n[n].child[addr_bit(a, d)]))
            break;
    }
}

int lists_match_ip(const struct lists *l, const struct mg_addr *addr, int family,
                   struct list_hit *out)
{
    static const uint8_t mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
    const uint8_t *a = addr->b;
    uint8_t v4[16];
    if (out)
        hit_clear(out);
    if (family == 6 && memcmp(a, mapped, 12) == 0) {
        memset(v4, 0, sizeof(v4));
        memcpy(v4, a + 12, 4);
        a = v4;
        family = 4;
    }
    if (family != 4 && family != 6)
        return 0;

    /* Start the exact probe's memory access, then walk the prefixes. */
    uint32_t k4 = 0, hi = 0;
    if (family == 4 && l->h4_cap) {
        memcpy(&k4, a, 4);
        hi = mix32(k4) & (l->h4_cap - 1);
        __builtin_prefetch(&l->h4[hi]);
    } else if (family == 6 && l->h6_cap) {
        hi = hash_v6(a) & (l->h6_cap - 1);
        __builtin_prefetch(&l->h6[hi]);
    }
    const struct trie *t = family == 4 ? &l->t4 : &l->t6;
    unsigned maxd = family == 4 ? 32 : 128;
    uint64_t threats = 0;
    uint32_t trusted = 0;
    if (t->len) {
        uint32_t n = 0;
        unsigned d = 0;
        if (l->j4 && family == 4) {
            const struct jump *j = &l->j4[(uint32_t)a[0] << 8 | a[1]];
            threats = l->masks[j->val].threats;
            trusted = l->masks[j->val].trusted;
            n = j->node;
            d = JUMP_BITS;
        }
        while (n || d == 0) {
            const struct mask *mk = &l->masks[t->n[n].val];
            threats |= mk->threats;
            trusted |= mk->trusted;
            if (d == maxd)
                break;
            n = t->n[n].child[addr_bit(a, d++)];
        }
    }
    uint32_t ev = 0;                    /* exact match value */
    if (family == 4 && l->h4_cap) {
        for (uint32_t i = hi, m = l->h4_cap - 1; l->h4[i].val; i = (i + 1) & m)
            if (l->h4[i].key == k4) {
                ev = l->h4[i].val;
                break;
            }
    } else if (family == 6 && l->h6_cap) {
        for (uint32_t i = hi, m = l->h6_cap - 1; l->h6[i].val; i = (i + 1) & m)
            if (memcmp(l->h6[i].key, a, 16) == 0) {
                ev = l->h6[i].val;
                break;
            }
    }
    uint64_t exact = l->masks[ev].threats;
    threats |= exact;
    trusted |= l->masks[ev].trusted;
    int ret = (trusted ? LISTS_TRUSTED : 0) | (threats ? LISTS_THREAT : 0);
    if (!out || !ret)
        return ret;

    /* Something matched: which entry of each list. Exact wins; otherwise
     * the deepest trie node of that list on the path. */
    uint8_t depth[LISTS_MAX_THREAT];
    int tdepth = -1;
    if (t->len)
        walk_detail(l, t, a, maxd, depth, &tdepth);
    out->trusted = trusted != 0;
    if (l->masks[ev].trusted)
        prefix_text(out->trusted_entry, a, family, maxd);
    else if (trusted)
        prefix_text(out->trusted_entry, a, family, (unsigned)tdepth);
    out->threats = threats;
    for (uint64_t b = threats; b; b &= b - 1) {
        unsigned i = (unsigned)__builtin_ctzll(b);
        hit_add(l, out, i);
        prefix_text(out->m[out->n - 1].entry, a, family,
                    (exact >> i) & 1 ? maxd : depth[i]);
    }
    return ret;
}

int lists_match_domain(const struct lists *l, const char *name, struct list_hit *out)
{
    char buf[256];
    size_t len = strnlen(name, 256);
    if (out)
        hit_clear(out);
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > 253 || !l->hd_cap)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        buf[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    buf[len] = '\0';

    /* Suffix starts and their hashes, shortest suffix first. */
    uint8_t start[128];
    uint32_t hs[128];
    unsigned k = 0;
    uint32_t h = FNV_BASIS;
    for (size_t i = len; i-- > 0;) {
        h = (h ^ (unsigned char)buf[i]) * FNV_PRIME;
        if ((i == 0 || buf[i - 1] == '.') && k < 128) {
            start[k] = (uint8_t)i;
            hs[k++] = mix32(h);
        }
    }

    const uint32_t m = l->hd_cap - 1;
    for (unsigned s = 0; s < k; s++)    /* the probes' misses overlap */
        __builtin_prefetch(&l->hd[hs[s] & m]);

    uint64_t threats = 0, exact_bits = 0;
    uint32_t trusted = 0;
    int trusted_step = -1;
    bool trusted_exact = false;
    int8_t step_of[LISTS_MAX_THREAT];   /* suffix (index into start[]) per list */
    for (unsigned s = k; s-- > 0;) {    /* most specific first */
        size_t off = start[s], n = len - off;
        for (uint32_t i = hs[s] & m; l->hd[i].off; i = (i + 1) & m) {
            const struct dslot *d = &l->hd[i];
            if (d->hash != hs[s] || !name_eq(l, d->off, buf + off, n))
                continue;
            const struct mask *ex = &l->masks[s == k - 1 ? d->exact : 0];
            const struct mask *wd = &l->masks[d->wild];
            uint64_t now = (ex->threats | wd->threats) & ~threats;
            for (uint64_t b = now; out && b; b &= b - 1)
                step_of[__builtin_ctzll(b)] = (int8_t)s;
            exact_bits |= ex->threats & now;
            threats |= now;
            if (!trusted && (ex->trusted || wd->trusted)) {
                trusted = 1;
                trusted_step = (int)s;
                trusted_exact = ex->trusted != 0;
            }
            break;
        }
    }
    int ret = (trusted ? LISTS_TRUSTED : 0) | (threats ? LISTS_THREAT : 0);
    if (!out || !ret)
        return ret;
    out->trusted = trusted != 0;
    if (trusted)
        snprintf(out->trusted_entry, LISTS_ENTRY_LEN, "%s%s",
                 trusted_exact ? "" : "*.", buf + start[trusted_step]);
    out->threats = threats;
    for (uint64_t b = threats; b; b &= b - 1) {
        unsigned i = (unsigned)__builtin_ctzll(b);
        hit_add(l, out, i);
        snprintf(out->m[out->n - 1].entry, LISTS_ENTRY_LEN, "%s%s",
                 (exact_bits >> i) & 1 ? "" : "*.", buf + start[step_of[i]]);
    }
    return ret;
}

/* ------------------------------------------------------------------ */

unsigned lists_n_threat(const struct lists *l)
{
    return l->n_threat;
}

const struct list_stats *lists_threat_stats(const struct lists *l, unsigned i)
{
    return i < l->n_threat ? &l->threat[i] : NULL;
}

const struct list_stats *lists_trusted_stats(const struct lists *l)
{
    return l->has_trusted ? &l->trusted : NULL;
}

size_t lists_memory(const struct lists *l)
{
    return l->mem;
}

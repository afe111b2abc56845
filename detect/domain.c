/* detect/domain.c - registrable domains through libpsl; see domain.h. */
#include "domain.h"

#include <libpsl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PSL_DAFSA "/usr/share/publicsuffix/public_suffix_list.dafsa"
#define PSL_DAT   "/usr/share/publicsuffix/public_suffix_list.dat"

static const psl_ctx_t *g_psl;      /* read-only once loaded */
static psl_ctx_t *g_owned;          /* what psl_free() needs (not the built-in one) */
static const char *g_source = "none";
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_loaded;                /* load() ran (set with release order) */

static void
load(void)
{
    /* Debian's list first (it follows the publicsuffix package's updates),
     * then libpsl's built-in copy. */
    if ((g_owned = psl_load_file(PSL_DAFSA))) {
        g_source = PSL_DAFSA;
    } else if ((g_owned = psl_load_file(PSL_DAT))) {
        g_source = PSL_DAT;
    }
    if (g_owned) {
        g_psl = g_owned;
    } else if ((g_psl = psl_builtin())) {
        g_source = "builtin";
    }
}

int
domain_init(void)
{
    pthread_mutex_lock(&g_mu);
    if (!__atomic_load_n(&g_loaded, __ATOMIC_ACQUIRE)) {
        load();
        __atomic_store_n(&g_loaded, 1, __ATOMIC_RELEASE);
    }
    int rc = g_psl ? 0 : -1;
    pthread_mutex_unlock(&g_mu);
    return rc;
}

void
domain_fini(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_owned)
        psl_free(g_owned);
    g_owned = NULL;
    g_psl = NULL;
    g_source = "none";
    __atomic_store_n(&g_loaded, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_mu);
}

const char *
domain_source(void)
{
    return g_source;
}

/* The last two labels: the fallback without a list. */
static const char *
two_labels(const char *d, size_t n)
{
    const char *last = NULL, *prev = NULL;
    for (size_t i = 0; i < n; i++)
        if (d[i] == '.') {
            prev = last;
            last = d + i;
        }
    return prev ? prev + 1 : d;
}

/* A per-thread cache of answers keyed by the name's last CACHE_LABELS
 * labels. libpsl costs thousands of instructions a call and DNS traffic asks
 * about the same few domains again and again (and tunnels ask about one
 * domain with ever new subdomains). The answer depends only on the public
 * suffix plus one label, so when the registrable domain has fewer than
 * CACHE_LABELS labels, every name ending in the same CACHE_LABELS labels has
 * the same answer: only such answers are cached. */
#define CACHE_LABELS 6
#define CACHE_SLOTS  4096

struct dcache {
    uint64_t hash;
    uint8_t labels;         /* labels of the registrable domain */
    int8_t rc;              /* DOMAIN_OK / DOMAIN_SELF */
    uint8_t used;
    char key[125];          /* the last CACHE_LABELS labels */
};
static pthread_key_t g_cache_key;          /* per-thread cache, freed at thread exit */
static pthread_once_t g_cache_once = PTHREAD_ONCE_INIT;

static void
cache_key_init(void)
{
    (void)pthread_key_create(&g_cache_key, free);
}

static struct dcache *
thread_cache(void)
{
    pthread_once(&g_cache_once, cache_key_init);
    struct dcache *c = pthread_getspecific(g_cache_key);
    if (!c) {
        c = calloc(CACHE_SLOTS, sizeof(*c));
        if (c && pthread_setspecific(g_cache_key, c) != 0) {
            free(c);
            c = NULL;
        }
    }
    return c;
}

/* Pointer to the start of the last k labels of buf[0..n) (buf itself if
 * it has no more). */
static const char *
last_labels(const char *buf, size_t n, unsigned k)
{
    for (size_t i = n; i-- > 0;)
        if (buf[i] == '.' && --k == 0)
            return buf + i + 1;
    return buf;
}

static unsigned
count_labels(const char *s)
{
    unsigned c = 1;
    for (; *s; s++)
        c += *s == '.';
    return c;
}

static int registrable_uncached(char *buf, size_t n, char *out);

int
domain_registrable(const char *name, char *out, size_t outlen)
{
    if (!out || !outlen)
        return DOMAIN_ERR;
    out[0] = '\0';
    if (!name)
        return DOMAIN_ERR;
    char buf[256];
    size_t n = strlen(name);
    while (n && name[n - 1] == '.')
        n--;
    while (n && name[0] == '.') {
        name++;
        n--;
    }
    if (!n || n >= sizeof(buf) || n >= outlen)
        return DOMAIN_ERR;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    buf[n] = '\0';
    if (!__atomic_load_n(&g_loaded, __ATOMIC_ACQUIRE))
        domain_init();              /* first use without domain_init() */

    if (!memchr(buf, '.', n)) {                 /* a single label */
        memcpy(out, buf, n + 1);
        return DOMAIN_SELF;
    }
    const char *key = last_labels(buf, n, CACHE_LABELS);
    size_t kl = n - (size_t)(key - buf);
    struct dcache *cache = thread_cache();
    if (!cache || kl >= sizeof(cache->key))
        return registrable_uncached(buf, n, out);
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (size_t i = 0; i < kl; i++)
        h = (h ^ (uint8_t)key[i]) * 1099511628211ull;
    struct dcache *c = &cache[h % CACHE_SLOTS];
    if (c->used && c->hash == h && memcmp(c->key, key, kl + 1) == 0) {
        const char *r = c->rc == DOMAIN_SELF ? buf : last_labels(buf, n, c->labels);
        memcpy(out, r, n - (size_t)(r - buf) + 1);
        return c->rc;
    }
    int rc = registrable_uncached(buf, n, out);
    unsigned lab = count_labels(out);
    if (rc == DOMAIN_SELF && count_labels(buf) >= CACHE_LABELS)
        return rc;                      /* "the whole name": not a property of the key */
    if (lab < CACHE_LABELS) {
        c->used = 1;
        c->hash = h;
        c->labels = (uint8_t)lab;
        c->rc = (int8_t)rc;
        memcpy(c->key, key, kl + 1);
    }
    return rc;
}

static int
registrable_uncached(char *buf, size_t n, char *out)
{
    const char *r;
    if (g_psl) {
        r = psl_registrable_domain(g_psl, buf);
        if (!r) {
            /* NULL: the name is a public suffix itself (or under a wildcard
             * rule with nothing left of it, e.g. "a.ck"). */
            memcpy(out, buf, n + 1);
            return DOMAIN_SELF;
        }
    } else {
        r = two_labels(buf, n);
    }
    size_t rl = n - (size_t)(r - buf);
    memcpy(out, r, rl + 1);
    return DOMAIN_OK;
}

/* detect/domain.c - registrable domains through libpsl; see domain.h. */
#include "domain.h"

#include <libpsl.h>
#include <pthread.h>
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

/* detect/domain.h - registrable domains ("eTLD+1") through libpsl and the
 * Public Suffix List (Debian's `publicsuffix` package, falling back to the
 * list built into libpsl).
 *
 * domain_init() loads the list once, before any detection thread starts;
 * afterwards domain_registrable() only reads it and is safe from any number of
 * threads. domain_registrable() also works without domain_init() (it loads
 * the list on first use, once, under a mutex), so unit tests and tools
 * need not call it. domain_fini() frees the list at exit (no reader may run).
 *
 * The full list is used (ICANN and private sections), as browsers do:
 * "abc.cloudfront.net" is its own registrable domain (cloudfront.net is a
 * private-section suffix), "a.b.example.co.uk" gives "example.co.uk". */
#ifndef MG_DOMAIN_H
#define MG_DOMAIN_H

#include <stddef.h>

/* What domain_registrable() returns. */
enum domain_res {
    DOMAIN_ERR = -1,        /* empty, too long for out, or not a usable name: out = "" */
    DOMAIN_OK = 0,          /* out = the registrable domain (a suffix of name) */
    DOMAIN_SELF = 1,        /* name is itself a public suffix ("co.uk", "com") or a
                               single label ("localhost"): out = name */
};

/* Load the Public Suffix List. 0 on success (the distribution's list or the
 * built-in one); -1 if neither could be loaded (domain_registrable() then
 * falls back to the last two labels). Idempotent. */
int  domain_init(void);
void domain_fini(void);

/* The registrable domain of 'name' (lower-case presentation form, a final dot
 * is ignored, any case accepted) into out[outlen]. See enum domain_res. */
int  domain_registrable(const char *name, char *out, size_t outlen);

/* Which list is in use: "/usr/share/publicsuffix/public_suffix_list.dafsa",
 * "builtin", or "none". */
const char *domain_source(void);

#endif /* MG_DOMAIN_H */

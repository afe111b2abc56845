/* detect/lists.h - trusted and threat lists (GuardDuty-style IP and domain
 * lists) loaded once into an immutable "list set".
 *
 * A list set is the trusted list (at most one, as in GuardDuty) plus up to
 * LISTS_MAX_THREAT named threat lists. Every entry is an IPv4/IPv6 address, a
 * CIDR of either family, or a domain. A lookup answers, in one call, whether
 * the trusted list matched and which threat lists matched (a bitmask over the
 * threat[] array given to lists_load(), bit i = threat[i]), and on request the
 * matching entry of each list as text ("198.51.100.0/24", "*.evil.com").
 *
 * File formats (cfg_threat_list.format; the trusted list is always "txt"):
 *
 *   txt         One entry per line. Blank lines are ignored, '#' starts a
 *               comment (whole line or after an entry), surrounding spaces
 *               are ignored. The entry is the first field of the line: it
 *               ends at a space, a tab, a '#' or a ',', so "ip<TAB>count"
 *               (ipsum), "ip # owner" (maltrail) and "ioc,level,text"
 *               (Slips) lines all work. Accepted entries:
 *                 1.2.3.4  2001:db8::1          exact address
 *                 10.0.0.0/8  2001:db8::/32     prefix (host bits are cleared)
 *                 1.2.3.4:443  [2001:db8::1]:443  evil.com:8080
 *                                               "host:port": the port is dropped
 *                 http://1.2.3.4  https://evil.com:8443/
 *                                               a URL with no path: its host
 *                 evil.com                      that exact name only
 *                 *.evil.com  .evil.com         evil.com and every name under it
 *               URL trails with a path ("/gate.php", "evil.com/x/login.php")
 *               and AS numbers ("AS39770") are well-formed entries this
 *               sensor cannot match on: they are skipped and counted as
 *               "unsupported", without a warning per line.
 *   otx         AlienVault OTX CSV export: a header row naming the columns
 *               "Indicator type" and "Indicator" (any order, other columns
 *               ignored, RFC 4180 quoting). Types IPv4, IPv6, CIDR, hostname
 *               (exact name) and domain (the domain and its subdomains, which
 *               is what OTX means by a domain indicator); other types
 *               (URL, FileHash-*, email, ...) are counted as unsupported.
 *   proofpoint  ProofPoint ET IQRisk reputation CSV: "ip,category,score" or
 *               "domain,category,score" (category and score are integers),
 *               with an optional header row and '#' comments.
 *
 * Domain matching: names compare case-insensitively (ASCII) with a trailing
 * dot ignored. A bare "example.com" matches only "example.com" (GuardDuty
 * matches a domain entry against that domain); "*.example.com" (or
 * ".example.com", the hosts-file spelling) matches "example.com" and every
 * name below it. Lookup walks the suffixes of the queried name: for
 * "a.b.example.com" it tries "a.b.example.com" (exact and wildcard entries),
 * then "b.example.com", "example.com" and "com" (wildcard entries only).
 * Labels may hold letters, digits, '-', '_' and bytes >= 0x80 (UTF-8 IDN
 * labels are compared byte for byte: write lists in the xn-- form that DNS
 * carries). A v4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address,
 * both in lists and in lookups.
 *
 * Malformed lines are skipped and counted; the first LISTS_WARN_PER_FILE of
 * each file are described in the warnings buffer as "path:line: reason:
 * 'text'", one per line. A file that has malformed lines and no valid entry
 * at all is an error (it is almost certainly not in the format configured);
 * an empty file only earns a warning.
 *
 * Immutability and reload. A struct lists is never modified after
 * lists_load() returns, so any number of threads may look up in it at once
 * without locks, and a reload (SIGHUP) builds a complete new set beside the
 * old one. The recommended swap, with the detect thread as the only reader:
 * the loader (main thread or a helper) builds the new set and publishes it
 * with atomic_store_explicit(&pending, new, memory_order_release); the detect
 * thread, between two records, does n = atomic_exchange(&pending, NULL) and,
 * if n is not NULL, makes it current and hands the old set back through a
 * second atomic pointer (retired) for the loader to lists_free() - so the
 * lookup path never waits and never pays for the free, and no record is ever
 * checked against a half-built or freed set. With several reader threads,
 * publish the new pointer and free the old one only once every reader has
 * passed a record boundary (each reader stores the generation it has seen;
 * free when all have seen the new one).
 *
 * Lookups do no I/O and no allocation. Costs: one hash probe per exact
 * address plus a walk of a binary prefix trie (at most 32 / 128 steps, in
 * practice as many as the prefixes present share bits); one hash probe per
 * label of a name. */
#ifndef MG_LISTS_H
#define MG_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "rec.h"

#define LISTS_MAX_THREAT    64      /* threat lists per set (bits of a mask) */
#define LISTS_ENTRY_LEN     264     /* "*." + a 253-byte name + NUL, rounded */
#define LISTS_WARN_PER_FILE 3       /* malformed lines described per file */

struct lists;

/* Per-list load statistics. Entry counts are of distinct entries: a line
 * repeating an entry already in the same list counts as a duplicate. */
struct list_stats {
    const char *name;       /* "trusted" for the trusted list */
    const char *category;   /* "" for the trusted list */
    const char *path;
    const char *format;     /* "txt", "otx" or "proofpoint" */
    uint64_t lines;         /* lines in the file */
    uint64_t v4, v6;        /* exact addresses (/32, /128) */
    uint64_t cidr4, cidr6;  /* shorter prefixes */
    uint64_t domains;       /* exact names */
    uint64_t wildcards;     /* "*.name" entries */
    uint64_t duplicates;    /* entries already in this list */
    uint64_t malformed;     /* lines skipped as malformed */
    uint64_t unsupported;   /* well-formed entries of a kind not matched on */
    double load_ms;         /* wall time to read and index the file */
};

/* Total distinct entries of a list. */
static inline uint64_t list_stats_entries(const struct list_stats *s)
{
    return s->v4 + s->v6 + s->cidr4 + s->cidr6 + s->domains + s->wildcards;
}

/* One threat list that matched, with the entry that matched in it: the
 * longest matching prefix for an address, the most specific matching
 * entry for a name (exact before wildcard, longer suffix before shorter). */
struct list_match {
    unsigned index;             /* position in the threat[] array */
    const char *name;           /* owned by the struct lists */
    const char *category;
    char entry[LISTS_ENTRY_LEN];
};

/* The answer of a lookup. Only m[0..n-1] are written, in index order. */
struct list_hit {
    bool trusted;                           /* the trusted list matched */
    char trusted_entry[LISTS_ENTRY_LEN];    /* its entry, when it did */
    uint64_t threats;                       /* bit i: threat[i] matched */
    unsigned n;                             /* popcount(threats) */
    struct list_match m[LISTS_MAX_THREAT];
};

/* Return values of the lookups (or'ed). */
#define LISTS_TRUSTED 1
#define LISTS_THREAT  2

/* Load the trusted list (trusted_path; NULL or "" for none) and the n threat
 * lists into a new set. Returns NULL on error with a one-line message naming
 * the file (and line when there is one) in err. Warnings about skipped lines
 * go to warn, one per line, truncated with "..." when warnlen is too small;
 * warn is "" when there is nothing to say. warn/err may be NULL. The set
 * copies every string it needs: cfg may be freed afterwards. */
struct lists *lists_load(const char *trusted_path,
                         const struct cfg_threat_list *threat, unsigned n,
                         char *warn, size_t warnlen, char *err, size_t errlen);

/* Build a set of one threat list named "mem" (category "test") from a
 * buffer in the given format instead of a file: for tests and fuzzing.
 * Messages name the file "mem". */
struct lists *lists_load_buffer(const char *data, size_t len, const char *format,
                                char *warn, size_t warnlen, char *err, size_t errlen);

void lists_free(struct lists *l);

/* Look an address up. family is 4 or 6 (v4 in the first 4 bytes of a).
 * Returns 0 when no list matched, else LISTS_TRUSTED and/or LISTS_THREAT.
 * out may be NULL when only the answer is wanted (cheapest); otherwise it is
 * filled completely (n = 0 and trusted = false on a miss). */
int lists_match_ip(const struct lists *l, const struct mg_addr *a, int family,
                   struct list_hit *out);

/* Look a name up ("sub.evil.com", any case, optional final dot). Same
 * answer as lists_match_ip(). Names longer than 253 bytes never match. */
int lists_match_domain(const struct lists *l, const char *name,
                       struct list_hit *out);

/* Threat lists in the set, and their statistics (i < lists_n_threat()). */
unsigned lists_n_threat(const struct lists *l);
const struct list_stats *lists_threat_stats(const struct lists *l, unsigned i);
/* The trusted list's statistics, or NULL when there is no trusted list. */
const struct list_stats *lists_trusted_stats(const struct lists *l);

/* Bytes of memory the set holds (its own counter of what it allocated). */
size_t lists_memory(const struct lists *l);

#endif /* MG_LISTS_H */

/* detect/dga.c - the DGA classifier; see dga.h. scripts/train-dga computes
 * the same features in Python (the label rule - both take the registrable
 * domain from libpsl - and every formula must stay in step with it). */
#include "dga.h"
#include "crc32.h"
#include "domain.h"
#include "bigmem.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NSYM      39            /* a-z 0-9 '-' ^ $ */
#define SYM_DASH  36
#define SYM_BEGIN 37
#define SYM_END   38
#define MAXW      15
#define MINW      3
#define DGA_MODEL_LINE 8192     /* longest model file line + 2 */
#define NN_BLOCK  16            /* hidden units scored together (HIDDEN is a multiple) */

const char *const dga_feature_names[DGA_NFEAT] = {
    "len", "loglen", "entropy", "vowels", "digits", "distinct", "cons_run",
    "digit_runs", "hyphens", "bi_mean", "bi_min", "tri_mean", "tri_min",
    "rare_bi", "dict_cov", "words", "longest_word", "cov_x_len", "bi_llr", "tri_llr",
};

/* Names under these top-level labels are never scored. */
static const char *const skip_tld[] = {
    "arpa", "corp", "example", "home", "internal", "intranet", "invalid", "lan", "local", "localdomain", "localhost", "onion", "private", "test",
};

struct dga_model {
    double k;                   /* add-k smoothing */
    uint32_t rare;
    double threshold;
    double threshold_low;           /* 1% false positives; 0 when the file has none */
    double mean[DGA_NFEAT], sd[DGA_NFEAT];
    /* the network (dga.h): 2^bits embedding rows of 'hidden' int8, row r at
     * emb + r * hidden; column j of a row is worth scale[j] */
    unsigned bits, hidden, maxgram;
    uint32_t mask;
    int8_t *emb;
    size_t emb_bytes;               /* as allocated (big_alloc) */
    double scale[DGA_NN_MAXH], b1[DGA_NN_MAXH], w3[DGA_NN_MAXH], b3;
    double wf[DGA_NFEAT][DGA_NN_MAXH];
    /* the standardisation folded into the first layer at load:
     * wfs[i][j] = wf[i][j] / sd[i], b1s[j] = b1[j] - sum_i mean[i] wfs[i][j]
     * (the same sum up to rounding, about 1e-15: far inside the 1e-9 of the
     * 'sref' check) */
    double wfs[DGA_NFEAT][DGA_NN_MAXH], b1s[DGA_NN_MAXH];
    uint32_t bi[NSYM * NSYM];
    double lbi[NSYM * NSYM];
    double ltri[NSYM * NSYM * NSYM];
    /* dictionary: a trie of the words, one uint64 a node: bits 0-25 its
     * children's letters, bit 26 a whole word, bits 32-63 the index of its
     * first child; the children of a node are consecutive (in letter order)
     * and the nodes are laid out depth first, so a walk down a word reads
     * ascending, mostly neighbouring, memory (8 bytes a prefix: 1.2 MB) */
    uint64_t *trie;
    size_t trie_n;
    /* the first three letters of every word: bit 0 = a 3-letter word,
     * bit 1 = a prefix of a longer word (most positions of a random
     * label stop here, without touching the hash table) */
    uint8_t first3[26 * 26 * 26];
    /* the first four letters of every word of >= 4, two bits each (index
     * ((c0 * 26 + c1) * 26 + c2) * 26 + c3): bit 0 = a 4-letter word, bit 1
     * = a prefix of a longer word; the walk's first hash probe, which a
     * random label's positions almost never pass (114 KB, stays in cache) */
    uint8_t first4[(26 * 26 * 26 * 26 + 3) / 4];
    /* k * log2(k) for k = 0..DGA_MAX_LABEL (the entropy without a log2 call
     * per distinct character) */
    double xlog2x[DGA_MAX_LABEL + 1];
};

/* 'ref' lines: the trainer's features of a few labels, 'sref' lines: its
 * scores of a few names; both checked at load */
#define MAXREF 32
struct dga_ref {
    unsigned line;
    char label[DGA_MAX_LABEL + 1];
    double f[DGA_NFEAT];
};
struct dga_sref {
    unsigned line;
    char name[256];
    double score;
};

/* base64 (RFC 4648, with '=' padding) of exactly 'want' bytes into out;
 * 0 or -1 */
static int
b64_decode(const char *s, int8_t *out, size_t want)
{
    /* digit + 1 of each character, 0 for none (a table: the model's rows
     * are 2.7 MB of base64 decoded at every start) */
    static uint8_t dig[256];
    static int ready;
    if (!ready) {       /* idempotent: racing threads write the same values */
        static const char a[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int k = 0; k < 64; k++)
            dig[(unsigned char)a[k]] = (uint8_t)(k + 1);
        ready = 1;
    }
    size_t n = strlen(s), o = 0;
    if (n % 4 || n / 4 * 3 < want || n / 4 * 3 >= want + 3)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            int d = dig[c] - 1;
            if (d < 0) {
                if (c == '=' && i + 4 == n && k >= 2)
                    d = 0, pad++;
                else
                    return -1;
            } else if (pad) {
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        for (int k = 0; k < 3 - pad; k++) {
            if (o == want)
                return -1;
            out[o++] = (int8_t)(uint8_t)(v >> (16 - 8 * k));
        }
    }
    return o == want ? 0 : -1;
}

static inline int
sym(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '0' && c <= '9')
        return 26 + c - '0';
    return SYM_DASH;
}

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789-^$";

static int
sym_of_model_char(char c)
{
    const char *p = strchr(alphabet, c);
    return c && p ? (int)(p - alphabet) : -1;
}

#define FNV_OFF 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* The dictionary while the model loads: its words one after another
 * (3..15 letters, no terminator), where each starts and how long it is. */
struct wlist {
    char *buf;
    size_t used, cap;
    uint32_t *off;
    uint8_t *len;
    size_t n, capn;
};

static int
wlist_add(struct wlist *l, const char *w, size_t wl)
{
    if (l->used + wl > l->cap) {
        size_t c = l->cap ? 2 * l->cap : 1 << 20;
        char *nb = realloc(l->buf, c);
        if (!nb)
            return -1;
        l->buf = nb;
        l->cap = c;
    }
    if (l->n == l->capn) {
        size_t c = l->capn ? 2 * l->capn : 1 << 16;
        uint32_t *no = realloc(l->off, c * sizeof(*no));
        if (!no)
            return -1;
        l->off = no;
        uint8_t *nl = realloc(l->len, c);
        if (!nl)
            return -1;
        l->len = nl;
        l->capn = c;
    }
    memcpy(l->buf + l->used, w, wl);
    l->off[l->n] = (uint32_t)l->used;
    l->len[l->n++] = (uint8_t)wl;
    l->used += wl;
    return 0;
}

static void
wlist_free(struct wlist *l)
{
    free(l->buf);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

/* strcmp order of words i and j; *lcp gets their common prefix's length. */
static int
wlist_cmp(const struct wlist *l, size_t i, size_t j, size_t *lcp)
{
    const char *a = l->buf + l->off[i], *b = l->buf + l->off[j];
    size_t la = l->len[i], lb = l->len[j], k = 0;
    while (k < la && k < lb && a[k] == b[k])
        k++;
    *lcp = k;
    if (k < la && k < lb)
        return (unsigned char)a[k] < (unsigned char)b[k] ? -1 : 1;
    return la < lb ? -1 : la > lb;
}

static inline char
wl_at(const struct wlist *l, size_t i, size_t d)
{
    return l->buf[l->off[i] + d];
}

/* Lay out the node of the prefix (length d) that words [lo, hi) share, at
 * out[at], and its subtree: its children at *next onwards (in letter
 * order), then each child's subtree, depth first. The words are sorted and
 * unique, so a word equal to the prefix comes first and each child's words
 * are consecutive. */
static void
trie_build(const struct wlist *l, size_t lo, size_t hi, size_t d, uint64_t *out, size_t at,
           size_t *next)
{
    uint64_t word = 0;
    if (lo < hi && l->len[lo] == d) {
        word = 1ull << 26;
        lo++;
    }
    uint64_t bits = 0;
    unsigned k = 0;
    for (size_t i = lo; i < hi; ) {
        char c = wl_at(l, i, d);
        bits |= 1ull << (c - 'a');
        k++;
        while (i < hi && wl_at(l, i, d) == c)
            i++;
    }
    size_t base = *next;
    *next += k;
    out[at] = bits | word | (uint64_t)base << 32;
    for (size_t i = lo, ci = 0; i < hi; ci++) {
        size_t j = i;
        char c = wl_at(l, i, d);
        while (j < hi && wl_at(l, j, d) == c)
            j++;
        trie_build(l, i, j, d + 1, out, base + ci, next);
        i = j;
    }
}

/* The child of trie node v for letter c (0..25) or 0 (the root is never a
 * child). */
static inline uint64_t
trie_child(const struct dga_model *m, uint64_t v, unsigned c)
{
    uint32_t bits = (uint32_t)v & 0x3ffffffu;
    if (!(bits >> c & 1))
        return 0;
    return m->trie[(v >> 32) + (unsigned)__builtin_popcount(bits & ((1u << c) - 1))];
}

void
dga_model_free(struct dga_model *m)
{
    if (!m)
        return;
    free(m->trie);
    big_free(m->emb, m->emb_bytes);
    free(m);
}

double
dga_model_threshold(const struct dga_model *m)
{
    return m->threshold;
}

double
dga_model_threshold_low(const struct dga_model *m)
{
    return m->threshold_low;
}

static int
parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || v > 0xffffffffUL || *s == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Split line into at most max tokens (spaces, tabs); max + 1 when more. */
static int
tokenize(char *line, char **tok, int max)
{
    int nt = 0;
    for (char *s = strtok(line, " \t"); s; s = strtok(NULL, " \t")) {
        if (nt == max)
            return max + 1;
        tok[nt++] = s;
    }
    return nt;
}

/* The model's numbers (feature means and sds, smoothing, nn_*) are within
 * +-MAXPARAM, and sd and smoothing at least 1 / MAXPARAM: the score's
 * arithmetic then stays far from overflow (|z| < 1e130; an inf would give
 * inf - inf = NaN scores). */
#define MAXPARAM 1e30

static int
parse_param(const char *s, double *out)
{
    return parse_double(s, out) != 0 || fabs(*out) > MAXPARAM ? -1 : 0;
}

/* Parse n model numbers of tok into out; 0 or -1. */
static int
parse_doubles(char **tok, int n, double *out)
{
    for (int i = 0; i < n; i++)
        if (parse_param(tok[i], &out[i]) != 0)
            return -1;
    return 0;
}

#define MAXTOK (DGA_NN_MAXH + 2)

struct dga_model *
dga_model_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct dga_model *m = calloc(1, sizeof(*m));
    uint32_t *tri = calloc(NSYM * NSYM * NSYM, sizeof(*tri));
    struct dga_ref *refs = calloc(MAXREF, sizeof(*refs));
    struct dga_sref *srefs = calloc(MAXREF, sizeof(*srefs));
    char *line = malloc(DGA_MODEL_LINE);
    char **tok = malloc(MAXTOK * sizeof(*tok));
    uint8_t *seen = NULL;       /* embedding rows given, a bit each */
    struct wlist wl_words = { 0 };
    size_t trie_nodes = 1;              /* the root, then one a distinct prefix */
    if (!m || !tri || !refs || !srefs || !line || !tok) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    unsigned nref = 0, nsref = 0;
    unsigned lineno = 0, nfeat = 0, nwf = 0;
    int have_version = 0, have_end = 0, have_k = 0, have_rare = 0, have_thr = 0, have_nn = 0;
    int have_scale = 0, have_b1 = 0, have_w3 = 0, have_b3 = 0, have_crc = 0;
    unsigned long nwords = 0, nrows = 0;
    uint32_t crc = 0;
    while (fgets(line, DGA_MODEL_LINE, f)) {
        lineno++;
        size_t len = strlen(line);
        int nl = 0;
        if (len && line[len - 1] == '\n') {
            line[--len] = '\0';
            nl = 1;
        } else if (!feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            goto fail;
        }
        /* the checksum covers every byte before the 'crc32' line */
        if (!have_crc && strncmp(line, "crc32", 5)) {
            crc = mg_crc32(crc, line, len);
            if (nl)
                crc = mg_crc32(crc, "\n", 1);
        }
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        int nt = tokenize(line, tok, MAXTOK);
        if (!nt)
            continue;
        if (have_end) {
            snprintf(err, errlen, "%s:%u: text after 'end'", path, lineno);
            goto fail;
        }
        if (!have_version) {
            if (nt != 2 || strcmp(tok[0], "mgdga") || strcmp(tok[1], "2")) {
                snprintf(err, errlen, "%s:%u: not a mirrorguard DGA model of this sensor "
                         "(expected 'mgdga 2')", path, lineno);
                goto fail;
            }
            have_version = 1;
            continue;
        }
        const char *k = tok[0];
        int bad = 0;
        if (have_crc && strcmp(k, "end")) {
            snprintf(err, errlen, "%s:%u: '%s' after 'crc32' (only 'end' may follow it)",
                     path, lineno, k);
            goto fail;
        }
        if (!strncmp(k, "nn_", 3) || !strcmp(k, "e")) {
            if (!have_nn) {
                snprintf(err, errlen, "%s:%u: '%s' before the 'nn' line", path, lineno, k);
                goto fail;
            }
        }
        if (!strcmp(k, "w")) {
            if (nt != 2) {
                bad = 1;
            } else {
                const char *wd = tok[1];
                size_t wl = strlen(wd);
                if (wl < MINW || wl > MAXW || strspn(wd, "abcdefghijklmnopqrstuvwxyz") != wl) {
                    snprintf(err, errlen, "%s:%u: dictionary word '%s': expected 3..15 letters a-z",
                             path, lineno, wd);
                    goto fail;
                }
                unsigned i3 = ((wd[0] - 'a') * 26 + (wd[1] - 'a')) * 26 + (wd[2] - 'a');
                m->first3[i3] |= wl == 3 ? 1 : 2;
                if (wl >= 4) {
                    unsigned i4 = i3 * 26 + (unsigned)(wd[3] - 'a');
                    m->first4[i4 >> 2] |= (uint8_t)((wl == 4 ? 1u : 2u) << (2 * (i4 & 3)));
                }
                if (wlist_add(&wl_words, wd, wl) != 0) {
                    snprintf(err, errlen, "%s: out of memory", path);
                    goto fail;
                }
                /* sorted and unique, so the trie gets one node for each
                 * letter beyond what a word shares with the one before */
                size_t lcp = 0;
                if (wl_words.n > 1 && wlist_cmp(&wl_words, wl_words.n - 2, wl_words.n - 1, &lcp) >= 0) {
                    snprintf(err, errlen, "%s:%u: dictionary word '%s': the words must be sorted "
                             "and unique (scripts/train-dga writes them so)", path, lineno, wd);
                    goto fail;
                }
                trie_nodes += wl - lcp;
                nwords++;
            }
        } else if (!strcmp(k, "e")) {
            /* e ROW BASE64: one embedding row, 'hidden' signed bytes */
            uint32_t r;
            if (nt != 3 || parse_u32(tok[1], &r) != 0) {
                bad = 1;
            } else if (r > m->mask) {
                snprintf(err, errlen, "%s:%u: embedding row %u: the model has %u rows",
                         path, lineno, r, m->mask + 1);
                goto fail;
            } else if (seen[r >> 3] & (1u << (r & 7))) {
                snprintf(err, errlen, "%s:%u: embedding row %u given twice", path, lineno, r);
                goto fail;
            } else if (b64_decode(tok[2], m->emb + (size_t)r * m->hidden, m->hidden) != 0) {
                snprintf(err, errlen, "%s:%u: embedding row %u: expected %u bytes in base64",
                         path, lineno, r, m->hidden);
                goto fail;
            } else {
                seen[r >> 3] |= (uint8_t)(1u << (r & 7));
                nrows++;
            }
        } else if (!strcmp(k, "bi") || !strcmp(k, "tri")) {
            int tr = k[0] == 't';
            size_t want = tr ? 3 : 2;
            uint32_t c;
            int s[3] = { 0, 0, 0 };
            if (nt != 3 || strlen(tok[1]) != want || parse_u32(tok[2], &c) != 0) {
                bad = 1;
            } else {
                for (size_t i = 0; i < want; i++)
                    if ((s[i] = sym_of_model_char(tok[1][i])) < 0)
                        bad = 1;
                if (!bad) {
                    if (tr)
                        tri[(s[0] * NSYM + s[1]) * NSYM + s[2]] = c;
                    else
                        m->bi[s[0] * NSYM + s[1]] = c;
                }
            }
        } else if (!strcmp(k, "feature")) {
            if (nt != 4) {
                bad = 1;
            } else if (nfeat >= DGA_NFEAT || strcmp(tok[1], dga_feature_names[nfeat])) {
                snprintf(err, errlen, "%s:%u: feature '%s': expected '%s' (this sensor computes %d features)",
                         path, lineno, tok[1],
                         nfeat < DGA_NFEAT ? dga_feature_names[nfeat] : "none", DGA_NFEAT);
                goto fail;
            } else if (parse_param(tok[2], &m->mean[nfeat]) || parse_param(tok[3], &m->sd[nfeat]) ||
                       m->sd[nfeat] < 1 / MAXPARAM) {
                bad = 1;
            } else {
                nfeat++;
            }
        } else if (!strcmp(k, "nn")) {
            /* nn BITS HIDDEN MAXGRAM */
            uint32_t bits, hid, mg;
            if (have_nn || nt != 4 || parse_u32(tok[1], &bits) || parse_u32(tok[2], &hid) ||
                parse_u32(tok[3], &mg)) {
                bad = 1;
            } else if (bits < 8 || bits > 22 || hid < NN_BLOCK || hid > DGA_NN_MAXH ||
                       hid % NN_BLOCK || mg < 1 || mg > 8 ||
                       ((uint64_t)hid << bits) > DGA_NN_MAXTABLE) {
                snprintf(err, errlen, "%s:%u: nn %u %u %u: expected 8..22 bits, %d..%d hidden "
                         "(a multiple of %d), 1..8 characters, a table (2^bits x hidden bytes) "
                         "of at most %d MiB", path, lineno, bits, hid, mg,
                         NN_BLOCK, DGA_NN_MAXH, NN_BLOCK, DGA_NN_MAXTABLE >> 20);
                goto fail;
            } else {
                m->bits = bits;
                m->hidden = hid;
                m->maxgram = mg;
                m->mask = (1u << bits) - 1;
                size_t sz = ((size_t)hid << bits) + 64;
                /* On huge pages (bigmem.h): names land at random rows. */
                m->emb_bytes = (sz + 63) / 64 * 64;
                m->emb = big_alloc(m->emb_bytes);
                seen = calloc(((size_t)1 << bits) / 8, 1);
                if (!m->emb || !seen) {
                    snprintf(err, errlen, "%s: out of memory", path);
                    goto fail;
                }
                have_nn = 1;
            }
        } else if (!strcmp(k, "nn_scale") || !strcmp(k, "nn_b1") || !strcmp(k, "nn_w3")) {
            double *dst = k[3] == 's' ? m->scale : k[3] == 'b' ? m->b1 : m->w3;
            int *have = k[3] == 's' ? &have_scale : k[3] == 'b' ? &have_b1 : &have_w3;
            bad = *have || nt != (int)m->hidden + 1 || parse_doubles(tok + 1, (int)m->hidden, dst);
            *have = 1;
        } else if (!strcmp(k, "nn_b3")) {
            bad = have_b3 || nt != 2 || parse_param(tok[1], &m->b3);
            have_b3 = 1;
        } else if (!strcmp(k, "nn_wf")) {
            if (nt != (int)m->hidden + 2) {
                bad = 1;
            } else if (nwf >= DGA_NFEAT || strcmp(tok[1], dga_feature_names[nwf])) {
                snprintf(err, errlen, "%s:%u: nn_wf '%s': expected '%s'", path, lineno, tok[1],
                         nwf < DGA_NFEAT ? dga_feature_names[nwf] : "none");
                goto fail;
            } else {
                bad = parse_doubles(tok + 2, (int)m->hidden, m->wf[nwf]);
                nwf++;
            }
        } else if (!strcmp(k, "smoothing")) {
            bad = nt != 2 || parse_param(tok[1], &m->k) || m->k < 1 / MAXPARAM;
            have_k = 1;
        } else if (!strcmp(k, "rare")) {
            bad = nt != 2 || parse_u32(tok[1], &m->rare);
            have_rare = 1;
        } else if (!strcmp(k, "threshold_low")) {
            bad = nt != 2 || parse_double(tok[1], &m->threshold_low) || m->threshold_low < 0 ||
                  m->threshold_low > 1;
        } else if (!strcmp(k, "threshold")) {
            bad = nt != 2 || parse_double(tok[1], &m->threshold) || m->threshold < 0 || m->threshold > 1;
            have_thr = 1;
        } else if (!strcmp(k, "ref")) {
            /* ref LABEL F1 .. F<DGA_NFEAT> */
            size_t ll = nt >= 2 ? strlen(tok[1]) : 0;
            if (nt != DGA_NFEAT + 2 || ll < 1 || ll > DGA_MAX_LABEL ||
                strspn(tok[1], "abcdefghijklmnopqrstuvwxyz0123456789-") != ll) {
                bad = 1;
            } else if (nref == MAXREF) {
                snprintf(err, errlen, "%s:%u: more than %d 'ref' lines", path, lineno, MAXREF);
                goto fail;
            } else {
                struct dga_ref *r = &refs[nref];
                r->line = lineno;
                memcpy(r->label, tok[1], ll + 1);
                for (int i = 0; i < DGA_NFEAT && !bad; i++)
                    bad = parse_double(tok[2 + i], &r->f[i]) != 0;
                if (!bad)
                    nref++;
            }
        } else if (!strcmp(k, "sref")) {
            /* sref NAME SCORE */
            size_t nl = nt >= 2 ? strlen(tok[1]) : 0;
            if (nt != 3 || nl < 1 || nl >= sizeof(srefs[0].name)) {
                bad = 1;
            } else if (nsref == MAXREF) {
                snprintf(err, errlen, "%s:%u: more than %d 'sref' lines", path, lineno, MAXREF);
                goto fail;
            } else {
                struct dga_sref *r = &srefs[nsref];
                r->line = lineno;
                memcpy(r->name, tok[1], nl + 1);
                bad = parse_double(tok[2], &r->score) != 0;
                if (!bad)
                    nsref++;
            }
        } else if (!strcmp(k, "crc32")) {
            char *end;
            unsigned long want = nt == 2 ? strtoul(tok[1], &end, 16) : 0;
            if (nt != 2 || strlen(tok[1]) != 8 || *end) {
                bad = 1;
            } else if (want != crc) {
                snprintf(err, errlen, "%s:%u: checksum mismatch: the file says %08lx, its "
                         "content is %08x (damaged or edited)", path, lineno, want, (unsigned)crc);
                goto fail;
            }
            have_crc = 1;
        } else if (!strcmp(k, "end")) {
            bad = nt != 1;
            have_end = 1;
        } else {
            snprintf(err, errlen, "%s:%u: unknown key '%s'", path, lineno, k);
            goto fail;
        }
        if (bad) {
            snprintf(err, errlen, "%s:%u: malformed '%s' line", path, lineno, k);
            goto fail;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    if (!have_version) {
        snprintf(err, errlen, "%s:%u: empty model file", path, lineno);
        goto fail;
    }
    if (!have_end) {
        snprintf(err, errlen, "%s:%u: no 'end' line: the file is cut", path, lineno);
        goto fail;
    }
    if (nfeat != DGA_NFEAT || !have_k || !have_rare || !have_thr || !nwords || !have_nn ||
        !have_scale || !have_b1 || !have_w3 || !have_b3 || nwf != DGA_NFEAT || !nrows || !have_crc) {
        snprintf(err, errlen, "%s:%u: incomplete model: %u of %d features, %u of %d nn_wf%s%s%s%s%s%s%s%s%s%s",
                 path, lineno, nfeat, DGA_NFEAT, nwf, DGA_NFEAT, have_k ? "" : ", no smoothing",
                 have_rare ? "" : ", no rare", have_thr ? "" : ", no threshold",
                 nwords ? "" : ", no dictionary", have_nn ? "" : ", no nn",
                 have_scale && have_b1 ? "" : ", no nn_scale/nn_b1",
                 have_w3 && have_b3 ? "" : ", no nn_w3/nn_b3", nrows ? "" : ", no embedding rows",
                 have_crc ? "" : ", no crc32", "");
        goto fail;
    }
    fclose(f);
    f = NULL;
    free(seen);
    seen = NULL;
    free(line);
    line = NULL;
    free(tok);
    tok = NULL;
    /* log-probabilities, as train-dga's LM.finish() */
    double kk = m->k;
    for (int a = 0; a < NSYM; a++) {
        uint64_t ctx = 0;
        for (int b = 0; b < NSYM; b++)
            ctx += m->bi[a * NSYM + b];
        for (int b = 0; b < NSYM; b++)
            m->lbi[a * NSYM + b] = log((m->bi[a * NSYM + b] + kk) / ((double)ctx + kk * NSYM));
    }
    for (int ab = 0; ab < NSYM * NSYM; ab++) {
        uint64_t ctx = 0;
        for (int c = 0; c < NSYM; c++)
            ctx += tri[ab * NSYM + c];
        for (int c = 0; c < NSYM; c++)
            m->ltri[ab * NSYM + c] = log((tri[ab * NSYM + c] + kk) / ((double)ctx + kk * NSYM));
    }
    free(tri);
    tri = NULL;
    m->trie = malloc(trie_nodes * sizeof(*m->trie));
    if (!m->trie) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    m->trie_n = 1;
    trie_build(&wl_words, 0, wl_words.n, 0, m->trie, 0, &m->trie_n);
    wlist_free(&wl_words);
    m->xlog2x[0] = 0.0;
    for (int i = 1; i <= DGA_MAX_LABEL; i++)
        m->xlog2x[i] = i * log2((double)i);
    for (unsigned j = 0; j < m->hidden; j++) {
        double b = m->b1[j];
        for (int i = 0; i < DGA_NFEAT; i++) {
            m->wfs[i][j] = m->wf[i][j] / m->sd[i];
            b -= m->mean[i] * m->wfs[i][j];
        }
        m->b1s[j] = b;
    }
    /* the trainer's features of its 'ref' labels and scores of its 'sref'
     * names must be this code's: a model written by a trainer out of step
     * with this sensor is refused */
    for (unsigned r = 0; r < nref; r++) {
        double fc[DGA_NFEAT];
        dga_features(m, refs[r].label, strlen(refs[r].label), fc);
        for (int i = 0; i < DGA_NFEAT; i++) {
            double want = refs[r].f[i];
            if (!(fabs(fc[i] - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1))) {
                snprintf(err, errlen, "%s:%u: feature '%s' of '%s': this sensor computes %.17g, "
                         "the trainer %.17g (model and sensor out of step)", path, refs[r].line,
                         dga_feature_names[i], refs[r].label, fc[i], want);
                goto fail;
            }
        }
    }
    for (unsigned r = 0; r < nsref; r++) {
        double sc = dga_score(m, srefs[r].name);
        if (!(fabs(sc - srefs[r].score) <= 1e-9)) {
            snprintf(err, errlen, "%s:%u: score of '%s': this sensor computes %.17g, the trainer "
                     "%.17g (model and sensor out of step)", path, srefs[r].line, srefs[r].name,
                     sc, srefs[r].score);
            goto fail;
        }
    }
    free(refs);
    free(srefs);
    return m;
fail:
    if (f)
        fclose(f);
    free(tri);
    free(refs);
    free(srefs);
    free(line);
    free(tok);
    free(seen);
    wlist_free(&wl_words);
    dga_model_free(m);
    return NULL;
}

/* The label rule: the registrable domain from the Public Suffix List
 * (domain.c, libpsl: the same rule as every finding's domainWithSuffix),
 * whose first label is scored. Names with an empty label, under a
 * skip_tld, that are a public suffix themselves (co.uk, or
 * ec2-1-2-3-4.compute-1.amazonaws.com under a wildcard rule) or whose label
 * is longer than DGA_MAX_LABEL are not scored. */
size_t
dga_split(const char *name, char *reg, size_t n)
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    if (!len || len > 253)
        return 0;
    size_t last_dot = 0;
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.') {
            if (i == 0 || i + 1 == len || name[i - 1] == '.')
                return 0;   /* empty label */
            last_dot = i;
            dots++;
        }
    }
    if (!dots)
        return 0;
    const char *tld = name + last_dot + 1;
    size_t tl = len - last_dot - 1;
    for (size_t i = 0; i < sizeof(skip_tld) / sizeof(skip_tld[0]); i++)
        if (strlen(skip_tld[i]) == tl && !strncasecmp(skip_tld[i], tld, tl))
            return 0;
    if (domain_registrable(name, reg, n) != DOMAIN_OK)
        return 0;
    const char *dot = strchr(reg, '.');
    size_t ll = dot ? (size_t)(dot - reg) : 0;
    return ll <= DGA_MAX_LABEL ? ll : 0;
}

size_t
dga_label(const char *name, char *out, size_t n)
{
    char reg[256];
    size_t len = dga_split(name, reg, sizeof(reg));
    if (!len || len + 1 > n)
        return 0;
    memcpy(out, reg, len);
    out[len] = '\0';
    return len;
}

size_t
dga_registrable(const char *name, char *out, size_t n)
{
    return dga_split(name, out, n) ? strlen(out) : 0;
}

static inline int
is_vowel(unsigned char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

void
dga_features(const struct dga_model *m, const char *lab, size_t n, double *f)
{
    unsigned char cnt[256];
    unsigned char s[DGA_MAX_LABEL + 3];
    memset(cnt, 0, sizeof(cnt));
    if (n > DGA_MAX_LABEL)
        n = DGA_MAX_LABEL;
    unsigned vow = 0, dig = 0, hyph = 0, cons = 0, cons_max = 0, druns = 0, distinct = 0;
    int prev_digit = 0;
    s[0] = SYM_BEGIN;
    s[1] = SYM_BEGIN;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lab[i];
        if (!cnt[c]++)
            distinct++;
        int letter = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
        if (is_vowel(c))
            vow++;
        if (digit) {
            dig++;
            if (!prev_digit)
                druns++;
        }
        prev_digit = digit;
        if (c == '-')
            hyph++;
        if (letter && !is_vowel(c)) {
            if (++cons > cons_max)
                cons_max = cons;
        } else {
            cons = 0;
        }
        s[i + 2] = (unsigned char)sym(c);
    }
    s[n + 2] = SYM_END;
    /* entropy = log2 n - sum(c log2 c) / n over the character counts c */
    double dn = (double)n, sxl = 0.0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lab[i];
        if (cnt[c]) {
            sxl += m->xlog2x[cnt[c]];
            cnt[c] = 0;
        }
    }
    double ent = log2(dn) - sxl / dn;
    /* bigrams of ^label$ = s[1..n+2], trigrams of ^^label$ = s[0..n+2] */
    double bsum = 0.0, bmin = 0.0, tsum = 0.0, tmin = 0.0;
    for (size_t i = 1; i < n + 2; i++) {
        double v = m->lbi[s[i] * NSYM + s[i + 1]];
        bsum += v;
        if (v < bmin)
            bmin = v;
    }
    for (size_t i = 0; i < n + 1; i++) {
        double v = m->ltri[(s[i] * NSYM + s[i + 1]) * NSYM + s[i + 2]];
        tsum += v;
        if (v < tmin)
            tmin = v;
    }
    unsigned nr = 0;
    for (size_t i = 2; i + 1 < n + 2; i++)
        if (m->bi[s[i] * NSYM + s[i + 1]] < m->rare)
            nr++;
    /* dictionary: best[k] = max(covered * 64 - words) over segmentations of lab[0..k) */
    long best[DGA_MAX_LABEL + 1];
    memset(best, 0, sizeof(best));
    unsigned longest = 0;
    for (size_t j = 0; j < n; j++) {
        if (best[j + 1] < best[j])
            best[j + 1] = best[j];
        if (j + 3 > n)
            continue;
        unsigned char c0 = (unsigned char)lab[j], c1 = (unsigned char)lab[j + 1],
                      c2 = (unsigned char)lab[j + 2];
        if (c0 < 'a' || c0 > 'z' || c1 < 'a' || c1 > 'z' || c2 < 'a' || c2 > 'z')
            continue;
        unsigned f3 = m->first3[((c0 - 'a') * 26 + (c1 - 'a')) * 26 + (c2 - 'a')];
        if (!f3)
            continue;
        if (f3 & 1) {
            long v = best[j] + 3 * 64 - 1;
            if (v > best[j + 3])
                best[j + 3] = v;
            if (longest < 3)
                longest = 3;
        }
        if (!(f3 & 2) || j + 3 >= n)
            continue;
        unsigned char c3 = (unsigned char)lab[j + 3];
        if (c3 < 'a' || c3 > 'z')
            continue;
        unsigned i4 = ((c0 - 'a') * 26 + (c1 - 'a')) * 26 * 26 + (c2 - 'a') * 26 + (c3 - 'a');
        unsigned f4 = (m->first4[i4 >> 2] >> (2 * (i4 & 3))) & 3;
        if (f4 & 1) {
            long v = best[j] + 4 * 64 - 1;
            if (v > best[j + 4])
                best[j + 4] = v;
            if (longest < 4)
                longest = 4;
        }
        if (!(f4 & 2))
            continue;
        /* a longer word may start here: walk the trie (its top levels stay
         * in cache) */
        uint64_t v = trie_child(m, trie_child(m, trie_child(m, trie_child(m, m->trie[0],
                                c0 - 'a'), c1 - 'a'), c2 - 'a'), c3 - 'a');
        for (size_t k = j + 4; k < n && k - j < MAXW; k++) {
            unsigned char c = (unsigned char)lab[k];
            if (c < 'a' || c > 'z')
                break;
            v = trie_child(m, v, c - 'a');
            if (!v)
                break;
            size_t ln = k + 1 - j;
            if (v >> 26 & 1) {
                long val = best[j] + (long)ln * 64 - 1;
                if (val > best[k + 1])
                    best[k + 1] = val;
                if (ln > longest)
                    longest = (unsigned)ln;
            }
        }
    }
    long bv = best[n];
    long covered = (bv + 63) / 64;
    long words = covered * 64 - bv;
    double cov = covered / dn;
    double lognsym = log((double)NSYM);
    f[0] = dn;
    f[1] = log(dn);
    f[2] = ent;
    f[3] = vow / dn;
    f[4] = dig / dn;
    f[5] = distinct / dn;
    f[6] = cons_max;
    f[7] = druns;
    f[8] = hyph;
    f[9] = bsum / (dn + 1);
    f[10] = bmin;
    f[11] = tsum / (dn + 1);
    f[12] = tmin;
    f[13] = n > 1 ? nr / (dn - 1) : 0.0;
    f[14] = cov;
    f[15] = (double)words;
    f[16] = longest;
    f[17] = cov * (n > 10 ? (double)(n - 10) : 0.0);
    f[18] = bsum + (dn + 1) * lognsym;
    f[19] = tsum + (dn + 1) * lognsym;
}

/* acc[0..H) = the sum of the rows' embedding values: in int16 lanes (SSE2
 * adds 8 at a time) over chunks of at most EMB_CHUNK rows, which cannot
 * overflow (EMB_CHUNK * 127 < 32768), then into int32. Inlined with a
 * constant H for the usual shapes. */
#define EMB_CHUNK 256
static inline __attribute__((always_inline)) void
emb_sum(int32_t *restrict acc, const int8_t *restrict emb, const uint32_t *rows, unsigned nr,
        unsigned H)
{
    for (unsigned c = 0; c < H; c++)
        acc[c] = 0;
    for (unsigned g0 = 0; g0 < nr; g0 += EMB_CHUNK) {
        unsigned g1 = nr - g0 > EMB_CHUNK ? g0 + EMB_CHUNK : nr;
        int16_t a16[DGA_NN_MAXH];
        for (unsigned c = 0; c < H; c++)
            a16[c] = 0;
        for (unsigned g = g0; g < g1; g++) {
            const int8_t *restrict row = emb + (size_t)rows[g] * H;
#pragma GCC unroll 16
            for (unsigned c = 0; c < H; c++)
                a16[c] = (int16_t)(a16[c] + row[c]);
        }
        for (unsigned c = 0; c < H; c++)
            acc[c] += a16[c];
    }
}

/* The hidden layer (the features' standardisation folded into wfs and b1s),
 * ReLU and the output's logit; a unit at or below 0 adds an exact +0.
 * Inlined with a constant H, which gcc -O2 vectorises. */
static inline __attribute__((always_inline)) double
dense(const struct dga_model *m, const int32_t *acc, const double *f, unsigned H)
{
    double hid[DGA_NN_MAXH];
    for (unsigned c = 0; c < H; c++)
        hid[c] = acc[c] * m->scale[c] + m->b1s[c];
    for (int i = 0; i < DGA_NFEAT; i++) {
        const double fi = f[i];
        const double *restrict w = m->wfs[i];
#pragma GCC unroll 16
        for (unsigned c = 0; c < H; c++)
            hid[c] += fi * w[c];
    }
    double z = m->b3;
    for (unsigned c = 0; c < H; c++)
        z += (hid[c] > 0 ? hid[c] : 0.0) * m->w3[c];
    return z;
}

double
dga_score_label(const struct dga_model *m, const char *lab, size_t n, const char *suffix)
{
    if (!n)
        return -1.0;
    if (n > DGA_MAX_LABEL)
        n = DGA_MAX_LABEL;
    /* the embedding rows of the n-grams of "^label$" and of "." suffix,
     * each prefetched as soon as it is known (the features are computed
     * while they arrive) ... */
    const unsigned H = m->hidden;
    uint32_t rows[(DGA_MAX_LABEL + 2) * 8 + 1];
    unsigned nr = 0;
    unsigned char s[DGA_MAX_LABEL + 2];
    s[0] = '^';
    memcpy(s + 1, lab, n);
    s[n + 1] = '$';
    size_t ns = n + 2;
    for (size_t i = 0; i < ns; i++) {
        uint64_t h = FNV_OFF;
        size_t e = i + m->maxgram < ns ? i + m->maxgram : ns;
        for (size_t j = i; j < e; j++) {
            h = (h ^ s[j]) * FNV_PRIME;
            uint32_t r = (uint32_t)((h ^ (h >> 29)) & m->mask);
            __builtin_prefetch(m->emb + (size_t)r * H);
            rows[nr++] = r;
        }
    }
    uint64_t h = (FNV_OFF ^ '.') * FNV_PRIME;
    for (const char *p = suffix ? suffix : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * FNV_PRIME;
    rows[nr++] = (uint32_t)((h ^ (h >> 29)) & m->mask);
    __builtin_prefetch(m->emb + (size_t)rows[nr - 1] * H);
    double f[DGA_NFEAT];
    dga_features(m, lab, n, f);
    /* ... summed exactly in integers ... */
    int32_t acc[DGA_NN_MAXH];
    if (H == 32)
        emb_sum(acc, m->emb, rows, nr, 32);
    else if (H == 16)
        emb_sum(acc, m->emb, rows, nr, 16);
    else
        emb_sum(acc, m->emb, rows, nr, H);
    /* ... then the hidden layer and the output */
    double z;
    if (H == 32)
        z = dense(m, acc, f, 32);
    else if (H == 16)
        z = dense(m, acc, f, 16);
    else
        z = dense(m, acc, f, H);
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double ez = exp(z);
    return ez / (1.0 + ez);
}

double
dga_score(const struct dga_model *m, const char *name)
{
    char reg[256];
    size_t len = dga_split(name, reg, sizeof(reg));
    return len ? dga_score_label(m, reg, len, reg + len + 1) : -1.0;
}

int
dga_model_path(const char *cfg_path, const char *model, char *out, size_t n)
{
    if (model && *model) {
        const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
        if (model[0] == '/' || !slash)
            snprintf(out, n, "%s", model);
        else
            snprintf(out, n, "%.*s/%s", (int)(slash - cfg_path), cfg_path, model);
        return 0;
    }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, n, "%s/../detect/dga-model.txt", exe);
            if (access(out, R_OK) == 0)
                return 0;
        }
    }
    static const char *const sys[] = {
        "/usr/local/share/mirrorguard/dga-model.txt", "/usr/share/mirrorguard/dga-model.txt",
    };
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (access(sys[i], R_OK) == 0) {
            snprintf(out, n, "%s", sys[i]);
            return 0;
        }
    snprintf(out, n, "dga-model.txt (not found in ../detect/ from the executable's directory, "
             "nor in /usr/local/share/mirrorguard or /usr/share/mirrorguard)");
    return -1;
}

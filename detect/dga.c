/* detect/dga.c - the DGA classifier; see dga.h. scripts/train-dga computes
 * the same features in Python (the label rule, the suffix table and every
 * formula must stay in step with it). */
#include "dga.h"

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

const char *const dga_feature_names[DGA_NFEAT] = {
    "len", "loglen", "entropy", "vowels", "digits", "distinct", "cons_run",
    "digit_runs", "hyphens", "bi_mean", "bi_min", "tri_mean", "tri_min",
    "rare_bi", "dict_cov", "words", "longest_word", "cov_x_len", "bi_llr", "tri_llr",
};

/* Two-label public suffixes (scripts/train-dga SUFFIX2, sorted). */
static const char *const suffix2[] = {
    "3322.org", "ac.at", "ac.cn", "ac.id", "ac.il", "ac.in", "ac.jp", "ac.ke", "ac.kr", "ac.nz",
    "ac.th", "ac.uk", "ac.za", "amazonaws.com", "appspot.com", "asn.au", "azurewebsites.net",
    "biz.pl", "blog.br", "blogspot.com", "br.com", "changeip.com", "cloudfront.net", "cn.com",
    "co.at", "co.id", "co.il", "co.in", "co.jp", "co.ke", "co.kr", "co.nz", "co.th", "co.uk",
    "co.za", "com.ar", "com.au", "com.bd", "com.be", "com.bh", "com.br", "com.cn", "com.co",
    "com.cy", "com.de", "com.ec", "com.eg", "com.es", "com.fr", "com.gr", "com.hk", "com.kw",
    "com.lb", "com.mt", "com.mx", "com.my", "com.ng", "com.np", "com.om", "com.pe", "com.ph",
    "com.pk", "com.pl", "com.pt", "com.qa", "com.ru", "com.sa", "com.sg", "com.tr", "com.tw",
    "com.ua", "com.uy", "com.ve", "com.vn", "ddns.net", "de.com", "duckdns.org", "dyndns.org",
    "dynu.net", "ed.jp", "edu.au", "edu.br", "edu.cn", "edu.hk", "edu.in", "edu.mx", "edu.my",
    "edu.sg", "edu.tr", "edu.tw", "edu.vn", "eu.com", "firm.in", "gb.com", "gen.in", "gen.tr",
    "github.io", "go.id", "go.jp", "go.kr", "go.th", "gob.ar", "gob.mx", "gov.au", "gov.br",
    "gov.cn", "gov.hk", "gov.il", "gov.in", "gov.my", "gov.sg", "gov.tr", "gov.tw", "gov.ua",
    "gov.uk", "gov.vn", "gov.za", "govt.nz", "gr.jp", "gv.at", "herokuapp.com", "hopto.org",
    "id.au", "idv.tw", "in.th", "in.ua", "ind.in", "info.pl", "jpn.com", "kiev.ua", "ltd.uk",
    "me.uk", "msk.ru", "muni.il", "ne.jp", "ne.kr", "net.ar", "net.au", "net.br", "net.cn",
    "net.hk", "net.il", "net.in", "net.mx", "net.my", "net.nz", "net.pl", "net.ru", "net.sg",
    "net.tr", "net.tw", "net.ua", "net.uk", "net.vn", "net.za", "nic.in", "no-ip.biz",
    "no-ip.info", "no-ip.org", "or.at", "or.id", "or.jp", "or.ke", "or.kr", "or.th", "org.ar",
    "org.au", "org.br", "org.cn", "org.hk", "org.il", "org.in", "org.mx", "org.my", "org.nz",
    "org.pl", "org.ru", "org.sg", "org.tr", "org.tw", "org.ua", "org.uk", "org.vn", "org.za",
    "plc.uk", "pp.ru", "re.kr", "ru.com", "sa.com", "sch.uk", "spb.ru", "sytes.net", "uk.com",
    "us.com", "waw.pl", "web.id", "web.za", "za.com", "zapto.org",
};
/* Names under these top-level labels are never scored. */
static const char *const skip_tld[] = {
    "arpa", "corp", "example", "home", "internal", "intranet", "invalid", "lan", "local", "localdomain", "localhost", "onion", "private", "test",
};

struct dga_model {
    double k;                   /* add-k smoothing */
    uint32_t rare;
    double bias, threshold;
    double mean[DGA_NFEAT], sd[DGA_NFEAT], w[DGA_NFEAT];
    uint32_t bi[NSYM * NSYM];
    double lbi[NSYM * NSYM];
    double ltri[NSYM * NSYM * NSYM];
    /* dictionary: every prefix of every word, keyed by its FNV-1a hash;
     * bit 0 = a whole word, bit 1 = slot used */
    uint64_t *pfx;
    size_t pfx_mask, pfx_n;
    /* the first three letters of every word: bit 0 = a 3-letter word,
     * bit 1 = a prefix of a longer word (most positions of a random
     * label stop here, without touching the hash table) */
    uint8_t first3[26 * 26 * 26];
    /* k * log2(k) for k = 0..DGA_MAX_LABEL (the entropy without a log2 call
     * per distinct character) */
    double xlog2x[DGA_MAX_LABEL + 1];
};

/* 'ref' lines: the trainer's features of a few labels, checked at load */
#define MAXREF 32
struct dga_ref {
    unsigned line;
    char label[DGA_MAX_LABEL + 1];
    double f[DGA_NFEAT];
};

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

static int
pfx_find(const struct dga_model *m, uint64_t h)
{
    /* 0 absent, 1 a prefix, 2 a prefix that is a word */
    uint64_t key = h & ~3ULL;
    for (size_t i = (size_t)(h >> 17) & m->pfx_mask;; i = (i + 1) & m->pfx_mask) {
        uint64_t e = m->pfx[i];
        if (!e)
            return 0;
        if ((e & ~3ULL) == key)
            return (e & 1) ? 2 : 1;
    }
}

static int
pfx_add(struct dga_model *m, uint64_t h, int word)
{
    uint64_t key = h & ~3ULL;
    size_t i;
    for (i = (size_t)(h >> 17) & m->pfx_mask;; i = (i + 1) & m->pfx_mask) {
        uint64_t e = m->pfx[i];
        if (!e)
            break;
        if ((e & ~3ULL) == key) {
            if (word)
                m->pfx[i] |= 1;
            return 0;
        }
    }
    if (m->pfx_n + 1 > (m->pfx_mask + 1) / 2) {        /* keep load <= 1/2 */
        size_t ncap = (m->pfx_mask + 1) * 2;
        uint64_t *nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return -1;
        for (size_t j = 0; j <= m->pfx_mask; j++) {
            uint64_t e = m->pfx[j];
            if (!e)
                continue;
            size_t k = (size_t)(e >> 17) & (ncap - 1);
            while (nt[k])
                k = (k + 1) & (ncap - 1);
            nt[k] = e;
        }
        free(m->pfx);
        m->pfx = nt;
        m->pfx_mask = ncap - 1;
        for (i = (size_t)(h >> 17) & m->pfx_mask; m->pfx[i]; i = (i + 1) & m->pfx_mask)
            ;
    }
    m->pfx[i] = key | 2 | (word ? 1 : 0);
    m->pfx_n++;
    return 0;
}

void
dga_model_free(struct dga_model *m)
{
    if (!m)
        return;
    free(m->pfx);
    free(m);
}

double
dga_model_threshold(const struct dga_model *m)
{
    return m->threshold;
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
    if (m) {
        m->pfx_mask = 65535;
        m->pfx = calloc(m->pfx_mask + 1, sizeof(*m->pfx));
    }
    if (!m || !tri || !refs || !m->pfx) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    char line[1024];
    unsigned nref = 0;
    unsigned lineno = 0, nfeat = 0;
    int have_version = 0, have_end = 0, have_k = 0, have_rare = 0, have_bias = 0, have_thr = 0;
    unsigned long nwords = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            goto fail;
        }
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!len || line[0] == '#')
            continue;
        char *tok[DGA_NFEAT + 3];
        int nt = 0;
        for (char *s = strtok(line, " \t"); s; s = strtok(NULL, " \t")) {
            if (nt == DGA_NFEAT + 3) {
                nt++;
                break;
            }
            tok[nt++] = s;
        }
        if (!nt)
            continue;
        if (have_end) {
            snprintf(err, errlen, "%s:%u: text after 'end'", path, lineno);
            goto fail;
        }
        if (!have_version) {
            if (nt != 2 || strcmp(tok[0], "mgdga") || strcmp(tok[1], "1")) {
                snprintf(err, errlen, "%s:%u: not a mirrorguard DGA model (expected 'mgdga 1')",
                         path, lineno);
                goto fail;
            }
            have_version = 1;
            continue;
        }
        const char *k = tok[0];
        int bad = 0;
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
                m->first3[((wd[0] - 'a') * 26 + (wd[1] - 'a')) * 26 + (wd[2] - 'a')] |=
                    wl == 3 ? 1 : 2;
                uint64_t h = FNV_OFF;
                for (size_t i = 0; i < wl; i++) {
                    h = (h ^ (unsigned char)wd[i]) * FNV_PRIME;
                    if (pfx_add(m, h, i + 1 == wl) != 0) {
                        snprintf(err, errlen, "%s: out of memory", path);
                        goto fail;
                    }
                }
                nwords++;
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
            if (nt != 5) {
                bad = 1;
            } else if (nfeat >= DGA_NFEAT || strcmp(tok[1], dga_feature_names[nfeat])) {
                snprintf(err, errlen, "%s:%u: feature '%s': expected '%s' (this sensor computes %d features)",
                         path, lineno, tok[1],
                         nfeat < DGA_NFEAT ? dga_feature_names[nfeat] : "none", DGA_NFEAT);
                goto fail;
            } else if (parse_double(tok[2], &m->mean[nfeat]) || parse_double(tok[3], &m->sd[nfeat]) ||
                       parse_double(tok[4], &m->w[nfeat]) || m->sd[nfeat] <= 0) {
                bad = 1;
            } else {
                nfeat++;
            }
        } else if (!strcmp(k, "smoothing")) {
            bad = nt != 2 || parse_double(tok[1], &m->k) || m->k <= 0;
            have_k = 1;
        } else if (!strcmp(k, "rare")) {
            bad = nt != 2 || parse_u32(tok[1], &m->rare);
            have_rare = 1;
        } else if (!strcmp(k, "bias")) {
            bad = nt != 2 || parse_double(tok[1], &m->bias);
            have_bias = 1;
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
    if (nfeat != DGA_NFEAT || !have_k || !have_rare || !have_bias || !have_thr || !nwords) {
        snprintf(err, errlen, "%s:%u: incomplete model: %u of %d features%s%s%s%s%s", path, lineno,
                 nfeat, DGA_NFEAT, have_k ? "" : ", no smoothing", have_rare ? "" : ", no rare",
                 have_bias ? "" : ", no bias", have_thr ? "" : ", no threshold",
                 nwords ? "" : ", no dictionary");
        goto fail;
    }
    fclose(f);
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
    m->xlog2x[0] = 0.0;
    for (int i = 1; i <= DGA_MAX_LABEL; i++)
        m->xlog2x[i] = i * log2((double)i);
    /* the trainer's features of its 'ref' labels must be this code's: a
     * model written by a trainer out of step with this sensor is refused */
    for (unsigned r = 0; r < nref; r++) {
        double fc[DGA_NFEAT];
        dga_features(m, refs[r].label, strlen(refs[r].label), fc);
        for (int i = 0; i < DGA_NFEAT; i++) {
            double want = refs[r].f[i];
            if (!(fabs(fc[i] - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1))) {
                snprintf(err, errlen, "%s:%u: feature '%s' of '%s': this sensor computes %.17g, "
                         "the trainer %.17g (model and sensor out of step)", path, refs[r].line,
                         dga_feature_names[i], refs[r].label, fc[i], want);
                free(refs);
                dga_model_free(m);
                return NULL;
            }
        }
    }
    free(refs);
    return m;
fail:
    fclose(f);
    free(tri);
    free(refs);
    dga_model_free(m);
    return NULL;
}

/* The label rule. Returns the start and length of the registrable label
 * within name (and of its suffix) or 0. */
static size_t
split_name(const char *name, size_t *lab_off, size_t *end_out)
{
    size_t n = strlen(name);
    if (n && name[n - 1] == '.')
        n--;
    if (!n || n > 253)
        return 0;
    /* label boundaries: up to the last 3 labels matter */
    size_t dots[3];         /* positions of the last three dots */
    int nd = 0;
    for (size_t i = n; i-- > 0;) {
        if (name[i] == '.') {
            if (nd < 3)
                dots[nd++] = i;
            if (i + 1 == n || i == 0 || name[i - 1] == '.')
                return 0;   /* empty label */
        }
    }
    if (nd == 0)
        return 0;
    /* top-level label */
    const char *tld = name + dots[0] + 1;
    size_t tl = n - dots[0] - 1;
    for (size_t i = 0; i < sizeof(skip_tld) / sizeof(skip_tld[0]); i++)
        if (strlen(skip_tld[i]) == tl && !strncasecmp(skip_tld[i], tld, tl))
            return 0;
    size_t s2 = nd >= 2 ? dots[1] + 1 : 0;      /* start of the last two labels */
    size_t l2 = n - s2;
    int two = 0;
    if (l2 < 32) {
        char key[32];
        for (size_t i = 0; i < l2; i++) {
            unsigned char c = (unsigned char)name[s2 + i];
            key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        key[l2] = '\0';
        size_t lo = 0, hi = sizeof(suffix2) / sizeof(suffix2[0]);
        while (lo < hi) {           /* suffix2 is in strcmp order */
            size_t mid = (lo + hi) / 2;
            int c = strcmp(key, suffix2[mid]);
            if (!c) {
                two = 1;
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    size_t start, end;
    if (two) {
        if (nd < 2)
            return 0;       /* the name is a suffix itself */
        end = dots[1];
        start = nd >= 3 ? dots[2] + 1 : 0;
    } else {
        end = dots[0];
        start = nd >= 2 ? dots[1] + 1 : 0;
    }
    if (end - start == 0 || end - start > DGA_MAX_LABEL)
        return 0;
    *lab_off = start;
    *end_out = n;
    return end - start;
}

size_t
dga_label(const char *name, char *out, size_t n)
{
    size_t off, end, len = split_name(name, &off, &end);
    if (!len || len + 1 > n)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[off + i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    return len;
}

size_t
dga_registrable(const char *name, char *out, size_t n)
{
    size_t off, end, len = split_name(name, &off, &end);
    if (!len || end - off + 1 > n)
        return 0;
    for (size_t i = off; i < end; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i - off] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[end - off] = '\0';
    return end - off;
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
        if (!(f3 & 2))
            continue;
        uint64_t h = (((((FNV_OFF ^ c0) * FNV_PRIME) ^ c1) * FNV_PRIME) ^ c2) * FNV_PRIME;
        for (size_t k = j + 3; k < n && k - j < MAXW; k++) {
            unsigned char c = (unsigned char)lab[k];
            if (c < 'a' || c > 'z')
                break;
            h = (h ^ c) * FNV_PRIME;
            int r = pfx_find(m, h);
            if (!r)
                break;
            size_t ln = k + 1 - j;
            if (ln >= MINW && r == 2) {
                long v = best[j] + (long)ln * 64 - 1;
                if (v > best[k + 1])
                    best[k + 1] = v;
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

double
dga_score_label(const struct dga_model *m, const char *lab, size_t n)
{
    double f[DGA_NFEAT];
    if (!n)
        return -1.0;
    dga_features(m, lab, n, f);
    double z = m->bias;
    for (int i = 0; i < DGA_NFEAT; i++)
        z += m->w[i] * (f[i] - m->mean[i]) / m->sd[i];
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

double
dga_score(const struct dga_model *m, const char *name)
{
    char lab[DGA_MAX_LABEL + 1];
    size_t n = dga_label(name, lab, sizeof(lab));
    return n ? dga_score_label(m, lab, n) : -1.0;
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
    snprintf(out, n, "dga-model.txt (not found beside the executable, ../detect/, "
             "nor in /usr/local/share/mirrorguard or /usr/share/mirrorguard)");
    return -1;
}

/* tests/test_det_dga.c - detect/dga.c (the DGA classifier) and
 * detect/det_dga.c (NXDOMAIN bursts, dga threat lists). Run from tests/:
 * the shipped model is ../detect/dga-model.txt. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "cfg.h"
#include "det.h"
#include "dga.h"
#include "lists.h"

void det_dga_stats(void *state, unsigned *hosts, unsigned long long *evicted);

#define MODEL "../detect/dga-model.txt"
#define T0 1700000000000000000ull
#define S  1000000000ull
#define T_B "Trojan:EC2/DGADomainRequest.B"
#define T_C "Trojan:EC2/DGADomainRequest.C!DNS"

static struct dga_model *model;

#define DH_OPS det_dga_ops
#define DH_MAXGOT 256
#include "det_harness.h"

static int suite_init(void)
{
    char e[512];
    model = dga_model_load(MODEL, e, sizeof(e));
    if (!model)
        fprintf(stderr, "\n%s\n", e);
    return model ? 0 : -1;
}

static int suite_fini(void)
{
    dga_model_free(model);
    return 0;
}

static void test_label(void)
{
    char b[128];
    CU_ASSERT_EQUAL(dga_label("www.Google.com", b, sizeof(b)), 6);
    CU_ASSERT_STRING_EQUAL(b, "google");
    CU_ASSERT_EQUAL(dga_label("a.b.example.co.uk.", b, sizeof(b)), 7);
    CU_ASSERT_STRING_EQUAL(b, "example");
    CU_ASSERT(dga_label("cvyh1po636avyrsxebwbkn7.ddns.net", b, sizeof(b)) > 0);
    CU_ASSERT_STRING_EQUAL(b, "cvyh1po636avyrsxebwbkn7");
    CU_ASSERT(dga_registrable("x.y.d1a2b3.cloudfront.net", b, sizeof(b)) > 0);
    CU_ASSERT_STRING_EQUAL(b, "d1a2b3.cloudfront.net");
    CU_ASSERT_EQUAL(dga_label("localhost", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("host.ec2.internal", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("1.0.0.10.in-addr.arpa", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("co.uk", b, sizeof(b)), 0);
    /* the Public Suffix List through libpsl, private section included */
    CU_ASSERT_EQUAL(dga_label("s3.amazonaws.com", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("ec2-1-2-3-4.compute-1.amazonaws.com", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("x.y.assets.s3.amazonaws.com", b, sizeof(b)), 6);
    CU_ASSERT_STRING_EQUAL(b, "assets");
    CU_ASSERT_EQUAL(dga_label("a.b.Mysite.blogspot.com", b, sizeof(b)), 6);
    CU_ASSERT_STRING_EQUAL(b, "mysite");
    CU_ASSERT_EQUAL(dga_label("qwkzmr.gov.pl", b, sizeof(b)), 6);
    CU_ASSERT_STRING_EQUAL(b, "qwkzmr");
    CU_ASSERT_EQUAL(dga_label("foo.zz", b, sizeof(b)), 3);       /* unknown TLD: rule '*' */
    CU_ASSERT_EQUAL(dga_label("a..com", b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(dga_label("", b, sizeof(b)), 0);
    CU_ASSERT_DOUBLE_EQUAL(dga_score(model, "printer.local"), -1.0, 1e-9);
}

static void test_features(void)
{
    double f[DGA_NFEAT];
    dga_features(model, "abc12d", 6, f);
    CU_ASSERT_DOUBLE_EQUAL(f[0], 6, 1e-12);                 /* len */
    CU_ASSERT_DOUBLE_EQUAL(f[2], log2(6), 1e-12);           /* six distinct: entropy log2 6 */
    CU_ASSERT_DOUBLE_EQUAL(f[3], 1.0 / 6, 1e-12);           /* vowels */
    CU_ASSERT_DOUBLE_EQUAL(f[4], 2.0 / 6, 1e-12);           /* digits */
    CU_ASSERT_DOUBLE_EQUAL(f[6], 2, 1e-12);                 /* "bc" */
    CU_ASSERT_DOUBLE_EQUAL(f[7], 1, 1e-12);                 /* one digit run */
    dga_features(model, "bluewaterhouse", 14, f);
    CU_ASSERT_DOUBLE_EQUAL(f[14], 1.0, 1e-12);              /* all covered by words */
    CU_ASSERT(f[15] >= 2 && f[15] <= 4);                    /* blue water house */
    CU_ASSERT(f[16] >= 5);
    dga_features(model, "xq7zk-vw", 8, f);
    CU_ASSERT_DOUBLE_EQUAL(f[14], 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(f[8], 1, 1e-12);                 /* hyphens */
    /* the language model: a common name is far more likely than noise */
    double g[DGA_NFEAT];
    dga_features(model, "google", 6, g);
    dga_features(model, "xqzvkj", 6, f);
    CU_ASSERT(g[11] > f[11] + 1.0);
    CU_ASSERT(g[13] <= f[13]);
}

/* The dictionary walk (first3/first4 tables, then the trie) against the
 * trainer's values (scripts/train-dga features() on the shipped model):
 * 3- and 4-letter words, a word longer than MAXW and a digit break. */
static void test_dict_walk(void)
{
    static const struct { const char *lab; double cov, words, longest; } c[] = {
        { "catdogelephant", 1.0, 3, 8 },
        { "qqbookqq", 0.5, 1, 4 },
        { "xxcounterrevolutionaryxx", 20.0 / 24, 2, 13 },
        { "zzzz9understandings", 14.0 / 19, 1, 14 },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        double f[DGA_NFEAT];
        dga_features(model, c[i].lab, strlen(c[i].lab), f);
        CU_ASSERT_DOUBLE_EQUAL(f[14], c[i].cov, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(f[15], c[i].words, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(f[16], c[i].longest, 1e-12);
    }
}

static void test_scores(void)
{
    static const char *const benign[] = {
        "google.com", "www.facebook.com", "mail.yahoo.co.jp", "en.wikipedia.org",
        "assets.s3.amazonaws.com", "github.com", "login.microsoftonline.com", "api.stripe.com",
        "weather.com", "bbc.co.uk",
    };
    static const char *const dga[] = {
        "xjkqpzlvmwrtb.com", "qxvbnmrtkz.net", "kq0qw6o2siwq.org", "ufmkdjyvfkl.com",
        "hwevqwlocbvmrjdor.net", "gllxeenmijch.com", "eiyoesgwgagqgyue.org",
    };
    double thr = dga_model_threshold(model);
    CU_ASSERT(thr > 0.5 && thr < 1.0);
    for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
        double s = dga_score(model, benign[i]);
        if (!(s >= 0 && s < thr))
            fprintf(stderr, "\nbenign %s scored %f\n", benign[i], s);
        CU_ASSERT(s >= 0 && s < thr);
    }
    for (size_t i = 0; i < sizeof(dga) / sizeof(dga[0]); i++) {
        double s = dga_score(model, dga[i]);
        if (!(s > thr))
            fprintf(stderr, "\nDGA %s scored %f\n", dga[i], s);
        CU_ASSERT(s > thr);
    }
    /* case and the final dot do not matter */
    CU_ASSERT_DOUBLE_EQUAL(dga_score(model, "XJKQPZLVMWRTB.COM."),
                           dga_score(model, "xjkqpzlvmwrtb.com"), 1e-12);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_model_errors(void)
{
    char e[512];
    const char *p = "/tmp/mg_test_dga_model.txt";
    CU_ASSERT_PTR_NULL(dga_model_load("/nonexistent/dga-model.txt", e, sizeof(e)));
    CU_ASSERT(strstr(e, "/nonexistent/dga-model.txt") != NULL);
    /* each file is refused with a message holding want (and want2) */
    static const struct { const char *text, *want, *want2; } bad[] = {
        { "# comment\nhello 1\n", "mg_test_dga_model.txt:2:", NULL },
        /* the logistic-regression format */
        { "mgdga 1\nsmoothing 0.5\n", ":1: not a mirrorguard DGA model of this sensor", NULL },
        { "mgdga 2\nsmoothing 0.5\nthreshold x\n", ":3: malformed 'threshold'", NULL },
        { "mgdga 2\nfeature entropy 1 1\n", ":2: feature 'entropy': expected 'len'", NULL },
        { "mgdga 2\nbi a% 3\n", ":2: malformed 'bi'", NULL },
        { "mgdga 2\nw Apple\n", ":2: dictionary word", NULL },
        /* the trie is built from the sorted list in one pass */
        { "mgdga 2\nw cat\nw bat\n", ":3: dictionary word 'bat': the words must be sorted", NULL },
        { "mgdga 2\nw cat\nw cat\n", ":3: dictionary word 'cat': the words must be sorted", NULL },
        { "mgdga 2\nfrobnicate 2\n", ":2: unknown key 'frobnicate'", NULL },
        /* cut: no end */
        { "mgdga 2\nsmoothing 0.5\n", "no 'end' line", NULL },
        { "mgdga 2\nsmoothing 0.5\nend\n", "incomplete model", NULL },
        { "", "empty model file", NULL },
        /* a ref line needs every feature */
        { "mgdga 2\nref google 1 2 3\n", ":2: malformed 'ref'", NULL },
        /* embedding before its shape */
        { "mgdga 2\ne 1 AAAA\n", ":2: 'e' before the 'nn' line", NULL },
        /* 1 GiB of table from 20 bytes */
        { "mgdga 2\nnn 22 256 1\n", ":2: nn 22 256 1: expected", "at most 64 MiB" },
        /* would overflow the score to NaN */
        { "mgdga 2\nnn 8 16 4\nnn_b3 1e300\n", ":3: malformed 'nn_b3'", NULL },
        { "mgdga 2\nsmoothing 1e-300\n", ":2: malformed 'smoothing'", NULL },
        /* hidden not a multiple of 16 */
        { "mgdga 2\nnn 16 20 4\n", ":2: nn 16 20 4: expected", NULL },
        { "mgdga 2\nnn 8 16 4\ne 256 AAAAAAAAAAAAAAAAAAAAAA==\n", ":3: embedding row 256: the model has 256 rows", NULL },
        /* 15 bytes */
        { "mgdga 2\nnn 8 16 4\ne 3 AAAAAAAAAAAAAAAAAAAA\n", ":3: embedding row 3: expected 16 bytes", NULL },
        { "mgdga 2\nnn 8 16 4\ne 3 AAAAAAAAAAAAAAAAAA*AAA==\n", ":3: embedding row 3: expected 16 bytes", NULL },
        { "mgdga 2\nnn 8 16 4\ne 3 AAAAAAAAAAAAAAAAAAAAA=A\n", ":3: embedding row 3: expected 16 bytes", NULL },
        { "mgdga 2\nnn 8 16 4\ne 3 AAAA=AAAAAAAAAAAAAAAAA==\n", ":3: embedding row 3: expected 16 bytes", NULL },
        { "mgdga 2\nnn 8 16 4\ne 3 AAAAAAAAAAAAAAAAAAAAA\xc3\xa9=\n", ":3: embedding row 3: expected 16 bytes", NULL },
        { "mgdga 2\nnn 8 16 4\ne 3 AAAAAAAAAAAAAAAAAAAAAA==\ne 3 AAAAAAAAAAAAAAAAAAAAAA==\n", ":4: embedding row 3 given twice", NULL },
        { "mgdga 2\nsmoothing 0.5\ncrc32 00000000\nrare 3\nend\n", ":3: checksum mismatch", NULL },
        { "mgdga 2\nref Go.ogle 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n", ":2: malformed 'ref'", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(p, bad[i].text);
        CU_ASSERT_PTR_NULL(dga_model_load(p, e, sizeof(e)));
        int ok = strstr(e, bad[i].want) != NULL && (!bad[i].want2 || strstr(e, bad[i].want2));
        if (!ok)
            fprintf(stderr, "\n  model file %zu: %s\n", i, e);
        CU_ASSERT(ok);
    }
    remove(p);
    /* the detector refuses a missing model with the key's name */
    const char *sets[] = { "detect.dga.model=/nonexistent/m.txt" };
    CU_ASSERT_EQUAL(start(sets, 1), -1);
    CU_ASSERT(strstr(err, "detect.dga.model") != NULL);
    stop();
}

/* Copy the shipped model to out, changing the first line that starts with
 * 'key ' to repl (when not NULL) and writing a 'crc32' line that matches
 * (fix_crc) or the file's own. Returns the changed line's number. */
static unsigned copy_model(const char *out_path, const char *key, const char *repl, int fix_crc)
{
    FILE *in = fopen(MODEL, "r"), *out = fopen(out_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    static char line[16384];
    unsigned lineno = 0, changed = 0;
    uint32_t crc = 0;
    while (fgets(line, sizeof(line), in)) {
        lineno++;
        if (!strncmp(line, "crc32 ", 6)) {
            if (fix_crc)
                fprintf(out, "crc32 %08x\n", (unsigned)crc);
            else
                fputs(line, out);
            continue;
        }
        if (!changed && repl && !strncmp(line, key, strlen(key))) {
            changed = lineno;
            snprintf(line, sizeof(line), "%s\n", repl);
        }
        crc = mg_crc32(crc, line, strlen(line));
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
    return changed;
}

/* The model file carries a CRC-32 of its content; a changed byte is
 * refused with the line of the 'crc32' line. And 'sref' lines (the
 * trainer's scores of a few names): the loader scores them again. */
static void test_crc_sref(void)
{
    char e[512];
    const char *p = "/tmp/mg_test_dga_crc.txt";
    /* an unchanged copy loads, with the same scores */
    copy_model(p, "x", NULL, 1);
    struct dga_model *m2 = dga_model_load(p, e, sizeof(e));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
    CU_ASSERT_DOUBLE_EQUAL(dga_score(m2, "xjkqpzlvmwrtb.cc"), dga_score(model, "xjkqpzlvmwrtb.cc"), 0);
    dga_model_free(m2);
    /* a changed threshold without a new checksum: refused */
    copy_model(p, "threshold ", "threshold 0.5", 0);
    CU_ASSERT_PTR_NULL(dga_model_load(p, e, sizeof(e)));
    CU_ASSERT(strstr(e, "mg_test_dga_crc.txt:") != NULL && strstr(e, "checksum mismatch") != NULL);
    /* a wrong sref score with a matching checksum: refused at its line */
    unsigned ln = copy_model(p, "sref google.com ", "sref google.com 0.5", 1);
    CU_ASSERT(ln > 0);
    CU_ASSERT_PTR_NULL(dga_model_load(p, e, sizeof(e)));
    char want[80];
    snprintf(want, sizeof(want), "mg_test_dga_crc.txt:%u: score of 'google.com'", ln);
    if (!strstr(e, want))
        fprintf(stderr, "\n%s\n", e);
    CU_ASSERT(strstr(e, want) != NULL);
    /* the network changed (and the checksum redone): the sref scores catch it */
    copy_model(p, "nn_b3 ", "nn_b3 0.25", 1);
    CU_ASSERT_PTR_NULL(dga_model_load(p, e, sizeof(e)));
    CU_ASSERT(strstr(e, "score of 'google.com'") != NULL && strstr(e, "out of step") != NULL);
    remove(p);
}

/* The suffix is an input of the network: the same label scores differently
 * under another suffix, and a label's score does not depend on the host
 * labels left of it. */
static void test_suffix_token(void)
{
    double a = dga_score(model, "xjkqpzlvmwrtb.com"), b = dga_score(model, "xjkqpzlvmwrtb.cc");
    CU_ASSERT(a >= 0 && b >= 0 && a != b);
    CU_ASSERT_DOUBLE_EQUAL(dga_score(model, "a.b.xjkqpzlvmwrtb.cc"), b, 0);
    CU_ASSERT_DOUBLE_EQUAL(dga_score(model, "www.bbc.co.uk"), dga_score(model, "bbc.co.uk"), 0);
    CU_ASSERT_DOUBLE_EQUAL(dga_score_label(model, "bbc", 3, "co.uk"), dga_score(model, "BBC.CO.UK"), 0);
    CU_ASSERT(dga_score_label(model, "bbc", 3, "com") != dga_score_label(model, "bbc", 3, "co.uk"));
}

/* The trainer writes its own features of a few labels into the model ('ref'
 * lines); the loader computes them again and refuses a model that disagrees:
 * the C features equal the Python reference on those names. */
static void test_ref_features(void)
{
    FILE *in = fopen(MODEL, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    const char *p = "/tmp/mg_test_dga_ref.txt";
    static char line[16384];
    unsigned nref = 0;
    char repl[2048] = "";
    while (fgets(line, sizeof(line), in)) {
        if (strncmp(line, "ref ", 4))
            continue;
        /* the first ref line: its label, then "len": one more */
        if (++nref == 1) {
            char lab[80];
            double len;
            CU_ASSERT_EQUAL_FATAL(sscanf(line, "ref %79s %lf", lab, &len), 2);
            CU_ASSERT_DOUBLE_EQUAL(len, (double)strlen(lab), 1e-12);
            const char *rest = strchr(line + 4 + strlen(lab) + 1, ' ');
            CU_ASSERT_PTR_NOT_NULL_FATAL(rest);
            snprintf(repl, sizeof(repl), "ref %s %.17g%s", lab, len + 1, rest);
            repl[strcspn(repl, "\n")] = '\0';
        }
    }
    fclose(in);
    unsigned bad_line = copy_model(p, "ref ", repl, 1);
    CU_ASSERT(nref >= 10);
    char e[512], want[64];
    CU_ASSERT_PTR_NULL(dga_model_load(p, e, sizeof(e)));
    snprintf(want, sizeof(want), "mg_test_dga_ref.txt:%u: feature 'len' of '", bad_line);
    if (!strstr(e, want))
        fprintf(stderr, "\n%s\n", e);
    CU_ASSERT(strstr(e, want) != NULL);
    CU_ASSERT(strstr(e, "out of step") != NULL);
    remove(p);
}

static void dns_rec_make(struct dns_rec *d, uint8_t client_last, const char *name,
                         int rcode, uint64_t ts)
{
    memset(d, 0, sizeof(*d));
    d->family = 4;
    d->transport = 17;
    d->client.b[0] = 10, d->client.b[1] = 0, d->client.b[2] = 1, d->client.b[3] = client_last;
    d->server.b[0] = 10, d->server.b[1] = 0, d->server.b[2] = 0, d->server.b[3] = 2;
    d->cport = 40000;
    d->sport = 53;
    d->has_query = d->has_response = 1;
    d->qtype = 1;
    d->qclass = 1;
    d->rcode = (uint8_t)rcode;
    d->vni = 4211;
    d->query_ns = ts;
    d->response_ns = ts + 1000000;
    snprintf(d->qname, sizeof(d->qname), "%s", name);
    d->qname_len = (uint16_t)strlen(d->qname);
}

/* A random-looking name i (all score high with the shipped model). */
static void dga_name(char *b, size_t n, unsigned i)
{
    static const char cons[] = "bcdfghjklmnpqrstvwxz";
    unsigned x = i * 2654435761u + 12345;
    size_t k = 0;
    for (; k < 14 && k + 5 < n; k++) {
        x = x * 1103515245u + 12345;
        b[k] = cons[(x >> 16) % 20];
    }
    snprintf(b + k, n - k, ".com");
}

static void test_burst(void)
{
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    struct dns_rec d;
    char nm[64];
    /* four DGA-like NXDOMAIN names: not yet */
    for (unsigned i = 0; i < 4; i++) {
        dga_name(nm, sizeof(nm), i);
        CU_ASSERT(dga_score(model, nm) > dga_model_threshold(model));
        dns_rec_make(&d, 10, nm, 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    /* the same names again are not new names */
    for (unsigned i = 0; i < 4; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 10, nm, 3, T0 + (5 + i) * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    /* resolving names and benign NXDOMAINs do not count */
    dga_name(nm, sizeof(nm), 100);
    dns_rec_make(&d, 10, nm, 0, T0 + 10 * S);
    det_dga_ops.on_dns(st, &d);
    dns_rec_make(&d, 10, "www.gooogle.com", 3, T0 + 10 * S);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL(n_got, 0);
    /* the fifth distinct one within 60 s: a finding */
    dga_name(nm, sizeof(nm), 4);
    dns_rec_make(&d, 10, nm, 3, T0 + 11 * S);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, T_B);
    CU_ASSERT_DOUBLE_EQUAL(got[0].severity, 8.0, 1e-9);
    CU_ASSERT_EQUAL(got[0].action, FC_DNS_REQUEST);
    CU_ASSERT_EQUAL(got[0].role, FC_ACTOR);
    CU_ASSERT_EQUAL(got[0].direction, FC_OUTBOUND);
    CU_ASSERT_STRING_EQUAL(got[0].domain, nm);
    CU_ASSERT_EQUAL(got[0].remote.b[3], 2);
    CU_ASSERT_EQUAL(got[0].local.b[3], 10);
    CU_ASSERT(strstr(got[0].info, "\"nxdomainBurst\":5") != NULL);
    CU_ASSERT(strstr(got[0].info, "\"sampleNames\":[\"") != NULL);
    CU_ASSERT(strstr(got[0].info, "\"dgaScore\":0.") != NULL);
    /* more within report_interval: no repeat; after it: one more */
    for (unsigned i = 5; i < 10; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 10, nm, 3, T0 + (12 + i) * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 1);
    for (unsigned i = 10; i < 15; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 10, nm, 3, T0 + (400 + i) * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 2);
    /* a slow client: 5 names spread over 5 minutes is not a burst */
    for (unsigned i = 20; i < 26; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 11, nm, 3, T0 + (i - 20) * 61 * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 2);
    stop();
}

/* Names the shipped model scores above its 1% threshold but not above its
 * 0.1% one: pronounceable made-up labels, searched in a fixed order. */
static unsigned mid_names(char (*out)[64], unsigned want)
{
    static const char cons[] = "bcdfghklmnprstvz", vow[] = "aeiou";
    double lo = dga_model_threshold_low(model), hi = dga_model_threshold(model);
    unsigned got_n = 0;
    uint32_t x = 7;
    for (unsigned tries = 0; tries < 200000 && got_n < want; tries++) {
        char nm[64];
        size_t k = 0, len = 6 + (tries % 7);
        for (; k < len; k++) {
            x = x * 1103515245u + 12345;
            nm[k] = k % 2 ? vow[(x >> 16) % 5] : cons[(x >> 16) % 16];
        }
        snprintf(nm + k, sizeof(nm) - k, ".net");
        double sc = dga_score(model, nm);
        if (sc > lo && sc <= hi)
            snprintf(out[got_n++], 64, "%s", nm);
    }
    return got_n;
}

/* The second rule: burst_names_low (6) distinct NXDOMAIN names above the
 * model's 1% threshold, none above its 0.1% one; counted together with the
 * first rule's names; off with burst_names_low 0; a model without a
 * threshold_low line needs detect.dga.threshold_low. */
static void test_burst_low(void)
{
    CU_ASSERT(dga_model_threshold_low(model) > 0.05);
    CU_ASSERT(dga_model_threshold_low(model) < dga_model_threshold(model));
    char mid[12][64];
    CU_ASSERT_EQUAL_FATAL(mid_names(mid, 12), 12);
    struct dns_rec d;
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    for (unsigned i = 0; i < 5; i++) {
        dns_rec_make(&d, 10, mid[i], 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    dns_rec_make(&d, 10, mid[5], 3, T0 + 5 * S);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, T_B);
    CU_ASSERT(strstr(got[0].info, "\"nxdomainBurst\":0,") != NULL);
    CU_ASSERT(strstr(got[0].info, "\"nxdomainBurstLow\":6,") != NULL);
    /* another client: 4 above the 0.1% threshold and 1 between: neither
     * rule yet (4 < 5, 5 < 6); one more between: the second rule */
    char nm[64];
    for (unsigned i = 0; i < 4; i++) {
        dga_name(nm, sizeof(nm), 300 + i);
        dns_rec_make(&d, 11, nm, 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    dns_rec_make(&d, 11, mid[6], 3, T0 + 4 * S);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL(n_got, 1);
    dns_rec_make(&d, 11, mid[7], 3, T0 + 5 * S);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL_FATAL(n_got, 2);
    CU_ASSERT(strstr(got[1].info, "\"nxdomainBurst\":4,") != NULL);
    CU_ASSERT(strstr(got[1].info, "\"nxdomainBurstLow\":6,") != NULL);
    stop();
    /* off */
    const char *off[] = { "detect.dga.burst_names_low=0" };
    CU_ASSERT_EQUAL_FATAL(start(off, 1), 0);
    for (unsigned i = 0; i < 12; i++) {
        dns_rec_make(&d, 10, mid[i], 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    /* a model file without threshold_low: refused with the key's name,
     * unless the threshold is given or the rule is off */
    const char *p = "/tmp/mg_test_dga_nolow.txt";
    copy_model(p, "threshold_low ", "# no threshold_low", 1);
    const char *need[] = { "detect.dga.model=/tmp/mg_test_dga_nolow.txt" };
    CU_ASSERT_EQUAL(start(need, 1), -1);
    CU_ASSERT(strstr(err, "detect.dga.burst_names_low") != NULL);
    stop();
    const char *given[] = { "detect.dga.model=/tmp/mg_test_dga_nolow.txt",
                            "detect.dga.threshold_low=0.2" };
    CU_ASSERT_EQUAL(start(given, 2), 0);
    stop();
    const char *none[] = { "detect.dga.model=/tmp/mg_test_dga_nolow.txt",
                           "detect.dga.burst_names_low=0" };
    CU_ASSERT_EQUAL(start(none, 2), 0);
    stop();
    remove(p);
}

/* How many findings one client's NXDOMAIN answers for names[0..n), one a
 * second, give when the whitelist file at path (named in sets) holds text. */
static unsigned nx_burst(const char *path, const char *text, const char **sets,
                         char (*names)[64], unsigned n)
{
    write_file(path, text);
    if (start(sets, 1) != 0)
        return 99;
    struct dns_rec d;
    for (unsigned i = 0; i < n; i++) {
        dns_rec_make(&d, 10, names[i], 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    unsigned got_n = n_got;
    stop();
    return got_n;
}

static void test_whitelist(void)
{
    const char *p = "/tmp/mg_test_dga_wl.txt";
    char nm[64], line[256];
    FILE *f = fopen(p, "w");
    for (unsigned i = 0; i < 6; i++) {
        dga_name(nm, sizeof(nm), 200 + i);
        snprintf(line, sizeof(line), "%s  # test\n", nm);
        fputs(line, f);
    }
    fclose(f);
    char set[128];
    snprintf(set, sizeof(set), "detect.dga.whitelist=%s", p);
    const char *sets[] = { set };
    CU_ASSERT_EQUAL_FATAL(start(sets, 1), 0);
    struct dns_rec d;
    for (unsigned i = 0; i < 6; i++) {
        dga_name(nm, sizeof(nm), 200 + i);
        char sub[80];
        snprintf(sub, sizeof(sub), "api.%s", nm);       /* under a whitelisted domain */
        dns_rec_make(&d, 10, sub, 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    /* a public suffix stands for every domain under it: CloudFront gives
     * each distribution a random 13-character label, which the model
     * scores as DGA-like about half the time (no such names in its benign
     * lists); here every one is above the threshold */
    char cf[6][64];
    unsigned ncf = 0;
    for (unsigned i = 0; ncf < 6 && i < 1000; i++) {
        dga_name(nm, sizeof(nm), 300 + i);
        snprintf(cf[ncf], sizeof(cf[ncf]), "d%.13s.cloudfront.net", nm);
        if (dga_score(model, cf[ncf]) > dga_model_threshold(model))
            ncf++;
    }
    CU_ASSERT_EQUAL_FATAL(ncf, 6);
    CU_ASSERT_EQUAL(nx_burst(p, "cloudfront.net\ns3.amazonaws.com\n", sets, cf, 6), 0);
    /* without the entry the same NXDOMAIN burst is a finding */
    CU_ASSERT_EQUAL(nx_burst(p, "s3.amazonaws.com\n", sets, cf, 6), 1);
    write_file(p, "com\n");           /* one label: not a domain */
    CU_ASSERT_EQUAL(start(sets, 1), -1);
    CU_ASSERT(strstr(err, "mg_test_dga_wl.txt:1: 'com'") != NULL);
    stop();
    write_file(p, "not a domain\n");
    CU_ASSERT_EQUAL(start(sets, 1), -1);
    CU_ASSERT(strstr(err, "mg_test_dga_wl.txt:1:") != NULL);
    stop();
    remove(p);
}

static void test_threat_list_dga(void)
{
    static const char list[] = "xkqzvbnw.biz\n*.dgafam.example\n";
    char w[256], e[256];
    dh_lists = lists_load_buffer(list, sizeof(list) - 1, "txt", w, sizeof(w), e, sizeof(e));
    CU_ASSERT_PTR_NOT_NULL_FATAL(dh_lists);
    /* lists_load_buffer names the category "test": nothing */
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    struct dns_rec d;
    dns_rec_make(&d, 10, "xkqzvbnw.biz", 0, T0);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
    lists_free(dh_lists);
    /* a list of category dga */
    const char *p = "/tmp/mg_test_dga_list.txt";
    write_file(p, list);
    struct cfg_threat_list tl = { .name = (char *)"dga-feed", .path = (char *)p,
                                  .category = (char *)"dga", .format = (char *)"txt" };
    dh_lists = lists_load(NULL, &tl, 1, w, sizeof(w), e, sizeof(e));
    CU_ASSERT_PTR_NOT_NULL_FATAL(dh_lists);
    CU_ASSERT_EQUAL_FATAL(start(NULL, 0), 0);
    dns_rec_make(&d, 10, "a.dgafam.example", 0, T0);
    det_dga_ops.on_dns(st, &d);
    CU_ASSERT_EQUAL_FATAL(n_got, 1);
    CU_ASSERT_STRING_EQUAL(got[0].type, T_C);
    CU_ASSERT_STRING_EQUAL(got[0].list_name, "dga-feed");
    CU_ASSERT_STRING_EQUAL(got[0].domain, "a.dgafam.example");
    stop();
    lists_free(dh_lists);
    dh_lists = NULL;
    remove(p);
}

static void test_bounded(void)
{
    const char *sets[] = { "detect.dga.max_hosts=64" };
    CU_ASSERT_EQUAL_FATAL(start(sets, 1), 0);
    struct dns_rec d;
    char nm[64];
    /* 20000 spoofed clients, 2 names each: at most 64 kept, no finding */
    for (unsigned i = 0; i < 20000; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 0, nm, 3, T0 + i * 1000);
        d.client.b[2] = (uint8_t)(i >> 8);
        d.client.b[3] = (uint8_t)i;
        d.client.b[1] = (uint8_t)(i >> 16);
        det_dga_ops.on_dns(st, &d);
        det_dga_ops.on_dns(st, &d);
    }
    unsigned hosts;
    unsigned long long ev;
    det_dga_stats(st, &hosts, &ev);
    CU_ASSERT_EQUAL(hosts, 64);
    CU_ASSERT(ev > 10000);              /* every client whose name scored high */
    CU_ASSERT_EQUAL(n_got, 0);
    /* a burst from one client still works after the flood */
    for (unsigned i = 0, k = 0; i < 5; k++) {
        dga_name(nm, sizeof(nm), 50000 + k);
        if (dga_score(model, nm) <= dga_model_threshold(model))
            continue;
        i++;
        dns_rec_make(&d, 99, nm, 3, T0 + 30 * S + i * S);
        d.client.b[0] = 172;
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 1);
    stop();
    /* disabled: init loads nothing and reports nothing */
    const char *off[] = { "detect.dga.enabled=false", "detect.dga.model=/nonexistent" };
    CU_ASSERT_EQUAL_FATAL(start(off, 2), 0);
    for (unsigned i = 0; i < 6; i++) {
        dga_name(nm, sizeof(nm), i);
        dns_rec_make(&d, 10, nm, 3, T0 + i * S);
        det_dga_ops.on_dns(st, &d);
    }
    CU_ASSERT_EQUAL(n_got, 0);
    stop();
}

/* CRC-32 (IEEE): the standard check value, and the same CRC whichever way a
 * buffer is cut into calls (the eight-byte steps and the byte tail). */
static void
test_crc32(void)
{
    CU_ASSERT_EQUAL(mg_crc32(0, "123456789", 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(mg_crc32(0, "", 0), 0);
    unsigned char b[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(b); i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    uint32_t whole = mg_crc32(0, b, sizeof(b)), bytewise = 0;
    for (size_t i = 0; i < sizeof(b); i++)
        bytewise = mg_crc32(bytewise, b + i, 1);
    CU_ASSERT_EQUAL(whole, bytewise);
    unsigned same = 0;
    for (size_t cut = 0; cut <= 40; cut++) {
        uint32_t c = mg_crc32(0, b, cut);
        c = mg_crc32(c, b + cut, 17);
        c = mg_crc32(c, b + cut + 17, sizeof(b) - cut - 17);
        same += c == whole;
    }
    CU_ASSERT_EQUAL(same, 41);
}

int test_det_dga_register(void)
{
    CU_pSuite s = CU_add_suite("det_dga", suite_init, suite_fini);
    if (!s)
        return -1;
    if (!CU_add_test(s, "registrable label", test_label) ||
        !CU_add_test(s, "features", test_features) ||
        !CU_add_test(s, "dictionary walk", test_dict_walk) ||
        !CU_add_test(s, "scores of DGA and benign names", test_scores) ||
        !CU_add_test(s, "model load errors name file:line", test_model_errors) ||
        !CU_add_test(s, "C features equal the trainer's (ref lines)", test_ref_features) ||
        !CU_add_test(s, "checksum and trainer's scores (sref lines)", test_crc_sref) ||
        !CU_add_test(s, "CRC-32 check value, any cut into calls", test_crc32) ||
        !CU_add_test(s, "the suffix token", test_suffix_token) ||
        !CU_add_test(s, "NXDOMAIN burst per client", test_burst) ||
        !CU_add_test(s, "second burst rule at the 1% threshold", test_burst_low) ||
        !CU_add_test(s, "whitelist", test_whitelist) ||
        !CU_add_test(s, "threat lists of category dga", test_threat_list_dga) ||
        !CU_add_test(s, "bounded state", test_bounded))
        return -1;
    return 0;
}

/* detect/dga.h - a small, fast classifier of algorithmically generated
 * domain names (DGA), used by det_dga.c and `mirrorguard dga-score`.
 *
 * What is scored is the registrable label: the first label of the name's
 * registrable domain from the Public Suffix List through libpsl (domain.h):
 * "x7fk2qpl" of "www.x7fk2qpl.com.cn", "cvyh1po6" of "cvyh1po6.ddns.net",
 * "assets" of "x.assets.s3.amazonaws.com". Names under arpa, local,
 * internal, lan, home, corp ..., one-label names and public suffixes
 * themselves ("s3.amazonaws.com") are not scored. scripts/train-dga takes
 * the labels from the same libpsl and list.
 *
 * Features (DGA_NFEAT, in this order; the model file names them):
 *   len, loglen, entropy (Shannon, bits/char), vowels, digits, distinct
 *   (ratios of the length), cons_run (longest consonant run), digit_runs,
 *   hyphens, bi_mean, bi_min, tri_mean, tri_min (natural-log conditional
 *   probabilities of the character bigrams of "^label$" and trigrams of
 *   "^^label$" under a benign language model, add-k smoothed), rare_bi
 *   (share of the label's bigrams seen fewer than 'rare' times in benign
 *   names), dict_cov (share of the label covered by English words of >= 3
 *   letters in the best segmentation), words (words in it), longest_word,
 *   cov_x_len (dict_cov * max(0, len - 10): long all-word names such as
 *   matsnu's and suppobox's), bi_llr, tri_llr (log-likelihood ratio of the
 *   label against uniformly random characters).
 * The entropy is computed as log2 n - sum(c log2 c) / n over the character
 * counts c (a table of c log2 c, no log2 call per character).
 *
 * The score is a small neural network over those features and the name's
 * character n-grams:
 *   n-grams: every substring of 1..MAXGRAM characters of "^label$", and one
 *     token for the public suffix, "." + suffix ("com", "co.uk", "ddns.net");
 *     each hashed to a row of the embedding: FNV-1a 64 of its bytes, h,
 *     row = (h ^ (h >> 29)) mod 2^BITS (an n-gram occurring twice counts twice)
 *   acc[j]  = sum over the n-grams of E[row][j]        (int8 values, exact)
 *   h[j]    = acc[j] * scale[j] + b1[j] + sum_i x_i * wf[i][j],
 *             x_i = (feature_i - mean_i) / sd_i
 *   z       = b3 + sum_j max(h[j], 0) * w3[j];  score = 1 / (1 + exp(-z))
 * (BITS 16, HIDDEN 32, MAXGRAM 4 as shipped: 2 MB of embedding in memory.)
 *
 * Model file (text, written by scripts/train-dga, about 7 MB): lines
 *   mgdga 2                         format version (first non-comment line)
 *   smoothing K | rare N | threshold T | threshold_low T (without it the
 *                                   detector's second burst rule needs
 *                                   detect.dga.threshold_low, or is off)
 *   feature NAME MEAN SD            DGA_NFEAT lines, in the order above
 *   nn BITS HIDDEN MAXGRAM          the network's shape (8..22, 16..DGA_NN_MAXH
 *                                   in steps of 16,
 *                                   1..8; 2^BITS x HIDDEN at most
 *                                   DGA_NN_MAXTABLE); before any nn_* and e line
 *   (every number of the model is within +-1e30; SD and K at least 1e-30,
 *   so a score can never overflow to inf or NaN)
 *   nn_scale S1..SH | nn_b1 B1..BH | nn_w3 W1..WH | nn_b3 B
 *   nn_wf NAME W1..WH               DGA_NFEAT lines, feature order
 *   e ROW BASE64                    embedding row ROW: HIDDEN signed bytes
 *                                   (two's complement) in base64; rows not
 *                                   given are zero
 *   bi XY COUNT | tri XYZ COUNT     benign n-gram counts; alphabet a-z 0-9 -
 *                                   with ^ (begin) and $ (end)
 *   w WORD                          the dictionary (lower-case a-z, 3..15)
 *   ref LABEL F1 .. F20             the trainer's features of LABEL (up to 32
 *                                   such lines): the loader computes them
 *                                   again and refuses the model, naming the
 *                                   line and the feature, when one differs
 *                                   by more than 1e-9 (relative): trainer and
 *                                   sensor out of step
 *   sref NAME SCORE                 the trainer's score of NAME (up to 32):
 *                                   refused when this code's differs by more
 *                                   than 1e-9 (hashing, suffix, network)
 *   crc32 HEX                       CRC-32 (zlib's) of every byte before this
 *                                   line; a damaged or hand-edited file is
 *                                   refused
 *   end                             required: a cut file is refused
 * '#' lines and blank lines are ignored. Errors name "path:line: reason".
 *
 * Cost: no allocation per name; one pass over the label; a dictionary walk
 * from each position (3- and 4-letter prefix tables of 17 + 114 KB reject
 * most positions, longer words walk a depth-first trie of 1.2 MB); about
 * 4 (len + 2) embedding rows, prefetched as their hashes are known and
 * summed in int16 lanes (exact: chunks of at most 256 rows of |value| <= 127);
 * a 20 x HIDDEN dense layer with the standardisation folded in at load:
 * about 0.9 us a name as shipped (scripts/eval-dga measures it).
 * A loaded model is immutable: any number of threads may score with it. */
#ifndef MG_DGA_H
#define MG_DGA_H

#include <stddef.h>

#define DGA_NFEAT     20
#define DGA_MAX_LABEL 63
#define DGA_NN_MAXH   256       /* most hidden units a model may have */
#define DGA_NN_MAXTABLE (64 << 20)  /* largest embedding table (2^bits x hidden), bytes */

struct dga_model;

/* Load a model file. NULL with "path:line: reason" in err on failure. */
struct dga_model *dga_model_load(const char *path, char *err, size_t errlen);
void dga_model_free(struct dga_model *m);

/* The threshold the trainer chose (0.1% false positives on benign
 * validation names). */
double dga_model_threshold(const struct dga_model *m);
/* And the one at 1% (the detector's second burst rule); 0 when the model
 * file has no threshold_low line. */
double dga_model_threshold_low(const struct dga_model *m);

/* The feature names, in order (DGA_NFEAT of them). */
extern const char *const dga_feature_names[DGA_NFEAT];

/* Registrable label of a name (any case, optional final dot) into out
 * (lower-case). Returns its length, 0 when the name is not scored. */
size_t dga_label(const char *name, char *out, size_t n);

/* Registrable domain ("label.suffix") into out; returns its length, 0 when
 * the name has none (same rule as dga_label). */
size_t dga_registrable(const char *name, char *out, size_t n);

/* The registrable domain (libpsl, domain.h) into reg[n] (lower-case);
 * returns the length of its label, reg[0..len), which reg[len] == '.'
 * separates from the public suffix, reg + len + 1; 0 when the name is not
 * scored. */
size_t dga_split(const char *name, char *reg, size_t n);

/* Features of a label (lower-case, 1..DGA_MAX_LABEL bytes) into f[DGA_NFEAT]. */
void dga_features(const struct dga_model *m, const char *label, size_t len, double *f);

/* Score of a label (lower-case) with its public suffix (lower-case, "com",
 * "co.uk"; NULL counts as "") / of a whole name; -1 when not scored. */
double dga_score_label(const struct dga_model *m, const char *label, size_t len,
                       const char *suffix);
double dga_score(const struct dga_model *m, const char *name);

/* Where the model is: detect.dga.model 'model' relative to the configuration
 * file's folder (cfg_path, may be NULL), or, when model is "", the shipped
 * model: <executable's folder>/../detect/dga-model.txt (the source tree's
 * detect/ for build/mirrorguard), then /usr/local/share/mirrorguard/ and
 * /usr/share/mirrorguard/dga-model.txt. 0, or -1 with a message in out. */
int dga_model_path(const char *cfg_path, const char *model, char *out, size_t n);

#endif /* MG_DGA_H */

/* config/cfg_int.h - private to config/ (and its unit tests): the generic
 * YAML node tree that cfg_yaml.c builds with libyaml and cfg.c walks with
 * its schema table, plus two schema helpers the tests use to prove that
 * the example file documents every key and holds exactly the defaults.
 *
 * Nothing outside config/ and tests/ should include this: the rest of the
 * sensor reads struct cfg fields (cfg.h) and never sees YAML. */
#ifndef MG_CFG_INT_H
#define MG_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

enum cfg_node_kind { CFG_SCALAR, CFG_MAP, CFG_SEQ };

/* One node of the document. Positions are 1-based (libyaml's marks are
 * 0-based). A map keeps its entries flat in 'kids' as key, value, key,
 * value... so a map with n entries has 2n kids; a key is always a node of
 * its own, which gives every key its own line:col for error messages.
 *
 * 'origin' is NULL for nodes read from the file, else the text that names
 * where the node came from in messages ("--set flows.max_flows"): nodes made
 * by an override have no meaningful file position. The string is not owned
 * by the node; the loader keeps it alive as long as the tree. */
struct cfg_node {
    enum cfg_node_kind kind;
    unsigned line, col;
    const char *origin;
    char *str;                  /* CFG_SCALAR: text, NUL-terminated */
    size_t len;                 /* CFG_SCALAR: length (may hold NULs) */
    bool plain;                 /* CFG_SCALAR: unquoted, so "", ~, null mean null */
    struct cfg_node **kids;
    unsigned n, cap;            /* number of kids used / allocated */
};

/* What went wrong while parsing a document, for a one-line message. */
struct cfg_yaml_err {
    unsigned line, col;         /* 1-based */
    char path[256];             /* key path being parsed, "" if unknown */
    char msg[256];
};

/* Parse 'len' bytes of YAML into *root. Returns 0 on success (*root is
 * NULL when the stream holds no document or only a null: an empty file),
 * -1 on a syntax error or out of memory, with *e filled. Every node gets
 * 'origin'. Aliases, more than one document and nesting deeper than
 * CFG_MAX_DEPTH are refused: none has a use in a sensor configuration and
 * each would complicate every later step. */
#define CFG_MAX_DEPTH 32
int cfg_yaml_parse(const char *buf, size_t len, const char *origin,
                   struct cfg_node **root, struct cfg_yaml_err *e);

void cfg_node_free(struct cfg_node *n);
struct cfg_node *cfg_node_new(enum cfg_node_kind kind, unsigned line,
                              unsigned col, const char *origin);
/* Append a kid; -1 on out of memory (the kid is not freed). */
int cfg_node_push(struct cfg_node *parent, struct cfg_node *kid);

/* True for a plain scalar that YAML reads as null: empty, "~", "null". */
bool cfg_node_is_null(const struct cfg_node *n);

/* Value of key 'k' in map 'map' (the first one if the key is repeated),
 * or NULL. */
struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *k);

/* Follow a dotted path ("capture.dpdk.port", "mirror_sessions.0.vni":
 * a number indexes a sequence) from 'root'. NULL when absent. */
struct cfg_node *cfg_node_find(const struct cfg_node *root, const char *path);

/* Schema helpers, cfg.c. cfg_schema_foreach() calls fn once per leaf key
 * in table order with its dotted path ("mirror_sessions[].vni" for keys of
 * list items). cfg_diff() writes one line per leaf whose value differs
 * between a and b ("flows.max_flows: 2048 != 1048576") into out and
 * returns how many differ; lists of objects are compared item by item. */
void cfg_schema_foreach(void (*fn)(const char *path, void *arg), void *arg);
unsigned cfg_diff(const struct cfg *a, const struct cfg *b, char *out,
                  size_t outlen);

#endif /* MG_CFG_INT_H */

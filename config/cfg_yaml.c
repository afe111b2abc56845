/* config/cfg_yaml.c - YAML text -> a small generic node tree (libyaml).
 *
 * Why a tree and not a direct event -> struct walk: '--set key=value'
 * overrides must land before validation (so an override can fix a bad file
 * value, and is validated by exactly the same code), duplicate keys and
 * required keys are easiest to see with the whole map at hand, and every
 * node keeps its own line:col so each error can point at it. The tree only
 * knows maps, sequences and scalars; what keys mean is cfg.c's business.
 *
 * Scalars keep their text verbatim: we do not resolve YAML 1.1 types here
 * (account_id: 012345678901 stays "012345678901" rather than becoming an
 * octal number), the schema converts text to the type each key wants. */
#include "cfg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct cfg_node *cfg_node_new(enum cfg_node_kind kind, unsigned line,
                              unsigned col, const char *origin)
{
    struct cfg_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->origin = origin;
    return n;
}

int cfg_node_push(struct cfg_node *p, struct cfg_node *kid)
{
    if (p->n == p->cap) {
        unsigned cap = p->cap ? p->cap * 2 : 8;
        struct cfg_node **k = realloc(p->kids, cap * sizeof(*k));
        if (!k)
            return -1;
        p->kids = k;
        p->cap = cap;
    }
    p->kids[p->n++] = kid;
    return 0;
}

/* Recursion depth is bounded by CFG_MAX_DEPTH for parsed trees, and by
 * the number of dots in a --set key for built ones. */
void cfg_node_free(struct cfg_node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->n; i++)
        cfg_node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

bool cfg_node_is_null(const struct cfg_node *n)
{
    if (!n || n->kind != CFG_SCALAR || !n->plain)
        return false;
    return n->len == 0 || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
           !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

struct cfg_node *cfg_map_get(const struct cfg_node *map, const char *k)
{
    if (!map || map->kind != CFG_MAP)
        return NULL;
    for (unsigned i = 0; i + 1 < map->n; i += 2) {
        const struct cfg_node *key = map->kids[i];
        if (key->kind == CFG_SCALAR && !strcmp(key->str, k))
            return map->kids[i + 1];
    }
    return NULL;
}

struct cfg_node *cfg_node_find(const struct cfg_node *root, const char *path)
{
    const struct cfg_node *n = root;
    char seg[128];

    while (n && *path) {
        size_t l = strcspn(path, ".");
        if (l == 0 || l >= sizeof(seg))
            return NULL;
        memcpy(seg, path, l);
        seg[l] = '\0';
        path += l + (path[l] == '.');
        if (n->kind == CFG_MAP) {
            n = cfg_map_get(n, seg);
        } else if (n->kind == CFG_SEQ) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            if (*end || seg[0] < '0' || seg[0] > '9' || i >= n->n)
                return NULL;
            n = n->kids[i];
        } else {
            return NULL;
        }
    }
    return (struct cfg_node *)n;
}

/* ---------------------------------------------------------------- parser */

struct frame {
    struct cfg_node *node;      /* a map or a sequence being filled */
};

/* The key path of the innermost node being parsed, for syntax errors:
 * libyaml finds a problem while scanning ahead, and "in capture.snaplen"
 * tells the user where to look faster than a line number alone. */
static void stack_path(struct frame *st, unsigned depth, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (unsigned d = 0; d < depth && o < len; d++) {
        const struct cfg_node *p = st[d].node;
        int w = 0;
        if (p->kind == CFG_MAP && p->n > 0) {
            /* Even count: the last complete entry's key, or the key whose
             * value is pending when the count is odd. */
            const struct cfg_node *k = p->kids[(p->n - 1) & ~1u];
            if (k->kind == CFG_SCALAR)
                w = snprintf(out + o, len - o, "%s%s", o ? "." : "", k->str);
        } else if (p->kind == CFG_SEQ && p->n > 0) {
            w = snprintf(out + o, len - o, "[%u]", p->n - 1);
        }
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o >= len)
        out[len - 1] = '\0';
}

/* libyaml's reader errors (bad UTF-8, control characters) carry a byte
 * offset rather than a mark: turn it into line:col ourselves. */
static void offset_to_mark(const char *buf, size_t len, size_t off,
                           unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            c++;                /* count characters, not UTF-8 bytes */
        }
    }
    *line = l;
    *col = c;
}

/* The byte at 1-based line:col, or -1. Used to recognise a tab, which is
 * the single most common YAML mistake and the one libyaml words worst. */
static int char_at(const char *buf, size_t len, unsigned line, unsigned col)
{
    size_t i = 0;
    for (unsigned l = 1; l < line; l++) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (!nl)
            return -1;
        i = (size_t)(nl - buf) + 1;
    }
    for (unsigned c = 1; c < col && i < len && buf[i] != '\n'; c++)
        i++;
    return i < len ? (unsigned char)buf[i] : -1;
}

static void set_err(struct cfg_yaml_err *e, unsigned line, unsigned col,
                    const char *msg)
{
    e->line = line;
    e->col = col;
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

int cfg_yaml_parse(const char *buf, size_t len, const char *origin,
                   struct cfg_node **rootp, struct cfg_yaml_err *e)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct frame st[CFG_MAX_DEPTH];
    unsigned depth = 0, docs = 0;
    struct cfg_node *root = NULL;
    int rc = -1;
    bool done = false;

    *rootp = NULL;
    memset(e, 0, sizeof(*e));
    if (!yaml_parser_initialize(&parser)) {
        set_err(e, 1, 1, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            unsigned line, col;
            char msg[256];
            if (parser.error == YAML_READER_ERROR) {
                offset_to_mark(buf, len, parser.problem_offset, &line, &col);
            } else {
                line = (unsigned)parser.problem_mark.line + 1;
                col = (unsigned)parser.problem_mark.column + 1;
            }
            if (parser.error == YAML_MEMORY_ERROR) {
                snprintf(msg, sizeof(msg), "out of memory");
            } else if (char_at(buf, len, line, col) == '\t') {
                snprintf(msg, sizeof(msg), "YAML syntax error: tab character "
                         "(indent with spaces, YAML does not allow tabs)");
            } else if (parser.context &&
                       parser.context_mark.line + 1 != line) {
                snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s that "
                         "started at line %u)",
                         parser.problem ? parser.problem : "invalid YAML",
                         parser.context,
                         (unsigned)parser.context_mark.line + 1);
            } else if (parser.context) {
                snprintf(msg, sizeof(msg), "YAML syntax error: %s (%s)",
                         parser.problem ? parser.problem : "invalid YAML",
                         parser.context);
            } else {
                snprintf(msg, sizeof(msg), "YAML syntax error: %s",
                         parser.problem ? parser.problem : "invalid YAML");
            }
            set_err(e, line, col, msg);
            stack_path(st, depth, e->path, sizeof(e->path));
            goto out;
        }

        unsigned line = (unsigned)ev.start_mark.line + 1;
        unsigned col = (unsigned)ev.start_mark.column + 1;
        struct cfg_node *n = NULL;

        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                set_err(e, line, col, "more than one YAML document (one "
                        "configuration per file)");
                goto fail_ev;
            }
            break;
        case YAML_ALIAS_EVENT:
            set_err(e, line, col, "YAML aliases (*name) are not supported "
                    "(write the value out)");
            stack_path(st, depth, e->path, sizeof(e->path));
            goto fail_ev;
        case YAML_SCALAR_EVENT:
            n = cfg_node_new(CFG_SCALAR, line, col, origin);
            if (n) {
                n->str = malloc(ev.data.scalar.length + 1);
                if (!n->str) {
                    free(n);
                    n = NULL;
                } else {
                    memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
                    n->str[ev.data.scalar.length] = '\0';
                    n->len = ev.data.scalar.length;
                    n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                }
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            n = cfg_node_new(CFG_SEQ, line, col, origin);
            break;
        case YAML_MAPPING_START_EVENT:
            n = cfg_node_new(CFG_MAP, line, col, origin);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;            /* libyaml guarantees balance */
            break;
        default:
            break;
        }

        if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT) {
            if (!n) {
                set_err(e, line, col, "out of memory");
                goto fail_ev;
            }
            if (depth == 0) {
                root = n;       /* one document: at most one root */
            } else if (cfg_node_push(st[depth - 1].node, n) < 0) {
                cfg_node_free(n);
                set_err(e, line, col, "out of memory");
                goto fail_ev;
            }
            if (n->kind != CFG_SCALAR) {
                if (depth == CFG_MAX_DEPTH) {
                    stack_path(st, depth, e->path, sizeof(e->path));
                    set_err(e, line, col, "nesting too deep");
                    goto fail_ev;
                }
                st[depth++].node = n;
            }
        }
        yaml_event_delete(&ev);
    }

    /* An empty file, or one holding only comments or "~": no settings. */
    if (root && cfg_node_is_null(root)) {
        cfg_node_free(root);
        root = NULL;
    }
    *rootp = root;
    root = NULL;
    rc = 0;
    goto out;

fail_ev:
    yaml_event_delete(&ev);
out:
    cfg_node_free(root);
    yaml_parser_delete(&parser);
    return rc;
}

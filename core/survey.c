/*
 * survey: owns questionnaire definitions: reading and checking their YAML files, the
 * immutable struct survey they become, their JSON form (API and stored copies), sets of
 * them, and the comparison of a definition with the one a database stored for its version.
 *
 * Loading is two passes. libyaml's events are first gathered into a small tree in a
 * scratch arena, which is where anchors and aliases are refused: the event API shows
 * them with their positions, while the document API would silently share the nodes.
 * The tree is then checked and copied into the survey's own arena, so a loaded survey
 * keeps nothing of the parse and every error can point at the exact key or value.
 *
 * A problem does not stop the check: it is recorded and the loader goes on with the next
 * key, question or section, so an author sees every problem of a file in one run. Checks
 * that depend on a broken part (the keys of a question whose type is unknown) are skipped
 * rather than reported as consequences, and a missing key is not reported when a
 * misspelling of it was.
 */
#include "survey.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "expr.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SURVEY_MAX_BYTES        (1024 * 1024)
#define SURVEY_MAX_DEPTH        32
#define SURVEY_MAX_ID           64
#define SURVEY_SCALE_MAX_SPAN   20
#define SURVEY_TEXT_DEFAULT_LEN 2000
#define SURVEY_TEXT_MAX_LEN     100000
#define SURVEY_OTHER_MAX_LEN    500
#define SURVEY_MAX_DECIMALS     6
#define SURVEY_NUMBER_LIMIT     1000000000000000LL /* |bound| in units of 10^-decimals */
#define SURVEY_SHOW_MAX         64                 /* bytes of a user's word echoed in a message */
#define SURVEY_MAX_REFS         64                 /* question ids one expression may name */

enum survey_node_kind {
    SURVEY_SCALAR,
    SURVEY_SEQ,
    SURVEY_MAP,
};

struct survey_node {
    enum survey_node_kind kind;
    int line, col;   /* 1-based */
    const char *str; /* scalar: NUL-terminated */
    size_t len;
    int plain;                  /* scalar: unquoted, so it may be a number or a boolean */
    int quoted;                 /* scalar: in '...' or "...", so its text starts a column later */
    int multiline;              /* scalar: spans lines in the file (block or folded) */
    struct survey_node **items; /* sequence: the items; mapping: key, value, key, value... */
    size_t n;
};

/* A choice list of `choice_lists`, by name. */
struct survey_list {
    const struct survey_node *name;
    struct choice *choices;
    size_t n;
};

/*
 * A reference to a question (piping, an expression) met while reading question idx, checked
 * once every question is built: it must name a question that comes earlier.
 */
struct survey_ref {
    int line, col;
    const char *ref;
    size_t qidx;
    const char *what; /* "show_if", "{{q.x}} in label" */
    int self_ok;      /* a constraint may test the question's own answer */
    int expr;         /* from an expression, which reads only what the browser can read too */
};

struct survey_loader {
    const char *name;
    const char *data;
    size_t len;
    struct arena *tmp; /* the tree */
    struct arena *out; /* the survey */
    yaml_parser_t parser;
    struct err_list *errs;       /* the caller's */
    size_t start, start_dropped; /* how errs was before this file */
    size_t nerrs;                /* this file's problems so far */
    int oom;
    struct survey *s;
    struct survey_list *lists;
    size_t nlists;
    const struct survey_node **qnodes; /* every question's mapping, in order */
    size_t nq;
    struct survey_ref *refs; /* checked once every question is built */
    size_t nrefs, refcap;
};

static const char *const survey_type_names[] = {
    [Q_YESNO] = "yesno",     [Q_SCALE] = "scale",       [Q_CHOICE] = "choice", [Q_TEXT] = "text",
    [Q_NUMBER] = "number",   [Q_MULTIPLE] = "multiple", [Q_MATRIX] = "matrix", [Q_DATE] = "date",
    [Q_RANKING] = "ranking", [Q_CONSENT] = "consent",   [Q_NOTE] = "note",
};

#define SURVEY_NTYPES   (sizeof survey_type_names / sizeof survey_type_names[0])
#define SURVEY_COUNT(a) (sizeof(a) / sizeof(a)[0])

#define SURVEY_T(t)     (1u << (t))
#define SURVEY_T_PLUGIN (1u << SURVEY_NTYPES) /* a plugin's type: `type: x-...` */
#define SURVEY_T_ALL    ((1u << (SURVEY_NTYPES + 1)) - 1)
#define SURVEY_T_ANSWER (SURVEY_T_ALL & ~SURVEY_T(Q_NOTE))
#define SURVEY_T_CONSTRAINT                                                                        \
    (SURVEY_T(Q_YESNO) | SURVEY_T(Q_SCALE) | SURVEY_T(Q_CHOICE) | SURVEY_T(Q_TEXT) |               \
     SURVEY_T(Q_NUMBER) | SURVEY_T(Q_MULTIPLE) | SURVEY_T(Q_DATE))
#define SURVEY_T_CHOICES                                                                           \
    (SURVEY_T(Q_CHOICE) | SURVEY_T(Q_MULTIPLE) | SURVEY_T(Q_RANKING) | SURVEY_T(Q_MATRIX))
#define SURVEY_T_RANGE                                                                             \
    (SURVEY_T(Q_SCALE) | SURVEY_T(Q_NUMBER) | SURVEY_T(Q_DATE) | SURVEY_T(Q_MATRIX))

/* The keys of a question, in the order messages list them, and the types each applies to. */
static const struct {
    const char *key;
    unsigned types;
} survey_qkeys[] = {
    {"id", SURVEY_T_ALL},
    {"type", SURVEY_T_ALL},
    {"label", SURVEY_T_ALL},
    {"hint", SURVEY_T_ALL},
    {"required", SURVEY_T_ANSWER},
    {"show_if", SURVEY_T_ALL},
    {"required_if", SURVEY_T_ANSWER},
    {"constraint", SURVEY_T_CONSTRAINT},
    {"constraint_message", SURVEY_T_CONSTRAINT},
    {"pairs_with", SURVEY_T_ANSWER & ~SURVEY_T(Q_MATRIX) & ~SURVEY_T_PLUGIN},
    {"min", SURVEY_T_RANGE},
    {"max", SURVEY_T_RANGE},
    {"min_label", SURVEY_T(Q_SCALE) | SURVEY_T(Q_MATRIX)},
    {"max_label", SURVEY_T(Q_SCALE) | SURVEY_T(Q_MATRIX)},
    {"choices", SURVEY_T_CHOICES},
    {"appearance", SURVEY_T(Q_CHOICE)},
    {"other", SURVEY_T(Q_CHOICE) | SURVEY_T(Q_MULTIPLE)},
    {"min_selected", SURVEY_T(Q_MULTIPLE)},
    {"max_selected", SURVEY_T(Q_MULTIPLE)},
    {"decimals", SURVEY_T(Q_NUMBER)},
    {"long", SURVEY_T(Q_TEXT)},
    {"max_length", SURVEY_T(Q_TEXT)},
    {"format", SURVEY_T(Q_TEXT)},
    {"items", SURVEY_T(Q_MATRIX)},
    {"options", SURVEY_T_PLUGIN},
};

/* The question types of loaded plugins (survey_set_plugin_types). */
static const struct anketa_qtype *(*survey_plugin_find)(const char *name);
static char survey_plugin_dir[4096];

void survey_set_plugin_types(const struct anketa_qtype *(*find)(const char *name), const char *dir)
{
    survey_plugin_find = find;
    snprintf(survey_plugin_dir, sizeof survey_plugin_dir, "%s", dir ? dir : "");
}

static const char *const survey_top_keys[] = {
    "id",           "version", "title",    "description", "audience", "wave", "pairs_with_survey",
    "choice_lists", "scales",  "sections", "questions"};
static const char *const survey_section_keys[] = {"id", "title", "description", "questions"};
static const char *const survey_audience_keys[] = {"role", "form"};
static const char *const survey_scale_keys[] = {"id",      "label",  "items",
                                                "reverse", "method", "min_items"};
static const char *const survey_item_keys[] = {"id", "label", "pairs_with"};
static const char *const survey_choice_keys[] = {"value", "label"};
static const char *const survey_text_keys[] = {"ru", "en"};
static const char *const survey_roles[] = {"mentor", "mentee", "curator"};
static const char *const survey_forms[] = {"pupil-pupil", "student-pupil", "employer-pupil",
                                           "employer-student", "teacher-teacher"};
static const char *const survey_waves[] = {"none", "entry", "final"};
static const char *const survey_formats[] = {"none", "email", "phone", "digits"};
static const char *const survey_methods[] = {"mean", "sum"};

const char *survey_type_name(enum question_type t)
{
    if ((size_t)t < SURVEY_NTYPES)
        return survey_type_names[t];
    return "unknown";
}

int survey_is_numeric(const struct question *q)
{
    return q->type == Q_SCALE || q->type == Q_NUMBER;
}

/* Out of memory ends the check: the one problem reported is that. */
static int survey_oom(struct survey_loader *L)
{
    L->oom = 1;
    L->nerrs = 1;
    L->errs->n = L->start;
    L->errs->dropped = L->start_dropped;
    return err_list_set(L->errs, L->name, 0, 0, "out of memory");
}

static int survey_fail(struct survey_loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int survey_fail(struct survey_loader *L, int line, int col, const char *fmt, ...)
{
    if (L->oom)
        return -1;
    L->nerrs++;
    if (L->nerrs > SURVEY_MAX_ERRORS) {
        L->errs->dropped++;
        return -1;
    }
    struct err e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return err_list_set(L->errs, L->name, line, col, "%s", e.msg);
}

#define survey_fail_at(L, node, ...) survey_fail((L), (node)->line, (node)->col, __VA_ARGS__)

/* How much of a scalar to echo in a message: bounded, and never half a UTF-8 character. */
static int survey_show_len(const struct survey_node *n)
{
    size_t len = n->len < SURVEY_SHOW_MAX ? n->len : SURVEY_SHOW_MAX;
    if (len < n->len)
        while (len > 0 && ((unsigned char)n->str[len] & 0xC0) == 0x80)
            len--;
    return (int)len;
}

#define SURVEY_SHOW(node) survey_show_len(node), (node)->str

/* libyaml's marks do not count a UTF-8 byte order mark, so neither do ours. */
static size_t survey_bom_len(const struct survey_loader *L)
{
    return L->len >= 3 && memcmp(L->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* The byte at a 1-based line and column as libyaml counts them (columns in characters). */
static const char *survey_char_at(const struct survey_loader *L, int line, int col)
{
    const char *p = L->data + survey_bom_len(L), *end = L->data + L->len;
    for (int l = 1; l < line; l++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p)
            return NULL;
        p++;
    }
    for (int c = 1; c < col && p < end; c++) {
        p++;
        while (p < end && ((unsigned char)*p & 0xC0) == 0x80)
            p++;
    }
    return p < end ? p : NULL;
}

static void survey_offset_pos(const struct survey_loader *L, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = survey_bom_len(L); i < offset && i < L->len; i++) {
        unsigned char c = (unsigned char)L->data[i];
        if (c == '\n') {
            ++*line;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

static int survey_syntax_error(struct survey_loader *L)
{
    const yaml_parser_t *p = &L->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return survey_oom(L);
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        survey_offset_pos(L, p->problem_offset, &line, &col);
        return survey_fail(L, line, col, "%s (save the file as UTF-8)", problem);
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    const char *at = survey_char_at(L, line, col);
    if (at && *at == '\t')
        return survey_fail(L, line, col,
                           "tab character: YAML does not allow tabs for indentation, use spaces");
    if (p->context)
        return survey_fail(L, line, col, "%s (%s at line %d, column %d)", problem, p->context,
                           (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return survey_fail(L, line, col, "%s", problem);
}

static int survey_next_event(struct survey_loader *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev))
        return survey_syntax_error(L);
    return 0;
}

static int survey_append(struct survey_loader *L, struct survey_node *parent, size_t *cap,
                         struct survey_node *child)
{
    if (parent->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct survey_node **items =
            arena_realloc(L->tmp, parent->items, *cap * sizeof *items, ncap * sizeof *items);
        if (!items)
            return survey_oom(L);
        parent->items = items;
        *cap = ncap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

/* Turns the node that starts with ev (which this consumes) into *out. */
static int survey_tree_node(struct survey_loader *L, yaml_event_t *ev, int depth,
                            struct survey_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const yaml_char_t *anchor = NULL;
    yaml_event_type_t end = YAML_NO_EVENT;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        int rc = survey_fail(L, line, col,
                             "YAML aliases (\"*%.*s\") are not supported: write the value out "
                             "in full",
                             SURVEY_SHOW_MAX, (const char *)ev->data.alias.anchor);
        yaml_event_delete(ev);
        return rc;
    }
    case YAML_SCALAR_EVENT: anchor = ev->data.scalar.anchor; break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        end = YAML_SEQUENCE_END_EVENT;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        end = YAML_MAPPING_END_EVENT;
        break;
    default: yaml_event_delete(ev); return survey_fail(L, line, col, "unexpected YAML structure");
    }
    if (anchor) {
        int rc = survey_fail(L, line, col,
                             "YAML anchors (\"&%.*s\") are not supported: remove the anchor "
                             "and write every value out in full",
                             SURVEY_SHOW_MAX, (const char *)anchor);
        yaml_event_delete(ev);
        return rc;
    }
    if (depth > SURVEY_MAX_DEPTH) {
        yaml_event_delete(ev);
        return survey_fail(L, line, col, "nested more than %d levels deep", SURVEY_MAX_DEPTH);
    }
    struct survey_node *n = arena_calloc(L->tmp, 1, sizeof *n);
    if (!n) {
        yaml_event_delete(ev);
        return survey_oom(L);
    }
    n->line = line;
    n->col = col;
    if (ev->type == YAML_SCALAR_EVENT) {
        n->kind = SURVEY_SCALAR;
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        n->multiline = ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                       ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE ||
                       ev->end_mark.line != ev->start_mark.line;
        n->str = arena_strndup(L->tmp, (const char *)ev->data.scalar.value, n->len);
        yaml_event_delete(ev);
        if (!n->str)
            return survey_oom(L);
        if (memchr(n->str, '\0', n->len))
            return survey_fail(L, line, col, "a NUL character (\\0) is not allowed in a value");
        *out = n;
        return 0;
    }
    n->kind = end == YAML_MAPPING_END_EVENT ? SURVEY_MAP : SURVEY_SEQ;
    yaml_event_delete(ev);
    size_t cap = 0;
    for (;;) {
        yaml_event_t child;
        if (survey_next_event(L, &child))
            return -1;
        if (child.type == end) {
            yaml_event_delete(&child);
            break;
        }
        struct survey_node *c;
        if (survey_tree_node(L, &child, depth + 1, &c) || survey_append(L, n, &cap, c))
            return -1;
    }
    *out = n;
    return 0;
}

static int survey_tree(struct survey_loader *L, struct survey_node **root)
{
    yaml_event_t ev;
    if (survey_next_event(L, &ev)) /* the stream start */
        return -1;
    yaml_event_delete(&ev);
    if (survey_next_event(L, &ev))
        return -1;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return survey_fail(L, 1, 1,
                           "the file is empty: write a mapping with id, version, title and "
                           "questions");
    }
    yaml_event_delete(&ev); /* the document start */
    if (survey_next_event(L, &ev) || survey_tree_node(L, &ev, 0, root))
        return -1;
    if (survey_next_event(L, &ev)) /* the document end */
        return -1;
    yaml_event_delete(&ev);
    if (survey_next_event(L, &ev))
        return -1;
    if (ev.type != YAML_STREAM_END_EVENT) {
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        yaml_event_delete(&ev);
        return survey_fail(L, line, col,
                           "a second YAML document: a file holds exactly one survey, remove "
                           "the \"---\" and what follows or move it to its own file");
    }
    yaml_event_delete(&ev);
    return 0;
}

static int survey_is(const struct survey_node *n, const char *s)
{
    return n->kind == SURVEY_SCALAR && strlen(s) == n->len && memcmp(n->str, s, n->len) == 0;
}

/* The value of key in map, NULL when absent. */
static const struct survey_node *survey_get(const struct survey_node *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (survey_is(map->items[i], key))
            return map->items[i + 1];
    return NULL;
}

/*
 * The edit distance of a and b, a transposition of neighbours counting as one edit ("lable"
 * is one edit from "label"). Words longer than SURVEY_MAX_ID are never close to anything.
 */
static size_t survey_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > SURVEY_MAX_ID || nb > SURVEY_MAX_ID)
        return (size_t)-1;
    unsigned short d[SURVEY_MAX_ID + 1][SURVEY_MAX_ID + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (unsigned short)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (unsigned short)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            unsigned short cost = a[i - 1] != b[j - 1];
            unsigned short best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

/* Whether word is a likely misspelling of candidate: few edits for its length. */
static int survey_close(const char *word, size_t n, const char *candidate, size_t *dist)
{
    size_t len = strlen(candidate);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    *dist = survey_distance(word, n, candidate, len);
    return *dist > 0 && *dist <= limit;
}

/* The candidate closest to word (the first of equals), or NULL when none is close. */
static const char *survey_suggest(const char *word, size_t n, const char *const *candidates,
                                  size_t count)
{
    const char *best = NULL;
    size_t best_dist = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t dist;
        if (candidates[i] && survey_close(word, n, candidates[i], &dist) && dist < best_dist) {
            best = candidates[i];
            best_dist = dist;
        }
    }
    return best;
}

/* " (did you mean \"x\"?)" or "" into out. */
static const char *survey_did_you_mean(const char *word, size_t n, const char *const *candidates,
                                       size_t count, char *out, size_t size)
{
    const char *s = survey_suggest(word, n, candidates, count);
    if (s)
        snprintf(out, size, " (did you mean \"%s\"?)", s);
    else
        out[0] = '\0';
    return out;
}

/* "a, b, c" into out. */
static const char *survey_join(const char *const *words, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t j = 0; j < n && used < size; j++) {
        int w = snprintf(out + used, size - used, "%s%s", j ? ", " : "", words[j]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return out;
}

static int survey_key_known(const struct survey_node *k, const char *const *allowed,
                            size_t nallowed)
{
    for (size_t a = 0; a < nallowed; a++)
        if (survey_is(k, allowed[a]))
            return 1;
    return 0;
}

/*
 * Every key is a scalar, one of allowed, and appears once; each problem is reported. pre
 * prefixes the messages (may be ""); where names the mapping.
 */
static int survey_check_keys(struct survey_loader *L, const struct survey_node *map,
                             const char *const *allowed, size_t nallowed, const char *pre,
                             const char *where)
{
    int rc = 0;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct survey_node *k = map->items[i];
        if (k->kind != SURVEY_SCALAR) {
            rc = survey_fail_at(L, k, "%sa key must be a word, not a %s", pre,
                                k->kind == SURVEY_MAP ? "mapping" : "list");
            continue;
        }
        if (!survey_key_known(k, allowed, nallowed)) {
            char list[400];
            const char *s = survey_suggest(k->str, k->len, allowed, nallowed);
            if (s)
                rc = survey_fail_at(L, k, "%sunknown key \"%.*s\" in %s (did you mean \"%s\"?)",
                                    pre, SURVEY_SHOW(k), where, s);
            else
                rc = survey_fail_at(L, k, "%sunknown key \"%.*s\" in %s (expected one of: %s)", pre,
                                    SURVEY_SHOW(k), where,
                                    survey_join(allowed, nallowed, list, sizeof list));
            continue;
        }
        for (size_t j = 0; j < i; j += 2) {
            if (survey_is(map->items[j], k->str)) {
                rc = survey_fail_at(L, k, "%sduplicate key \"%s\" (first defined at line %d)", pre,
                                    k->str, map->items[j]->line);
                break;
            }
        }
    }
    return rc;
}

/*
 * Reports that map lacks key, unless an unknown key of map is a misspelling of it: that
 * one was reported already, and its fix fixes this.
 */
static int survey_missing(struct survey_loader *L, const struct survey_node *map, const char *key,
                          const char *const *allowed, size_t nallowed, const char *where)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct survey_node *k = map->items[i];
        size_t dist;
        if (k->kind == SURVEY_SCALAR && !survey_key_known(k, allowed, nallowed) &&
            survey_close(k->str, k->len, key, &dist))
            return -1;
    }
    return survey_fail_at(L, map, "missing required key \"%s\" in %s", key, where);
}

static int survey_want_scalar(struct survey_loader *L, const struct survey_node *v, const char *pre,
                              const char *key)
{
    if (v->kind == SURVEY_SCALAR)
        return 0;
    return survey_fail_at(L, v, "%s\"%s\" must be a single value, not a %s", pre, key,
                          v->kind == SURVEY_MAP ? "mapping" : "list");
}

static const char *survey_copy(struct survey_loader *L, const struct survey_node *v)
{
    return arena_strndup(L->out, v->str, v->len);
}

/* A plain decimal integer that fits a long: quoted "1" is text, as YAML means it. */
static int survey_long(const struct survey_node *v, long *out)
{
    if (v->kind != SURVEY_SCALAR || !v->plain || v->len == 0 || v->len > 24)
        return -1;
    size_t i = v->str[0] == '-' || v->str[0] == '+';
    if (i == v->len)
        return -1;
    for (; i < v->len; i++)
        if (v->str[i] < '0' || v->str[i] > '9')
            return -1;
    errno = 0;
    long x = strtol(v->str, NULL, 10);
    if (errno)
        return -1;
    *out = x;
    return 0;
}

/*
 * A plain decimal number with at most decimals digits after the point, as an integer in
 * units of 10^-decimals (1.5 with 2 decimals is 150).
 */
static int survey_decimal(const struct survey_node *v, int decimals, long *out)
{
    if (v->kind != SURVEY_SCALAR || !v->plain || v->len == 0 || v->len > 24)
        return -1;
    const char *p = v->str, *end = v->str + v->len;
    int negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    long long x = 0;
    int digits = 0, frac = -1;
    for (; p < end; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -1;
        if (frac >= 0 && ++frac > decimals)
            return -1;
        x = x * 10 + (*p - '0');
        if (x >= SURVEY_NUMBER_LIMIT)
            return -1;
        digits++;
    }
    if (digits == 0 || frac == 0)
        return -1;
    for (int k = frac < 0 ? 0 : frac; k < decimals; k++) {
        x *= 10;
        if (x >= SURVEY_NUMBER_LIMIT)
            return -1;
    }
    *out = (long)(negative ? -x : x);
    return 0;
}

static int survey_bool(const struct survey_node *v, int *out)
{
    if (v->kind != SURVEY_SCALAR || !v->plain)
        return -1;
    if (survey_is(v, "true") || survey_is(v, "True") || survey_is(v, "TRUE")) {
        *out = 1;
        return 0;
    }
    if (survey_is(v, "false") || survey_is(v, "False") || survey_is(v, "FALSE")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int survey_id_chars(const char *s, size_t n, int dash)
{
    if (n < 1 || n > SURVEY_MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dash && c == '-')))
            return 0;
    }
    return 1;
}

static int survey_valid_id(const struct survey_node *v, int dash)
{
    return survey_id_chars(v->str, v->len, dash);
}

/* A question id, or "<matrix>.<item>" / "<question>.other" when sub is set. */
static int survey_valid_ref(const char *s, size_t n, int sub)
{
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return survey_id_chars(s, n, 0);
    return sub && survey_id_chars(s, (size_t)(dot - s), 0) &&
           survey_id_chars(dot + 1, n - (size_t)(dot - s) - 1, 0);
}

static int survey_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int survey_date_valid(const char *s, size_t n)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-' || survey_digits(s, 4, &y) ||
        survey_digits(s + 5, 2, &m) || survey_digits(s + 8, 2, &d))
        return 0;
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* The line and column of byte offset off of scalar v's text, where the file shows them. */
static void survey_inner_pos(const struct survey_node *v, size_t off, int *line, int *col)
{
    *line = v->line;
    *col = v->col;
    if (v->multiline)
        return;
    *col += v->quoted;
    for (size_t i = 0; i < off && i < v->len; i++)
        if (((unsigned char)v->str[i] & 0xC0) != 0x80)
            ++*col;
}

/* Context of a text being read: whether it may pipe answers in, and from which question. */
struct survey_textctx {
    const struct question *q; /* NULL: piping is not allowed here */
};

static int survey_check_pipes(struct survey_loader *L, const struct survey_node *v,
                              const struct survey_textctx *ctx, const char *pre, const char *key,
                              int *pipes);

static int survey_text_part(struct survey_loader *L, const struct survey_node *v, const char *pre,
                            const char *key, const char *part, const char **out,
                            const struct survey_textctx *ctx, int *pipes)
{
    if (v->kind != SURVEY_SCALAR)
        return survey_fail_at(L, v, "%s\"%s\" of \"%s\" must be a single value, not a %s", pre,
                              part, key, v->kind == SURVEY_MAP ? "mapping" : "list");
    if (v->len == 0)
        return survey_fail_at(L, v, "%s\"%s\" of \"%s\" must not be empty", pre, part, key);
    if (!(*out = survey_copy(L, v)))
        return survey_oom(L);
    return survey_check_pipes(L, v, ctx, pre, key, pipes);
}

/* A plain string (Russian) or {ru: ..., en: ...}. ctx NULL: no piping. */
static int survey_text_in(struct survey_loader *L, const struct survey_node *v, const char *pre,
                          const char *key, struct text *out, const struct survey_textctx *ctx,
                          int *pipes)
{
    out->ru = out->en = NULL;
    if (v->kind == SURVEY_SEQ)
        return survey_fail_at(L, v,
                              "%s\"%s\" must be a text or a mapping {ru: ..., en: ...}, not a "
                              "list",
                              pre, key);
    if (v->kind == SURVEY_SCALAR) {
        if (v->len == 0)
            return survey_fail_at(L, v, "%s\"%s\" must not be empty", pre, key);
        if (!(out->ru = survey_copy(L, v)))
            return survey_oom(L);
        return survey_check_pipes(L, v, ctx, pre, key, pipes);
    }
    char where[64];
    snprintf(where, sizeof where, "\"%s\"", key);
    if (survey_check_keys(L, v, survey_text_keys, SURVEY_COUNT(survey_text_keys), pre, where))
        return -1;
    const struct survey_node *ru = survey_get(v, "ru"), *en = survey_get(v, "en");
    if (!ru)
        return survey_fail_at(L, v,
                              "%smissing required key \"ru\" in \"%s\" (the Russian text is "
                              "required, English is optional)",
                              pre, key);
    int rc = survey_text_part(L, ru, pre, key, "ru", &out->ru, ctx, pipes);
    if (en && survey_text_part(L, en, pre, key, "en", &out->en, ctx, pipes))
        rc = -1;
    return rc;
}

static int survey_text(struct survey_loader *L, const struct survey_node *v, const char *pre,
                       const char *key, struct text *out)
{
    return survey_text_in(L, v, pre, key, out, NULL, NULL);
}

static int survey_opt_text(struct survey_loader *L, const struct survey_node *map, const char *pre,
                           const char *key, struct text *out)
{
    const struct survey_node *v = survey_get(map, key);
    out->ru = out->en = NULL;
    return v ? survey_text(L, v, pre, key, out) : 0;
}

/* A name to look for duplicates of, and where it stands in its list. */
struct survey_name {
    const struct survey_node *node;
    size_t idx;
};

static int survey_cmp_names(const void *a, const void *b)
{
    const struct survey_name *x = a, *y = b;
    size_t n = x->node->len < y->node->len ? x->node->len : y->node->len;
    int c = memcmp(x->node->str, y->node->str, n);
    if (c)
        return c;
    if (x->node->len != y->node->len)
        return x->node->len < y->node->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * For each of the n mappings of items, the index of the first earlier one with the same
 * key (a scalar), or n when it has none. Sorting rather than comparing every pair keeps a
 * large file from making loading quadratic.
 */
static size_t *survey_first_seen(struct survey_loader *L, const struct survey_node *const *items,
                                 size_t n, const char *key)
{
    struct survey_name *v = arena_calloc(L->tmp, n ? n : 1, sizeof *v);
    size_t *first = arena_calloc(L->tmp, n ? n : 1, sizeof *first);
    if (!v || !first)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = n;
        const struct survey_node *it = items[i];
        const struct survey_node *name = it->kind == SURVEY_MAP ? survey_get(it, key) : NULL;
        if (name && name->kind == SURVEY_SCALAR)
            v[m++] = (struct survey_name){name, i};
    }
    qsort(v, m, sizeof *v, survey_cmp_names);
    for (size_t i = 1, group = 0; i < m; i++) {
        const struct survey_node *a = v[i].node, *b = v[group].node;
        if (a->len == b->len && memcmp(a->str, b->str, a->len) == 0)
            first[v[i].idx] = v[group].idx;
        else
            group = i;
    }
    return first;
}

/* One of the words of a closed list (role, wave, format...). */
static int survey_word(struct survey_loader *L, const struct survey_node *v, const char *pre,
                       const char *key, const char *const *words, size_t n, size_t *out)
{
    if (survey_want_scalar(L, v, pre, key))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (survey_is(v, words[i])) {
            *out = i;
            return 0;
        }
    }
    char list[256], dym[96];
    return survey_fail_at(L, v, "%s%s \"%.*s\" is not one of %s%s", pre, key, SURVEY_SHOW(v),
                          survey_join(words, n, list, sizeof list),
                          survey_did_you_mean(v->str, v->len, words, n, dym, sizeof dym));
}

static int survey_add_ref(struct survey_loader *L, const struct survey_ref *r)
{
    if (L->nrefs == L->refcap) {
        size_t ncap = L->refcap ? L->refcap * 2 : 16;
        struct survey_ref *grown =
            arena_realloc(L->tmp, L->refs, L->refcap * sizeof *grown, ncap * sizeof *grown);
        if (!grown)
            return survey_oom(L);
        L->refs = grown;
        L->refcap = ncap;
    }
    L->refs[L->nrefs++] = *r;
    return 0;
}

static int survey_check_pipes(struct survey_loader *L, const struct survey_node *v,
                              const struct survey_textctx *ctx, const char *pre, const char *key,
                              int *pipes)
{
    int rc = 0;
    for (const char *p = v->str; (p = strstr(p, "{{")) != NULL;) {
        int line, col;
        survey_inner_pos(v, (size_t)(p - v->str), &line, &col);
        const char *close = strstr(p + 2, "}}");
        if (!close)
            return survey_fail(L, line, col,
                               "%s\"%s\": \"{{\" is not closed by \"}}\" (write {{q.<question "
                               "id>}} to insert an earlier answer)",
                               pre, key);
        const char *in = p + 2, *end = close;
        while (in < end && *in == ' ')
            in++;
        while (end > in && end[-1] == ' ')
            end--;
        size_t n = (size_t)(end - in);
        p = close + 2;
        if (!ctx || !ctx->q) {
            rc = survey_fail(L, line, col,
                             "%s\"%s\": {{...}} inserts an earlier answer only in the label or "
                             "hint of a question",
                             pre, key);
            continue;
        }
        if (n < 3 || memcmp(in, "q.", 2) != 0 || !survey_valid_ref(in + 2, n - 2, 1)) {
            rc = survey_fail(L, line, col,
                             "%s\"%s\": write {{q.<question id>}} to insert an earlier answer "
                             "(got \"{{%.*s}}\")",
                             pre, key, (int)(n < SURVEY_SHOW_MAX ? n : SURVEY_SHOW_MAX), in);
            continue;
        }
        const char *ref = arena_strndup(L->tmp, in + 2, n - 2);
        char *what = arena_printf(L->tmp, "{{q.%s}} in %s", ref ? ref : "", key);
        if (!ref || !what)
            return survey_oom(L);
        struct survey_ref r = {line, col, ref, ctx->q->index, what, 0, 0};
        if (survey_add_ref(L, &r))
            return -1;
        if (pipes)
            *pipes = 1;
    }
    return rc;
}

/* Reads a list of {value, label} into *out; each problem is reported. */
static int survey_choice_items(struct survey_loader *L, const struct survey_node *list,
                               const char *pre, struct choice **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (list->n < 2)
        return survey_fail_at(L, list, "%sneeds at least 2 choices, found %zu", pre, list->n);
    struct choice *choices = arena_calloc(L->out, list->n, sizeof *choices);
    const size_t *first =
        survey_first_seen(L, (const struct survey_node *const *)list->items, list->n, "value");
    if (!choices || !first)
        return survey_oom(L);
    int rc = 0;
    for (size_t i = 0; i < list->n && !L->oom; i++) {
        const struct survey_node *c = list->items[i];
        struct choice *ch = &choices[i];
        if (c->kind != SURVEY_MAP) {
            rc = survey_fail_at(L, c, "%seach choice must be a mapping with value and label", pre);
            continue;
        }
        if (survey_check_keys(L, c, survey_choice_keys, SURVEY_COUNT(survey_choice_keys), pre,
                              "a choice"))
            rc = -1;
        const struct survey_node *v = survey_get(c, "value");
        if (!v) {
            rc = survey_fail_at(L, c, "%smissing required key \"value\" in a choice", pre);
            continue;
        }
        if (survey_want_scalar(L, v, pre, "value")) {
            rc = -1;
            continue;
        }
        if (!survey_valid_id(v, 1)) {
            rc = survey_fail_at(L, v,
                                "%svalue \"%.*s\" must be 1 to 64 characters of a-z, 0-9, \"_\" "
                                "and \"-\"",
                                pre, SURVEY_SHOW(v));
            continue;
        }
        if (first[i] < list->n)
            rc = survey_fail_at(L, v, "%sduplicate value \"%s\" (first defined at line %d)", pre,
                                v->str, survey_get(list->items[first[i]], "value")->line);
        if (!(ch->value = survey_copy(L, v)))
            return survey_oom(L);
        const struct survey_node *label = survey_get(c, "label");
        if (!label) {
            rc = survey_fail_at(L, c, "%smissing required key \"label\" in choice \"%s\"", pre,
                                ch->value);
            continue;
        }
        if (survey_text(L, label, pre, "label", &ch->label))
            rc = -1;
    }
    if (rc == 0) {
        *out = choices;
        *count = list->n;
    }
    return rc;
}

/* `choice_lists`: named lists, read before the questions that use them. */
static int survey_lists(struct survey_loader *L, const struct survey_node *v)
{
    if (v->kind != SURVEY_MAP)
        return survey_fail_at(L, v,
                              "\"choice_lists\" must be a mapping of names to lists of {value, "
                              "label}");
    L->lists = arena_calloc(L->tmp, v->n / 2 + 1, sizeof *L->lists);
    if (!L->lists)
        return survey_oom(L);
    int rc = 0;
    for (size_t i = 0; i + 1 < v->n && !L->oom; i += 2) {
        const struct survey_node *name = v->items[i], *list = v->items[i + 1];
        if (name->kind != SURVEY_SCALAR || !survey_valid_id(name, 0)) {
            rc = survey_fail_at(L, name,
                                "a choice list name must be 1 to 64 characters of a-z, 0-9 and "
                                "\"_\"");
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < L->nlists && !dup; j++) {
            if (survey_is(L->lists[j].name, name->str)) {
                rc = survey_fail_at(L, name,
                                    "duplicate choice list \"%s\" (first defined at line %d)",
                                    name->str, L->lists[j].name->line);
                dup = 1;
            }
        }
        if (dup)
            continue;
        char pre[96];
        snprintf(pre, sizeof pre, "choice list \"%s\": ", name->str);
        struct survey_list *l = &L->lists[L->nlists];
        l->name = name;
        if (list->kind != SURVEY_SEQ) {
            rc = survey_fail_at(L, list, "%smust be a list of {value, label}", pre);
            continue;
        }
        if (survey_choice_items(L, list, pre, &l->choices, &l->n))
            rc = -1;
        L->nlists++;
    }
    return rc;
}

/* `choices:` of a question: a list of its own, or the name of a choice list. */
static int survey_choices(struct survey_loader *L, const struct survey_node *n, struct question *q,
                          const char *pre)
{
    const struct survey_node *list = survey_get(n, "choices");
    if (!list)
        return survey_fail_at(L, n, "missing required key \"choices\" in %s \"%s\"",
                              survey_type_name(q->type), q->id);
    if (list->kind == SURVEY_SCALAR) {
        const char *names[64];
        size_t nn = 0;
        for (size_t i = 0; i < L->nlists; i++) {
            if (survey_is(L->lists[i].name, list->str)) {
                if (!L->lists[i].choices)
                    return -1; /* the list itself is broken, and was reported */
                q->choices = L->lists[i].choices;
                q->nchoices = L->lists[i].n;
                return 0;
            }
            if (nn < SURVEY_COUNT(names))
                names[nn++] = L->lists[i].name->str;
        }
        char dym[96];
        return survey_fail_at(
            L, list,
            "%schoice list \"%.*s\" is not defined%s (define it under "
            "choice_lists at the top of the file)",
            pre, SURVEY_SHOW(list),
            survey_did_you_mean(list->str, list->len, names, nn, dym, sizeof dym));
    }
    if (list->kind != SURVEY_SEQ)
        return survey_fail_at(L, list,
                              "%s\"choices\" must be a list of {value, label} or the name of a "
                              "choice list",
                              pre);
    return survey_choice_items(L, list, pre, &q->choices, &q->nchoices);
}

static int survey_bound(struct survey_loader *L, const struct survey_node *map, const char *pre,
                        const char *key, long *out, int *has)
{
    const struct survey_node *v = survey_get(map, key);
    *has = v != NULL;
    if (v && survey_long(v, out)) {
        *has = 0;
        return survey_fail_at(L, v, "%s\"%s\" must be an integer", pre, key);
    }
    return 0;
}

/* min, max and the end labels of a scale, or of a matrix on a scale. */
static int survey_range(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    int rc = 0;
    static const char *const need[] = {"min", "max"};
    for (size_t i = 0; i < SURVEY_COUNT(need); i++)
        if (!survey_get(n, need[i]))
            rc = survey_fail_at(L, n, "missing required key \"%s\" in %s \"%s\"", need[i],
                                survey_type_name(q->type), q->id);
    if (survey_bound(L, n, pre, "min", &q->min, &q->has_min))
        rc = -1;
    if (survey_bound(L, n, pre, "max", &q->max, &q->has_max))
        rc = -1;
    if (q->has_min && q->has_max) {
        if (q->min >= q->max)
            rc = survey_fail_at(L, survey_get(n, "min"), "%smin must be less than max", pre);
        else if ((unsigned long)q->max - (unsigned long)q->min > SURVEY_SCALE_MAX_SPAN)
            rc = survey_fail_at(L, survey_get(n, "max"),
                                "%smax - min must be at most %d (a scale is shown as a row of "
                                "buttons)",
                                pre, SURVEY_SCALE_MAX_SPAN);
    }
    if (survey_opt_text(L, n, pre, "min_label", &q->min_label))
        rc = -1;
    if (survey_opt_text(L, n, pre, "max_label", &q->max_label))
        rc = -1;
    return rc;
}

static int survey_number(struct survey_loader *L, const struct survey_node *n, struct question *q,
                         const char *pre)
{
    int rc = 0;
    const struct survey_node *v = survey_get(n, "decimals");
    if (v) {
        long d;
        if (survey_long(v, &d) || d < 0 || d > SURVEY_MAX_DECIMALS)
            rc = survey_fail_at(L, v, "%s\"decimals\" must be an integer from 0 to %d", pre,
                                SURVEY_MAX_DECIMALS);
        else
            q->decimals = (int)d;
    }
    static const char *const keys[] = {"min", "max"};
    for (size_t i = 0; i < 2; i++) {
        v = survey_get(n, keys[i]);
        if (!v)
            continue;
        long *dst = i ? &q->max : &q->min;
        if (survey_decimal(v, q->decimals, dst)) {
            if (q->decimals == 0)
                rc = survey_fail_at(L, v, "%s\"%s\" must be an integer", pre, keys[i]);
            else
                rc = survey_fail_at(L, v,
                                    "%s\"%s\" must be a number with at most %d digit%s "
                                    "after the point",
                                    pre, keys[i], q->decimals, q->decimals == 1 ? "" : "s");
            continue;
        }
        *(i ? &q->has_max : &q->has_min) = 1;
    }
    if (q->has_min && q->has_max && q->min > q->max)
        rc = survey_fail_at(L, survey_get(n, "min"), "%smin must not be greater than max", pre);
    return rc;
}

static int survey_textq(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    int rc = 0;
    const struct survey_node *v = survey_get(n, "long");
    if (v && survey_bool(v, &q->long_text))
        rc = survey_fail_at(L, v, "%s\"long\" must be true or false", pre);
    q->max_length = SURVEY_TEXT_DEFAULT_LEN;
    v = survey_get(n, "max_length");
    if (v) {
        long x;
        if (survey_long(v, &x) || x < 1 || x > SURVEY_TEXT_MAX_LEN)
            rc = survey_fail_at(L, v, "%s\"max_length\" must be an integer from 1 to %d", pre,
                                SURVEY_TEXT_MAX_LEN);
        else
            q->max_length = (size_t)x;
    }
    v = survey_get(n, "format");
    size_t f;
    if (v) {
        if (survey_word(L, v, pre, "format", survey_formats, SURVEY_COUNT(survey_formats), &f))
            rc = -1;
        else
            q->format = (enum text_format)f;
        if (q->format != TEXT_FORMAT_NONE && q->long_text)
            rc = survey_fail_at(L, v, "%s\"format\" applies to a one-line text, not a long one",
                                pre);
    }
    return rc;
}

static int survey_date(struct survey_loader *L, const struct survey_node *n, struct question *q,
                       const char *pre)
{
    int rc = 0;
    static const char *const keys[] = {"min", "max"};
    for (size_t i = 0; i < 2; i++) {
        const struct survey_node *v = survey_get(n, keys[i]);
        if (!v)
            continue;
        if (v->kind != SURVEY_SCALAR || !survey_date_valid(v->str, v->len)) {
            rc = survey_fail_at(L, v, "%s\"%s\" must be a date written YYYY-MM-DD", pre, keys[i]);
            continue;
        }
        const char *d = survey_copy(L, v);
        if (!d)
            return survey_oom(L);
        *(i ? &q->date_max : &q->date_min) = d;
    }
    if (q->date_min && q->date_max && strcmp(q->date_min, q->date_max) > 0)
        rc = survey_fail_at(L, survey_get(n, "min"), "%smin must not be after max", pre);
    return rc;
}

/* `other: true` or `other: <label>`, and the text question that comes with it. */
static int survey_other(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    const struct survey_node *v = survey_get(n, "other");
    if (!v)
        return 0;
    if (survey_bool(v, &q->other) < 0) {
        /* YAML 1.1 readers take these for booleans: as a label they would be a surprise. */
        if (v->kind == SURVEY_SCALAR && v->plain &&
            (survey_is(v, "yes") || survey_is(v, "no") || survey_is(v, "on") ||
             survey_is(v, "off")))
            return survey_fail_at(L, v, "%s\"other\" must be true, false or a label", pre);
        if (survey_text(L, v, pre, "other", &q->other_label))
            return -1;
        q->other = 1;
    }
    if (!q->other)
        return 0;
    struct question *t = arena_calloc(L->out, 1, sizeof *t);
    const char *id = arena_printf(L->out, "%s." SURVEY_OTHER_VALUE, q->id);
    if (!t || !id)
        return survey_oom(L);
    t->id = id;
    t->type = Q_TEXT;
    t->label = q->other_label;
    t->max_length = SURVEY_OTHER_MAX_LEN;
    t->line = v->line;
    t->col = v->col;
    t->index = q->index;
    t->section = q->section;
    t->parent = q;
    q->other_text = t;
    for (size_t i = 0; i < q->nchoices; i++)
        if (strcmp(q->choices[i].value, SURVEY_OTHER_VALUE) == 0)
            return survey_fail_at(L, v,
                                  "%sthe value \"" SURVEY_OTHER_VALUE "\" of a choice is "
                                  "what `other` adds: rename that choice or drop `other`",
                                  pre);
    return 0;
}

static int survey_selected(struct survey_loader *L, const struct survey_node *n, struct question *q,
                           const char *pre)
{
    int rc = 0;
    size_t most = q->nchoices + (q->other != 0);
    static const char *const keys[] = {"min_selected", "max_selected"};
    for (size_t i = 0; i < 2; i++) {
        const struct survey_node *v = survey_get(n, keys[i]);
        if (!v)
            continue;
        long x;
        if (survey_long(v, &x) || x < 1 || (q->nchoices && (size_t)x > most)) {
            rc = survey_fail_at(L, v,
                                "%s\"%s\" must be an integer from 1 to %zu (the number of "
                                "choices)",
                                pre, keys[i], most);
            continue;
        }
        *(i ? &q->max_selected : &q->min_selected) = (size_t)x;
    }
    if (q->min_selected && q->max_selected && q->min_selected > q->max_selected)
        rc = survey_fail_at(L, survey_get(n, "min_selected"),
                            "%smin_selected must not be greater than max_selected", pre);
    return rc;
}

static int survey_appearance(struct survey_loader *L, const struct survey_node *n,
                             struct question *q, const char *pre)
{
    static const char *const kinds[] = {"radio", "dropdown"};
    const struct survey_node *v = survey_get(n, "appearance");
    size_t k;
    if (!v)
        return 0;
    if (survey_word(L, v, pre, "appearance", kinds, SURVEY_COUNT(kinds), &k))
        return -1;
    q->dropdown = k == 1;
    return 0;
}

/* `pairs_with`: the id of the paired question of the final survey (checked when both load). */
static int survey_pairs(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    const struct survey_node *v = survey_get(n, "pairs_with");
    if (!v)
        return 0;
    if (survey_want_scalar(L, v, pre, "pairs_with"))
        return -1;
    if (!survey_valid_ref(v->str, v->len, 1))
        return survey_fail_at(L, v,
                              "%s\"pairs_with\" must be a question id of the final survey "
                              "(a-z, 0-9 and \"_\"; \"<matrix>.<item>\" for a matrix item), got "
                              "\"%.*s\"",
                              pre, SURVEY_SHOW(v));
    if (!(q->pairs_with = survey_copy(L, v)))
        return survey_oom(L);
    if (L->s->wave != SURVEY_WAVE_ENTRY)
        return survey_fail_at(L, v,
                              "%s\"pairs_with\" belongs to the items of an entry survey (write "
                              "`wave: entry` at the top)",
                              pre);
    if (!L->s->pairs_with_survey)
        return survey_fail_at(L, v,
                              "%s\"pairs_with\" needs `pairs_with_survey: <id of the final "
                              "survey>` at the top of the file",
                              pre);
    return 0;
}

static int survey_matrix_items(struct survey_loader *L, const struct survey_node *n,
                               struct question *q, const char *pre)
{
    const struct survey_node *list = survey_get(n, "items");
    if (!list)
        return survey_fail_at(L, n, "missing required key \"items\" in matrix \"%s\"", q->id);
    if (list->kind != SURVEY_SEQ || list->n == 0)
        return survey_fail_at(L, list, "%s\"items\" must be a list of {id, label}", pre);
    q->items = arena_calloc(L->out, list->n, sizeof *q->items);
    const size_t *first =
        survey_first_seen(L, (const struct survey_node *const *)list->items, list->n, "id");
    if (!q->items || !first)
        return survey_oom(L);
    int rc = 0;
    for (size_t i = 0; i < list->n && !L->oom; i++) {
        const struct survey_node *c = list->items[i];
        struct question *it = &q->items[i];
        it->line = c->line;
        it->col = c->col;
        it->index = q->index;
        it->section = q->section;
        it->parent = q;
        it->required = q->required;
        if (c->kind != SURVEY_MAP) {
            rc = survey_fail_at(L, c, "%seach item must be a mapping with id and label", pre);
            continue;
        }
        if (survey_check_keys(L, c, survey_item_keys, SURVEY_COUNT(survey_item_keys), pre,
                              "a matrix item"))
            rc = -1;
        const struct survey_node *v = survey_get(c, "id");
        if (!v) {
            rc = survey_fail_at(L, c, "%smissing required key \"id\" in a matrix item", pre);
            continue;
        }
        if (survey_want_scalar(L, v, pre, "id")) {
            rc = -1;
            continue;
        }
        if (!survey_valid_id(v, 0)) {
            rc = survey_fail_at(L, v,
                                "%sitem id \"%.*s\" must be 1 to 64 characters of a-z, 0-9 and "
                                "\"_\"",
                                pre, SURVEY_SHOW(v));
            continue;
        }
        if (first[i] < list->n)
            rc = survey_fail_at(L, v, "%sduplicate item id \"%s\" (first defined at line %d)", pre,
                                v->str, list->items[first[i]]->line);
        if (!(it->id = arena_printf(L->out, "%s.%s", q->id, v->str)))
            return survey_oom(L);
        char ipre[200];
        snprintf(ipre, sizeof ipre, "%sitem \"%s\": ", pre, v->str);
        const struct survey_node *label = survey_get(c, "label");
        struct survey_textctx ctx = {q};
        if (!label)
            rc = survey_fail_at(L, c, "%smissing required key \"label\" in item \"%s\"", pre,
                                v->str);
        else if (survey_text_in(L, label, ipre, "label", &it->label, &ctx, &it->pipes))
            rc = -1;
        if (survey_pairs(L, c, it, ipre))
            rc = -1;
    }
    q->nitems = list->n;
    return rc;
}

/* A matrix: its items on one shared scale (min, max) or choice list (choices). */
static int survey_matrix(struct survey_loader *L, const struct survey_node *n, struct question *q,
                         const char *pre)
{
    int rc = survey_matrix_items(L, n, q, pre);
    int on_choices = survey_get(n, "choices") != NULL;
    if (on_choices && (survey_get(n, "min") || survey_get(n, "max")))
        return survey_fail_at(L, survey_get(n, "choices"),
                              "%sa matrix has either min and max (a scale) or choices, not both",
                              pre);
    if (on_choices) {
        if (survey_get(n, "min_label") || survey_get(n, "max_label"))
            rc = survey_fail_at(L, n, "%smin_label and max_label go with min and max, not choices",
                                pre);
        if (survey_choices(L, n, q, pre))
            rc = -1;
    } else if (survey_range(L, n, q, pre)) {
        rc = -1;
    }
    for (size_t i = 0; i < q->nitems; i++) {
        struct question *it = &q->items[i];
        it->type = on_choices ? Q_CHOICE : Q_SCALE;
        it->min = q->min;
        it->max = q->max;
        it->has_min = q->has_min;
        it->has_max = q->has_max;
        it->min_label = q->min_label;
        it->max_label = q->max_label;
        it->choices = q->choices;
        it->nchoices = q->nchoices;
    }
    return rc;
}

/* The keys of a question of type t, for messages. */
static size_t survey_keys_of(unsigned types, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < SURVEY_COUNT(survey_qkeys); i++)
        if (survey_qkeys[i].types & types)
            out[n++] = survey_qkeys[i].key;
    return n;
}

/* Unknown, repeated and inapplicable keys of a question whose type is t. */
static int survey_question_keys(struct survey_loader *L, const struct survey_node *n, unsigned mask,
                                const char *tname, const char *pre)
{
    const char *all[SURVEY_COUNT(survey_qkeys)], *mine[SURVEY_COUNT(survey_qkeys)];
    size_t nall = survey_keys_of(SURVEY_T_ALL, all), nmine = survey_keys_of(mask, mine);
    int rc = 0;
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const struct survey_node *k = n->items[i];
        if (k->kind != SURVEY_SCALAR) {
            rc = survey_fail_at(L, k, "%sa key must be a word, not a %s", pre,
                                k->kind == SURVEY_MAP ? "mapping" : "list");
            continue;
        }
        if (!survey_key_known(k, all, nall))
            continue;
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j += 2) {
            if (survey_is(n->items[j], k->str)) {
                rc = survey_fail_at(L, k, "duplicate key \"%s\" (first defined at line %d)", k->str,
                                    n->items[j]->line);
                dup = 1;
            }
        }
        if (!dup && !survey_key_known(k, mine, nmine))
            rc = survey_fail_at(L, k, "%skey \"%s\" does not apply to type \"%s\" (remove it)", pre,
                                k->str, tname);
    }
    /* Unknown keys: suggest among the keys of this type first, then among all. */
    for (size_t i = 0; i + 1 < n->n; i += 2) {
        const struct survey_node *k = n->items[i];
        if (k->kind != SURVEY_SCALAR || survey_key_known(k, all, nall))
            continue;
        const char *s = survey_suggest(k->str, k->len, mine, nmine);
        if (!s)
            s = survey_suggest(k->str, k->len, all, nall);
        char list[400];
        if (s)
            rc = survey_fail_at(L, k, "unknown key \"%.*s\" in question (did you mean \"%s\"?)",
                                SURVEY_SHOW(k), s);
        else
            rc = survey_fail_at(L, k, "unknown key \"%.*s\" in question (expected one of: %s)",
                                SURVEY_SHOW(k), survey_join(mine, nmine, list, sizeof list));
    }
    return rc;
}

/* show_if, required_if, constraint: kept as text here, parsed once every question is built. */
static int survey_logic(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    static const char *const keys[] = {"show_if", "required_if", "constraint"};
    const char **dst[] = {&q->show_if, &q->required_if, &q->constraint};
    int rc = 0;
    for (size_t i = 0; i < SURVEY_COUNT(keys); i++) {
        const struct survey_node *v = survey_get(n, keys[i]);
        if (!v)
            continue;
        if (survey_want_scalar(L, v, pre, keys[i])) {
            rc = -1;
            continue;
        }
        if (v->len == 0) {
            rc = survey_fail_at(L, v, "%s\"%s\" must not be empty", pre, keys[i]);
            continue;
        }
        if (!(*dst[i] = survey_copy(L, v)))
            return survey_oom(L);
    }
    if (survey_opt_text(L, n, pre, "constraint_message", &q->constraint_message))
        rc = -1;
    if (q->constraint_message.ru && !q->constraint)
        rc = survey_fail_at(L, survey_get(n, "constraint_message"),
                            "%s\"constraint_message\" goes with a \"constraint\"", pre);
    return rc;
}

/* The type-specific part of a question. */
static int survey_question_type(struct survey_loader *L, const struct survey_node *n,
                                struct question *q, const char *pre)
{
    switch (q->type) {
    case Q_SCALE: return survey_range(L, n, q, pre);
    case Q_NUMBER: return survey_number(L, n, q, pre);
    case Q_CHOICE:
    case Q_MULTIPLE: {
        /* In this order: other checks the choices, the limits count both. */
        int rc = survey_choices(L, n, q, pre);
        if (survey_other(L, n, q, pre))
            rc = -1;
        if (q->type == Q_CHOICE ? survey_appearance(L, n, q, pre) : survey_selected(L, n, q, pre))
            rc = -1;
        return rc;
    }
    case Q_RANKING: return survey_choices(L, n, q, pre);
    case Q_MATRIX: return survey_matrix(L, n, q, pre);
    case Q_TEXT: return survey_textq(L, n, q, pre);
    case Q_DATE: return survey_date(L, n, q, pre);
    case Q_YESNO:
    case Q_CONSENT:
    case Q_NOTE: return 0;
    }
    return 0;
}

/*
 * A question of a plugin's type: its `options:` go to the plugin's check, whose choices
 * become the question's (copied into the survey); what check made is freed with the survey.
 */
static int survey_plugin_question(struct survey_loader *L, const struct survey_node *n,
                                  struct question *q, const char *pre)
{
    const struct survey_node *o = survey_get(n, "options");
    size_t nopts = o ? o->n / 2 : 0;
    if (o && o->kind != SURVEY_MAP)
        return survey_fail_at(L, o, "%s\"options\" must be a mapping of key: value", pre);
    struct anketa_qtype_option *opts = arena_calloc(L->tmp, nopts ? nopts : 1, sizeof *opts);
    char *dir = arena_strdup(L->tmp, L->name);
    if (!opts || !dir)
        return survey_oom(L);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    for (size_t i = 0; i < nopts; i++) {
        const struct survey_node *k = o->items[2 * i], *v = o->items[2 * i + 1];
        if (k->kind != SURVEY_SCALAR || v->kind != SURVEY_SCALAR)
            return survey_fail_at(L, v, "%seach option must be key: value (a word, a text)", pre);
        opts[i] = (struct anketa_qtype_option){k->str, v->str};
    }
    struct anketa_qtype_question qq = {
        .size = sizeof qq,
        .survey_path = L->name,
        .survey_dir = slash ? dir : ".",
        .id = q->id,
        .options = opts,
        .noptions = nopts,
    };
    const struct anketa_choice *choices = NULL;
    size_t nchoices = 0, bad = (size_t)-1;
    void *state = NULL;
    char why[ANKETA_ERR_MAX] = "";
    if (q->xtype->check(&qq, &state, &choices, &nchoices, &bad, why) != 0)
        return survey_fail_at(L, bad < nopts ? o->items[2 * bad + 1] : n, "%s%s", pre,
                              why[0] ? why : "refused by its plugin");
    if (q->xtype->free && arena_defer(L->out, q->xtype->free, state) < 0)
        return survey_oom(L);
    q->xstate = state;
    if (nchoices == 0 || !choices)
        return survey_fail_at(L, n, "%sits plugin gives no choices", pre);
    if (!(q->choices = arena_calloc(L->out, nchoices, sizeof *q->choices)))
        return survey_oom(L);
    for (size_t i = 0; i < nchoices; i++) {
        if (!choices[i].value || !choices[i].value[0] || !choices[i].label)
            return survey_fail_at(L, n, "%sits plugin gives a choice without value or label", pre);
        q->choices[i].value = arena_strdup(L->out, choices[i].value);
        q->choices[i].label.ru = arena_strdup(L->out, choices[i].label);
        if (!q->choices[i].value || !q->choices[i].label.ru)
            return survey_oom(L);
    }
    q->nchoices = nchoices;
    q->dropdown = 1;
    return 0;
}

/* Builds questions[idx] from its mapping; dup: the index of an earlier question with its id. */
static int survey_question_at(struct survey_loader *L, const struct survey_node *n,
                              struct question *q, size_t idx, size_t dup)
{
    q->line = n->line;
    q->col = n->col;
    q->index = idx;
    if (n->kind != SURVEY_MAP)
        return survey_fail_at(L, n,
                              "each question must be a mapping with at least id, type and "
                              "label");
    const char *all[SURVEY_COUNT(survey_qkeys)];
    size_t nall = survey_keys_of(SURVEY_T_ALL, all);
    const struct survey_node *v = survey_get(n, "id");
    if (!v)
        return survey_missing(L, n, "id", all, nall, "question");
    if (survey_want_scalar(L, v, "question: ", "id"))
        return -1;
    if (!survey_valid_id(v, 0))
        return survey_fail_at(L, v,
                              "question id \"%.*s\" must be 1 to 64 characters of a-z, 0-9 and "
                              "\"_\"",
                              SURVEY_SHOW(v));
    int rc = 0;
    if (dup < idx)
        rc = survey_fail_at(L, v, "duplicate question id \"%s\" (first defined at line %d)", v->str,
                            L->qnodes[dup]->line);
    if (!(q->id = survey_copy(L, v)))
        return survey_oom(L);

    char pre[96], where[96];
    snprintf(pre, sizeof pre, "question \"%s\": ", q->id);
    snprintf(where, sizeof where, "question \"%s\"", q->id);
    v = survey_get(n, "type");
    if (!v)
        return survey_missing(L, n, "type", all, nall, where);
    if (survey_want_scalar(L, v, pre, "type"))
        return -1;
    size_t t = 0;
    while (t < SURVEY_NTYPES && !survey_is(v, survey_type_names[t]))
        t++;
    const struct anketa_qtype *xt = NULL;
    if (t == SURVEY_NTYPES && v->len > 2 && strncmp(v->str, "x-", 2) == 0) {
        xt = survey_plugin_find ? survey_plugin_find(v->str) : NULL;
        if (!xt)
            return survey_fail_at(L, v,
                                  "%stype \"%.*s\" is a plugin's, and no loaded plugin provides "
                                  "it (the plugins are loaded from %s: plugin_dir, --plugin-dir)",
                                  pre, SURVEY_SHOW(v),
                                  survey_plugin_dir[0] ? survey_plugin_dir : "no directory");
    }
    if (t == SURVEY_NTYPES && !xt) {
        char list[256], dym[96];
        return survey_fail_at(
            L, v, "%stype \"%.*s\" is not one of %s%s", pre, SURVEY_SHOW(v),
            survey_join(survey_type_names, SURVEY_NTYPES, list, sizeof list),
            survey_did_you_mean(v->str, v->len, survey_type_names, SURVEY_NTYPES, dym, sizeof dym));
    }
    /* A plugin's question is a drop-down choice of the choices the plugin gives. */
    q->type = xt ? Q_CHOICE : (enum question_type)t;
    q->xtype = xt;
    const char *tname = xt ? xt->name : survey_type_names[t];
    if (survey_question_keys(L, n, xt ? SURVEY_T_PLUGIN : SURVEY_T(t), tname, pre))
        rc = -1;

    struct survey_textctx ctx = {q};
    v = survey_get(n, "label");
    if (!v)
        rc = survey_missing(L, n, "label", all, nall, where);
    else if (survey_text_in(L, v, pre, "label", &q->label, &ctx, &q->pipes))
        rc = -1;
    v = survey_get(n, "hint");
    if (v && survey_text_in(L, v, pre, "hint", &q->hint, &ctx, &q->pipes))
        rc = -1;
    v = survey_get(n, "required");
    if (v && survey_bool(v, &q->required))
        rc = survey_fail_at(L, v, "%s\"required\" must be true or false", pre);
    if (survey_logic(L, n, q, pre))
        rc = -1;

    /* From here on the messages name the type, which is what the rules depend on. */
    snprintf(pre, sizeof pre, "%s \"%s\": ", tname, q->id);
    if (survey_pairs(L, n, q, pre))
        rc = -1;
    if (xt ? survey_plugin_question(L, n, q, pre) : survey_question_type(L, n, q, pre))
        rc = -1;
    return rc;
}

static int survey_audience(struct survey_loader *L, const struct survey_node *v, struct survey *s)
{
    if (v->kind != SURVEY_MAP)
        return survey_fail_at(L, v, "\"audience\" must be a mapping {role: ..., form: ...}");
    int rc = survey_check_keys(L, v, survey_audience_keys, SURVEY_COUNT(survey_audience_keys),
                               "audience: ", "\"audience\"");
    const struct survey_node *role = survey_get(v, "role");
    size_t k;
    if (role) {
        if (survey_word(L, role, "audience: ", "role", survey_roles, SURVEY_COUNT(survey_roles),
                        &k))
            rc = -1;
        else
            s->role = survey_roles[k];
    }
    const struct survey_node *form = survey_get(v, "form");
    if (!form)
        return rc;
    const struct survey_node *const *forms = (const struct survey_node *const *)&form;
    size_t n = 1;
    if (form->kind == SURVEY_SEQ) {
        forms = (const struct survey_node *const *)form->items;
        n = form->n;
        if (n == 0)
            return survey_fail_at(L, form, "audience: \"form\" must name at least one form");
    }
    s->forms = arena_calloc(L->out, n, sizeof *s->forms);
    if (!s->forms)
        return survey_oom(L);
    for (size_t i = 0; i < n; i++) {
        const struct survey_node *f = forms[i];
        if (survey_want_scalar(L, f, "audience: ", "form")) {
            rc = -1;
            continue;
        }
        int known = 0;
        for (size_t j = 0; j < SURVEY_COUNT(survey_forms); j++)
            known |= survey_is(f, survey_forms[j]);
        int own = f->len > 2 && memcmp(f->str, "x-", 2) == 0 && survey_valid_id(f, 1);
        if (!known && !own) {
            char list[256], dym[96];
            rc = survey_fail_at(
                L, f,
                "audience: form \"%.*s\" is not one of %s%s; a region's own "
                "form is written with an \"x-\" prefix (x-parent-pupil)",
                SURVEY_SHOW(f),
                survey_join(survey_forms, SURVEY_COUNT(survey_forms), list, sizeof list),
                survey_did_you_mean(f->str, f->len, survey_forms, SURVEY_COUNT(survey_forms), dym,
                                    sizeof dym));
            continue;
        }
        if (!(s->forms[s->nforms++] = survey_copy(L, f)))
            return survey_oom(L);
    }
    return rc;
}

static int survey_append_node(struct survey_loader *L, size_t *cap, const struct survey_node *n)
{
    if (L->nq == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        const struct survey_node **grown =
            arena_realloc(L->tmp, L->qnodes, *cap * sizeof *grown, ncap * sizeof *grown);
        if (!grown)
            return survey_oom(L);
        L->qnodes = grown;
        *cap = ncap;
    }
    L->qnodes[L->nq++] = n;
    return 0;
}

/* The sections: their titles, and the question mappings they hold into L->qnodes. */
static int survey_sections(struct survey_loader *L, const struct survey_node *v, struct survey *s,
                           size_t *cap)
{
    if (v->kind != SURVEY_SEQ)
        return survey_fail_at(L, v,
                              "\"sections\" must be a list of sections {id, title, "
                              "questions}");
    if (v->n == 0)
        return survey_fail_at(L, v, "\"sections\" must contain at least one section");
    s->sections = arena_calloc(L->out, v->n, sizeof *s->sections);
    const size_t *first =
        survey_first_seen(L, (const struct survey_node *const *)v->items, v->n, "id");
    if (!s->sections || !first)
        return survey_oom(L);
    int rc = 0;
    for (size_t i = 0; i < v->n && !L->oom; i++) {
        const struct survey_node *n = v->items[i];
        struct survey_section *sec = &s->sections[i];
        sec->line = n->line;
        sec->col = n->col;
        sec->first = L->nq;
        s->nsections = i + 1;
        if (n->kind != SURVEY_MAP) {
            rc = survey_fail_at(L, n,
                                "each section must be a mapping with id, title and "
                                "questions");
            continue;
        }
        if (survey_check_keys(L, n, survey_section_keys, SURVEY_COUNT(survey_section_keys), "",
                              "a section"))
            rc = -1;
        const struct survey_node *id = survey_get(n, "id");
        char pre[96] = "section: ";
        if (!id) {
            rc = survey_missing(L, n, "id", survey_section_keys, SURVEY_COUNT(survey_section_keys),
                                "a section");
        } else if (survey_want_scalar(L, id, pre, "id")) {
            rc = -1;
        } else if (!survey_valid_id(id, 0)) {
            rc = survey_fail_at(L, id,
                                "section id \"%.*s\" must be 1 to 64 characters of a-z, 0-9 and "
                                "\"_\"",
                                SURVEY_SHOW(id));
        } else {
            if (first[i] < v->n)
                rc = survey_fail_at(L, id, "duplicate section id \"%s\" (first defined at line %d)",
                                    id->str, v->items[first[i]]->line);
            if (!(sec->id = survey_copy(L, id)))
                return survey_oom(L);
            snprintf(pre, sizeof pre, "section \"%s\": ", sec->id);
        }
        const struct survey_node *title = survey_get(n, "title");
        if (!title)
            rc = survey_missing(L, n, "title", survey_section_keys,
                                SURVEY_COUNT(survey_section_keys), "a section");
        else if (survey_text(L, title, pre, "title", &sec->title))
            rc = -1;
        if (survey_opt_text(L, n, pre, "description", &sec->description))
            rc = -1;
        const struct survey_node *qs = survey_get(n, "questions");
        if (!qs) {
            rc = survey_missing(L, n, "questions", survey_section_keys,
                                SURVEY_COUNT(survey_section_keys), "a section");
            continue;
        }
        if (qs->kind != SURVEY_SEQ || qs->n == 0) {
            rc = survey_fail_at(L, qs, "%s\"questions\" must be a list of at least one question",
                                pre);
            continue;
        }
        for (size_t k = 0; k < qs->n; k++)
            if (survey_append_node(L, cap, qs->items[k]))
                return -1;
        sec->count = qs->n;
    }
    return rc;
}

/*
 * Parses one expression of question q (key show_if, required_if or constraint) and queues
 * its references; a syntax error is placed at its column inside the YAML value.
 */
static int survey_expr(struct survey_loader *L, const struct survey_node *qn, struct question *q,
                       const char *key, const char *src, struct expr **out)
{
    if (!src)
        return 0;
    const struct survey_node *v = survey_get(qn, key);
    struct err e = {0};
    if (expr_parse(L->out, src, out, &e) < 0) {
        if (strcmp(e.msg, "out of memory") == 0)
            return survey_oom(L);
        int line, col;
        size_t off = 0;
        for (int c = 1; c < e.col && src[off]; c++) {
            off++;
            while (((unsigned char)src[off] & 0xC0) == 0x80)
                off++;
        }
        survey_inner_pos(v, off, &line, &col);
        return survey_fail(L, line, col, "%s \"%s\": %s: %s", survey_type_name(q->type), q->id, key,
                           e.msg);
    }
    const char *ids[SURVEY_MAX_REFS];
    size_t n = expr_refs(*out, ids, SURVEY_MAX_REFS);
    if (n > SURVEY_MAX_REFS)
        return survey_fail_at(L, v, "%s \"%s\": %s names more than %d questions",
                              survey_type_name(q->type), q->id, key, SURVEY_MAX_REFS);
    for (size_t i = 0; i < n; i++) {
        struct survey_ref r = {
            v->line, v->col, ids[i], q->index, key, strcmp(key, "constraint") == 0, 1};
        const char *at = strstr(src, ids[i]);
        if (at)
            survey_inner_pos(v, (size_t)(at - src), &r.line, &r.col);
        if (survey_add_ref(L, &r))
            return -1;
    }
    return 0;
}

/* A question by id among the first n of s: top level, matrix items and other texts. */
static const struct question *survey_find(const struct survey *s, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        const struct question *q = &s->questions[i];
        if (!q->id)
            continue;
        if (strcmp(q->id, id) == 0)
            return q;
        size_t len = strlen(q->id);
        if (strncmp(id, q->id, len) != 0 || id[len] != '.')
            continue;
        for (size_t k = 0; k < q->nitems; k++)
            if (q->items[k].id && strcmp(q->items[k].id, id) == 0)
                return &q->items[k];
        if (q->other_text && strcmp(q->other_text->id, id) == 0)
            return q->other_text;
    }
    return NULL;
}

/* Every queued reference names a question that exists and comes before its user. */
static int survey_check_refs(struct survey_loader *L, const struct survey *s)
{
    const char **ids = arena_calloc(L->tmp, s->nquestions + 1, sizeof *ids);
    if (!ids)
        return survey_oom(L);
    for (size_t i = 0; i < s->nquestions; i++)
        ids[i] = s->questions[i].id;
    int rc = 0;
    for (size_t i = 0; i < L->nrefs; i++) {
        const struct survey_ref *r = &L->refs[i];
        const struct question *user = &s->questions[r->qidx];
        const struct question *t = survey_find(s, s->nquestions, r->ref);
        if (!t) {
            char dym[96];
            rc = survey_fail(
                L, r->line, r->col, "%s \"%s\": %s refers to unknown question \"%s\"%s",
                survey_type_name(user->type), user->id, r->what, r->ref,
                survey_did_you_mean(r->ref, strlen(r->ref), ids, s->nquestions, dym, sizeof dym));
        } else if (t->type == Q_NOTE ||
                   (r->expr && (t->type == Q_MATRIX || t->type == Q_RANKING))) {
            rc = survey_fail(
                L, r->line, r->col, "%s \"%s\": %s refers to %s \"%s\", whose answer %s",
                survey_type_name(user->type), user->id, r->what, survey_type_name(t->type), t->id,
                t->type == Q_NOTE ? "does not exist (a note is only read)"
                                  : "an expression cannot read (refer to a single "
                                    "question)");
        } else if (t->index == r->qidx && !r->self_ok) {
            rc = survey_fail(L, r->line, r->col,
                             "%s \"%s\": %s refers to the question itself (only earlier answers "
                             "are known here)",
                             survey_type_name(user->type), user->id, r->what);
        } else if (t->index > r->qidx) {
            rc = survey_fail(L, r->line, r->col,
                             "%s \"%s\": %s refers to question \"%s\", which comes later in the "
                             "survey (only earlier answers are known here)",
                             survey_type_name(user->type), user->id, r->what, r->ref);
        }
    }
    return rc;
}

/* A scale's item list (or reverse list): ids of numeric questions; a matrix stands for its items.
 */
static int survey_scale_refs(struct survey_loader *L, const struct survey_node *v,
                             const struct survey *s, const char *pre, const char *key,
                             const struct question ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (v->kind != SURVEY_SEQ || v->n == 0)
        return survey_fail_at(L, v, "%s\"%s\" must be a list of question ids", pre, key);
    size_t cap = v->n;
    for (size_t i = 0; i < v->n; i++) {
        const struct survey_node *it = v->items[i];
        const struct question *q =
            it->kind == SURVEY_SCALAR ? survey_find(s, s->nquestions, it->str) : NULL;
        if (q && q->type == Q_MATRIX)
            cap += q->nitems;
    }
    const struct question **list = arena_calloc(L->tmp, cap, sizeof *list);
    const char **ids = arena_calloc(L->tmp, s->nquestions + 1, sizeof *ids);
    if (!list || !ids)
        return survey_oom(L);
    for (size_t i = 0; i < s->nquestions; i++)
        ids[i] = s->questions[i].id;
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct survey_node *it = v->items[i];
        if (survey_want_scalar(L, it, pre, key)) {
            rc = -1;
            continue;
        }
        const struct question *q = survey_find(s, s->nquestions, it->str);
        if (!q) {
            char dym[96];
            rc = survey_fail_at(
                L, it, "%s%s: unknown question \"%.*s\"%s", pre, key, SURVEY_SHOW(it),
                survey_did_you_mean(it->str, it->len, ids, s->nquestions, dym, sizeof dym));
            continue;
        }
        size_t from = *n;
        if (q->type == Q_MATRIX && q->nitems && q->items[0].type == Q_SCALE) {
            for (size_t k = 0; k < q->nitems; k++)
                list[(*n)++] = &q->items[k];
        } else if (survey_is_numeric(q)) {
            list[(*n)++] = q;
        } else {
            rc = survey_fail_at(L, it,
                                "%s%s: question \"%s\" is a %s, and a scale scores only numbers "
                                "(scale, number, or a matrix on a scale)",
                                pre, key, q->id,
                                q->parent && q->parent->type == Q_MATRIX
                                    ? "matrix item on choices"
                                    : survey_type_name(q->type));
            continue;
        }
        for (size_t k = from; k < *n; k++) {
            for (size_t j = 0; j < from; j++) {
                if (list[j] == list[k]) {
                    rc = survey_fail_at(L, it, "%s%s: question \"%s\" is listed twice", pre, key,
                                        list[k]->id);
                    *n = from;
                    break;
                }
            }
        }
    }
    *out = list;
    return rc;
}

static int survey_scale_at(struct survey_loader *L, const struct survey_node *n, struct survey *s,
                           struct survey_scale *sc, size_t idx, size_t dup)
{
    sc->line = n->line;
    sc->col = n->col;
    if (n->kind != SURVEY_MAP)
        return survey_fail_at(L, n, "each scale must be a mapping with id and items");
    int rc = survey_check_keys(L, n, survey_scale_keys, SURVEY_COUNT(survey_scale_keys),
                               "scale: ", "a scale");
    const struct survey_node *v = survey_get(n, "id");
    if (!v)
        return survey_missing(L, n, "id", survey_scale_keys, SURVEY_COUNT(survey_scale_keys),
                              "a scale");
    if (survey_want_scalar(L, v, "scale: ", "id"))
        return -1;
    if (!survey_valid_id(v, 0))
        return survey_fail_at(L, v,
                              "scale id \"%.*s\" must be 1 to 64 characters of a-z, 0-9 and "
                              "\"_\"",
                              SURVEY_SHOW(v));
    if (dup < idx)
        rc = survey_fail_at(L, v, "duplicate scale id \"%s\" (first defined at line %d)", v->str,
                            s->scales[dup].line);
    if (!(sc->id = survey_copy(L, v)))
        return survey_oom(L);
    char pre[96], where[96];
    snprintf(pre, sizeof pre, "scale \"%s\": ", sc->id);
    snprintf(where, sizeof where, "scale \"%s\"", sc->id);
    if (survey_opt_text(L, n, pre, "label", &sc->label))
        rc = -1;
    size_t k;
    v = survey_get(n, "method");
    if (v) {
        if (survey_word(L, v, pre, "method", survey_methods, SURVEY_COUNT(survey_methods), &k))
            rc = -1;
        else
            sc->method = (enum survey_scale_method)k;
    }
    v = survey_get(n, "items");
    if (!v)
        return survey_missing(L, n, "items", survey_scale_keys, SURVEY_COUNT(survey_scale_keys),
                              where);
    const struct question **items;
    if (survey_scale_refs(L, v, s, pre, "items", &items, &sc->nitems))
        rc = -1;
    if (L->oom)
        return -1;
    sc->items = arena_calloc(L->out, sc->nitems ? sc->nitems : 1, sizeof *sc->items);
    if (!sc->items)
        return survey_oom(L);
    for (size_t i = 0; i < sc->nitems; i++)
        sc->items[i].q = items[i];
    v = survey_get(n, "reverse");
    if (v) {
        const struct question **rev;
        size_t nrev;
        if (survey_scale_refs(L, v, s, pre, "reverse", &rev, &nrev))
            rc = -1;
        for (size_t i = 0; i < nrev; i++) {
            size_t j = 0;
            while (j < sc->nitems && sc->items[j].q != rev[i])
                j++;
            if (j == sc->nitems) {
                rc = survey_fail_at(L, v, "%sreverse: question \"%s\" is not one of the items", pre,
                                    rev[i]->id);
                continue;
            }
            if (rev[i]->type == Q_NUMBER && !(rev[i]->has_min && rev[i]->has_max)) {
                rc = survey_fail_at(L, v,
                                    "%sreverse: number \"%s\" needs min and max to be "
                                    "reverse-scored (as min + max - answer)",
                                    pre, rev[i]->id);
                continue;
            }
            sc->items[j].reverse = 1;
        }
    }
    sc->min_items = sc->nitems;
    v = survey_get(n, "min_items");
    if (v) {
        long x;
        if (survey_long(v, &x) || x < 1 || (sc->nitems && (size_t)x > sc->nitems))
            rc = survey_fail_at(L, v,
                                "%s\"min_items\" must be an integer from 1 to %zu (the "
                                "number of items)",
                                pre, sc->nitems);
        else
            sc->min_items = (size_t)x;
    }
    /* Items with other ranges or decimals cannot be summed or averaged meaningfully. */
    for (size_t i = 1; i < sc->nitems; i++) {
        const struct question *a = sc->items[0].q, *b = sc->items[i].q;
        if (a->decimals != b->decimals) {
            rc = survey_fail_at(L, survey_get(n, "items"),
                                "%sitems \"%s\" and \"%s\" have different decimals", pre, a->id,
                                b->id);
            break;
        }
    }
    return rc;
}

static int survey_scales(struct survey_loader *L, const struct survey_node *v, struct survey *s)
{
    if (v->kind != SURVEY_SEQ)
        return survey_fail_at(L, v, "\"scales\" must be a list of scales {id, items}");
    s->scales = arena_calloc(L->out, v->n ? v->n : 1, sizeof *s->scales);
    const size_t *first =
        survey_first_seen(L, (const struct survey_node *const *)v->items, v->n, "id");
    if (!s->scales || !first)
        return survey_oom(L);
    int rc = 0;
    for (size_t i = 0; i < v->n && !L->oom; i++)
        if (survey_scale_at(L, v->items[i], s, &s->scales[i], i, first[i] < v->n ? first[i] : i))
            rc = -1;
    s->nscales = v->n;
    return rc;
}

/* The top-level keys that describe the survey (not its questions). */
static int survey_head(struct survey_loader *L, const struct survey_node *root, struct survey *s,
                       int id_pos[2])
{
    int rc = 0;
    const struct survey_node *v = survey_get(root, "id");
    if (v) {
        if (survey_want_scalar(L, v, "", "id")) {
            rc = -1;
        } else if (!survey_valid_id(v, 1)) {
            rc = survey_fail_at(L, v,
                                "\"id\" must be 1 to 64 characters of a-z, 0-9, \"_\" and \"-\" "
                                "(got \"%.*s\")",
                                SURVEY_SHOW(v));
        } else {
            if (!(s->id = survey_copy(L, v)))
                return survey_oom(L);
            if (id_pos) {
                id_pos[0] = v->line;
                id_pos[1] = v->col;
            }
        }
    }
    v = survey_get(root, "version");
    if (v && (survey_long(v, &s->version) || s->version < 1))
        rc = survey_fail_at(L, v, "\"version\" must be an integer >= 1");
    v = survey_get(root, "title");
    if (v && survey_text(L, v, "", "title", &s->title))
        rc = -1;
    if (survey_opt_text(L, root, "", "description", &s->description))
        rc = -1;
    v = survey_get(root, "audience");
    if (v && survey_audience(L, v, s))
        rc = -1;
    v = survey_get(root, "wave");
    size_t k;
    if (v) {
        if (survey_word(L, v, "", "wave", survey_waves, SURVEY_COUNT(survey_waves), &k))
            rc = -1;
        else
            s->wave = (enum survey_wave)k;
    }
    v = survey_get(root, "pairs_with_survey");
    if (v) {
        if (survey_want_scalar(L, v, "", "pairs_with_survey")) {
            rc = -1;
        } else if (!survey_valid_id(v, 1)) {
            rc = survey_fail_at(L, v,
                                "\"pairs_with_survey\" must be a survey id (a-z, 0-9, \"_\" and "
                                "\"-\"), got \"%.*s\"",
                                SURVEY_SHOW(v));
        } else if (s->wave != SURVEY_WAVE_ENTRY) {
            rc = survey_fail_at(L, v,
                                "\"pairs_with_survey\" belongs to an entry survey (write `wave: "
                                "entry`)");
        } else if (!(s->pairs_with_survey = survey_copy(L, v))) {
            return survey_oom(L);
        }
    }
    v = survey_get(root, "choice_lists");
    if (v && survey_lists(L, v))
        rc = -1;
    return rc;
}

static int survey_build(struct survey_loader *L, const struct survey_node *root, struct survey *s,
                        int id_pos[2])
{
    if (root->kind != SURVEY_MAP)
        return survey_fail_at(L, root,
                              "the top level must be a mapping with id, version, title and "
                              "questions");
    int rc = survey_check_keys(L, root, survey_top_keys, SURVEY_COUNT(survey_top_keys), "",
                               "the survey");
    static const char *const need[] = {"id", "version", "title"};
    for (size_t i = 0; i < SURVEY_COUNT(need); i++)
        if (!survey_get(root, need[i]))
            rc = survey_missing(L, root, need[i], survey_top_keys, SURVEY_COUNT(survey_top_keys),
                                "the survey");
    const struct survey_node *qs = survey_get(root, "questions");
    const struct survey_node *secs = survey_get(root, "sections");
    if (!qs && !secs)
        rc = survey_missing(L, root, "questions", survey_top_keys, SURVEY_COUNT(survey_top_keys),
                            "the survey (or \"sections\", for a survey of several pages)");
    if (survey_head(L, root, s, id_pos))
        rc = -1;
    if (L->oom)
        return -1;

    size_t cap = 0;
    if (qs && secs) {
        rc = survey_fail_at(L, secs,
                            "a survey has either \"questions\" (one page) or \"sections\" "
                            "(pages), not both: move the questions into a section");
    } else if (qs) {
        if (qs->kind != SURVEY_SEQ)
            return survey_fail_at(L, qs, "\"questions\" must be a list of questions");
        if (qs->n == 0)
            return survey_fail_at(L, qs, "\"questions\" must contain at least one question");
        for (size_t i = 0; i < qs->n; i++)
            if (survey_append_node(L, &cap, qs->items[i]))
                return -1;
    } else if (secs && survey_sections(L, secs, s, &cap)) {
        rc = -1;
    }
    if (L->oom || L->nq == 0)
        return -1;

    s->questions = arena_calloc(L->out, L->nq, sizeof *s->questions);
    const size_t *first = survey_first_seen(L, L->qnodes, L->nq, "id");
    if (!s->questions || !first)
        return survey_oom(L);
    s->nquestions = L->nq;
    for (size_t sec = 0; sec < s->nsections; sec++)
        for (size_t i = 0; i < s->sections[sec].count; i++)
            s->questions[s->sections[sec].first + i].section = sec;
    for (size_t i = 0; i < L->nq && !L->oom; i++)
        if (survey_question_at(L, L->qnodes[i], &s->questions[i], i,
                               first[i] < L->nq ? first[i] : i))
            rc = -1;
    for (size_t i = 0; i < L->nq && !L->oom; i++) {
        struct question *q = &s->questions[i];
        if (!q->id || L->qnodes[i]->kind != SURVEY_MAP)
            continue;
        if (survey_expr(L, L->qnodes[i], q, "show_if", q->show_if, &q->show_if_x))
            rc = -1;
        if (survey_expr(L, L->qnodes[i], q, "required_if", q->required_if, &q->required_if_x))
            rc = -1;
        if (survey_expr(L, L->qnodes[i], q, "constraint", q->constraint, &q->constraint_x))
            rc = -1;
    }
    if (L->oom || survey_check_refs(L, s))
        rc = -1;
    const struct survey_node *sc = survey_get(root, "scales");
    if (!L->oom && sc && survey_scales(L, sc, s))
        rc = -1;
    return rc;
}

static int survey_parse(const char *name, const char *data, size_t len, struct survey **out,
                        struct err_list *errs, int id_pos[2])
{
    *out = NULL;
    struct survey_loader L = {.name = name,
                              .data = data,
                              .len = len,
                              .errs = errs,
                              .start = errs->n,
                              .start_dropped = errs->dropped};
    if (len > SURVEY_MAX_BYTES)
        return survey_fail(&L, 0, 0,
                           "the file is larger than 1 MiB: a questionnaire is far smaller, check "
                           "that this is the right file");
    if (crypto_setup())
        return survey_fail(&L, 0, 0, "cannot initialise libsodium to hash the file");
    L.tmp = arena_new();
    L.out = arena_new();
    struct survey *s = L.out ? arena_calloc(L.out, 1, sizeof *s) : NULL;
    if (!L.tmp || !s || (name && !(s->path = arena_strdup(L.out, name))) ||
        !yaml_parser_initialize(&L.parser)) {
        arena_free(L.tmp);
        arena_free(L.out);
        return survey_oom(&L);
    }
    s->arena = L.out;
    L.s = s;
    crypto_sha256_hex(data, len, s->hash);
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)data, len);
    struct survey_node *root = NULL;
    int rc = survey_tree(&L, &root);
    yaml_parser_delete(&L.parser);
    if (rc == 0)
        rc = survey_build(&L, root, s, id_pos);
    arena_free(L.tmp);
    if (rc && L.nerrs == 0)
        survey_fail(&L, 0, 0, "the survey could not be loaded");
    if (L.nerrs) {
        arena_free(L.out);
        return -1;
    }
    *out = s;
    return 0;
}

int survey_load_mem_all(const char *name, const char *data, size_t len, struct survey **out,
                        struct err_list *errs)
{
    return survey_parse(name, data, len, out, errs, NULL);
}

/* The first problem of list (which it frees) into e. */
static int survey_first_err(struct err_list *list, int rc, struct err *e)
{
    if (rc && e)
        *e = list->n ? list->items[0] : (struct err){.msg = "out of memory"};
    err_list_free(list);
    return rc;
}

int survey_load_mem(const char *name, const char *data, size_t len, struct survey **out,
                    struct err *e)
{
    struct err_list list = {0};
    return survey_first_err(&list, survey_parse(name, data, len, out, &list, NULL), e);
}

/* Reads at most one byte past the limit, so an oversized file is refused without reading it. */
static int survey_read(const char *path, char **data, size_t *len, struct err *e)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, path, 0, 0, "cannot open the file: %s", strerror(errno));
    size_t cap = 16 * 1024, n = 0;
    char *p = malloc(cap);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap || cap > SURVEY_MAX_BYTES)
            break;
        size_t ncap = cap * 2 > SURVEY_MAX_BYTES + 1 ? SURVEY_MAX_BYTES + 1 : cap * 2;
        char *q = realloc(p, ncap);
        if (!q) {
            free(p);
            p = NULL;
            break;
        }
        p = q;
        cap = ncap;
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (!p)
        return err_set(e, path, 0, 0, "out of memory");
    if (failed) {
        free(p);
        return err_set(e, path, 0, 0, "cannot read the file: %s", strerror(saved));
    }
    *data = p;
    *len = n;
    return 0;
}

static int survey_load_file(const char *path, struct survey **out, struct err_list *errs,
                            int id_pos[2])
{
    char *data;
    size_t len;
    struct err e;
    *out = NULL;
    if (survey_read(path, &data, &len, &e)) {
        err_list_add(errs, &e);
        return -1;
    }
    int rc = survey_parse(path, data, len, out, errs, id_pos);
    free(data);
    return rc;
}

int survey_load_all(const char *path, struct survey **out, struct err_list *errs)
{
    return survey_load_file(path, out, errs, NULL);
}

int survey_load(const char *path, struct survey **out, struct err *e)
{
    struct err_list list = {0};
    return survey_first_err(&list, survey_load_file(path, out, &list, NULL), e);
}

void survey_free(struct survey *s)
{
    if (s)
        arena_free(s->arena);
}

const struct question *survey_question(const struct survey *s, const char *id)
{
    return survey_find(s, s->nquestions, id);
}

const struct survey_scale *survey_scale_find(const struct survey *s, const char *id)
{
    for (size_t i = 0; i < s->nscales; i++)
        if (strcmp(s->scales[i].id, id) == 0)
            return &s->scales[i];
    return NULL;
}

size_t survey_pages(const struct survey *s)
{
    return s->nsections ? s->nsections : 1;
}

static json_t *survey_text_json(const struct text *t)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "ru", json_string(t->ru)) ||
        (t->en && json_object_set_new(o, "en", json_string(t->en)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An optional text member: nothing when absent. */
static int survey_opt_text_json(json_t *o, const char *key, const struct text *t)
{
    return t->ru && json_object_set_new(o, key, survey_text_json(t));
}

static int survey_opt_string_json(json_t *o, const char *key, const char *s)
{
    return s && json_object_set_new(o, key, json_string(s));
}

static int survey_choices_json(json_t *o, const struct choice *choices, size_t n)
{
    json_t *list = json_array();
    if (json_object_set_new(o, "choices", list))
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_object();
        if (json_array_append_new(list, c) ||
            json_object_set_new(c, "value", json_string(choices[i].value)) ||
            json_object_set_new(c, "label", survey_text_json(&choices[i].label)))
            return -1;
    }
    return 0;
}

/* A number bound of a question: an integer, or a real when it has decimals. */
static json_t *survey_bound_json(const struct question *q, long v)
{
    if (q->decimals == 0)
        return json_integer(v);
    double scale = 1;
    for (int i = 0; i < q->decimals; i++)
        scale *= 10;
    return json_real((double)v / scale);
}

static int survey_range_json(const struct question *q, json_t *o)
{
    return (q->has_min && json_object_set_new(o, "min", survey_bound_json(q, q->min))) ||
           (q->has_max && json_object_set_new(o, "max", survey_bound_json(q, q->max))) ||
           survey_opt_text_json(o, "min_label", &q->min_label) ||
           survey_opt_text_json(o, "max_label", &q->max_label);
}

static int survey_items_json(const struct question *q, json_t *o)
{
    json_t *list = json_array();
    if (json_object_set_new(o, "items", list))
        return -1;
    for (size_t i = 0; i < q->nitems; i++) {
        const struct question *it = &q->items[i];
        json_t *j = json_object();
        if (json_array_append_new(list, j) || json_object_set_new(j, "id", json_string(it->id)) ||
            json_object_set_new(j, "type", json_string(survey_type_name(it->type))) ||
            json_object_set_new(j, "label", survey_text_json(&it->label)) ||
            survey_opt_string_json(j, "pairs_with", it->pairs_with))
            return -1;
    }
    return q->nchoices ? survey_choices_json(o, q->choices, q->nchoices) : survey_range_json(q, o);
}

/* Each json_*_set_new takes the value even when it fails, so nothing leaks on the way out. */
static int survey_question_json_fields(const struct question *q, json_t *o)
{
    static const char *const formats[] = {"none", "email", "phone", "digits"};
    if (json_object_set_new(o, "id", json_string(q->id)) ||
        json_object_set_new(o, "type", json_string(survey_type_name(q->type))) ||
        json_object_set_new(o, "label", survey_text_json(&q->label)) ||
        survey_opt_text_json(o, "hint", &q->hint) ||
        json_object_set_new(o, "required", json_boolean(q->required)) ||
        survey_opt_string_json(o, "show_if", q->show_if) ||
        survey_opt_string_json(o, "required_if", q->required_if) ||
        survey_opt_string_json(o, "constraint", q->constraint) ||
        survey_opt_text_json(o, "constraint_message", &q->constraint_message) ||
        survey_opt_string_json(o, "pairs_with", q->pairs_with))
        return -1;
    if (q->other && (json_object_set_new(o, "other", json_true()) ||
                     survey_opt_text_json(o, "other_label", &q->other_label)))
        return -1;
    switch (q->type) {
    case Q_SCALE: return survey_range_json(q, o);
    case Q_NUMBER:
        return survey_range_json(q, o) ||
               (q->decimals && json_object_set_new(o, "decimals", json_integer(q->decimals)));
    case Q_CHOICE:
        return survey_choices_json(o, q->choices, q->nchoices) ||
               (q->dropdown && json_object_set_new(o, "appearance", json_string("dropdown")));
    case Q_MULTIPLE:
        return survey_choices_json(o, q->choices, q->nchoices) ||
               (q->min_selected &&
                json_object_set_new(o, "min_selected",
                                    json_integer((json_int_t)q->min_selected))) ||
               (q->max_selected &&
                json_object_set_new(o, "max_selected", json_integer((json_int_t)q->max_selected)));
    case Q_RANKING: return survey_choices_json(o, q->choices, q->nchoices);
    case Q_MATRIX: return survey_items_json(q, o);
    case Q_TEXT:
        return json_object_set_new(o, "long", json_boolean(q->long_text)) ||
               json_object_set_new(o, "max_length", json_integer((json_int_t)q->max_length)) ||
               (q->format && json_object_set_new(o, "format", json_string(formats[q->format])));
    case Q_DATE:
        return survey_opt_string_json(o, "min", q->date_min) ||
               survey_opt_string_json(o, "max", q->date_max);
    case Q_YESNO:
    case Q_CONSENT:
    case Q_NOTE: return 0;
    }
    return 0;
}

static int survey_head_json(const struct survey *s, json_t *root)
{
    static const char *const waves[] = {"none", "entry", "final"};
    if (s->role || s->nforms) {
        json_t *aud = json_object();
        if (json_object_set_new(root, "audience", aud) ||
            survey_opt_string_json(aud, "role", s->role))
            return -1;
        json_t *forms = NULL;
        if (s->nforms && json_object_set_new(aud, "form", forms = json_array()))
            return -1;
        for (size_t i = 0; i < s->nforms; i++)
            if (json_array_append_new(forms, json_string(s->forms[i])))
                return -1;
    }
    if (s->wave != SURVEY_WAVE_NONE &&
        json_object_set_new(root, "wave", json_string(waves[s->wave])))
        return -1;
    if (survey_opt_string_json(root, "pairs_with_survey", s->pairs_with_survey))
        return -1;
    if (s->nsections) {
        json_t *list = json_array();
        if (json_object_set_new(root, "sections", list))
            return -1;
        for (size_t i = 0; i < s->nsections; i++) {
            const struct survey_section *sec = &s->sections[i];
            json_t *o = json_object(), *ids = NULL;
            if (json_array_append_new(list, o) ||
                json_object_set_new(o, "questions", ids = json_array()) ||
                json_object_set_new(o, "id", json_string(sec->id)) ||
                json_object_set_new(o, "title", survey_text_json(&sec->title)) ||
                survey_opt_text_json(o, "description", &sec->description))
                return -1;
            for (size_t k = 0; k < sec->count; k++)
                if (json_array_append_new(ids, json_string(s->questions[sec->first + k].id)))
                    return -1;
        }
    }
    if (s->nscales) {
        static const char *const methods[] = {"mean", "sum"};
        json_t *list = json_array();
        if (json_object_set_new(root, "scales", list))
            return -1;
        for (size_t i = 0; i < s->nscales; i++) {
            const struct survey_scale *sc = &s->scales[i];
            json_t *o = json_object(), *items = NULL, *rev = NULL;
            if (json_array_append_new(list, o) ||
                json_object_set_new(o, "items", items = json_array()) ||
                json_object_set_new(o, "reverse", rev = json_array()) ||
                json_object_set_new(o, "id", json_string(sc->id)) ||
                survey_opt_text_json(o, "label", &sc->label) ||
                json_object_set_new(o, "method", json_string(methods[sc->method])) ||
                json_object_set_new(o, "min_items", json_integer((json_int_t)sc->min_items)))
                return -1;
            for (size_t k = 0; k < sc->nitems; k++) {
                json_t *id = json_string(sc->items[k].q->id);
                if (sc->items[k].reverse && json_array_append(rev, id)) {
                    json_decref(id);
                    return -1;
                }
                if (json_array_append_new(items, id))
                    return -1;
            }
        }
    }
    return 0;
}

json_t *survey_to_json(const struct survey *s)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_t *list = NULL;
    if (json_object_set_new(root, "id", json_string(s->id)) ||
        json_object_set_new(root, "version", json_integer(s->version)) ||
        json_object_set_new(root, "hash", json_string(s->hash)) ||
        json_object_set_new(root, "title", survey_text_json(&s->title)) ||
        survey_opt_text_json(root, "description", &s->description) || survey_head_json(s, root) ||
        json_object_set_new(root, "questions", list = json_array())) {
        json_decref(root);
        return NULL;
    }
    for (size_t i = 0; i < s->nquestions; i++) {
        json_t *q = json_object();
        if (json_array_append_new(list, q) || survey_question_json_fields(&s->questions[i], q)) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

static int survey_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int survey_cmp_id(const void *a, const void *b)
{
    const struct survey *x = *(struct survey *const *)a, *y = *(struct survey *const *)b;
    return strcmp(x->id, y->id);
}

static int survey_is_yaml_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.') /* editors' backup and swap files */
        return 0;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static void survey_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The survey file names of dir, sorted, so loading and its errors are reproducible. */
static int survey_list_dir(const char *dir, char ***out, size_t *count, struct err *e)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, dir, 0, 0, "cannot open the directory: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) {
                int saved = errno;
                closedir(d);
                survey_free_names(names, n);
                return err_set(e, dir, 0, 0, "cannot read the directory: %s", strerror(saved));
            }
            break;
        }
        if (!survey_is_yaml_name(de->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **grown = realloc(names, ncap * sizeof *grown);
            if (!grown)
                goto oom;
            names = grown;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto oom;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, survey_cmp_name);
    *out = names;
    *count = n;
    return 0;
oom:
    closedir(d);
    survey_free_names(names, n);
    return err_set(e, dir, 0, 0, "out of memory");
}

void survey_set_free(struct survey_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        survey_free(set->items[i]);
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

/* An entry survey's pairs_with names questions its final survey has, of the same kind. */
static void survey_check_pair(const struct survey *s, const struct question *q,
                              const struct survey *final, struct err_list *errs)
{
    if (!q->pairs_with)
        return;
    const struct question *t = survey_question(final, q->pairs_with);
    struct err e;
    if (!t)
        err_set(&e, s->path, q->line, q->col,
                "%s \"%s\": pairs_with \"%s\": survey \"%s\" (%s) has no such question",
                survey_type_name(q->type), q->id, q->pairs_with, final->id, final->path);
    else if (survey_is_numeric(q) != survey_is_numeric(t))
        err_set(&e, s->path, q->line, q->col,
                "%s \"%s\": pairs_with \"%s\": a %s cannot be compared with a %s of survey \"%s\"",
                survey_type_name(q->type), q->id, q->pairs_with, survey_type_name(q->type),
                survey_type_name(t->type), final->id);
    else
        return;
    err_list_add(errs, &e);
}

static void survey_check_pairs(const struct survey_set *set, struct err_list *errs)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct survey *s = set->items[i];
        const struct survey *final =
            s->pairs_with_survey ? survey_set_find(set, s->pairs_with_survey) : NULL;
        if (!final)
            continue;
        for (size_t k = 0; k < s->nquestions; k++) {
            const struct question *q = &s->questions[k];
            survey_check_pair(s, q, final, errs);
            for (size_t j = 0; j < q->nitems; j++)
                survey_check_pair(s, &q->items[j], final, errs);
        }
    }
}

int survey_set_load_dir_all(const char *dir, struct survey_set *set, struct err_list *errs)
{
    set->items = NULL;
    set->n = 0;
    size_t before = err_list_count(errs);
    char **names;
    size_t nnames;
    struct err e;
    if (survey_list_dir(dir, &names, &nnames, &e)) {
        err_list_add(errs, &e);
        return -1;
    }
    struct survey **items = calloc(nnames ? nnames : 1, sizeof *items);
    if (!items) {
        survey_free_names(names, nnames);
        return err_list_set(errs, dir, 0, 0, "out of memory");
    }
    size_t dlen = strlen(dir);
    const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
    size_t n = 0;
    for (size_t i = 0; i < nnames; i++) {
        size_t plen = dlen + strlen(sep) + strlen(names[i]) + 1;
        char *path = malloc(plen);
        if (!path) {
            err_list_set(errs, dir, 0, 0, "out of memory");
            break;
        }
        snprintf(path, plen, "%s%s%s", dir, sep, names[i]);
        struct survey *s;
        int id_pos[2] = {0, 0};
        int rc = survey_load_file(path, &s, errs, id_pos);
        for (size_t j = 0; rc == 0 && j < n; j++) {
            if (strcmp(items[j]->id, s->id) == 0) {
                rc = err_list_set(errs, path, id_pos[0], id_pos[1],
                                  "duplicate survey id \"%s\": %s declares it too (each survey "
                                  "needs its own id)",
                                  s->id, items[j]->path);
                survey_free(s);
            }
        }
        if (rc == 0)
            items[n++] = s;
        free(path);
    }
    survey_free_names(names, nnames);
    set->items = items;
    set->n = n;
    if (n > 1)
        qsort(items, n, sizeof *items, survey_cmp_id);
    survey_check_pairs(set, errs);
    if (err_list_count(errs) > before) {
        survey_set_free(set);
        return -1;
    }
    return 0;
}

int survey_set_load_dir(const char *dir, struct survey_set *set, struct err *e)
{
    struct err_list list = {0};
    return survey_first_err(&list, survey_set_load_dir_all(dir, set, &list), e);
}

const struct survey *survey_set_find(const struct survey_set *set, const char *id)
{
    if (!set || set->n == 0)
        return NULL;
    struct survey key = {.id = id};
    const struct survey *kp = &key;
    struct survey *const *hit = bsearch(&kp, set->items, set->n, sizeof *set->items, survey_cmp_id);
    return hit ? *hit : NULL;
}

/* Whether a stored answer (a value, or a JSON array of values) holds value. */
static int survey_answer_has(const char *stored, const char *value)
{
    if (strcmp(stored, value) == 0)
        return 1;
    if (stored[0] != '[')
        return 0;
    json_t *list = json_loads(stored, 0, NULL);
    size_t i;
    json_t *it;
    int hit = 0;
    json_array_foreach(list, i, it)
    {
        const char *v = json_string_value(it);
        if (v && strcmp(v, value) == 0)
            hit = 1;
    }
    json_decref(list);
    return hit;
}

/* What comparing a definition with the stored one needs. */
struct survey_change {
    const struct survey *s;
    struct store *st;
    struct arena *a;
    struct err *e;
};

static int survey_refuse(struct survey_change *c, const struct question *q, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int survey_refuse(struct survey_change *c, const struct question *q, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(c->e, c->s->path, q ? q->line : 0, q ? q->col : 0,
                   "survey \"%s\" changed incompatibly under version %ld, which the database "
                   "has answers to: %s; raise `version:` to %ld (answers given to version %ld "
                   "stay readable)",
                   c->s->id, c->s->version, what, c->s->version + 1, c->s->version);
}

/* Compares one question of the stored definition (id, type, choices) with the new one. */
static int survey_compare_question(struct survey_change *c, const char *id, const char *type,
                                   json_t *choices, int other)
{
    const char **values;
    size_t n;
    if (store_answer_values(c->st, c->a, c->s->id, c->s->version, id, &values, &n, c->e) !=
        STORE_OK)
        return -1;
    if (n == 0)
        return 0;
    const struct question *q = survey_question(c->s, id);
    if (!q)
        return survey_refuse(c, NULL, "question \"%s\", which has answers, was removed", id);
    if (strcmp(type, survey_type_name(q->type)) != 0)
        return survey_refuse(c, q, "question \"%s\", which has answers, changed type from %s to %s",
                             id, type, survey_type_name(q->type));
    size_t nold = json_array_size(choices);
    for (size_t i = 0; i <= nold; i++) {
        const char *v =
            i < nold ? json_string_value(json_object_get(json_array_get(choices, i), "value"))
            : other  ? SURVEY_OTHER_VALUE
                     : NULL;
        if (!v)
            continue;
        int kept = strcmp(v, SURVEY_OTHER_VALUE) == 0 && q->other;
        for (size_t k = 0; k < q->nchoices && !kept; k++)
            kept = strcmp(q->choices[k].value, v) == 0;
        for (size_t k = 0; k < n && !kept; k++)
            if (survey_answer_has(values[k], v))
                return survey_refuse(
                    c, q, "question \"%s\" lost the choice \"%s\", which has answers", id, v);
    }
    return 0;
}

static int survey_compare(struct survey_change *c, const char *definition)
{
    json_error_t je;
    json_t *old = json_loads(definition, 0, &je);
    if (!old)
        return err_set(c->e, c->s->path, 0, 0,
                       "the stored definition of survey \"%s\" version %ld is not JSON: %s",
                       c->s->id, c->s->version, je.text);
    int rc = 0;
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(old, "questions"), i, q)
    {
        const char *id = json_string_value(json_object_get(q, "id"));
        const char *type = json_string_value(json_object_get(q, "type"));
        json_t *choices = json_object_get(q, "choices");
        if (!id || !type)
            continue;
        if (strcmp(type, "matrix") != 0) {
            rc = survey_compare_question(c, id, type, choices,
                                         json_is_true(json_object_get(q, "other")));
        } else {
            size_t k;
            json_t *it;
            json_array_foreach(json_object_get(q, "items"), k, it)
            {
                const char *iid = json_string_value(json_object_get(it, "id"));
                const char *itype = json_string_value(json_object_get(it, "type"));
                if (iid && itype && (rc = survey_compare_question(c, iid, itype, choices, 0)))
                    break;
            }
        }
        if (rc)
            break;
    }
    json_decref(old);
    return rc;
}

int survey_check_against_store(const struct survey *s, struct store *st, struct err *e)
{
    struct arena *a = arena_new();
    if (!a)
        return err_set(e, s->path, 0, 0, "out of memory");
    const char *hash = NULL, *definition = NULL;
    int rc = store_survey_version_get(st, a, s->id, s->version, &hash, &definition, e);
    if (rc == STORE_ERROR || (rc == STORE_OK && strcmp(hash, s->hash) == 0)) {
        arena_free(a);
        return rc == STORE_ERROR ? -1 : 0;
    }
    struct survey_change c = {s, st, a, e};
    if (rc == STORE_OK && survey_compare(&c, definition)) {
        arena_free(a);
        return -1;
    }
    arena_free(a);
    json_t *j = survey_to_json(s);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return err_set(e, s->path, 0, 0, "out of memory");
    rc = store_survey_version_put(st, s->id, s->version, s->hash, text, e);
    free(text);
    return rc == STORE_OK ? 0 : -1;
}

/*
 * survey: owns questionnaire definitions: reading and checking their YAML files, the
 * immutable struct survey they become, their JSON form for the API, and sets of them.
 *
 * Loading is two passes. libyaml's events are first gathered into a small tree in a
 * scratch arena, which is where anchors and aliases are refused: the event API shows
 * them with their positions, while the document API would silently share the nodes.
 * The tree is then checked and copied into the survey's own arena, so a loaded survey
 * keeps nothing of the parse and every error can point at the exact key or value.
 */
#include "survey.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"

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
#define SURVEY_SHOW_MAX         64 /* bytes of a user's word echoed in a message */

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
    struct survey_node **items; /* sequence: the items; mapping: key, value, key, value... */
    size_t n;
};

struct survey_loader {
    const char *name;
    const char *data;
    size_t len;
    struct arena *tmp; /* the tree */
    struct arena *out; /* the survey */
    yaml_parser_t parser;
    struct err *e;
};

static const char *const survey_type_names[] = {
    [Q_YESNO] = "yesno", [Q_SCALE] = "scale",   [Q_CHOICE] = "choice",
    [Q_TEXT] = "text",   [Q_NUMBER] = "number",
};

#define SURVEY_NTYPES (sizeof survey_type_names / sizeof survey_type_names[0])

static const char *const survey_top_keys[] = {"id", "version", "title", "description", "questions"};
static const char *const survey_question_keys[] = {"id",        "type",    "label", "hint",
                                                   "required",  "min",     "max",   "min_label",
                                                   "max_label", "choices", "long",  "max_length"};
static const char *const survey_choice_keys[] = {"value", "label"};
static const char *const survey_text_keys[] = {"ru", "en"};

#define SURVEY_COUNT(a) (sizeof(a) / sizeof(a)[0])

const char *survey_type_name(enum question_type t)
{
    if ((size_t)t < SURVEY_NTYPES)
        return survey_type_names[t];
    return "unknown";
}

static int survey_oom(struct survey_loader *L)
{
    return err_set(L->e, L->name, 0, 0, "out of memory");
}

static int survey_fail(struct survey_loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int survey_fail(struct survey_loader *L, int line, int col, const char *fmt, ...)
{
    char msg[sizeof L->e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(L->e, L->name, line, col, "%s", msg);
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

/* Every key is a scalar, known, and appears once. pre prefixes the message (may be ""). */
static int survey_check_keys(struct survey_loader *L, const struct survey_node *map,
                             const char *const *allowed, size_t nallowed, const char *pre,
                             const char *where)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct survey_node *k = map->items[i];
        if (k->kind != SURVEY_SCALAR)
            return survey_fail_at(L, k, "%sa key must be a word, not a %s", pre,
                                  k->kind == SURVEY_MAP ? "mapping" : "list");
        size_t a = 0;
        while (a < nallowed && !survey_is(k, allowed[a]))
            a++;
        if (a == nallowed) {
            char list[256] = "";
            size_t used = 0;
            for (size_t j = 0; j < nallowed && used < sizeof list; j++) {
                int w =
                    snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", allowed[j]);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            return survey_fail_at(L, k, "%sunknown key \"%.*s\" in %s (expected one of: %s)", pre,
                                  SURVEY_SHOW(k), where, list);
        }
        for (size_t j = 0; j < i; j += 2)
            if (survey_is(map->items[j], allowed[a]))
                return survey_fail_at(L, k, "%sduplicate key \"%s\" (first defined at line %d)",
                                      pre, allowed[a], map->items[j]->line);
    }
    return 0;
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

static int survey_valid_id(const struct survey_node *v, int dash)
{
    if (v->len < 1 || v->len > SURVEY_MAX_ID)
        return 0;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->str[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (dash && c == '-')))
            return 0;
    }
    return 1;
}

static int survey_text_part(struct survey_loader *L, const struct survey_node *v, const char *pre,
                            const char *key, const char *part, const char **out)
{
    if (v->kind != SURVEY_SCALAR)
        return survey_fail_at(L, v, "%s\"%s\" of \"%s\" must be a single value, not a %s", pre,
                              part, key, v->kind == SURVEY_MAP ? "mapping" : "list");
    if (v->len == 0)
        return survey_fail_at(L, v, "%s\"%s\" of \"%s\" must not be empty", pre, part, key);
    if (!(*out = survey_copy(L, v)))
        return survey_oom(L);
    return 0;
}

/* A plain string (Russian) or {ru: ..., en: ...}. */
static int survey_text(struct survey_loader *L, const struct survey_node *v, const char *pre,
                       const char *key, struct text *out)
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
        return 0;
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
    if (survey_text_part(L, ru, pre, key, "ru", &out->ru))
        return -1;
    if (en && survey_text_part(L, en, pre, key, "en", &out->en))
        return -1;
    return 0;
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
 * For each of the n items of list, the index of the first earlier item with the same key
 * (a scalar), or n when it has none. Sorting rather than comparing every pair keeps a large
 * file from making loading quadratic.
 */
static size_t *survey_first_seen(struct survey_loader *L, const struct survey_node *list,
                                 const char *key)
{
    size_t n = list->n;
    struct survey_name *v = arena_calloc(L->tmp, n, sizeof *v);
    size_t *first = arena_calloc(L->tmp, n, sizeof *first);
    if (!v || !first)
        return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = n;
        const struct survey_node *it = list->items[i];
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

/* Which type-specific keys each type takes; the common ones apply to all. */
static int survey_key_applies(enum question_type t, const struct survey_node *k)
{
    static const char *const common[] = {"id", "type", "label", "hint", "required"};
    for (size_t i = 0; i < SURVEY_COUNT(common); i++)
        if (survey_is(k, common[i]))
            return 1;
    switch (t) {
    case Q_SCALE:
        return survey_is(k, "min") || survey_is(k, "max") || survey_is(k, "min_label") ||
               survey_is(k, "max_label");
    case Q_NUMBER: return survey_is(k, "min") || survey_is(k, "max");
    case Q_CHOICE: return survey_is(k, "choices");
    case Q_TEXT: return survey_is(k, "long") || survey_is(k, "max_length");
    case Q_YESNO: return 0;
    }
    return 0;
}

static int survey_bound(struct survey_loader *L, const struct survey_node *map, const char *pre,
                        const char *key, long *out, int *has)
{
    const struct survey_node *v = survey_get(map, key);
    *has = v != NULL;
    if (v && survey_long(v, out))
        return survey_fail_at(L, v, "%s\"%s\" must be an integer", pre, key);
    return 0;
}

static int survey_scale(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    static const char *const need[] = {"min", "max"};
    for (size_t i = 0; i < SURVEY_COUNT(need); i++)
        if (!survey_get(n, need[i]))
            return survey_fail_at(L, n, "missing required key \"%s\" in scale \"%s\"", need[i],
                                  q->id);
    if (survey_bound(L, n, pre, "min", &q->min, &q->has_min) ||
        survey_bound(L, n, pre, "max", &q->max, &q->has_max))
        return -1;
    if (q->min >= q->max)
        return survey_fail_at(L, survey_get(n, "min"), "%smin must be less than max", pre);
    if ((unsigned long)q->max - (unsigned long)q->min > SURVEY_SCALE_MAX_SPAN)
        return survey_fail_at(L, survey_get(n, "max"),
                              "%smax - min must be at most %d (a scale is shown as a row of "
                              "buttons)",
                              pre, SURVEY_SCALE_MAX_SPAN);
    return survey_opt_text(L, n, pre, "min_label", &q->min_label) ||
           survey_opt_text(L, n, pre, "max_label", &q->max_label);
}

static int survey_number(struct survey_loader *L, const struct survey_node *n, struct question *q,
                         const char *pre)
{
    if (survey_bound(L, n, pre, "min", &q->min, &q->has_min) ||
        survey_bound(L, n, pre, "max", &q->max, &q->has_max))
        return -1;
    if (q->has_min && q->has_max && q->min > q->max)
        return survey_fail_at(L, survey_get(n, "min"), "%smin must not be greater than max", pre);
    return 0;
}

static int survey_textq(struct survey_loader *L, const struct survey_node *n, struct question *q,
                        const char *pre)
{
    const struct survey_node *v = survey_get(n, "long");
    if (v && survey_bool(v, &q->long_text))
        return survey_fail_at(L, v, "%s\"long\" must be true or false", pre);
    q->max_length = SURVEY_TEXT_DEFAULT_LEN;
    v = survey_get(n, "max_length");
    if (v) {
        long x;
        if (survey_long(v, &x) || x < 1 || x > SURVEY_TEXT_MAX_LEN)
            return survey_fail_at(L, v, "%s\"max_length\" must be an integer from 1 to %d", pre,
                                  SURVEY_TEXT_MAX_LEN);
        q->max_length = (size_t)x;
    }
    return 0;
}

static int survey_choices(struct survey_loader *L, const struct survey_node *n, struct question *q,
                          const char *pre)
{
    const struct survey_node *list = survey_get(n, "choices");
    if (!list)
        return survey_fail_at(L, n, "missing required key \"choices\" in choice \"%s\"", q->id);
    if (list->kind != SURVEY_SEQ)
        return survey_fail_at(L, list, "%s\"choices\" must be a list of {value, label}", pre);
    if (list->n < 2)
        return survey_fail_at(L, list, "%sneeds at least 2 choices, found %zu", pre, list->n);
    q->choices = arena_calloc(L->out, list->n, sizeof *q->choices);
    const size_t *first = survey_first_seen(L, list, "value");
    if (!q->choices || !first)
        return survey_oom(L);
    for (size_t i = 0; i < list->n; i++) {
        const struct survey_node *c = list->items[i];
        struct choice *ch = &q->choices[i];
        if (c->kind != SURVEY_MAP)
            return survey_fail_at(L, c, "%seach choice must be a mapping with value and label",
                                  pre);
        if (survey_check_keys(L, c, survey_choice_keys, SURVEY_COUNT(survey_choice_keys), pre,
                              "a choice"))
            return -1;
        const struct survey_node *v = survey_get(c, "value");
        if (!v)
            return survey_fail_at(L, c, "%smissing required key \"value\" in a choice", pre);
        if (survey_want_scalar(L, v, pre, "value"))
            return -1;
        if (!survey_valid_id(v, 1))
            return survey_fail_at(L, v,
                                  "%svalue \"%.*s\" must be 1 to 64 characters of a-z, 0-9, "
                                  "\"_\" and \"-\"",
                                  pre, SURVEY_SHOW(v));
        if (first[i] < list->n)
            return survey_fail_at(L, v, "%sduplicate value \"%s\" (first defined at line %d)", pre,
                                  v->str, survey_get(list->items[first[i]], "value")->line);
        if (!(ch->value = survey_copy(L, v)))
            return survey_oom(L);
        const struct survey_node *label = survey_get(c, "label");
        if (!label)
            return survey_fail_at(L, c, "%smissing required key \"label\" in choice \"%s\"", pre,
                                  ch->value);
        if (survey_text(L, label, pre, "label", &ch->label))
            return -1;
    }
    q->nchoices = list->n;
    return 0;
}

/* first: the index of the first question with the same id, or idx when it is the first. */
static int survey_question_at(struct survey_loader *L, const struct survey_node *n,
                              struct survey *s, size_t idx, size_t first)
{
    struct question *q = &s->questions[idx];
    if (n->kind != SURVEY_MAP)
        return survey_fail_at(L, n,
                              "each question must be a mapping with at least id, type and "
                              "label");
    if (survey_check_keys(L, n, survey_question_keys, SURVEY_COUNT(survey_question_keys), "",
                          "question"))
        return -1;
    q->line = n->line;
    q->col = n->col;

    const struct survey_node *v = survey_get(n, "id");
    if (!v)
        return survey_fail_at(L, n, "missing required key \"id\" in question");
    if (survey_want_scalar(L, v, "question: ", "id"))
        return -1;
    if (!survey_valid_id(v, 0))
        return survey_fail_at(L, v,
                              "question id \"%.*s\" must be 1 to 64 characters of a-z, 0-9 and "
                              "\"_\"",
                              SURVEY_SHOW(v));
    if (first < idx)
        return survey_fail_at(L, v, "duplicate question id \"%s\" (first defined at line %d)",
                              v->str, s->questions[first].line);
    if (!(q->id = survey_copy(L, v)))
        return survey_oom(L);

    char pre[96];
    snprintf(pre, sizeof pre, "question \"%s\": ", q->id);
    v = survey_get(n, "type");
    if (!v)
        return survey_fail_at(L, n, "missing required key \"type\" in question \"%s\"", q->id);
    if (survey_want_scalar(L, v, pre, "type"))
        return -1;
    size_t t = 0;
    while (t < SURVEY_NTYPES && !survey_is(v, survey_type_names[t]))
        t++;
    if (t == SURVEY_NTYPES)
        return survey_fail_at(L, v,
                              "%stype \"%.*s\" is not one of yesno, scale, choice, text, "
                              "number",
                              pre, SURVEY_SHOW(v));
    q->type = (enum question_type)t;
    for (size_t i = 0; i + 1 < n->n; i += 2)
        if (!survey_key_applies(q->type, n->items[i]))
            return survey_fail_at(L, n->items[i],
                                  "%skey \"%s\" does not apply to type \"%s\" (remove it)", pre,
                                  n->items[i]->str, survey_type_names[t]);

    v = survey_get(n, "label");
    if (!v)
        return survey_fail_at(L, n, "missing required key \"label\" in question \"%s\"", q->id);
    if (survey_text(L, v, pre, "label", &q->label) || survey_opt_text(L, n, pre, "hint", &q->hint))
        return -1;
    v = survey_get(n, "required");
    if (v && survey_bool(v, &q->required))
        return survey_fail_at(L, v, "%s\"required\" must be true or false", pre);

    /* From here on the messages name the type, which is what the rules depend on. */
    snprintf(pre, sizeof pre, "%s \"%s\": ", survey_type_names[t], q->id);
    switch (q->type) {
    case Q_SCALE: return survey_scale(L, n, q, pre);
    case Q_NUMBER: return survey_number(L, n, q, pre);
    case Q_CHOICE: return survey_choices(L, n, q, pre);
    case Q_TEXT: return survey_textq(L, n, q, pre);
    case Q_YESNO: return 0;
    }
    return 0;
}

static int survey_build(struct survey_loader *L, const struct survey_node *root, struct survey *s,
                        int id_pos[2])
{
    if (root->kind != SURVEY_MAP)
        return survey_fail_at(L, root,
                              "the top level must be a mapping with id, version, title and "
                              "questions");
    if (survey_check_keys(L, root, survey_top_keys, SURVEY_COUNT(survey_top_keys), "",
                          "the survey"))
        return -1;
    static const char *const need[] = {"id", "version", "title", "questions"};
    for (size_t i = 0; i < SURVEY_COUNT(need); i++)
        if (!survey_get(root, need[i]))
            return survey_fail_at(L, root, "missing required key \"%s\" in the survey", need[i]);

    const struct survey_node *v = survey_get(root, "id");
    if (survey_want_scalar(L, v, "", "id"))
        return -1;
    if (!survey_valid_id(v, 1))
        return survey_fail_at(L, v,
                              "\"id\" must be 1 to 64 characters of a-z, 0-9, \"_\" and \"-\" "
                              "(got \"%.*s\")",
                              SURVEY_SHOW(v));
    if (!(s->id = survey_copy(L, v)))
        return survey_oom(L);
    if (id_pos) {
        id_pos[0] = v->line;
        id_pos[1] = v->col;
    }

    v = survey_get(root, "version");
    if (survey_long(v, &s->version) || s->version < 1)
        return survey_fail_at(L, v, "\"version\" must be an integer >= 1");

    if (survey_text(L, survey_get(root, "title"), "", "title", &s->title) ||
        survey_opt_text(L, root, "", "description", &s->description))
        return -1;

    v = survey_get(root, "questions");
    if (v->kind != SURVEY_SEQ)
        return survey_fail_at(L, v, "\"questions\" must be a list of questions");
    if (v->n == 0)
        return survey_fail_at(L, v, "\"questions\" must contain at least one question");
    s->questions = arena_calloc(L->out, v->n, sizeof *s->questions);
    const size_t *first = survey_first_seen(L, v, "id");
    if (!s->questions || !first)
        return survey_oom(L);
    for (size_t i = 0; i < v->n; i++)
        if (survey_question_at(L, v->items[i], s, i, first[i] < v->n ? first[i] : i))
            return -1;
    s->nquestions = v->n;
    return 0;
}

static int survey_parse(const char *name, const char *data, size_t len, struct survey **out,
                        struct err *e, int id_pos[2])
{
    *out = NULL;
    if (len > SURVEY_MAX_BYTES)
        return err_set(e, name, 0, 0,
                       "the file is larger than 1 MiB: a questionnaire is far "
                       "smaller, check that this is the right file");
    if (crypto_setup())
        return err_set(e, name, 0, 0, "cannot initialise libsodium to hash the file");

    struct survey_loader L = {.name = name, .data = data, .len = len, .e = e};
    L.tmp = arena_new();
    L.out = arena_new();
    struct survey *s = L.out ? arena_calloc(L.out, 1, sizeof *s) : NULL;
    if (!L.tmp || !s) {
        arena_free(L.tmp);
        arena_free(L.out);
        return survey_oom(&L);
    }
    s->arena = L.out;
    if (name && !(s->path = arena_strdup(L.out, name))) {
        arena_free(L.tmp);
        arena_free(L.out);
        return survey_oom(&L);
    }
    crypto_sha256_hex(data, len, s->hash);

    if (!yaml_parser_initialize(&L.parser)) {
        arena_free(L.tmp);
        arena_free(L.out);
        return survey_oom(&L);
    }
    yaml_parser_set_input_string(&L.parser, (const unsigned char *)data, len);
    struct survey_node *root = NULL;
    int rc = survey_tree(&L, &root);
    yaml_parser_delete(&L.parser);
    if (rc == 0)
        rc = survey_build(&L, root, s, id_pos);
    arena_free(L.tmp);
    if (rc) {
        arena_free(L.out);
        return -1;
    }
    *out = s;
    return 0;
}

int survey_load_mem(const char *name, const char *data, size_t len, struct survey **out,
                    struct err *e)
{
    return survey_parse(name, data, len, out, e, NULL);
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

static int survey_load_file(const char *path, struct survey **out, struct err *e, int id_pos[2])
{
    char *data;
    size_t len;
    *out = NULL;
    if (survey_read(path, &data, &len, e))
        return -1;
    int rc = survey_parse(path, data, len, out, e, id_pos);
    free(data);
    return rc;
}

int survey_load(const char *path, struct survey **out, struct err *e)
{
    return survey_load_file(path, out, e, NULL);
}

void survey_free(struct survey *s)
{
    if (s)
        arena_free(s->arena);
}

const struct question *survey_question(const struct survey *s, const char *id)
{
    for (size_t i = 0; i < s->nquestions; i++)
        if (strcmp(s->questions[i].id, id) == 0)
            return &s->questions[i];
    return NULL;
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

/* Each json_*_set_new takes the value even when it fails, so nothing leaks on the way out. */
static int survey_question_json_fields(const struct question *q, json_t *o)
{
    if (json_object_set_new(o, "id", json_string(q->id)) ||
        json_object_set_new(o, "type", json_string(survey_type_name(q->type))) ||
        json_object_set_new(o, "label", survey_text_json(&q->label)) ||
        (q->hint.ru && json_object_set_new(o, "hint", survey_text_json(&q->hint))) ||
        json_object_set_new(o, "required", json_boolean(q->required)))
        return -1;
    switch (q->type) {
    case Q_SCALE:
        return json_object_set_new(o, "min", json_integer(q->min)) ||
               json_object_set_new(o, "max", json_integer(q->max)) ||
               (q->min_label.ru &&
                json_object_set_new(o, "min_label", survey_text_json(&q->min_label))) ||
               (q->max_label.ru &&
                json_object_set_new(o, "max_label", survey_text_json(&q->max_label)));
    case Q_NUMBER:
        return (q->has_min && json_object_set_new(o, "min", json_integer(q->min))) ||
               (q->has_max && json_object_set_new(o, "max", json_integer(q->max)));
    case Q_CHOICE: {
        json_t *list = json_array();
        if (json_object_set_new(o, "choices", list))
            return -1;
        for (size_t i = 0; i < q->nchoices; i++) {
            json_t *c = json_object();
            if (json_array_append_new(list, c) ||
                json_object_set_new(c, "value", json_string(q->choices[i].value)) ||
                json_object_set_new(c, "label", survey_text_json(&q->choices[i].label)))
                return -1;
        }
        return 0;
    }
    case Q_TEXT:
        return json_object_set_new(o, "long", json_boolean(q->long_text)) ||
               json_object_set_new(o, "max_length", json_integer((json_int_t)q->max_length));
    case Q_YESNO: return 0;
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
        (s->description.ru &&
         json_object_set_new(root, "description", survey_text_json(&s->description))) ||
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

int survey_set_load_dir(const char *dir, struct survey_set *set, struct err *e)
{
    set->items = NULL;
    set->n = 0;
    char **names;
    size_t nnames;
    if (survey_list_dir(dir, &names, &nnames, e))
        return -1;
    struct survey **items = calloc(nnames ? nnames : 1, sizeof *items);
    if (!items) {
        survey_free_names(names, nnames);
        return err_set(e, dir, 0, 0, "out of memory");
    }
    size_t dlen = strlen(dir);
    const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < nnames && rc == 0; i++) {
        size_t plen = dlen + strlen(sep) + strlen(names[i]) + 1;
        char *path = malloc(plen);
        if (!path) {
            rc = err_set(e, dir, 0, 0, "out of memory");
            break;
        }
        snprintf(path, plen, "%s%s%s", dir, sep, names[i]);
        struct survey *s;
        int id_pos[2] = {0, 0};
        rc = survey_load_file(path, &s, e, id_pos);
        for (size_t j = 0; rc == 0 && j < n; j++) {
            if (strcmp(items[j]->id, s->id) == 0) {
                rc = err_set(e, path, id_pos[0], id_pos[1],
                             "duplicate survey id \"%s\": %s declares it too (each survey needs "
                             "its own id)",
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
    if (rc) {
        survey_set_free(set);
        return -1;
    }
    if (n > 1)
        qsort(items, n, sizeof *items, survey_cmp_id);
    return 0;
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

/*
 * tmpl: owns the compiled template set. Each template is parsed once into a flat node
 * array (a section node records where its body ends), and rendering walks those nodes
 * with the context stack kept in the C stack frames, so a request allocates nothing but
 * the output it appends.
 */
#include "tmpl.h"

#include "arena.h"
#include "buf.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Section nesting within one template; also bounds the C recursion of rendering. */
#define TMPL_MAX_DEPTH 64
/* Partials including partials: deep enough for recursive trees, low enough to stop a loop. */
#define TMPL_MAX_PARTIALS 16

/*
 * Node visits allowed for one rendering. Sections over arrays inside partials that include
 * each other multiply: a template can ask for more work than any page needs (the largest
 * questionnaire page takes a few thousand). Beyond this the rendering fails instead.
 */
#define TMPL_MAX_STEPS 2000000
/* How much of an offending tag is quoted in a message. */
#define TMPL_QUOTE 40

enum tmpl_kind { TMPL_TEXT, TMPL_VAR, TMPL_SECTION, TMPL_INVERTED, TMPL_PARTIAL };

struct tmpl_entry;

struct tmpl_node {
    enum tmpl_kind kind;
    int line, col;    /* of the opening "{{", for messages */
    size_t end;       /* sections: index of the first node after the body */
    const char *text; /* the text run, or the name as written in the tag */
    size_t len;
    const char **seg; /* the name split at dots; none for "." */
    size_t nseg;
    struct tmpl_entry *partial;
};

struct tmpl {
    const char *file;
    struct tmpl_node *nodes;
    size_t n;
    struct tmpl *next;
};

/*
 * A name of the set. Partials point at the entry of the name they include, created on
 * first mention, so a template may include one added later and rendering never searches.
 */
struct tmpl_entry {
    const char *name;
    size_t len;
    struct tmpl *t;
};

struct tmpl_set {
    struct arena *arena;
    struct tmpl_entry **slots;
    size_t cap;
    size_t count;
    struct tmpl *first;
    struct tmpl **tail;
};

struct tmpl_pos {
    size_t off;
    int line;
    int col;
};

struct tmpl_compiler {
    struct tmpl_set *set;
    const char *file;
    const char *text;
    size_t len;
    struct tmpl_pos pos;
    struct tmpl_node *nodes;
    size_t n;
    size_t cap;
    size_t open[TMPL_MAX_DEPTH];
    int nopen;
    struct err *e;
};

/* One context of the stack: each lives in the frame of the section that pushed it. */
struct tmpl_ctx {
    json_t *v;
    const struct tmpl_ctx *outer;
};

struct tmpl_render_state {
    struct buf *out;
    struct err *e;
    int partials;
    long steps;
};

static uint64_t tmpl_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

static struct tmpl_entry *tmpl_find(const struct tmpl_set *set, const char *name, size_t len)
{
    if (!set->cap)
        return NULL;
    size_t i = (size_t)tmpl_hash(name, len) & (set->cap - 1);
    for (struct tmpl_entry *en; (en = set->slots[i]); i = (i + 1) & (set->cap - 1)) {
        if (en->len == len && memcmp(en->name, name, len) == 0)
            return en;
    }
    return NULL;
}

static int tmpl_grow(struct tmpl_set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 16;
    struct tmpl_entry **slots = arena_calloc(set->arena, cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < set->cap; i++) {
        struct tmpl_entry *en = set->slots[i];
        if (!en)
            continue;
        size_t j = (size_t)tmpl_hash(en->name, en->len) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = en;
    }
    set->slots = slots;
    set->cap = cap;
    return 0;
}

/* The entry for name, created when new; NULL when out of memory. */
static struct tmpl_entry *tmpl_intern(struct tmpl_set *set, const char *name, size_t len)
{
    struct tmpl_entry *en = tmpl_find(set, name, len);
    if (en)
        return en;
    if ((set->count + 1) * 2 > set->cap && tmpl_grow(set) < 0)
        return NULL;
    en = arena_alloc(set->arena, sizeof *en);
    char *copy = arena_strndup(set->arena, name, len);
    if (!en || !copy)
        return NULL;
    en->name = copy;
    en->len = len;
    en->t = NULL;
    size_t i = (size_t)tmpl_hash(name, len) & (set->cap - 1);
    while (set->slots[i])
        i = (i + 1) & (set->cap - 1);
    set->slots[i] = en;
    set->count++;
    return en;
}

struct tmpl_set *tmpl_set_new(void)
{
    struct arena *a = arena_new();
    if (!a)
        return NULL;
    struct tmpl_set *set = arena_calloc(a, 1, sizeof *set);
    if (!set) {
        arena_free(a);
        return NULL;
    }
    set->arena = a;
    set->tail = &set->first;
    return set;
}

void tmpl_set_free(struct tmpl_set *set)
{
    if (set)
        arena_free(set->arena);
}

int tmpl_exists(const struct tmpl_set *set, const char *name)
{
    const struct tmpl_entry *en = tmpl_find(set, name, strlen(name));
    return en && en->t;
}

/* Moves the position to byte off; columns count UTF-8 characters, as an editor shows them. */
static void tmpl_advance(struct tmpl_compiler *c, size_t off)
{
    for (; c->pos.off < off; c->pos.off++) {
        unsigned char ch = (unsigned char)c->text[c->pos.off];
        if (ch == '\n') {
            c->pos.line++;
            c->pos.col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c->pos.col++;
        }
    }
}

static int tmpl_oom(struct tmpl_compiler *c)
{
    return err_set(c->e, c->file, 0, 0, "out of memory");
}

static struct tmpl_node *tmpl_push_node(struct tmpl_compiler *c, enum tmpl_kind kind,
                                        const char *text, size_t len)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct tmpl_node *nodes =
            arena_realloc(c->set->arena, c->nodes, c->cap * sizeof *nodes, cap * sizeof *nodes);
        if (!nodes) {
            tmpl_oom(c);
            return NULL;
        }
        c->nodes = nodes;
        c->cap = cap;
    }
    struct tmpl_node *n = &c->nodes[c->n++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->text = text;
    n->len = len;
    n->line = c->pos.line;
    n->col = c->pos.col;
    return n;
}

static int tmpl_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static int tmpl_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Checks a value name ("." or dot-joined parts) and splits it into n->seg. */
static int tmpl_split_name(struct tmpl_compiler *c, struct tmpl_node *n)
{
    const char *s = n->text;
    size_t len = n->len;
    if (len == 1 && s[0] == '.')
        return 0;
    size_t parts = 1;
    for (size_t i = 0; i < len; i++) {
        int dot = s[i] == '.';
        if (dot)
            parts++;
        if ((!dot && !tmpl_name_char(s[i])) || (dot && (i == 0 || i + 1 == len || s[i + 1] == '.')))
            return err_set(c->e, c->file, n->line, n->col,
                           "invalid name \"%.*s\": a name is \".\" or letters, digits, \"_\" "
                           "and \"-\" in parts joined by \".\"",
                           (int)(len > TMPL_QUOTE ? TMPL_QUOTE : len), s);
    }
    const char **seg = arena_alloc(c->set->arena, parts * sizeof *seg);
    if (!seg)
        return tmpl_oom(c);
    size_t start = 0;
    for (size_t i = 0, k = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        seg[k] = arena_strndup(c->set->arena, s + start, i - start);
        if (!seg[k++])
            return tmpl_oom(c);
        start = i + 1;
    }
    n->seg = seg;
    n->nseg = parts;
    return 0;
}

static int tmpl_partial_name(struct tmpl_compiler *c, struct tmpl_node *n)
{
    for (size_t i = 0; i < n->len; i++) {
        if (!tmpl_name_char(n->text[i]) && n->text[i] != '.')
            return err_set(c->e, c->file, n->line, n->col,
                           "invalid partial name \"%.*s\": a template name is letters, digits, "
                           "\"_\", \"-\" and \".\"",
                           (int)(n->len > TMPL_QUOTE ? TMPL_QUOTE : n->len), n->text);
    }
    n->partial = tmpl_intern(c->set, n->text, n->len);
    return n->partial ? 0 : tmpl_oom(c);
}

static int tmpl_close(struct tmpl_compiler *c, const char *name, size_t len)
{
    if (c->nopen == 0)
        return err_set(c->e, c->file, c->pos.line, c->pos.col,
                       "\"{{/%.*s}}\" closes no open section", (int)len, name);
    struct tmpl_node *open = &c->nodes[c->open[c->nopen - 1]];
    if (open->len != len || memcmp(open->text, name, len) != 0)
        return err_set(c->e, c->file, c->pos.line, c->pos.col,
                       "\"{{/%.*s}}\" closes \"%.*s\" opened at line %d", (int)len, name,
                       (int)open->len, open->text, open->line);
    open->end = c->n;
    c->nopen--;
    return 0;
}

/* Compiles the tag whose "{{" is at p and whose "}}" is at q. */
static int tmpl_tag(struct tmpl_compiler *c, size_t p, size_t q)
{
    const char *s = c->text + p + 2;
    size_t len = q - p - 2;
    while (len && tmpl_space(*s)) {
        s++;
        len--;
    }
    if (len && s[0] == '!')
        return 0;
    char sigil = len ? s[0] : '\0';
    enum tmpl_kind kind = TMPL_VAR;
    switch (sigil) {
    case '#': kind = TMPL_SECTION; break;
    case '^': kind = TMPL_INVERTED; break;
    case '>': kind = TMPL_PARTIAL; break;
    case '/': break;
    default:
        if (len && !tmpl_name_char(sigil) && sigil != '.')
            return err_set(c->e, c->file, c->pos.line, c->pos.col,
                           "unknown tag \"%.*s\": the tags are {{name}} {{#name}} {{^name}} "
                           "{{/name}} {{>name}} {{!comment}}",
                           (int)(q + 2 - p > TMPL_QUOTE ? TMPL_QUOTE : q + 2 - p), c->text + p);
        sigil = '\0';
    }
    if (sigil) {
        s++;
        len--;
    }
    while (len && tmpl_space(*s)) {
        s++;
        len--;
    }
    while (len && tmpl_space(s[len - 1]))
        len--;
    if (!len)
        return err_set(c->e, c->file, c->pos.line, c->pos.col, "empty tag name");
    if (sigil == '/')
        return tmpl_close(c, s, len);
    if (kind == TMPL_SECTION || kind == TMPL_INVERTED) {
        if (c->nopen == TMPL_MAX_DEPTH)
            return err_set(c->e, c->file, c->pos.line, c->pos.col, "sections nested deeper than %d",
                           TMPL_MAX_DEPTH);
        c->open[c->nopen++] = c->n;
    }
    struct tmpl_node *n = tmpl_push_node(c, kind, s, len);
    if (!n)
        return -1;
    if (kind == TMPL_PARTIAL)
        return tmpl_partial_name(c, n);
    return tmpl_split_name(c, n);
}

/* The first pat (two bytes) in s[from, to), or NULL. */
static const char *tmpl_search(const char *s, size_t from, size_t to, const char *pat)
{
    for (size_t i = from; i + 1 < to; i++) {
        const char *hit = memchr(s + i, pat[0], to - 1 - i);
        if (!hit)
            return NULL;
        i = (size_t)(hit - s);
        if (s[i + 1] == pat[1])
            return hit;
    }
    return NULL;
}

static int tmpl_parse(struct tmpl_compiler *c)
{
    size_t i = 0;
    while (i < c->len) {
        const char *open = tmpl_search(c->text, i, c->len, "{{");
        size_t p = open ? (size_t)(open - c->text) : c->len;
        if (p > i && !tmpl_push_node(c, TMPL_TEXT, c->text + i, p - i))
            return -1;
        if (!open)
            break;
        tmpl_advance(c, p);
        if (p + 2 < c->len && c->text[p + 2] == '{')
            return err_set(c->e, c->file, c->pos.line, c->pos.col,
                           "\"{{{\" is not supported: there is no raw output, every value is "
                           "HTML-escaped");
        const char *close = tmpl_search(c->text, p + 2, c->len, "}}");
        if (!close || tmpl_search(c->text, p + 2, (size_t)(close - c->text) + 1, "{{"))
            return err_set(c->e, c->file, c->pos.line, c->pos.col, "tag is not closed by \"}}\"");
        size_t q = (size_t)(close - c->text);
        if (tmpl_tag(c, p, q) < 0)
            return -1;
        i = q + 2;
    }
    if (c->nopen) {
        const struct tmpl_node *n = &c->nodes[c->open[c->nopen - 1]];
        return err_set(c->e, c->file, n->line, n->col,
                       "section \"%.*s\" opened here is never closed", (int)n->len, n->text);
    }
    return 0;
}

/* Compiles text (which must live as long as the set) as template name, read from file. */
static int tmpl_compile(struct tmpl_set *set, const char *name, const char *file, const char *text,
                        size_t len, struct err *e)
{
    struct tmpl_compiler c = {
        .set = set, .file = file, .text = text, .len = len, .pos = {0, 1, 1}, .e = e};
    const struct tmpl_entry *known = tmpl_find(set, name, strlen(name));
    if (known && known->t)
        return err_set(e, file, 0, 0, "template \"%s\" is already in the set", name);
    if (tmpl_parse(&c) < 0)
        return -1;
    struct tmpl *t = arena_alloc(set->arena, sizeof *t);
    char *fcopy = arena_strdup(set->arena, file);
    struct tmpl_entry *en = tmpl_intern(set, name, strlen(name));
    if (!t || !fcopy || !en)
        return tmpl_oom(&c);
    t->file = fcopy;
    t->nodes = c.nodes;
    t->n = c.n;
    t->next = NULL;
    en->t = t;
    *set->tail = t;
    set->tail = &t->next;
    return 0;
}

int tmpl_set_add(struct tmpl_set *set, const char *name, const char *text, size_t len,
                 struct err *e)
{
    if (!name[0])
        return err_set(e, NULL, 0, 0, "a template needs a name");
    char *copy = arena_strndup(set->arena, text, len);
    if (!copy)
        return err_set(e, name, 0, 0, "out of memory");
    return tmpl_compile(set, name, name, copy, len, e);
}

int tmpl_set_check(const struct tmpl_set *set, struct err *e)
{
    for (const struct tmpl *t = set->first; t; t = t->next) {
        for (size_t i = 0; i < t->n; i++) {
            const struct tmpl_node *n = &t->nodes[i];
            if (n->kind == TMPL_PARTIAL && !n->partial->t)
                return err_set(e, t->file, n->line, n->col,
                               "partial \"%.*s\" is not a template of the set", (int)n->len,
                               n->text);
        }
    }
    return 0;
}

static int tmpl_read(struct arena *a, const char *path, char **text, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, path, 0, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(e, path, 0, 0, "not a regular file");
    }
    size_t size = (size_t)st.st_size;
    char *p = arena_alloc(a, size + 1);
    if (!p) {
        fclose(f);
        return err_set(e, path, 0, 0, "out of memory");
    }
    size_t got = fread(p, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size)
        return err_set(e, path, 0, 0, "cannot read the whole file");
    p[size] = '\0';
    *text = p;
    *len = size;
    return 0;
}

static int tmpl_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.html names of dir, sorted so that loading and its errors do not depend on readdir. */
static int tmpl_list_dir(struct arena *a, const char *dir, char ***names, size_t *count,
                         struct err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, dir, 0, 0, "cannot open the template directory: %s", strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".html") != 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nv = arena_realloc(a, v, cap * sizeof *v, ncap * sizeof *v);
            if (!nv) {
                closedir(d);
                return err_set(e, dir, 0, 0, "out of memory");
            }
            v = nv;
            cap = ncap;
        }
        v[n] = arena_strndup(a, de->d_name, len - 5);
        if (!v[n++]) {
            closedir(d);
            return err_set(e, dir, 0, 0, "out of memory");
        }
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, tmpl_cmp_names);
    *names = v;
    *count = n;
    return 0;
}

static int tmpl_load_all(struct tmpl_set *set, const char *dir, struct err *e)
{
    char **names = NULL;
    size_t count = 0;
    if (tmpl_list_dir(set->arena, dir, &names, &count, e) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char *path = arena_printf(set->arena, "%s/%s.html", dir, names[i]);
        if (!path)
            return err_set(e, dir, 0, 0, "out of memory");
        char *text = NULL;
        size_t len = 0;
        if (tmpl_read(set->arena, path, &text, &len, e) < 0 ||
            tmpl_compile(set, names[i], path, text, len, e) < 0)
            return -1;
    }
    return tmpl_set_check(set, e);
}

int tmpl_set_load_dir(const char *dir, struct tmpl_set **out, struct err *e)
{
    *out = NULL;
    struct tmpl_set *set = tmpl_set_new();
    if (!set)
        return err_set(e, dir, 0, 0, "out of memory");
    if (tmpl_load_all(set, dir, e) < 0) {
        tmpl_set_free(set);
        return -1;
    }
    *out = set;
    return 0;
}

static json_t *tmpl_lookup(const struct tmpl_node *n, const struct tmpl_ctx *ctx)
{
    if (!n->nseg)
        return ctx ? ctx->v : NULL;
    json_t *v = NULL;
    for (; ctx && !v; ctx = ctx->outer) {
        if (json_is_object(ctx->v))
            v = json_object_get(ctx->v, n->seg[0]);
    }
    for (size_t i = 1; v && i < n->nseg; i++)
        v = json_is_object(v) ? json_object_get(v, n->seg[i]) : NULL;
    return v;
}

static int tmpl_truthy(const json_t *v)
{
    if (!v)
        return 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: return json_object_size(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_TRUE: return 1;
    case JSON_FALSE:
    case JSON_NULL: break;
    }
    return 0;
}

static void tmpl_put_value(struct buf *out, const json_t *v)
{
    char num[40];
    int len;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: buf_put_html(out, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER:
        len = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: len = snprintf(num, sizeof num, "%.15g", json_real_value(v)); break;
    case JSON_TRUE: buf_append(out, "true", 4); return;
    default: return;
    }
    buf_append(out, num, (size_t)len);
}

static int tmpl_render_nodes(struct tmpl_render_state *r, const struct tmpl *t, size_t from,
                             size_t to, const struct tmpl_ctx *ctx);

static int tmpl_render_section(struct tmpl_render_state *r, const struct tmpl *t,
                               const struct tmpl_node *n, size_t body, json_t *v,
                               const struct tmpl_ctx *ctx)
{
    struct tmpl_ctx inner = {v, ctx};
    if (!json_is_array(v))
        return tmpl_render_nodes(r, t, body, n->end, &inner);
    for (size_t i = 0; i < json_array_size(v); i++) {
        inner.v = json_array_get(v, i);
        if (tmpl_render_nodes(r, t, body, n->end, &inner) < 0)
            return -1;
    }
    return 0;
}

static int tmpl_render_partial(struct tmpl_render_state *r, const struct tmpl *t,
                               const struct tmpl_node *n, const struct tmpl_ctx *ctx)
{
    const struct tmpl *p = n->partial->t;
    if (!p)
        return err_set(r->e, t->file, n->line, n->col,
                       "partial \"%.*s\" is not a template of the set", (int)n->len, n->text);
    if (r->partials == TMPL_MAX_PARTIALS)
        return err_set(r->e, t->file, n->line, n->col,
                       "partials nested deeper than %d: does \"%.*s\" include itself?",
                       TMPL_MAX_PARTIALS, (int)n->len, n->text);
    r->partials++;
    int rc = tmpl_render_nodes(r, p, 0, p->n, ctx);
    r->partials--;
    return rc;
}

static int tmpl_render_nodes(struct tmpl_render_state *r, const struct tmpl *t, size_t from,
                             size_t to, const struct tmpl_ctx *ctx)
{
    size_t i = from;
    while (i < to) {
        const struct tmpl_node *n = &t->nodes[i];
        json_t *v;
        if (++r->steps > TMPL_MAX_STEPS)
            return err_set(r->e, t->file, n->line, n->col,
                           "rendering takes more than %d steps: do partials include each other "
                           "inside sections?",
                           TMPL_MAX_STEPS);
        switch (n->kind) {
        case TMPL_TEXT: buf_append(r->out, n->text, n->len); break;
        case TMPL_VAR: tmpl_put_value(r->out, tmpl_lookup(n, ctx)); break;
        case TMPL_SECTION:
            v = tmpl_lookup(n, ctx);
            if (tmpl_truthy(v) && tmpl_render_section(r, t, n, i + 1, v, ctx) < 0)
                return -1;
            i = n->end;
            continue;
        case TMPL_INVERTED:
            if (!tmpl_truthy(tmpl_lookup(n, ctx)) &&
                tmpl_render_nodes(r, t, i + 1, n->end, ctx) < 0)
                return -1;
            i = n->end;
            continue;
        case TMPL_PARTIAL:
            if (tmpl_render_partial(r, t, n, ctx) < 0)
                return -1;
            break;
        }
        i++;
    }
    return 0;
}

int tmpl_render(const struct tmpl_set *set, const char *name, json_t *ctx, struct buf *out,
                struct err *e)
{
    const struct tmpl_entry *en = tmpl_find(set, name, strlen(name));
    if (!en || !en->t)
        return err_set(e, NULL, 0, 0, "unknown template \"%s\"", name);
    struct tmpl_render_state r = {.out = out, .e = e, .partials = 0};
    struct tmpl_ctx root = {ctx, NULL};
    if (tmpl_render_nodes(&r, en->t, 0, en->t->n, ctx ? &root : NULL) < 0)
        return -1;
    if (buf_failed(out))
        return err_set(e, en->t->file, 0, 0, "out of memory rendering template \"%s\"", name);
    return 0;
}

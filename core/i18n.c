/*
 * i18n: owns the message catalogues loaded from web/i18n. Every language other than
 * Russian is kept twice: as written (to check it against Russian) and merged over a copy
 * of Russian, so a template given a catalogue never meets a missing key.
 */
#include "i18n.h"

#include "arena.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct i18n_lang {
    char code[4];
    const char *file;
    json_t *own;    /* the file as written */
    json_t *merged; /* Russian with this language over it; own for Russian */
};

struct i18n {
    struct arena *arena;
    struct i18n_lang *langs;
    size_t n;
    const struct i18n_lang *ru;
};

/* A key path for messages, "error.required"; a very long one is cut, which only shortens
 * the message. */
struct i18n_path {
    char s[512];
    size_t len;
};

static size_t i18n_path_push(struct i18n_path *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->s + p->len, sizeof p->s - p->len, "%s%s", p->len ? "." : "", key);
    if (n > 0)
        p->len += (size_t)n < sizeof p->s - p->len ? (size_t)n : sizeof p->s - 1 - p->len;
    return old;
}

static void i18n_path_pop(struct i18n_path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static void i18n_decref(void *p)
{
    json_decref(p);
}

static const char *i18n_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: break;
    }
    return "null";
}

/* Checks that every leaf under obj is a string reachable by a dotted key. */
static int i18n_validate(const json_t *obj, struct i18n_path *p, const char *file, struct err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t old = i18n_path_push(p, key);
        if (!key[0] || strchr(key, '.'))
            return err_set(e, file, 0, 0,
                           "key \"%s\" cannot be looked up: a key is non-empty and has no \".\" "
                           "(nest objects instead)",
                           p->s);
        if (json_is_object(v)) {
            if (i18n_validate(v, p, file, e) < 0)
                return -1;
        } else if (!json_is_string(v)) {
            return err_set(e, file, 0, 0, "\"%s\" is %s: a message must be a string", p->s,
                           i18n_kind(v));
        }
        i18n_path_pop(p, old);
    }
    return 0;
}

/* Copies over into base, member by member; a member must have the same shape in both. */
static int i18n_merge(json_t *base, json_t *over, struct i18n_path *p, const char *file,
                      struct err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(over, key, v)
    {
        size_t old = i18n_path_push(p, key);
        json_t *b = json_object_get(base, key);
        if (b && json_is_object(b) != json_is_object(v))
            return err_set(e, file, 0, 0, "\"%s\" is %s here but %s in ru.json", p->s, i18n_kind(v),
                           i18n_kind(b));
        if (b && json_is_object(v)) {
            if (i18n_merge(b, v, p, file, e) < 0)
                return -1;
        } else if (json_object_set(base, key, v) < 0) {
            return err_set(e, file, 0, 0, "out of memory");
        }
        i18n_path_pop(p, old);
    }
    return 0;
}

static int i18n_load_file(struct i18n *c, struct i18n_lang *l, struct err *e)
{
    json_error_t jerr;
    json_t *root = json_load_file(l->file, JSON_REJECT_DUPLICATES, &jerr);
    /* jansson leaves the text empty when it could not allocate its reader. */
    if (!root)
        return err_set(e, l->file, jerr.line > 0 ? jerr.line : 0, jerr.column > 0 ? jerr.column : 0,
                       "%s", jerr.text[0] ? jerr.text : "out of memory");
    if (arena_defer(c->arena, i18n_decref, root) < 0)
        return err_set(e, l->file, 0, 0, "out of memory");
    if (!json_is_object(root))
        return err_set(e, l->file, 0, 0, "a catalogue is a JSON object of messages, not %s",
                       i18n_kind(root));
    struct i18n_path p = {.len = 0};
    p.s[0] = '\0';
    if (i18n_validate(root, &p, l->file, e) < 0)
        return -1;
    l->own = root;
    l->merged = root;
    return 0;
}

static int i18n_build_merged(struct i18n *c, struct i18n_lang *l, struct err *e)
{
    json_t *merged = json_deep_copy(c->ru->own);
    if (!merged || arena_defer(c->arena, i18n_decref, merged) < 0)
        return err_set(e, l->file, 0, 0, "out of memory");
    struct i18n_path p = {.len = 0};
    p.s[0] = '\0';
    if (i18n_merge(merged, l->own, &p, l->file, e) < 0)
        return -1;
    l->merged = merged;
    return 0;
}

/* A language file is named by its code: two or three lowercase letters. */
static int i18n_lang_file(const char *name)
{
    size_t n = 0;
    while (name[n] >= 'a' && name[n] <= 'z')
        n++;
    return (n == 2 || n == 3) && strcmp(name + n, ".json") == 0;
}

static int i18n_cmp_langs(const void *a, const void *b)
{
    return strcmp(((const struct i18n_lang *)a)->code, ((const struct i18n_lang *)b)->code);
}

static int i18n_list_dir(struct i18n *c, const char *dir, struct err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, dir, 0, 0, "cannot open the catalogue directory: %s", strerror(errno));
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!i18n_lang_file(de->d_name))
            continue;
        if (c->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct i18n_lang *v =
                arena_realloc(c->arena, c->langs, cap * sizeof *v, ncap * sizeof *v);
            if (!v) {
                closedir(d);
                return err_set(e, dir, 0, 0, "out of memory");
            }
            c->langs = v;
            cap = ncap;
        }
        struct i18n_lang *l = &c->langs[c->n];
        memset(l, 0, sizeof *l);
        snprintf(l->code, sizeof l->code, "%.*s", (int)(strlen(de->d_name) - 5), de->d_name);
        l->file = arena_printf(c->arena, "%s/%s", dir, de->d_name);
        if (!l->file) {
            closedir(d);
            return err_set(e, dir, 0, 0, "out of memory");
        }
        c->n++;
    }
    closedir(d);
    if (c->n)
        qsort(c->langs, c->n, sizeof *c->langs, i18n_cmp_langs);
    return 0;
}

static const struct i18n_lang *i18n_find(const struct i18n *c, const char *lang)
{
    for (size_t i = 0; lang && i < c->n; i++) {
        if (strcmp(c->langs[i].code, lang) == 0)
            return &c->langs[i];
    }
    return NULL;
}

static int i18n_load_all(struct i18n *c, const char *dir, struct err *e)
{
    if (i18n_list_dir(c, dir, e) < 0)
        return -1;
    c->ru = i18n_find(c, "ru");
    if (!c->ru)
        return err_set(e, dir, 0, 0, "ru.json is missing: the Russian catalogue is required");
    for (size_t i = 0; i < c->n; i++) {
        if (i18n_load_file(c, &c->langs[i], e) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (&c->langs[i] != c->ru && i18n_build_merged(c, &c->langs[i], e) < 0)
            return -1;
    }
    return 0;
}

int i18n_load_dir(const char *dir, struct i18n **out, struct err *e)
{
    *out = NULL;
    struct arena *a = arena_new();
    if (!a)
        return err_set(e, dir, 0, 0, "out of memory");
    struct i18n *c = arena_calloc(a, 1, sizeof *c);
    if (!c) {
        arena_free(a);
        return err_set(e, dir, 0, 0, "out of memory");
    }
    c->arena = a;
    if (i18n_load_all(c, dir, e) < 0) {
        arena_free(a);
        return -1;
    }
    *out = c;
    return 0;
}

void i18n_free(struct i18n *c)
{
    if (c)
        arena_free(c->arena);
}

json_t *i18n_catalogue(const struct i18n *c, const char *lang)
{
    const struct i18n_lang *l = i18n_find(c, lang);
    return (l ? l : c->ru)->merged;
}

int i18n_has(const struct i18n *c, const char *lang)
{
    return i18n_find(c, lang) != NULL;
}

const char *i18n_text(const struct i18n *c, const char *lang, const char *key)
{
    const json_t *v = i18n_catalogue(c, lang);
    const char *s = key;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        v = json_is_object(v) ? json_object_getn(v, s, n) : NULL;
        if (!v || !dot)
            break;
        s = dot + 1;
    }
    return json_is_string(v) ? json_string_value(v) : key;
}

/* Reports the first member of own that Russian lacks. */
static int i18n_check_tree(const json_t *own, const json_t *ru, struct i18n_path *p,
                           const char *file, struct err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)own, key, v)
    {
        size_t old = i18n_path_push(p, key);
        const json_t *r = json_object_get(ru, key);
        if (!r)
            return err_set(e, file, 0, 0,
                           "\"%s\" is not in ru.json: a misspelt key, or a message Russian lacks",
                           p->s);
        if (json_is_object(v) && i18n_check_tree(v, r, p, file, e) < 0)
            return -1;
        i18n_path_pop(p, old);
    }
    return 0;
}

int i18n_check(const struct i18n *c, struct err *e)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct i18n_lang *l = &c->langs[i];
        struct i18n_path p = {.len = 0};
        p.s[0] = '\0';
        if (l != c->ru && i18n_check_tree(l->own, c->ru->own, &p, l->file, e) < 0)
            return -1;
    }
    return 0;
}

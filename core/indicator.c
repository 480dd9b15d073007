/*
 * indicator: owns a region's indicator scripts: loading and checking the files, hot reload
 * with the last good version kept, the ctx handed to compute() and its accessors (which
 * run in C and SQLite), running every indicator for a subtree and period in a fresh sandbox,
 * roll-up, targets, storing and printing the values, the child-process backstop, and the
 * runner of script authors' tests.
 *
 * Lua is entered only through sandbox_pcall/sandbox_cpcall. Accessors parse their arguments
 * (which may raise) before they call the store, and the store returns with every statement
 * reset, so a Lua error never unwinds through SQLite.
 */
#include "indicator.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "registry.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lauxlib.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Scripts are small; a larger file is a mistake (or an attack on the loader). */
#define IND_FILE_MAX ((size_t)1 << 20)
#define IND_PATH_MAX 4096
#define IND_FORMS    8
/* The parts of a breakdown: forms of mentoring, age bands... not a list of participants. */
#define IND_PARTS_MAX 64

/* ---- Growable text ---------------------------------------------------------------------- */

struct ind_text {
    char *s;
    size_t len, cap;
    int oom;
};

static void ind_text_add(struct ind_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ind_text_add(struct ind_text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->s ? t->s + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
}

/* Hands the text over (NULL when empty) and empties t. */
static char *ind_text_take(struct ind_text *t)
{
    char *s = t->len && !t->oom ? t->s : NULL;
    if (!s)
        free(t->s);
    memset(t, 0, sizeof *t);
    return s;
}

/* ---- The files of a region ---------------------------------------------------------------- */

enum ind_file_kind {
    IF_INDICATOR,
    IF_LIBRARY,
    IF_REGION,
    IF_TARGETS,
    IF_TEST,
};

struct ind_target_row {
    char *indicator;
    int year;
    double value;
};

struct ind_file {
    char *path;
    char *name; /* the base name without its extension: a library's module name */
    enum ind_file_kind kind;
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
    char hash[65];    /* of the content last read */
    char checked[65]; /* of the content last checked */
    char *text;       /* the content last read */
    size_t len;
    /* The last good version. */
    int good;
    char *good_text;
    size_t good_len;
    char good_hash[65];
    struct indicator_def *def;   /* an indicator's */
    struct ind_target_row *rows; /* a targets file's */
    size_t nrows;
    char *root;         /* region.lua's org */
    struct err problem; /* the current problem; problem.msg[0] == 0 when none */
    int seen;
};

struct indicator_set {
    char *region_dir;
    char *lib_dir;
    char *region;
    struct ind_file *files;
    size_t nfiles, cap;
    const struct indicator_def **active;
    size_t nactive;
    char hash[65];
    struct sandbox_lib lib; /* what the require callback hands out */
};

static void ind_def_free(struct indicator_def *d)
{
    if (!d)
        return;
    free(d->id);
    free(d->title_ru);
    free(d->title_en);
    free(d->targets);
    free(d->path);
    free(d->source);
    free(d);
}

static void ind_rows_free(struct ind_target_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].indicator);
    free(rows);
}

static void ind_file_clear(struct ind_file *f)
{
    free(f->path);
    free(f->name);
    free(f->text);
    free(f->good_text);
    ind_def_free(f->def);
    ind_rows_free(f->rows, f->nrows);
    free(f->root);
    memset(f, 0, sizeof *f);
}

void indicator_set_free(struct indicator_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nfiles; i++)
        ind_file_clear(&set->files[i]);
    free(set->files);
    free(set->active);
    free(set->region_dir);
    free(set->lib_dir);
    free(set->region);
    free(set);
}

size_t indicator_set_count(const struct indicator_set *set)
{
    return set->nactive;
}

const struct indicator_def *indicator_set_get(const struct indicator_set *set, size_t i)
{
    return i < set->nactive ? set->active[i] : NULL;
}

const char *indicator_set_region(const struct indicator_set *set)
{
    return set->region;
}

const char *indicator_set_hash(const struct indicator_set *set)
{
    return set->hash;
}

const char *indicator_set_root(const struct indicator_set *set)
{
    for (size_t i = 0; i < set->nfiles; i++)
        if (set->files[i].kind == IF_REGION && set->files[i].good && set->files[i].root)
            return set->files[i].root;
    return set->region;
}

int indicator_target(const struct indicator_def *d, int year, double *out)
{
    for (size_t i = 0; i < d->ntargets; i++) {
        if (d->targets[i].year == year) {
            *out = d->targets[i].value;
            return 1;
        }
    }
    return 0;
}

size_t indicator_set_problems(const struct indicator_set *set, struct err_list *out)
{
    size_t n = 0;
    for (size_t i = 0; i < set->nfiles; i++) {
        if (set->files[i].problem.msg[0]) {
            err_list_add(out, &set->files[i].problem);
            n++;
        }
    }
    return n;
}

/* The library module of that name, in its last good version (the require callback). */
static const struct sandbox_lib *ind_lib_lookup(void *ctx, const char *name)
{
    struct indicator_set *set = ctx;
    for (size_t i = 0; i < set->nfiles; i++) {
        struct ind_file *f = &set->files[i];
        if (f->kind == IF_LIBRARY && f->good && strcmp(f->name, name) == 0) {
            set->lib.path = f->path;
            set->lib.source = f->good_text;
            set->lib.len = f->good_len;
            return &set->lib;
        }
    }
    return NULL;
}

static int ind_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Reads a whole file (at most IND_FILE_MAX bytes) into a new NUL-terminated buffer. */
static int ind_read_file(const char *path, char **out, size_t *len, struct err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, path, 0, 0, "cannot read: %s", strerror(errno));
    char *buf = malloc(IND_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, path, 0, 0, "out of memory");
    }
    size_t n = fread(buf, 1, IND_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > IND_FILE_MAX) {
        free(buf);
        return err_set(e, path, 0, 0, bad ? "cannot read" : "larger than 1 MB");
    }
    buf[n] = '\0';
    char *shrunk = realloc(buf, n + 1);
    *out = shrunk ? shrunk : buf;
    *len = n;
    return 0;
}

/* The kind of a file of the region or library directory, or -1 when it is not one. */
static int ind_file_kind_of(const char *name, int in_lib)
{
    if (name[0] == '.')
        return -1;
    if (ind_has_suffix(name, "_test.lua"))
        return IF_TEST;
    if (ind_has_suffix(name, ".lua"))
        return in_lib ? IF_LIBRARY : strcmp(name, "region.lua") == 0 ? IF_REGION : IF_INDICATOR;
    if (!in_lib && ind_has_suffix(name, ".csv"))
        return IF_TARGETS;
    return -1;
}

static struct ind_file *ind_file_find(struct indicator_set *set, const char *path)
{
    for (size_t i = 0; i < set->nfiles; i++)
        if (strcmp(set->files[i].path, path) == 0)
            return &set->files[i];
    return NULL;
}

static struct ind_file *ind_file_add(struct indicator_set *set, const char *path, const char *name,
                                     enum ind_file_kind kind)
{
    if (set->nfiles == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        struct ind_file *p = realloc(set->files, cap * sizeof *p);
        if (!p)
            return NULL;
        set->files = p;
        set->cap = cap;
    }
    struct ind_file *f = &set->files[set->nfiles];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    const char *dot = strrchr(name, '.');
    f->name = strndup(name, dot ? (size_t)(dot - name) : strlen(name));
    f->kind = kind;
    if (!f->path || !f->name) {
        free(f->path);
        free(f->name);
        return NULL;
    }
    set->nfiles++;
    return f;
}

/*
 * Looks at every file of dir: new files are added, and the content of those whose stat
 * changed is read again. *changed counts files whose content differs.
 */
static int ind_scan_dir(struct indicator_set *set, const char *dir, int in_lib, int *changed,
                        struct err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, dir, 0, 0, "cannot read the directory: %s", strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        int kind = ind_file_kind_of(de->d_name, in_lib);
        if (kind < 0)
            continue;
        char path[IND_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        struct ind_file *f = ind_file_find(set, path);
        if (!f && !(f = ind_file_add(set, path, de->d_name, (enum ind_file_kind)kind))) {
            rc = err_set(e, path, 0, 0, "out of memory");
            break;
        }
        f->seen = 1;
        if (f->text && f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
            f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec)
            continue;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
        char *text;
        size_t len;
        struct err re = {0};
        if (ind_read_file(path, &text, &len, &re) < 0) {
            f->problem = re;
            continue;
        }
        char hash[65];
        crypto_sha256_hex(text, len, hash);
        if (f->text && strcmp(hash, f->hash) == 0) {
            free(text);
            continue;
        }
        free(f->text);
        f->text = text;
        f->len = len;
        memcpy(f->hash, hash, sizeof hash);
        (*changed)++;
    }
    closedir(d);
    return rc;
}

/* ---- Checking files ------------------------------------------------------------------------ */

static const char *ind_unit_name(enum indicator_unit u)
{
    switch (u) {
    case INDICATOR_PERCENT: return "percent";
    case INDICATOR_RATIO: return "ratio";
    case INDICATOR_COUNT: return "count";
    case INDICATOR_SCORE: return "score";
    }
    return "?";
}

static int ind_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > 64 || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Raises "unknown field" for a key of the table at idx that is not in names. */
static void ind_check_fields(lua_State *L, int idx, const char *what, const char *const *names)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: field names are strings, not %s", what, luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        size_t i = 0;
        while (names[i] && strcmp(names[i], k) != 0)
            i++;
        if (!names[i]) {
            luaL_Buffer b;
            lua_pushfstring(L, "%s: unknown field '%s' (expected ", what, k);
            luaL_buffinit(L, &b);
            for (i = 0; names[i]; i++) {
                if (i)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, names[i]);
            }
            luaL_addchar(&b, ')');
            luaL_pushresult(&b);
            lua_concat(L, 2);
            lua_error(L);
        }
    }
}

/* A copy of a Lua string value (NULL on failure raises a memory error). */
static char *ind_dup(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char *c = strndup(s, len);
    if (!c)
        luaL_error(L, "out of memory");
    return c;
}

struct ind_define {
    struct indicator_set *set;
    struct ind_file *file;
    struct indicator_def *def; /* filled in; the caller frees it on failure */
    char *root;                /* region.lua: the org */
};

static int ind_target_cmp(const void *a, const void *b)
{
    const struct indicator_target *x = a, *y = b;
    return (x->year > y->year) - (x->year < y->year);
}

/* Adds a target (a later one for the same year replaces the earlier). */
static void ind_add_target(lua_State *L, struct indicator_def *d, int year, double value)
{
    for (size_t i = 0; i < d->ntargets; i++) {
        if (d->targets[i].year == year) {
            d->targets[i].value = value;
            return;
        }
    }
    struct indicator_target *t = realloc(d->targets, (d->ntargets + 1) * sizeof *t);
    if (!t)
        luaL_error(L, "out of memory");
    d->targets = t;
    d->targets[d->ntargets].year = year;
    d->targets[d->ntargets].value = value;
    d->ntargets++;
}

static void ind_read_targets(lua_State *L, int idx, struct indicator_def *d)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int isint;
        lua_Integer year = lua_tointegerx(L, -2, &isint);
        if (!isint || year < 1990 || year > 2100)
            luaL_error(L, "targets: a key must be a year such as 2024 (got %s)",
                       luaL_typename(L, -2));
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
            luaL_error(L, "targets[%d] is not a number (got %s)", (int)year, luaL_typename(L, -1));
        ind_add_target(L, d, (int)year, lua_tonumber(L, -1));
        lua_pop(L, 1);
    }
}

static void ind_targets_from_file(lua_State *L, struct ind_define *c, const char *name)
{
    struct ind_file *t = NULL;
    for (size_t i = 0; i < c->set->nfiles; i++) {
        struct ind_file *f = &c->set->files[i];
        if (f->kind == IF_TARGETS && strcmp(strrchr(f->path, '/') + 1, name) == 0)
            t = f;
    }
    if (!t)
        luaL_error(L, "targets_file: no file \"%s\" next to the indicator", name);
    if (!t->good)
        luaL_error(L, "targets_file: \"%s\" has a problem (see its own message)", name);
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(t->rows[i].indicator, c->def->id) == 0)
            ind_add_target(L, c->def, t->rows[i].year, t->rows[i].value);
}

/* The index of the string at the top of the stack in words, or an error naming them. */
static int ind_choice(lua_State *L, const char *field, const char *const *words)
{
    const char *v = lua_tostring(L, -1);
    char list[128] = "";
    size_t len = 0;
    for (int i = 0; words[i]; i++) {
        if (strcmp(words[i], v) == 0)
            return i;
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", words[i]);
    }
    return luaL_error(L, "%s \"%s\" is not one of %s", field, v, list);
}

static const char *const ind_def_fields[] = {
    "id",      "title",        "unit",        "period",  "rollup",
    "targets", "targets_file", "description", "compute", NULL,
};

static void ind_read_title(lua_State *L, struct indicator_def *d)
{
    int t = lua_getfield(L, 2, "title");
    if (t == LUA_TSTRING) {
        d->title_ru = ind_dup(L, -1);
    } else if (t == LUA_TTABLE) {
        static const char *const langs[] = {"ru", "en", NULL};
        ind_check_fields(L, lua_gettop(L), "title", langs);
        if (lua_getfield(L, -1, "ru") != LUA_TSTRING)
            luaL_error(L, "title.ru (the Russian title) is missing");
        d->title_ru = ind_dup(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, -1, "en") == LUA_TSTRING)
            d->title_en = ind_dup(L, -1);
        else if (!lua_isnil(L, -1))
            luaL_error(L, "title.en is not a string");
        lua_pop(L, 1);
    } else {
        luaL_error(L, "missing field 'title' (a string, or {ru = ..., en = ...})");
    }
    lua_pop(L, 1);
}

/* Runs an indicator file's chunk and checks the table it returns (in protected mode). */
static int ind_define_indicator(lua_State *L)
{
    struct ind_define *c = lua_touserdata(L, 1);
    struct indicator_def *d = c->def;
    char chunk[IND_PATH_MAX + 2];
    snprintf(chunk, sizeof chunk, "@%s", c->file->path);
    if (luaL_loadbufferx(L, c->file->text, c->file->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, 2))
        return luaL_error(L, "the file must return the indicator as a table, not %s",
                          luaL_typename(L, 2));
    ind_check_fields(L, 2, "indicator", ind_def_fields);

    size_t len;
    if (lua_getfield(L, 2, "id") != LUA_TSTRING)
        return luaL_error(L, "missing field 'id' (a name such as \"kpi1\")");
    const char *id = lua_tolstring(L, -1, &len);
    if (!ind_id_valid(id, len))
        return luaL_error(L, "id \"%s\": use 1-64 of a-z, 0-9, _ starting with a letter", id);
    d->id = ind_dup(L, -1);
    lua_pop(L, 1);
    for (size_t i = 0; i < c->set->nfiles; i++) {
        struct ind_file *o = &c->set->files[i];
        if (o != c->file && o->kind == IF_INDICATOR && o->def && strcmp(o->def->id, d->id) == 0)
            return luaL_error(L, "id \"%s\" is already the id of %s", d->id, o->path);
    }
    ind_read_title(L, d);

    static const char *const units[] = {"percent", "ratio", "count", "score", NULL};
    static const enum indicator_unit unit_of[] = {INDICATOR_PERCENT, INDICATOR_RATIO,
                                                  INDICATOR_COUNT, INDICATOR_SCORE};
    if (lua_getfield(L, 2, "unit") != LUA_TSTRING)
        return luaL_error(L, "missing field 'unit' (percent, ratio, count or score)");
    d->unit = unit_of[ind_choice(L, "unit", units)];
    lua_pop(L, 1);

    static const char *const periods[] = {"year", "half", "quarter", NULL};
    if (lua_getfield(L, 2, "period") != LUA_TSTRING)
        return luaL_error(L, "missing field 'period' (year, half or quarter)");
    d->period = "YHQ"[ind_choice(L, "period", periods)];
    lua_pop(L, 1);

    static const char *const rollups[] = {"sum", "recompute", NULL};
    if (lua_getfield(L, 2, "rollup") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "rollup must be \"sum\" or \"recompute\"");
        d->rollup =
            ind_choice(L, "rollup", rollups) ? INDICATOR_ROLLUP_RECOMPUTE : INDICATOR_ROLLUP_SUM;
    }
    lua_pop(L, 1);

    int has_targets = lua_getfield(L, 2, "targets") != LUA_TNIL;
    if (has_targets) {
        if (!lua_istable(L, -1))
            return luaL_error(L, "targets must be a table such as {[2024] = 70}");
        ind_read_targets(L, lua_gettop(L), d);
    }
    lua_pop(L, 1);
    int t = lua_getfield(L, 2, "targets_file");
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING)
            return luaL_error(L, "targets_file must be a file name such as \"targets.csv\"");
        if (has_targets)
            return luaL_error(L, "give targets or targets_file, not both");
        ind_targets_from_file(L, c, lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    if (d->ntargets)
        qsort(d->targets, d->ntargets, sizeof *d->targets, ind_target_cmp);

    t = lua_getfield(L, 2, "description");
    if (t != LUA_TNIL && t != LUA_TSTRING)
        return luaL_error(L, "description must be a string");
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "compute") != LUA_TFUNCTION)
        return luaL_error(L, "missing field 'compute' (a function of ctx)");
    lua_pop(L, 1);
    return 0;
}

/* Runs region.lua and checks its table: org, name, params (in protected mode). */
static int ind_define_region(lua_State *L)
{
    struct ind_define *c = lua_touserdata(L, 1);
    char chunk[IND_PATH_MAX + 2];
    snprintf(chunk, sizeof chunk, "@%s", c->file->path);
    if (luaL_loadbufferx(L, c->file->text, c->file->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, 2))
        return luaL_error(L, "region.lua must return a table {org = ..., params = {...}}");
    static const char *const fields[] = {"org", "name", "params", NULL};
    ind_check_fields(L, 2, "region", fields);
    int t = lua_getfield(L, 2, "org");
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING || !registry_code_valid(lua_tostring(L, -1)))
            return luaL_error(L, "org must be the code of the region's organisation");
        c->root = ind_dup(L, -1);
    }
    lua_pop(L, 1);
    t = lua_getfield(L, 2, "params");
    if (t != LUA_TNIL && t != LUA_TTABLE)
        return luaL_error(L, "params must be a table");
    return 0;
}

/* Compiles a library or test file without running it (in protected mode). */
static int ind_define_compile(lua_State *L)
{
    struct ind_define *c = lua_touserdata(L, 1);
    char chunk[IND_PATH_MAX + 2];
    snprintf(chunk, sizeof chunk, "@%s", c->file->path);
    if (luaL_loadbufferx(L, c->file->text, c->file->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    return 0;
}

/* Splits a targets line at the delimiter; returns the number of fields (at most max). */
static size_t ind_split(char *line, char delim, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *d = strchr(p, delim);
        if (!d)
            break;
        *d = '\0';
        p = d + 1;
    }
    for (size_t i = 0; i < n; i++) {
        char *s = fields[i];
        while (*s == ' ' || *s == '\t' || *s == '"')
            s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '"' || end[-1] == '\r' ||
                           end[-1] == '\n'))
            *--end = '\0';
        fields[i] = s;
    }
    return n;
}

/*
 * A targets file: a header "indicator;year;target" (or comma-separated), then one target per
 * line. A decimal comma is read as a point when the separator is ';' (as Excel saves it).
 */
static int ind_parse_targets(struct ind_file *f, struct ind_target_row **out, size_t *nout,
                             struct err *e)
{
    *out = NULL;
    *nout = 0;
    char *text = strdup(f->text);
    if (!text)
        return err_set(e, f->path, 0, 0, "out of memory");
    char *p = text;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    struct ind_target_row *rows = NULL;
    size_t n = 0;
    int line = 0, rc = 0;
    char delim = 0;
    while (rc == 0 && p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *fields[4];
        if (!delim)
            delim = strchr(p, ';') ? ';' : ',';
        size_t nf = ind_split(p, delim, fields, 4);
        p = nl ? nl + 1 : NULL;
        if (nf == 1 && !fields[0][0])
            continue;
        if (line == 1) {
            if (nf != 3 || strcasecmp(fields[0], "indicator") != 0 ||
                strcasecmp(fields[1], "year") != 0 || strcasecmp(fields[2], "target") != 0)
                rc = err_set(e, f->path, 1, 0, "the first line must be indicator%cyear%ctarget",
                             delim, delim);
            continue;
        }
        if (nf != 3) {
            rc = err_set(e, f->path, line, 0, "expected 3 fields, found %zu", nf);
            break;
        }
        char *end;
        long year = strtol(fields[1], &end, 10);
        if (*end || end == fields[1] || year < 1990 || year > 2100) {
            rc = err_set(e, f->path, line, 0, "year \"%s\" is not a year such as 2024", fields[1]);
            break;
        }
        if (delim == ';')
            for (char *c = fields[2]; *c; c++)
                if (*c == ',')
                    *c = '.';
        double v = strtod(fields[2], &end);
        if (*end || end == fields[2] || !isfinite(v)) {
            rc = err_set(e, f->path, line, 0, "target \"%s\" is not a number", fields[2]);
            break;
        }
        if (!ind_id_valid(fields[0], strlen(fields[0]))) {
            rc = err_set(e, f->path, line, 0, "\"%s\" is not an indicator id", fields[0]);
            break;
        }
        struct ind_target_row *r = realloc(rows, (n + 1) * sizeof *r);
        if (!r || !(r[n].indicator = strdup(fields[0]))) {
            rows = r ? r : rows;
            rc = err_set(e, f->path, line, 0, "out of memory");
            break;
        }
        rows = r;
        rows[n].year = (int)year;
        rows[n].value = v;
        n++;
    }
    free(text);
    if (rc < 0) {
        ind_rows_free(rows, n);
        return -1;
    }
    *out = rows;
    *nout = n;
    return 0;
}

/* Runs fn on the file in a fresh sandbox; e is positioned in the file when the error is not. */
static int ind_check_in_sandbox(struct indicator_set *set, struct ind_define *c, lua_CFunction fn,
                                struct err *e)
{
    if (c->file->len > 0 && c->file->text[0] == LUA_SIGNATURE[0])
        return err_set(e, c->file->path, 0, 0, "precompiled (bytecode) chunks are not accepted");
    struct sandbox *sb;
    if (sandbox_new(NULL, ind_lib_lookup, set, &sb, e) < 0)
        return -1;
    int rc = sandbox_cpcall(sb, fn, c, e);
    sandbox_free(sb);
    if (rc < 0 && !e->file[0])
        snprintf(e->file, sizeof e->file, "%s", c->file->path);
    return rc;
}

/* Checks a file whose content changed; a good one becomes its active version. */
static void ind_check_file(struct indicator_set *set, struct ind_file *f)
{
    struct err e = {0};
    struct ind_define c = {.set = set, .file = f};
    int rc;
    struct ind_target_row *rows = NULL;
    size_t nrows = 0;
    switch (f->kind) {
    case IF_INDICATOR:
        c.def = calloc(1, sizeof *c.def);
        if (!c.def) {
            rc = err_set(&e, f->path, 0, 0, "out of memory");
            break;
        }
        rc = ind_check_in_sandbox(set, &c, ind_define_indicator, &e);
        if (rc == 0) {
            c.def->path = strdup(f->path);
            c.def->source = malloc(f->len + 1);
            if (!c.def->path || !c.def->source) {
                rc = err_set(&e, f->path, 0, 0, "out of memory");
                break;
            }
            memcpy(c.def->source, f->text, f->len + 1);
            c.def->len = f->len;
            memcpy(c.def->hash, f->hash, sizeof c.def->hash);
        }
        break;
    case IF_REGION: rc = ind_check_in_sandbox(set, &c, ind_define_region, &e); break;
    case IF_TARGETS: rc = ind_parse_targets(f, &rows, &nrows, &e); break;
    default: rc = ind_check_in_sandbox(set, &c, ind_define_compile, &e); break;
    }
    if (rc < 0) {
        ind_def_free(c.def);
        free(c.root);
        f->problem = e;
        return;
    }
    memset(&f->problem, 0, sizeof f->problem);
    char *copy = malloc(f->len + 1);
    if (!copy) {
        ind_def_free(c.def);
        free(c.root);
        ind_rows_free(rows, nrows);
        err_set(&f->problem, f->path, 0, 0, "out of memory");
        return;
    }
    memcpy(copy, f->text, f->len + 1);
    free(f->good_text);
    f->good_text = copy;
    f->good_len = f->len;
    memcpy(f->good_hash, f->hash, sizeof f->hash);
    f->good = 1;
    if (c.def) {
        ind_def_free(f->def);
        f->def = c.def;
    }
    if (f->kind == IF_REGION) {
        free(f->root);
        f->root = c.root;
    }
    if (f->kind == IF_TARGETS) {
        ind_rows_free(f->rows, f->nrows);
        f->rows = rows;
        f->nrows = nrows;
    }
}

static int ind_file_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ind_file *)a)->path, ((const struct ind_file *)b)->path);
}

static int ind_def_cmp(const void *a, const void *b)
{
    const struct indicator_def *x = *(const struct indicator_def *const *)a;
    const struct indicator_def *y = *(const struct indicator_def *const *)b;
    return strcmp(x->path, y->path);
}

/* The active list and the hash over every active version. */
static int ind_set_refresh(struct indicator_set *set, struct err *e)
{
    const struct indicator_def **active = calloc(set->nfiles + 1, sizeof *active);
    if (!active)
        return err_set(e, set->region_dir, 0, 0, "out of memory");
    size_t n = 0;
    struct ind_text all = {0};
    for (size_t i = 0; i < set->nfiles; i++) {
        struct ind_file *f = &set->files[i];
        if (f->kind == IF_INDICATOR && f->def) {
            active[n++] = f->def;
            ind_text_add(&all, "%s %s\n", f->path, f->def->hash);
        } else if (f->good && f->kind != IF_TEST && f->kind != IF_INDICATOR) {
            ind_text_add(&all, "%s %s\n", f->path, f->good_hash);
        }
    }
    qsort(active, n, sizeof *active, ind_def_cmp);
    free(set->active);
    set->active = active;
    set->nactive = n;
    crypto_sha256_hex(all.s ? all.s : "", all.len, set->hash);
    free(all.s);
    return all.oom ? err_set(e, set->region_dir, 0, 0, "out of memory") : 0;
}

int indicator_reload_if_changed(struct indicator_set *set, int *changed, struct err *e)
{
    int n = 0;
    for (size_t i = 0; i < set->nfiles; i++)
        set->files[i].seen = 0;
    if (ind_scan_dir(set, set->lib_dir, 1, &n, e) < 0 ||
        ind_scan_dir(set, set->region_dir, 0, &n, e) < 0)
        return -1;
    /* Deleted files go; an indicator deleted is no longer computed. */
    int shared_changed = 0;
    size_t k = 0;
    for (size_t i = 0; i < set->nfiles; i++) {
        if (set->files[i].seen) {
            set->files[k++] = set->files[i];
            continue;
        }
        shared_changed |= set->files[i].kind != IF_INDICATOR;
        ind_file_clear(&set->files[i]);
        n++;
    }
    set->nfiles = k;
    qsort(set->files, set->nfiles, sizeof *set->files, ind_file_cmp);
    /* Libraries, the region and targets first: indicators are checked against them. */
    static const enum ind_file_kind order[] = {IF_LIBRARY, IF_REGION, IF_TARGETS, IF_TEST,
                                               IF_INDICATOR};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (size_t i = 0; i < set->nfiles; i++) {
            struct ind_file *f = &set->files[i];
            if (f->kind != order[o] || !f->text)
                continue;
            int unchanged = strcmp(f->checked, f->hash) == 0;
            if (unchanged && (f->kind != IF_INDICATOR || !shared_changed))
                continue;
            if (!unchanged && f->kind != IF_TEST && f->kind != IF_INDICATOR)
                shared_changed = 1;
            ind_check_file(set, f);
            memcpy(f->checked, f->hash, sizeof f->hash);
        }
    }
    if (changed)
        *changed = n;
    return ind_set_refresh(set, e);
}

int indicator_set_load(const char *region_dir, const char *lib_dir, struct indicator_set **out,
                       struct err *e)
{
    *out = NULL;
    struct indicator_set *set = calloc(1, sizeof *set);
    if (!set)
        return err_set(e, region_dir, 0, 0, "out of memory");
    size_t len = strlen(region_dir);
    while (len > 1 && region_dir[len - 1] == '/')
        len--;
    set->region_dir = strndup(region_dir, len);
    set->lib_dir = strdup(lib_dir);
    const char *base = set->region_dir ? strrchr(set->region_dir, '/') : NULL;
    set->region = strdup(base ? base + 1 : region_dir);
    if (!set->region_dir || !set->lib_dir || !set->region) {
        indicator_set_free(set);
        return err_set(e, region_dir, 0, 0, "out of memory");
    }
    if (indicator_reload_if_changed(set, NULL, e) < 0) {
        indicator_set_free(set);
        return -1;
    }
    *out = set;
    return 0;
}

/* ---- The accessors of ctx ------------------------------------------------------------------ */

/* Registry keys of an indicator's state. */
static const char ind_key_compute = 0;
static const char ind_key_params = 0;
static const char ind_key_accessors = 0;
static const char ind_key_period = 0;

struct ind_pair_row {
    double entry, final;
    const char *form; /* canonical (registry_word), or NULL */
};

/* Growth of a group of paired scores: sums and Welford's running variance of the diffs. */
struct ind_growth {
    long n;
    double sum_entry, sum_final;
    double mean, m2;
    long positive, negative, unchanged;
};

struct ind_growth_set {
    struct ind_growth all;
    size_t nforms;
    const char *forms[IND_FORMS];
    struct ind_growth by[IND_FORMS];
};

/* Accessor results kept for the run: indicators often ask the same of the same organisation. */
struct ind_memo_entry {
    char *key;
    void *data;
    size_t size;
};

struct ind_memo {
    struct ind_memo_entry *slots;
    size_t cap, n;
};

struct ind_exec {
    struct store *st;
    struct indicator_set *set;
    const struct indicator_def *def;
    struct sandbox *sb;
    const struct ind_node *node;
    struct ind_scope scope;
    struct period period;
    char period_code[24];
    char year_code[16];
    char campaigns[IND_PERIODS][32];
    int explain;
    struct ind_text log;
    struct err e;
    struct ind_memo *memo;
    const struct ind_node *nodes;
    size_t node_index;
    const size_t *child_start; /* the children of node k: children[child_start[k]..[k + 1]] */
    const size_t *children;
    double *vals;
    size_t nvals, capvals;
    struct ind_pair_row *pairs;
    size_t npairs, cappairs;
    int rows_oom;
    struct indicator_value *out;
    int compute_line;
};

static uint64_t ind_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const void *ind_memo_get(struct ind_memo *m, const char *key, size_t size)
{
    if (!m || !m->cap)
        return NULL;
    for (size_t i = ind_hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct ind_memo_entry *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (strcmp(s->key, key) == 0)
            return s->size == size ? s->data : NULL;
    }
}

/* Keeps a copy of data under key; running out of memory only loses the copy. */
static void ind_memo_put(struct ind_memo *m, const char *key, const void *data, size_t size)
{
    if (!m)
        return;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct ind_memo_entry *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].key)
                continue;
            size_t j = ind_hash_str(m->slots[i].key) & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    char *k = strdup(key);
    void *d = malloc(size);
    if (!k || !d) {
        free(k);
        free(d);
        return;
    }
    memcpy(d, data, size);
    size_t i = ind_hash_str(key) & (m->cap - 1);
    while (m->slots[i].key)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (struct ind_memo_entry){k, d, size};
    m->n++;
}

static void ind_memo_free(struct ind_memo *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        free(m->slots[i].data);
    }
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* An accessor call as text: the line of --explain, and (with the organisation) the memo key. */
struct ind_sig {
    char s[600];
    size_t len;
    int args;
};

static void ind_sig_add(struct ind_sig *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ind_sig_add(struct ind_sig *g, const char *fmt, ...)
{
    if (g->len >= sizeof g->s)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->s + g->len, sizeof g->s - g->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        g->len += (size_t)n;
}

static void ind_sig_start(struct ind_sig *g, const char *fname)
{
    g->len = 0;
    g->args = 0;
    ind_sig_add(g, "%s{", fname);
}

static void ind_sig_str(struct ind_sig *g, const char *k, const char *v)
{
    if (v)
        ind_sig_add(g, "%s%s=%s", g->args++ ? ", " : "", k, v);
}

static void ind_sig_int(struct ind_sig *g, const char *k, int v)
{
    if (v >= 0)
        ind_sig_add(g, "%s%s=%d", g->args++ ? ", " : "", k, v);
}

static void ind_sig_num(struct ind_sig *g, const char *k, double v)
{
    ind_sig_add(g, "%s%s=%g", g->args++ ? ", " : "", k, v);
}

static void ind_sig_end(struct ind_sig *g)
{
    ind_sig_add(g, "}");
}

static struct ind_exec *ind_exec_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* The memo key of a call for node k. */
static void ind_memo_key(const struct ind_exec *x, const struct ind_sig *g, size_t k, char *key,
                         size_t size)
{
    snprintf(key, size, "%lld|%s|%.*s", (long long)x->nodes[k].id, x->period_code, (int)g->len,
             g->s);
}

/* Appends "  call = result" to the explain log. */
static void ind_explain(struct ind_exec *x, const struct ind_sig *g, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ind_explain(struct ind_exec *x, const struct ind_sig *g, const char *fmt, ...)
{
    if (!x->explain)
        return;
    char result[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result, sizeof result, fmt, ap);
    va_end(ap);
    ind_text_add(&x->log, "%.*s = %s\n", (int)g->len, g->s, result);
}

/* Raises the store's failure; every statement has been reset by then. */
static int ind_store_error(lua_State *L, struct ind_exec *x, const char *fname)
{
    return luaL_error(L, "%s: %s", fname, x->e.msg);
}

/* Raises unless every key of the options table at idx is one of names. */
static void ind_check_options(lua_State *L, int idx, const char *fname, const char *const *names)
{
    luaL_checkstack(L, 16, fname);
    if (lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: expected a table of options such as {%s = ...}, got %s", fname, names[0],
                   luaL_typename(L, idx));
    char what[64];
    snprintf(what, sizeof what, "%s", fname);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        size_t i = 0;
        while (k && names[i] && strcmp(names[i], k) != 0)
            i++;
        if (!k || !names[i]) {
            char list[256] = "";
            size_t len = 0;
            for (i = 0; names[i] && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        names[i]);
            luaL_error(L, "%s: unknown option '%s' (expected %s)", what, k ? k : "?", list);
        }
    }
}

/* Pushes the option key of the table at idx (nil without a table) and returns its type. */
static int ind_opt_type(lua_State *L, int idx, const char *key)
{
    if (!lua_isnoneornil(L, idx))
        return lua_getfield(L, idx, key);
    lua_pushnil(L);
    return LUA_TNIL;
}

/* An option that is a string, or NULL. The value stays on the stack, so the string lives. */
static const char *ind_opt_str(lua_State *L, int idx, const char *fname, const char *key)
{
    int t = ind_opt_type(L, idx, key);
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TSTRING)
        luaL_error(L, "%s: %s must be a string, not %s", fname, key, lua_typename(L, t));
    return lua_tostring(L, -1);
}

/* An option that is one of the words of a vocabulary (Russian words too), canonical, or NULL. */
static const char *ind_opt_word(lua_State *L, int idx, const char *fname, const char *key,
                                enum registry_vocab v)
{
    const char *s = ind_opt_str(L, idx, fname, key);
    if (!s)
        return NULL;
    const char *w = registry_word(v, s);
    if (!w)
        luaL_error(L, "%s: %s \"%s\" is not one of %s", fname, key, s, registry_words(v));
    return w;
}

static int ind_opt_int(lua_State *L, int idx, const char *fname, const char *key)
{
    int t = ind_opt_type(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return -1;
    }
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || !isint || v < 0 || v > 1000)
        luaL_error(L, "%s: %s must be a whole number from 0 to 1000", fname, key);
    lua_pop(L, 1);
    return (int)v;
}

static int ind_opt_bool(lua_State *L, int idx, const char *fname, const char *key)
{
    int t = ind_opt_type(L, idx, key);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "%s: %s must be true or false", fname, key);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static double ind_opt_num(lua_State *L, int idx, const char *fname, const char *key, int *has)
{
    int t = ind_opt_type(L, idx, key);
    *has = t != LUA_TNIL;
    if (!*has) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number", fname, key);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static void ind_set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void ind_set_int(lua_State *L, const char *k, long v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* ---- Results that add up: a subtree's from its own organisation's and its children's ---- */

struct ind_figure_result {
    double value;
    int found;
    int own; /* the organisation has the figure itself: what is below it does not count */
};

union ind_result {
    long count;
    struct ind_figure_result figure;
    struct ind_summary summary;
    struct ind_growth_set growth;
};

enum ind_result_kind {
    IND_RESULT_COUNT,
    IND_RESULT_FIGURE,
    IND_RESULT_SUMMARY,
    IND_RESULT_GROWTH,
};

/* Runs a call's query for x->scope (the subtree, or with own_only the organisation alone). */
typedef int (*ind_query_fn)(struct ind_exec *x, const void *args, union ind_result *out);

static void ind_growth_merge(struct ind_growth *a, const struct ind_growth *b)
{
    if (!b->n)
        return;
    if (!a->n) {
        *a = *b;
        return;
    }
    /* Chan's combination of two means and sums of squared deviations. */
    double n = (double)(a->n + b->n), delta = b->mean - a->mean;
    a->m2 += b->m2 + delta * delta * (double)a->n * (double)b->n / n;
    a->mean += delta * (double)b->n / n;
    a->n += b->n;
    a->sum_entry += b->sum_entry;
    a->sum_final += b->sum_final;
    a->positive += b->positive;
    a->negative += b->negative;
    a->unchanged += b->unchanged;
}

static void ind_combine(enum ind_result_kind k, union ind_result *to, const union ind_result *from)
{
    switch (k) {
    case IND_RESULT_COUNT: to->count += from->count; break;
    case IND_RESULT_FIGURE:
        if (!to->figure.own && from->figure.found) {
            to->figure.value += from->figure.value;
            to->figure.found = 1;
        }
        break;
    case IND_RESULT_SUMMARY: {
        struct ind_summary *a = &to->summary;
        const struct ind_summary *b = &from->summary;
        if (b->n && (!a->n || b->min < a->min))
            a->min = b->min;
        if (b->n && (!a->n || b->max > a->max))
            a->max = b->max;
        a->n += b->n;
        a->sum += b->sum;
        a->sumsq += b->sumsq;
        a->at_least += b->at_least;
        break;
    }
    case IND_RESULT_GROWTH: {
        struct ind_growth_set *a = &to->growth;
        const struct ind_growth_set *b = &from->growth;
        ind_growth_merge(&a->all, &b->all);
        for (size_t i = 0; i < b->nforms; i++) {
            size_t j = 0;
            while (j < a->nforms && a->forms[j] != b->forms[i])
                j++;
            if (j == a->nforms) {
                if (a->nforms == IND_FORMS)
                    continue;
                a->forms[a->nforms++] = b->forms[i];
                memset(&a->by[j], 0, sizeof a->by[j]);
            }
            ind_growth_merge(&a->by[j], &b->by[i]);
        }
        break;
    }
    }
}

/*
 * The result of a call for the current organisation. Run once per organisation and call (a
 * memo keeps it for the run). For an organisation whose children all have it already (they
 * are computed first), it is its own organisation's result combined with theirs: counts,
 * sums, means and variances of disjoint groups add up exactly, so a municipality or the
 * region never scans again what its organisations did. Otherwise the subtree is queried.
 */
static void ind_result_of(lua_State *L, struct ind_exec *x, const char *fname,
                          const struct ind_sig *g, enum ind_result_kind kind, ind_query_fn query,
                          const void *args, union ind_result *out)
{
    char key[700];
    size_t k = x->node_index;
    ind_memo_key(x, g, k, key, sizeof key);
    const union ind_result *hit = ind_memo_get(x->memo, key, sizeof *out);
    if (hit) {
        *out = *hit;
        return;
    }
    size_t begin = x->child_start[k], end = x->child_start[k + 1];
    int combine = end > begin;
    for (size_t i = begin; combine && i < end; i++) {
        char ckey[700];
        ind_memo_key(x, g, x->children[i], ckey, sizeof ckey);
        combine = ind_memo_get(x->memo, ckey, sizeof *out) != NULL;
    }
    memset(out, 0, sizeof *out);
    x->scope.own_only = combine;
    int rc = query(x, args, out);
    x->scope.own_only = 0;
    if (rc != STORE_OK)
        ind_store_error(L, x, fname);
    if (combine) {
        if (kind == IND_RESULT_FIGURE)
            out->figure.own = out->figure.found;
        for (size_t i = begin; i < end; i++) {
            char ckey[700];
            ind_memo_key(x, g, x->children[i], ckey, sizeof ckey);
            ind_combine(kind, out, ind_memo_get(x->memo, ckey, sizeof *out));
        }
    }
    ind_memo_put(x->memo, key, out, sizeof *out);
}

static int ind_q_people(struct ind_exec *x, const void *args, union ind_result *out)
{
    return store_ind_count_participants(x->st, &x->scope, args, &out->count, &x->e);
}

static int ind_count_participants(lua_State *L)
{
    static const char *fname = "count_participants";
    static const char *const names[] = {
        "role",           "kind", "age_from", "age_to", "experience_min",
        "experience_max", "form", "in_pairs", NULL,
    };
    struct ind_exec *x = ind_exec_of(L);
    ind_check_options(L, 1, fname, names);
    struct ind_people f = {
        .role = ind_opt_word(L, 1, fname, "role", VOCAB_ROLE),
        .kind = ind_opt_word(L, 1, fname, "kind", VOCAB_KIND),
        .form = ind_opt_word(L, 1, fname, "form", VOCAB_FORM),
        .age_from = ind_opt_int(L, 1, fname, "age_from"),
        .age_to = ind_opt_int(L, 1, fname, "age_to"),
        .exp_min = ind_opt_int(L, 1, fname, "experience_min"),
        .exp_max = ind_opt_int(L, 1, fname, "experience_max"),
        .in_pairs = ind_opt_bool(L, 1, fname, "in_pairs"),
    };
    struct ind_sig g;
    ind_sig_start(&g, fname);
    ind_sig_str(&g, "role", f.role);
    ind_sig_str(&g, "kind", f.kind);
    ind_sig_int(&g, "age_from", f.age_from);
    ind_sig_int(&g, "age_to", f.age_to);
    ind_sig_int(&g, "experience_min", f.exp_min);
    ind_sig_int(&g, "experience_max", f.exp_max);
    ind_sig_str(&g, "form", f.form);
    ind_sig_str(&g, "in_pairs", f.in_pairs ? "true" : NULL);
    ind_sig_end(&g);
    union ind_result r;
    ind_result_of(L, x, fname, &g, IND_RESULT_COUNT, ind_q_people, &f, &r);
    ind_explain(x, &g, "%ld", r.count);
    lua_pushinteger(L, r.count);
    return 1;
}

static int ind_q_pairs(struct ind_exec *x, const void *args, union ind_result *out)
{
    return store_ind_count_pairs(x->st, &x->scope, args, &out->count, &x->e);
}

static int ind_count_pairs(lua_State *L)
{
    static const char *fname = "count_pairs";
    static const char *const names[] = {"status", "form", "ended", NULL};
    struct ind_exec *x = ind_exec_of(L);
    ind_check_options(L, 1, fname, names);
    struct ind_pair_filter f = {
        .status = ind_opt_word(L, 1, fname, "status", VOCAB_STATUS),
        .form = ind_opt_word(L, 1, fname, "form", VOCAB_FORM),
        .ended = ind_opt_bool(L, 1, fname, "ended"),
    };
    struct ind_sig g;
    ind_sig_start(&g, fname);
    ind_sig_str(&g, "status", f.status);
    ind_sig_str(&g, "form", f.form);
    ind_sig_str(&g, "ended", f.ended ? "true" : NULL);
    ind_sig_end(&g);
    union ind_result r;
    ind_result_of(L, x, fname, &g, IND_RESULT_COUNT, ind_q_pairs, &f, &r);
    ind_explain(x, &g, "%ld", r.count);
    lua_pushinteger(L, r.count);
    return 1;
}

/* The figure of the period, else (for a half or quarter) of its school year. */
static int ind_q_figure(struct ind_exec *x, const void *args, union ind_result *out)
{
    const char *name = args;
    struct ind_figure_result *f = &out->figure;
    if (store_ind_figure(x->st, &x->scope, name, &f->value, &f->found, &x->e) != STORE_OK)
        return STORE_ERROR;
    if (!f->found && x->period.kind != 'Y') {
        struct ind_scope year = x->scope;
        year.period = x->year_code;
        return store_ind_figure(x->st, &year, name, &f->value, &f->found, &x->e);
    }
    return STORE_OK;
}

static int ind_figure(lua_State *L)
{
    struct ind_exec *x = ind_exec_of(L);
    const char *name = luaL_checkstring(L, 1);
    struct ind_sig g = {.len = 0};
    ind_sig_add(&g, "figure(%s)", name);
    union ind_result r;
    ind_result_of(L, x, "figure", &g, IND_RESULT_FIGURE, ind_q_figure, name, &r);
    if (r.figure.found) {
        ind_explain(x, &g, "%g", r.figure.value);
        lua_pushnumber(L, r.figure.value);
    } else {
        ind_explain(x, &g, "nil");
        lua_pushnil(L);
    }
    return 1;
}

static int ind_q_partners(struct ind_exec *x, const void *args, union ind_result *out)
{
    (void)args;
    return store_ind_partner_orgs(x->st, &x->scope, &out->count, &x->e);
}

static int ind_partner_orgs(lua_State *L)
{
    struct ind_exec *x = ind_exec_of(L);
    struct ind_sig g = {.len = 0};
    ind_sig_add(&g, "partner_orgs_with_mentors()");
    union ind_result r;
    ind_result_of(L, x, "partner_orgs_with_mentors", &g, IND_RESULT_COUNT, ind_q_partners, NULL,
                  &r);
    ind_explain(x, &g, "%ld", r.count);
    lua_pushinteger(L, r.count);
    return 1;
}

/* Reads the options of a score accessor: survey, scale or item, wave, form (and min). */
static void ind_read_measure(lua_State *L, const char *fname, int with_min, int with_item_only,
                             struct ind_measure *m, struct ind_sig *g)
{
    static const char *const names[] = {"survey", "scale", "item", "wave", "form", "min", NULL};
    static const char *const names_item[] = {"survey", "item", "wave", "form", NULL};
    static const char *const names_nomin[] = {"survey", "scale", "item", "wave", "form", NULL};
    ind_check_options(L, 1, fname, with_item_only ? names_item : with_min ? names : names_nomin);
    memset(m, 0, sizeof *m);
    if (!lua_istable(L, 1))
        luaL_error(L, "%s: expected a table of options such as {survey = ...}", fname);
    m->survey = ind_opt_str(L, 1, fname, "survey");
    m->scale = with_item_only ? NULL : ind_opt_str(L, 1, fname, "scale");
    m->item = ind_opt_str(L, 1, fname, "item");
    m->wave = ind_opt_word(L, 1, fname, "wave", VOCAB_WAVE);
    m->form = ind_opt_word(L, 1, fname, "form", VOCAB_FORM);
    if (!m->survey)
        luaL_error(L, "%s: survey is required", fname);
    if (!m->scale == !m->item)
        luaL_error(L, with_item_only ? "%s: item is required" : "%s: give scale or item (one)",
                   fname);
    int has_min = 0;
    if (with_min) {
        m->min = ind_opt_num(L, 1, fname, "min", &has_min);
        if (!has_min)
            luaL_error(L, "%s: min is required", fname);
    }
    ind_sig_start(g, fname);
    ind_sig_str(g, "survey", m->survey);
    ind_sig_str(g, "scale", m->scale);
    ind_sig_str(g, "item", m->item);
    ind_sig_str(g, "wave", m->wave);
    ind_sig_str(g, "form", m->form);
    if (has_min)
        ind_sig_num(g, "min", m->min);
    ind_sig_end(g);
}

static int ind_q_summary(struct ind_exec *x, const void *args, union ind_result *out)
{
    return store_ind_summary(x->st, &x->scope, args, &out->summary, &x->e);
}

/* The summary of a measure for the current organisation. */
static void ind_summary_of(lua_State *L, struct ind_exec *x, const char *fname,
                           const struct ind_measure *m, const struct ind_sig *g,
                           struct ind_summary *s)
{
    union ind_result r;
    ind_result_of(L, x, fname, g, IND_RESULT_SUMMARY, ind_q_summary, m, &r);
    *s = r.summary;
}

static double ind_sd(long n, double sum, double sumsq)
{
    if (n < 2)
        return NAN;
    double var = (sumsq - sum * sum / (double)n) / (double)(n - 1);
    return var > 0 ? sqrt(var) : 0.0;
}

static int ind_scores(lua_State *L)
{
    static const char *fname = "scores";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_measure m;
    struct ind_sig g;
    ind_read_measure(L, fname, 0, 0, &m, &g);
    struct ind_summary s;
    ind_summary_of(L, x, fname, &m, &g, &s);
    double mean = s.n ? s.sum / (double)s.n : NAN;
    double sd = ind_sd(s.n, s.sum, s.sumsq);
    if (s.n > 1)
        ind_explain(x, &g, "n %ld, mean %g, sd %g", s.n, mean, sd);
    else if (s.n)
        ind_explain(x, &g, "n 1, mean %g", mean);
    else
        ind_explain(x, &g, "n 0");
    lua_createtable(L, 0, 6);
    ind_set_int(L, "n", s.n);
    ind_set_num(L, "sum", s.sum);
    if (s.n) {
        ind_set_num(L, "mean", mean);
        ind_set_num(L, "min", s.min);
        ind_set_num(L, "max", s.max);
    }
    if (s.n > 1)
        ind_set_num(L, "sd", sd);
    return 1;
}

static int ind_share_at_least(lua_State *L)
{
    static const char *fname = "share_at_least";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_measure m;
    struct ind_sig g;
    ind_read_measure(L, fname, 1, 0, &m, &g);
    struct ind_summary s;
    ind_summary_of(L, x, fname, &m, &g, &s);
    ind_explain(x, &g, "%ld of %ld", s.at_least, s.n);
    lua_pushinteger(L, s.at_least);
    lua_pushinteger(L, s.n);
    return 2;
}

static int ind_item_mean(lua_State *L)
{
    static const char *fname = "item_mean";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_measure m;
    struct ind_sig g;
    ind_read_measure(L, fname, 0, 1, &m, &g);
    struct ind_summary s;
    ind_summary_of(L, x, fname, &m, &g, &s);
    if (s.n)
        ind_explain(x, &g, "mean %g of %ld", s.sum / (double)s.n, s.n);
    else
        ind_explain(x, &g, "n 0");
    if (s.n)
        lua_pushnumber(L, s.sum / (double)s.n);
    else
        lua_pushnil(L);
    lua_pushinteger(L, s.n);
    return 2;
}

static int ind_q_responses(struct ind_exec *x, const void *args, union ind_result *out)
{
    return store_ind_count_responses(x->st, &x->scope, args, &out->count, &x->e);
}

static int ind_count_responses(lua_State *L)
{
    static const char *fname = "count_responses";
    static const char *const names[] = {"survey", "wave", "form", NULL};
    struct ind_exec *x = ind_exec_of(L);
    ind_check_options(L, 1, fname, names);
    struct ind_measure m = {0};
    m.survey = ind_opt_str(L, 1, fname, "survey");
    m.wave = ind_opt_word(L, 1, fname, "wave", VOCAB_WAVE);
    m.form = ind_opt_word(L, 1, fname, "form", VOCAB_FORM);
    if (!m.survey)
        return luaL_error(L, "%s: survey is required", fname);
    struct ind_sig g;
    ind_sig_start(&g, fname);
    ind_sig_str(&g, "survey", m.survey);
    ind_sig_str(&g, "wave", m.wave);
    ind_sig_str(&g, "form", m.form);
    ind_sig_end(&g);
    union ind_result r;
    ind_result_of(L, x, fname, &g, IND_RESULT_COUNT, ind_q_responses, &m, &r);
    ind_explain(x, &g, "%ld", r.count);
    lua_pushinteger(L, r.count);
    return 1;
}

/*
 * The canonical form of mentoring a stored programme form is (registry_word's constant), or
 * NULL. Stored forms are canonical already, so each is folded once per process, not per row.
 */
static const char *ind_form(const char *form)
{
    static const char *const names[] = {"pupil-pupil", "student-pupil", "employer-pupil",
                                        "employer-student", "teacher-teacher"};
    static const char *canonical[sizeof names / sizeof names[0]];
    if (!form)
        return NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(form, names[i]) == 0) {
            if (!canonical[i])
                canonical[i] = registry_word(VOCAB_FORM, names[i]);
            return canonical[i];
        }
    }
    return registry_word(VOCAB_FORM, form);
}

static int ind_collect_value(void *ctx, double v)
{
    struct ind_exec *x = ctx;
    if (x->nvals == x->capvals) {
        size_t cap = x->capvals ? x->capvals * 2 : 256;
        double *p = realloc(x->vals, cap * sizeof *p);
        if (!p) {
            x->rows_oom = 1;
            return 1;
        }
        x->vals = p;
        x->capvals = cap;
    }
    x->vals[x->nvals++] = v;
    return 0;
}

static int ind_score_list(lua_State *L)
{
    static const char *fname = "score_list";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_measure m;
    struct ind_sig g;
    ind_read_measure(L, fname, 0, 0, &m, &g);
    x->nvals = 0;
    x->rows_oom = 0;
    if (store_ind_scores(x->st, &x->scope, &m, ind_collect_value, x, &x->e) != STORE_OK)
        return ind_store_error(L, x, fname);
    if (x->rows_oom)
        return luaL_error(L, "%s: out of memory", fname);
    ind_explain(x, &g, "%zu values", x->nvals);
    lua_createtable(L, (int)x->nvals, 0);
    for (size_t i = 0; i < x->nvals; i++) {
        lua_pushnumber(L, x->vals[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int ind_collect_pair(void *ctx, double entry, double final, const char *form)
{
    struct ind_exec *x = ctx;
    if (x->npairs == x->cappairs) {
        size_t cap = x->cappairs ? x->cappairs * 2 : 256;
        struct ind_pair_row *p = realloc(x->pairs, cap * sizeof *p);
        if (!p) {
            x->rows_oom = 1;
            return 1;
        }
        x->pairs = p;
        x->cappairs = cap;
    }
    x->pairs[x->npairs++] = (struct ind_pair_row){entry, final, ind_form(form)};
    return 0;
}

static void ind_read_paired(lua_State *L, const char *fname, struct ind_paired_filter *f,
                            struct ind_sig *g)
{
    static const char *const names[] = {"scale",        "item", "entry_survey",
                                        "final_survey", "form", NULL};
    ind_check_options(L, 1, fname, names);
    if (!lua_istable(L, 1))
        luaL_error(L, "%s: expected a table of options such as {scale = ...}", fname);
    memset(f, 0, sizeof *f);
    f->scale = ind_opt_str(L, 1, fname, "scale");
    f->item = ind_opt_str(L, 1, fname, "item");
    f->entry_survey = ind_opt_str(L, 1, fname, "entry_survey");
    f->final_survey = ind_opt_str(L, 1, fname, "final_survey");
    f->form = ind_opt_word(L, 1, fname, "form", VOCAB_FORM);
    if (!f->scale == !f->item)
        luaL_error(L, "%s: give scale or item (one)", fname);
    if (!f->entry_survey || !f->final_survey)
        luaL_error(L, "%s: entry_survey and final_survey are required", fname);
    ind_sig_start(g, fname);
    ind_sig_str(g, "scale", f->scale);
    ind_sig_str(g, "item", f->item);
    ind_sig_str(g, "entry_survey", f->entry_survey);
    ind_sig_str(g, "final_survey", f->final_survey);
    ind_sig_str(g, "form", f->form);
    ind_sig_end(g);
}

static int ind_paired_scores(lua_State *L)
{
    static const char *fname = "paired_scores";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_paired_filter f;
    struct ind_sig g;
    ind_read_paired(L, fname, &f, &g);
    x->npairs = 0;
    x->rows_oom = 0;
    if (store_ind_paired(x->st, &x->scope, &f, ind_collect_pair, x, &x->e) != STORE_OK)
        return ind_store_error(L, x, fname);
    if (x->rows_oom)
        return luaL_error(L, "%s: out of memory", fname);
    ind_explain(x, &g, "%zu pairs", x->npairs);
    lua_createtable(L, (int)x->npairs, 0);
    for (size_t i = 0; i < x->npairs; i++) {
        lua_createtable(L, 0, 3);
        ind_set_num(L, "entry", x->pairs[i].entry);
        ind_set_num(L, "final", x->pairs[i].final);
        if (x->pairs[i].form) {
            lua_pushstring(L, x->pairs[i].form);
            lua_setfield(L, -2, "form");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static void ind_growth_add(struct ind_growth *g, double entry, double final)
{
    double d = final - entry;
    g->n++;
    g->sum_entry += entry;
    g->sum_final += final;
    double delta = d - g->mean;
    g->mean += delta / (double)g->n;
    g->m2 += delta * (d - g->mean);
    if (d > 0)
        g->positive++;
    else if (d < 0)
        g->negative++;
    else
        g->unchanged++;
}

static int ind_collect_growth(void *ctx, double entry, double final, const char *form)
{
    struct ind_growth_set *s = ctx;
    ind_growth_add(&s->all, entry, final);
    const char *w = ind_form(form);
    size_t i = 0;
    while (i < s->nforms && s->forms[i] != w)
        i++;
    if (i == s->nforms) {
        if (s->nforms == IND_FORMS)
            return 0;
        s->forms[s->nforms++] = w;
    }
    ind_growth_add(&s->by[i], entry, final);
    return 0;
}

/* Pushes a growth summary: the fields of docs/indicators.md (means nil when n is 0). */
static void ind_push_growth(lua_State *L, const struct ind_growth *g)
{
    lua_createtable(L, 0, 8);
    ind_set_int(L, "n", g->n);
    ind_set_int(L, "positive", g->positive);
    ind_set_int(L, "negative", g->negative);
    ind_set_int(L, "unchanged", g->unchanged);
    if (g->n) {
        ind_set_num(L, "mean_entry", g->sum_entry / (double)g->n);
        ind_set_num(L, "mean_final", g->sum_final / (double)g->n);
        ind_set_num(L, "mean_growth", g->mean);
    }
    if (g->n > 1)
        ind_set_num(L, "sd_growth", sqrt(g->m2 / (double)(g->n - 1)));
}

static int ind_q_growth(struct ind_exec *x, const void *args, union ind_result *out)
{
    return store_ind_paired(x->st, &x->scope, args, ind_collect_growth, &out->growth, &x->e);
}

static int ind_paired_summary(lua_State *L)
{
    static const char *fname = "paired_summary";
    struct ind_exec *x = ind_exec_of(L);
    struct ind_paired_filter f;
    struct ind_sig g;
    ind_read_paired(L, fname, &f, &g);
    union ind_result r;
    ind_result_of(L, x, fname, &g, IND_RESULT_GROWTH, ind_q_growth, &f, &r);
    const struct ind_growth_set s = r.growth;
    if (s.all.n)
        ind_explain(x, &g, "n %ld, mean growth %g, %ld positive", s.all.n, s.all.mean,
                    s.all.positive);
    else
        ind_explain(x, &g, "n 0");
    ind_push_growth(L, &s.all);
    lua_createtable(L, 0, (int)s.nforms);
    for (size_t i = 0; i < s.nforms; i++) {
        ind_push_growth(L, &s.by[i]);
        lua_setfield(L, -2, s.forms[i] ? s.forms[i] : "none");
    }
    lua_setfield(L, -2, "forms");
    return 1;
}

static const luaL_Reg ind_accessors[] = {
    {"count_participants", ind_count_participants},
    {"count_pairs", ind_count_pairs},
    {"figure", ind_figure},
    {"partner_orgs_with_mentors", ind_partner_orgs},
    {"scores", ind_scores},
    {"score_list", ind_score_list},
    {"share_at_least", ind_share_at_least},
    {"item_mean", ind_item_mean},
    {"count_responses", ind_count_responses},
    {"paired_scores", ind_paired_scores},
    {"paired_summary", ind_paired_summary},
    {NULL, NULL},
};

/* ---- Computing ----------------------------------------------------------------------------- */

/* Stores the region's params, the accessors, the period and compute() in the state's registry. */
static int ind_prepare(lua_State *L)
{
    struct ind_exec *x = lua_touserdata(L, 1);
    char chunk[IND_PATH_MAX + 2];
    const struct ind_file *region = NULL;
    for (size_t i = 0; i < x->set->nfiles; i++)
        if (x->set->files[i].kind == IF_REGION && x->set->files[i].good)
            region = &x->set->files[i];
    if (region) {
        snprintf(chunk, sizeof chunk, "@%s", region->path);
        if (luaL_loadbufferx(L, region->good_text, region->good_len, chunk, "t") != LUA_OK)
            return lua_error(L);
        lua_call(L, 0, 1);
        if (!lua_istable(L, -1) || lua_getfield(L, -1, "params") != LUA_TTABLE) {
            lua_settop(L, 1);
            lua_newtable(L);
        }
    } else {
        lua_newtable(L);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ind_key_params);
    lua_settop(L, 1);

    lua_createtable(L, 0, sizeof ind_accessors / sizeof ind_accessors[0]);
    lua_pushlightuserdata(L, x);
    luaL_setfuncs(L, ind_accessors, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ind_key_accessors);

    static const char *const kinds[] = {"year", "half", "quarter"};
    lua_createtable(L, 0, 6);
    lua_pushstring(L, x->period_code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, x->period.starts);
    lua_setfield(L, -2, "starts");
    lua_pushstring(L, x->period.ends);
    lua_setfield(L, -2, "ends");
    ind_set_int(L, "year", x->period.year);
    lua_pushstring(L, kinds[x->period.kind == 'Y' ? 0 : x->period.kind == 'H' ? 1 : 2]);
    lua_setfield(L, -2, "kind");
    if (x->period.n)
        ind_set_int(L, "n", x->period.n);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ind_key_period);

    snprintf(chunk, sizeof chunk, "@%s", x->def->path);
    if (luaL_loadbufferx(L, x->def->source, x->def->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "compute") != LUA_TFUNCTION)
        return luaL_error(L, "%s: compute is not a function", x->def->path);
    lua_Debug ar;
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar))
        x->compute_line = ar.linedefined;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ind_key_compute);
    return 0;
}

/* ctx for the current organisation: a read-only view of org, period, params, accessors. */
static void ind_push_ctx(lua_State *L, struct ind_exec *x)
{
    lua_createtable(L, 0, 16);
    int ctx = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ind_key_accessors);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, ctx);
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, x->node->code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, x->node->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, x->node->level);
    lua_setfield(L, -2, "level");
    if (x->node->kind) {
        lua_pushstring(L, x->node->kind);
        lua_setfield(L, -2, "kind");
    }
    lua_setfield(L, ctx, "org");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ind_key_period);
    lua_setfield(L, ctx, "period");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ind_key_params);
    lua_setfield(L, ctx, "params");
    sandbox_push_readonly(L, ctx);
    lua_remove(L, ctx);
}

/* Raises "FILE:LINE: compute returned ..." at compute's definition. */
static int ind_result_error(lua_State *L, struct ind_exec *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushfstring(L, "%s:%d: compute returned ", x->def->path, x->compute_line);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* A finite number field of the table at idx; *has is 0 when absent. */
static double ind_result_num(lua_State *L, struct ind_exec *x, int idx, const char *key, int *has)
{
    int t = lua_getfield(L, idx, key);
    *has = t != LUA_TNIL;
    double v = 0;
    if (*has) {
        if (t != LUA_TNUMBER || !isfinite(v = lua_tonumber(L, -1)))
            ind_result_error(L, x, "%s that is not a number", key);
    }
    lua_pop(L, 1);
    return v;
}

/* Reads num/den, value or value/n (by the unit) from the table at idx. */
static void ind_result_measure(lua_State *L, struct ind_exec *x, int idx, const char *where,
                               int *has_num, double *num, double *den, int *has_value,
                               double *value, int *has_n, double *n)
{
    int hn, hd, hv, hc;
    *num = ind_result_num(L, x, idx, "num", &hn);
    *den = ind_result_num(L, x, idx, "den", &hd);
    *value = ind_result_num(L, x, idx, "value", &hv);
    *n = ind_result_num(L, x, idx, "n", &hc);
    *has_num = *has_value = *has_n = 0;
    switch (x->def->unit) {
    case INDICATOR_PERCENT:
    case INDICATOR_RATIO:
        if (!hn || !hd || hv || hc)
            ind_result_error(L, x, "%s{...}: a %s indicator returns {num = ..., den = ...}", where,
                             ind_unit_name(x->def->unit));
        if (*den < 0)
            ind_result_error(L, x, "%sa negative den (%f)", where, (lua_Number)*den);
        *has_num = 1;
        *has_value = *den > 0;
        if (*has_value)
            *value = *num / *den * (x->def->unit == INDICATOR_PERCENT ? 100.0 : 1.0);
        break;
    case INDICATOR_COUNT:
        if (!hv || hn || hd || hc)
            ind_result_error(L, x, "%s{...}: a count indicator returns {value = ...}", where);
        *has_value = 1;
        break;
    case INDICATOR_SCORE:
        if (!hv || !hc || hn || hd)
            ind_result_error(L, x, "%s{...}: a score indicator returns {value = ..., n = ...}",
                             where);
        if (*n < 0)
            ind_result_error(L, x, "%sa negative n", where);
        *has_n = 1;
        *has_value = *n > 0;
        break;
    }
}

static void ind_read_result(lua_State *L, struct ind_exec *x, int idx)
{
    struct indicator_value *v = x->out;
    if (lua_isnil(L, idx))
        return;
    if (!lua_istable(L, idx))
        ind_result_error(L, x, "a %s; expected a table such as {num = ..., den = ...}, or nil",
                         luaL_typename(L, idx));
    static const char *const fields[] = {"num", "den", "value", "n", "breakdown", NULL};
    ind_check_fields(L, idx, "compute's result", fields);
    ind_result_measure(L, x, idx, "", &v->has_num, &v->num, &v->den, &v->has_value, &v->value,
                       &v->has_n, &v->n);
    if (lua_getfield(L, idx, "breakdown") != LUA_TNIL) {
        int b = lua_gettop(L);
        if (!lua_istable(L, b))
            ind_result_error(L, x, "a breakdown that is not a list");
        size_t n = lua_rawlen(L, b);
        if (n > IND_PARTS_MAX)
            ind_result_error(L, x, "a breakdown of %d parts (at most %d)", (int)n, IND_PARTS_MAX);
        v->parts = calloc(n ? n : 1, sizeof *v->parts);
        if (!v->parts)
            luaL_error(L, "out of memory");
        static const char *const part_fields[] = {"key", "num", "den", "value", "n", NULL};
        for (size_t i = 1; i <= n; i++) {
            if (lua_rawgeti(L, b, (lua_Integer)i) != LUA_TTABLE)
                ind_result_error(L, x, "breakdown[%d] that is not a table", (int)i);
            int p = lua_gettop(L);
            ind_check_fields(L, p, "breakdown", part_fields);
            if (lua_getfield(L, p, "key") != LUA_TSTRING || lua_rawlen(L, -1) > 64)
                ind_result_error(L, x, "breakdown[%d] without a key (a string of 1-64 bytes)",
                                 (int)i);
            struct indicator_part *part = &v->parts[v->nparts];
            part->key = ind_dup(L, -1);
            v->nparts++;
            lua_pop(L, 1);
            char where[32];
            snprintf(where, sizeof where, "breakdown[%d]", (int)i);
            ind_result_measure(L, x, p, where, &part->has_num, &part->num, &part->den,
                               &part->has_value, &part->value, &part->has_n, &part->n);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    v->state = INDICATOR_OK;
}

/* Runs compute(ctx) for x->node and reads its result into x->out (in protected mode). */
static int ind_compute_node(lua_State *L)
{
    struct ind_exec *x = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ind_key_compute);
    ind_push_ctx(L, x);
    lua_call(L, 1, 1);
    ind_read_result(L, x, lua_gettop(L));
    return 0;
}

/* SQLite's progress handler during an indicator: its deadline covers its queries. */
static int ind_interrupt(void *ctx)
{
    return sandbox_expired(ctx);
}

static void ind_value_fail(struct indicator_value *v, const struct err *e, const char *path)
{
    char buf[1024];
    struct err pos = *e;
    if (!pos.file[0])
        snprintf(pos.file, sizeof pos.file, "%s", path);
    err_format(&pos, buf, sizeof buf);
    for (size_t i = 0; i < v->nparts; i++)
        free(v->parts[i].key);
    free(v->parts);
    v->parts = NULL;
    v->nparts = 0;
    v->state = INDICATOR_FAILED;
    v->has_num = v->has_value = v->has_n = 0;
    free(v->error);
    v->error = strdup(buf);
}

/* Whether the indicator is computed at node k itself (otherwise it is rolled up there). */
static int ind_computed_at(const struct indicator_def *d, const struct ind_node *node)
{
    return d->rollup == INDICATOR_ROLLUP_RECOMPUTE || strcmp(node->level, "organisation") == 0;
}

struct ind_run {
    struct indicator_set *set;
    struct store *st;
    const struct indicator_run_options *opt;
    struct indicator_report *r;
    size_t *parent; /* the index of each node's parent; (size_t)-1 for the root */
    size_t *child_start;
    size_t *children;
    struct ind_memo memo;
    struct ind_exec x;
};

static void ind_part_add(struct indicator_part *to, const struct indicator_part *p,
                         enum indicator_unit unit)
{
    to->has_num |= p->has_num;
    to->num += p->num;
    to->den += p->den;
    if (unit == INDICATOR_COUNT) {
        to->has_value = 1;
        to->value += p->value;
    }
    if (unit == INDICATOR_SCORE && p->has_n) {
        to->has_n = 1;
        to->n += p->n;
        to->value += p->has_value ? p->value * p->n : 0;
    }
}

/* Finishes a summed part: value from num/den, or the weighted mean of a score. */
static void ind_part_finish(struct indicator_part *p, enum indicator_unit unit)
{
    if (unit == INDICATOR_PERCENT || unit == INDICATOR_RATIO) {
        p->has_value = p->has_num && p->den > 0;
        if (p->has_value)
            p->value = p->num / p->den * (unit == INDICATOR_PERCENT ? 100.0 : 1.0);
    } else if (unit == INDICATOR_SCORE) {
        p->has_value = p->has_n && p->n > 0;
        p->value = p->has_value ? p->value / p->n : 0;
    }
}

/* A municipality's or region's value from its children: sums, never averages of shares. */
static void ind_rollup_node(struct ind_run *run, size_t d, size_t k)
{
    struct indicator_report *r = run->r;
    const struct indicator_def *def = r->defs[d];
    struct indicator_value *vals = &r->values[d * r->nnodes];
    struct indicator_value *v = &vals[k];
    struct indicator_part total = {0};
    struct indicator_part *parts = NULL;
    size_t nparts = 0, children = 0, failed = 0, ok = 0, first_failed = 0;
    struct ind_text log = {0};
    for (size_t j = k + 1; j < r->nnodes; j++) {
        if (run->parent[j] != k)
            continue;
        children++;
        struct indicator_value *c = &vals[j];
        if (c->state == INDICATOR_FAILED) {
            if (!failed++)
                first_failed = j;
            continue;
        }
        if (c->state != INDICATOR_OK)
            continue;
        ok++;
        struct indicator_part cp = {.has_num = c->has_num,
                                    .num = c->num,
                                    .den = c->den,
                                    .has_value = c->has_value,
                                    .value = c->value,
                                    .has_n = c->has_n,
                                    .n = c->n};
        ind_part_add(&total, &cp, def->unit);
        if (run->opt->explain) {
            if (c->has_num)
                ind_text_add(&log, "%s%s %g/%g", ok > 1 ? " + " : "sum of ", r->nodes[j].code,
                             c->num, c->den);
            else if (def->unit == INDICATOR_SCORE)
                ind_text_add(&log, "%s%s %g (n %g)", ok > 1 ? " + " : "weighted mean of ",
                             r->nodes[j].code, c->value, c->n);
            else
                ind_text_add(&log, "%s%s %g", ok > 1 ? " + " : "sum of ", r->nodes[j].code,
                             c->value);
        }
        for (size_t i = 0; i < c->nparts; i++) {
            size_t m = 0;
            while (m < nparts && strcmp(parts[m].key, c->parts[i].key) != 0)
                m++;
            if (m == nparts) {
                struct indicator_part *np = realloc(parts, (nparts + 1) * sizeof *np);
                char *key = strdup(c->parts[i].key);
                if (!np || !key) {
                    free(key);
                    parts = np ? np : parts;
                    continue;
                }
                parts = np;
                memset(&parts[nparts], 0, sizeof *parts);
                parts[nparts++].key = key;
            }
            ind_part_add(&parts[m], &c->parts[i], def->unit);
        }
    }
    if (failed) {
        char msg[600];
        snprintf(msg, sizeof msg, "not computed: %zu of %zu organisations below failed (%s: %s)",
                 failed, children, r->nodes[first_failed].code,
                 vals[first_failed].error ? vals[first_failed].error : "");
        v->state = INDICATOR_FAILED;
        v->error = strdup(msg);
        for (size_t i = 0; i < nparts; i++)
            free(parts[i].key);
        free(parts);
        free(log.s);
        return;
    }
    if (ok) {
        ind_part_finish(&total, def->unit);
        v->state = INDICATOR_OK;
        v->has_num = total.has_num;
        v->num = total.num;
        v->den = total.den;
        v->has_value = total.has_value;
        v->value = total.value;
        v->has_n = total.has_n;
        v->n = total.n;
        for (size_t i = 0; i < nparts; i++)
            ind_part_finish(&parts[i], def->unit);
        v->parts = parts;
        v->nparts = nparts;
        if (log.len)
            ind_text_add(&log, "\n");
        v->explain = ind_text_take(&log);
    } else {
        for (size_t i = 0; i < nparts; i++)
            free(parts[i].key);
        free(parts);
        free(log.s);
    }
}

/* Computes indicator d at every node where it is computed, then rolls it up. */
static void ind_run_indicator(struct ind_run *run, size_t d)
{
    struct indicator_report *r = run->r;
    const struct indicator_def *def = r->defs[d];
    struct indicator_value *vals = &r->values[d * r->nnodes];
    struct ind_exec *x = &run->x;
    if (def->period != x->period.kind) {
        for (size_t k = 0; k < r->nnodes; k++)
            vals[k].state = INDICATOR_SKIPPED;
        return;
    }
    struct err e = {0};
    struct sandbox *sb = NULL;
    int rc = sandbox_new(&run->opt->limits, ind_lib_lookup, run->set, &sb, &e);
    if (rc == 0) {
        x->def = def;
        x->sb = sb;
        store_ind_interrupt(run->st, ind_interrupt, sb);
        rc = sandbox_cpcall(sb, ind_prepare, x, &e);
    }
    /* Organisations before the municipalities and region above them (see ind_result_of). */
    for (size_t k = r->nnodes; k-- > 0;) {
        if (!ind_computed_at(def, &r->nodes[k]))
            continue;
        if (rc < 0) {
            ind_value_fail(&vals[k], &e, def->path);
            continue;
        }
        x->node = &r->nodes[k];
        x->node_index = k;
        x->scope.org_id = r->nodes[k].id;
        x->out = &vals[k];
        sandbox_clear_output(sb);
        int crc = sandbox_cpcall(sb, ind_compute_node, x, &e);
        if (x->explain && sandbox_output(sb)[0])
            ind_text_add(&x->log, "print: %s", sandbox_output(sb));
        vals[k].explain = ind_text_take(&x->log);
        if (crc < 0) {
            ind_value_fail(&vals[k], &e, def->path);
            /* Past the deadline, nothing more of this indicator runs. */
            if (sandbox_failure(sb) == SANDBOX_FAIL_TIME)
                rc = -1;
        }
    }
    if (sb) {
        store_ind_interrupt(run->st, NULL, NULL);
        if (sandbox_memory_peak(sb) > r->memory_peak)
            r->memory_peak = sandbox_memory_peak(sb);
        sandbox_free(sb);
    }
    x->sb = NULL;
    if (def->rollup == INDICATOR_ROLLUP_SUM)
        for (size_t k = r->nnodes; k-- > 0;)
            if (!ind_computed_at(def, &r->nodes[k]))
                ind_rollup_node(run, d, k);
    for (size_t k = 0; k < r->nnodes; k++) {
        if (vals[k].state == INDICATOR_FAILED) {
            r->failures++;
            break;
        }
    }
}

/* The campaign periods inside a period: a year's halves and quarters, a half's quarters. */
static void ind_campaign_periods(struct ind_exec *x)
{
    const struct period *p = &x->period;
    size_t n = 0;
    snprintf(x->campaigns[n++], sizeof x->campaigns[0], "%s", x->period_code);
    if (p->kind == 'Y') {
        for (int h = 1; h <= 2; h++)
            snprintf(x->campaigns[n++], sizeof x->campaigns[0], "%s-H%d", x->year_code, h);
        for (int q = 1; q <= 4; q++)
            snprintf(x->campaigns[n++], sizeof x->campaigns[0], "%s-Q%d", x->year_code, q);
    } else if (p->kind == 'H') {
        /* Q2 (December to February) straddles the two halves: it belongs to neither. */
        static const int quarters[2][2] = {{1, 0}, {3, 4}};
        for (int i = 0; i < 2; i++)
            if (quarters[p->n - 1][i])
                snprintf(x->campaigns[n++], sizeof x->campaigns[0], "%s-Q%d", x->year_code,
                         quarters[p->n - 1][i]);
    }
    for (size_t i = 0; i < IND_PERIODS; i++)
        x->scope.campaigns[i] = i < n ? x->campaigns[i] : NULL;
}

void indicator_report_free(struct indicator_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->values && i < r->ndefs * r->nnodes; i++) {
        struct indicator_value *v = &r->values[i];
        for (size_t j = 0; j < v->nparts; j++)
            free(v->parts[j].key);
        free(v->parts);
        free(v->error);
        free(v->explain);
    }
    free(r->values);
    free(r->defs);
    free(r->region);
    free(r->period);
    arena_free(r->arena);
    free(r);
}

static long ind_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static int ind_node_cmp(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The index of every node's parent in the (parents-first) node list. */
static size_t *ind_parents(const struct ind_node *nodes, size_t n)
{
    size_t *parent = malloc((n ? n : 1) * sizeof *parent);
    int64_t *ids = malloc((n ? n : 1) * 2 * sizeof *ids);
    if (!parent || !ids) {
        free(parent);
        free(ids);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        ids[2 * i] = nodes[i].id;
        ids[2 * i + 1] = (int64_t)i;
    }
    qsort(ids, n, 2 * sizeof *ids, ind_node_cmp);
    for (size_t i = 0; i < n; i++) {
        int64_t key[2] = {nodes[i].parent_id, 0};
        const int64_t *hit =
            nodes[i].parent_id ? bsearch(key, ids, n, 2 * sizeof *ids, ind_node_cmp) : NULL;
        parent[i] = hit ? (size_t)hit[1] : (size_t)-1;
    }
    free(ids);
    return parent;
}

int indicator_run(struct indicator_set *set, struct store *st,
                  const struct indicator_run_options *opt, struct indicator_report **out,
                  struct err *e)
{
    *out = NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct ind_run run = {.set = set, .st = st, .opt = opt};
    struct ind_exec *x = &run.x;
    if (!opt->period || registry_period_parse(opt->period, &x->period) < 0)
        return err_set(e, NULL, 0, 0,
                       "period \"%s\" is not a school year such as 2026/27 (or 2026/27-H1, "
                       "2026/27-Q3)",
                       opt->period ? opt->period : "");
    snprintf(x->period_code, sizeof x->period_code, "%s", opt->period);
    snprintf(x->year_code, sizeof x->year_code, "%d/%02d", x->period.year,
             (x->period.year + 1) % 100);
    struct indicator_report *r = calloc(1, sizeof *r);
    if (!r || !(r->arena = arena_new())) {
        free(r);
        return err_set(e, NULL, 0, 0, "out of memory");
    }
    r->region = strdup(set->region);
    r->period = strdup(opt->period);
    r->year = x->period.year;
    memcpy(r->hash, set->hash, sizeof r->hash);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->started_at, sizeof r->started_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *root = opt->org ? opt->org : indicator_set_root(set);
    int rc = store_ind_tree(st, r->arena, root, &r->nodes, &r->nnodes, e);
    if (rc != STORE_OK || !r->region || !r->period) {
        if (rc == STORE_OK)
            err_set(e, NULL, 0, 0, "out of memory");
        indicator_report_free(r);
        return -1;
    }
    r->ndefs = set->nactive;
    r->defs = calloc(r->ndefs ? r->ndefs : 1, sizeof *r->defs);
    size_t cells = r->ndefs * r->nnodes;
    r->values = calloc(cells ? cells : 1, sizeof *r->values);
    run.parent = ind_parents(r->nodes, r->nnodes);
    run.child_start = calloc(r->nnodes + 1, sizeof *run.child_start);
    run.children = calloc(r->nnodes ? r->nnodes : 1, sizeof *run.children);
    if (!r->defs || !r->values || !run.parent || !run.child_start || !run.children) {
        free(run.parent);
        free(run.child_start);
        free(run.children);
        indicator_report_free(r);
        return err_set(e, NULL, 0, 0, "out of memory");
    }
    /* Each node's children, in node order: counts, then offsets, then the lists. */
    for (size_t k = 0; k < r->nnodes; k++)
        if (run.parent[k] != (size_t)-1)
            run.child_start[run.parent[k] + 1]++;
    for (size_t k = 0; k < r->nnodes; k++)
        run.child_start[k + 1] += run.child_start[k];
    for (size_t k = 0, *fill = run.children; k < r->nnodes; k++)
        if (run.parent[k] != (size_t)-1)
            fill[run.child_start[run.parent[k]]++] = k;
    for (size_t k = r->nnodes; k > 0; k--)
        run.child_start[k] = run.child_start[k - 1];
    run.child_start[0] = 0;
    memcpy(r->defs, set->active, r->ndefs * sizeof *r->defs);
    run.r = r;
    x->st = st;
    x->set = set;
    x->explain = opt->explain;
    x->memo = &run.memo;
    x->nodes = r->nodes;
    x->child_start = run.child_start;
    x->children = run.children;
    x->scope.period = x->period_code;
    x->scope.starts = x->period.starts;
    x->scope.ends = x->period.ends;
    x->scope.start_year = atoi(x->period.starts);
    ind_campaign_periods(x);
    for (size_t d = 0; d < r->ndefs; d++)
        ind_run_indicator(&run, d);
    free(x->vals);
    free(x->pairs);
    free(x->log.s);
    ind_memo_free(&run.memo);
    free(run.parent);
    free(run.child_start);
    free(run.children);
    r->duration_ms = ind_ms_since(&t0);
    *out = r;
    return 0;
}

/* The breakdown as JSON: [{"key": ..., "num": ..., "den": ..., "value": ..., "n": ...}]. */
static char *ind_parts_json(const struct indicator_value *v)
{
    if (!v->nparts)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->nparts; i++) {
        const struct indicator_part *p = &v->parts[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o) < 0)
            break;
        json_object_set_new(o, "key", json_string(p->key));
        if (p->has_num) {
            json_object_set_new(o, "num", json_real(p->num));
            json_object_set_new(o, "den", json_real(p->den));
        }
        if (p->has_value)
            json_object_set_new(o, "value", json_real(p->value));
        if (p->has_n)
            json_object_set_new(o, "n", json_real(p->n));
    }
    char *s = a ? json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(a);
    return s;
}

int indicator_report_store(struct store *st, const struct indicator_report *r, struct err *e)
{
    if (store_begin(st, e) != STORE_OK)
        return -1;
    for (size_t d = 0; d < r->ndefs; d++) {
        const struct indicator_def *def = r->defs[d];
        double target = 0;
        int has_target = indicator_target(def, r->year, &target);
        for (size_t k = 0; k < r->nnodes; k++) {
            const struct indicator_value *v = &r->values[d * r->nnodes + k];
            if (v->state == INDICATOR_SKIPPED)
                break;
            char *json = ind_parts_json(v);
            struct ind_value_rec rec = {
                .region = r->region,
                .indicator = def->id,
                .period = r->period,
                .org_id = r->nodes[k].id,
                .has_num = v->has_num,
                .num = v->num,
                .den = v->den,
                .has_value = v->has_value,
                .value = v->value,
                .has_n = v->has_n,
                .n = v->n,
                .has_target = has_target,
                .target = target,
                .breakdown = json,
                .script_hash = def->hash,
                .error = v->error,
            };
            int rc = v->nparts && !json ? err_set(e, NULL, 0, 0, "out of memory")
                                        : store_ind_put_value(st, &rec, e);
            free(json);
            if (rc != STORE_OK) {
                store_rollback(st);
                return -1;
            }
        }
    }
    struct ind_run_rec run = {
        .region = r->region,
        .period = r->period,
        .org_id = r->nnodes ? r->nodes[0].id : 0,
        .started_at = r->started_at,
        .duration_ms = r->duration_ms,
        .memory_kb = (long)(r->memory_peak / 1024),
        .indicators = (long)r->ndefs,
        .failures = r->failures,
        .script_hash = r->hash,
    };
    if (store_ind_put_run(st, &run, NULL, e) != STORE_OK || store_commit(st, e) != STORE_OK) {
        store_rollback(st);
        return -1;
    }
    return 0;
}

/* A number as the table shows it: at most 2 decimals, "-" for none. */
static const char *ind_fmt(char *buf, size_t size, int has, double v, int decimals)
{
    if (!has)
        return "-";
    if (decimals == 0 || v == floor(v))
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}

static void ind_print_node(FILE *f, const struct indicator_report *r, size_t d, size_t k,
                           const size_t *parent, int depth, int explain, int has_target,
                           double target)
{
    const struct indicator_def *def = r->defs[d];
    const struct indicator_value *v = &r->values[d * r->nnodes + k];
    char name[96], a[32], b[32], c[32], t[32];
    snprintf(name, sizeof name, "%*s%s", depth * 2, "", r->nodes[k].code);
    int dec = def->unit == INDICATOR_COUNT ? 0 : def->unit == INDICATOR_RATIO ? 3 : 2;
    if (v->state == INDICATOR_FAILED) {
        fprintf(f, "  %-28s error: %s\n", name, v->error ? v->error : "");
    } else {
        int has_a = def->unit == INDICATOR_SCORE ? v->has_n : v->has_num;
        fprintf(f, "  %-28s %10s %10s %10s %8s%s\n", name,
                ind_fmt(a, sizeof a, has_a, def->unit == INDICATOR_SCORE ? v->n : v->num, 2),
                ind_fmt(b, sizeof b, v->has_num, v->den, 2),
                ind_fmt(c, sizeof c, v->has_value, v->value, dec),
                ind_fmt(t, sizeof t, has_target, target, 2),
                v->state == INDICATOR_NONE ? "  (no data)" : "");
        if (explain || k == 0) {
            for (size_t i = 0; i < v->nparts; i++) {
                const struct indicator_part *p = &v->parts[i];
                char key[96];
                snprintf(key, sizeof key, "%*s%s", depth * 2 + 4, "", p->key);
                int hp = def->unit == INDICATOR_SCORE ? p->has_n : p->has_num;
                fprintf(f, "  %-28s %10s %10s %10s\n", key,
                        ind_fmt(a, sizeof a, hp, def->unit == INDICATOR_SCORE ? p->n : p->num, 2),
                        ind_fmt(b, sizeof b, p->has_num, p->den, 2),
                        ind_fmt(c, sizeof c, p->has_value, p->value, dec));
            }
        }
    }
    if (explain && v->explain) {
        for (const char *line = v->explain; *line;) {
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            fprintf(f, "  %*s| %.*s\n", depth * 2 + 2, "", len, line);
            line = nl ? nl + 1 : line + len;
        }
    }
    for (size_t j = k + 1; j < r->nnodes; j++)
        if (parent[j] == k)
            ind_print_node(f, r, d, j, parent, depth + 1, explain, has_target, target);
}

void indicator_report_print(FILE *f, const struct indicator_report *r, int explain)
{
    size_t *parent = ind_parents(r->nodes, r->nnodes);
    if (!parent)
        return;
    fprintf(f,
            "region %s, period %s: %zu indicators, %zu organisations, %ld ms, Lua heap up to "
            "%zu KB\n",
            r->region, r->period, r->ndefs, r->nnodes, r->duration_ms, r->memory_peak / 1024);
    for (size_t d = 0; d < r->ndefs; d++) {
        const struct indicator_def *def = r->defs[d];
        double target = 0;
        int has_target = indicator_target(def, r->year, &target);
        fprintf(f, "\n%s  %s (%s)\n", def->id, def->title_ru, ind_unit_name(def->unit));
        if (r->nnodes && r->values[d * r->nnodes].state == INDICATOR_SKIPPED) {
            fprintf(f, "  not computed for this period (it is computed per %s)\n",
                    def->period == 'Y'   ? "year"
                    : def->period == 'H' ? "half"
                                         : "quarter");
            continue;
        }
        fprintf(f, "  %-28s %10s %10s %10s %8s\n", "organisation",
                def->unit == INDICATOR_SCORE ? "n" : "num", "den", "value", "target");
        if (r->nnodes)
            ind_print_node(f, r, d, 0, parent, 0, explain, has_target, target);
    }
    free(parent);
}

/* ---- The child-process backstop ------------------------------------------------------------ */

/*
 * Under AddressSanitizer the address space holds terabytes of shadow memory reserved up
 * front, so an RLIMIT_AS would stop the sanitized child at once; the CPU limit still applies.
 */
#if defined(__SANITIZE_ADDRESS__)
#define IND_LIMIT_AS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IND_LIMIT_AS 0
#endif
#endif
#ifndef IND_LIMIT_AS
#define IND_LIMIT_AS 1
#endif

/* Child exit statuses. */
enum { IND_CHILD_OK = 0, IND_CHILD_FAILED = 2, IND_CHILD_SOME_FAILED = 3 };

/* The child's work: open its own connection, compute, store, print. Never returns. */
static void ind_child(struct indicator_set *set, const struct indicator_job *job, int fd)
{
    struct rlimit cpu = {(rlim_t)(job->cpu_seconds > 0 ? job->cpu_seconds : 60), 0};
    cpu.rlim_max = cpu.rlim_cur + 1;
    setrlimit(RLIMIT_CPU, &cpu);
    if (IND_LIMIT_AS) {
        rlim_t as = job->max_address ? (rlim_t)job->max_address : (rlim_t)2 << 30;
        struct rlimit lim = {as, as};
        setrlimit(RLIMIT_AS, &lim);
    }
    struct err e = {0};
    struct store *st = NULL;
    struct store_options sopt = {.migrate = 0};
    struct indicator_report *r = NULL;
    int status = IND_CHILD_FAILED;
    if (store_open(job->db, &sopt, &st, &e) == STORE_OK &&
        store_ind_prepare_reads(st, &e) == STORE_OK &&
        indicator_run(set, st, &job->run, &r, &e) == 0 && indicator_report_store(st, r, &e) == 0) {
        if (job->print) {
            indicator_report_print(job->print, r, job->run.explain);
            fflush(job->print);
        }
        status = r->failures ? IND_CHILD_SOME_FAILED : IND_CHILD_OK;
    }
    if (status == IND_CHILD_FAILED) {
        char msg[1024];
        err_format(&e, msg, sizeof msg);
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
    }
    indicator_report_free(r);
    store_close(st);
    close(fd);
    _exit(status);
}

int indicator_job_start(struct indicator_set *set, const struct indicator_job *job,
                        struct indicator_child *child, struct err *e)
{
    int fds[2];
    if (pipe(fds) != 0)
        return err_set(e, NULL, 0, 0, "pipe: %s", strerror(errno));
    /* Output buffered now would be written twice, by the parent and by the child. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return err_set(e, NULL, 0, 0, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* The computation must stop on SIGTERM whatever its parent (the server's master,
         * which blocks it outside its wait) blocked or caught. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGHUP, &dfl, NULL);
        sigaction(SIGCHLD, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(fds[0]);
        ind_child(set, job, fds[1]);
    }
    close(fds[1]);
    child->pid = pid;
    child->fd = fds[0];
    return 0;
}

int indicator_job_wait(struct indicator_child *child, struct err *e)
{
    char msg[1024];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(child->fd, msg + len, sizeof msg - 1 - len);
        if (n > 0 && (len += (size_t)n) < sizeof msg - 1)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    msg[len] = '\0';
    close(child->fd);
    child->fd = -1;
    int status;
    pid_t w;
    while ((w = waitpid(child->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0)
        return err_set(e, NULL, 0, 0, "waitpid: %s", strerror(errno));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return err_set(e, NULL, 0, 0, "the computation was stopped by signal %d (%s)%s", sig,
                       strsignal(sig),
                       sig == SIGXCPU || sig == SIGKILL ? ": it reached its CPU time limit" : "");
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : IND_CHILD_FAILED;
    if (code == IND_CHILD_OK)
        return 0;
    if (code == IND_CHILD_SOME_FAILED)
        return 1;
    return err_set(e, NULL, 0, 0, "%s", len ? msg : "the computation failed");
}

int indicator_run_isolated(struct indicator_set *set, const struct indicator_job *job,
                           struct err *e)
{
    struct indicator_child child;
    if (indicator_job_start(set, job, &child, e) < 0)
        return -1;
    return indicator_job_wait(&child, e);
}

/* ---- Script authors' tests ----------------------------------------------------------------- */

struct ind_test {
    struct indicator_set *set;
    struct store *st;
    const char *path;
    FILE *out;
    long passed, failed;
};

static const char ind_key_report_meta = 0;

static struct ind_test *ind_test_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* A field of the fixture entry at idx that is a string (or NULL when absent). */
static const char *ind_fx_str(lua_State *L, int idx, const char *where, const char *key)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TSTRING)
        luaL_error(L, "fixture: %s: %s must be a string", where, key);
    return lua_tostring(L, -1);
}

static const char *ind_fx_word(lua_State *L, int idx, const char *where, const char *key,
                               enum registry_vocab v, int required)
{
    const char *s = ind_fx_str(L, idx, where, key);
    if (!s) {
        if (required)
            luaL_error(L, "fixture: %s: %s is required (%s)", where, key, registry_words(v));
        return NULL;
    }
    const char *w = registry_word(v, s);
    if (!w)
        luaL_error(L, "fixture: %s: %s \"%s\" is not one of %s", where, key, s, registry_words(v));
    return w;
}

static const char *ind_fx_req(lua_State *L, int idx, const char *where, const char *key)
{
    const char *s = ind_fx_str(L, idx, where, key);
    if (!s)
        luaL_error(L, "fixture: %s: %s is required", where, key);
    return s;
}

static int ind_fx_int(lua_State *L, int idx, const char *where, const char *key, int none)
{
    int t = lua_getfield(L, idx, key);
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (t == LUA_TNIL)
        return none;
    if (t != LUA_TNUMBER || !isint)
        luaL_error(L, "fixture: %s: %s must be a whole number", where, key);
    return (int)v;
}

/* Fails a fixture write with the store's message; no statement is held by then. */
static void ind_fx_check(lua_State *L, int rc, const char *where, const struct err *e)
{
    if (rc != STORE_OK)
        luaL_error(L, "fixture: %s: %s", where, e->msg);
}

/* Reads a {name = number} table into an array kept alive as a userdata on the stack. */
static struct ind_fixture_value *ind_fx_values(lua_State *L, int idx, const char *where,
                                               const char *key, size_t *n)
{
    *n = 0;
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return NULL;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "fixture: %s: %s must be a table {name = number}", where, key);
    int tab = lua_gettop(L);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        count++;
        lua_pop(L, 1);
    }
    struct ind_fixture_value *v = lua_newuserdatauv(L, (count ? count : 1) * sizeof *v, 1);
    lua_pushvalue(L, tab);
    lua_setiuservalue(L, -2, 1); /* keeps the key strings alive */
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "fixture: %s: %s must map names to numbers", where, key);
        v[*n].id = lua_tostring(L, -2);
        v[*n].value = lua_tonumber(L, -1);
        (*n)++;
        lua_pop(L, 1);
    }
    lua_remove(L, tab);
    return v;
}

/* Calls fn for each entry of the list t[key] (the entry at the top of the stack). */
static void ind_fx_each(lua_State *L, int idx, const char *key,
                        void (*fn)(lua_State *L, struct ind_test *t, int entry, const char *where),
                        struct ind_test *t)
{
    if (lua_getfield(L, idx, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "fixture: %s must be a list of tables", key);
    int list = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    for (lua_Integer i = 1; i <= n; i++) {
        int top = lua_gettop(L);
        if (lua_rawgeti(L, list, i) != LUA_TTABLE)
            luaL_error(L, "fixture: %s[%d] is not a table", key, (int)i);
        char where[64];
        snprintf(where, sizeof where, "%s[%d]", key, (int)i);
        fn(L, t, top + 1, where);
        lua_settop(L, top);
    }
    lua_pop(L, 1);
}

static void ind_fx_org(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"code", "parent", "level", "kind", "name", "max_mentees", NULL};
    ind_check_fields(L, i, where, f);
    struct org_rec o = {
        .code = ind_fx_req(L, i, where, "code"),
        .parent_code = ind_fx_str(L, i, where, "parent"),
        .level = ind_fx_word(L, i, where, "level", VOCAB_LEVEL, 1),
        .kind = ind_fx_word(L, i, where, "kind", VOCAB_ORG_KIND, 0),
        .name = ind_fx_str(L, i, where, "name"),
        .max_mentees = ind_fx_int(L, i, where, "max_mentees", 0),
    };
    if (!o.name)
        o.name = o.code;
    struct err e = {0};
    ind_fx_check(L, store_put_org(t->st, &o, NULL, &e), where, &e);
}

static void ind_fx_programme(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"code", "org", "form", "title", "year", NULL};
    ind_check_fields(L, i, where, f);
    const char *code = ind_fx_req(L, i, where, "code");
    const char *org = ind_fx_req(L, i, where, "org");
    const char *form = ind_fx_word(L, i, where, "form", VOCAB_FORM, 1);
    const char *title = ind_fx_str(L, i, where, "title");
    int year = ind_fx_int(L, i, where, "year", 2026);
    struct err e = {0};
    ind_fx_check(L,
                 store_put_programme(t->st, org, code, form, title ? title : code, year, NULL, &e),
                 where, &e);
}

static void ind_fx_participant(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"code", "org",        "programme",  "role",
                                    "kind", "birth_year", "experience", NULL};
    ind_check_fields(L, i, where, f);
    struct participant_rec p = {
        .code = ind_fx_req(L, i, where, "code"),
        .org_code = ind_fx_req(L, i, where, "org"),
        .programme_code = ind_fx_str(L, i, where, "programme"),
        .role = ind_fx_word(L, i, where, "role", VOCAB_ROLE, 1),
        .kind = ind_fx_word(L, i, where, "kind", VOCAB_KIND, 1),
        .birth_year = ind_fx_int(L, i, where, "birth_year", 0),
        .experience_years = ind_fx_int(L, i, where, "experience", -1),
        .consent_date = "2000-01-01",
    };
    struct err e = {0};
    ind_fx_check(L, store_put_participant(t->st, &p, NULL, &e), where, &e);
}

static void ind_fx_pair(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"programme", "mentor", "mentee", "starts",
                                    "ends",      "status", NULL};
    ind_check_fields(L, i, where, f);
    struct pair_rec p = {
        .programme_code = ind_fx_req(L, i, where, "programme"),
        .mentor_code = ind_fx_req(L, i, where, "mentor"),
        .mentee_code = ind_fx_req(L, i, where, "mentee"),
        .starts = ind_fx_req(L, i, where, "starts"),
        .ends = ind_fx_str(L, i, where, "ends"),
        .status = ind_fx_word(L, i, where, "status", VOCAB_STATUS, 0),
    };
    if (!p.status)
        p.status = "active";
    if (!registry_date_valid(p.starts) || (p.ends && !registry_date_valid(p.ends)))
        luaL_error(L, "fixture: %s: dates are YYYY-MM-DD", where);
    struct err e = {0};
    ind_fx_check(L, store_put_pair(t->st, &p, NULL, &e), where, &e);
}

static void ind_fx_figure(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"org", "period", "name", "value", NULL};
    ind_check_fields(L, i, where, f);
    struct figure_rec r = {
        .org_code = ind_fx_req(L, i, where, "org"),
        .period = ind_fx_req(L, i, where, "period"),
        .name = ind_fx_req(L, i, where, "name"),
    };
    if (lua_getfield(L, i, "value") != LUA_TNUMBER)
        luaL_error(L, "fixture: %s: value must be a number", where);
    r.value = lua_tonumber(L, -1);
    struct err e = {0};
    ind_fx_check(L, store_put_figure(t->st, &r, NULL, &e), where, &e);
}

static void ind_fx_response(lua_State *L, struct ind_test *t, int i, const char *where)
{
    static const char *const f[] = {"participant", "survey",  "period", "wave",
                                    "scores",      "answers", NULL};
    ind_check_fields(L, i, where, f);
    const char *who = ind_fx_req(L, i, where, "participant");
    const char *survey = ind_fx_req(L, i, where, "survey");
    const char *period = ind_fx_req(L, i, where, "period");
    const char *wave = ind_fx_word(L, i, where, "wave", VOCAB_WAVE, 0);
    struct period p;
    if (registry_period_parse(period, &p) < 0)
        luaL_error(L, "fixture: %s: period \"%s\" is not one such as 2026/27", where, period);
    size_t nscores, nanswers;
    const struct ind_fixture_value *scores = ind_fx_values(L, i, where, "scores", &nscores);
    const struct ind_fixture_value *answers = ind_fx_values(L, i, where, "answers", &nanswers);
    struct err e = {0};
    ind_fx_check(L,
                 store_ind_fixture_response(t->st, who, survey, period, wave ? wave : "none",
                                            scores, nscores, answers, nanswers, &e),
                 where, &e);
}

/* fixture{orgs = ..., programmes = ..., participants = ..., pairs = ..., figures = ...,
 * responses = ...}: adds to the test's database, in that order. */
static int ind_test_fixture(lua_State *L)
{
    struct ind_test *t = ind_test_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const f[] = {"orgs",      "programmes", "participants", "pairs", "figures",
                                    "responses", NULL};
    ind_check_fields(L, 1, "fixture", f);
    ind_fx_each(L, 1, "orgs", ind_fx_org, t);
    ind_fx_each(L, 1, "programmes", ind_fx_programme, t);
    ind_fx_each(L, 1, "participants", ind_fx_participant, t);
    ind_fx_each(L, 1, "pairs", ind_fx_pair, t);
    ind_fx_each(L, 1, "figures", ind_fx_figure, t);
    ind_fx_each(L, 1, "responses", ind_fx_response, t);
    return 0;
}

static int ind_test_report_gc(lua_State *L)
{
    struct indicator_report **box = lua_touserdata(L, 1);
    indicator_report_free(*box);
    *box = NULL;
    return 0;
}

static void ind_push_measure(lua_State *L, int has_num, double num, double den, int has_value,
                             double value, int has_n, double n)
{
    if (has_num) {
        ind_set_num(L, "num", num);
        ind_set_num(L, "den", den);
    }
    if (has_value)
        ind_set_num(L, "value", value);
    if (has_n)
        ind_set_num(L, "n", n);
}

/* run{period = ..., org = ...}: results[indicator][org] = {num, den, value, n, target, ...}. */
static int ind_test_run(lua_State *L)
{
    struct ind_test *t = ind_test_of(L);
    static const char *const names[] = {"period", "org", NULL};
    ind_check_options(L, 1, "run", names);
    struct indicator_run_options opt = {
        .period = ind_opt_str(L, 1, "run", "period"),
        .org = ind_opt_str(L, 1, "run", "org"),
    };
    if (!opt.period)
        return luaL_error(L, "run: period is required");
    struct indicator_report **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &ind_key_report_meta);
    lua_setmetatable(L, -2);
    struct err e = {0};
    if (indicator_run(t->set, t->st, &opt, box, &e) < 0)
        return luaL_error(L, "run: %s", e.msg);
    const struct indicator_report *r = *box;
    static const char *const states[] = {"none", "ok", "failed", "skipped"};
    lua_createtable(L, 0, (int)r->ndefs);
    for (size_t d = 0; d < r->ndefs; d++) {
        double target = 0;
        int has_target = indicator_target(r->defs[d], r->year, &target);
        lua_createtable(L, 0, (int)r->nnodes);
        for (size_t k = 0; k < r->nnodes; k++) {
            const struct indicator_value *v = &r->values[d * r->nnodes + k];
            lua_createtable(L, 0, 8);
            lua_pushstring(L, states[v->state]);
            lua_setfield(L, -2, "state");
            ind_push_measure(L, v->has_num, v->num, v->den, v->has_value, v->value, v->has_n, v->n);
            if (has_target)
                ind_set_num(L, "target", target);
            if (v->error) {
                lua_pushstring(L, v->error);
                lua_setfield(L, -2, "error");
            }
            lua_createtable(L, 0, (int)v->nparts);
            for (size_t i = 0; i < v->nparts; i++) {
                const struct indicator_part *p = &v->parts[i];
                lua_createtable(L, 0, 4);
                ind_push_measure(L, p->has_num, p->num, p->den, p->has_value, p->value, p->has_n,
                                 p->n);
                lua_setfield(L, -2, p->key);
            }
            lua_setfield(L, -2, "breakdown");
            lua_setfield(L, -2, r->nodes[k].code);
        }
        lua_setfield(L, -2, r->defs[d]->id);
    }
    indicator_report_free(*box);
    *box = NULL;
    return 1;
}

/* Records an expectation; a failure is printed at the line of the test that made it. */
static int ind_expect_done(lua_State *L, int ok, int msg_idx, const char *fmt, ...)
{
    struct ind_test *t = ind_test_of(L);
    if (ok) {
        t->passed++;
        return 0;
    }
    t->failed++;
    lua_Debug ar;
    int line = lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) ? ar.currentline : 0;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = lua_type(L, msg_idx) == LUA_TSTRING ? lua_tostring(L, msg_idx) : NULL;
    fprintf(t->out, "%s:%d: %s%s%s%s\n", t->path, line, what, msg ? " (" : "", msg ? msg : "",
            msg ? ")" : "");
    return 0;
}

/* A value as an expectation's message shows it (numbers without a trailing ".0"). */
static const char *ind_show(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.14g", (double)lua_tonumber(L, idx));
        return lua_pushstring(L, buf);
    }
    return luaL_tolstring(L, idx, NULL);
}

static int ind_test_expect_eq(lua_State *L)
{
    lua_settop(L, 3);
    int ok;
    if (lua_type(L, 1) == LUA_TNUMBER && lua_type(L, 2) == LUA_TNUMBER) {
        double a = lua_tonumber(L, 1), b = lua_tonumber(L, 2);
        ok = fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b));
    } else {
        ok = lua_rawequal(L, 1, 2);
    }
    const char *want = ind_show(L, 2);
    const char *got = ind_show(L, 1);
    return ind_expect_done(L, ok, 3, "expected %s, got %s", want, got);
}

static int ind_test_expect_near(lua_State *L)
{
    lua_settop(L, 4);
    double tol = luaL_checknumber(L, 3);
    int ok = lua_type(L, 1) == LUA_TNUMBER && lua_type(L, 2) == LUA_TNUMBER &&
             fabs(lua_tonumber(L, 1) - lua_tonumber(L, 2)) <= tol;
    const char *want = ind_show(L, 2);
    const char *got = ind_show(L, 1);
    return ind_expect_done(L, ok, 4, "expected %s within %g, got %s", want, tol, got);
}

static int ind_test_expect_nil(lua_State *L)
{
    lua_settop(L, 2);
    return ind_expect_done(L, lua_isnil(L, 1), 2, "expected nil, got %s", ind_show(L, 1));
}

static int ind_test_expect_true(lua_State *L)
{
    lua_settop(L, 2);
    return ind_expect_done(L, lua_toboolean(L, 1), 2, "expected a true value, got %s",
                           ind_show(L, 1));
}

/* expect_error(results.kpi1["org"], "substring"): that value failed with such a message. */
static int ind_test_expect_error(lua_State *L)
{
    lua_settop(L, 3);
    const char *part = luaL_checkstring(L, 2);
    const char *err = NULL;
    if (lua_istable(L, 1) && lua_getfield(L, 1, "error") == LUA_TSTRING)
        err = lua_tostring(L, -1);
    return ind_expect_done(L, err && strstr(err, part), 3,
                           "expected an error containing \"%s\", "
                           "got %s",
                           part, err ? err : "no error");
}

static const luaL_Reg ind_test_funcs[] = {
    {"fixture", ind_test_fixture},           {"run", ind_test_run},
    {"expect_eq", ind_test_expect_eq},       {"expect_near", ind_test_expect_near},
    {"expect_nil", ind_test_expect_nil},     {"expect_true", ind_test_expect_true},
    {"expect_error", ind_test_expect_error}, {NULL, NULL},
};

/* Puts the test functions into the globals (in protected mode). */
static int ind_test_setup(lua_State *L)
{
    struct ind_test *t = lua_touserdata(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, ind_test_report_gc);
    lua_setfield(L, -2, "__gc");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ind_key_report_meta);
    lua_pushglobaltable(L);
    lua_pushlightuserdata(L, t);
    luaL_setfuncs(L, ind_test_funcs, 1);
    return 0;
}

static void ind_remove_db(const char *dir)
{
    static const char *const files[] = {"test.db", "test.db-wal", "test.db-shm"};
    char path[IND_PATH_MAX + 16];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Runs one test file with its own database. */
static void ind_test_file(struct indicator_set *set, const char *path, const char *tmp_dir,
                          FILE *out, struct indicator_test_result *res)
{
    struct ind_test t = {.set = set, .path = path, .out = out};
    char dir[IND_PATH_MAX], db[IND_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/anketa-indicator-test-XXXXXX", tmp_dir);
    struct err e = {0};
    char *text = NULL;
    size_t len = 0;
    struct sandbox *sb = NULL;
    int made = mkdtemp(dir) != NULL;
    snprintf(db, sizeof db, "%s/test.db", dir);
    struct store_options sopt = {.migrate = 1, .synchronous = "NORMAL"};
    struct sandbox_limits lim = {.memory = (size_t)256 << 20, .time_ms = 60000};
    int rc = !made ? err_set(&e, dir, 0, 0, "cannot make a directory: %s", strerror(errno))
             : store_open(db, &sopt, &t.st, &e) != STORE_OK        ? -1
             : ind_read_file(path, &text, &len, &e) < 0            ? -1
             : sandbox_new(&lim, ind_lib_lookup, set, &sb, &e) < 0 ? -1
             : sandbox_cpcall(sb, ind_test_setup, &t, &e) < 0      ? -1
             : sandbox_load(sb, path, text, len, &e) < 0           ? -1
                                                                   : sandbox_pcall(sb, 0, 0, &e);
    if (sb && sandbox_output(sb)[0])
        fputs(sandbox_output(sb), out);
    if (rc < 0) {
        char msg[1024];
        if (!e.file[0])
            snprintf(e.file, sizeof e.file, "%s", path);
        err_format(&e, msg, sizeof msg);
        fprintf(out, "%s\n", msg);
        t.failed++;
    }
    fprintf(out, "%s: %ld passed, %ld failed\n", path, t.passed, t.failed);
    res->files++;
    res->passed += t.passed;
    res->failed += t.failed;
    sandbox_free(sb);
    free(text);
    store_close(t.st);
    if (made)
        ind_remove_db(dir);
}

static int ind_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int indicator_test_dir(struct indicator_set *set, const char *dir, const char *tmp_dir, FILE *out,
                       struct indicator_test_result *res, struct err *e)
{
    memset(res, 0, sizeof *res);
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, dir, 0, 0, "cannot read the directory: %s", strerror(errno));
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !ind_has_suffix(de->d_name, "_test.lua"))
            continue;
        char **p = realloc(names, (n + 1) * sizeof *names);
        char *path = malloc(strlen(dir) + strlen(de->d_name) + 2);
        if (!p || !path) {
            free(path);
            names = p ? p : names;
            rc = err_set(e, dir, 0, 0, "out of memory");
            break;
        }
        names = p;
        sprintf(path, "%s/%s", dir, de->d_name);
        names[n++] = path;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, ind_str_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++)
        ind_test_file(set, names[i], tmp_dir, out, res);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc == 0 && n == 0)
        return err_set(e, dir, 0, 0, "no test files (*_test.lua) here");
    return rc;
}

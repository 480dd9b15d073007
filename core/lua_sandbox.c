/*
 * lua_sandbox: owns the Lua states that run indicator scripts: the allow-listed environment,
 * the capped allocator, the deadline hook, the bounded string functions, the restricted
 * require, and read-only views of tables handed to scripts.
 */
#include "lua_sandbox.h"

#include "err.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Instructions between two looks at the clock: a look costs ~20 ns, 10000 instructions ~50 us. */
#define SANDBOX_HOOK_COUNT 10000

/* The most print() keeps; later output is dropped with a note. */
#define SANDBOX_OUTPUT_MAX ((size_t)64 << 10)

/*
 * The bound on Lua's pattern matcher, which has no time limit of its own. Every quantifier
 * (* + - ?), back-reference (%1-%9) and balance (%b) may multiply the work by the subject's
 * length n, and an unanchored pattern is tried at every position: a call is refused when
 * m * (n + 1)^(q + 1) exceeds this (m the pattern's length, q those items; q without the
 * + 1 for a pattern starting with ^). It keeps a refused-or-finished call under ~0.1 s.
 */
#define SANDBOX_PATTERN_COST 1e8
#define SANDBOX_PATTERN_MAX  256

struct sandbox {
    lua_State *L;
    struct sandbox_limits lim;
    size_t used, peak;
    struct timespec deadline;
    int expired;
    enum sandbox_failure failure;
    sandbox_lib_fn libs;
    void *libs_ctx;
    char *out;
    size_t out_len, out_cap;
    int out_full;
};

/* Registry keys: their addresses are unique. */
static const char sandbox_key_readonly = 0; /* the metatable of read-only views */
static const char sandbox_key_views = 0;    /* table -> its view, weak keys */
static const char sandbox_key_loaded = 0;   /* library name -> module, for require */

struct sandbox *sandbox_of(lua_State *L)
{
    return *(struct sandbox **)lua_getextraspace(L);
}

lua_State *sandbox_lua(struct sandbox *sb)
{
    return sb->L;
}

enum sandbox_failure sandbox_failure(const struct sandbox *sb)
{
    return sb->failure;
}

size_t sandbox_memory_used(const struct sandbox *sb)
{
    return sb->used;
}

size_t sandbox_memory_peak(const struct sandbox *sb)
{
    return sb->peak;
}

const char *sandbox_output(const struct sandbox *sb)
{
    return sb->out ? sb->out : "";
}

void sandbox_clear_output(struct sandbox *sb)
{
    sb->out_len = 0;
    sb->out_full = 0;
    if (sb->out)
        sb->out[0] = '\0';
}

/* The allocator: refuses growth past the cap, which Lua turns into a memory error. */
static void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && sb->used + (nsize - old) > sb->lim.memory)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    sb->used = sb->used - old + nsize;
    if (sb->used > sb->peak)
        sb->peak = sb->used;
    return p;
}

void sandbox_start_clock(struct sandbox *sb)
{
    clock_gettime(CLOCK_MONOTONIC, &sb->deadline);
    sb->deadline.tv_sec += sb->lim.time_ms / 1000;
    sb->deadline.tv_nsec += (sb->lim.time_ms % 1000) * 1000000L;
    if (sb->deadline.tv_nsec >= 1000000000L) {
        sb->deadline.tv_sec++;
        sb->deadline.tv_nsec -= 1000000000L;
    }
    if (sb->expired) {
        sb->expired = 0;
        lua_sethook(sb->L, lua_gethook(sb->L), LUA_MASKCOUNT, SANDBOX_HOOK_COUNT);
    }
}

int sandbox_expired(struct sandbox *sb)
{
    if (sb->expired)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < sb->deadline.tv_sec ||
        (now.tv_sec == sb->deadline.tv_sec && now.tv_nsec < sb->deadline.tv_nsec))
        return 0;
    /* From now on every instruction raises (see sandbox_hook). */
    sb->expired = 1;
    lua_sethook(sb->L, lua_gethook(sb->L), LUA_MASKCOUNT, 1);
    return 1;
}

/*
 * Raises the time-limit error at the script's current position: from the hook, the running
 * function's (ar); from a C function, its caller's (luaL_error adds it).
 */
static int sandbox_time_error(lua_State *L, lua_Debug *ar)
{
    struct sandbox *sb = sandbox_of(L);
    if (!ar)
        return luaL_error(L, "time limit of %d ms exceeded", (int)sb->lim.time_ms);
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        lua_pushfstring(L, "%s:%d: time limit of %d ms exceeded", ar->short_src, ar->currentline,
                        (int)sb->lim.time_ms);
    else
        lua_pushfstring(L, "time limit of %d ms exceeded", (int)sb->lim.time_ms);
    return lua_error(L);
}

/*
 * Past the deadline the hook fires at every instruction and raises each time: a pcall in
 * the script catches one error, and the next instruction of its caller raises the next.
 */
static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    if (sandbox_expired(sandbox_of(L)))
        sandbox_time_error(L, ar);
}

/* The C functions below check the clock too: they may run long between two instructions. */
static void sandbox_check_time(lua_State *L)
{
    if (sandbox_expired(sandbox_of(L)))
        sandbox_time_error(L, NULL);
}

/* How many items of a pattern can multiply the matcher's work; *anchored for a leading ^. */
static int sandbox_pattern_items(const char *p, size_t m, int *anchored)
{
    size_t i = 0;
    int q = 0;
    *anchored = m > 0 && p[0] == '^';
    if (*anchored)
        i = 1;
    while (i < m) {
        char c = p[i];
        if (c == '%' && i + 1 < m) {
            char d = p[i + 1];
            if (d == 'b' || (d >= '1' && d <= '9'))
                q++;
            i += d == 'b' ? 4 : 2;
        } else if (c == '[') {
            /* A set: Lua reads at least one character after [ or [^, so []] is a set. */
            i++;
            if (i < m && p[i] == '^')
                i++;
            do {
                i += (i < m && p[i] == '%') ? 2 : 1;
            } while (i < m && p[i] != ']');
            i++;
        } else {
            if (c == '*' || c == '+' || c == '-' || c == '?')
                q++;
            i++;
        }
    }
    return q;
}

/* Refuses a pattern call whose worst case would outlast the deadline (see SANDBOX_PATTERN_COST). */
static void sandbox_check_pattern(lua_State *L, const char *fname)
{
    size_t n, m;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &m);
    sandbox_check_time(L);
    if (m > SANDBOX_PATTERN_MAX)
        luaL_error(L, "%s: pattern longer than %d bytes", fname, SANDBOX_PATTERN_MAX);
    int anchored;
    int q = sandbox_pattern_items(p, m, &anchored);
    double cost = (double)(m ? m : 1) * pow((double)n + 1.0, (double)(q + !anchored));
    if (cost > SANDBOX_PATTERN_COST)
        luaL_error(L,
                   "%s: pattern \"%s\" is too costly for a subject of %d bytes (%d repetition "
                   "items; see docs/indicators.md, Sandbox)",
                   fname, p, (int)n, q);
}

/* The original library function a wrapper calls, kept as its upvalue. */
static int sandbox_call_original(lua_State *L)
{
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
    return f(L);
}

static int sandbox_str_find(lua_State *L)
{
    if (!lua_toboolean(L, 4))
        sandbox_check_pattern(L, "string.find");
    return sandbox_call_original(L);
}

static int sandbox_str_match(lua_State *L)
{
    sandbox_check_pattern(L, "string.match");
    return sandbox_call_original(L);
}

static int sandbox_str_gmatch(lua_State *L)
{
    sandbox_check_pattern(L, "string.gmatch");
    return sandbox_call_original(L);
}

static int sandbox_str_gsub(lua_State *L)
{
    sandbox_check_pattern(L, "string.gsub");
    return sandbox_call_original(L);
}

static int sandbox_str_rep(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    size_t l, ls = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &ls);
    sandbox_check_time(L);
    double total = n > 0 ? (double)l * (double)n + (double)ls * (double)(n - 1) : 0.0;
    if (total > (double)sb->lim.string_max)
        return luaL_error(L, "string.rep: a result of %I bytes is over the limit of %I",
                          (lua_Integer)(total < 9e18 ? total : 9e18),
                          (lua_Integer)sb->lim.string_max);
    return sandbox_call_original(L);
}

/*
 * xpcall's message handler runs where the error was raised; for the time-limit error that is
 * inside the hook, where Lua runs no hooks, so a looping handler would never be stopped. Past
 * the deadline the script's handler is skipped and the message passed on as it is.
 */
static int sandbox_xpcall_handler(lua_State *L)
{
    if (sandbox_of(L)->expired)
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sandbox_xpcall(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, sandbox_xpcall_handler, 1);
    lua_replace(L, 2);
    return sandbox_call_original(L);
}

/* setmetatable without finalizers: a __gc would run at close, outside any script's call. */
static int sandbox_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc is not allowed in indicator scripts");
        lua_pop(L, 1);
    }
    return sandbox_call_original(L);
}

static void sandbox_out_append(struct sandbox *sb, const char *s, size_t n)
{
    if (sb->out_full)
        return;
    static const char cut[] = "... (output truncated)\n";
    if (sb->out_len + n + sizeof cut > SANDBOX_OUTPUT_MAX) {
        s = cut;
        n = sizeof cut - 1;
        sb->out_full = 1;
    }
    if (sb->out_len + n + 1 > sb->out_cap) {
        size_t cap = sb->out_cap ? sb->out_cap : 256;
        while (cap < sb->out_len + n + 1)
            cap *= 2;
        char *p = realloc(sb->out, cap);
        if (!p) {
            sb->out_full = 1;
            return;
        }
        sb->out = p;
        sb->out_cap = cap;
    }
    memcpy(sb->out + sb->out_len, s, n);
    sb->out_len += n;
    sb->out[sb->out_len] = '\0';
}

/* print: the values tab-separated on one line of the output buffer, never to stdout. */
static int sandbox_print(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            sandbox_out_append(sb, "\t", 1);
        sandbox_out_append(sb, s, len);
        lua_pop(L, 1);
    }
    sandbox_out_append(sb, "\n", 1);
    return 0;
}

static int sandbox_name_valid(const char *s)
{
    if (!*s || strlen(s) > 64 || !(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* require(name): a module of the engine's library, loaded once per state; nothing else. */
static int sandbox_require(lua_State *L)
{
    struct sandbox *sb = sandbox_of(L);
    const char *name = luaL_checkstring(L, 1);
    if (!sandbox_name_valid(name))
        return luaL_error(L, "require: \"%s\" is not a library name (a-z, 0-9, _)", name);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_key_loaded);
    int loaded = lua_gettop(L);
    int t = lua_getfield(L, loaded, name);
    if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        return luaL_error(L, "require: \"%s\" requires itself (through other libraries)", name);
    if (t != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    const struct sandbox_lib *lib = sb->libs ? sb->libs(sb->libs_ctx, name) : NULL;
    if (!lib)
        return luaL_error(L, "require: no library \"%s\" in lua/lib", name);
    char chunk[4200];
    snprintf(chunk, sizeof chunk, "@%s", lib->path);
    if (luaL_loadbufferx(L, lib->source, lib->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_pushboolean(L, 0);
    lua_setfield(L, loaded, name);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, name);
    return 1;
}

static int sandbox_ro_index(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) == LUA_TTABLE)
        sandbox_push_readonly(L, -1);
    return 1;
}

static int sandbox_ro_newindex(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "attempt to modify a read-only table (field '%s')",
                          lua_tostring(L, 2));
    return luaL_error(L, "attempt to modify a read-only table");
}

static int sandbox_ro_len(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static int sandbox_ro_next(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    if (!lua_next(L, -2)) {
        lua_pushnil(L);
        return 1;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        sandbox_push_readonly(L, -1);
        lua_remove(L, -2);
    }
    return 2;
}

static int sandbox_ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, sandbox_ro_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void sandbox_push_readonly(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "read-only view");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_key_views);
    int views = lua_gettop(L);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, views) != LUA_TNIL) {
        lua_remove(L, views);
        return;
    }
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 1);
    lua_pushvalue(L, idx);
    lua_setiuservalue(L, -2, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sandbox_key_readonly);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, views);
    lua_remove(L, views);
}

/* Replaces t[name] (t at the top) with a wrapper closing over the original function. */
static void sandbox_wrap(lua_State *L, const char *name, lua_CFunction wrapper)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, -2, name);
}

/* Removes the listed fields from the table at the top. */
static void sandbox_drop(lua_State *L, const char *const *names)
{
    for (; *names; names++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *names);
    }
}

static const char *const sandbox_base_allowed[] = {
    "assert",   "error",    "getmetatable", "ipairs",   "next",   "pairs",
    "pcall",    "rawequal", "rawget",       "rawlen",   "rawset", "select",
    "tonumber", "tostring", "type",         "_VERSION", NULL,
};

/* Builds the environment; runs in protected mode, so running out of memory is an error. */
static int sandbox_setup(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    int old = lua_gettop(L);
    lua_newtable(L);
    int g = lua_gettop(L);
    for (const char *const *n = sandbox_base_allowed; *n; n++) {
        lua_getfield(L, old, *n);
        lua_setfield(L, g, *n);
    }
    lua_getfield(L, old, "setmetatable");
    lua_pushcclosure(L, sandbox_setmetatable, 1);
    lua_setfield(L, g, "setmetatable");
    lua_getfield(L, old, "xpcall");
    lua_pushcclosure(L, sandbox_xpcall, 1);
    lua_setfield(L, g, "xpcall");
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, sandbox_require);
    lua_setfield(L, g, "require");
    lua_pushvalue(L, g);
    lua_setfield(L, g, LUA_GNAME);

    /* The string table is also the strings' __index: edit it in place, not a copy. */
    static const char *const str_drop[] = {"dump", "pack", "packsize", "unpack", NULL};
    lua_getfield(L, old, LUA_STRLIBNAME);
    sandbox_drop(L, str_drop);
    sandbox_wrap(L, "rep", sandbox_str_rep);
    sandbox_wrap(L, "find", sandbox_str_find);
    sandbox_wrap(L, "match", sandbox_str_match);
    sandbox_wrap(L, "gmatch", sandbox_str_gmatch);
    sandbox_wrap(L, "gsub", sandbox_str_gsub);
    lua_setfield(L, g, LUA_STRLIBNAME);

    static const char *const tab_drop[] = {"move", NULL};
    lua_getfield(L, old, LUA_TABLIBNAME);
    sandbox_drop(L, tab_drop);
    lua_setfield(L, g, LUA_TABLIBNAME);

    static const char *const math_drop[] = {"random", "randomseed", NULL};
    lua_getfield(L, old, LUA_MATHLIBNAME);
    sandbox_drop(L, math_drop);
    lua_setfield(L, g, LUA_MATHLIBNAME);

    lua_getfield(L, old, LUA_UTF8LIBNAME);
    lua_setfield(L, g, LUA_UTF8LIBNAME);

    /* Chunks loaded from now on get g as _ENV. */
    lua_pushvalue(L, g);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    /* The loaded-libraries table of luaL_requiref would hand out the unfiltered tables. */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);

    static const luaL_Reg ro_meta[] = {
        {"__index", sandbox_ro_index},
        {"__newindex", sandbox_ro_newindex},
        {"__len", sandbox_ro_len},
        {"__pairs", sandbox_ro_pairs},
        {NULL, NULL},
    };
    luaL_newlibtable(L, ro_meta);
    luaL_setfuncs(L, ro_meta, 0);
    lua_pushliteral(L, "read-only");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_key_readonly);

    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_key_views);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sandbox_key_loaded);

    /* getmetatable("") gets an empty read-only view, never the strings' real metatable. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_newtable(L);
    sandbox_push_readonly(L, -1);
    lua_setfield(L, -3, "__metatable");
    lua_pop(L, 3);
    lua_settop(L, 0);
    return 0;
}

int sandbox_new(const struct sandbox_limits *lim, sandbox_lib_fn libs, void *libs_ctx,
                struct sandbox **out, struct err *e)
{
    *out = NULL;
    struct sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return err_set(e, NULL, 0, 0, "sandbox: out of memory");
    if (lim)
        sb->lim = *lim;
    if (!sb->lim.memory)
        sb->lim.memory = SANDBOX_MEMORY_DEFAULT;
    if (sb->lim.time_ms <= 0)
        sb->lim.time_ms = SANDBOX_TIME_DEFAULT;
    if (!sb->lim.string_max)
        sb->lim.string_max = SANDBOX_STRING_DEFAULT;
    sb->libs = libs;
    sb->libs_ctx = libs_ctx;
    sb->L = lua_newstate(sandbox_alloc, sb);
    if (!sb->L) {
        free(sb);
        return err_set(e, NULL, 0, 0, "sandbox: cannot create a Lua state (out of memory)");
    }
    *(struct sandbox **)lua_getextraspace(sb->L) = sb;
    lua_sethook(sb->L, sandbox_hook, LUA_MASKCOUNT, SANDBOX_HOOK_COUNT);
    sandbox_start_clock(sb);
    if (sandbox_cpcall(sb, sandbox_setup, NULL, e) < 0) {
        sandbox_free(sb);
        return -1;
    }
    *out = sb;
    return 0;
}

void sandbox_free(struct sandbox *sb)
{
    if (!sb)
        return;
    if (sb->L)
        lua_close(sb->L);
    free(sb->out);
    free(sb);
}

/* Splits "file:line: message" into e; a message without a position keeps fallback_file. */
static void sandbox_fill_err(struct err *e, const char *msg, const char *fallback_file)
{
    const char *p = msg;
    while ((p = strchr(p, ':')) != NULL) {
        const char *d = p + 1;
        while (*d >= '0' && *d <= '9')
            d++;
        if (d > p + 1 && *d == ':') {
            char file[256];
            snprintf(file, sizeof file, "%.*s", (int)(p - msg), msg);
            int line = atoi(p + 1);
            err_set(e, file, line, 0, "%s", d[1] == ' ' ? d + 2 : d + 1);
            return;
        }
        p++;
    }
    err_set(e, fallback_file, 0, 0, "%s", msg);
}

/* Whether msg starts with "something:digits:" (the position Lua puts in front). */
static int sandbox_has_position(const char *msg)
{
    const char *p = strchr(msg, ':');
    if (!p || p == msg)
        return 0;
    const char *d = p + 1;
    while (*d >= '0' && *d <= '9')
        d++;
    return d > p + 1 && *d == ':';
}

/* The message handler: a string message with the innermost script position in front. */
static int sandbox_handler(lua_State *L)
{
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    if (msg && sandbox_has_position(msg))
        return 1;
    if (!msg)
        msg = lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
            return 1;
        }
    }
    lua_pushstring(L, msg);
    return 1;
}

/* Finishes a protected call that returned status: e filled, the message popped. */
static int sandbox_finish(struct sandbox *sb, int status, const char *where, struct err *e)
{
    lua_State *L = sb->L;
    if (status == LUA_OK) {
        sb->failure = SANDBOX_FAIL_NONE;
        return 0;
    }
    if (sb->expired) {
        sb->failure = SANDBOX_FAIL_TIME;
    } else if (status == LUA_ERRMEM) {
        sb->failure = SANDBOX_FAIL_MEMORY;
        lua_pop(L, 1);
        return err_set(e, where, 0, 0, "memory limit of %zu MB exceeded", sb->lim.memory >> 20);
    } else {
        sb->failure = SANDBOX_FAIL_ERROR;
    }
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
    if (sb->failure == SANDBOX_FAIL_TIME && !strstr(msg, "time limit"))
        err_set(e, where, 0, 0, "time limit of %ld ms exceeded", sb->lim.time_ms);
    else
        sandbox_fill_err(e, msg, where);
    lua_pop(L, 1);
    return -1;
}

int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, struct err *e)
{
    lua_State *L = sb->L;
    if (!lua_checkstack(L, 2)) {
        lua_pop(L, nargs + 1);
        sb->failure = SANDBOX_FAIL_MEMORY;
        return err_set(e, NULL, 0, 0, "memory limit of %zu MB exceeded", sb->lim.memory >> 20);
    }
    int fn = lua_gettop(L) - nargs;
    lua_Debug ar;
    char where[256] = "";
    lua_pushvalue(L, fn);
    if (lua_getinfo(L, ">S", &ar))
        snprintf(where, sizeof where, "%s", ar.short_src);
    lua_pushcfunction(L, sandbox_handler);
    lua_insert(L, fn);
    int status = lua_pcall(L, nargs, nresults, fn);
    lua_remove(L, fn);
    return sandbox_finish(sb, status, where[0] ? where : NULL, e);
}

int sandbox_cpcall(struct sandbox *sb, lua_CFunction fn, void *ud, struct err *e)
{
    lua_State *L = sb->L;
    if (!lua_checkstack(L, 3)) {
        sb->failure = SANDBOX_FAIL_MEMORY;
        return err_set(e, NULL, 0, 0, "memory limit of %zu MB exceeded", sb->lim.memory >> 20);
    }
    lua_pushcfunction(L, sandbox_handler);
    int h = lua_gettop(L);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, ud);
    int status = lua_pcall(L, 1, 0, h);
    lua_remove(L, h);
    return sandbox_finish(sb, status, NULL, e);
}

int sandbox_load(struct sandbox *sb, const char *path, const char *src, size_t len, struct err *e)
{
    char chunk[4200];
    snprintf(chunk, sizeof chunk, "@%s", path);
    if (len > 0 && src[0] == LUA_SIGNATURE[0]) {
        sb->failure = SANDBOX_FAIL_SYNTAX;
        return err_set(e, path, 0, 0, "precompiled (bytecode) chunks are not accepted");
    }
    if (!lua_checkstack(sb->L, 1)) {
        sb->failure = SANDBOX_FAIL_MEMORY;
        return err_set(e, path, 0, 0, "memory limit of %zu MB exceeded", sb->lim.memory >> 20);
    }
    int status = luaL_loadbufferx(sb->L, src, len, chunk, "t");
    if (status == LUA_OK) {
        sb->failure = SANDBOX_FAIL_NONE;
        return 0;
    }
    if (status == LUA_ERRMEM) {
        lua_pop(sb->L, 1);
        sb->failure = SANDBOX_FAIL_MEMORY;
        return err_set(e, path, 0, 0, "memory limit of %zu MB exceeded", sb->lim.memory >> 20);
    }
    sb->failure = SANDBOX_FAIL_SYNTAX;
    const char *msg = lua_tostring(sb->L, -1);
    sandbox_fill_err(e, msg ? msg : "cannot load", path);
    lua_pop(sb->L, 1);
    return -1;
}

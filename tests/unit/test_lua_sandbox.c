/*
 * Tests of the Lua sandbox: the allow-list, the deadline that pcall cannot swallow, the
 * memory cap, the bounded string functions, bytecode refusal, read-only views, the
 * restricted require, and that no run leaks into the next.
 */
#include "err.h"
#include "lua_sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define TEST_TIME_MS 200L
/* How much CPU past the deadline a hostile script may take to stop (sanitizers slow
 * everything). CPU time, not wall time: on a loaded machine the wall clock of a run says
 * more about the other processes than about the sandbox. */
#define TEST_SLACK_MS 300L

struct outcome {
    int rc;
    enum sandbox_failure failure;
    struct err e;
    long ms;
    char result[256]; /* the first result as text (tostring) */
};

/* The CPU time of this process. */
static long test_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static const char *const test_lib_sources[][2] = {
    {"twice", "local M = {} function M.twice(x) return 2 * x end return M"},
    {"loop_a", "return require('loop_b')"},
    {"loop_b", "return require('loop_a')"},
    {"broken", "local x = \n return x +"},
};

/* The library of the tests: names to sources, with the path the engine would give. */
static const struct sandbox_lib *test_lib(void *ctx, const char *name)
{
    static char path[64];
    static struct sandbox_lib lib;
    (void)ctx;
    for (size_t i = 0; i < sizeof test_lib_sources / sizeof test_lib_sources[0]; i++) {
        if (strcmp(test_lib_sources[i][0], name) == 0) {
            snprintf(path, sizeof path, "lua/lib/%s.lua", name);
            lib.path = path;
            lib.source = test_lib_sources[i][1];
            lib.len = strlen(lib.source);
            return &lib;
        }
    }
    return NULL;
}

static int test_tostring_result(lua_State *L)
{
    char *out = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_getglobal(L, "__result");
    size_t len;
    const char *s = luaL_tolstring(L, -1, &len);
    snprintf(out, 256, "%s", s);
    return 0;
}

/* Runs src in a fresh sandbox with the given limits (0: the test defaults). */
static struct outcome run_limits(const char *src, size_t memory, long time_ms)
{
    struct outcome o = {0};
    struct sandbox_limits lim = {.memory = memory ? memory : (size_t)16 << 20,
                                 .time_ms = time_ms ? time_ms : TEST_TIME_MS};
    struct sandbox *sb;
    assert_int_equal(sandbox_new(&lim, test_lib, NULL, &sb, &o.e), 0);
    long t0 = test_now_ms();
    o.rc = sandbox_load(sb, "test.lua", src, strlen(src), &o.e);
    if (o.rc == 0)
        o.rc = sandbox_pcall(sb, 0, 1, &o.e);
    o.ms = test_now_ms() - t0;
    o.failure = sandbox_failure(sb);
    if (o.rc == 0) {
        lua_setglobal(sandbox_lua(sb), "__result");
        assert_int_equal(sandbox_cpcall(sb, test_tostring_result, o.result, &o.e), 0);
    }
    sandbox_free(sb);
    return o;
}

static struct outcome run(const char *src)
{
    return run_limits(src, 0, 0);
}

static void expect_result(const char *src, const char *want)
{
    struct outcome o = run(src);
    if (o.rc != 0)
        fail_msg("%s: %s:%d: %s", src, o.e.file, o.e.line, o.e.msg);
    assert_string_equal(o.result, want);
}

static void expect_error(const char *src, enum sandbox_failure failure, int line,
                         const char *msg_part)
{
    struct outcome o = run(src);
    assert_int_equal(o.rc, -1);
    if (o.failure != failure || !strstr(o.e.msg, msg_part) || (line && o.e.line != line))
        fail_msg("%s: failure %d (want %d), line %d (want %d), message \"%s\" (want \"%s\")", src,
                 (int)o.failure, (int)failure, o.e.line, line, o.e.msg, msg_part);
    assert_true(o.ms < TEST_TIME_MS + TEST_SLACK_MS);
}

/* After anything hostile, a fresh sandbox runs an ordinary script as usual. */
static void expect_next_run_unaffected(void)
{
    expect_result("return ('ab'):upper() .. #string.rep('x', 3) .. tostring(_G.leak)", "AB3nil");
}

static void test_ordinary_script(void **state)
{
    (void)state;
    expect_result("local t = {3, 1, 2} table.sort(t) return table.concat(t, ',')", "1,2,3");
    expect_result("return string.format('%.1f', math.floor(7.9) / 2)", "3.5");
    expect_result("return utf8.len('наставник')", "9");
    expect_result("local ok, msg = pcall(error, 'boom', 0) return tostring(ok) .. ' ' .. msg",
                  "false boom");
    expect_result("return select('#', 1, 2, 3)", "3");
    expect_result("return string.match('kpi-2023', '%d+')", "2023");
    expect_result("return (string.gsub('a-b-c', '-', '+'))", "a+b+c");
    expect_result("local n = 0 for w in string.gmatch('one two three', '%a+') do n = n + 1 end "
                  "return n",
                  "3");
    expect_result("return string.find(string.rep('ab', 100000) .. 'c', 'c', 1, true)", "200001");
}

static void test_forbidden_globals_absent(void **state)
{
    (void)state;
    static const char *const names[] = {
        "os",          "io",          "package",       "debug",          "load",
        "loadstring",  "dofile",      "loadfile",      "collectgarbage", "coroutine",
        "string.dump", "string.pack", "string.unpack", "math.random",    "math.randomseed",
        "table.move",  "warn",        "module",        "setfenv",        "getfenv",
        "unpack",      "newproxy",    "gcinfo",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[128];
        snprintf(src, sizeof src, "return type(%s)", names[i]);
        struct outcome o = run(src);
        if (o.rc != 0 || strcmp(o.result, "nil") != 0)
            fail_msg("%s is reachable: %s %s", names[i], o.result, o.e.msg);
    }
    expect_error("os.exit(1)", SANDBOX_FAIL_ERROR, 1, "attempt to index a nil value (global 'os')");
    expect_error("\nio.open('/etc/passwd')", SANDBOX_FAIL_ERROR, 2,
                 "attempt to index a nil value (global 'io')");
    expect_error("return require('os')", SANDBOX_FAIL_ERROR, 1, "no library \"os\" in lua/lib");
    expect_error("return require('../../etc/passwd')", SANDBOX_FAIL_ERROR, 1,
                 "is not a library name");
    expect_error("return load('return 1')()", SANDBOX_FAIL_ERROR, 1, "global 'load'");
    expect_error("return debug.getregistry()", SANDBOX_FAIL_ERROR, 1, "global 'debug'");
    expect_error("dofile('/etc/passwd')", SANDBOX_FAIL_ERROR, 1, "global 'dofile'");
    expect_error("return ('x'):dump()", SANDBOX_FAIL_ERROR, 1, "method 'dump'");
    expect_next_run_unaffected();
}

static void test_syntax_error_position(void **state)
{
    (void)state;
    struct outcome o = run("local a = 1\nlocal b = = 2\n");
    assert_int_equal(o.rc, -1);
    assert_int_equal(o.failure, SANDBOX_FAIL_SYNTAX);
    assert_string_equal(o.e.file, "test.lua");
    assert_int_equal(o.e.line, 2);
    assert_string_equal(o.e.msg, "unexpected symbol near '='");
}

static void test_runtime_error_position(void **state)
{
    (void)state;
    struct outcome o = run("local n\n\nreturn n + 1\n");
    assert_int_equal(o.failure, SANDBOX_FAIL_ERROR);
    assert_string_equal(o.e.file, "test.lua");
    assert_int_equal(o.e.line, 3);
    assert_string_equal(o.e.msg, "attempt to perform arithmetic on a nil value (local 'n')");
    /* An error object that is not a string still gets the position where it was raised. */
    o = run("\nerror({code = 1})\n");
    assert_int_equal(o.e.line, 2);
    assert_string_equal(o.e.msg, "error object is a table value");
    o = run("error('no position', 0)");
    assert_int_equal(o.e.line, 1);
    assert_string_equal(o.e.msg, "no position");
}

static void test_infinite_loop(void **state)
{
    (void)state;
    expect_error("local i = 0\nwhile true do i = i + 1 end", SANDBOX_FAIL_TIME, 2,
                 "time limit of 200 ms exceeded");
    expect_next_run_unaffected();
}

static void test_pcall_cannot_swallow_the_deadline(void **state)
{
    (void)state;
    expect_error("while true do pcall(function() while true do end end) end", SANDBOX_FAIL_TIME, 0,
                 "time limit");
    expect_error("while true do\n  xpcall(function() while true do end end,\n"
                 "         function() while true do end end)\nend",
                 SANDBOX_FAIL_TIME, 0, "time limit");
    expect_error("local function f() return f() end\nwhile true do pcall(f) end", SANDBOX_FAIL_TIME,
                 0, "time limit");
    expect_next_run_unaffected();
}

static void test_deep_recursion(void **state)
{
    (void)state;
    /* Lua's stack (a million slots) fits in the default 64 MB: the overflow is Lua's own. */
    struct outcome o =
        run_limits("local function f(n) return 1 + f(n + 1) end\nreturn f(1)", (size_t)64 << 20, 0);
    assert_int_equal(o.failure, SANDBOX_FAIL_ERROR);
    assert_int_equal(o.e.line, 1);
    assert_non_null(strstr(o.e.msg, "stack overflow"));
    /* Under a smaller cap the same recursion is stopped by the cap. */
    o = run("local function f(n) return 1 + f(n + 1) end\nreturn f(1)");
    assert_int_equal(o.failure, SANDBOX_FAIL_MEMORY);
    expect_error("local t = setmetatable({}, {__index = function(t, k) return t[k] end})\n"
                 "return t.x",
                 SANDBOX_FAIL_ERROR, 0, "stack overflow");
    expect_error("local s = '(' for i = 1, 300 do s = s .. '(' end return string.find('x', s)",
                 SANDBOX_FAIL_ERROR, 1, "pattern");
    expect_next_run_unaffected();
}

static void test_memory_bombs(void **state)
{
    (void)state;
    struct outcome o = run("local t = {}\nfor i = 1, 1e9 do t[i] = i end");
    assert_int_equal(o.failure, SANDBOX_FAIL_MEMORY);
    assert_string_equal(o.e.msg, "memory limit of 16 MB exceeded");
    assert_string_equal(o.e.file, "test.lua");
    o = run("local s = 'x'\nwhile true do s = s .. s end");
    assert_int_equal(o.failure, SANDBOX_FAIL_MEMORY);
    o = run("local t = {}\nwhile true do t[#t + 1] = {} end");
    assert_int_equal(o.failure, SANDBOX_FAIL_MEMORY);
    /* Catching the memory error only leads to the deadline. */
    expect_error("while true do pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) "
                 "end",
                 SANDBOX_FAIL_TIME, 0, "time limit");
    expect_next_run_unaffected();
}

static void test_memory_accounting(void **state)
{
    (void)state;
    struct sandbox *sb;
    struct err e = {0};
    struct sandbox_limits lim = {.memory = (size_t)8 << 20};
    assert_int_equal(sandbox_new(&lim, NULL, NULL, &sb, &e), 0);
    size_t base = sandbox_memory_used(sb);
    assert_true(base > 0 && base < (size_t)200 << 10);
    const char *src = "big = {} for i = 1, 100000 do big[i] = i end";
    assert_int_equal(sandbox_load(sb, "m.lua", src, strlen(src), &e), 0);
    assert_int_equal(sandbox_pcall(sb, 0, 0, &e), 0);
    assert_true(sandbox_memory_peak(sb) > base + ((size_t)1 << 20));
    assert_true(sandbox_memory_used(sb) <= sandbox_memory_peak(sb));
    sandbox_free(sb);
}

static void test_string_rep_bomb(void **state)
{
    (void)state;
    expect_error("return string.rep('x', 1e9)", SANDBOX_FAIL_ERROR, 1,
                 "string.rep: a result of 1000000000 bytes is over the limit of 1048576");
    expect_error("return ('ab'):rep(1e6, ',')", SANDBOX_FAIL_ERROR, 1, "over the limit");
    expect_result("return #string.rep('x', 1048576)", "1048576");
    expect_next_run_unaffected();
}

static void test_pathological_patterns(void **state)
{
    (void)state;
    expect_error("return string.find(string.rep('a', 30), '(.-)(.-)(.-)(.-)(.-)(.-)(.-)b')",
                 SANDBOX_FAIL_ERROR, 1, "is too costly for a subject of 30 bytes (7 repetition");
    expect_error("return string.match(string.rep('a', 100000), '.-.-b')", SANDBOX_FAIL_ERROR, 1,
                 "too costly");
    expect_error("return ('x'):rep(20000):gsub('x*y', '')", SANDBOX_FAIL_ERROR, 1, "too costly");
    expect_error("for w in string.gmatch(string.rep('a', 5000), '%b()%1') do end",
                 SANDBOX_FAIL_ERROR, 1, "too costly");
    /* The worst case the rule lets through finishes inside the deadline (it would fail
     * with the deadline's error otherwise). */
    struct outcome o = run("return string.find(string.rep('a', 5700), 'a-b')");
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.result, "nil");
    /* Anchored patterns are tried at one position only. */
    expect_result("return #string.match(string.rep('a', 9000), '^a*')", "9000");
    expect_next_run_unaffected();
}

struct test_code {
    char bytes[4096];
    size_t len;
};

static int test_dump(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    struct test_code *c = ud;
    if (c->len + sz > sizeof c->bytes)
        return 1;
    memcpy(c->bytes + c->len, p, sz);
    c->len += sz;
    return 0;
}

static void test_bytecode_refused(void **state)
{
    (void)state;
    /* Real bytecode, made by an unrestricted state. */
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    assert_int_equal(luaL_loadstring(L, "return 42"), LUA_OK);
    static struct test_code c;
    assert_int_equal(lua_dump(L, test_dump, &c, 1), 0);
    lua_close(L);
    const char *code = c.bytes;
    size_t len = c.len;
    assert_true(len > 4 && code[0] == '\x1b');

    struct sandbox *sb;
    struct err e = {0};
    assert_int_equal(sandbox_new(NULL, NULL, NULL, &sb, &e), 0);
    assert_int_equal(sandbox_load(sb, "kpi.lua", code, len, &e), -1);
    assert_int_equal(sandbox_failure(sb), SANDBOX_FAIL_SYNTAX);
    assert_string_equal(e.file, "kpi.lua");
    assert_string_equal(e.msg, "precompiled (bytecode) chunks are not accepted");
    assert_int_equal(sandbox_load(sb, "kpi.lua", "\x1bLua\x54", 5, &e), -1);
    sandbox_free(sb);
    expect_next_run_unaffected();
}

static void test_string_metatable_protected(void **state)
{
    (void)state;
    expect_result("return getmetatable('') ~= nil and type(getmetatable(''))", "userdata");
    expect_result("return tostring(getmetatable('').__index)", "nil");
    expect_error("getmetatable('').__index = function() return 'pwned' end", SANDBOX_FAIL_ERROR, 1,
                 "attempt to modify a read-only table (field '__index')");
    expect_error("setmetatable('', {})", SANDBOX_FAIL_ERROR, 1, "table expected");
    /* Tampering in one state, then a fresh one: nothing carries over. */
    struct outcome o = run("string.upper = function() return 'pwned' end\n"
                           "rawset(string, 'lower', nil)\n_G.leak = 1\nsetmetatable(_G, {})\n"
                           "math.floor = nil\nreturn ('a'):upper()");
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.result, "pwned");
    expect_next_run_unaffected();
    expect_result("return ('a'):lower() .. math.floor(2.5) .. tostring(getmetatable(_G))", "a2nil");
}

static void test_finalizers_refused(void **state)
{
    (void)state;
    expect_error("setmetatable({}, {__gc = function() while true do end end})", SANDBOX_FAIL_ERROR,
                 1, "__gc is not allowed");
    /* A __gc added after setmetatable is never registered by Lua: closing does not loop. */
    expect_result("local mt = {} setmetatable({}, mt) mt.__gc = function() while true do end end "
                  "return 1",
                  "1");
}

static int test_push_view(lua_State *L)
{
    lua_settop(L, 0);
    lua_createtable(L, 2, 2);
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "a");
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, 2);
    lua_setfield(L, -2, "c");
    lua_setfield(L, -2, "b");
    lua_pushinteger(L, 10);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, 20);
    lua_rawseti(L, -2, 2);
    sandbox_push_readonly(L, -1);
    lua_setglobal(L, "ctx");
    lua_settop(L, 0);
    return 0;
}

static struct outcome run_with_view(const char *src)
{
    struct outcome o = {0};
    struct sandbox *sb;
    assert_int_equal(sandbox_new(NULL, NULL, NULL, &sb, &o.e), 0);
    assert_int_equal(sandbox_cpcall(sb, test_push_view, NULL, &o.e), 0);
    o.rc = sandbox_load(sb, "view.lua", src, strlen(src), &o.e);
    if (o.rc == 0)
        o.rc = sandbox_pcall(sb, 0, 1, &o.e);
    if (o.rc == 0) {
        lua_setglobal(sandbox_lua(sb), "__result");
        assert_int_equal(sandbox_cpcall(sb, test_tostring_result, o.result, &o.e), 0);
    }
    sandbox_free(sb);
    return o;
}

static void test_readonly_view(void **state)
{
    (void)state;
    struct outcome o = run_with_view("local s = 0 for k, v in pairs(ctx) do "
                                     "s = s + (type(v) == 'number' and v or 0) end "
                                     "local n = 0 for _, v in ipairs(ctx) do n = n + v end "
                                     "return s .. ' ' .. n .. ' ' .. #ctx .. ' ' .. ctx.b.c .. ' ' "
                                     ".. tostring(ctx.b == ctx.b) .. ' ' .. getmetatable(ctx)");
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.result, "31 30 2 2 true read-only");
    o = run_with_view("ctx.a = 2");
    assert_string_equal(o.e.msg, "attempt to modify a read-only table (field 'a')");
    o = run_with_view("ctx.b.c = 3");
    assert_string_equal(o.e.msg, "attempt to modify a read-only table (field 'c')");
    o = run_with_view("rawset(ctx, 'a', 3)");
    assert_non_null(strstr(o.e.msg, "table expected, got userdata"));
    o = run_with_view("setmetatable(ctx, nil)");
    assert_non_null(strstr(o.e.msg, "table expected"));
    o = run_with_view("for k, v in pairs(ctx.b) do v = 5 end return ctx.b.c");
    assert_string_equal(o.result, "2");
}

static void test_restricted_require(void **state)
{
    (void)state;
    expect_result(
        "local m = require('twice') return m.twice(21) .. tostring(m == require('twice'))",
        "42true");
    expect_error("return require('loop_a')", SANDBOX_FAIL_ERROR, 0, "requires itself");
    struct outcome o = run("return require('broken')");
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.e.file, "lua/lib/broken.lua");
    assert_int_equal(o.e.line, 2);
    expect_error("return require(nil)", SANDBOX_FAIL_ERROR, 1, "string expected");
}

static void test_print_goes_to_output(void **state)
{
    (void)state;
    struct sandbox *sb;
    struct err e = {0};
    assert_int_equal(sandbox_new(NULL, NULL, NULL, &sb, &e), 0);
    const char *src = "print('num', 1, nil, true) print('second')";
    assert_int_equal(sandbox_load(sb, "p.lua", src, strlen(src), &e), 0);
    assert_int_equal(sandbox_pcall(sb, 0, 0, &e), 0);
    assert_string_equal(sandbox_output(sb), "num\t1\tnil\ttrue\nsecond\n");
    sandbox_clear_output(sb);
    assert_string_equal(sandbox_output(sb), "");
    src = "for i = 1, 100000 do print(string.rep('x', 100)) end";
    assert_int_equal(sandbox_load(sb, "p.lua", src, strlen(src), &e), 0);
    assert_int_equal(sandbox_pcall(sb, 0, 0, &e), 0);
    const char *out = sandbox_output(sb);
    assert_true(strlen(out) <= (size_t)64 << 10);
    assert_non_null(strstr(out, "(output truncated)"));
    sandbox_free(sb);
}

static void test_clock_restart(void **state)
{
    (void)state;
    struct sandbox *sb;
    struct err e = {0};
    struct sandbox_limits lim = {.time_ms = 100};
    assert_int_equal(sandbox_new(&lim, NULL, NULL, &sb, &e), 0);
    const char *loop = "while true do end";
    assert_int_equal(sandbox_load(sb, "c.lua", loop, strlen(loop), &e), 0);
    assert_int_equal(sandbox_pcall(sb, 0, 0, &e), -1);
    assert_int_equal(sandbox_failure(sb), SANDBOX_FAIL_TIME);
    assert_true(sandbox_expired(sb));
    /* A restarted clock lets the same state run again. */
    sandbox_start_clock(sb);
    assert_false(sandbox_expired(sb));
    const char *ok = "return 1";
    assert_int_equal(sandbox_load(sb, "c.lua", ok, strlen(ok), &e), 0);
    assert_int_equal(sandbox_pcall(sb, 0, 1, &e), 0);
    assert_int_equal(lua_tointeger(sandbox_lua(sb), -1), 1);
    sandbox_free(sb);
}

static void test_c_function_checks_the_clock(void **state)
{
    (void)state;
    /* Long C work between instructions: each call checks the deadline on entry. */
    expect_error("local s = string.rep('a', 1000000)\n"
                 "while true do local _ = s:find('b', 1, true) or s:rep(1) end",
                 SANDBOX_FAIL_TIME, 2, "time limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_script),
        cmocka_unit_test(test_forbidden_globals_absent),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_runtime_error_position),
        cmocka_unit_test(test_infinite_loop),
        cmocka_unit_test(test_pcall_cannot_swallow_the_deadline),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_memory_bombs),
        cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test(test_string_rep_bomb),
        cmocka_unit_test(test_pathological_patterns),
        cmocka_unit_test(test_bytecode_refused),
        cmocka_unit_test(test_string_metatable_protected),
        cmocka_unit_test(test_finalizers_refused),
        cmocka_unit_test(test_readonly_view),
        cmocka_unit_test(test_restricted_require),
        cmocka_unit_test(test_print_goes_to_output),
        cmocka_unit_test(test_clock_restart),
        cmocka_unit_test(test_c_function_checks_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

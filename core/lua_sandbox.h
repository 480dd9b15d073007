/*
 * lua_sandbox: a Lua 5.4 state in which untrusted indicator scripts run.
 *
 * The environment is an allow-list: the base functions without load, dofile, loadfile,
 * collectgarbage and warn; string without dump and pack, with string.rep capped and the
 * pattern functions bounded; table without move; math without random; utf8. No io, os,
 * package, debug or coroutine. require() only resolves library names through the callback
 * given to sandbox_new (the engine's lua/lib), so scripts never touch the file system, and
 * sources are loaded as text only, never bytecode. print() appends to an output buffer.
 *
 * Every state has a memory cap (a counting lua_Alloc) and a deadline checked by an
 * instruction-count hook. Past the deadline the hook raises an error at every instruction,
 * so a script's pcall cannot swallow it: the error reaches the caller's sandbox_pcall.
 *
 * The engine touches the state only inside sandbox_pcall/sandbox_cpcall, so no Lua error
 * can longjmp through C frames that hold resources (SQLite statements, libfcgi).
 */
#ifndef ANKETA_LUA_SANDBOX_H
#define ANKETA_LUA_SANDBOX_H

#include <lua.h>
#include <stddef.h>

struct err;

#define SANDBOX_MEMORY_DEFAULT ((size_t)64 << 20)
#define SANDBOX_TIME_DEFAULT   1000L
#define SANDBOX_STRING_DEFAULT ((size_t)1 << 20)

/* Zero fields take the defaults above. */
struct sandbox_limits {
    size_t memory;     /* bytes the state may hold */
    long time_ms;      /* from sandbox_new or the last sandbox_start_clock */
    size_t string_max; /* the longest string string.rep may build */
};

/* A library module for require(name): its chunk name in messages and its source text. */
struct sandbox_lib {
    const char *path; /* e.g. lua/lib/growth.lua */
    const char *source;
    size_t len;
};

/* Looks a library up by name; NULL when there is none. */
typedef const struct sandbox_lib *(*sandbox_lib_fn)(void *ctx, const char *name);

/* Why the last sandbox_pcall or sandbox_cpcall failed. */
enum sandbox_failure {
    SANDBOX_FAIL_NONE,
    SANDBOX_FAIL_SYNTAX, /* sandbox_load: the text does not compile, or is bytecode */
    SANDBOX_FAIL_ERROR,  /* an error raised by the script or a function it called */
    SANDBOX_FAIL_TIME,   /* the deadline passed */
    SANDBOX_FAIL_MEMORY, /* the memory cap was reached */
};

struct sandbox;

/* Creates a state with the allow-listed environment; its deadline starts now. */
int sandbox_new(const struct sandbox_limits *lim, sandbox_lib_fn libs, void *libs_ctx,
                struct sandbox **out, struct err *e);
void sandbox_free(struct sandbox *sb);

lua_State *sandbox_lua(struct sandbox *sb);

/* Restarts the deadline: time_ms from now. */
void sandbox_start_clock(struct sandbox *sb);

/* Whether the deadline has passed (checked now); once it has, every instruction raises. */
int sandbox_expired(struct sandbox *sb);

/*
 * Compiles source text as a chunk named path (messages read "path:line: ...") and pushes the
 * function. Bytecode is refused. On failure nothing is pushed and e holds the position.
 */
int sandbox_load(struct sandbox *sb, const char *path, const char *src, size_t len, struct err *e);

/*
 * Calls the function below the nargs arguments on the stack (lua_pcall with a message
 * handler): 0, or -1 with e filled as file, line and message (the innermost script
 * position) and nothing pushed. sandbox_failure() tells why.
 */
int sandbox_pcall(struct sandbox *sb, int nargs, int nresults, struct err *e);

/* Runs fn in protected mode with ud as its only argument (a light userdata). */
int sandbox_cpcall(struct sandbox *sb, lua_CFunction fn, void *ud, struct err *e);

enum sandbox_failure sandbox_failure(const struct sandbox *sb);

/* Bytes the state holds now, and the most it has held. */
size_t sandbox_memory_used(const struct sandbox *sb);
size_t sandbox_memory_peak(const struct sandbox *sb);

/* What print() wrote since the last sandbox_clear_output (NUL-terminated, never NULL). */
const char *sandbox_output(const struct sandbox *sb);
void sandbox_clear_output(struct sandbox *sb);

/*
 * Pushes a read-only view of the table at idx: a userdata whose fields, length and pairs()
 * are those of the table (nested tables are viewed the same way), and whose assignment
 * raises "read-only". rawset cannot reach it, and getmetatable returns a string. Call it
 * only in protected mode (it allocates).
 */
void sandbox_push_readonly(lua_State *L, int idx);

/* The sandbox a state belongs to (from a C function called by a script). */
struct sandbox *sandbox_of(lua_State *L);

#endif

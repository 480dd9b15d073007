/*
 * arena: region allocation for everything that lives as long as one request (or one
 * loaded survey, or one template set).
 *
 * Memory is taken from large chunks and never freed piecemeal; arena_reset() gives it all
 * back at once and runs the cleanups registered with arena_defer(), so objects that are
 * not arena memory (a jansson tree, a SQLite statement) can be tied to the same lifetime.
 * This is the one call that ends a request (kcgi's khttp_free).
 *
 * Allocation failure returns NULL; callers turn it into an error, never a crash.
 */
#ifndef ANKETA_ARENA_H
#define ANKETA_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* Returns a new, empty arena (NULL when out of memory); the caller owns it. */
struct arena *arena_new(void);

/* Frees every chunk and runs every deferred cleanup, then the arena itself. NULL is allowed. */
void arena_free(struct arena *a);

/* Runs the deferred cleanups in reverse order and empties the arena, keeping one chunk. */
void arena_reset(struct arena *a);

/* Memory aligned for any type, valid until the next arena_reset()/arena_free(). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t count, size_t size);

/* Grows the most recent allocation in place when it can, otherwise copies. */
void *arena_realloc(struct arena *a, void *p, size_t old, size_t n);

char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);

/*
 * Registers fn(p) to run when the arena is reset or freed: ownership of p passes to the
 * arena. Returns -1 (having run fn(p) at once, so nothing leaks) when out of memory.
 */
int arena_defer(struct arena *a, void (*fn)(void *), void *p);

/* Bytes handed out since the last reset: for tests and the memory figures of benchmarks. */
size_t arena_used(const struct arena *a);

/*
 * Fault injection for tests: when n > 0, the n-th allocation from now (counting every
 * arena in the process) fails. 0 turns it off.
 */
void arena_fail_after(long n);

/* Allocations left before the failure set by arena_fail_after: 0 once it has happened (or
 * when none is set), so a test knows whether its run reached it. */
long arena_fail_remaining(void);

#endif

/*
 * fuzz_arena: the arena interface of core/arena.h with one malloc per allocation, linked
 * into the fuzz harnesses instead of core/arena.c.
 *
 * core/arena.c carves allocations out of 16 KiB chunks, so AddressSanitizer sees a whole
 * chunk as one object and misses a read or write past the end of an arena string into its
 * neighbour. Here every allocation is an object of its own with exactly the size asked
 * for, and the fuzzers catch such overflows. The contract is the same: memory lives until
 * arena_reset()/arena_free(), a grown block may move, cleanups run in reverse order, and
 * arena_fail_after() counts the same events (arena_new, every allocation, every growth).
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ARENA_ALIGN (_Alignof(max_align_t))

struct fuzz_block {
    struct fuzz_block *next;
    void *p;
};

struct fuzz_cleanup {
    struct fuzz_cleanup *next;
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct fuzz_block *blocks;
    struct fuzz_cleanup *cleanups;
    size_t used;
};

static long fuzz_arena_countdown;

void arena_fail_after(long n)
{
    fuzz_arena_countdown = n;
}

static int fuzz_arena_injected_failure(void)
{
    return fuzz_arena_countdown > 0 && --fuzz_arena_countdown == 0;
}

struct arena *arena_new(void)
{
    if (fuzz_arena_injected_failure())
        return NULL;
    return calloc(1, sizeof(struct arena));
}

static void fuzz_arena_release(struct arena *a)
{
    struct fuzz_cleanup *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        struct fuzz_cleanup *next = c->next;
        c->fn(c->p);
        free(c);
        c = next;
    }
    struct fuzz_block *b = a->blocks;
    a->blocks = NULL;
    while (b) {
        struct fuzz_block *next = b->next;
        free(b->p);
        free(b);
        b = next;
    }
    a->used = 0;
}

void arena_reset(struct arena *a)
{
    fuzz_arena_release(a);
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    fuzz_arena_release(a);
    free(a);
}

/* An allocation without the failure count, for arena_realloc's copy. */
static void *fuzz_arena_take(struct arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2)
        return NULL;
    struct fuzz_block *b = malloc(sizeof *b);
    void *p = malloc(n);
    if (!b || !p) {
        free(b);
        free(p);
        return NULL;
    }
    b->p = p;
    b->next = a->blocks;
    a->blocks = b;
    a->used += (n + FUZZ_ARENA_ALIGN - 1) & ~(FUZZ_ARENA_ALIGN - 1);
    return p;
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (fuzz_arena_injected_failure())
        return NULL;
    return fuzz_arena_take(a, n);
}

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

/* Always moves, so a caller that keeps using the old pointer reads stale (but still live)
 * memory here too, as it could with core/arena.c. */
void *arena_realloc(struct arena *a, void *p, size_t old, size_t n)
{
    if (!p)
        return arena_alloc(a, n);
    if (n <= old)
        return p;
    if (fuzz_arena_injected_failure())
        return NULL;
    void *q = fuzz_arena_take(a, n);
    if (q)
        memcpy(q, p, old);
    return q;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

int arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
    if (fuzz_arena_injected_failure()) {
        fn(p);
        return -1;
    }
    struct fuzz_cleanup *c = malloc(sizeof *c);
    if (!c) {
        fn(p);
        return -1;
    }
    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}

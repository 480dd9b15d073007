/*
 * arena: chunked bump allocation with deferred cleanups.
 *
 * Under AddressSanitizer the arena tells ASan what it hands out: the free part of every
 * chunk is poisoned, each allocation is unpoisoned to its exact size and followed by a
 * poisoned redzone, a block that growth moved away from is poisoned, and a reset poisons
 * everything again. Without this, an overflow from
 * one arena string into the next, or a read of request memory after arena_reset(), would
 * land in memory malloc considers live and go unnoticed by `make test`.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#endif

#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define ARENA_REDZONE        ((size_t)32)
#else
#define ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#define ARENA_REDZONE        ((size_t)0)
#endif

#define ARENA_CHUNK (16 * 1024)
#define ARENA_ALIGN (_Alignof(max_align_t))

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct chunk *head;
    struct cleanup *cleanups;
    void *last;
    size_t last_size;
    size_t used;
};

static long arena_fail_countdown;

void arena_fail_after(long n)
{
    arena_fail_countdown = n;
}

long arena_fail_remaining(void)
{
    return arena_fail_countdown;
}

static int arena_injected_failure(void)
{
    if (arena_fail_countdown > 0 && --arena_fail_countdown == 0)
        return 1;
    return 0;
}

static struct chunk *arena_chunk_new(size_t want)
{
    size_t size = want > ARENA_CHUNK ? want : ARENA_CHUNK;
    if (size > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    ARENA_POISON(c->data, size);
    return c;
}

struct arena *arena_new(void)
{
    if (arena_injected_failure())
        return NULL;
    struct arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->head = arena_chunk_new(ARENA_CHUNK);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

static void arena_run_cleanups(struct arena *a)
{
    struct cleanup *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        struct cleanup *next = c->next;
        c->fn(c->p);
        c = next;
    }
}

void arena_reset(struct arena *a)
{
    arena_run_cleanups(a);
    /* The head is always a standard chunk (big allocations go behind it): keep it. */
    struct chunk *c = a->head->next;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head->next = NULL;
    a->head->used = 0;
    ARENA_POISON(a->head->data, a->head->size);
    a->last = NULL;
    a->last_size = 0;
    a->used = 0;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    arena_run_cleanups(a);
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

static size_t arena_align_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (arena_injected_failure())
        return NULL;
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2)
        return NULL;
    size_t need = arena_align_up(n) + ARENA_REDZONE;
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        /* Big requests get a chunk of their own behind the current one, so the space
         * left in the current chunk stays usable. */
        struct chunk *fresh = arena_chunk_new(need);
        if (!fresh)
            return NULL;
        if (need > ARENA_CHUNK / 4) {
            fresh->next = c->next;
            c->next = fresh;
            fresh->used = need;
            a->used += need - ARENA_REDZONE;
            a->last = NULL;
            ARENA_UNPOISON(fresh->data, n);
            return fresh->data;
        }
        fresh->next = c;
        a->head = c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used += need - ARENA_REDZONE;
    a->last = p;
    a->last_size = need;
    ARENA_UNPOISON(p, n);
    return p;
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

void *arena_realloc(struct arena *a, void *p, size_t old, size_t n)
{
    if (!p)
        return arena_alloc(a, n);
    if (n <= old)
        return p;
    struct chunk *c = a->head;
    if (p == a->last && (unsigned char *)p + a->last_size == c->data + c->used) {
        size_t need = arena_align_up(n) + ARENA_REDZONE;
        if (need - a->last_size <= c->size - c->used) {
            if (arena_injected_failure())
                return NULL;
            c->used += need - a->last_size;
            a->used += need - a->last_size;
            a->last_size = need;
            ARENA_UNPOISON(p, n);
            return p;
        }
    }
    void *q = arena_alloc(a, n);
    if (q) {
        memcpy(q, p, old);
        ARENA_POISON(p, old); /* the block moved: a pointer kept to the old one is stale */
    }
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
    struct cleanup *c = arena_alloc(a, sizeof *c);
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

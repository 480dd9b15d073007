/*
 * Tests of arena: alignment and separation of allocations, growing in place, big
 * allocations beside the current chunk, cleanups in reverse order at reset and free,
 * overflow and injected failures, and (under ASan, as in `make test`) that the bytes past
 * each allocation and everything after a reset are poisoned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arena.h"

#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static void test_alignment_and_separation(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    assert_non_null(a);
    unsigned char *p[64];
    for (size_t i = 0; i < 64; i++) {
        p[i] = arena_alloc(a, i * 37 + 1);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
        memset(p[i], (int)i, i * 37 + 1);
    }
    for (size_t i = 0; i < 64; i++)
        for (size_t j = 0; j < i * 37 + 1; j++)
            assert_int_equal(p[i][j], (unsigned char)i);
    arena_free(a);
}

static void test_grow(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    char *s = arena_strdup(a, "наставник");
    size_t len = strlen(s);
    char *t = arena_realloc(a, s, len + 1, 200);
    assert_ptr_equal(t, s); /* the last allocation grows where it is */
    memcpy(t + len, "-ученик", sizeof "-ученик");
    assert_string_equal(t, "наставник-ученик");

    char *other = arena_strdup(a, "x");
    char *u = arena_realloc(a, t, 200, 400); /* no longer the last one: copied */
    assert_ptr_not_equal(u, t);
    assert_string_equal(u, "наставник-ученик");
    assert_string_equal(other, "x");
    assert_ptr_equal(arena_realloc(a, u, 400, 10), u);
    arena_free(a);
}

static void test_big_allocation_keeps_chunk(void **state)
{
    (void)state;
    struct arena *a = arena_new();
    char *small1 = arena_strdup(a, "before");
    char *big = arena_alloc(a, 1 << 20);
    assert_non_null(big);
    memset(big, 'b', 1 << 20);
    char *small2 = arena_strdup(a, "after");
    /* The small allocations share the first chunk: the big one did not end it. */
    assert_true(small2 > small1 && small2 - small1 < 16 * 1024);
    assert_string_equal(small1, "before");
    assert_int_equal(big[(1 << 20) - 1], 'b');
    assert_true(arena_used(a) >= (1u << 20));
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    arena_free(a);
}

static char order[8];
static size_t norder;

static void note(void *p)
{
    order[norder++] = *(char *)p;
}

static void test_cleanups(void **state)
{
    (void)state;
    static char one = '1', two = '2', three = '3';
    struct arena *a = arena_new();
    norder = 0;
    assert_int_equal(arena_defer(a, note, &one), 0);
    assert_int_equal(arena_defer(a, note, &two), 0);
    arena_reset(a);
    assert_int_equal(norder, 2);
    assert_memory_equal(order, "21", 2);
    arena_reset(a); /* already run: never twice */
    assert_int_equal(norder, 2);
    assert_int_equal(arena_defer(a, note, &three), 0);
    arena_free(a);
    assert_int_equal(norder, 3);
    assert_int_equal(order[2], '3');
    arena_free(NULL);
}

static void test_overflow_and_failures(void **state)
{
    (void)state;
    static char one = '1';
    struct arena *a = arena_new();
    assert_null(arena_calloc(a, SIZE_MAX / 2, 4));
    assert_null(arena_alloc(a, SIZE_MAX - 8));

    arena_fail_after(2);
    assert_non_null(arena_alloc(a, 8));
    assert_null(arena_alloc(a, 8));
    assert_non_null(arena_alloc(a, 8));

    /* A cleanup that cannot be registered runs at once, so what it owns is not lost. */
    norder = 0;
    arena_fail_after(1);
    assert_int_equal(arena_defer(a, note, &one), -1);
    assert_int_equal(norder, 1);
    arena_free(a);
    assert_int_equal(norder, 1);

    arena_fail_after(1);
    assert_null(arena_new());
    arena_fail_after(0);
}

static void test_poisoning(void **state)
{
    (void)state;
#ifdef TEST_ASAN
    struct arena *a = arena_new();
    char *p = arena_alloc(a, 13);
    char *q = arena_alloc(a, 40);
    assert_false(__asan_region_is_poisoned(p, 13));
    assert_true(__asan_address_is_poisoned(p + 13)); /* the overflow into q is caught */
    assert_true(__asan_address_is_poisoned(q + 40));
    assert_true(__asan_address_is_poisoned(q + 1000)); /* free part of the chunk */

    char *r = arena_realloc(a, q, 40, 100);
    assert_ptr_equal(r, q);
    assert_false(__asan_region_is_poisoned(r, 100));
    assert_true(__asan_address_is_poisoned(r + 100));
    char *moved = arena_realloc(a, p, 13, 64); /* not the last one: copied elsewhere */
    assert_ptr_not_equal(moved, p);
    assert_true(__asan_address_is_poisoned(p)); /* the stale pointer is caught */

    char *big = arena_alloc(a, 100000);
    assert_false(__asan_region_is_poisoned(big, 100000));
    assert_true(__asan_address_is_poisoned(big + 100000));

    arena_reset(a); /* request memory read after the request ended is caught */
    assert_true(__asan_address_is_poisoned(p));
    assert_true(__asan_address_is_poisoned(r + 50));
    char *again = arena_alloc(a, 5);
    assert_ptr_equal(again, p);
    assert_false(__asan_region_is_poisoned(again, 5));
    arena_free(a);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_separation),   cmocka_unit_test(test_grow),
        cmocka_unit_test(test_big_allocation_keeps_chunk), cmocka_unit_test(test_cleanups),
        cmocka_unit_test(test_overflow_and_failures),      cmocka_unit_test(test_poisoning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

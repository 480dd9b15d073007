/*
 * fuzz_common: what the libFuzzer harnesses of tests/fuzz share: the switch that turns an
 * input into an allocation-failure run, the check that reports a broken invariant as a
 * crash, and UTF-8 helpers.
 */
#ifndef ANKETA_FUZZ_COMMON_H
#define ANKETA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, declared here for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An input that starts with this byte and two more is an allocation-failure run: the two
 * bytes (little-endian, 14 bits) plus one give which arena allocation fails. Text inputs
 * never start with it, so seeds are ordinary runs; the fuzzer finds the prefix by itself
 * through the comparison below (libFuzzer traces it).
 */
#define FUZZ_FAULT_BYTE 0x01

/*
 * Strips the fault prefix from *data and *size when there is one and returns the count to give
 * arena_fail_after(); 0 (no failure) otherwise. A harness disarms with arena_fail_after(0)
 * before it returns, so no allocation of a later run fails.
 */
long fuzz_fault_prefix(const uint8_t **data, size_t *size);

/* Reports a broken invariant with its message and stops the run as a crash (libFuzzer saves
 * the input). */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A NUL-terminated heap copy of data[0..size) (the caller frees it); NULL when out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF). */
int fuzz_utf8_valid(const char *s, size_t n);

/* Replaces every byte of s[0..n) that is not part of a well-formed UTF-8 sequence with '?'. */
void fuzz_utf8_sanitize(char *s, size_t n);

/* Splits data at its first NUL byte: *rest and *restlen are what follows it (NULL, 0 when
 * there is no NUL). Returns the length before the NUL. */
size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **rest, size_t *restlen);

#endif

/*
 * fuzz_i18n: the JSON the engine reads, the message catalogues of web/i18n. An input is
 * ru.json, optionally followed by a NUL byte and en.json. i18n has only a loader from a
 * directory, so each run writes the files into a directory of its own under /tmp (made
 * once, removed at exit). Every message a loaded catalogue holds must be found by its
 * dotted key, in Russian and, merged over Russian, in English.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "err.h"
#include "i18n.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];
static char fuzz_ru[96];
static char fuzz_en[96];

static void fuzz_i18n_cleanup(void)
{
    unlink(fuzz_ru);
    unlink(fuzz_en);
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/anketa-fuzz-i18n-XXXXXX");
    if (!mkdtemp(fuzz_dir))
        fuzz_fail(__FILE__, __LINE__, "mkdtemp", "cannot make a directory under /tmp");
    snprintf(fuzz_ru, sizeof fuzz_ru, "%s/ru.json", fuzz_dir);
    snprintf(fuzz_en, sizeof fuzz_en, "%s/en.json", fuzz_dir);
    atexit(fuzz_i18n_cleanup);
    return 0;
}

static int fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && n == size ? 0 : -1;
}

/* Looks every string leaf of obj up by its dotted path (held in path[0..len)). */
static void fuzz_walk(const struct i18n *c, const char *lang, json_t *obj, char *path, size_t len,
                      size_t cap)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t klen = strlen(key);
        if (len + 1 + klen + 1 > cap)
            continue;
        size_t n = len;
        if (n)
            path[n++] = '.';
        memcpy(path + n, key, klen + 1);
        if (json_is_object(v)) {
            fuzz_walk(c, lang, v, path, n + klen, cap);
        } else {
            FUZZ_CHECK(json_is_string(v), "a loaded catalogue has a non-string at %s", path);
            const char *got = i18n_text(c, lang, path);
            FUZZ_CHECK(strcmp(got, json_string_value(v)) == 0, "%s in %s: \"%s\", not \"%s\"", path,
                       lang, got, json_string_value(v));
        }
        path[len] = '\0';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    const uint8_t *en;
    size_t enlen;
    size_t rulen = fuzz_split(data, size, &en, &enlen);
    if (fuzz_write(fuzz_ru, data, rulen) < 0)
        fuzz_fail(__FILE__, __LINE__, "fuzz_write", "cannot write %s", fuzz_ru);
    if (en && fuzz_write(fuzz_en, en, enlen) < 0)
        fuzz_fail(__FILE__, __LINE__, "fuzz_write", "cannot write %s", fuzz_en);
    if (!en)
        unlink(fuzz_en);

    struct i18n *c = NULL;
    struct err e = {0};
    arena_fail_after(fault);
    int rc = i18n_load_dir(fuzz_dir, &c, &e);
    arena_fail_after(0);
    if (rc < 0) {
        FUZZ_CHECK(c == NULL, "a failed load left a catalogue");
        FUZZ_CHECK(e.msg[0] != '\0', "an error without a message");
        FUZZ_CHECK(fault || strcmp(e.msg, "out of memory") != 0,
                   "out of memory without an injected fault");
        return 0;
    }
    FUZZ_CHECK(i18n_has(c, "ru") && i18n_has(c, "en") == (en != NULL), "languages");
    static char path[8192];
    path[0] = '\0';
    fuzz_walk(c, "ru", i18n_catalogue(c, "ru"), path, 0, sizeof path);
    if (en)
        fuzz_walk(c, "en", i18n_catalogue(c, "en"), path, 0, sizeof path);
    FUZZ_CHECK(i18n_catalogue(c, "xx") == i18n_catalogue(c, "ru"), "unknown language");
    FUZZ_CHECK(strcmp(i18n_text(c, "ru", "no.such.key"), "no.such.key") == 0 ||
                   json_object_get(i18n_catalogue(c, "ru"), "no"),
               "a missing key is not itself");
    (void)i18n_text(c, NULL, "");
    (void)i18n_text(c, "ru", "...");
    struct err ce = {0};
    (void)i18n_check(c, &ce);
    i18n_free(c);
    return 0;
}

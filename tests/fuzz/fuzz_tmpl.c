/*
 * fuzz_tmpl: the template compiler and renderer (templates are author input, like
 * questionnaires). An input is the template "t", then optionally a NUL byte and the template
 * "u" (which "t" may include as a partial, and the other way round), then optionally a NUL
 * byte and a JSON context; without one, a fixed context with every kind of value is used.
 * The language promises that a value cannot emit markup, so when neither template has a
 * character that HTML escaping replaces, the output must not have it either.
 */
#include "fuzz_common.h"

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "tmpl.h"

#include <jansson.h>
#include <string.h>

static const char fuzz_default_ctx[] =
    "{\"a\": \"<b>&\\\"'</b>\", \"n\": 5, \"r\": -1.5, \"t\": true, \"f\": false, \"z\": null,"
    " \"e\": \"\", \"zero\": 0, \"l\": [1, \"<i>\", {\"a\": \"in\", \"l\": [\"x\", []]}],"
    " \"o\": {\"a\": \"o.a\", \"b\": {\"c\": \"<deep>\"}}, \"empty\": [], \"eo\": {}}";

static json_t *fuzz_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_error_t je;
    fuzz_ctx = json_loads(fuzz_default_ctx, 0, &je);
    if (!fuzz_ctx)
        fuzz_fail(__FILE__, __LINE__, "json_loads", "the default context: %s", je.text);
    return 0;
}

static void fuzz_render(const struct tmpl_set *set, const char *name, json_t *ctx,
                        const char *texts, size_t textlen, long fault)
{
    struct arena *a = arena_new();
    if (!a)
        return;
    struct buf out;
    buf_init(&out, a);
    struct err e = {0};
    if (tmpl_render(set, name, ctx, &out, &e) < 0) {
        FUZZ_CHECK(e.msg[0] != '\0', "a render error without a message");
        FUZZ_CHECK(fault || !strstr(e.msg, "out of memory"),
                   "out of memory without an injected fault");
    }
    if (!buf_failed(&out) && out.data) {
        static const char special[] = "<>\"'";
        for (const char *c = special; *c; c++) {
            if (!memchr(texts, *c, textlen))
                FUZZ_CHECK(!memchr(out.data, *c, out.len),
                           "'%c' in the output of \"%s\" but in no template", *c, name);
        }
    }
    arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long fault = fuzz_fault_prefix(&data, &size);
    const uint8_t *rest, *ctxdata;
    size_t restlen, ctxlen;
    size_t tlen = fuzz_split(data, size, &rest, &restlen);
    size_t ulen = rest ? fuzz_split(rest, restlen, &ctxdata, &ctxlen) : 0;

    json_t *ctx = fuzz_ctx;
    json_incref(ctx);
    if (rest && ctxdata) {
        json_t *own = json_loadb((const char *)ctxdata, ctxlen, JSON_DECODE_ANY, NULL);
        if (own) {
            json_decref(ctx);
            ctx = own;
        }
    }

    arena_fail_after(fault);
    struct tmpl_set *set = tmpl_set_new();
    if (set) {
        struct err e = {0};
        int t_ok = tmpl_set_add(set, "t", (const char *)data, tlen, &e) == 0;
        if (!t_ok)
            FUZZ_CHECK(e.msg[0] != '\0' && e.line >= 0 && e.col >= 0, "a bad error for t");
        int u_ok = rest && tmpl_set_add(set, "u", (const char *)rest, ulen, &e) == 0;
        FUZZ_CHECK(tmpl_exists(set, "t") == t_ok, "tmpl_exists(t) is not what adding gave");
        (void)tmpl_set_check(set, &e);
        /* Both templates are the text the output may take its characters from. */
        size_t textlen = rest ? tlen + 1 + ulen : tlen;
        if (t_ok)
            fuzz_render(set, "t", ctx, (const char *)data, textlen, fault);
        if (u_ok)
            fuzz_render(set, "u", ctx, (const char *)data, textlen, fault);
        fuzz_render(set, "missing", ctx, (const char *)data, textlen, fault);
        tmpl_set_free(set);
    }
    arena_fail_after(0);
    json_decref(ctx);
    return 0;
}

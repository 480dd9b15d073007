/*
 * tmpl: HTML templates from web/templates, compiled once at start, rendered per request
 * from a jansson value.
 *
 * The language is a small subset of Mustache, chosen so that a template cannot emit an
 * unescaped value:
 *   {{name}}  {{a.b.c}}  {{.}}   the value, HTML-escaped (& < > " ' become entities);
 *                                strings as they are, integers and reals in decimal,
 *                                true as "true"; false, null and missing as nothing
 *   {{#name}} ... {{/name}}      a section: once per element of a non-empty array (the
 *                                element becomes the innermost context), once with an
 *                                object pushed as context, once for any other truthy
 *                                value; skipped for false, null, missing, "", 0, [] and {}
 *   {{^name}} ... {{/name}}      rendered only when the section would be skipped
 *   {{>name}}                    another template of the set (name without ".html")
 *   {{! comment }}               nothing
 * Names are looked up from the innermost context outwards, as in Mustache; a dotted name
 * resolves its first part that way and the rest inside it. There is no raw output.
 *
 * Errors in a template (an unclosed or mismatched section, an unknown partial, a tag not
 * closed by "}}") are reported at load as FILE:LINE:COL.
 */
#ifndef ANKETA_TMPL_H
#define ANKETA_TMPL_H

#include <jansson.h>
#include <stddef.h>

struct buf;
struct err;

struct tmpl_set;

/* Compiles every *.html of dir; the caller owns *out and frees it with tmpl_set_free(). */
int tmpl_set_load_dir(const char *dir, struct tmpl_set **out, struct err *e);

/* Compiles one template from memory, for tests: name is its name in the set. */
int tmpl_set_add(struct tmpl_set *set, const char *name, const char *text, size_t len,
                 struct err *e);
struct tmpl_set *tmpl_set_new(void);

/* Checks that every partial named by the set's templates exists in it. */
int tmpl_set_check(const struct tmpl_set *set, struct err *e);

void tmpl_set_free(struct tmpl_set *set);

int tmpl_exists(const struct tmpl_set *set, const char *name);

/* Appends the rendering of template name with context ctx (borrowed) to out. */
int tmpl_render(const struct tmpl_set *set, const char *name, json_t *ctx, struct buf *out,
                struct err *e);

#endif

/*
 * i18n: the catalogue of user-facing words, one JSON file per language in web/i18n
 * (ru.json is required; en.json optional). No Russian UI string lives in C code: C refers
 * to a message by its key ("error.required"), templates by {{t.error.required}}.
 *
 * A catalogue file is a JSON object whose leaves are strings; a key names a path of
 * members joined by dots. A key missing from a language falls back to Russian.
 */
#ifndef ANKETA_I18N_H
#define ANKETA_I18N_H

#include <jansson.h>

struct err;
struct i18n;

int i18n_load_dir(const char *dir, struct i18n **out, struct err *e);
void i18n_free(struct i18n *c);

/* The text of key in lang ("ru", "en"); the key itself when no catalogue has it. */
const char *i18n_text(const struct i18n *c, const char *lang, const char *key);

/* The whole catalogue of lang (Russian merged under it), borrowed: it lives as long as c. */
json_t *i18n_catalogue(const struct i18n *c, const char *lang);

/* Whether a language has a catalogue. */
int i18n_has(const struct i18n *c, const char *lang);

/*
 * Reports the first key that a language other than Russian has and ru.json lacks: such a
 * key is a misspelling or a message never written in Russian. Loading does not demand it,
 * so a startup or CI check decides whether it is fatal.
 */
int i18n_check(const struct i18n *c, struct err *e);

#endif

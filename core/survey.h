/*
 * survey: questionnaire definitions, loaded from YAML files with libyaml.
 *
 * A survey is immutable once loaded and lives until survey_free(); every string in it
 * belongs to the survey's own arena. Loading checks the whole file and reports the first
 * problem as FILE:LINE:COL (1-based) through struct err. The hash stamped on every
 * response is the SHA-256 of the file's bytes, in hex.
 *
 * File format (the minimal format of the walking skeleton; docs/questionnaires.md):
 *
 *   id: mentee-final            # [a-z0-9_-]{1,64}
 *   version: 1                  # integer >= 1
 *   title: Анкета наставляемого # a string (Russian) or a map {ru: ..., en: ...}
 *   description: ...            # optional, same shape as title
 *   questions:
 *     - id: q1                  # [a-z0-9_]{1,64}, unique in the survey
 *       type: yesno             # yesno | scale | choice | text | number
 *       label: ...              # required, same shape as title
 *       hint: ...               # optional
 *       required: true          # optional, default false
 *       min: 1                  # scale (required), number (optional)
 *       max: 10                 # scale (required), number (optional)
 *       min_label: ...          # scale, optional
 *       max_label: ...          # scale, optional
 *       choices:                # choice (required, at least 2)
 *         - value: often        # [a-z0-9_-]{1,64}, unique in the question
 *           label: Часто
 *       long: true              # text: a multi-line answer
 *       max_length: 2000        # text, default 2000 characters
 */
#ifndef ANKETA_SURVEY_H
#define ANKETA_SURVEY_H

#include <jansson.h>
#include <stddef.h>

struct arena;
struct err;

/* A user-facing text in Russian, optionally with its English form (NULL when absent). */
struct text {
    const char *ru;
    const char *en;
};

enum question_type {
    Q_YESNO,
    Q_SCALE,
    Q_CHOICE,
    Q_TEXT,
    Q_NUMBER,
};

struct choice {
    const char *value;
    struct text label;
};

struct question {
    const char *id;
    enum question_type type;
    struct text label;
    struct text hint; /* .ru is NULL when there is no hint */
    int required;
    long min, max; /* scale: the range; number: bounds when has_min/has_max */
    int has_min, has_max;
    struct text min_label; /* scale: words under the ends of the range, optional */
    struct text max_label;
    struct choice *choices; /* choice only */
    size_t nchoices;
    int long_text;     /* text: render a multi-line field */
    size_t max_length; /* text: limit in characters (code points) */
    int line, col;     /* where the question starts in its file */
};

struct survey {
    const char *id;
    long version;
    struct text title;
    struct text description;
    struct question *questions;
    size_t nquestions;
    const char *path;
    char hash[65]; /* SHA-256 of the file, lowercase hex */
    struct arena *arena;
};

/* Loads and checks one file. On success *out is a new survey the caller frees. */
int survey_load(const char *path, struct survey **out, struct err *e);

/* Same, from bytes in memory; name is what error messages call the file. */
int survey_load_mem(const char *name, const char *data, size_t len, struct survey **out,
                    struct err *e);

void survey_free(struct survey *s);

const struct question *survey_question(const struct survey *s, const char *id);

/* A stable name for the type as written in YAML ("scale"). */
const char *survey_type_name(enum question_type t);

/*
 * The definition as JSON, for the API (GET /api/v1/surveys/<id>): a new reference the
 * caller owns. Texts are objects {"ru": ..., "en": ...} (en only when present). NULL when
 * out of memory.
 */
json_t *survey_to_json(const struct survey *s);

/* Every survey of a directory, sorted by id. */
struct survey_set {
    struct survey **items;
    size_t n;
};

/*
 * Loads every *.yaml / *.yml file of dir. Fails on the first bad file, or when two files
 * declare the same id, naming both. On failure set is left empty.
 */
int survey_set_load_dir(const char *dir, struct survey_set *set, struct err *e);
void survey_set_free(struct survey_set *set);
const struct survey *survey_set_find(const struct survey_set *set, const char *id);

#endif

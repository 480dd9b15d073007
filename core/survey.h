/*
 * survey: questionnaire definitions, loaded from YAML files with libyaml.
 *
 * A survey is immutable once loaded and lives until survey_free(); every string in it
 * belongs to the survey's own arena. Loading checks the whole file and reports its problems
 * as FILE:LINE:COL (1-based): survey_load() gives the first through struct err, and the
 * *_all() variants keep on checking after a problem so one run reports every one of them.
 * The hash stamped on every response is the SHA-256 of the file's bytes, in hex.
 *
 * File format (docs/questionnaires.md has an example of every feature):
 *
 *   id: mentee-entry            # [a-z0-9_-]{1,64}
 *   version: 1                  # integer >= 1
 *   title: Анкета наставляемого # a string (Russian) or a map {ru: ..., en: ...}
 *   description: ...            # optional, same shape as title
 *   audience: {role: mentee, form: [pupil-pupil, x-region-code]}     # optional
 *   wave: entry                 # entry | final | none (default)
 *   pairs_with_survey: mentee-final   # entry wave: the survey of the paired items
 *   choice_lists:               # lists named once, used as `choices: freq`
 *     freq: [{value: often, label: Часто}, ...]
 *   scales:                     # constructs scored with every response
 *     - {id: motivation, items: [q3, q5, m.item], reverse: [q5], method: mean, min_items: 2}
 *   sections:                   # pages; or `questions:` directly for a one-page survey
 *     - id: about
 *       title: О программе
 *       questions:
 *         - id: q1              # [a-z0-9_]{1,64}, unique in the survey
 *           type: yesno         # yesno | scale | choice | multiple | matrix | number |
 *                               # text | date | ranking | consent | note
 *           label: ...          # required; {{q.<earlier id>}} inserts that answer
 *           hint, required, show_if, required_if, constraint, constraint_message,
 *           pairs_with, and the keys of the type (min, max, choices, items, ...)
 */
#ifndef ANKETA_SURVEY_H
#define ANKETA_SURVEY_H

#include "plugin_api.h"

#include <jansson.h>
#include <stddef.h>

struct arena;
struct err;
struct err_list;
struct expr;
struct store;

/* A user-facing text in Russian, optionally with its English form (NULL when absent). */
struct text {
    const char *ru;
    const char *en;
};

enum question_type {
    Q_YESNO,
    Q_SCALE,
    Q_CHOICE, /* one of the choices: radio buttons, or a drop-down list */
    Q_TEXT,
    Q_NUMBER,
    Q_MULTIPLE, /* any of the choices: check boxes */
    Q_MATRIX,   /* several items on one shared scale or choice list */
    Q_DATE,     /* YYYY-MM-DD */
    Q_RANKING,  /* the choices put in order */
    Q_CONSENT,  /* one box to tick */
    Q_NOTE,     /* text to read, no answer */
};

/* A fixed check of a text answer. */
enum text_format {
    TEXT_FORMAT_NONE,
    TEXT_FORMAT_EMAIL,
    TEXT_FORMAT_PHONE,
    TEXT_FORMAT_DIGITS,
};

struct choice {
    const char *value;
    struct text label;
};

/* The value a choice or multiple question with `other` takes for "other, please specify". */
#define SURVEY_OTHER_VALUE "other"

struct question {
    const char *id; /* "<matrix>.<item>" for a matrix item, "<id>.other" for an other text */
    enum question_type type;
    struct text label;
    struct text hint; /* .ru is NULL when there is no hint */
    int required;
    long min, max; /* scale: the range; number: bounds when has_min/has_max, in units of
                      10^-decimals; matrix on a scale: the range of its items */
    int has_min, has_max;
    struct text min_label; /* scale: words under the ends of the range, optional */
    struct text max_label;
    struct choice *choices; /* choice, multiple, ranking; matrix on a choice list */
    size_t nchoices;
    int long_text;     /* text: render a multi-line field */
    size_t max_length; /* text: limit in characters (code points) */
    int line, col;     /* where the question starts in its file */

    /* Added with the full format; every field is zero in a question that does not use it. */
    size_t index;                  /* position in survey->questions; items: their matrix's */
    size_t section;                /* the index of its section (0 without sections) */
    const struct question *parent; /* a matrix item's matrix, an other text's question */
    struct question *items;        /* matrix: its items, each a Q_SCALE or Q_CHOICE */
    size_t nitems;
    int dropdown;                /* choice: `appearance: dropdown`, a <select> */
    int other;                   /* choice, multiple: offers "other, please specify" */
    struct text other_label;     /* its label; .ru NULL: the catalogue's word */
    struct question *other_text; /* the Q_TEXT question "<id>.other" */
    size_t min_selected;         /* multiple: 0 = no lower limit */
    size_t max_selected;         /* multiple: 0 = no upper limit */
    int decimals;                /* number: digits allowed after the decimal point */
    enum text_format format;     /* text */
    const char *date_min;        /* date: "YYYY-MM-DD" bounds, NULL when open */
    const char *date_max;
    const char *pairs_with; /* entry wave: the id of the same item in pairs_with_survey */
    int pipes;              /* label or hint holds {{q.<id>}}: resolved when rendered */
    /* Logic: the expressions as written (NULL when absent) and parsed. */
    const char *show_if, *required_if, *constraint;
    struct expr *show_if_x, *required_if_x, *constraint_x;
    struct text constraint_message; /* .ru NULL: the catalogue's "error.constraint" */
    /* A plugin's type (`type: x-...`): loaded as a drop-down choice whose choices the plugin
     * gave; xstate is what its check made (freed with the survey). NULL for the core's types. */
    const struct anketa_qtype *xtype;
    void *xstate;
};

/* A page of the questionnaire: questions[first .. first + count) of its survey. */
struct survey_section {
    const char *id;
    struct text title;
    struct text description;
    size_t first, count;
    int line, col;
};

enum survey_wave {
    SURVEY_WAVE_NONE,
    SURVEY_WAVE_ENTRY,
    SURVEY_WAVE_FINAL,
};

enum survey_scale_method {
    SURVEY_SCALE_MEAN,
    SURVEY_SCALE_SUM,
};

/* One item of a scale: a numeric question (scale, number, or a matrix item on a scale). */
struct survey_scale_item {
    const struct question *q;
    int reverse; /* scored as min + max - value */
};

/* A construct (motivation, satisfaction...) scored from its items with every response. */
struct survey_scale {
    const char *id;
    struct text label; /* .ru NULL when absent */
    struct survey_scale_item *items;
    size_t nitems;
    enum survey_scale_method method;
    size_t min_items; /* fewer answered items: no score (default: all of them) */
    int line, col;
};

struct survey {
    const char *id;
    long version;
    struct text title;
    struct text description;
    struct question *questions; /* every question of every section, in order */
    size_t nquestions;
    const char *path;
    char hash[65]; /* SHA-256 of the file, lowercase hex */
    struct arena *arena;

    /* Added with the full format. */
    const char *role;   /* audience.role: "mentor", "mentee", "curator"; NULL: anyone */
    const char **forms; /* audience.form: forms of mentoring ("pupil-pupil", "x-...") */
    size_t nforms;
    enum survey_wave wave;
    const char *pairs_with_survey;   /* entry wave: the final survey its items pair with */
    struct survey_section *sections; /* the pages; none: one page of every question */
    size_t nsections;
    struct survey_scale *scales;
    size_t nscales;
};

/* How many problems the *_all() loaders report at most for one file. */
#define SURVEY_MAX_ERRORS 100

/* Loads and checks one file. On success *out is a new survey the caller frees. */
int survey_load(const char *path, struct survey **out, struct err *e);

/* Same, from bytes in memory; name is what error messages call the file. */
int survey_load_mem(const char *name, const char *data, size_t len, struct survey **out,
                    struct err *e);

/*
 * Like survey_load(), but adds every problem of the file to errs, in the order they were
 * found (beyond SURVEY_MAX_ERRORS they are only counted). Returns 0 when it added none.
 */
int survey_load_all(const char *path, struct survey **out, struct err_list *errs);
int survey_load_mem_all(const char *name, const char *data, size_t len, struct survey **out,
                        struct err_list *errs);

void survey_free(struct survey *s);

/* A question by id, including matrix items ("m.item") and other texts ("q.other"). */
const struct question *survey_question(const struct survey *s, const char *id);

/* A scale (construct) by id, or NULL. */
const struct survey_scale *survey_scale_find(const struct survey *s, const char *id);

/* How many pages the survey shows: its sections, or 1. */
size_t survey_pages(const struct survey *s);

/* A stable name for the type as written in YAML ("scale"). */
const char *survey_type_name(enum question_type t);

/* Whether answers to q are numbers (scale, number, a matrix item on a scale). */
int survey_is_numeric(const struct question *q);

/* Whether s[0..n) is a real calendar date written YYYY-MM-DD. */
int survey_date_valid(const char *s, size_t n);

/*
 * The definition as JSON, for the API (GET /api/v1/surveys/<id>) and for the stored copy
 * that later versions are compared with: a new reference the caller owns. Texts are
 * objects {"ru": ..., "en": ...} (en only when present). NULL when out of memory.
 */
json_t *survey_to_json(const struct survey *s);

/*
 * Where the loader finds the question types of plugins (`type: x-...`): find returns the
 * type of a name or NULL, dir is the plugin directory named in the message about an unknown
 * one. Without a call (or with find NULL), x- types are unknown. The types must stay loaded
 * for as long as the surveys that use them.
 */
void survey_set_plugin_types(const struct anketa_qtype *(*find)(const char *name), const char *dir);

/* Every survey of a directory, sorted by id. */
struct survey_set {
    struct survey **items;
    size_t n;
};

/*
 * Loads every *.yaml / *.yml file of dir. Fails on the first bad file, or when two files
 * declare the same id, naming both, or when an entry survey pairs an item with a question
 * its pairs_with_survey (when loaded too) lacks. On failure set is left empty.
 */
int survey_set_load_dir(const char *dir, struct survey_set *set, struct err *e);

/* Same, adding the problems of every file to errs (as survey_load_all()). */
int survey_set_load_dir_all(const char *dir, struct survey_set *set, struct err_list *errs);

void survey_set_free(struct survey_set *set);
const struct survey *survey_set_find(const struct survey_set *set, const char *id);

/*
 * Compares s with the definition the database stored for the same id and version, and
 * records it. An edit that keeps the version is refused (-1, with e saying what changed
 * and which version to write) when a question that has answers changed its type, lost a
 * choice value that was answered, or was removed. Otherwise the stored definition is
 * brought up to date (a new version is simply recorded).
 */
int survey_check_against_store(const struct survey *s, struct store *st, struct err *e);

#endif

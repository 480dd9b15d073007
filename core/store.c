/*
 * store: owns the SQLite connection, the schema and its migrations, and every SQL statement
 * of the engine. Statements are prepared once per connection (lazily, persistent) and reset
 * after each use, so no read transaction or bound pointer outlives a call.
 */
#include "store_int.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "response.h"
#include "survey.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_SECRET_KEY "secret"
#define STORE_MODE_LEN   16

enum store_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_USER_VERSION,
    ST_PING,
    ST_DATA_SERIAL,
    ST_SETTINGS,
    ST_SECRET_GET,
    ST_SECRET_PUT,
    ST_INVITATION_BY_TOKEN,
    ST_TOKEN_UNHASHED,
    ST_TOKEN_HASH_SET,
    ST_INVITATION_FIRST,
    ST_RESPONSE_PUT,
    ST_ANSWER_PUT,
    ST_SCORE_PUT,
    ST_DRAFT_GET,
    ST_DRAFT_PUT,
    ST_DRAFT_DELETE,
    ST_VERSION_GET,
    ST_VERSION_PUT,
    ST_ANSWER_VALUES,
    ST_COUNT_RESPONSES,
    ST_COUNT_RESPONSES_ALL,
    ST_COUNT
};

/* The columns store_read_invitation() expects, in order, of the invitations i (a table
 * expression, to name the index a lookup must use). */
#define STORE_INVITATION_COLUMNS_OF(invitations)                                                   \
    "SELECT i.id, i.token, i.survey_id, i.participant_id, r.id IS NOT NULL, "                      \
    "i.revoked_at IS NOT NULL, p.consent_date IS NOT NULL, "                                       \
    "c.id IS NOT NULL AND (c.status = 'closed' OR date('now') > c.closes), "                       \
    "c.id IS NOT NULL AND date('now') < c.opens "                                                  \
    "FROM " invitations " JOIN participants p ON p.id = i.participant_id "                         \
    "LEFT JOIN campaigns c ON c.id = i.campaign_id "                                               \
    "LEFT JOIN responses r ON r.invitation_id = i.id "

#define STORE_INVITATION_COLUMNS STORE_INVITATION_COLUMNS_OF("invitations i")

_Static_assert(ST_COUNT <= STORE_STMTS_PER_FILE, "too many statements for one store file");

static const char *const store_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_write",
    [ST_RELEASE] = "RELEASE store_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_write",
    [ST_USER_VERSION] = "PRAGMA user_version",
    [ST_PING] = "SELECT 1",
    [ST_DATA_SERIAL] = "SELECT value FROM meta WHERE key = 'data_serial'",
    [ST_SETTINGS] = "SELECT * FROM pragma_journal_mode(), pragma_synchronous(), "
                    "pragma_foreign_keys(), pragma_busy_timeout()",
    [ST_SECRET_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_SECRET_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
    [ST_TOKEN_UNHASHED] = "SELECT id, token FROM invitations WHERE token_hash IS NULL",
    [ST_TOKEN_HASH_SET] = "UPDATE invitations SET token_hash = ?2 WHERE id = ?1",
    /* INDEXED BY: statistics gathered while hashes were missing (all NULL: one value for
     * every row) once made the planner scan every participant instead. */
    [ST_INVITATION_BY_TOKEN] = STORE_INVITATION_COLUMNS_OF(
        "invitations i INDEXED BY invitations_token_hash") "WHERE i.token_hash = ?1",
    [ST_INVITATION_FIRST] = STORE_INVITATION_COLUMNS
    "WHERE i.survey_id = ?1 AND (r.id IS NOT NULL) = ?2 ORDER BY i.id LIMIT 1",
    [ST_RESPONSE_PUT] = "INSERT INTO responses(invitation_id, survey_id, survey_version, "
                        "survey_hash, submitted_at) VALUES (?1, ?2, ?3, ?4, " STORE_NOW ")",
    [ST_ANSWER_PUT] = "INSERT INTO answers(response_id, question_id, value) VALUES (?1, ?2, ?3)",
    [ST_SCORE_PUT] = "INSERT INTO response_scores(response_id, scale_id, value, items) "
                     "VALUES (?1, ?2, ?3, ?4)",
    [ST_DRAFT_GET] = "SELECT data, page FROM drafts WHERE invitation_id = ?1",
    [ST_DRAFT_PUT] = "INSERT INTO drafts(invitation_id, page, data, updated_at) "
                     "VALUES (?1, ?2, ?3, " STORE_NOW ") ON CONFLICT(invitation_id) DO UPDATE "
                     "SET page = excluded.page, data = excluded.data, "
                     "updated_at = excluded.updated_at",
    [ST_DRAFT_DELETE] = "DELETE FROM drafts WHERE invitation_id = ?1",
    [ST_VERSION_GET] = "SELECT hash, definition FROM survey_versions "
                       "WHERE survey_id = ?1 AND version = ?2",
    [ST_VERSION_PUT] = "INSERT INTO survey_versions(survey_id, version, hash, definition, "
                       "seen_at) VALUES (?1, ?2, ?3, ?4, " STORE_NOW ") "
                       "ON CONFLICT(survey_id, version) DO UPDATE SET hash = excluded.hash, "
                       "definition = excluded.definition, seen_at = excluded.seen_at",
    [ST_ANSWER_VALUES] = "SELECT DISTINCT a.value FROM answers a "
                         "JOIN responses r ON r.id = a.response_id "
                         "WHERE r.survey_id = ?1 AND r.survey_version = ?2 "
                         "AND a.question_id = ?3 ORDER BY a.value",
    [ST_COUNT_RESPONSES] = "SELECT count(*) FROM responses WHERE survey_id = ?1",
    [ST_COUNT_RESPONSES_ALL] = "SELECT count(*) FROM responses",
};

/*
 * A trigger adding to the counts of the campaign and organisation of an invitation (inv, an
 * expression naming invitations.id): the three amounts are SQL expressions, when a condition.
 */
#define STORE_COUNT_TRIGGER(name, event, when, inv, invited, started, completed)                   \
    "CREATE TRIGGER " name " " event " WHEN " when " BEGIN"                                        \
    " INSERT INTO campaign_counts(campaign_id, org_id, invited, started, completed)"               \
    " SELECT i.campaign_id, p.org_id, " invited ", " started ", " completed                        \
    " FROM invitations i JOIN participants p ON p.id = i.participant_id"                           \
    " WHERE i.id = " inv " AND i.campaign_id IS NOT NULL"                                          \
    " ON CONFLICT(campaign_id, org_id) DO UPDATE SET invited = invited + excluded.invited,"        \
    " started = started + excluded.started, completed = completed + excluded.completed; END;"

/* A moved participant's counts, taken from (sign "-") or given to an organisation. */
#define STORE_COUNT_MOVE(org, sign)                                                                \
    " INSERT INTO campaign_counts(campaign_id, org_id, invited, started, completed)"               \
    " SELECT i.campaign_id, " org ", " sign "count(*) FILTER (WHERE i.revoked_at IS NULL), " sign  \
    "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM drafts d WHERE d.invitation_id = i.id)"          \
    " AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.invitation_id = i.id)), " sign             \
    "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM responses r WHERE r.invitation_id = i.id))"      \
    " FROM invitations i WHERE i.participant_id = NEW.id AND i.campaign_id IS NOT NULL"            \
    " GROUP BY i.campaign_id"                                                                      \
    " ON CONFLICT(campaign_id, org_id) DO UPDATE SET invited = invited + excluded.invited,"        \
    " started = started + excluded.started, completed = completed + excluded.completed;"

/* A trigger adding to the figures of the organisation org (an SQL expression, skipped when
 * NULL) of org_counts. */
#define STORE_ORG_ADD(name, event, org, mentors, mentees, no_consent, programmes, pairs)           \
    "CREATE TRIGGER " name " " event " BEGIN"                                                      \
    " INSERT INTO org_counts(org_id, mentors, mentees, no_consent, programmes, active_pairs)"      \
    " SELECT o, " mentors ", " mentees ", " no_consent ", " programmes ", " pairs                  \
    " FROM (SELECT " org " AS o) WHERE o IS NOT NULL"                                              \
    " ON CONFLICT(org_id) DO UPDATE SET mentors = mentors + excluded.mentors,"                     \
    " mentees = mentees + excluded.mentees, no_consent = no_consent + excluded.no_consent,"        \
    " programmes = programmes + excluded.programmes,"                                              \
    " active_pairs = active_pairs + excluded.active_pairs; END;"

/* The active pairs a participant (row OLD or NEW) mentors, with a sign. */
#define STORE_ORG_MENTORED(sign, row)                                                              \
    sign "(SELECT count(*) FROM pairs WHERE mentor_id = " row ".id AND status = 'active')"

/* The organisation of a pair's mentor (row OLD or NEW). */
#define STORE_ORG_OF(row) "(SELECT org_id FROM participants WHERE id = " row ".mentor_id)"

/* Migration N (1-based) brings user_version from N-1 to N; its script sets user_version
 * itself, so the number is never spliced into SQL. after() runs in the same transaction. */
struct store_migration {
    const char *sql;
    int (*after)(struct store *s, struct err *e);
};

static int store_seed_secret(struct store *s, struct err *e);
static int store_hash_tokens(struct store *s, struct err *e);

/* The SQL of the migrations is laid out by hand, a statement or a trigger a line group:
 * clang-format would split its strings and the macros' arguments mid-word. */
/* clang-format off */
static const struct store_migration store_migrations[] = {
    {
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "CREATE TABLE orgs(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES orgs(id),"
        " level TEXT NOT NULL CHECK(level IN ('region', 'municipality', 'organisation')),"
        " code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, kind TEXT, max_mentees INTEGER);"
        "CREATE INDEX orgs_parent ON orgs(parent_id);"
        "CREATE TABLE programmes(id INTEGER PRIMARY KEY,"
        " org_id INTEGER NOT NULL REFERENCES orgs(id), code TEXT NOT NULL UNIQUE,"
        " form TEXT NOT NULL, title TEXT NOT NULL, year INTEGER NOT NULL);"
        "CREATE INDEX programmes_org ON programmes(org_id);"
        "CREATE TABLE participants(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
        " org_id INTEGER NOT NULL REFERENCES orgs(id),"
        " programme_id INTEGER REFERENCES programmes(id),"
        " role TEXT NOT NULL CHECK(role IN ('mentor', 'mentee', 'curator')),"
        " kind TEXT NOT NULL CHECK(kind IN ('pupil', 'student', 'teacher', 'employer')),"
        " birth_year INTEGER, experience_years INTEGER, name TEXT,"
        " consent_date TEXT, consent_scope TEXT, consent_by TEXT);"
        "CREATE INDEX participants_org ON participants(org_id);"
        "CREATE INDEX participants_programme ON participants(programme_id);"
        "CREATE TABLE pairs(id INTEGER PRIMARY KEY,"
        " programme_id INTEGER NOT NULL REFERENCES programmes(id),"
        " mentor_id INTEGER NOT NULL REFERENCES participants(id) ON DELETE CASCADE,"
        " mentee_id INTEGER NOT NULL REFERENCES participants(id) ON DELETE CASCADE,"
        " starts TEXT NOT NULL, ends TEXT,"
        " status TEXT NOT NULL CHECK(status IN ('active', 'finished', 'broken')),"
        " UNIQUE(programme_id, mentor_id, mentee_id));"
        "CREATE INDEX pairs_mentor ON pairs(mentor_id);"
        "CREATE INDEX pairs_mentee ON pairs(mentee_id);"
        "CREATE TABLE figures(org_id INTEGER NOT NULL REFERENCES orgs(id),"
        " period TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,"
        " PRIMARY KEY(org_id, period, name)) WITHOUT ROWID;"
        "CREATE TABLE campaigns(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
        " survey_id TEXT NOT NULL, org_id INTEGER NOT NULL REFERENCES orgs(id),"
        " period TEXT NOT NULL, wave TEXT NOT NULL CHECK(wave IN ('entry', 'final', 'none')),"
        " role TEXT CHECK(role IN ('mentor', 'mentee', 'curator')), form TEXT,"
        " opens TEXT NOT NULL, closes TEXT NOT NULL,"
        " status TEXT NOT NULL CHECK(status IN ('draft', 'open', 'closed')),"
        " created_at TEXT NOT NULL);"
        "CREATE TABLE invitations(id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE,"
        " participant_id INTEGER NOT NULL REFERENCES participants(id),"
        " campaign_id INTEGER REFERENCES campaigns(id),"
        " survey_id TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);"
        "CREATE INDEX invitations_participant ON invitations(participant_id);"
        "CREATE INDEX invitations_survey ON invitations(survey_id);"
        "CREATE UNIQUE INDEX invitations_campaign ON invitations(campaign_id, participant_id)"
        " WHERE campaign_id IS NOT NULL;"
        "CREATE TABLE responses(id INTEGER PRIMARY KEY,"
        " invitation_id INTEGER NOT NULL UNIQUE REFERENCES invitations(id),"
        " survey_id TEXT NOT NULL, survey_version INTEGER NOT NULL, survey_hash TEXT NOT NULL,"
        " submitted_at TEXT NOT NULL);"
        "CREATE INDEX responses_survey ON responses(survey_id);"
        "CREATE TABLE answers("
        " response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,"
        " question_id TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY(response_id, question_id)) WITHOUT ROWID;"
        "CREATE TABLE response_scores("
        " response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,"
        " scale_id TEXT NOT NULL, value REAL NOT NULL, items INTEGER NOT NULL,"
        " PRIMARY KEY(response_id, scale_id)) WITHOUT ROWID;"
        "CREATE TABLE drafts("
        " invitation_id INTEGER PRIMARY KEY REFERENCES invitations(id) ON DELETE CASCADE,"
        " page INTEGER NOT NULL, data TEXT NOT NULL, updated_at TEXT NOT NULL);"
        "CREATE TABLE survey_versions(survey_id TEXT NOT NULL, version INTEGER NOT NULL,"
        " hash TEXT NOT NULL, definition TEXT NOT NULL, seen_at TEXT NOT NULL,"
        " PRIMARY KEY(survey_id, version)) WITHOUT ROWID;"
        "CREATE TABLE users(id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " name TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK(role IN ('curator', 'coordinator', 'methodologist', 'admin')),"
        " org_id INTEGER REFERENCES orgs(id), password_hash TEXT NOT NULL, disabled_at TEXT,"
        " failed_logins INTEGER NOT NULL DEFAULT 0, locked_until INTEGER NOT NULL DEFAULT 0,"
        " created_at TEXT NOT NULL, CHECK((role = 'admin') = (org_id IS NULL)));"
        "CREATE TABLE sessions(token_hash TEXT PRIMARY KEY,"
        " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, last_seen INTEGER NOT NULL)"
        " WITHOUT ROWID;"
        "CREATE INDEX sessions_user ON sessions(user_id);"
        "CREATE TABLE audit(id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
        " user_id INTEGER REFERENCES users(id), action TEXT NOT NULL, object TEXT, detail TEXT);"
        /* Indicators (core/store_indicator.c). indicator_scores is a copy of the scale
         * scores of responses given in campaigns, with who answered, their organisation and
         * form of mentoring, kept by the triggers below: an indicator then reads one index
         * range per organisation instead of joining four tables per response. */
        "CREATE INDEX indicator_participants ON participants(org_id, role, kind, birth_year,"
        " experience_years, programme_id);"
        "CREATE INDEX indicator_pairs_mentor ON pairs(mentor_id, starts, ends, programme_id);"
        "CREATE INDEX indicator_pairs_mentee ON pairs(mentee_id, starts, ends, programme_id);"
        "CREATE INDEX indicator_pairs_programme ON pairs(programme_id, status, starts, ends);"
        "CREATE INDEX indicator_invitations ON invitations(participant_id, survey_id, campaign_id);"
        "CREATE TABLE indicator_scores("
        " response_id INTEGER NOT NULL REFERENCES responses(id) ON DELETE CASCADE,"
        " scale_id TEXT NOT NULL, org_id INTEGER NOT NULL, campaign_id INTEGER NOT NULL,"
        " participant_id INTEGER NOT NULL, form TEXT, value REAL NOT NULL,"
        " PRIMARY KEY(response_id, scale_id)) WITHOUT ROWID;"
        "CREATE INDEX indicator_scores_org ON indicator_scores(scale_id, campaign_id, org_id,"
        " participant_id, form, value);"
        "CREATE INDEX indicator_scores_participant ON indicator_scores(participant_id);"
        "CREATE TRIGGER indicator_scores_put AFTER INSERT ON response_scores BEGIN"
        " INSERT INTO indicator_scores(response_id, scale_id, org_id, campaign_id,"
        " participant_id, form, value)"
        " SELECT NEW.response_id, NEW.scale_id, p.org_id, i.campaign_id, p.id, g.form, NEW.value"
        " FROM responses r JOIN invitations i ON i.id = r.invitation_id"
        " JOIN participants p ON p.id = i.participant_id"
        " LEFT JOIN programmes g ON g.id = p.programme_id"
        " WHERE r.id = NEW.response_id AND i.campaign_id IS NOT NULL; END;"
        "CREATE TRIGGER indicator_scores_value AFTER UPDATE OF value ON response_scores BEGIN"
        " UPDATE indicator_scores SET value = NEW.value"
        " WHERE response_id = NEW.response_id AND scale_id = NEW.scale_id; END;"
        "CREATE TRIGGER indicator_scores_drop AFTER DELETE ON response_scores BEGIN"
        " DELETE FROM indicator_scores"
        " WHERE response_id = OLD.response_id AND scale_id = OLD.scale_id; END;"
        "CREATE TRIGGER indicator_scores_participant AFTER UPDATE OF org_id, programme_id"
        " ON participants WHEN OLD.org_id IS NOT NEW.org_id"
        " OR OLD.programme_id IS NOT NEW.programme_id BEGIN"
        " UPDATE indicator_scores SET org_id = NEW.org_id,"
        " form = (SELECT form FROM programmes WHERE id = NEW.programme_id)"
        " WHERE participant_id = NEW.id; END;"
        "CREATE TRIGGER indicator_scores_form AFTER UPDATE OF form ON programmes"
        " WHEN OLD.form IS NOT NEW.form BEGIN"
        " UPDATE indicator_scores SET form = NEW.form WHERE participant_id IN"
        " (SELECT id FROM participants WHERE programme_id = NEW.id); END;"
        "CREATE TABLE indicator_values(region TEXT NOT NULL, indicator TEXT NOT NULL,"
        " period TEXT NOT NULL, org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,"
        " num REAL, den REAL, value REAL, n REAL, target REAL, breakdown TEXT,"
        " script_hash TEXT NOT NULL, computed_at TEXT NOT NULL, error TEXT,"
        " PRIMARY KEY(region, indicator, period, org_id)) WITHOUT ROWID;"
        "CREATE TABLE indicator_runs(id INTEGER PRIMARY KEY, region TEXT NOT NULL,"
        " period TEXT NOT NULL, org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,"
        " started_at TEXT NOT NULL, duration_ms INTEGER NOT NULL, memory_kb INTEGER NOT NULL,"
        " indicators INTEGER NOT NULL, failures INTEGER NOT NULL, script_hash TEXT NOT NULL);"
        /* What indicators are computed from changed: a counter the master watches (the
         * indicator computation writes none of these tables, so its own writes do not
         * call for another one). */
        "INSERT INTO meta(key, value) VALUES ('data_serial', 0);"
        "CREATE TRIGGER data_serial_responses_insert AFTER INSERT ON responses BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_responses_delete AFTER DELETE ON responses BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_participants_insert AFTER INSERT ON participants BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_participants_update AFTER UPDATE ON participants BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_participants_delete AFTER DELETE ON participants BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_pairs_insert AFTER INSERT ON pairs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_pairs_update AFTER UPDATE ON pairs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_pairs_delete AFTER DELETE ON pairs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_figures_insert AFTER INSERT ON figures BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_figures_update AFTER UPDATE ON figures BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_figures_delete AFTER DELETE ON figures BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_orgs_insert AFTER INSERT ON orgs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_orgs_update AFTER UPDATE ON orgs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_orgs_delete AFTER DELETE ON orgs BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_programmes_insert AFTER INSERT ON programmes BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_programmes_update AFTER UPDATE ON programmes BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "CREATE TRIGGER data_serial_programmes_delete AFTER DELETE ON programmes BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'data_serial'; END;"
        "PRAGMA user_version = 1;",
        store_seed_secret,
    },
    {
        /* Response rates by campaign and organisation, kept by triggers: a dashboard sums a
         * subtree's rows instead of counting a region's million invitations (22 s for a
         * region's page before). invited: not revoked; started: a draft and no response;
         * completed: a response. */
        "CREATE TABLE campaign_counts(campaign_id INTEGER NOT NULL REFERENCES campaigns(id)"
        " ON DELETE CASCADE, org_id INTEGER NOT NULL, invited INTEGER NOT NULL,"
        " started INTEGER NOT NULL, completed INTEGER NOT NULL,"
        " PRIMARY KEY(campaign_id, org_id)) WITHOUT ROWID;"
        "INSERT INTO campaign_counts SELECT i.campaign_id, p.org_id,"
        " count(*) FILTER (WHERE i.revoked_at IS NULL),"
        " count(*) FILTER (WHERE d.invitation_id IS NOT NULL AND r.id IS NULL),"
        " count(r.id) FROM invitations i JOIN participants p ON p.id = i.participant_id"
        " LEFT JOIN drafts d ON d.invitation_id = i.id"
        " LEFT JOIN responses r ON r.invitation_id = i.id"
        " WHERE i.campaign_id IS NOT NULL GROUP BY 1, 2;" STORE_COUNT_TRIGGER(
            "counts_invite", "AFTER INSERT ON invitations", "NEW.campaign_id IS NOT NULL", "NEW.id",
            "NEW.revoked_at IS NULL", "0", "0")
            STORE_COUNT_TRIGGER("counts_revoke", "AFTER UPDATE OF revoked_at ON invitations",
                                "NEW.campaign_id IS NOT NULL AND (OLD.revoked_at IS NULL) <>"
                                " (NEW.revoked_at IS NULL)",
                                "NEW.id", "CASE WHEN NEW.revoked_at IS NULL THEN 1 ELSE -1 END",
                                "0", "0")
        /* Everything of the invitation, in case its draft or response goes after it: the
         * drafts' own trigger no longer finds the invitation then. */
        STORE_COUNT_TRIGGER("counts_uninvite", "BEFORE DELETE ON invitations",
                            "OLD.campaign_id IS NOT NULL", "OLD.id", "-(OLD.revoked_at IS NULL)",
                            "-(EXISTS (SELECT 1 FROM drafts WHERE invitation_id = OLD.id) AND"
                            " NOT EXISTS (SELECT 1 FROM responses WHERE invitation_id = OLD.id))",
                            "-EXISTS (SELECT 1 FROM responses WHERE invitation_id = OLD.id)")
            STORE_COUNT_TRIGGER(
                "counts_respond", "AFTER INSERT ON responses", "1", "NEW.invitation_id", "0",
                "-EXISTS (SELECT 1 FROM drafts WHERE invitation_id ="
                " NEW.invitation_id)",
                "1") STORE_COUNT_TRIGGER("counts_unrespond", "BEFORE DELETE ON responses", "1",
                                         "OLD.invitation_id", "0",
                                         "EXISTS (SELECT 1 FROM drafts WHERE invitation_id ="
                                         " OLD.invitation_id)",
                                         "-1")
                STORE_COUNT_TRIGGER("counts_draft", "AFTER INSERT ON drafts",
                                    "NOT EXISTS (SELECT 1 FROM responses WHERE invitation_id ="
                                    " NEW.invitation_id)",
                                    "NEW.invitation_id", "0", "1", "0")
                    STORE_COUNT_TRIGGER("counts_undraft", "BEFORE DELETE ON drafts",
                                        "NOT EXISTS (SELECT 1 FROM responses WHERE invitation_id ="
                                        " OLD.invitation_id)",
                                        "OLD.invitation_id", "0", "-1", "0")
        /* A participant who moves takes their counts along: out of the old organisation's
         * rows, into the new one's. */
        "CREATE TRIGGER counts_move AFTER UPDATE OF org_id ON participants"
        " WHEN OLD.org_id <> NEW.org_id BEGIN" STORE_COUNT_MOVE("OLD.org_id", "-")
            STORE_COUNT_MOVE("NEW.org_id", "") " END;"
                                               "PRAGMA user_version = 2;",
        NULL,
    },
    {
        /* The figures of a dashboard per organisation (its own rows, not its subtree's),
         * kept by triggers like campaign_counts: a region's page sums 300 rows instead of
         * counting 100,000 participants for itself and each municipality (0.13 s). Pairs
         * count where their mentor is. A change is two triggers: the old figures out, the
         * new in. */
        "CREATE TABLE org_counts(org_id INTEGER PRIMARY KEY REFERENCES orgs(id)"
        " ON DELETE CASCADE, mentors INTEGER NOT NULL DEFAULT 0,"
        " mentees INTEGER NOT NULL DEFAULT 0, no_consent INTEGER NOT NULL DEFAULT 0,"
        " programmes INTEGER NOT NULL DEFAULT 0, active_pairs INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO org_counts(org_id, mentors, mentees, no_consent, programmes, active_pairs)"
        " SELECT o.id,"
        " (SELECT count(*) FROM participants WHERE org_id = o.id AND role = 'mentor'),"
        " (SELECT count(*) FROM participants WHERE org_id = o.id AND role = 'mentee'),"
        " (SELECT count(*) FROM participants WHERE org_id = o.id AND consent_date IS NULL),"
        " (SELECT count(*) FROM programmes WHERE org_id = o.id),"
        " (SELECT count(*) FROM pairs p JOIN participants m ON m.id = p.mentor_id"
        " WHERE m.org_id = o.id AND p.status = 'active') FROM orgs o;"
        STORE_ORG_ADD("orgc_person_in", "AFTER INSERT ON participants", "NEW.org_id",
                      "NEW.role = 'mentor'", "NEW.role = 'mentee'", "NEW.consent_date IS NULL",
                      "0", "0")
        /* Before: the pairs the participant mentors are still there to count (the cascade
         * that deletes them finds no mentor's organisation afterwards). */
        STORE_ORG_ADD("orgc_person_out", "BEFORE DELETE ON participants", "OLD.org_id",
                      "-(OLD.role = 'mentor')", "-(OLD.role = 'mentee')",
                      "-(OLD.consent_date IS NULL)", "0", STORE_ORG_MENTORED("-", "OLD"))
        STORE_ORG_ADD("orgc_person_was", "AFTER UPDATE OF org_id, role, consent_date ON "
                      "participants", "OLD.org_id", "-(OLD.role = 'mentor')",
                      "-(OLD.role = 'mentee')", "-(OLD.consent_date IS NULL)", "0",
                      STORE_ORG_MENTORED("-", "OLD"))
        STORE_ORG_ADD("orgc_person_is", "AFTER UPDATE OF org_id, role, consent_date ON "
                      "participants", "NEW.org_id", "NEW.role = 'mentor'",
                      "NEW.role = 'mentee'", "NEW.consent_date IS NULL", "0",
                      STORE_ORG_MENTORED("", "NEW"))
        STORE_ORG_ADD("orgc_programme_in", "AFTER INSERT ON programmes", "NEW.org_id", "0", "0",
                      "0", "1", "0")
        STORE_ORG_ADD("orgc_programme_out", "AFTER DELETE ON programmes", "OLD.org_id", "0",
                      "0", "0", "-1", "0")
        STORE_ORG_ADD("orgc_programme_was", "AFTER UPDATE OF org_id ON programmes", "OLD.org_id",
                      "0", "0", "0", "-1", "0")
        STORE_ORG_ADD("orgc_programme_is", "AFTER UPDATE OF org_id ON programmes", "NEW.org_id",
                      "0", "0", "0", "1", "0")
        STORE_ORG_ADD("orgc_pair_in", "AFTER INSERT ON pairs", STORE_ORG_OF("NEW"), "0", "0", "0",
                      "0", "NEW.status = 'active'")
        STORE_ORG_ADD("orgc_pair_out", "BEFORE DELETE ON pairs", STORE_ORG_OF("OLD"), "0", "0",
                      "0", "0", "-(OLD.status = 'active')")
        STORE_ORG_ADD("orgc_pair_was", "AFTER UPDATE OF status, mentor_id ON pairs",
                      STORE_ORG_OF("OLD"), "0", "0", "0", "0", "-(OLD.status = 'active')")
        STORE_ORG_ADD("orgc_pair_is", "AFTER UPDATE OF status, mentor_id ON pairs",
                      STORE_ORG_OF("NEW"), "0", "0", "0", "0", "NEW.status = 'active'")
        "PRAGMA user_version = 3;",
        NULL,
    },
    {
        /* Links are looked up by the hash of their token (store_token_hash), filled for the
         * links there are by store_hash_tokens. */
        "ALTER TABLE invitations ADD COLUMN token_hash TEXT;"
        "CREATE UNIQUE INDEX invitations_token_hash ON invitations(token_hash);"
        "PRAGMA user_version = 4;",
        store_hash_tokens,
    },
};
/* clang-format on */

#define STORE_LATEST ((int)(sizeof store_migrations / sizeof store_migrations[0]))

int store_schema_latest(void)
{
    return STORE_LATEST;
}

int store_schema_version(struct store *s)
{
    return s->version;
}

/* Fills e with what was being done and SQLite's own words; must run before any reset. */
int store_fail(struct store *s, const char *what, struct err *e)
{
    err_set(e, s->path, 0, 0, "store: %s: %s", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

sqlite3_stmt *store_prep(struct store *s, int slot, const char *sql, const char *what,
                         struct err *e)
{
    /* A statement named in an enum but missing from its file's SQL table. */
    if (!sql) {
        err_set(e, s->path, 0, 0, "store: %s: statement %d has no SQL", what, slot);
        return NULL;
    }
    if (!s->stmt[slot] && sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                             &s->stmt[slot], NULL) != SQLITE_OK) {
        store_fail(s, what, e);
        s->stmt[slot] = NULL;
        return NULL;
    }
    return s->stmt[slot];
}

static sqlite3_stmt *store_stmt(struct store *s, enum store_stmt id, const char *what,
                                struct err *e)
{
    return store_prep(s, STORE_CORE_BASE + id, store_sql[id], what, e);
}

int store_data_serial(struct store *s, long long *out, struct err *e)
{
    sqlite3_stmt *st = store_stmt(s, ST_DATA_SERIAL, "read data version", e);
    if (!st)
        return STORE_ERROR;
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = store_fail(s, "read data version", e);
    store_done(st);
    return rc;
}

int store_ping(struct store *s, struct err *e)
{
    sqlite3_stmt *st = store_stmt(s, ST_PING, "ping", e);
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st) == SQLITE_ROW ? STORE_OK : store_fail(s, "ping", e);
    store_done(st);
    return rc;
}

void store_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that takes no values and returns no rows. */
static int store_run(struct store *s, enum store_stmt id, const char *what, struct err *e)
{
    sqlite3_stmt *st = store_stmt(s, id, what, e);
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(st);
    return rc;
}

/* Runs a statement whose values are already bound, expecting no rows; resets it. */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : store_fail(s, what, e);
    store_done(st);
    return rc;
}

/* Resets a statement whose binding failed, keeping SQLite's message. */
int store_bind_failed(struct store *s, sqlite3_stmt *st, const char *what, struct err *e)
{
    store_fail(s, what, e);
    store_done(st);
    return STORE_ERROR;
}

int store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int store_collect(struct store *s, sqlite3_stmt *st, struct arena *a, size_t size,
                  int (*read)(sqlite3_stmt *st, struct arena *a, void *row), void **out, size_t *n,
                  const char *what, struct err *e)
{
    char *rows = NULL;
    size_t cap = 0, count = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char *grown = arena_realloc(a, rows, cap * size, ncap * size);
            if (!grown)
                break;
            rows = grown;
            cap = ncap;
        }
        if (read(st, a, rows + count * size) < 0)
            break;
        count++;
    }
    store_done(st);
    *out = NULL;
    *n = 0;
    if (step != SQLITE_DONE)
        return step == SQLITE_ROW ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what)
                                  : store_fail(s, what, e);
    *out = rows;
    *n = count;
    return STORE_OK;
}

int store_bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = SQLITE_OK;
    for (int i = 1; rc == SQLITE_OK && fmt[i - 1]; i++) {
        switch (fmt[i - 1]) {
        case 's': rc = store_bind_text(st, i, va_arg(ap, const char *)); break;
        case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'n': {
            int64_t v = va_arg(ap, int64_t);
            rc = v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
            break;
        }
        case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
        default: rc = SQLITE_MISUSE; break;
        }
    }
    va_end(ap);
    return rc;
}

static int store_read_version(struct store *s, int *out, struct err *e)
{
    sqlite3_stmt *st = store_stmt(s, ST_USER_VERSION, "read schema version", e);
    if (!st)
        return STORE_ERROR;
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = store_fail(s, "read schema version", e);
    store_done(st);
    return rc;
}

static int store_seed_secret(struct store *s, struct err *e)
{
    const char *what = "create secret";
    sqlite3_stmt *st = store_stmt(s, ST_SECRET_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    unsigned char key[CRYPTO_KEY_BYTES];
    crypto_random(key, sizeof key);
    int rc;
    if (sqlite3_bind_text(st, 1, STORE_SECRET_KEY, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, key, sizeof key, SQLITE_STATIC) != SQLITE_OK)
        rc = store_bind_failed(s, st, what, e);
    else
        rc = store_step_done(s, st, what, e);
    explicit_bzero(key, sizeof key);
    return rc;
}

static int store_newer(struct store *s, int v, struct err *e)
{
    return err_set(e, s->path, 0, 0,
                   "store: schema version %d was written by a newer anketa (this build knows "
                   "up to %d)",
                   v, STORE_LATEST);
}

/*
 * Applies the migrations one transaction each. The version is re-read under the write lock,
 * so two processes initialising the same file at once do not both run a step.
 */
static int store_migrate(struct store *s, struct err *e)
{
    for (;;) {
        int v;
        if (store_run(s, ST_BEGIN, "begin migration", e) != STORE_OK)
            return STORE_ERROR;
        if (store_read_version(s, &v, e) != STORE_OK)
            goto fail;
        if (v >= STORE_LATEST) {
            store_rollback(s);
            if (v > STORE_LATEST)
                return store_newer(s, v, e);
            s->version = v;
            return STORE_OK;
        }
        const struct store_migration *m = &store_migrations[v];
        char what[64];
        snprintf(what, sizeof what, "migration %d", v + 1);
        int after;
        if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
            store_fail(s, what, e);
            goto fail;
        }
        if (store_read_version(s, &after, e) != STORE_OK)
            goto fail;
        if (after != v + 1) {
            err_set(e, s->path, 0, 0, "store: %s left schema version %d", what, after);
            goto fail;
        }
        if (m->after && m->after(s, e) != STORE_OK)
            goto fail;
        if (store_run(s, ST_COMMIT, what, e) != STORE_OK)
            goto fail;
    }
fail:
    store_rollback(s);
    return STORE_ERROR;
}

/* Links written by another tool since (with SQL, without their hash), hashed by the commands
 * that may bring a database up to date: init, demo, serve at start. */
static int store_hash_new_tokens(struct store *s, struct err *e)
{
    int nested;
    if (store_write_begin(s, &nested, "hash link tokens", e) != STORE_OK)
        return STORE_ERROR;
    if (store_hash_tokens(s, e) != STORE_OK) {
        store_write_rollback(s, nested);
        return STORE_ERROR;
    }
    return store_write_commit(s, nested, "hash link tokens", e);
}

/* Checks the schema version against this build; with migrate, brings an older one up. */
static int store_check_schema(struct store *s, int migrate, struct err *e)
{
    int v;
    if (store_read_version(s, &v, e) != STORE_OK)
        return STORE_ERROR;
    if (v > STORE_LATEST)
        return store_newer(s, v, e);
    if (v < STORE_LATEST && !migrate)
        return err_set(e, s->path, 0, 0,
                       "store: schema version %d is older than this build's %d: run `anketa "
                       "init`",
                       v, STORE_LATEST);
    s->version = v;
    if (v == STORE_LATEST)
        return migrate ? store_hash_new_tokens(s, e) : STORE_OK;
    /* An existing database is copied before its schema changes, so an upgrade that goes
     * wrong can be undone with anketa restore. */
    if (v > 0) {
        char *path = sqlite3_mprintf("%s.before-schema-%d-%lld.bak", s->path, STORE_LATEST,
                                     (long long)time(NULL));
        if (!path)
            return err_set(e, s->path, 0, 0, "store: out of memory");
        int rc = store_backup(s, path, e);
        if (rc == STORE_OK)
            fprintf(stderr, "anketa: copied %s to %s before upgrading its schema\n", s->path, path);
        sqlite3_free(path);
        if (rc != STORE_OK)
            return rc;
    }
    return store_migrate(s, e);
}

static int store_journal_cb(void *arg, int n, char **values, char **names)
{
    (void)names;
    if (n > 0 && values[0])
        snprintf(arg, STORE_MODE_LEN, "%s", values[0]);
    return 0;
}

static int store_configure(struct store *s, const struct store_options *opt, struct err *e)
{
    const char *sync = opt && opt->synchronous ? opt->synchronous : "FULL";
    const char *sync_sql;
    if (strcasecmp(sync, "FULL") == 0)
        sync_sql = "PRAGMA synchronous = FULL";
    else if (strcasecmp(sync, "NORMAL") == 0)
        sync_sql = "PRAGMA synchronous = NORMAL";
    else
        return err_set(e, s->path, 0, 0, "store: synchronous must be FULL or NORMAL, not \"%s\"",
                       sync);
    int timeout = opt && opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000;
    if (sqlite3_busy_timeout(s->db, timeout) != SQLITE_OK)
        return store_fail(s, "set busy timeout", e);

    char mode[STORE_MODE_LEN] = "";
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", store_journal_cb, mode, NULL) != SQLITE_OK)
        return store_fail(s, "set journal mode", e);
    if (strcasecmp(mode, "wal") != 0)
        return err_set(e, s->path, 0, 0, "store: set journal mode: got \"%s\" instead of wal",
                       mode);
    if (sqlite3_exec(s->db, sync_sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "set synchronous", e);
    if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "enable foreign keys", e);
    return STORE_OK;
}

int store_open(const char *path, const struct store_options *opt, struct store **out, struct err *e)
{
    *out = NULL;
    int migrate = opt && opt->migrate;
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, path, 0, 0, "store: open: out of memory");
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return err_set(e, path, 0, 0, "store: open: out of memory");
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (migrate ? SQLITE_OPEN_CREATE : 0);
    /* The database holds the links and children's answers: files it creates (the database,
     * its -wal and -shm) are for the owner only. */
    mode_t old_mask = umask(077);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc == SQLITE_OK)
        rc = store_configure(s, opt, e) == STORE_OK ? SQLITE_OK : -1;
    umask(old_mask);
    if (rc == -1) {
        store_close(s);
        return STORE_ERROR;
    }
    if (rc != SQLITE_OK) {
        struct stat st;
        if (!s->db)
            err_set(e, path, 0, 0, "store: open: out of memory");
        else if (!migrate && stat(path, &st) != 0 && errno == ENOENT)
            err_set(e, path, 0, 0, "store: open: no such database: run `anketa init` to create it");
        else
            store_fail(s, "open", e);
        store_close(s);
        return STORE_ERROR;
    }
    if (store_check_schema(s, migrate, e) != STORE_OK) {
        store_close(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < STORE_STMTS; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK) {
        fprintf(stderr, "%s: store: close: %s\n", s->path, sqlite3_errmsg(s->db));
        sqlite3_close_v2(s->db);
    }
    free(s->path);
    free(s);
}

int store_settings(struct store *s, struct store_settings *out, struct err *e)
{
    const char *what = "read settings";
    sqlite3_stmt *st = store_stmt(s, ST_SETTINGS, what, e);
    if (!st)
        return STORE_ERROR;
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        snprintf(out->journal_mode, sizeof out->journal_mode, "%s", mode ? (const char *)mode : "");
        out->synchronous = sqlite3_column_int(st, 1);
        out->foreign_keys = sqlite3_column_int(st, 2);
        out->busy_timeout_ms = sqlite3_column_int(st, 3);
    } else {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_secret(struct store *s, unsigned char key[32], struct err *e)
{
    const char *what = "read secret";
    sqlite3_stmt *st = store_stmt(s, ST_SECRET_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (sqlite3_bind_text(st, 1, STORE_SECRET_KEY, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_OK;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (v && n == CRYPTO_KEY_BYTES)
            memcpy(key, v, CRYPTO_KEY_BYTES);
        else
            rc = err_set(e, s->path, 0, 0, "store: %s: %d bytes instead of %d", what, n,
                         CRYPTO_KEY_BYTES);
    } else if (step == SQLITE_DONE) {
        rc = err_set(e, s->path, 0, 0, "store: %s: missing from meta", what);
    } else {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

/* Copies the current row of a STORE_INVITATION_COLUMNS statement into out. */
static int store_read_invitation(struct store *s, sqlite3_stmt *st, struct arena *a,
                                 const char *what, struct invitation *out, struct err *e)
{
    const char *token = (const char *)sqlite3_column_text(st, 1);
    const char *survey_id = (const char *)sqlite3_column_text(st, 2);
    if (!token || !survey_id)
        return store_fail(s, what, e);
    out->id = sqlite3_column_int64(st, 0);
    out->token = arena_strdup(a, token);
    out->survey_id = arena_strdup(a, survey_id);
    out->participant_id = sqlite3_column_int64(st, 3);
    out->answered = sqlite3_column_int(st, 4);
    out->revoked = sqlite3_column_int(st, 5);
    out->consent = sqlite3_column_int(st, 6);
    out->closed = sqlite3_column_int(st, 7);
    out->not_yet = sqlite3_column_int(st, 8);
    if (!out->token || !out->survey_id)
        return err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    return STORE_OK;
}

/* Steps a bound STORE_INVITATION_COLUMNS statement for at most one row. */
static int store_one_invitation(struct store *s, sqlite3_stmt *st, struct arena *a,
                                const char *what, struct invitation *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    int rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = store_read_invitation(s, st, a, what, out, e);
    else if (step == SQLITE_DONE)
        rc = STORE_NOT_FOUND;
    else
        rc = store_fail(s, what, e);
    store_done(st);
    return rc;
}

void store_token_hash(const char *token, char out[65])
{
    crypto_sha256_hex(token, strlen(token), out);
}

/* Gives every link without one its token's hash: the links there were at migration 4, and
 * those another tool wrote with SQL (the benchmark's generator). */
static int store_hash_tokens(struct store *s, struct err *e)
{
    const char *what = "hash link tokens";
    sqlite3_stmt *sel = store_stmt(s, ST_TOKEN_UNHASHED, what, e);
    sqlite3_stmt *upd = store_stmt(s, ST_TOKEN_HASH_SET, what, e);
    if (!sel || !upd)
        return STORE_ERROR;
    int step, rc = STORE_OK;
    while (rc == STORE_OK && (step = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *token = (const char *)sqlite3_column_text(sel, 1);
        char hash[65];
        store_token_hash(token ? token : "", hash);
        if (sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0)) != SQLITE_OK ||
            sqlite3_bind_text(upd, 2, hash, -1, SQLITE_TRANSIENT) != SQLITE_OK)
            rc = store_bind_failed(s, upd, what, e);
        else
            rc = store_step_done(s, upd, what, e);
    }
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(s, what, e);
    store_done(sel);
    return rc;
}

int store_invitation_by_token(struct store *s, struct arena *a, const char *token,
                              struct invitation *out, struct err *e)
{
    const char *what = "look up invitation";
    sqlite3_stmt *st = store_stmt(s, ST_INVITATION_BY_TOKEN, what, e);
    if (!st)
        return STORE_ERROR;
    char hash[65];
    store_token_hash(token, hash);
    if (sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_one_invitation(s, st, a, what, out, e);
}

int store_first_invitation(struct store *s, struct arena *a, const char *survey_id, int answered,
                           struct invitation *out, struct err *e)
{
    const char *what = "find invitation";
    sqlite3_stmt *st = store_stmt(s, ST_INVITATION_FIRST, what, e);
    if (!st)
        return STORE_ERROR;
    if (sqlite3_bind_text(st, 1, survey_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, answered != 0) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_one_invitation(s, st, a, what, out, e);
}

/*
 * Starts the unit of work of one write call: its own transaction, or a savepoint when the
 * caller already holds one (store_begin), so a failure undoes only this call's writes.
 */
int store_write_begin(struct store *s, int *nested, const char *what, struct err *e)
{
    *nested = !sqlite3_get_autocommit(s->db);
    return store_run(s, *nested ? ST_SAVEPOINT : ST_BEGIN, what, e);
}

int store_write_commit(struct store *s, int nested, const char *what, struct err *e)
{
    return store_run(s, nested ? ST_RELEASE : ST_COMMIT, what, e);
}

void store_write_rollback(struct store *s, int nested)
{
    if (!nested) {
        store_rollback(s);
        return;
    }
    if (store_run(s, ST_ROLLBACK_TO, "roll back", NULL) == STORE_OK)
        store_run(s, ST_RELEASE, "roll back", NULL);
}

static int store_put_answers(struct store *s, int64_t response_id, const struct response *r,
                             struct err *e)
{
    const char *what = "insert answer";
    sqlite3_stmt *st = store_stmt(s, ST_ANSWER_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    for (size_t i = 0; i < r->nanswers; i++) {
        const struct answer *ans = &r->answers[i];
        char what_q[128];
        snprintf(what_q, sizeof what_q, "%s %s", what, ans->q->id);
        if (sqlite3_bind_int64(st, 1, response_id) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, ans->q->id, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, ans->value, -1, SQLITE_STATIC) != SQLITE_OK)
            return store_bind_failed(s, st, what_q, e);
        if (store_step_done(s, st, what_q, e) != STORE_OK)
            return STORE_ERROR;
    }
    return STORE_OK;
}

static int store_put_scores(struct store *s, int64_t response_id, const struct response *r,
                            struct err *e)
{
    const char *what = "insert score";
    if (!r->nscores)
        return STORE_OK;
    sqlite3_stmt *st = store_stmt(s, ST_SCORE_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    for (size_t i = 0; i < r->nscores; i++) {
        const struct score *sc = &r->scores[i];
        if (store_bind(st, "isdi", response_id, sc->id, sc->value, (int64_t)sc->items) != SQLITE_OK)
            return store_bind_failed(s, st, what, e);
        if (store_step_done(s, st, what, e) != STORE_OK)
            return STORE_ERROR;
    }
    return STORE_OK;
}

static int store_draft_delete(struct store *s, int64_t invitation_id, struct err *e)
{
    const char *what = "delete draft";
    sqlite3_stmt *st = store_stmt(s, ST_DRAFT_DELETE, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "i", invitation_id) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_put_response(struct store *s, const struct invitation *inv, const struct response *r,
                       struct err *e)
{
    const char *what = "insert response";
    int nested;
    if (store_write_begin(s, &nested, "begin response", e) != STORE_OK)
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, ST_RESPONSE_PUT, what, e);
    if (!st)
        goto fail;
    if (sqlite3_bind_int64(st, 1, inv->id) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, r->survey->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, r->survey->version) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, r->survey->hash, -1, SQLITE_STATIC) != SQLITE_OK) {
        store_bind_failed(s, st, what, e);
        goto fail;
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        int duplicate = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE;
        if (duplicate)
            err_set(e, s->path, 0, 0, "store: %s: invitation %lld already has a response", what,
                    (long long)inv->id);
        else
            store_fail(s, what, e);
        store_done(st);
        store_write_rollback(s, nested);
        return duplicate ? STORE_DUPLICATE : STORE_ERROR;
    }
    store_done(st);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    if (store_put_answers(s, id, r, e) != STORE_OK || store_put_scores(s, id, r, e) != STORE_OK ||
        store_draft_delete(s, inv->id, e) != STORE_OK ||
        store_write_commit(s, nested, "commit response", e) != STORE_OK)
        goto fail;
    return STORE_OK;
fail:
    store_write_rollback(s, nested);
    return STORE_ERROR;
}

int store_draft_get(struct store *s, struct arena *a, int64_t invitation_id, const char **json,
                    int *page, struct err *e)
{
    const char *what = "read draft";
    sqlite3_stmt *st = store_stmt(s, ST_DRAFT_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "i", invitation_id) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_NOT_FOUND;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *data = (const char *)sqlite3_column_text(st, 0);
        *json = arena_strdup(a, data ? data : "");
        *page = sqlite3_column_int(st, 1);
        rc = *json ? STORE_OK : err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_draft_put(struct store *s, int64_t invitation_id, const char *json, int page,
                    struct err *e)
{
    const char *what = "save draft";
    sqlite3_stmt *st = store_stmt(s, ST_DRAFT_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "iis", invitation_id, (int64_t)page, json) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_survey_version_get(struct store *s, struct arena *a, const char *survey_id, long version,
                             const char **hash, const char **definition_json, struct err *e)
{
    const char *what = "read survey version";
    sqlite3_stmt *st = store_stmt(s, ST_VERSION_GET, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "si", survey_id, (int64_t)version) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_NOT_FOUND;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 0);
        const char *d = (const char *)sqlite3_column_text(st, 1);
        *hash = arena_strdup(a, h ? h : "");
        *definition_json = arena_strdup(a, d ? d : "");
        rc = *hash && *definition_json
                 ? STORE_OK
                 : err_set(e, s->path, 0, 0, "store: %s: out of memory", what);
    } else if (step != SQLITE_DONE) {
        rc = store_fail(s, what, e);
    }
    store_done(st);
    return rc;
}

int store_survey_version_put(struct store *s, const char *survey_id, long version, const char *hash,
                             const char *definition_json, struct err *e)
{
    const char *what = "save survey version";
    sqlite3_stmt *st = store_stmt(s, ST_VERSION_PUT, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "siss", survey_id, (int64_t)version, hash, definition_json) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    return store_step_done(s, st, what, e);
}

int store_answer_values(struct store *s, struct arena *a, const char *survey_id, long version,
                        const char *question_id, const char ***values, size_t *n, struct err *e)
{
    const char *what = "read answer values";
    *values = NULL;
    *n = 0;
    sqlite3_stmt *st = store_stmt(s, ST_ANSWER_VALUES, what, e);
    if (!st)
        return STORE_ERROR;
    if (store_bind(st, "sis", survey_id, (int64_t)version, question_id) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    size_t cap = 0;
    const char **v = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            const char **nv = arena_realloc(a, v, cap * sizeof *v, ncap * sizeof *v);
            if (!nv)
                break;
            v = nv;
            cap = ncap;
        }
        const char *val = (const char *)sqlite3_column_text(st, 0);
        if (!(v[*n] = arena_strdup(a, val ? val : "")))
            break;
        (*n)++;
    }
    store_done(st);
    if (step != SQLITE_DONE) {
        *n = 0;
        return step == SQLITE_ROW ? err_set(e, s->path, 0, 0, "store: %s: out of memory", what)
                                  : store_fail(s, what, e);
    }
    *values = v;
    return STORE_OK;
}

int store_count_responses(struct store *s, const char *survey_id, long *out, struct err *e)
{
    const char *what = "count responses";
    sqlite3_stmt *st =
        store_stmt(s, survey_id ? ST_COUNT_RESPONSES : ST_COUNT_RESPONSES_ALL, what, e);
    if (!st)
        return STORE_ERROR;
    if (survey_id && sqlite3_bind_text(st, 1, survey_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_bind_failed(s, st, what, e);
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = (long)sqlite3_column_int64(st, 0);
    else
        rc = store_fail(s, what, e);
    store_done(st);
    return rc;
}

int store_begin(struct store *s, struct err *e)
{
    return store_run(s, ST_BEGIN, "begin", e);
}

int store_commit(struct store *s, struct err *e)
{
    return store_run(s, ST_COMMIT, "commit", e);
}

void store_rollback(struct store *s)
{
    store_run(s, ST_ROLLBACK, "roll back", NULL);
}

/* Copies everything from src into dst with the online backup API, in steps so that writers
 * of src are only briefly held up. */
static int store_copy(sqlite3 *dst, sqlite3 *src, const char *path, struct err *e)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b)
        return err_set(e, path, 0, 0, "backup: %s", sqlite3_errmsg(dst));
    int rc;
    while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
           rc == SQLITE_LOCKED)
        sqlite3_sleep(rc == SQLITE_OK ? 0 : 20);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return err_set(e, path, 0, 0, "backup: %s", sqlite3_errstr(rc));
    return 0;
}

int store_backup(struct store *s, const char *path, struct err *e)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return err_set(e, path, 0, 0, "exists already: choose a new file for the backup");
    sqlite3 *dst = NULL;
    mode_t old_mask = umask(077);
    int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    umask(old_mask);
    if (rc != SQLITE_OK) {
        err_set(e, path, 0, 0, "cannot create: %s", dst ? sqlite3_errmsg(dst) : "out of memory");
        sqlite3_close(dst);
        return STORE_ERROR;
    }
    rc = store_copy(dst, s->db, path, e);
    /* A backup is one self-contained file, not a WAL database with side files. */
    if (rc == 0 && sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK)
        rc = err_set(e, path, 0, 0, "backup: %s", sqlite3_errmsg(dst));
    sqlite3_close(dst);
    if (rc != 0) {
        unlink(path);
        return STORE_ERROR;
    }
    return STORE_OK;
}

int store_restore(struct store *s, const char *path, struct err *e)
{
    sqlite3 *src = NULL;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        err_set(e, path, 0, 0, "cannot open: %s", src ? sqlite3_errmsg(src) : "out of memory");
        sqlite3_close(src);
        return STORE_ERROR;
    }
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(src, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    int rc = STORE_OK;
    if (version < 1 || version > STORE_LATEST)
        rc = err_set(e, path, 0, 0,
                     version < 1 ? "not an anketa database (no schema version)"
                                 : "written by a newer anketa (schema %d; this build knows up "
                                   "to %d)",
                     version, STORE_LATEST);
    else if (store_copy(s->db, src, path, e) < 0)
        rc = STORE_ERROR;
    sqlite3_close(src);
    if (rc == STORE_OK)
        s->version = version;
    return rc;
}

int store_integrity(struct store *s, struct err *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(1)", -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "integrity check", e);
    int rc = STORE_OK;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, "ok") != 0)
            rc = err_set(e, s->path, 0, 0, "integrity check: %s", v ? v : "no answer");
    } else {
        rc = store_fail(s, "integrity check", e);
    }
    sqlite3_finalize(st);
    return rc;
}

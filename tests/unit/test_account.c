/*
 * Tests of accounts: roles, password rules, sign-in and its throttling, sessions kept by
 * hash, disabling, and the organisation-subtree access rule, on a real SQLite file.
 */
#include "account.h"
#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    char db[128];
    struct store *st;
    struct arena *a;
};

static const char *const fx_orgs[][4] = {
    {"r", NULL, "region", "Область"},        {"m1", "r", "municipality", "Район 1"},
    {"m2", "r", "municipality", "Район 2"},  {"s1", "m1", "organisation", "Школа 1"},
    {"s2", "m1", "organisation", "Школа 2"}, {"s3", "m2", "organisation", "Школа 3"},
};

static int64_t fx_org_id(struct fx *f, const char *code)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t id = 0;
    sqlite3_open(f->db, &db);
    sqlite3_prepare_v2(db, "SELECT id FROM orgs WHERE code = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return id;
}

static void fx_user(struct fx *f, const char *login, const char *role, const char *org,
                    const char *password)
{
    char hash[128];
    struct err e = {0};
    assert_int_equal(account_hash_password(password, hash), 0);
    struct user_rec u = {login, "Имя Фамилия", role, org, hash};
    assert_int_equal(store_user_put(f->st, &u, &e), STORE_OK);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/anketa-acc-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/a.db", f->dir);
    struct err e = {0};
    struct store_options opt = {.migrate = 1};
    if (store_open(f->db, &opt, &f->st, &e) != STORE_OK || !(f->a = arena_new()))
        return -1;
    for (size_t i = 0; i < sizeof fx_orgs / sizeof fx_orgs[0]; i++) {
        struct org_rec o = {.code = fx_orgs[i][0],
                            .parent_code = fx_orgs[i][1],
                            .level = fx_orgs[i][2],
                            .name = fx_orgs[i][3]};
        if (store_put_org(f->st, &o, NULL, &e) != STORE_OK)
            return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    arena_free(f->a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_roles_and_passwords(void **state)
{
    (void)state;
    assert_int_equal(account_role_parse("куратор"), ROLE_CURATOR);
    assert_int_equal(account_role_parse("coordinator"), ROLE_COORDINATOR);
    assert_int_equal(account_role_parse("методист"), ROLE_METHODOLOGIST);
    assert_int_equal(account_role_parse("admin"), ROLE_ADMIN);
    assert_int_equal(account_role_parse("director"), -1);
    assert_string_equal(account_role_level(ROLE_COORDINATOR), "municipality");
    assert_null(account_role_level(ROLE_ADMIN));
    const char *why;
    assert_false(account_password_ok("short", &why));
    assert_string_equal(why, "at least 10 characters");
    assert_true(account_password_ok("длинный пароль", &why));
    char h1[128], h2[128];
    assert_int_equal(account_hash_password("один и тот же", h1), 0);
    assert_int_equal(account_hash_password("один и тот же", h2), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_non_null(strstr(h1, "$argon2id$"));
}

static void test_login_session_logout(void **state)
{
    struct fx *f = *state;
    fx_user(f, "ivanova", "curator", "s1", "верный-пароль-1");
    char token[ACCOUNT_TOKEN_LEN + 1];
    struct account acc;
    long retry;
    struct err e = {0};
    assert_int_equal(
        account_login(f->st, f->a, "ivanova", "верный-пароль-1", token, &acc, &retry, &e),
        LOGIN_OK);
    assert_int_equal(strlen(token), ACCOUNT_TOKEN_LEN);
    assert_int_equal(acc.role, ROLE_CURATOR);
    assert_string_equal(acc.org_code, "s1");
    /* Logins are case-insensitive. */
    char token2[ACCOUNT_TOKEN_LEN + 1];
    assert_int_equal(
        account_login(f->st, f->a, "IVANOVA", "верный-пароль-1", token2, &acc, &retry, &e),
        LOGIN_OK);
    struct account back;
    assert_int_equal(account_session(f->st, f->a, token, &back, &e), STORE_OK);
    assert_string_equal(back.login, "ivanova");
    /* The database keeps a hash of the token, never the token. */
    sqlite3 *db;
    sqlite3_stmt *st;
    sqlite3_open(f->db, &db);
    sqlite3_prepare_v2(db, "SELECT count(*) FROM sessions WHERE token_hash = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    assert_int_equal(account_logout(f->st, token, &e), STORE_OK);
    assert_int_equal(account_session(f->st, f->a, token, &back, &e), STORE_NOT_FOUND);
    assert_int_equal(account_session(f->st, f->a, token2, &back, &e), STORE_OK);
    assert_int_equal(account_session(f->st, f->a, "not-a-token", &back, &e), STORE_NOT_FOUND);
}

static void test_throttling(void **state)
{
    struct fx *f = *state;
    fx_user(f, "petrov", "coordinator", "m1", "настоящий-пароль");
    char token[ACCOUNT_TOKEN_LEN + 1];
    struct account acc;
    long retry;
    struct err e = {0};
    /* An unknown login and a wrong password get the same answer. */
    assert_int_equal(
        account_login(f->st, f->a, "nobody", "что-нибудь-ещё", token, &acc, &retry, &e), LOGIN_BAD);
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            account_login(f->st, f->a, "petrov", "неверный-пароль", token, &acc, &retry, &e),
            LOGIN_BAD);
    /* The fifth failure locks the account for a minute; even the right password waits. */
    assert_int_equal(
        account_login(f->st, f->a, "petrov", "неверный-пароль", token, &acc, &retry, &e),
        LOGIN_BAD);
    assert_int_equal(
        account_login(f->st, f->a, "petrov", "настоящий-пароль", token, &acc, &retry, &e),
        LOGIN_LOCKED);
    assert_true(retry > 50 && retry <= 60);
    /* A new password (set by the administrator) unlocks it. */
    char hash[128];
    assert_int_equal(account_hash_password("новый-пароль-2026", hash), 0);
    assert_int_equal(store_user_set_password(f->st, "petrov", hash, &e), STORE_OK);
    assert_int_equal(
        account_login(f->st, f->a, "petrov", "новый-пароль-2026", token, &acc, &retry, &e),
        LOGIN_OK);
}

static void test_disable_ends_sessions(void **state)
{
    struct fx *f = *state;
    fx_user(f, "sidorov", "methodologist", "r", "пароль-методиста");
    char token[ACCOUNT_TOKEN_LEN + 1];
    struct account acc;
    long retry;
    struct err e = {0};
    assert_int_equal(
        account_login(f->st, f->a, "sidorov", "пароль-методиста", token, &acc, &retry, &e),
        LOGIN_OK);
    assert_int_equal(store_user_disable(f->st, "sidorov", &e), STORE_OK);
    assert_int_equal(account_session(f->st, f->a, token, &acc, &e), STORE_NOT_FOUND);
    assert_int_equal(
        account_login(f->st, f->a, "sidorov", "пароль-методиста", token, &acc, &retry, &e),
        LOGIN_DISABLED);
    assert_int_equal(store_user_disable(f->st, "sidorov", &e), STORE_NOT_FOUND);
}

static void test_access_by_subtree(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    int64_t r = fx_org_id(f, "r"), m1 = fx_org_id(f, "m1"), m2 = fx_org_id(f, "m2"),
            s1 = fx_org_id(f, "s1"), s2 = fx_org_id(f, "s2"), s3 = fx_org_id(f, "s3");
    struct account curator = {.role = ROLE_CURATOR, .org_id = s1};
    struct account coordinator = {.role = ROLE_COORDINATOR, .org_id = m1};
    struct account methodologist = {.role = ROLE_METHODOLOGIST, .org_id = r};
    struct account admin = {.role = ROLE_ADMIN};
    const int64_t all[] = {r, m1, m2, s1, s2, s3};
    /* What each may see, in the order of all[]. */
    const int expect[4][6] = {
        {0, 0, 0, 1, 0, 0},
        {0, 1, 0, 1, 1, 0},
        {1, 1, 1, 1, 1, 1},
        {1, 1, 1, 1, 1, 1},
    };
    const struct account *who[] = {&curator, &coordinator, &methodologist, &admin};
    for (size_t w = 0; w < 4; w++)
        for (size_t o = 0; o < 6; o++)
            assert_int_equal(account_can_see(f->st, who[w], all[o], &e), expect[w][o]);
}

static void test_user_rules(void **state)
{
    struct fx *f = *state;
    struct err e = {0};
    fx_user(f, "admin", "admin", NULL, "пароль-администратора");
    char hash[128];
    assert_int_equal(account_hash_password("ещё-один-пароль", hash), 0);
    struct user_rec dup = {"ADMIN", "Другой", "admin", NULL, hash};
    assert_int_equal(store_user_put(f->st, &dup, &e), STORE_DUPLICATE);
    struct user_rec bad_org = {"x", "X", "curator", "nowhere", hash};
    assert_int_equal(store_user_put(f->st, &bad_org, &e), STORE_NOT_FOUND);
    assert_string_equal(e.msg, "unknown organisation \"nowhere\"");
    /* The schema itself refuses an administrator bound to an organisation. */
    struct user_rec admin_org = {"y", "Y", "admin", "s1", hash};
    assert_int_equal(store_user_put(f->st, &admin_org, &e), STORE_ERROR);
    assert_int_equal(store_audit(f->st, 0, "user.add", "admin", "admin", &e), STORE_OK);
    struct audit_row *rows;
    size_t n;
    assert_int_equal(store_audit_list(f->st, f->a, 10, &rows, &n, &e), STORE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].action, "user.add");
    assert_null(rows[0].login);
}

int main(void)
{
    if (crypto_setup() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_passwords),
        cmocka_unit_test_setup_teardown(test_login_session_logout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_throttling, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_disable_ends_sessions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_access_by_subtree, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_user_rules, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("accounts", tests, NULL, NULL);
}

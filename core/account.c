/*
 * account: roles, password hashing, sign-in with throttling, sessions, and the one access
 * rule (an organisation subtree).
 */
#include "account.h"

#include "arena.h"
#include "crypto.h"
#include "err.h"
#include "store.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

/* A session ends after 12 hours, or after 2 idle hours (a school PC left signed in). */
#define ACCOUNT_IDLE_S (2 * 3600)

/* Failures allowed before the first lock; each further failure doubles it, up to a day. */
#define ACCOUNT_FREE_FAILURES 5
#define ACCOUNT_LOCK_FIRST_S  60
#define ACCOUNT_LOCK_MAX_S    86400

static const struct {
    const char *name;
    const char *words[4];
    const char *level;
} account_roles[] = {
    [ROLE_CURATOR] = {"curator", {"curator", "куратор", NULL}, "organisation"},
    [ROLE_COORDINATOR] = {"coordinator",
                          {"coordinator", "координатор", "муниципальный координатор", NULL},
                          "municipality"},
    [ROLE_METHODOLOGIST] = {"methodologist", {"methodologist", "методист", NULL}, "region"},
    [ROLE_ADMIN] = {"admin", {"admin", "administrator", "администратор", NULL}, NULL},
};

int account_role_parse(const char *word)
{
    for (size_t r = 0; r < sizeof account_roles / sizeof account_roles[0]; r++)
        for (size_t i = 0; account_roles[r].words[i]; i++)
            if (strcmp(word, account_roles[r].words[i]) == 0)
                return (int)r;
    return -1;
}

const char *account_role_name(enum account_role r)
{
    return account_roles[r].name;
}

const char *account_role_level(enum account_role r)
{
    return account_roles[r].level;
}

int account_password_ok(const char *password, const char **why)
{
    size_t n = strlen(password);
    if (n < 10) {
        *why = "at least 10 characters";
        return 0;
    }
    if (n > 128) {
        *why = "at most 128 bytes";
        return 0;
    }
    return 1;
}

int account_hash_password(const char *password, char out[128])
{
    _Static_assert(crypto_pwhash_STRBYTES <= 128, "password hash buffer");
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : -1;
}

/* The hash of a password nobody has: checked when the login is unknown, so that an unknown
 * login takes as long as a wrong password. Made once per process. */
static const char *account_decoy(void)
{
    static char decoy[128];
    if (!decoy[0]) {
        unsigned char raw[24];
        char pw[64];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(pw, sizeof pw, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
        if (account_hash_password(pw, decoy) < 0)
            decoy[0] = '\0';
    }
    return decoy;
}

static void account_token_hash(const char *token, char out[65])
{
    crypto_sha256_hex(token, strlen(token), out);
}

static int account_fill(const struct user_row *u, struct account *out)
{
    int role = account_role_parse(u->role);
    if (role < 0)
        return -1;
    out->id = u->id;
    out->login = u->login;
    out->name = u->name;
    out->role = (enum account_role)role;
    out->org_id = u->org_id;
    out->org_code = u->org_code;
    return 0;
}

enum account_login_result account_login(struct store *st, struct arena *a, const char *login,
                                        const char *password, char token[ACCOUNT_TOKEN_LEN + 1],
                                        struct account *out, long *retry_after, struct err *e)
{
    *retry_after = 0;
    struct user_row u;
    int rc = store_user_get(st, a, login, &u, e);
    if (rc == STORE_ERROR)
        return LOGIN_ERROR;
    time_t now = time(NULL);
    if (rc == STORE_NOT_FOUND) {
        int spent = crypto_pwhash_str_verify(account_decoy(), password, strlen(password));
        (void)spent;
        return LOGIN_BAD;
    }
    if (u.locked_until > (int64_t)now) {
        *retry_after = (long)(u.locked_until - (int64_t)now);
        return LOGIN_LOCKED;
    }
    int good = crypto_pwhash_str_verify(u.password_hash, password, strlen(password)) == 0;
    if (!good) {
        long over = u.failed_logins + 1 - ACCOUNT_FREE_FAILURES;
        int64_t lock = 0;
        if (over >= 0) {
            long secs = ACCOUNT_LOCK_FIRST_S;
            for (long i = 0; i < over && secs < ACCOUNT_LOCK_MAX_S; i++)
                secs *= 2;
            lock = (int64_t)now + (secs < ACCOUNT_LOCK_MAX_S ? secs : ACCOUNT_LOCK_MAX_S);
        }
        if (store_user_login_result(st, u.id, 0, lock, e) != STORE_OK)
            return LOGIN_ERROR;
        return LOGIN_BAD;
    }
    if (u.disabled)
        return LOGIN_DISABLED;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, ACCOUNT_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    char hash[65];
    account_token_hash(token, hash);
    if (store_user_login_result(st, u.id, 1, 0, e) != STORE_OK ||
        store_session_put(st, hash, u.id, (int64_t)now, (int64_t)now + ACCOUNT_SESSION_S,
                          ACCOUNT_IDLE_S, e) != STORE_OK ||
        account_fill(&u, out) < 0) {
        sodium_memzero(token, ACCOUNT_TOKEN_LEN + 1);
        return LOGIN_ERROR;
    }
    return LOGIN_OK;
}

int account_session(struct store *st, struct arena *a, const char *token, struct account *out,
                    struct err *e)
{
    if (strlen(token) != ACCOUNT_TOKEN_LEN)
        return STORE_NOT_FOUND;
    char hash[65];
    account_token_hash(token, hash);
    struct user_row u;
    int rc = store_session_get(st, a, hash, (int64_t)time(NULL), ACCOUNT_IDLE_S, &u, e);
    if (rc != STORE_OK)
        return rc;
    return account_fill(&u, out) == 0 ? STORE_OK : STORE_NOT_FOUND;
}

int account_logout(struct store *st, const char *token, struct err *e)
{
    char hash[65];
    account_token_hash(token, hash);
    return store_session_delete(st, hash, e);
}

int account_can_see(struct store *st, const struct account *acc, int64_t org_id, struct err *e)
{
    if (acc->role == ROLE_ADMIN)
        return 1;
    int rc = store_org_in_subtree(st, acc->org_id, org_id, e);
    if (rc == STORE_ERROR)
        return -1;
    return rc == STORE_OK;
}

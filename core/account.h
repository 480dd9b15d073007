/*
 * account: the people who sign in (curators, municipal coordinators, regional
 * methodologists, administrators), their passwords, sessions and what they may see.
 *
 * Access is decided here and only here: a role and an organisation subtree. A curator sees
 * one organisation, a coordinator a municipality, a methodologist a region, an
 * administrator everything. Every page and API handler asks account_can_see() before it
 * shows anything of an organisation.
 *
 * Passwords are hashed with Argon2id (libsodium's crypto_pwhash_str). Session tokens are 256
 * random bits; the database keeps only their SHA-256, so a copy of the database opens no
 * session. Repeated failed sign-ins lock the account for a growing time.
 */
#ifndef ANKETA_ACCOUNT_H
#define ANKETA_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct arena;
struct err;
struct store;

enum account_role {
    ROLE_CURATOR,
    ROLE_COORDINATOR,
    ROLE_METHODOLOGIST,
    ROLE_ADMIN,
};

/* "curator", "coordinator", "methodologist", "admin" (or Russian words) -> role; -1 if none. */
int account_role_parse(const char *word);
const char *account_role_name(enum account_role r);

/* The organisation level a role is bound to: NULL for the administrator. */
const char *account_role_level(enum account_role r);

struct account {
    int64_t id;
    const char *login;
    const char *name;
    enum account_role role;
    int64_t org_id;       /* the root of what the account sees; 0 for the administrator */
    const char *org_code; /* NULL for the administrator */
};

#define ACCOUNT_TOKEN_LEN 43          /* 256 bits, base64url without padding */
#define ACCOUNT_SESSION_S (12 * 3600) /* a session lasts at most this long */

/* Hashes a password for storage (Argon2id); -1 when out of memory or too long. */
int account_hash_password(const char *password, char out[128]);

/* Whether a password is acceptable: 10 to 128 bytes. why gets a reason when not. */
int account_password_ok(const char *password, const char **why);

enum account_login_result {
    LOGIN_OK,
    LOGIN_BAD,      /* unknown login or wrong password: the same answer for both */
    LOGIN_LOCKED,   /* too many failures: try later */
    LOGIN_DISABLED, /* reported as LOGIN_BAD to the client; logged as what it is */
    LOGIN_ERROR,
};

/*
 * Checks a login and password; on success opens a session and writes its token (to be
 * put in the cookie) to token. The time taken does not tell whether the login exists.
 * *retry_after is set to the seconds of a lock.
 */
enum account_login_result account_login(struct store *st, struct arena *a, const char *login,
                                        const char *password, char token[ACCOUNT_TOKEN_LEN + 1],
                                        struct account *out, long *retry_after, struct err *e);

/* The account of a session token still valid (and touches its idle time), or STORE_NOT_FOUND. */
int account_session(struct store *st, struct arena *a, const char *token, struct account *out,
                    struct err *e);

/* Ends a session. */
int account_logout(struct store *st, const char *token, struct err *e);

/* Whether the account may see organisation org_id (its own subtree). -1 on a database error. */
int account_can_see(struct store *st, const struct account *acc, int64_t org_id, struct err *e);

#endif

/*
 * session: the web side of accounts: the sign-in and sign-out pages, the session cookie,
 * and the CSRF values of staff forms.
 *
 * The session cookie (anketa_session) is HttpOnly, SameSite=Strict, Secure behind TLS, and
 * holds a 256-bit token (account.h). A staff form carries HMAC(secret, "staff|" token), so
 * a page of another site cannot post on a signed-in person's behalf. The sign-in form,
 * before any session exists, is bound the same way to a random nonce cookie.
 */
#ifndef ANKETA_SESSION_H
#define ANKETA_SESSION_H

#include "account.h"

struct app;
struct http_req;
struct http_resp;

/* GET and POST /login, POST /logout. */
void session_handle_login(struct app *app, struct http_req *q, struct http_resp *r);
void session_handle_logout(struct app *app, struct http_req *q, struct http_resp *r);

/*
 * The signed-in account of a request. Returns 0 with *acc filled; otherwise the response
 * is already made (a redirect to /login for pages, 401 for the API, 503 when the database
 * fails) and the caller returns at once.
 */
int session_require(struct app *app, struct http_req *q, struct http_resp *r, int api,
                    struct account *acc);

/* The CSRF value of the request's session, for staff forms, into out; -1 without a session
 * cookie. */
int session_csrf(struct app *app, const struct http_req *q, char out[44]);

/* Whether a posted form carries the right CSRF value for the request's session. */
int session_csrf_ok(struct app *app, const struct http_req *q, const char *posted);

#endif

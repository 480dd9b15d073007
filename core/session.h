/*
 * session: the web side of accounts: the sign-in and sign-out pages, the session cookie,
 * and the CSRF values of staff forms.
 *
 * The session cookie (anketa_session) is HttpOnly, SameSite=Strict, Secure behind TLS, and
 * holds a 256-bit token (account.h). A staff form carries HMAC(secret, "staff|" token), so
 * a page of another site cannot post on a signed-in person's behalf. The sign-in form,
 * before any session exists, is bound the same way to a random nonce cookie. Programs using
 * the API sign in at /api/v1/session and send the token as "Authorization: Bearer"; the API
 * only reads, so it needs no CSRF value.
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

/*
 * The signed-in account of a request (API routes: a bearer token or the session cookie),
 * quietly: 0 with *acc filled, -1 when there is none or the lookup failed (logged). Nothing
 * is answered; plugins' routes decide what to do.
 */
int session_account(struct app *app, struct http_req *q, struct account *acc);

/* POST and DELETE /api/v1/session: bearer tokens for programs (docs/api.md). */
void session_handle_api(struct app *app, struct http_req *q, struct http_resp *r);

/* The CSRF value of the request's session, for staff forms (in the request arena). */
const char *session_csrf(struct app *app, const struct http_req *q);

/* Whether a posted form carries the right CSRF value for the request's session. */
int session_csrf_ok(struct app *app, const struct http_req *q, const char *posted);

#endif

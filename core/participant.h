/*
 * participant: the questionnaire a participant answers from a personal link /s/<token>.
 *
 *   GET  /s/<token>       the form (or a page saying it was already answered)
 *   POST /s/<token>       checks the CSRF value and every answer; a valid submission is
 *                         stored in one transaction and answered 303 -> /s/<token>/done;
 *                         an invalid one re-shows the form with the answers kept
 *   GET  /s/<token>/done  the thank-you page
 *
 * CSRF: a signed double-submit cookie. The browser gets a random nonce in an HttpOnly,
 * SameSite=Strict cookie; the form carries HMAC(secret, nonce "|" token). Another site
 * can neither read the cookie nor compute the MAC, so it cannot post on a participant's
 * behalf even when it knows the link.
 */
#ifndef ANKETA_PARTICIPANT_H
#define ANKETA_PARTICIPANT_H

#include <jansson.h>

struct app;
struct http_req;
struct http_resp;
struct i18n;
struct survey;

/*
 * The page model of a blank questionnaire in lang (new reference), built once per worker on
 * its first request for it. Requests without answers to show use it as it is; others
 * annotate a copy.
 */
json_t *participant_view(const struct survey *s, const struct i18n *c, const char *lang);

/* rest is the path after "/s/". */
void participant_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest);

#endif

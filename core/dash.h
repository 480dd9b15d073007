/*
 * dash: the pages of the people who sign in: an organisation's dashboard (its
 * participants, the organisations below it, its questionnaire campaigns and their response
 * rates, its indicators against their targets), a campaign's page with who has not answered
 * yet, the printable аналитическая справка, the federal statistics table, the audit log and
 * the downloads. The API under /api/v1 answers the same page models as JSON, so a page and its
 * API resource never disagree. Every page checks the
 * account's subtree (account_can_see) before showing anything; an organisation outside it
 * is answered exactly like an unknown one.
 */
#ifndef ANKETA_DASH_H
#define ANKETA_DASH_H

struct app;
struct http_req;
struct http_resp;

/* rest is the path after "/dash". */
void dash_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest);

/* rest is the path after "/api/v1/": me, orgs/..., audit (docs/api.md). */
void dash_api_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest);

#endif

/*
 * api: the JSON API under /api/v1 (what the engine offers to other programs).
 */
#ifndef ANKETA_API_H
#define ANKETA_API_H

struct app;
struct http_req;
struct http_resp;

/* rest is the path after "/api/v1/". */
void api_handle(struct app *app, struct http_req *q, struct http_resp *r, const char *rest);

#endif

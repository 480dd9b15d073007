/*
 * demo: the demonstration data `make run` starts with, built the way a region would build
 * its own: the sample CSV files of docs/samples imported (organisations, programmes,
 * participants, pairs, reference figures), campaigns opened for the questionnaires, and
 * some participants' answers, drawn from a fixed seed so every fresh demo looks the same.
 */
#ifndef ANKETA_DEMO_H
#define ANKETA_DEMO_H

struct err;
struct err_list;
struct store;
struct survey_set;

/*
 * Builds the demo from dir (docs/samples) unless its campaigns exist already, so a second
 * run adds nothing. Sets *created to whether anything was written. Import problems are
 * listed in errs.
 */
int demo_seed(struct store *st, const struct survey_set *surveys, const char *dir, int *created,
              struct err_list *errs);

#endif

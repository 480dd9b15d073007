/*
 * cmd_registry: the curator's and administrator's registry commands: `anketa import`,
 * `anketa campaign`, `anketa links`, `anketa revoke` and `anketa participant erase`.
 */
#include "arena.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "i18n.h"
#include "import.h"
#include "plugin.h"
#include "registry.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Opens the database named by --db (it must exist and be current). */
static struct store *registry_open(const char *cmd, const char *db)
{
    struct err e = {0};
    struct store *st = NULL;
    struct store_options opt = {.migrate = 0};
    if (store_open(db, &opt, &st, &e) < 0) {
        cli_print_err(cmd, &e);
        return NULL;
    }
    return st;
}

static const char import_usage[] =
    "usage: anketa import orgs|programmes|participants|pairs|figures FILE.csv [options]\n"
    "Imports one CSV file into the registry: all of it or, when any row is wrong, nothing.\n"
    "UTF-8 or Windows-1251, ';' or ',' separated, headers in Russian or English (see\n"
    "docs/registry.md and the samples in docs/samples). Rows are matched by code, so\n"
    "importing the same file again changes nothing.\n"
    "  --db PATH       the database (default var/anketa.db)\n"
    "  --config FILE   the configuration whose store_names decides whether participants'\n"
    "                  names are kept (default /etc/anketa/anketa.conf, if it exists; without\n"
    "                  it, only codes are stored)\n";

static void import_progress(void *ctx, off_t done, off_t total)
{
    const char *path = ctx;
    if (total > 0)
        fprintf(stderr, "\ranketa import: %s %3d%%", path, (int)(done * 100 / total));
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *config_path = NULL;
    struct import_options opt = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': config_path = optarg; break;
        case 'h': fputs(import_usage, stdout); return 0;
        default: fputs(import_usage, stderr); return 2;
        }
    }
    enum import_kind kind;
    if (argc - optind != 2 || import_kind_parse(argv[optind], &kind) < 0) {
        fputs(import_usage, stderr);
        return 2;
    }
    const char *path = argv[optind + 1];
    /* Whether names are kept is the deployment's decision, not the person importing. */
    static struct config cfg, none;
    struct err ce = {0};
    if (config_resolve(&cfg, config_path, &none, &ce) < 0) {
        cli_print_err("import", &ce);
        return 1;
    }
    opt.store_names = cfg.store_names;
    struct store *st = registry_open("import", db);
    if (!st)
        return 1;
    if (isatty(STDERR_FILENO)) {
        opt.progress = import_progress;
        opt.progress_ctx = (void *)path;
    }
    struct import_result res;
    struct err_list errs = {.max = 50};
    int rc = import_file(st, kind, path, &opt, &res, &errs);
    if (opt.progress)
        fputc('\n', stderr);
    for (size_t i = 0; i < errs.n; i++)
        cli_print_err("import", &errs.items[i]);
    if (errs.dropped)
        fprintf(stderr, "anketa import: ... and %zu more problems\n", errs.dropped);
    if (rc == 0) {
        char action[48], detail[96];
        snprintf(action, sizeof action, "import.%s", argv[optind]);
        snprintf(detail, sizeof detail, "rows=%ld changed=%ld", res.rows, res.changed);
        struct err ae = {0};
        if (store_audit(st, 0, action, path, detail, &ae) != STORE_OK)
            cli_print_err("import", &ae);
        printf("anketa import: %s: %ld rows (%s, '%s'): %ld added or changed, %ld unchanged\n",
               path, res.rows, res.encoding,
               res.delimiter == '\t' ? "\\t" : (char[]){res.delimiter, 0}, res.changed,
               res.unchanged);
        if (res.names_ignored)
            printf("anketa import: names were not stored (store_names = no in the "
                   "configuration)\n");
    } else {
        fprintf(stderr, "anketa import: %s: nothing was imported\n", path);
    }
    err_list_free(&errs);
    store_close(st);
    return rc == 0 ? 0 : 1;
}

static const char campaign_usage[] =
    "usage: anketa campaign open CODE [--survey ID --org CODE --period P --wave W --opens D\n"
    "                                  --closes D [--role R] [--form F]]\n"
    "       anketa campaign close CODE\n"
    "       anketa campaign list\n"
    "       anketa campaign status CODE [--pending [--org CODE]]\n"
    "Opening a new campaign needs its definition; opening it again (or an existing draft)\n"
    "invites participants added since. Only participants whose consent is recorded are\n"
    "invited. status prints response rates per organisation; --pending lists who has not\n"
    "answered yet.\n"
    "  --db PATH   the database (default var/anketa.db)\n"
    "  --config FILE, --plugin-dir DIR  open and close tell the plugins' event hooks; the\n"
    "              plugins and their options come from these (as for anketa serve)\n"
    "  --period P  a school year such as 2026/27 (or 2026/27-H2, 2026/27-Q3)\n"
    "  --wave W    entry, final or none;  --role R: mentor, mentee or curator\n"
    "  --opens D, --closes D   dates YYYY-MM-DD\n";

static int campaign_define(struct store *st, struct campaign_rec *c, const char *wave,
                           const char *role, const char *form)
{
    struct period p;
    if (!c->survey_id || !c->org_code || !c->period || !wave || !c->opens || !c->closes) {
        fprintf(stderr, "anketa campaign: a new campaign needs --survey, --org, --period, --wave, "
                        "--opens and --closes\n");
        return 2;
    }
    if (!registry_code_valid(c->code) || registry_period_parse(c->period, &p) < 0 ||
        !(c->wave = registry_word(VOCAB_WAVE, wave)) || !registry_date_valid(c->opens) ||
        !registry_date_valid(c->closes) || strcmp(c->opens, c->closes) > 0 ||
        (role && !(c->role = registry_word(VOCAB_ROLE, role))) ||
        (form && !(c->form = registry_word(VOCAB_FORM, form)))) {
        fprintf(stderr, "anketa campaign: check the code (A-Z a-z 0-9 . _ -), the period (e.g. "
                        "2026/27), the wave (entry, final, none), the role, the form and the "
                        "dates (YYYY-MM-DD, opens before closes)\n");
        return 2;
    }
    struct err e = {0};
    if (store_put_campaign(st, c, &e) != STORE_OK) {
        cli_print_err("campaign", &e);
        return 1;
    }
    return 0;
}

static int campaign_print_link(void *ctx, const struct link_row *row)
{
    (void)ctx;
    if (!row->answered && !row->revoked)
        printf("  %s  %s%s\n", row->participant_code, row->org_code,
               row->started ? "  (started)" : "");
    return 0;
}

int cmd_campaign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"survey", required_argument, NULL, 's'},
        {"org", required_argument, NULL, 'o'},    {"period", required_argument, NULL, 'p'},
        {"wave", required_argument, NULL, 'w'},   {"role", required_argument, NULL, 'r'},
        {"form", required_argument, NULL, 'f'},   {"opens", required_argument, NULL, 'O'},
        {"closes", required_argument, NULL, 'C'}, {"pending", no_argument, NULL, 'P'},
        {"config", required_argument, NULL, 'c'}, {"plugin-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *wave = NULL, *role = NULL, *form = NULL;
    const char *config_path = NULL, *plugin_dir = NULL;
    struct campaign_rec rec = {0};
    int pending = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 's': rec.survey_id = optarg; break;
        case 'o': rec.org_code = optarg; break;
        case 'p': rec.period = optarg; break;
        case 'w': wave = optarg; break;
        case 'r': role = optarg; break;
        case 'f': form = optarg; break;
        case 'O': rec.opens = optarg; break;
        case 'C': rec.closes = optarg; break;
        case 'P': pending = 1; break;
        case 'c': config_path = optarg; break;
        case 'D': plugin_dir = optarg; break;
        case 'h': fputs(campaign_usage, stdout); return 0;
        default: fputs(campaign_usage, stderr); return 2;
        }
    }
    const char *verb = optind < argc ? argv[optind] : "";
    int need_code = strcmp(verb, "list") != 0;
    if (!*verb || argc - optind != 1 + need_code) {
        fputs(campaign_usage, stderr);
        return 2;
    }
    rec.code = need_code ? argv[optind + 1] : NULL;
    /* Opening and closing are events for the plugins: they load first, so a broken
     * configuration stops the command before anything changes. cfg holds their options. */
    int events = strcmp(verb, "open") == 0 || strcmp(verb, "close") == 0;
    struct config *cfg = events ? malloc(sizeof *cfg) : NULL;
    if (events && (!cfg || cli_plugins_load("campaign", config_path, plugin_dir, cfg) < 0)) {
        free(cfg);
        return 1;
    }
    struct store *st = registry_open("campaign", db);
    struct arena *a = arena_new();
    if (!st || !a) {
        store_close(st);
        arena_free(a);
        plugin_unload_all();
        free(cfg);
        return 1;
    }
    struct err e = {0};
    int rc = 0;
    struct campaign_info info;
    if (strcmp(verb, "open") == 0) {
        int found = store_campaign_get(st, a, rec.code, &info, &e);
        if (found == STORE_NOT_FOUND ||
            (found == STORE_OK && strcmp(info.status, "draft") == 0 && rec.survey_id))
            rc = campaign_define(st, &rec, wave, role, form);
        else if (found != STORE_OK)
            rc = 1;
        long invited, no_consent;
        if (rc == 0 && store_campaign_open(st, rec.code, &invited, &no_consent, &e) == STORE_OK) {
            char detail[64];
            snprintf(detail, sizeof detail, "invited=%ld", invited);
            store_audit(st, 0, "campaign.open", rec.code, detail, &e);
            printf("anketa campaign: %s is open: %ld new invitation%s\n", rec.code, invited,
                   invited == 1 ? "" : "s");
            if (no_consent)
                printf("anketa campaign: %ld participant%s without recorded consent were not "
                       "invited\n",
                       no_consent, no_consent == 1 ? "" : "s");
            plugin_campaign_changed(rec.code, 1);
        } else if (rc == 0) {
            rc = 1;
        }
    } else if (strcmp(verb, "close") == 0) {
        rc = store_campaign_close(st, rec.code, &e) == STORE_OK &&
                     store_audit(st, 0, "campaign.close", rec.code, NULL, &e) == STORE_OK
                 ? 0
                 : 1;
        if (!rc) {
            printf("anketa campaign: %s is closed: its links now say so\n", rec.code);
            plugin_campaign_changed(rec.code, 0);
        }
    } else if (strcmp(verb, "list") == 0) {
        struct campaign_info *list;
        size_t n;
        rc = store_campaign_list(st, a, NULL, &list, &n, &e) == STORE_OK ? 0 : 1;
        for (size_t i = 0; !rc && i < n; i++)
            printf("%-24s %-7s %-16s %-14s %-8s %s..%s  invited %ld, started %ld, completed %ld\n",
                   list[i].rec.code, list[i].status, list[i].rec.survey_id, list[i].rec.org_code,
                   list[i].rec.period, list[i].rec.opens, list[i].rec.closes, list[i].invited,
                   list[i].started, list[i].completed);
    } else if (strcmp(verb, "status") == 0) {
        struct rate_row *rows;
        size_t n;
        rc = store_campaign_get(st, a, rec.code, &info, &e) == STORE_OK &&
                     store_campaign_rates(st, a, rec.code, NULL, &rows, &n, &e) == STORE_OK
                 ? 0
                 : 1;
        if (!rc) {
            printf("%s (%s, %s): invited %ld, started %ld, completed %ld\n", rec.code,
                   info.rec.survey_id, info.status, info.invited, info.started, info.completed);
            for (size_t i = 0; i < n; i++)
                printf("  %-16s invited %4ld  started %4ld  completed %4ld (%3.0f%%)  %s\n",
                       rows[i].org_code, rows[i].invited, rows[i].started, rows[i].completed,
                       rows[i].invited ? 100.0 * (double)rows[i].completed / (double)rows[i].invited
                                       : 0.0,
                       rows[i].org_name);
        }
        if (!rc && pending) {
            printf("not answered yet:\n");
            rc = store_campaign_links(st, rec.code, rec.org_code, campaign_print_link, NULL, &e) ==
                         STORE_OK
                     ? 0
                     : 1;
        }
    } else {
        fputs(campaign_usage, stderr);
        rc = 2;
    }
    if (rc == 1 && e.msg[0])
        cli_print_err("campaign", &e);
    arena_free(a);
    store_close(st);
    plugin_unload_all();
    free(cfg);
    return rc;
}

static const char links_usage[] =
    "usage: anketa links CAMPAIGN [--base URL] [--org CODE] [--out FILE] [--db PATH]\n"
    "Writes the participants' personal links of a campaign as CSV for a mail merge (UTF-8\n"
    "with BOM, ';'-separated, as Excel in a Russian locale opens it).\n"
    "  --base URL  the address participants open, e.g. https://anketa.example.ru\n"
    "              (default http://127.0.0.1:8080)\n"
    "  --org CODE  only the organisations below CODE\n"
    "  --web DIR   templates and words (default web): the CSV's column names\n";

struct links_out {
    FILE *f;
    const char *base;
};

/* Writes a CSV field, quoted when it holds the separator, a quote or a line break. */
static void links_field(FILE *f, const char *v, int last)
{
    if (v && strpbrk(v, ";\"\r\n")) {
        fputc('"', f);
        for (; *v; v++) {
            if (*v == '"')
                fputc('"', f);
            fputc(*v, f);
        }
        fputc('"', f);
    } else if (v) {
        fputs(v, f);
    }
    fputs(last ? "\r\n" : ";", f);
}

static int links_row(void *ctx, const struct link_row *row)
{
    struct links_out *o = ctx;
    if (row->revoked)
        return 0;
    char url[512];
    snprintf(url, sizeof url, "%s/s/%s", o->base, row->token);
    links_field(o->f, row->participant_code, 0);
    links_field(o->f, row->participant_name, 0);
    links_field(o->f, row->org_code, 0);
    links_field(o->f, row->org_name, 0);
    links_field(o->f, url, 0);
    links_field(o->f, row->answered ? "1" : "0", 1);
    return ferror(o->f) ? 1 : 0;
}

int cmd_links(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"base", required_argument, NULL, 'b'},
        {"org", required_argument, NULL, 'o'},
        {"out", required_argument, NULL, 'O'},
        {"web", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *org = NULL, *out = NULL, *web = "web";
    struct links_out o = {.base = "http://127.0.0.1:8080"};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'b': o.base = optarg; break;
        case 'o': org = optarg; break;
        case 'O': out = optarg; break;
        case 'W': web = optarg; break;
        case 'h': fputs(links_usage, stdout); return 0;
        default: fputs(links_usage, stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fputs(links_usage, stderr);
        return 2;
    }
    size_t blen = strlen(o.base);
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(blen && o.base[blen - 1] == '/' ? blen - 1 : blen),
             o.base);
    o.base = base;
    struct err e = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/i18n", web);
    struct i18n *words = NULL;
    if (i18n_load_dir(dir, &words, &e) < 0) {
        cli_print_err("links", &e);
        return 1;
    }
    struct store *st = registry_open("links", db);
    struct arena *a = arena_new();
    struct campaign_info info;
    int rc = 1;
    if (st && a && store_campaign_get(st, a, argv[optind], &info, &e) == STORE_OK) {
        o.f = out ? fopen(out, "w") : stdout;
        if (!o.f) {
            err_set(&e, out, 0, 0, "cannot write the file");
        } else {
            static const char *const cols[] = {"links.participant", "links.name", "links.org_code",
                                               "links.org_name",    "links.link", "links.answered"};
            fputs("\xEF\xBB\xBF", o.f);
            for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
                links_field(o.f, i18n_text(words, "ru", cols[i]),
                            i + 1 == sizeof cols / sizeof cols[0]);
            if (store_campaign_links(st, argv[optind], org, links_row, &o, &e) == STORE_OK &&
                !ferror(o.f))
                rc = 0;
            if (out && fclose(o.f) != 0)
                rc = 1;
        }
    }
    if (rc && e.msg[0])
        cli_print_err("links", &e);
    arena_free(a);
    store_close(st);
    i18n_free(words);
    return rc;
}

static const char revoke_usage[] = "usage: anketa revoke TOKEN [--db PATH]\n"
                                   "Revokes a participant's link: it stops working at once.\n";

int cmd_revoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': fputs(revoke_usage, stdout); return 0;
        default: fputs(revoke_usage, stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fputs(revoke_usage, stderr);
        return 2;
    }
    struct store *st = registry_open("revoke", db);
    if (!st)
        return 1;
    struct err e = {0};
    /* The audit log names the invitation by the start of its token only: the whole token
     * would open the questionnaire. */
    char prefix[12];
    snprintf(prefix, sizeof prefix, "%.6s...", argv[optind]);
    int rc = store_revoke_invitation(st, argv[optind], &e) == STORE_OK &&
                     store_audit(st, 0, "campaign.revoke", prefix, NULL, &e) == STORE_OK
                 ? 0
                 : 1;
    if (rc)
        cli_print_err("revoke", &e);
    else
        printf("anketa revoke: the link is revoked\n");
    store_close(st);
    return rc;
}

static const char participant_usage[] =
    "usage: anketa participant erase CODE [--db PATH]\n"
    "Erases a participant (152-FZ): the registry entry, pairs, invitations and every answer.\n"
    "It cannot be undone.\n";

int cmd_participant(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': fputs(participant_usage, stdout); return 0;
        default: fputs(participant_usage, stderr); return 2;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "erase") != 0) {
        fputs(participant_usage, stderr);
        return 2;
    }
    struct store *st = registry_open("participant", db);
    if (!st)
        return 1;
    struct err e = {0};
    long responses;
    int rc = store_erase_participant(st, argv[optind + 1], &responses, &e) == STORE_OK ? 0 : 1;
    if (!rc) {
        /* That an erasure happened, not whom it erased: the code would outlive the person. */
        char detail[48];
        snprintf(detail, sizeof detail, "responses=%ld", responses);
        rc = store_audit(st, 0, "participant.erase", NULL, detail, &e) == STORE_OK ? 0 : 1;
    }
    if (rc)
        cli_print_err("participant", &e);
    else
        printf("anketa participant: %s erased with %ld response%s\n", argv[optind + 1], responses,
               responses == 1 ? "" : "s");
    store_close(st);
    return rc;
}

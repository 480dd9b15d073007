/*
 * cmd_export: `anketa export`: responses, participants or indicator values of an
 * organisation's subtree as CSV, CSV for Excel, JSON, NDJSON or a plugin's format (XLSX),
 * to a file or to standard output.
 */
#include "cli.h"
#include "config.h"
#include "err.h"
#include "export.h"
#include "plugin.h"
#include "store.h"
#include "survey.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char export_usage[] =
    "usage: anketa export responses|participants|indicators|federal --org CODE --format FORMAT\n"
    "                     [--survey ID] [--period P] [--region NAME] [--out FILE]\n"
    "                     [--identified] [--db PATH] [--surveys DIR]\n"
    "                     [--config FILE] [--plugin-dir DIR]\n"
    "Writes a table of the organisation CODE and everything below it: the responses (one row\n"
    "each, one column per question), the participants, the indicator values of a region, or\n"
    "the count of participants by form, role and age band for federal statistics.\n"
    "Participants appear under stable pseudonyms unless --identified is given. Every export\n"
    "is recorded in the audit log. Columns and formats: docs/exports.md.\n"
    "  --org CODE      the organisation, municipality or region (required)\n"
    "  --format F      csv (UTF-8, ','), csv-excel (UTF-8, ';', decimal comma: Excel in a\n"
    "                  Russian locale), json (one array), ndjson (one object a line), or\n"
    "                  a plugin's: xlsx (plugins/xlsx)\n"
    "  --survey ID     responses: only this questionnaire; participants: those invited to it\n"
    "  --period P      a school year such as 2026/27 (or 2026/27-H1, 2026/27-Q3): responses\n"
    "                  submitted in it; participants in its programmes or pairs\n"
    "  --region NAME   indicators: the region's folder under lua/regions (with --period)\n"
    "                  federal: --period is required and is a school year\n"
    "  --out FILE      write FILE (readable by its owner only) instead of standard output\n"
    "  --identified    participants' codes and names instead of pseudonyms\n"
    "  --db PATH       the database (default var/anketa.db)\n"
    "  --surveys DIR   the questionnaires whose questions are the columns (default surveys)\n"
    "  --config FILE   where plugin_dir and the plugins' options are read (default\n"
    "                  " CONFIG_DEFAULT_PATH ", if it exists)\n"
    "  --plugin-dir DIR  the plugins to load (default: the configuration's plugin_dir)\n";

/* The export itself, once the plugins that may provide its format are loaded. */
static int cmd_export_run(struct export_request *rqp, const char *format, const char *out,
                          const char *db, const char *surveys_dir)
{
    struct export_request rq = *rqp;
    if (export_format_parse(format, &rq.format) < 0) {
        char list[512];
        export_format_list(list, sizeof list);
        fprintf(stderr, "anketa export: unknown format \"%s\" (the formats are: %s%s)\n", format,
                list,
                strcmp(format, "xlsx") == 0 ? "; xlsx needs the plugin xlsx in the plugin "
                                              "directory (--plugin-dir, plugin_dir)"
                                            : "");
        return 2;
    }
    if (!out && export_format_binary(rq.format) && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "anketa export: a %s file is not for a terminal: use --out FILE\n", format);
        return 2;
    }
    struct err e = {0};
    struct survey_set set = {0};
    if (rq.table == EXPORT_RESPONSES && survey_set_load_dir(surveys_dir, &set, &e) < 0) {
        cli_print_err("export", &e);
        return 1;
    }
    struct store *st = NULL;
    struct store_options sopt = {.migrate = 0};
    if (store_open(db, &sopt, &st, &e) < 0) {
        cli_print_err("export", &e);
        survey_set_free(&set);
        return 1;
    }
    FILE *f = stdout;
    if (out) {
        /* Exports hold personal data: the file is its owner's only. */
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(f = fdopen(fd, "wb"))) {
            err_set(&e, out, 0, 0, "cannot write the file: %s", strerror(errno));
            cli_print_err("export", &e);
            if (fd >= 0)
                close(fd);
            store_close(st);
            survey_set_free(&set);
            return 1;
        }
    }
    struct export_sink sink = {export_sink_file, f};
    struct export_result res;
    int rc = export_run(st, &set, &rq, &sink, &res, &e);
    if (rc == EXPORT_OK && fflush(f) != 0) {
        err_set(&e, out ? out : "standard output", 0, 0, "cannot write: %s", strerror(errno));
        rc = EXPORT_ERROR;
    }
    if (out && fclose(f) != 0 && rc == EXPORT_OK) {
        err_set(&e, out, 0, 0, "cannot write the file: %s", strerror(errno));
        rc = EXPORT_ERROR;
    }
    if (rc != EXPORT_OK) {
        cli_print_err("export", &e);
        if (out)
            unlink(out);
    } else {
        if (res.unknown_surveys)
            fprintf(stderr,
                    "anketa export: %ld survey%s with responses here (%s%s) %s no questionnaire "
                    "file in %s: %s answers are not in the table\n",
                    res.unknown_surveys, res.unknown_surveys == 1 ? "" : "s", res.unknown_survey,
                    res.unknown_surveys > 1 ? ", ..." : "",
                    res.unknown_surveys == 1 ? "has" : "have", surveys_dir,
                    res.unknown_surveys == 1 ? "its" : "their");
        if (out)
            printf("anketa export: %ld row%s of %s written to %s\n", res.rows,
                   res.rows == 1 ? "" : "s", export_table_name(rq.table), out);
    }
    store_close(st);
    survey_set_free(&set);
    return rc == EXPORT_OK ? 0 : 1;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"org", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"survey", required_argument, NULL, 's'},
        {"period", required_argument, NULL, 'p'},
        {"region", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'O'},
        {"identified", no_argument, NULL, 'i'},
        {"db", required_argument, NULL, 'd'},
        {"surveys", required_argument, NULL, 'S'},
        {"config", required_argument, NULL, 'c'},
        {"plugin-dir", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = "var/anketa.db", *surveys_dir = "surveys", *format = NULL, *out = NULL;
    const char *config_path = NULL, *plugin_dir = NULL;
    struct export_request rq = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': rq.org_code = optarg; break;
        case 'f': format = optarg; break;
        case 's': rq.survey_id = optarg; break;
        case 'p': rq.period = optarg; break;
        case 'r': rq.region = optarg; break;
        case 'O': out = optarg; break;
        case 'i': rq.identified = 1; break;
        case 'd': db = optarg; break;
        case 'S': surveys_dir = optarg; break;
        case 'c': config_path = optarg; break;
        case 'P': plugin_dir = optarg; break;
        case 'h': fputs(export_usage, stdout); return 0;
        default: fputs(export_usage, stderr); return 2;
        }
    }
    if (argc - optind != 1 || export_table_parse(argv[optind], &rq.table) < 0 || !rq.org_code ||
        !format) {
        fputs(export_usage, stderr);
        return 2;
    }
    /* Owns the plugins' options for as long as they are loaded. */
    struct config *cfg = malloc(sizeof *cfg);
    if (!cfg || cli_plugins_load("export", config_path, plugin_dir, cfg) < 0) {
        free(cfg);
        return 1;
    }
    int rc = cmd_export_run(&rq, format, out, db, surveys_dir);
    plugin_unload_all();
    free(cfg);
    return rc;
}

/* A plugin whose init fails: it must be reported with its reason and skipped. */
#include "plugin_api.h"

#include <stdio.h>

static int init_fails_init(const struct anketa_host_api *host, char err[ANKETA_ERR_MAX])
{
    (void)host;
    snprintf(err, ANKETA_ERR_MAX, "the dictionary file is missing");
    return -1;
}

static const struct anketa_plugin init_fails_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "init_fails",
    .version = "0",
    .init = init_fails_init,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &init_fails_plugin;
}

/* Every event hook fails: the host logs it, and the stored response stays stored. */
#include "plugin_api.h"

#include <stdio.h>

static int hook_fails_response(const struct anketa_response_event *ev, char err[ANKETA_ERR_MAX])
{
    snprintf(err, ANKETA_ERR_MAX, "the external system refused invitation %lld",
             (long long)ev->invitation_id);
    return -1;
}

static const struct anketa_plugin hook_fails_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "hook_fails",
    .version = "0",
    .response_stored = hook_fails_response,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &hook_fails_plugin;
}

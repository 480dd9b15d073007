/* The response hook kills its process with SIGSEGV, as a buggy plugin would: the response
 * must stay stored, the participant answered, and the server go on with a new worker. */
#include "plugin_api.h"

#include <signal.h>

static int hook_crashes_response(const struct anketa_response_event *ev, char err[ANKETA_ERR_MAX])
{
    (void)ev;
    (void)err;
    raise(SIGSEGV);
    return 0;
}

static const struct anketa_plugin hook_crashes_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "hook_crashes",
    .version = "0",
    .response_stored = hook_crashes_response,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &hook_crashes_plugin;
}

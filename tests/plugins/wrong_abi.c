/* A plugin built for a future ABI: the host must refuse it and say so. */
#include "plugin_api.h"

static const struct anketa_plugin wrong_abi_plugin = {
    .abi = ANKETA_PLUGIN_ABI + 1,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "wrong_abi",
    .version = "0",
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &wrong_abi_plugin;
}

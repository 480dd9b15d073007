/* A descriptor that claims fewer bytes than every descriptor of the ABI has. */
#include "plugin_api.h"

static const struct anketa_plugin small_struct_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = 16,
    .name = "small_struct",
    .version = "0",
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &small_struct_plugin;
}

/* A plugin built before the question types were added to the descriptor: its struct_size
 * ends at route. The fields past it (filled here only to prove it) must be ignored. */
#include "plugin_api.h"

#include <stdio.h>

static int old_check(const struct anketa_qtype_question *q, void **state,
                     const struct anketa_choice **choices, size_t *nchoices, size_t *bad,
                     char err[ANKETA_ERR_MAX])
{
    (void)q;
    (void)state;
    (void)choices;
    (void)nchoices;
    (void)bad;
    snprintf(err, ANKETA_ERR_MAX, "an old plugin's type was used");
    return -1;
}

static const struct anketa_qtype old_types[] = {{.name = "x-old", .check = old_check}};

static const struct anketa_plugin old_layout_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = ANKETA_PLUGIN_MIN_SIZE,
    .name = "old_layout",
    .version = "0",
    .qtypes = old_types,
    .nqtypes = 1,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &old_layout_plugin;
}

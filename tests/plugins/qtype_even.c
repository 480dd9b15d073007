/* The question type x-even: the choices 1 to 4, of which validate refuses the odd ones, so
 * the tests see a plugin's own check of a posted value (and its message key) at work. */
#include "plugin_api.h"

#include <stdio.h>
#include <string.h>

static const struct anketa_choice even_choices[] = {
    {"1", "один"}, {"2", "два"}, {"3", "три"}, {"4", "четыре"}};

static int even_check(const struct anketa_qtype_question *q, void **state,
                      const struct anketa_choice **choices, size_t *nchoices, size_t *bad,
                      char err[ANKETA_ERR_MAX])
{
    if (q->noptions) {
        *bad = 0;
        snprintf(err, ANKETA_ERR_MAX, "x-even takes no options");
        return -1;
    }
    *state = NULL;
    *choices = even_choices;
    *nchoices = sizeof even_choices / sizeof *even_choices;
    return 0;
}

static int even_validate(void *state, const char *value, const char **message_key)
{
    (void)state;
    if ((value[strlen(value) - 1] - '0') % 2 == 0)
        return 0;
    *message_key = "error.constraint";
    return 1;
}

static const struct anketa_qtype even_types[] = {{
    .name = "x-even",
    .check = even_check,
    .validate = even_validate,
}};

static const struct anketa_plugin qtype_even_plugin = {
    .abi = ANKETA_PLUGIN_ABI,
    .struct_size = sizeof(struct anketa_plugin),
    .name = "qtype_even",
    .version = "0",
    .qtypes = even_types,
    .nqtypes = 1,
};

const struct anketa_plugin *anketa_plugin_entry(void)
{
    return &qtype_even_plugin;
}

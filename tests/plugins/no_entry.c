/* A shared object that is not a plugin: it lacks anketa_plugin_entry. */
#include "plugin_api.h"

ANKETA_PLUGIN_EXPORT int no_entry_something(void);

int no_entry_something(void)
{
    return 1;
}

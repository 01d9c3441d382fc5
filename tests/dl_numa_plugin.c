/*
 * dl_numa_plugin.c - a plugin linked against libnumapreload, which
 * late_load_probe loads with dlopen: numa-alloc is then not the program's
 * malloc (interpose/numa_api.c, check_programs_free).
 */
#include "numa_alloc.h"

#include <stddef.h>

void *plugin_numa_malloc(size_t size)
{
    return numa_malloc(0, size);
}

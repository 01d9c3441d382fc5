/* export.h - marks the symbols the library exports; everything else is hidden. */
#ifndef NUMA_ALLOC_EXPORT_H
#define NUMA_ALLOC_EXPORT_H

#define NA_EXPORT __attribute__((visibility("default")))

#endif

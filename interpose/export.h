/* export.h - marks the symbols the library exports; everything else is hidden. */
#ifndef NUMA_ALLOC_EXPORT_H
#define NUMA_ALLOC_EXPORT_H

#define NA_EXPORT __attribute__((visibility("default")))

/*
 * Another name for a function defined in the same file, with the
 * attributes the C library's header gave it (GCC checks that they match:
 * -Wmissing-attributes; clang has neither the check nor `copy`).
 */
#if defined(__GNUC__) && !defined(__clang__)
#define NA_ALIAS_OF(target) __attribute__((alias(#target), copy(target)))
#else
#define NA_ALIAS_OF(target) __attribute__((alias(#target)))
#endif

#endif

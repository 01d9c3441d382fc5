/* current_node.c - rseq discovery; see current_node.h. */
#define _GNU_SOURCE
#include "policy/current_node.h"

#include "base/compiler.h"

#include <sched.h>

/* Exported by ld.so since glibc 2.35; weak so that older glibc still links. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

#define RSEQ_CPU_ID_OFFSET 4 /* struct rseq { u32 cpu_id_start; u32 cpu_id; ... } */

ptrdiff_t na_current_cpu_offset NA_HOT_BSS;

/* What na_current_cpu_offset names without rseq: never a CPU, so malloc's fast path declines. */
static __thread const int no_rseq_cpu __attribute__((tls_model("initial-exec"))) = -1;

void current_node_init(void)
{
    if (&__rseq_size != NULL && &__rseq_offset != NULL && __rseq_size >= 8)
        na_current_cpu_offset = __rseq_offset + RSEQ_CPU_ID_OFFSET;
    else
        na_current_cpu_offset =
            (const char *)&no_rseq_cpu - (const char *)__builtin_thread_pointer();
}

/* Without rseq only (glibc 2.35+ registers it): cold, out of malloc (base/compiler.h). */
NA_NOINLINE NA_COLD int current_cpu_slow(void)
{
    int cpu = sched_getcpu();
    return cpu < 0 ? 0 : cpu;
}

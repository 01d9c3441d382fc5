/*
 * compiler.h - branch hints and the attributes that keep the fast paths small.
 *
 * The fast paths (alloc_fast and free_fast in core/alloc.h) are inline in the
 * exported malloc and free; whatever they do not serve leaves through one
 * call to a slow path. A slow path is NA_NOINLINE so that its body never
 * grows its caller (a static helper with one caller, or any function under
 * -flto, where GCC otherwise inlines alloc_slow and current_cpu_slow into
 * malloc), and NA_COLD so that it is optimised for size and placed away from
 * the hot code, and calls to it count as unlikely.
 *
 * The fast paths' own exits (alloc_slow, free_slow, alloc_small_slow, free_small_slow,
 * current_cpu_slow) are marked where they are defined, not where they are
 * declared: a cold declaration seen by malloc.c makes GCC split malloc and
 * free into a hot part and a .cold part, and free's hit path then saved and
 * restored %rbx on every call. The fast paths' branches carry likely()
 * already. tools/fastpath.sh checks the size of malloc and free in the
 * built library (docs/architecture.md).
 */
#ifndef NUMA_ALLOC_COMPILER_H
#define NUMA_ALLOC_COMPILER_H

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NA_NOINLINE __attribute__((noinline))
#define NA_COLD     __attribute__((cold))
/*
 * On the declarations of the library's own data in its headers: a hidden
 * symbol is addressed directly (`mov sym(%rip)`), where a default one is
 * reached through the GOT (a load more, or an add from memory that the
 * linker cannot relax), though -fvisibility=hidden already hides its
 * definition. Never on what the C library defines (the link would fail).
 */
#define NA_HIDDEN __attribute__((visibility("hidden")))

/*
 * NA_COLD_BSS: on a zero-initialised static that start-up never touches (the
 * statistics' snapshots and output buffers, the profile's, tables sized for
 * many threads or nodes). Such data goes to a section of its own after .bss,
 * so that the variables start-up does write lie together on a few pages of
 * .bss instead of between large buffers, each in a page of its own that the
 * process then keeps (docs/architecture.md, *Footprint*). GCC on x86-64 makes
 * .lbss, the large-data .bss of the medium model, a nobits section, and the
 * default linker scripts place it after .bss; elsewhere the macro is empty
 * and the data stays in .bss (correct, only less packed).
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NA_COLD_BSS __attribute__((section(".lbss")))
#else
#define NA_COLD_BSS
#endif

/*
 * NA_HOT_BSS: on a zero-initialised variable that start-up writes whole (or
 * nearly: a few hundred bytes at most past what it writes) and that threads
 * then only read or write rarely (size-class tables, the region, topology's
 * bitmaps, the policy's tables). NA_HOT_HEAD_BSS: on a larger one of which
 * start-up writes only the first bytes (the slab index, na_topo, na_placement,
 * the per-slot tables). Read counts as written: a kernel without the shared
 * zero page for anonymous memory (this machine's) backs a read with a page.
 * cmake/startup-text.ld gathers both, in that order, into one section right
 * after .data, whose last file page the loader has already written: the pages
 * every process that loads the library makes resident lie together (`true`: 6
 * pages of .bss where they lay on 10, each a fault; docs/architecture.md,
 * *Footprint*). Without the script (a static link, gold) the sections fall into
 * .bss as any .bss.* does: correct, only less packed. Never on what threads
 * write often (locks, counters): they would share lines with the tables the
 * fast paths read. NA_THREADS_BSS: what each thread writes at its start and
 * exit (the thread registry), which every program that mallocs writes once:
 * first in the same section, on cache lines of its own.
 */
#if defined(__ELF__)
#define NA_HOT_BSS      __attribute__((section(".bss.na_hot")))
#define NA_HOT_HEAD_BSS __attribute__((section(".bss.na_hot_head")))
#define NA_THREADS_BSS  __attribute__((section(".bss.na_threads")))
#else
#define NA_HOT_BSS
#define NA_HOT_HEAD_BSS
#define NA_THREADS_BSS
#endif

/* A cache line: what one lock's or one counter's neighbours should not share. */
#define NA_CACHE_LINE 64

#endif

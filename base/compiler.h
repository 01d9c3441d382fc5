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

/* A cache line: what one lock's or one counter's neighbours should not share. */
#define NA_CACHE_LINE 64

#endif

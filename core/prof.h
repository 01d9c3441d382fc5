/*
 * prof.h - the sampling allocation-site profile (NUMA_ALLOC_PROF, issue 18;
 * docs/architecture.md, *Profiling*, which also gives the file format).
 *
 * Allocations are sampled at a mean of one per NUMA_ALLOC_PROF_RATE bytes
 * (a Poisson process over the bytes allocated: each allocation of s bytes is
 * sampled with p = 1 - exp(-s / rate), and a sample stands for 1/p objects
 * and s/p bytes). Small blocks: each thread cache bin counts down the pops
 * to its next sample (struct cache_bin's countdown, drawn geometric for its
 * class size); large and huge objects: a per-thread countdown of bytes, on
 * their slow paths. A sampled small request is served as a page run (a
 * large object) of the same node heap, so that its free reaches free_slow
 * (page tag 0) with no work added to the small free fast path; the span (or
 * the huge segment) holds the sample's id.
 *
 * Everything here runs on slow paths, allocates nothing (its tables are
 * mappings of its own) and takes one lock (a leaf), never while unwinding.
 */
#ifndef NUMA_ALLOC_PROF_H
#define NUMA_ALLOC_PROF_H

#include "base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the block's node was chosen (PROF-FORMAT's decision=). */
enum prof_decision {
    PROF_LOCAL = 0,
    PROF_BIND,
    PROF_PREFERRED,
    PROF_INTERLEAVE,
    PROF_EXPLICIT,
    PROF_FALLBACK_FULL,
    PROF_FALLBACK_SLOT,
    PROF_FALLBACK_UNUSABLE,
    PROF_FALLBACK_OTHER,
    PROF_UNBOUND,
    PROF_DECISIONS
};

#define PROF_DEPTH 48 /* frames kept per stack */

/* Set once by prof_init (before any thread cache exists), read after. */
extern NA_HIDDEN bool na_prof_on;

/* After options_init: turns the profile on when NUMA_ALLOC_PROF is set. */
void prof_init(void);

/*
 * Loads libgcc_s's unwinder when the profile is on (dlopen: a library's
 * constructor calls it once the allocator runs, outside every lock of ours).
 */
void prof_load_unwinder(void);

/* A new bin's countdown: the first draw for class cls, or UINT64_MAX when off. */
uint64_t prof_first_pops(unsigned cls);

/*
 * The calling thread's decision for the allocations it makes until the
 * next call (set on the slow paths that choose a node; read when sampling).
 */
void prof_set_decision(enum prof_decision decision);
enum prof_decision prof_decision(void);
/* The decision the placement policy stands for (local, bind, preferred, interleave, unbound). */
enum prof_decision prof_policy_decision(void);

/*
 * Small blocks: a bin's countdown reached 0 (taken: on a pop that did not
 * happen) or would on its next pop. Re-arms the bin (thread_cache_rearm)
 * and returns true if the caller should serve this request sampled (as a
 * page run: prof_note_alloc afterwards); false (a malloc from inside the
 * profiler itself) to serve it as usual.
 */
bool prof_small_due(void *node_cache, unsigned cls, bool taken);

/* Large and huge objects: does this allocation of `bytes` take a sample? */
bool prof_large_due(size_t bytes);

/*
 * Records a sampled block of `request` bytes (the caller's size) on `slot`,
 * whose sampling chance was that of `counted` bytes; returns its id for the
 * block's span or segment (0: not recorded, counted as lost).
 */
uint32_t prof_note_alloc(size_t request, size_t counted, unsigned slot);

/* The block with this id (nonzero) is freed by the calling thread. */
void prof_note_free(uint32_t id);

/*
 * Writes the profile (docs: PROF-FORMAT) into fd; `complete`: 1 at exit, 0
 * for a live snapshot. 0 or -errno of the first failed write.
 */
int prof_write(int fd, bool complete);

/* For the statistics' "profile" object: each read whole, not together. */
struct prof_counts {
    uint64_t rate, samples, live_samples, lost;
};
void prof_counts(struct prof_counts *out);

/* fork: the profile's lock is held across it (a leaf, taken last). */
void prof_fork_prepare(void);
void prof_fork_parent(void);
void prof_fork_child(void);

#endif

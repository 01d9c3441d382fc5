/*
 * stats_live.h - live statistics (NUMA_ALLOC_STATS_LIVE=1), published for
 * `numa-alloc stat PID` without stopping the program.
 *
 * Layout, in the per-user directory /dev/shm/numa-alloc-<euid> (mode 0700,
 * owned by the user; anything else there is refused with one warning and
 * live statistics stay off):
 *   <pid>.lock  empty, 0600, flock()ed for the life of the process through a
 *               close-on-exec descriptor: a free lock means its process
 *               exited, was killed or exec'd another program
 *   <pid>.json, <pid>.txt  the statistics, 0600, rewritten at most every
 *               250 ms through <pid>.<ext>.tmp and rename (readers never see
 *               half a file)
 *   <pid>.prof  the allocation-site profile (NUMA_ALLOC_PROF set: core/prof.h),
 *               "complete 0", published with them, the same way
 * Files of a pid whose lock is free or missing are stale: the library sweeps
 * them when it starts, `numa-alloc stat` when it meets them.
 */
#ifndef NUMA_ALLOC_STATS_LIVE_H
#define NUMA_ALLOC_STATS_LIVE_H

/*
 * Opens (creating it if need be) and checks the directory, sweeps stale
 * files, takes this process's lock. Once, from the allocator's start-up,
 * after options_init; does nothing unless na_options.stats_live.
 */
void stats_live_init(void);

/*
 * Publishes when due (every 250 ms at most) and no other thread is at it;
 * never waits. Call only when na_options.stats_live is set, with no allocator
 * lock held.
 */
void stats_live_tick(void);

/*
 * fork: the publishing lock is held across it, taken before every other
 * lock of the library (a publisher takes the statistics lock, then the
 * registry and heap locks). The child drops its copy of the parent's lock
 * descriptor (which must not keep the parent looking alive) and takes a lock
 * of its own at its first publication.
 */
void stats_live_fork_prepare(void);
void stats_live_fork_parent(void);
void stats_live_fork_child(void);

#endif

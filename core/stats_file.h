/*
 * stats_file.h - NUMA_ALLOC_STATS: the statistics written once, at exit.
 *
 * The library runs inside every process of a user, root included, so the
 * file is written in a way that another user cannot turn against it:
 *   - the value is checked and made absolute at start-up (a program that
 *     chdir()s later does not move the file; a bad value costs one line then,
 *     not a surprise at exit);
 *   - at exit the statistics go to a new temporary file in the same
 *     directory (O_EXCL | O_NOFOLLOW, mode NUMA_ALLOC_STATS_MODE, default
 *     0600), which is then renamed over the final name if that is absent or
 *     a regular file of our own: readers never see half a file, a symbolic
 *     link planted there is replaced and never followed, and the final name
 *     itself is never opened (a FIFO or a device there cannot block us);
 *   - every refusal is one warning line per process at most; nothing here
 *     changes errno, the exit status or the signals of the program.
 * `%p` in the path is the pid at exit (a forked child writes its own file),
 * `%e` the program's name at exit (comm, made a safe file name), `%t` the
 * second (since the epoch) the process started: the library's start-up, or
 * the fork that made it; `%%` a percent sign, as in core_pattern. "stderr" (or "/dev/stderr")
 * writes to report_output_fd() instead.
 */
#ifndef NUMA_ALLOC_STATS_FILE_H
#define NUMA_ALLOC_STATS_FILE_H

/* Checks na_options.stats and prof and prepares the exit; call once, after options_init(). */
void stats_file_init(void);

/* fork: the child is a new process, with its own start time (%t). */
void stats_file_fork_child(void);

#endif

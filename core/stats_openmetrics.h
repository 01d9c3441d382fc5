/*
 * stats_openmetrics.h - the statistics in the OpenMetrics text exposition
 * (what Prometheus scrapes; node_exporter's textfile collector reads it).
 */
#ifndef NUMA_ALLOC_STATS_OPENMETRICS_H
#define NUMA_ALLOC_STATS_OPENMETRICS_H

#include <stdbool.h>

/*
 * Writes the per-node counters and gauges, labelled node, pid and program,
 * to fd, ending with "# EOF"; `verify`: with the census of stats_write.
 * 0, or -1 with errno, as stats_write.
 */
int stats_write_openmetrics(int fd, bool verify);

#endif

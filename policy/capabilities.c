/* capabilities.c - the start-up probe and the placement fault counters; see capabilities.h. */
#define _GNU_SOURCE
#include "policy/capabilities.h"

#include "base/os.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "policy/binding.h"
#include "policy/topology.h"
#include "policy/verify.h"

#include <errno.h>
#include <stdbool.h>

struct placement_caps na_placement_caps NA_HOT_BSS;

/* Indexed by slot; bumped with relaxed atomics from any path, summed by the statistics. */
NA_COLD_BSS static uint64_t fault_counts[TOPO_MAX_SLOTS][PLACEMENT_FAULT_KINDS];

void placement_fault_count(int node, enum placement_fault kind)
{
    int slot = topology_slot_of_node(node);
    if (slot >= 0)
        __atomic_fetch_add(&fault_counts[slot][kind], 1, __ATOMIC_RELAXED);
}

uint64_t placement_faults_of(unsigned slot, enum placement_fault kind)
{
    return slot < TOPO_MAX_SLOTS ? __atomic_load_n(&fault_counts[slot][kind], __ATOMIC_RELAXED) : 0;
}

const char *errno_name(int err, char buf[ERRNO_NAME_SIZE])
{
    static const struct {
        int err;
        const char *name;
    } names[] = {{EPERM, "EPERM"},   {ENOSYS, "ENOSYS"},        {EACCES, "EACCES"},
                 {EINVAL, "EINVAL"}, {ENOMEM, "ENOMEM"},        {EFAULT, "EFAULT"},
                 {EIO, "EIO"},       {EOPNOTSUPP, "EOPNOTSUPP"}};
    if (err < 0)
        err = -err;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].err == err)
            return names[i].name;
    struct textbuf tb;
    tb_init(&tb, buf, ERRNO_NAME_SIZE);
    tb_str(&tb, "errno ");
    tb_u64(&tb, (uint64_t)err);
    return buf;
}

/* A kernel built without NUMA (no node directory in sysfs): one node, nothing to bind. */
static bool kernel_without_numa(void)
{
    char buf[16];
    return os_read_file("/sys/devices/system/node/online", buf, sizeof buf) < 0;
}

/* "mbind refused (EPERM): memory is not bound, placement is first-touch; ..." */
static void warn_what_is_lost(void)
{
    char line[256], name[ERRNO_NAME_SIZE];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    if (na_placement_caps.bind_error == -EOPNOTSUPP) {
        tb_str(&tb, "mbind had no effect (get_mempolicy reads another policy back): ");
        tb_str(&tb, "memory is not bound, placement is first-touch");
    } else if (na_placement_caps.bind_error) {
        tb_str(&tb, "mbind refused (");
        tb_str(&tb, errno_name(na_placement_caps.bind_error, name));
        tb_str(&tb, "): memory is not bound, placement is first-touch");
    }
    if (na_placement_caps.verify_error) {
        tb_str(&tb,
               na_placement_caps.bind_error ? "; move_pages refused (" : "move_pages refused (");
        tb_str(&tb, errno_name(na_placement_caps.verify_error, name));
        tb_str(&tb, "): placement cannot be verified");
    }
    report_warning(line);
}

void capabilities_probe(void *slot, size_t len, int node)
{
    na_placement_caps.bind_error = binding_probe(slot, len, node);
    struct page_census census = {0};
    na_placement_caps.verify_error = verify_pages(slot, OS_PAGE_SIZE, node, 1, &census);
    bool nothing_lost = !na_placement_caps.bind_error && !na_placement_caps.verify_error;
    bool no_numa_at_all = na_placement_caps.bind_error == -ENOSYS && kernel_without_numa();
    if (!nothing_lost && !no_numa_at_all)
        warn_what_is_lost();
}

/* kernel_policy.c - the inherited task policy and the kernel's interleave weights; see
 * kernel_policy.h. */
#define _GNU_SOURCE
#include "base/bytes.h"
#include "policy/kernel_policy.h"

#include "base/bitmap.h"
#include "base/os.h"
#include "base/parse.h"
#include "base/report.h"
#include "base/textbuf.h"
#include "policy/options.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

/* get_mempolicy ORs these into the mode (uapi/linux/mempolicy.h MPOL_MODE_FLAGS). */
#define KMPOL_MODE_FLAGS ((1 << 15) | (1 << 14) | (1 << 13))

struct inherited_policy na_inherited_policy NA_HOT_BSS;

static bool mask_empty(const uint64_t *mask)
{
    for (unsigned i = 0; i < BITMAP_WORDS(TOPO_MAX_NODE_ID); i++)
        if (mask[i])
            return false;
    return true;
}

/* "0-1,3": numactl's way of writing a node mask. */
static void node_list_text(struct textbuf *tb, const uint64_t *mask)
{
    bool first = true;
    for (int node = 0; node < TOPO_MAX_NODE_ID; node++) {
        if (!bitmap_test(mask, (size_t)node))
            continue;
        int last = node;
        while (last + 1 < TOPO_MAX_NODE_ID && bitmap_test(mask, (size_t)last + 1))
            last++;
        tb_str(tb, first ? "" : ",");
        tb_u64(tb, (uint64_t)node);
        if (last > node) {
            tb_str(tb, "-");
            tb_u64(tb, (uint64_t)last);
        }
        first = false;
        node = last;
    }
}

/* Reads the calling thread's policy: the task policy at start-up, in the thread that starts us. */
static void read_task_policy(void)
{
    struct inherited_policy *ip = &na_inherited_policy;
    int mode = 0, saved = errno;
    long rc = syscall(SYS_get_mempolicy, &mode, ip->nodes, (unsigned long)TOPO_MAX_NODE_ID + 1,
                      NULL, 0UL);
    ip->read_error = rc == 0 ? 0 : -errno;
    errno = saved;
    if (ip->read_error) {
        na_fill(ip->nodes, 0, sizeof ip->nodes);
        ip->mode = KMPOL_DEFAULT;
        na_copy_string(ip->text, "unknown");
        return;
    }
    ip->mode = mode & ~KMPOL_MODE_FLAGS;
    /* MPOL_PREFERRED with no node is the old spelling of local allocation. */
    if (ip->mode == KMPOL_PREFERRED && mask_empty(ip->nodes))
        ip->mode = KMPOL_LOCAL;
    static const char *const names[] = {
        "default",        "preferred",          "bind", "interleave", "local",
        "preferred-many", "weighted-interleave"};
    struct textbuf tb;
    tb_init(&tb, ip->text, sizeof ip->text);
    tb_str(&tb, ip->mode >= 0 && ip->mode <= KMPOL_WEIGHTED_INTERLEAVE ? names[ip->mode] : "?");
    if (kernel_policy_inherited()) {
        tb_str(&tb, ":");
        node_list_text(&tb, ip->nodes);
    }
}

int kernel_policy_inherited(void)
{
    int mode = na_inherited_policy.mode;
    return !na_inherited_policy.read_error && mode != KMPOL_DEFAULT && mode != KMPOL_LOCAL;
}

static void adopt(void)
{
    static const enum placement_policy as_ours[] = {
        [KMPOL_PREFERRED] = POLICY_PREFERRED,
        [KMPOL_BIND] = POLICY_BIND,
        [KMPOL_INTERLEAVE] = POLICY_INTERLEAVE,
        [KMPOL_PREFERRED_MANY] = POLICY_PREFERRED,
        [KMPOL_WEIGHTED_INTERLEAVE] = POLICY_WEIGHTED_INTERLEAVE,
    };
    if (na_inherited_policy.mode < 0 || na_inherited_policy.mode > KMPOL_WEIGHTED_INTERLEAVE)
        return; /* a mode newer than this library: keep ours, the statistics show it */
    na_options.policy = as_ours[na_inherited_policy.mode];
    na_options.policy_source = POLICY_SOURCE_INHERITED;
    if (!na_options.nodes_given) {
        na_copy(na_options.nodes, na_inherited_policy.nodes, sizeof na_options.nodes);
        na_options.nodes_given = true;
        na_options.nodes_all = false;
    }
    /* --membind is strict: the kernel OOM-kills rather than leave the set, we say ENOMEM. */
    if (na_inherited_policy.mode == KMPOL_BIND && !na_options.fallback_given)
        na_options.fallback = FALLBACK_NONE;
}

/* One line: which inherited policy a variable overrides, and how much of it. */
static void report_override(enum option_variable id, const char *variable, const char *what)
{
    static const char *const policy_words[] = {"local", "bind", "preferred", "interleave",
                                               "weighted-interleave"};
    char line[384];
    struct textbuf tb;
    tb_init(&tb, line, sizeof line);
    tb_str(&tb, variable);
    tb_str(&tb, "=");
    if (na_options.policy_given)
        tb_str(&tb, policy_words[na_options.policy]);
    else
        node_list_text(&tb, na_options.nodes);
    tb_str(&tb, " overrides ");
    tb_str(&tb, what);
    tb_str(&tb, "the memory policy this process inherited (numactl?): ");
    tb_str(&tb, na_inherited_policy.text);
    options_warn(id, line);
}

/* The kernel's weight for `node` (Linux 6.9+), or 0 where it has none. */
static unsigned kernel_weight(int node)
{
    char path[96], buf[16];
    struct textbuf tb;
    tb_init(&tb, path, sizeof path);
    tb_str(&tb, "/sys/kernel/mm/mempolicy/weighted_interleave/node");
    tb_u64(&tb, (uint64_t)node);
    if (os_read_file(path, buf, sizeof buf) <= 0)
        return 0;
    uint64_t weight;
    return parse_decimal(buf, 255, &weight) ? (unsigned)weight : 0;
}

/* Weighted interleave without NUMA_ALLOC_WEIGHTS: the kernel's weights, or 1 each. */
static void fill_weights(void)
{
    bool any_kernel = false;
    for (int slot = 0; slot < na_topo.num_slots; slot++) {
        int node = na_topo.slot_node[slot];
        if (na_options.nodes_given && !na_options.nodes_all &&
            !bitmap_test(na_options.nodes, (size_t)node))
            continue;
        unsigned weight = kernel_weight(node);
        any_kernel = any_kernel || weight > 0;
        na_options.weights[node] = (uint8_t)(weight ? weight : 1);
    }
    na_options.weights_given = true;
    na_options.weights_source = any_kernel ? WEIGHTS_KERNEL : WEIGHTS_EQUAL;
}

void kernel_policy_apply(void)
{
    read_task_policy();
    if (kernel_policy_inherited()) {
        if (na_options.policy_given) {
            report_override(OPTION_POLICY, "NUMA_ALLOC_POLICY", "");
        } else {
            if (na_options.nodes_given)
                report_override(OPTION_NODES, "NUMA_ALLOC_NODES", "the nodes of ");
            adopt();
        }
    }
    if (na_options.policy == POLICY_WEIGHTED_INTERLEAVE && !na_options.weights_given)
        fill_weights();
}

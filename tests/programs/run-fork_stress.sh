#!/usr/bin/env bash
# run-fork_stress.sh <libnumapreload.so> <fork_stress> - 200 forks while 4
# threads allocate (fork_stress.c); every child checks its memory and exits 0,
# and the children's checksum must be the same with and without LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup fork_stress "$@"
NA_PROGRAM=${2:?usage: run-fork_stress.sh <libnumapreload.so> <fork_stress executable>}

workload() {
    na_prog_watched "$NA_PROGRAM" 200
}

na_run_both workload
na_compare
na_prove_loaded
na_pass

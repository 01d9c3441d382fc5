#!/usr/bin/env bash
# run-cxx_stress.sh <libnumapreload.so> <cxx_stress> - the multithreaded C++
# program of cxx_stress.cpp (4 threads, std containers, aligned new, objects
# freed by another thread); its checksum must be the same with and without
# LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup cxx_stress "$@"
NA_PROGRAM=${2:?usage: run-cxx_stress.sh <libnumapreload.so> <cxx_stress executable>}

workload() {
    na_prog_watched "$NA_PROGRAM" 3000
}

na_run_both workload
na_compare
na_prove_loaded
na_pass

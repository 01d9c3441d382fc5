#!/usr/bin/env bash
# run-java.sh <libnumapreload.so> - the JVM (Debian's OpenJDK 17): javac compiles
# JavaWork.java and java runs it, 12 tasks on 6 threads through zlib, direct
# ByteBuffers, file channels and the garbage-collected heap, beside the JVM's
# own threads (the collector's, the JIT compilers'), which take their native
# memory from malloc. Both commands run preloaded; the results must be the same
# with and without LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup java "$@"
na_need java javac

workload() {
    # -Xshare:off: the class data archive is mapped, not malloc'ed; without it
    # the class loader's metadata goes through the JVM's allocators too.
    na_prog_watched javac -J-Xshare:off -d classes "$NA_DIR/JavaWork.java"
    na_prog_watched java -Xshare:off -Xmx256m -cp classes JavaWork "$PWD"
}

na_run_both workload
na_compare
grep -q '^done$' "$NA_WORK/preload/stdout" || na_fail "the Java program did not finish"
na_prove_loaded
na_pass

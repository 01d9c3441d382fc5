#!/usr/bin/env bash
# tools/startup_trace.sh LIBRARY [COMMAND [ARGS...]] - the functions of LIBRARY (a
# libnumapreload.so with its symbol table) that COMMAND (default: true) runs with the
# library preloaded, one a line, in the order of their first call: the list in
# cmake/startup-text.ld. Under gdb, a one-shot breakpoint on every function of the
# library, set when the loader has mapped it and before its constructors run. The C
# runtime's own functions (crti, crtbegin) are left out, and a GCC .cold piece is
# named by its function (its section is the function's .text.unlikely.NAME).
set -euo pipefail
lib=$(realpath "${1:?usage: startup_trace.sh LIBRARY [COMMAND [ARGS...]]}")
shift
(($#)) || set -- "$(type -P true)"
command -v gdb >/dev/null || { echo "startup_trace: gdb not found" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm "$lib" | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u >"$tmp/functions"
cat >"$tmp/trace.py" <<'PY'
import gdb, os
tmp = os.environ["TRACE_DIR"]
names = [l.strip() for l in open(tmp + "/functions") if l.strip()]
hits = []

class Once(gdb.Breakpoint):
    def stop(self):
        hits.append(self.location)
        self.enabled = False
        return False

for setting in ("breakpoint pending on", "confirm off", "pagination off", "stop-on-solib-events 1"):
    gdb.execute("set " + setting)
gdb.execute("run")
for _ in range(64):  # to the event that maps the library, before its constructors
    if os.path.basename(os.environ["TRACE_LIB"]) in gdb.execute("info sharedlibrary", to_string=True):
        break
    gdb.execute("continue")
gdb.execute("set stop-on-solib-events 0")
for name in names:
    Once(name, internal=True)
gdb.execute("continue")
with open(tmp + "/hits", "w") as out:
    out.write("".join(h + "\n" for h in hits))
PY
TRACE_DIR=$tmp TRACE_LIB=$lib gdb -q -batch -ex "set environment LD_PRELOAD=$lib" \
    -x "$tmp/trace.py" --args "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
grep -vxE '_init|_fini|frame_dummy|register_tm_clones|deregister_tm_clones|__do_global_dtors_aux' \
    "$tmp/hits" | sed 's/\.cold$//' | awk '!seen[$0]++'

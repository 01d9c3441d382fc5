# check.sh - sourced by the shell tests. `check DESCRIPTION COMMAND...` runs the
# command and prints "ok: DESCRIPTION", or "FAIL: DESCRIPTION" and sets fail=1; a
# test ends with `exit $fail`.
# shellcheck shell=bash disable=SC2034 # fail is read by the test that sources this
fail=0
check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAIL: $what"
        fail=1
    fi
}

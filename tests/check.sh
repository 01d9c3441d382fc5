# check.sh - sourced by the shell tests. `check DESCRIPTION COMMAND...` runs the
# command and prints "ok: DESCRIPTION", or "FAIL: DESCRIPTION", sets fail=1 and
# returns 1 (so a test may say more on a failure); a test ends with `exit $fail`.
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
        return 1
    fi
}

# wait_for COMMAND...: true once the command succeeds, polled every 0.1 s for at most 10 s.
wait_for() {
    for _ in $(seq 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

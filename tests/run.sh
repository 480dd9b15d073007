#!/bin/bash
# Runs test binaries one after another, shows their cmocka output, and ends with cmocka's
# summary lines for all of them together. Exits non-zero when any test failed or any binary did not finish.
set -u
passed=0 failed=0 broken=0
for t in "$@"; do
    echo "== $t"
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    # cmocka reports a failed group setup or teardown but still exits 0.
    if printf '%s\n' "$out" | grep -q '^\[  FAILED  \] GROUP \(SETUP\|TEARDOWN\)'; then
        echo "$t: its group setup or teardown failed"
        broken=$((broken + 1))
    elif [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        echo "$t exited with status $rc"
        broken=$((broken + 1))
    fi
done
# The same closing lines as cmocka's, for all binaries together.
echo "[==========] $((passed + failed)) test(s) run across $# programs."
echo "[  PASSED  ] $passed test(s)."
[ $((failed + broken)) -gt 0 ] && echo "[  FAILED  ] $((failed + broken)) test(s)."
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]

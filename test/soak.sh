#!/usr/bin/env bash
# test/soak.sh — the long reliability run behind `make soak`.
#
# Runs the crash, fault, load and leak tests of test/ with TEND_SOAK=1:
# 200 kill -9s per crash test instead of 20/10, a git server that stalls
# until the agent's own network timeout fires, a 50,000-request webhook burst.
#
#   BIN=bin/tend test/soak.sh        use this binary (default: build bin/tend)
#   TEND_CRASH_KILLS=N               kills per crash test (default 200 here)
#   SOAK_RUN=REGEX                   which tests (default: all reliability tests)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin/tend}
if [ ! -x "$BIN" ]; then
	echo "building $BIN"
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN" ./cmd/tend
fi
export TEND_BIN
TEND_BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
export TEND_SOAK=1
RUN=${SOAK_RUN:-'^(TestCrash|TestFault|TestLoad|TestLeak)'}
echo "soak: $TEND_BIN, tests matching $RUN, kills per crash test: ${TEND_CRASH_KILLS:-200}"
LOG=${SOAK_LOG:-$(mktemp -t tend-soak.XXXXXX.log)}
start=$(date +%s)
set +e
$GO test -count=1 -timeout 90m -v -run "$RUN" ./test/ 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
echo
echo "soak summary ($LOG):"
grep -E '^\s*(--- (PASS|FAIL|SKIP))|killed [0-9]+ run|goroutines|peak RSS|probes:|burst:' "$LOG" || true
echo "soak: finished in $(( $(date +%s) - start ))s, exit $status"
exit "$status"

#!/usr/bin/env bash
# test/fuzz.sh — run every Go fuzz target in the repo, one after another.
#
#   test/fuzz.sh [FUZZTIME]        default 2000x per target (CI); `make fuzz` passes more
#   FUZZ_PARALLEL=N                fuzzing workers per target (default 1: CI machines are small)
#   FUZZ_MINIMIZE=N                -fuzzminimizetime (default 100x)
#   FUZZ_MATCH=REGEX               only targets whose package dir or name matches
#
# Budgets are counts of inputs (Nx), not durations: with a duration, go1.26's
# fuzz coordinator can report "context deadline exceeded" as a failure when the
# deadline lands while a worker is busy (golang/go#75804, fixed in go1.27). CI
# failed that way with no crasher written. A count has no deadline to race. The
# minimisation budget is a count too: minimising each new interesting input
# for the default 60 s is what kept workers busy at the deadline.
#
# A target that finds a crasher fails; `go test -fuzz` has then written the
# input to <package>/testdata/fuzz/<Target>/<hash>. Keep that file: it is a
# regression test from then on (plain `go test` replays it). The script runs
# every target even after a failure and exits 1 at the end if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${1:-${FUZZTIME:-2000x}}
MINIMIZE=${FUZZ_MINIMIZE:-100x}
PARALLEL=${FUZZ_PARALLEL:-1}
MATCH=${FUZZ_MATCH:-.}

failed=()
ran=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		if ! [[ "$dir $fn" =~ $MATCH ]]; then continue; fi
		echo "== $dir $fn (-fuzztime $FUZZTIME)"
		ran=$((ran + 1))
		if ! $GO test -count=1 -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$MINIMIZE" -parallel "$PARALLEL" "./$dir"; then
			failed+=("$dir $fn")
			new=$(git status --porcelain --untracked-files=all -- "$dir/testdata/fuzz/$fn" 2>/dev/null | awk '{print $2}')
			[ -n "$new" ] && echo "   crasher saved: $new"
		fi
	done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./vendor/' | sort)

echo "fuzz: $ran target(s) run, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
	printf '  FAILED %s\n' "${failed[@]}"
	echo "  the inputs are under <package>/testdata/fuzz/<Target>/; report them to the package's owner and keep them as regression tests"
	exit 1
fi

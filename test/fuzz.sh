#!/usr/bin/env bash
# test/fuzz.sh — run every Go fuzz target in the repo, one after another.
#
#   test/fuzz.sh [FUZZTIME]        default 10s per target (CI); `make fuzz` passes more
#   FUZZ_PARALLEL=N                fuzzing workers per target (default 1: CI machines are small)
#   FUZZ_MATCH=REGEX               only targets whose package dir or name matches
#
# A target that finds a crasher fails; `go test -fuzz` has then written the
# input to <package>/testdata/fuzz/<Target>/<hash>. Keep that file: it is a
# regression test from then on (plain `go test` replays it). The script runs
# every target even after a failure and exits 1 at the end if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${1:-${FUZZTIME:-10s}}
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
		if ! $GO test -count=1 -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "./$dir"; then
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

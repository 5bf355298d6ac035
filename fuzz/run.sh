#!/bin/sh
# Builds the libFuzzer targets with ASan and UBSan in build-fuzz/ and
# runs each for SECONDS (default 60) from the seed corpus in
# fuzz/corpus/<target>/; new inputs go to a temporary folder, not the
# repository.  Exits non-zero when a target crashes, leaks or trips a
# sanitizer, leaving the input that did it in build-fuzz/.
#   fuzz/run.sh [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
build=$top/build-fuzz
"$top/scripts/build-copy" "$build" CC=clang --enable-fuzzing \
    --without-systemd
cd "$build"
make --quiet -j2 fuzz/fuzz_codec fuzz/fuzz_loss fuzz/fuzz_conf \
    fuzz/fuzz_route >/dev/null
status=0
for t in fuzz_codec fuzz_loss fuzz_conf fuzz_route; do
	work=$(mktemp -d)
	log=$build/$t.log
	if ./fuzz/$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$build/$t-" "$work" "$top/fuzz/corpus/$t" \
	    >"$log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' \
		    "$log" | awk '{print $2}')
		[ -n "$execs" ] || execs=$(grep -o '#[0-9]*' "$log" |
		    tail -1 | tr -d '#')
		echo "fuzz: $t ok, $execs runs in ${secs}s," \
		    "corpus $(ls "$work" | wc -l) new inputs"
	else
		echo "fuzz: $t FAILED; see $log"
		tail -40 "$log"
		status=1
	fi
	rm -rf "$work"
done
exit $status

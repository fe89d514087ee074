#!/usr/bin/env bash
# Runs the libFuzzer target `render` for a fixed number of executions (default 10^6):
#
#   bash fuzz/run.sh [RUNS] [JOBS]
#
# Builds fuzz/ with coverage instrumentation on STABLE rustc (the flags cargo-fuzz passes, minus
# the sanitizer, which would need nightly), seeds the corpus with the built-in profiles and test
# fixtures, and uses fuzz/profile.dict (every key of the profile schema plus YAML syntax). A panic,
# a timeout (> 10 s for one input) or more than 2 GB of memory stops the run with exit 1 and leaves
# the input in fuzz/artifacts/. Prints libFuzzer's final statistics (executions, peak RSS) and the
# slowest input found.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
RUNS=${1:-1000000}
TRIPLE=$(rustc -vV | awk '/^host:/ { print $2 }')
# --target keeps build scripts and proc macros uninstrumented (they would not link).
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    cargo build --release --quiet --target "$TRIPLE" --bin render
BIN=target/$TRIPLE/release/render

mkdir -p corpus artifacts seeds
cp ../profiles/*.yaml seeds/
for f in ../tests/fixtures/*/profile.yaml ../tests/fixtures/check/*.yaml; do
    cp "$f" "seeds/$(echo "${f#../tests/fixtures/}" | tr / _)"
done

START=$(date +%s)
# -close_fd_mask=2: the pipeline prints `check` warnings to stderr for every valid input.
set +e
"$BIN" -runs="$RUNS" -dict=profile.dict -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -report_slow_units=1 -print_final_stats=1 -close_fd_mask=2 -artifact_prefix=artifacts/ \
    corpus seeds >fuzz.log 2>&1
rc=$?
set -e
grep -E '^(#[0-9]+ +(DONE|INITED)|stat::|Slowest|==[0-9]+==|SUMMARY|Done)' fuzz.log || true
echo "elapsed: $(($(date +%s) - START)) s, exit $rc"
# libFuzzer writes a slow-unit-* file each time it finds a new slowest input: the newest is the
# slowest. There may be none (a short run where nothing is slow), which is not a failure.
slowest=$(find artifacts -maxdepth 1 -name 'slow-unit-*' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
if [ -n "$slowest" ]; then
    echo "slowest input: $slowest ($(wc -c <"$slowest") bytes)"
fi
exit "$rc"

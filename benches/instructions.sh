#!/usr/bin/env bash
# Instructions tykgen runs (whole process, both threads), counted by callgrind: unlike wall
# time they do not depend on how busy the machine is, so they judge a change, and the cost per
# added Gateway, on a machine whose speed drifts (see README "Benchmarks").
#
#   bash benches/instructions.sh            (builds and counts target/release/tykgen)
#   TYKGEN_BIN=path/to/tykgen bash benches/instructions.sh
#
# Valgrind hides the CPU's SHA instructions, so about half of a small render's count is the
# manifest's SHA-256 done in software (a tenth of that natively). Needs valgrind. A
# measurement, not a test: it never fails on a figure (only when tykgen or valgrind does).
set -euo pipefail
# A relative TYKGEN_BIN is the caller's: resolved before moving to the repository.
bin=${TYKGEN_BIN:+$(realpath "$TYKGEN_BIN")}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "$bin" ]; then
    cargo build --release -q
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release/tykgen
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d -p "$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
trap 'rm -rf "$work"' EXIT

# count ARGS...: the instructions of `tykgen ARGS` (a render writes into a fresh folder); stops
# the script, showing what tykgen and valgrind said, when either fails.
count() {
    rm -rf "${work:?}/r"
    local out=() n
    [ "$1" = render ] && out=(-o "$work/r" -q)
    if ! valgrind --tool=callgrind --callgrind-out-file=/dev/null --error-exitcode=99 \
        "$bin" "$@" ${out[@]+"${out[@]}"} >/dev/null 2>"$work/log"; then
        cat "$work/log" >&2
        exit 1
    fi
    n=$(awk '/refs:/ { gsub(",", "", $NF); print $NF }' "$work/log")
    [ -n "$n" ] || { cat "$work/log" >&2; exit 1; }
    echo "$n"
}

declare -A at
printf '%-32s %15s\n' "tykgen $("$bin" --version | awk '{print $2}')" instructions
for shape in "check production" "render production -t config" "render production -t all"; do
    # shellcheck disable=SC2086 # the shape is words
    n=$(count $shape) || exit 1
    printf '%-32s %15s\n' "$shape" "$n"
done
for n in 100 1000 3000; do
    at[$n]=$(count render production -t all --set "gateway.nodes=$n") || exit 1
    printf '%-32s %15s\n' "$n gateways -t all" "${at[$n]}"
done
low=$(((at[1000] - at[100]) / 900))
high=$(((at[3000] - at[1000]) / 2000))
awk -v low="$low" -v high="$high" \
    'BEGIN { printf "per added Gateway: 100->1000 %d, 1000->3000 %d (%+.1f %%)\n", low, high, 100 * (high - low) / low }' 

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
# measurement, not a test: it never fails on a figure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${TYKGEN_BIN:-}" ]; then
    bin=$(realpath "$TYKGEN_BIN")
else
    cargo build --release -q
    bin=$PWD/target/release/tykgen
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d -p "$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
trap 'rm -rf "$work"' EXIT

# count ARGS...: the instructions of `tykgen ARGS` (a render writes into a fresh folder).
count() {
    rm -rf "${work:?}/r"
    local out=()
    [ "$1" = render ] && out=(-o "$work/r" -q)
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" "${out[@]}" 2>&1 >/dev/null |
        awk '/refs:/ { gsub(",", "", $NF); print $NF }'
}

declare -A at
printf '%-32s %15s\n' "tykgen $("$bin" --version | awk '{print $2}')" instructions
for shape in "check production" "render production -t config" "render production -t all"; do
    # shellcheck disable=SC2086 # the shape is words
    printf '%-32s %15s\n' "$shape" "$(count $shape)"
done
for n in 100 1000 3000; do
    at[$n]=$(count render production -t all --set "gateway.nodes=$n")
    printf '%-32s %15s\n' "$n gateways -t all" "${at[$n]}"
done
low=$(((at[1000] - at[100]) / 900))
high=$(((at[3000] - at[1000]) / 2000))
echo "per added Gateway: 100->1000 $low, 1000->3000 $high ($(bc -l <<<"scale=1; 100 * ($high - $low) / $low") %)"

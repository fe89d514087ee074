#!/usr/bin/env bash
# Whole-process time (start-up included) and peak memory of `tykgen render`, measured with
# /usr/bin/time over repeated runs into a fresh output folder each time. The output goes to
# memory (/dev/shm) when it can, so the figures are tykgen's and not the disk's; set
# TYKGEN_BENCH_DIR to measure another file system.
# Usage: bash benches/process.sh [RUNS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-20}
cargo build --release -q
bin=target/release/tykgen
base=${TYKGEN_BENCH_DIR:-$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
work=$(mktemp -d -p "$base")
trap 'rm -rf "$work"' EXIT
measure() { # label, then tykgen arguments (the output folder is appended)
    local label=$1
    shift
    local times=() peak_kb=0
    for i in $(seq "$runs"); do
        "$bin" "$@" -o "$work/out-$i" >/dev/null 2>&1 || true # warm the page cache for this shape
        /usr/bin/time -o "$work/time" -f '%e %M' "$bin" "$@" -o "$work/run-$i" >/dev/null 2>&1
        read -r secs kb <"$work/time"
        times+=("$secs")
        ((kb > peak_kb)) && peak_kb=$kb
        rm -rf "${work:?}/out-$i" "${work:?}/run-$i"
    done
    local sorted median best
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    best=$(head -n 1 <<<"$sorted")
    median=$(sed -n "$(((runs + 1) / 2))p" <<<"$sorted")
    printf '%-36s runs=%d  best=%.0f ms  median=%.0f ms  peak RSS=%.1f MB\n' "$label" "$runs" \
        "$(bc -l <<<"$best * 1000")" "$(bc -l <<<"$median * 1000")" "$(bc -l <<<"$peak_kb / 1024")"
}
measure "production, -t all" render production -t all
measure "production, 100 gateways, -t all" render production -t all --set gateway.nodes=100
measure "production, 1000 gateways, -t all" render production -t all --set gateway.nodes=1000

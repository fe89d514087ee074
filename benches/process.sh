#!/usr/bin/env bash
# Whole-process time (start-up included) and peak memory of `tykgen render`, measured with
# /usr/bin/time over repeated runs. Usage: bash benches/process.sh [RUNS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-20}
cargo build --release -q
bin=target/release/tykgen
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() { # label, then tykgen arguments
    local label=$1; shift
    local best_ms=999999 total_ms=0 peak_kb=0
    for _ in $(seq "$runs"); do
        rm -rf "${out:?}"/*
        local start end ms kb
        start=$(date +%s%N)
        kb=$( { /usr/bin/time -f '%M' "$bin" "$@" -o "$out" >/dev/null 2>/dev/null; } 2>&1 | tail -n 1)
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        total_ms=$((total_ms + ms))
        (( ms < best_ms )) && best_ms=$ms
        (( kb > peak_kb )) && peak_kb=$kb
    done
    printf '%-34s runs=%d  best=%d ms  mean=%d ms  peak RSS=%.1f MB\n' \
        "$label" "$runs" "$best_ms" $((total_ms / runs)) "$(echo "$peak_kb / 1024" | bc -l)"
}
measure "production, -t all" render production -t all
measure "production, 100 gateways, -t all" render production -t all --set gateway.nodes=100
measure "production, 1000 gateways, -t all" render production -t all --set gateway.nodes=1000

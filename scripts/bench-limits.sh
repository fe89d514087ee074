#!/usr/bin/env bash
# Time and peak memory of the inputs issue 11 bounds, with the release binary and GNU time:
#
#   bash scripts/bench-limits.sh              (builds and measures target/release/tykgen)
#   TYKGEN_BIN=path/to/tykgen bash scripts/bench-limits.sh   (measures that binary, e.g. an older one)
#
# Prints one line per case: exit code, wall seconds, peak RSS in MB. Budgets (issue 11): the alias
# bomb and the 256 x 8 cluster within 2 s and 200 MB (an error or a bounded render), a 5,000-Gateway
# render under 1 GB. A measurement, not a test: it fails only when a budget is exceeded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${TYKGEN_BIN:-}" ]; then
    BIN=$(realpath "$TYKGEN_BIN")
else
    cargo build --release --quiet
    BIN=$PWD/target/release/tykgen
fi
TIME=$(command -v time || true)
[ -x /usr/bin/time ] && TIME=/usr/bin/time
# In memory where there is a /dev/shm, so the disk does not dominate the figures.
TMP=$(mktemp -d -p "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
trap 'rm -rf "$TMP"' EXIT

# A 7-level, 10-way alias bomb (10^7 values if expanded).
{
    printf 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev=a
    for n in b c d e f g; do
        printf '%s: &%s [' "$n" "$n"
        for i in 1 2 3 4 5 6 7 8 9; do printf '*%s,' "$prev"; done
        printf '*%s]\n' "$prev"
        prev=$n
    done
} >"$TMP/bomb.yaml"

fail=0
# bench NAME MAX_S MAX_MB ARGS...
bench() {
    local name=$1 max_s=$2 max_mb=$3
    shift 3
    local rc=0
    "$TIME" -f '%e %M' -o "$TMP/time" "$BIN" "$@" >/dev/null 2>"$TMP/err" || rc=$?
    # GNU time puts "Command exited with non-zero status N" before the figures.
    read -r secs kb < <(tail -n 1 "$TMP/time")
    local mb=$((kb / 1024))
    local verdict=ok
    if awk "BEGIN { exit !($secs > $max_s) }" || [ "$mb" -gt "$max_mb" ]; then verdict=OVER; fail=1; fi
    printf '%-34s exit %d  %6.2f s  %5d MB  (budget %s s, %s MB) %s\n' "$name" "$rc" "$secs" "$mb" "$max_s" "$max_mb" "$verdict"
}

bench "check alias bomb" 2 200 check "$TMP/bomb.yaml"
bench "check /dev/zero" 2 200 check /dev/zero
CLUSTER=(--set redis.mode=cluster --set redis.replicas=null --set redis.sentinels=null --set redis.master_name=null
    --set redis.shards=256 --set redis.replicas_per_shard=8)
bench "check 256x8 cluster" 2 200 check production "${CLUSTER[@]}"
bench "check 256x8 cluster + 5000 GW" 2 200 check production "${CLUSTER[@]}" --set gateway.nodes=5000
bench "render 256x8 cluster + 5000 GW" 2 200 render -t all -o "$TMP/o1" production "${CLUSTER[@]}" --set gateway.nodes=5000
# The largest cluster shape under the 1,000-node cap (100 shards x 9 = 900 nodes): links are
# linear, so check stays in budget; a render is as large as its files (every tyk.conf lists the
# cluster's nodes, every compose service waits for them).
BIG=(--set redis.mode=cluster --set redis.replicas=null --set redis.sentinels=null --set redis.master_name=null
    --set redis.shards=100 --set redis.replicas_per_shard=8)
bench "check 100x8 cluster + 5000 GW" 2 200 check production "${BIG[@]}" --set gateway.nodes=5000
bench "render 100x8 cluster + 200 GW" 120 1024 render -t all -o "$TMP/o3" production "${BIG[@]}" --set gateway.nodes=200
bench "render 5000 Gateways (-t all)" 120 1024 render -t all -o "$TMP/o2" production --set gateway.nodes=5000
bench "re-render 5000 Gateways (no change)" 120 1024 render -t all -o "$TMP/o2" production --set gateway.nodes=5000
exit "$fail"

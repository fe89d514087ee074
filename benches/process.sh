#!/usr/bin/env bash
# Whole-process cost of tykgen (start-up included), measured the way a user pays it:
#
#   bash benches/process.sh [RUNS]                      (builds and measures target/release/tykgen)
#   TYKGEN_BIN=path/to/tykgen bash benches/process.sh   (measures that binary, e.g. an older one)
#
# For each shape it alternates a `tykgen render` into a fresh folder with a `cp -r` of the tree
# that render wrote (same run, same page cache, same file system, both started through
# /usr/bin/time, which reads tykgen's peak RSS), RUNS times each, and reports
# the medians, the median of the per-run ratios (each tykgen run against the cp -r right after it:
# on a machine whose speed drifts from one second to the next, pairs cancel the drift that a ratio
# of two medians keeps) and tykgen's peak RSS. The output goes to memory (/dev/shm) when it
# can, so the figures are tykgen's and not the disk's; TYKGEN_BENCH_DIR picks another place.
# Then it fits the cost per added Gateway (one Gateway = one machine): the slope from 100 to
# 1,000 and from 1,000 to 3,000 Gateways (linear when they agree) and a least-squares line.
# A measurement, not a test: it never fails on a figure.
set -euo pipefail
# A relative TYKGEN_BIN is the caller's: resolved before moving to the repository.
bin=${TYKGEN_BIN:+$(realpath "$TYKGEN_BIN")}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-11}
if [ -z "$bin" ]; then
    cargo build --release -q
    bin=${CARGO_TARGET_DIR:-$PWD/target}/release/tykgen
fi
base=${TYKGEN_BENCH_DIR:-$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
work=$(mktemp -d -p "$base")
trap 'rm -rf "$work"' EXIT
TIME=/usr/bin/time

now_us() { echo "${EPOCHREALTIME/./}"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# values TEXT: the space-separated values of TEXT, one a line.
values() { tr ' ' '\n' <<<"$1" | grep .; }

# Per label: the run times (µs) of tykgen and of the cp -r after each, the per-run ratios (space
# separated, in run order), tykgen's peak RSS (KB), and the rendered tree's files and bytes.
declare -A t_us c_us ratios peak_kb files bytes tykgen_ms
# once LABEL ARGS...: one run of tykgen ARGS -o DIR and, after it, cp -r DIR (render commands),
# or of tykgen ARGS alone (anything else: there is nothing to copy).
once() {
    local label=$1 start kb t c
    shift
    start=$(now_us)
    $TIME -o "$work/time" -f '%M' "$bin" "$@" ${render:+-o "$work/r"} >/dev/null 2>"$work/err" ||
        { cat "$work/err" >&2; return 1; }
    t=$(($(now_us) - start))
    t_us[$label]+=" $t"
    read -r kb <"$work/time"
    ((kb > ${peak_kb[$label]:-0})) && peak_kb[$label]=$kb
    if [ -n "$render" ]; then
        # Through the same /usr/bin/time as tykgen, so both pay its fork and exec.
        start=$(now_us)
        $TIME -o "$work/time" -f '%M' cp -r "$work/r" "$work/c"
        c=$(($(now_us) - start))
        c_us[$label]+=" $c"
        ratios[$label]+=" $(bc -l <<<"$t / $c")"
        if [ -z "${files[$label]:-}" ]; then
            files[$label]=$(find "$work/r" -type f | wc -l)
            bytes[$label]=$(du -sb "$work/r" | cut -f1)
        fi
        rm -rf "${work:?}/r" "${work:?}/c"
    fi
}
# warm ARGS...: one unmeasured run (page cache and lazy set-up).
warm() {
    "$bin" "$@" ${render:+-o "$work/warm"} >/dev/null 2>&1
    rm -rf "${work:?}/warm"
}
# report LABEL: the medians of its runs.
report() {
    local label=$1 tm cm rm
    tm=$(values "${t_us[$label]}" | median)
    tykgen_ms[$label]=$tm
    if [ -n "$render" ]; then
        cm=$(values "${c_us[$label]}" | median)
        rm=$(values "${ratios[$label]}" | median)
        printf '%-34s %9.1f ms  cp -r %8.1f ms  ratio %5.2f  peak %6.1f MB  %6d files %7.1f MB\n' "$label" \
            "$(bc -l <<<"$tm / 1000")" "$(bc -l <<<"$cm / 1000")" "$rm" \
            "$(bc -l <<<"${peak_kb[$label]} / 1024")" "${files[$label]}" "$(bc -l <<<"${bytes[$label]} / 1048576")"
    else
        printf '%-34s %9.1f ms  %34s peak %6.1f MB\n' "$label" "$(bc -l <<<"$tm / 1000")" "" \
            "$(bc -l <<<"${peak_kb[$label]} / 1024")"
    fi
}
# measure LABEL ARGS...: RUNS runs, then their report.
measure() {
    local label=$1 i
    shift
    warm "$@"
    for i in $(seq "$runs"); do once "$label" "$@"; done
    report "$label"
}

echo "tykgen $("$bin" --version | awk '{print $2}'), $runs alternating runs per shape, medians (ratio: the median of the per-run ratios), output in $base"
render=
measure "check production" check production
measure "explain production" explain production
render=1
measure "production -t config" render production -t config
for target in compose ansible terraform all; do
    measure "production -t $target" render production -t "$target"
done
gateways=(1 10 100 1000 3000)
# Interleaved: each run renders every size once, so the cost per added Gateway can be taken
# within one run (below), where the machine's drift from one minute to the next cancels.
gw() { echo render production -t all --set "gateway.nodes=$1"; }
for n in "${gateways[@]}"; do warm $(gw "$n"); done
for i in $(seq "$runs"); do
    for n in "${gateways[@]}"; do once "$n gateways -t all" $(gw "$n"); done
done
for n in "${gateways[@]}"; do report "$n gateways -t all"; done
for target in config compose ansible terraform; do
    measure "1000 gateways -t $target" render production -t "$target" --set gateway.nodes=1000
done
# The largest Redis Cluster under the 1,000-node cap: 100 shards x (1 + 8) = 900 nodes.
measure "redis-cluster 100x8, 100 gateways" render redis-cluster -t all --set redis.shards=100 \
    --set targets.compose.subnet=172.30.0.0/22 \
    --set redis.replicas_per_shard=8 --set gateway.nodes=100

echo
# Per added Gateway from A to B Gateways: the median over runs of each run's own slope, for
# tykgen and for the cp -r of the same trees.
per_gateway() { # ARRAY-NAME A B
    local -n times=$1
    paste <(values "${times[$2 gateways -t all]}") <(values "${times[$3 gateways -t all]}") |
        awk -v d="$(($3 - $2))" '{ print ($2 - $1) / d }' | median
}
s1=$(per_gateway t_us 100 1000)
s2=$(per_gateway t_us 1000 3000)
printf 'per added Gateway (median of the runs'"'"' own slopes): 100->1000 %.1f us, 1000->3000 %.1f us (%+.1f %%); cp -r of the same trees: %.1f us, %.1f us\n' \
    "$s1" "$s2" "$(bc -l <<<"($s2 - $s1) / $s1 * 100")" "$(per_gateway c_us 100 1000)" "$(per_gateway c_us 1000 3000)"
fit=$(for n in 100 1000 3000; do echo "$n ${tykgen_ms[$n gateways -t all]}"; done |
    awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
         END { b = (n * sxy - sx * sy) / (n * sxx - sx * sx); printf "%.1f us/Gateway + %.1f ms", b, (sy - b * sx) / n / 1000 }')
echo "least-squares fit of the medians, 100 to 3000 Gateways: $fit"

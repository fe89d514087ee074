#!/usr/bin/env bash
# Proves a change did not alter one output byte: renders the same shapes with a base tykgen and
# with this tree's, and compares the trees (contents, file modes, the set of paths).
#
#   bash benches/identical.sh REV|BINARY
#
# REV is a git revision (built once in a temporary worktree under target/), BINARY an older
# tykgen. The shapes: every built-in profile, production with 1,000 and 3,000 Gateways, and
# the largest Redis Cluster; all with `-t all`. Exits 1 on the first difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
base=${1:?usage: benches/identical.sh REV|BINARY}
if [ -x "$base" ] && [ -f "$base" ]; then
    base_bin=$(realpath "$base")
else
    rev=$(git rev-parse --verify "$base^{commit}")
    tree=target/identical-base/$rev
    if [ ! -x "$tree/target/release/tykgen" ]; then
        rm -rf "$tree"
        git worktree add --detach -f "$tree" "$rev" >/dev/null
        (cd "$tree" && cargo build --release -q)
    fi
    base_bin=$PWD/$tree/target/release/tykgen
fi
cargo build --release -q
new_bin=$PWD/target/release/tykgen
work=$(mktemp -d -p "$([ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
trap 'rm -rf "$work"' EXIT

# Paths, modes and sizes of every file, then a byte comparison of every file.
listing() { (cd "$1" && find . -printf '%y %m %s %p\n' | LC_ALL=C sort); }
compare() { # label, then tykgen arguments
    local label=$1
    shift
    "$base_bin" "$@" -q -o "$work/base" >/dev/null 2>&1
    "$new_bin" "$@" -q -o "$work/new" >/dev/null 2>&1
    if ! diff <(listing "$work/base") <(listing "$work/new") >"$work/diff" || ! diff -r "$work/base" "$work/new" >>"$work/diff"; then
        echo "DIFFERENT: $label" >&2
        head -n 40 "$work/diff" >&2
        exit 1
    fi
    printf 'identical: %-40s %6d files\n' "$label" "$(find "$work/new" -type f | wc -l)"
    rm -rf "${work:?}/base" "${work:?}/new"
}
for profile in $("$new_bin" profiles | awk 'NF { print $1 }'); do
    compare "$profile" render "$profile" -t all
done
compare "production, 1000 gateways" render production -t all --set gateway.nodes=1000
compare "production, 3000 gateways" render production -t all --set gateway.nodes=3000
compare "redis-cluster 100x8, 100 gateways" render redis-cluster -t all --set redis.shards=100 \
    --set redis.replicas_per_shard=8 --set gateway.nodes=100 --set targets.compose.subnet=172.30.0.0/22

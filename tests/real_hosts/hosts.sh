#!/usr/bin/env bash
# Real Debian 12 hosts for the Ansible project (issue 16): systemd-nspawn containers booted with
# systemd, each in its own network namespace, joined by a bridge in a "switch" namespace, with no
# route out of this machine. Ansible reaches them with community.docker.nsenter.
#
#   hosts.sh prepare                     build the cached root file system and apt mirror (once)
#   hosts.sh up NAME=ADDRESS...          guard route, switch, hosts booted; prints the inventory path
#   hosts.sh down                        stop every host, delete namespaces, veths and the guard route
#
# State lives under $TYKGEN_HOSTS_DIR (default: <repo>/target/real-hosts): rootfs/ (debootstrap
# minbase, built once, ~3.5 min), mirror/ (Debian's .debs the roles install, with their
# dependencies, and a Packages index), run/ (the hosts of the current run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${TYKGEN_HOSTS_DIR:-$ROOT/target/real-hosts}
RUN=$DIR/run
# The private range of the hosts: it exists only inside namespaces created here. The root
# namespace routes it nowhere (`unreachable`) before anything is created.
RANGE=${TYKGEN_HOSTS_RANGE:-10.213.0.0/24}
PREFIX=${RANGE%.*}              # 10.213.0
SWITCH_ADDR=$PREFIX.1
MIRROR_PORT=8000
SWITCH_NS=tykgen-switch
# What the roles install (Debian's package names), downloaded with their dependencies.
MIRROR_PKGS=(ca-certificates gnupg procps acl nftables redis-server redis-tools redis-sentinel postgresql-15
    postgresql-client-15 openssl)

log() { printf 'hosts.sh: %s\n' "$*" >&2; }

prepare() {
    mkdir -p "$DIR"
    if [ ! -x "$DIR/rootfs/lib/systemd/systemd" ]; then
        log "debootstrap bookworm (minbase, systemd, python3) into $DIR/rootfs"
        rm -rf "$DIR/rootfs.tmp"
        debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo \
            bookworm "$DIR/rootfs.tmp" >"$DIR/debootstrap.log" 2>&1
        mv "$DIR/rootfs.tmp" "$DIR/rootfs"
    fi
    local want="${MIRROR_PKGS[*]}"
    if [ "$(cat "$DIR/mirror/.packages" 2>/dev/null)" != "$want" ]; then
        log "apt mirror of: $want"
        # The dependencies a fresh host lacks: resolved by apt inside a throw-away copy of the
        # root file system, with the machine's own apt sources (the hosts never see them).
        local work=$DIR/mirror-build
        rm -rf "$work" "$DIR/mirror" "$DIR/mirror.tmp"
        cp -a "$DIR/rootfs" "$work"
        cp /etc/resolv.conf "$work/etc/resolv.conf"
        rm -f "$work/etc/apt/sources.list"
        cp -a /etc/apt/sources.list.d/. "$work/etc/apt/sources.list.d/"
        [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$work/etc/apt/sources.list"
        chroot "$work" apt-get update -q >"$DIR/mirror.log" 2>&1
        chroot "$work" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only \
            --no-install-recommends "${MIRROR_PKGS[@]}" >>"$DIR/mirror.log" 2>&1
        mkdir -p "$DIR/mirror.tmp"
        mv "$work"/var/cache/apt/archives/*.deb "$DIR/mirror.tmp/"
        rm -rf "$work"
        (cd "$DIR/mirror.tmp" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages &&
            gzip -9kn Packages)
        printf '%s\n' "$want" >"$DIR/mirror.tmp/.packages"
        mv "$DIR/mirror.tmp" "$DIR/mirror"
    fi
}

# host_cgroups NAME: makes a cgroup of its own for host NAME below this shell's, in each hierarchy
# systemd uses (the cgroup v2 tree; the v1 `name=systemd` one of a hybrid or legacy setup), and
# prints their paths. nspawn puts a container's systemd in `<nspawn's cgroup>/payload`: hosts
# started from one cgroup shared one tree, so a unit of the same name started on two hosts at once
# (tykgen-disable-thp.service on every Redis host) was one cgroup that either host's systemd
# could empty or remove under the other (`status=219/CGROUP`, "Failed to kill control group").
host_cgroups() {
    local name=$1 line path dir v2=
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        v2=/sys/fs/cgroup
    elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
        v2=/sys/fs/cgroup/unified
    fi
    while IFS= read -r line; do
        path=${line#*:*:}
        case $line in
        0::*) [ -n "$v2" ] || continue; dir=$v2$path ;;
        *:name=systemd:*) dir=/sys/fs/cgroup/systemd$path ;;
        *) continue ;;
        esac
        dir=${dir%/}/tykgen-host-$name
        mkdir -p "$dir" && echo "$dir"
    done </proc/self/cgroup
}

# nsx NS CMD...: run CMD in network namespace NS.
nsx() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

up() {
    prepare
    if [ -e "$RUN/hosts" ]; then down; fi
    mkdir -p "$RUN"
    : >"$RUN/hosts"
    # The hosts share this kernel: what the roles set for Redis (vm.overcommit_memory, transparent
    # huge pages) is restored at `down`.
    {
        echo "vm=$(cat /proc/sys/vm/overcommit_memory)"
        echo "thp_enabled=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled)"
        echo "thp_defrag=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/defrag)"
    } >"$RUN/kernel"
    # First of all: the range goes nowhere from the root namespace.
    ip route add unreachable "$RANGE"
    echo "$RANGE" >"$RUN/guard-route"
    ip netns add "$SWITCH_NS"
    nsx "$SWITCH_NS" ip link set lo up
    nsx "$SWITCH_NS" ip link add br0 type bridge
    nsx "$SWITCH_NS" ip addr add "$SWITCH_ADDR/24" dev br0
    nsx "$SWITCH_NS" ip link set br0 up
    # The apt mirror, inside the switch namespace only.
    (cd "$DIR/mirror" && exec ip netns exec "$SWITCH_NS" python3 -m http.server -b "$SWITCH_ADDR" "$MIRROR_PORT" \
        >"$RUN/mirror.log" 2>&1) &
    echo $! >"$RUN/mirror.pid"
    local i=0 spec name addr ns
    for spec in "$@"; do
        name=${spec%%=*}
        addr=${spec#*=}
        ns=tykgen-h$i
        i=$((i + 1))
        printf '%s %s %s\n' "$name" "$addr" "$ns" >>"$RUN/hosts"
        ip netns add "$ns"
        ip link add "v$ns" type veth peer name eth0 netns "$ns"
        ip link set "v$ns" netns "$SWITCH_NS"
        nsx "$SWITCH_NS" ip link set "v$ns" master br0 up
        nsx "$ns" ip link set lo up
        nsx "$ns" ip addr add "$addr/24" dev eth0
        nsx "$ns" ip link set eth0 up
        rm -rf "${RUN:?}/$name"
        cp -a "$DIR/rootfs" "$RUN/$name"
        local r=$RUN/$name
        echo "$name" >"$r/etc/hostname"
        printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" >"$r/etc/hosts"
        rm -f "$r/etc/apt/sources.list" "$r"/etc/apt/sources.list.d/*
        # The host's only package source: the local mirror (a company's air-gapped repository).
        echo "deb [trusted=yes] http://$SWITCH_ADDR:$MIRROR_PORT/ ./" >"$r/etc/apt/sources.list"
        # No package lists from debootstrap's sources: the first run's `apt update` fetches the mirror's.
        rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin
        touch -d 2000-01-01 "$r/var/lib/apt/lists"
        : >"$r/etc/machine-id"
        host_cgroups "$name" >"$RUN/$name.cgroups"
        (
            while read -r cgroup; do
                echo "$BASHPID" >"$cgroup/cgroup.procs" || log "$name: cannot join $cgroup; hosts share a cgroup"
            done <"$RUN/$name.cgroups"
            SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 exec setsid systemd-nspawn -q -D "$r" -M "tykgen-$name" -b \
                --register=no --keep-unit --network-namespace-path="/run/netns/$ns" --console=passive
        ) >"$RUN/$name.console" 2>&1 </dev/null &
        echo $! >"$RUN/$name.pid"
    done
    # Wait for each host's systemd (PID 1 inside) and record its PID for nsenter.
    local deadline=$((SECONDS + 300)) pid child
    while read -r name addr ns; do
        pid=$(cat "$RUN/$name.pid")
        child=
        while [ -z "$child" ]; do
            child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null | awk '{print $1}')
            [ -n "$child" ] || { [ $SECONDS -lt $deadline ] || { log "$name did not start"; return 1; }; sleep 0.5; }
        done
        until state=$(nsenter -t "$child" -a systemctl is-system-running 2>/dev/null) &&
            { [ "$state" = running ] || [ "$state" = degraded ]; }; do
            [ $SECONDS -lt $deadline ] || { log "$name: systemd is ${state:-not answering}"; return 1; }
            sleep 1
        done
        echo "$child" >"$RUN/$name.init"
    done <"$RUN/hosts"
    inventory
}

inventory() {
    {
        echo "# Written by tests/real_hosts/hosts.sh: how Ansible reaches the nspawn hosts."
        echo "all:"
        echo "  hosts:"
        while read -r name addr _; do
            echo "    $name:"
            echo "      ansible_host: \"$addr\""
            echo "      ansible_connection: community.docker.nsenter"
            echo "      ansible_nsenter_pid: $(cat "$RUN/$name.init")"
        done <"$RUN/hosts"
    } >"$RUN/inventory.yml"
    echo "$RUN/inventory.yml"
}

down() {
    [ -d "$RUN" ] || return 0
    local name addr ns pid
    if [ -f "$RUN/hosts" ]; then
        while read -r name addr ns; do
            if [ -f "$RUN/$name.init" ]; then
                nsenter -t "$(cat "$RUN/$name.init")" -a systemctl poweroff >/dev/null 2>&1 || true
            fi
        done <"$RUN/hosts"
        while read -r name addr ns; do
            pid=$(cat "$RUN/$name.pid" 2>/dev/null || true)
            if [ -n "$pid" ]; then
                for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
                kill "$pid" 2>/dev/null || true
            fi
            ip netns del "$ns" 2>/dev/null || true
            # The host's cgroups, innermost first (a cgroup goes only once it has no processes).
            if [ -f "$RUN/$name.cgroups" ]; then
                while read -r cgroup; do
                    find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
                done <"$RUN/$name.cgroups"
            fi
        done <"$RUN/hosts"
    fi
    if [ -f "$RUN/mirror.pid" ]; then
        pid=$(cat "$RUN/mirror.pid")
        kill "$pid" 2>/dev/null || true
    fi
    ip netns del "$SWITCH_NS" 2>/dev/null || true
    if [ -f "$RUN/kernel" ]; then
        local vm thp_enabled thp_defrag
        vm=$(sed -n 's/^vm=//p' "$RUN/kernel")
        thp_enabled=$(sed -n 's/^thp_enabled=//p' "$RUN/kernel")
        thp_defrag=$(sed -n 's/^thp_defrag=//p' "$RUN/kernel")
        [ -z "$vm" ] || echo "$vm" >/proc/sys/vm/overcommit_memory
        [ -z "$thp_enabled" ] || echo "$thp_enabled" >/sys/kernel/mm/transparent_hugepage/enabled
        [ -z "$thp_defrag" ] || echo "$thp_defrag" >/sys/kernel/mm/transparent_hugepage/defrag
    fi
    if [ -f "$RUN/guard-route" ]; then
        ip route del unreachable "$(cat "$RUN/guard-route")" 2>/dev/null || true
    fi
    rm -rf "$RUN"
}

case ${1:-} in
prepare) prepare ;;
up) shift; up "$@" ;;
down) down ;;
*) echo "usage: hosts.sh prepare | up NAME=ADDRESS... | down" >&2; exit 2 ;;
esac

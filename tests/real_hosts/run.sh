#!/usr/bin/env bash
# Runs the generated Ansible project of PROFILE, unmodified, on real Debian 12 hosts (hosts.sh):
# the data tier and `common` (Tyk's own packages need Tyk's repositories, which these hosts
# cannot reach). What a user supplies comes from a separate inventory source: addresses,
# connection, vault values; plus the TLS files the README asks for (tls/).
#
#   run.sh TYKGEN_BIN PROFILE [--set K=V]...      prints one line per measured fact, exit 0 when all hold
#
# TYKGEN_HOSTS_MODE=ci runs fewer runs (CI's time budget): runs 1, 3 and 4 when a failover follows.
#
# TYKGEN_HOSTS_ONLY=REGEX boots only the data-tier machines whose name matches (e.g. '^(redis|sentinel)-'
# to iterate on the Redis tier); the other machines keep an address but are not run.
#
# Needs root, debootstrap, systemd-container, and the PyPI `ansible` package (community.docker's
# nsenter connection) in $TYKGEN_HOSTS_DIR/venv or on PATH.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${TYKGEN_HOSTS_DIR:-$ROOT/target/real-hosts}
# Absolute: the renders below run from inside the rendered project.
TYKGEN=$(realpath "$1")
PROFILE=$2
shift 2
WORK=$DIR/work-$PROFILE
ANSIBLE_PLAYBOOK=${TYKGEN_HOSTS_ANSIBLE:-$DIR/venv/bin/ansible-playbook}
PREFIX=10.213.0
MODE=${TYKGEN_HOSTS_MODE:-full}

say() { printf 'real-hosts %s: %s\n' "$PROFILE" "$*"; }
fail() { say "FAILED: $*"; exit 1; }

cleanup() { bash "$HERE/hosts.sh" down || true; }
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
# Distribution packages from the local mirror: Debian 12 ships Redis 7.0 and PostgreSQL 15.
RENDER=("$TYKGEN" render "$PROFILE" -t ansible -o "$WORK/out" --set targets.ansible.packages=distro
    --set 'redis.version="7.0"' --set 'database.version="15"' "$@")
MAXCLIENTS=10000
"${RENDER[@]}" --set redis.maxclients=$MAXCLIENTS >"$WORK/render.log" 2>&1 || fail "render: $(tail -n 5 "$WORK/render.log")"
NAME=$(ls "$WORK/out")
PROJECT=$WORK/out/$NAME/ansible
cd "$PROJECT"

# Machines (all get an address; only the data tier boots) in inventory order.
mapfile -t MACHINES < <(sed -n 's/^        \([a-z0-9-]*\):.*$/\1/p' inventory/hosts.yml)
DATA=()
declare -A ADDR
i=10
for m in "${MACHINES[@]}"; do
    ADDR[$m]=$PREFIX.$i
    i=$((i + 1))
    grep -q '^tykgen_part: "tyk"$' "inventory/host_vars/$m.yml" && continue
    [[ $m =~ ${TYKGEN_HOSTS_ONLY:-.} ]] && DATA+=("$m")
done

# TLS files (README: tls/ca.crt and tls/<machine>/machine.{crt,key,pem}).
DOMAIN=$(sed -n 's/^tykgen_domain: "\(.*\)"$/\1/p' inventory/group_vars/all/main.yml)
mkdir -p tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=tykgen test CA" \
    -keyout tls/ca.key -out tls/ca.crt >/dev/null 2>&1
for m in "${MACHINES[@]}"; do
    mkdir -p "tls/$m"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$m.$DOMAIN" \
        -keyout "tls/$m/machine.key" -out "tls/$m/machine.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:%s.%s,DNS:%s,IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
        "$m" "$DOMAIN" "$m" "${ADDR[$m]}" >"tls/$m/ext"
    openssl x509 -req -in "tls/$m/machine.csr" -CA tls/ca.crt -CAkey tls/ca.key -CAcreateserial -days 2 \
        -extfile "tls/$m/ext" -out "tls/$m/machine.crt" >/dev/null 2>&1
    cat "tls/$m/machine.crt" "tls/$m/machine.key" >"tls/$m/machine.pem"
done

# Boot the data-tier hosts.
specs=()
for m in "${DATA[@]}"; do specs+=("$m=${ADDR[$m]}"); done
t0=$SECONDS
INV=$(bash "$HERE/hosts.sh" up "${specs[@]}")
say "booted ${#DATA[@]} hosts in $((SECONDS - t0)) s"

# The user's inventory: every machine's address, the nsenter connection of the booted ones, and
# the vault values (random, [A-Za-z0-9]).
{
    cat "$INV"
    for m in "${MACHINES[@]}"; do
        case " ${DATA[*]} " in *" $m "*) ;; *) printf '    %s:\n      ansible_host: "%s"\n' "$m" "${ADDR[$m]}" ;; esac
    done
    echo "  vars:"
    sed -n 's/^\(vault_[a-z0-9_]*\):.*/\1/p' vault.yml.example | sort -u | while read -r v; do
        printf '    %s: "%s"\n' "$v" "$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
    done
} >"$WORK/inventory.yml"

export ANSIBLE_HOME=$WORK/ansible-home ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ANSIBLE_NOCOLOR=1
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_INVENTORY_UNPARSED_FAILED=true
LIMIT=$(IFS=:; echo "localhost:${DATA[*]}")

# playbook N: run data_tier.yml, log to run-N.log, print time and changed counts.
playbook() {
    local n=$1 t=$SECONDS rc=0
    "$ANSIBLE_PLAYBOOK" -i inventory/hosts.yml -i "$WORK/inventory.yml" --limit "$LIMIT" \
        playbooks/data_tier.yml >"$WORK/run-$n.log" 2>&1 || rc=$?
    local changed
    changed=$(sed -n '/PLAY RECAP/,$p' "$WORK/run-$n.log" | grep -o '^[a-z0-9-]* *: .*changed=[0-9]*' |
        sed 's/ *:.*changed=/=/' | tr '\n' ' ')
    say "run $n: rc=$rc, $((SECONDS - t)) s, changed: $changed"
    if [ "$rc" -ne 0 ]; then
        grep -B2 -A12 -m3 'fatal:\|FAILED!' "$WORK/run-$n.log" | head -n 60
        local h
        for h in "${DATA[@]}"; do
            say "$h: last journal lines of $(hv_service "$h")"
            on "$h" journalctl -q --no-pager -n 15 -u "$(hv_service "$h")" || true
        done
        fail "run $n exited $rc (log: $WORK/run-$n.log)"
    fi
    CHANGED_TOTAL=$(sed -n '/PLAY RECAP/,$p' "$WORK/run-$n.log" | grep -o 'changed=[0-9]*' |
        awk -F= '{ s += $2 } END { print s + 0 }')
}

hv_service() { sed -n 's/^tykgen_service: "\(.*\)"$/\1/p' "inventory/host_vars/$1.yml"; }
# on HOST CMD...: run CMD on a booted host.
on() {
    local h=$1
    shift
    nsenter -t "$(cat "$DIR/run/$h.init")" -a "$@"
}
vault() { sed -n "s/^    $1: \"\(.*\)\"$/\1/p" "$WORK/inventory.yml"; }
cli() {
    local h=$1
    shift
    local tls=()
    grep -q -- '--tls' "inventory/host_vars/$h.yml" &&
        tls=(--tls --cacert /etc/tykgen/tls/ca.crt --cert /etc/tykgen/tls/machine.crt --key /etc/tykgen/tls/machine.key)
    on "$h" env REDISCLI_AUTH="$(vault vault_redis_password)" redis-cli "${tls[@]}" -h "$h.$DOMAIN" "$@"
}

# Effective settings equal the profile's: maxclients (CONFIG GET) and the unit's LimitNOFILE.
# Re-issues the TLS certificates of MACHINES from their kept requests (a change that needs a restart).
reissue_certs() {
    local m
    for m in "$@"; do
        openssl x509 -req -in "tls/$m/machine.csr" -CA tls/ca.crt -CAkey tls/ca.key -CAcreateserial -days 3 \
            -extfile "tls/$m/ext" -out "tls/$m/machine.crt" >/dev/null 2>&1
        cat "tls/$m/machine.crt" "tls/$m/machine.key" >"tls/$m/machine.pem"
    done
}

settings() {
    local h want got nofile
    for h in "${DATA[@]}"; do
        [ -f "files/$h/redis.conf" ] || continue
        want=$(sed -n 's/^maxclients \([0-9]*\)$/\1/p' "files/$h/redis.conf")
        got=$(cli "$h" -p 6379 config get maxclients | sed -n 2p)
        nofile=$(on "$h" systemctl show -P LimitNOFILE redis-server)
        [ "$got" = "$want" ] || fail "$h: CONFIG GET maxclients = $got, profile $want"
        [ "$nofile" -ge $((want + 32)) ] || fail "$h: LimitNOFILE $nofile < maxclients $want + 32"
    done
    say "$1: maxclients and LimitNOFILE as the profile says on every Redis server"
}


REDIS=()
SENTINELS=()
CLUSTER=() # Redis Cluster nodes (cluster-enabled)
for h in "${DATA[@]}"; do
    [ -f "files/$h/redis.conf" ] && REDIS+=("$h")
    [ -f "files/$h/sentinel.conf" ] && SENTINELS+=("$h")
    grep -qs '^cluster-enabled yes$' "files/$h/redis.conf" && CLUSTER+=("$h")
done
hv() { sed -n "s/^$2: \"\(.*\)\"$/\1/p" "inventory/host_vars/$1.yml"; }
# scli SENTINEL CMD...: a command to a Sentinel, on its host.
scli() {
    local h=$1
    shift
    on "$h" env REDISCLI_AUTH="$(vault "$(hv "$h" tykgen_sentinel_password_variable)")" redis-cli --tls \
        --cacert /etc/tykgen/tls/ca.crt --cert /etc/tykgen/tls/machine.crt --key /etc/tykgen/tls/machine.key \
        -h "$h.$DOMAIN" -p 26379 "$@"
}
master_name() { hv "${SENTINELS[0]}" tykgen_redis_master_name; }
named_primary() { scli "${SENTINELS[0]}" sentinel get-master-addr-by-name "$(master_name)" | sed -n 1p; }
# The servers that say role:master: exactly one, and the one the Sentinels name.
one_primary() {
    local h masters=()
    for h in "${REDIS[@]}"; do
        cli "$h" -p 6379 info replication | grep -q '^role:master' && masters+=("$h.$DOMAIN")
    done
    [ "${#masters[@]}" -eq 1 ] || fail "$1: ${#masters[@]} primaries: ${masters[*]}"
    [ "${masters[0]}" = "$(named_primary)" ] || fail "$1: primary ${masters[0]}, Sentinels name $(named_primary)"
    say "$1: one primary, ${masters[0]}, the one the Sentinels name"
}

# A bounded writer on a Sentinel host (the hosts' network): asks the Sentinel for the primary and
# SADDs one number per write, at most WRITES writes or 900 s, until STOP exists. One line per write:
# time, number, reply.
WRITES=3000
writer_start() {
    local h=${SENTINELS[0]} root=$DIR/run/${SENTINELS[0]}
    rm -f "$root/root/writer.stop"
    cli "${REDIS[0]}" -p 6379 -h "$(named_primary)" del tykgen:writes >/dev/null
    on "$h" env RP="$(vault "$(hv "${REDIS[0]}" tykgen_redis_password_variable)")" \
        SP="$(vault "$(hv "$h" tykgen_sentinel_password_variable)")" NAME="$(master_name)" SELF="$h.$DOMAIN" \
        N=$WRITES bash -c '
        tls=(--tls --cacert /etc/tykgen/tls/ca.crt --cert /etc/tykgen/tls/machine.crt --key /etc/tykgen/tls/machine.key)
        end=$((SECONDS + 900))
        for ((i = 1; i <= N && SECONDS < end; i++)); do
            [ -e /root/writer.stop ] && break
            m=$(REDISCLI_AUTH=$SP timeout 2 redis-cli "${tls[@]}" -h "$SELF" -p 26379 sentinel get-master-addr-by-name "$NAME" | head -n 1)
            r=$(REDISCLI_AUTH=$RP timeout 2 redis-cli "${tls[@]}" -h "${m:-none}" -p 6379 sadd tykgen:writes "$i" 2>&1 | head -n 1)
            echo "$(date +%s.%N) $i ${r:-none}"
            sleep 0.05
        done' >"$WORK/writer-$1.log" 2>&1 &
    WRITER=$!
}
# writer_stop N: stop the writer; report the longest gap between acknowledged writes and the
# acknowledged writes the final primary kept or lost.
writer_stop() {
    touch "$DIR/run/${SENTINELS[0]}/root/writer.stop"
    wait "$WRITER" || true
    local log=$WORK/writer-$1.log acked gap members lost
    acked=$(awk '$3 == "1" { print $2 }' "$log" | sort -n)
    gap=$(awk '$3 == "1" { if (p) { d = $1 - p; if (d > m) m = d } p = $1 } END { printf "%.2f", m }' "$log")
    cli "${REDIS[0]}" -p 6379 -h "$(named_primary)" smembers tykgen:writes | sort -n >"$WORK/writer-$1.kept"
    members=$(comm -12 <(echo "$acked") "$WORK/writer-$1.kept" | grep -c . || true)
    lost=$(comm -23 <(echo "$acked") "$WORK/writer-$1.kept" | grep -c . || true)
    say "writer during run $1: $(wc -l <"$log") writes, $(echo "$acked" | grep -c .) acknowledged, longest gap ${gap} s, kept $members, lost $lost; errors: $(awk '$3 != "1" { print $3 }' "$log" | sort | uniq -c | tr '\n' ' ' | tr -s ' ')"
    [ "$lost" -eq 0 ] || fail "run $1: $lost acknowledged writes lost"
    awk -v g="$gap" 'BEGIN { exit !(g <= 2) }' || say "run $1: WARNING: longest write gap $gap s > 2 s"
}

PG=()
for h in "${DATA[@]}"; do [ -f "files/$h/postgresql.conf" ] && PG+=("$h"); done
psql_on() {
    local h=$1
    shift
    on "$h" runuser -u postgres -- psql -X -At -c "$@"
}
# A setting PostgreSQL reloads (log_min_duration_statement), changed through a template override
# (--templates) for the next re-render; pg_change_verify then checks that the value is live and
# pg_postmaster_start_time unchanged (a reload, no restart). Later renders keep the override.
declare -A PG_START
pg_change() {
    local h
    for h in "${PG[@]}"; do PG_START[$h]=$(psql_on "$h" "SELECT pg_postmaster_start_time()"); done
    mkdir -p "$WORK/templates/config"
    sed 's/^log_min_duration_statement = 1000$/log_min_duration_statement = 500/' "$ROOT/templates/config/postgresql.conf.tera" \
        >"$WORK/templates/config/postgresql.conf.tera"
    RENDER+=(--templates "$WORK/templates")
}
pg_change_verify() {
    local h
    for h in "${PG[@]}"; do
        [ "$(psql_on "$h" "SHOW log_min_duration_statement")" = 500ms ] || fail "$h: log_min_duration_statement not 500ms"
        [ "$(psql_on "$h" "SELECT pg_postmaster_start_time()")" = "${PG_START[$h]}" ] || fail "$h: PostgreSQL restarted"
    done
    say "run $1: log_min_duration_statement = 500ms on every PostgreSQL member, pg_postmaster_start_time unchanged (reload, no restart)"
}

# A failover to test: Sentinels, or Redis Cluster nodes.
FAILOVER=
[ "${#SENTINELS[@]}" -gt 0 ] && FAILOVER=sentinel
[ "${#CLUSTER[@]}" -gt 0 ] && FAILOVER=cluster

playbook 1
settings "after run 1"
# TYKGEN_HOSTS_MODE=ci (CI's time budget) leaves out run 2 when a failover follows (run 3, after
# the failover, is then the second run, and must change nothing all the same), and runs 5 and 6.
if [ "$MODE" != ci ] || [ -z "$FAILOVER" ]; then
    playbook 2
    settings "after run 2"
    [ "$CHANGED_TOTAL" -eq 0 ] || fail "run 2 changed $CHANGED_TOTAL tasks (log: $WORK/run-2.log)"
    say "run 2: changed=0 on every host"
fi

if [ "${#PG[@]}" -gt 0 ]; then
    # pg_hba.conf names the clients by address (CIDR), not by host name.
    for h in "${PG[@]}"; do
        hba=$(sed -n 's/^    dest: "\(.*pg_hba.conf\)"$/\1/p' "inventory/host_vars/$h.yml")
        on "$h" grep -q '/32 ' "$hba" || fail "$h: $hba has no /32 address"
        ! on "$h" grep -E '^host.*\.'"$DOMAIN" "$hba" || fail "$h: $hba names a host"
    done
    say "pg_hba.conf names clients by /32 address on every PostgreSQL member"
    if [ -z "$FAILOVER" ]; then
        # With no Redis change to come (run 4), the PostgreSQL change has a run of its own.
        pg_change
        "${RENDER[@]}" --set redis.maxclients=$MAXCLIENTS >"$WORK/render-pg.log" 2>&1 ||
            fail "re-render (PostgreSQL setting): $(tail -n 5 "$WORK/render-pg.log")"
        playbook pg
        pg_change_verify pg
    fi
fi

if [ "${#SENTINELS[@]}" -gt 0 ]; then
    one_primary "before the failover"
    # A failover by hand: the next run leaves the promoted primary alone.
    before=$(named_primary)
    scli "${SENTINELS[0]}" sentinel failover "$(master_name)" >/dev/null
    for _ in $(seq 1 60); do [ "$(named_primary)" != "$before" ] && break; sleep 1; done
    promoted=$(named_primary)
    [ "$promoted" != "$before" ] || fail "SENTINEL FAILOVER: $before is still primary after 60 s"
    # (a subshell: one_primary exits on failure, and the old primary may still say master for a moment)
    for _ in $(seq 1 30); do (one_primary "after SENTINEL FAILOVER") >/dev/null 2>&1 && break; sleep 1; done
    say "SENTINEL FAILOVER: $before -> $promoted"
    playbook 3
    [ "$CHANGED_TOTAL" -eq 0 ] || fail "run 3 (after SENTINEL FAILOVER) changed $CHANGED_TOTAL tasks"
    [ "$(named_primary)" = "$promoted" ] || fail "run 3 moved the primary from $promoted to $(named_primary)"
    one_primary "after run 3"
    settings "after run 3"
    say "run 3 (after SENTINEL FAILOVER): changed=0, $promoted still primary"

    # One changed Redis setting (maxclients, runtime) while the writer writes; the same re-render
    # changes a PostgreSQL setting (a reload, checked after the run).
    MAXCLIENTS=$((MAXCLIENTS + 1))
    [ "${#PG[@]}" -eq 0 ] || pg_change
    "${RENDER[@]}" --set redis.maxclients=$MAXCLIENTS >"$WORK/render-4.log" 2>&1 || fail "re-render"
    writer_start 4
    playbook 4
    sleep 3
    writer_stop 4
    [ "${#PG[@]}" -eq 0 ] || pg_change_verify 4
    one_primary "after run 4"
    settings "after run 4"

    # TYKGEN_HOSTS_MODE=ci ends here (CI's time budget).
    if [ "$MODE" != ci ]; then
        # A change that needs a restart (re-issued TLS certificates of the Redis servers) while the
        # writer writes: the replicas restart one at a time, the primary fails over first.
        reissue_certs "${REDIS[@]}"
        before=$(named_primary)
        writer_start 5
        playbook 5
        sleep 3
        writer_stop 5
        one_primary "after run 5"
        settings "after run 5"
        say "run 5 (re-issued certificates): primary $before -> $(named_primary)"

        # Both kinds of change leave nothing to do: the live files are consistent.
        playbook 6
        [ "$CHANGED_TOTAL" -eq 0 ] || fail "run 6 (after the setting and the certificates) changed $CHANGED_TOTAL tasks"
        one_primary "after run 6"
        settings "after run 6"
        say "run 6: changed=0"
    fi
fi
# Redis Cluster nodes: the live roles from CLUSTER NODES, never the index.
if [ "${#CLUSTER[@]}" -gt 0 ]; then
    # machine HOSTNAME: the machine whose host name a node announces.
    machine() { echo "${1%%.*}"; }
    cnodes() { cli "${CLUSTER[0]}" -p 6379 cluster nodes; }
    # Every node says cluster_state:ok; the masters are the nodes with slots, and every master
    # has slots (an old master never comes back as a second owner).
    cluster_ok() {
        local h nodes masters empty
        for h in "${CLUSTER[@]}"; do
            cli "$h" -p 6379 cluster info | grep -q '^cluster_state:ok' || fail "$1: $h: cluster_state not ok"
        done
        nodes=$(cnodes)
        masters=$(awk '$3 ~ /master/ && NF > 8' <<<"$nodes" | wc -l)
        empty=$(awk '$3 ~ /master/ && NF == 8' <<<"$nodes" | wc -l)
        [ "$empty" -eq 0 ] || fail "$1: $empty masters without slots: $nodes"
        say "$1: cluster_state:ok on ${#CLUSTER[@]} nodes, $masters masters: $(awk '$3 ~ /master/ { split($2, a, ","); print a[2] }' <<<"$nodes" | sort | tr '\n' ' ')"
    }
    # One key per master's slots (CLUSTER KEYSLOT), so that every shard is written.
    cluster_keys() {
        local nodes n slot owner seen=" "
        nodes=$(cnodes)
        KEYS=()
        for n in $(seq 0 300); do
            slot=$(cli "${CLUSTER[0]}" -p 6379 cluster keyslot "tykgen:writes:$n")
            owner=$(awk -v s="$slot" '$3 ~ /master/ { for (i = 9; i <= NF; i++) { n = split($i, r, "-"); if (n == 1) r[2] = r[1]; if (s + 0 >= r[1] + 0 && s + 0 <= r[2] + 0) print $1 } }' <<<"$nodes")
            case $seen in *" $owner "*) continue ;; esac
            seen="$seen$owner "
            KEYS+=("tykgen:writes:$n")
            [ "${#KEYS[@]}" -lt "$(awk '$3 ~ /master/ && NF > 8' <<<"$nodes" | wc -l)" ] || break
        done
    }
    # A bounded cluster writer on the first node's host: each round SADDs the round's number to
    # every key (redis-cli -c follows MOVED; a node that does not answer is retried on the next).
    # One line a write: time, key, number, reply.
    cwriter_start() {
        local h=${CLUSTER[0]} hosts=() m
        for m in "${CLUSTER[@]}"; do hosts+=("$m.$DOMAIN"); done
        cluster_keys
        for m in "${KEYS[@]}"; do cli "$h" -p 6379 -c del "$m" >/dev/null; done
        rm -f "$DIR/run/$h/root/writer.stop"
        on "$h" env RP="$(vault "$(hv "$h" tykgen_redis_password_variable)")" HOSTS="${hosts[*]}" KEYS="${KEYS[*]}" \
            N=$((WRITES / ${#KEYS[@]})) bash -c '
            tls=(--tls --cacert /etc/tykgen/tls/ca.crt --cert /etc/tykgen/tls/machine.crt --key /etc/tykgen/tls/machine.key)
            end=$((SECONDS + 900))
            for ((i = 1; i <= N && SECONDS < end; i++)); do
                [ -e /root/writer.stop ] && break
                for k in $KEYS; do
                    r=none
                    for n in $HOSTS; do
                        r=$(REDISCLI_AUTH=$RP timeout 2 redis-cli "${tls[@]}" -c -h "$n" -p 6379 sadd "$k" "$i" 2>&1 | tail -n 1)
                        [ "$r" = 1 ] && break
                    done
                    echo "$(date +%s.%N) $k $i ${r:-none}"
                done
                sleep 0.05
            done' >"$WORK/writer-$1.log" 2>&1 &
        WRITER=$!
    }
    # cwriter_stop N: per key (shard), the longest gap between acknowledged writes and the
    # acknowledged writes the Cluster lacks now.
    cwriter_stop() {
        touch "$DIR/run/${CLUSTER[0]}/root/writer.stop"
        wait "$WRITER" || true
        local log=$WORK/writer-$1.log k acked gap worst=0 kept=0 lost=0 total=0 l
        for k in "${KEYS[@]}"; do
            acked=$(awk -v k="$k" '$2 == k && $4 == "1" { print $3 }' "$log" | sort)
            gap=$(awk -v k="$k" '$2 == k && $4 == "1" { if (p) { d = $1 - p; if (d > m) m = d } p = $1 } END { printf "%.2f", m }' "$log")
            awk -v g="$gap" -v w="$worst" 'BEGIN { exit !(g > w) }' && worst=$gap
            cli "${CLUSTER[0]}" -p 6379 -c smembers "$k" | sort >"$WORK/writer-$1.$k.kept"
            total=$((total + $(echo "$acked" | grep -c . || true)))
            kept=$((kept + $(comm -12 <(echo "$acked") "$WORK/writer-$1.$k.kept" | grep -c . || true)))
            l=$(comm -23 <(echo "$acked") "$WORK/writer-$1.$k.kept" | grep -c . || true)
            lost=$((lost + l))
            say "writer during run $1, key $k: longest gap ${gap} s, lost $l"
        done
        say "writer during run $1: $(wc -l <"$log") writes to ${#KEYS[@]} shards, $total acknowledged, longest gap ${worst} s, kept $kept, lost $lost; errors: $(awk '$4 != "1" { print $4 }' "$log" | sort | uniq -c | tr '\n' ' ' | tr -s ' ')"
        [ "$lost" -eq 0 ] || fail "run $1: $lost acknowledged writes lost"
        awk -v g="$worst" 'BEGIN { exit !(g <= 2) }' || say "run $1: WARNING: longest write gap $worst s > 2 s"
    }

    cluster_ok "before the failover"
    # CLUSTER FAILOVER by hand on a replica: the next run leaves the promoted node a master.
    replica=$(machine "$(awk '$3 ~ /slave/ { split($2, a, ","); print a[2]; exit }' <<<"$(cnodes)")")
    [ -n "$replica" ] || fail "no Cluster replica in CLUSTER NODES"
    [ "$(cli "$replica" -p 6379 cluster failover)" = OK ] || fail "CLUSTER FAILOVER on $replica refused"
    for _ in $(seq 1 60); do cli "$replica" -p 6379 info replication | grep -q '^role:master' && break; sleep 1; done
    cli "$replica" -p 6379 info replication | grep -q '^role:master' || fail "CLUSTER FAILOVER: $replica is not a master after 60 s"
    for _ in $(seq 1 30); do (cluster_ok "after CLUSTER FAILOVER") >/dev/null 2>&1 && break; sleep 1; done
    cluster_ok "after CLUSTER FAILOVER on $replica"
    playbook 3
    [ "$CHANGED_TOTAL" -eq 0 ] || fail "run 3 (after CLUSTER FAILOVER) changed $CHANGED_TOTAL tasks"
    cli "$replica" -p 6379 info replication | grep -q '^role:master' || fail "run 3 demoted $replica"
    cluster_ok "after run 3"
    settings "after run 3"
    say "run 3 (after CLUSTER FAILOVER): changed=0, $replica still a master"

    # The same re-render changes a PostgreSQL setting (a reload, checked after the run).
    MAXCLIENTS=$((MAXCLIENTS + 1))
    [ "${#PG[@]}" -eq 0 ] || pg_change
    "${RENDER[@]}" --set redis.maxclients=$MAXCLIENTS >"$WORK/render-4.log" 2>&1 || fail "re-render"
    cwriter_start 4
    playbook 4
    sleep 3
    cwriter_stop 4
    [ "${#PG[@]}" -eq 0 ] || pg_change_verify 4
    cluster_ok "after run 4"
    settings "after run 4"

    # TYKGEN_HOSTS_MODE=ci ends here (CI's time budget).
    if [ "$MODE" != ci ]; then
        reissue_certs "${CLUSTER[@]}"
        before=$(awk '$3 ~ /master/ { split($2, a, ","); print a[2] }' <<<"$(cnodes)" | sort | tr '\n' ' ')
        cwriter_start 5
        playbook 5
        sleep 3
        cwriter_stop 5
        cluster_ok "after run 5"
        settings "after run 5"
        say "run 5 (re-issued certificates): masters $before-> $(awk '$3 ~ /master/ { split($2, a, ","); print a[2] }' <<<"$(cnodes)" | sort | tr '\n' ' ')"

        playbook 6
        [ "$CHANGED_TOTAL" -eq 0 ] || fail "run 6 (after the setting and the certificates) changed $CHANGED_TOTAL tasks"
        cluster_ok "after run 6"
        settings "after run 6"
        say "run 6: changed=0"
    fi
fi
say "PASSED"

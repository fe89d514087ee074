#!/usr/bin/env bash
# Runs the generated Ansible project of PROFILE, unmodified, on real Debian 12 hosts (hosts.sh):
# the data tier and `common` (Tyk's own packages need Tyk's repositories, which these hosts
# cannot reach). What a user supplies comes from a separate inventory source: addresses,
# connection, vault values; plus the TLS files the README asks for (tls/).
#
#   run.sh TYKGEN_BIN PROFILE [--set K=V]...      prints one line per measured fact, exit 0 when all hold
#
# Needs root, debootstrap, systemd-container, and the PyPI `ansible` package (community.docker's
# nsenter connection) in $TYKGEN_HOSTS_DIR/venv or on PATH.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${TYKGEN_HOSTS_DIR:-$ROOT/target/real-hosts}
TYKGEN=$1
PROFILE=$2
shift 2
WORK=$DIR/work-$PROFILE
ANSIBLE_PLAYBOOK=${TYKGEN_HOSTS_ANSIBLE:-$DIR/venv/bin/ansible-playbook}
PREFIX=10.213.0

say() { printf 'real-hosts %s: %s\n' "$PROFILE" "$*"; }
fail() { say "FAILED: $*"; exit 1; }

cleanup() { bash "$HERE/hosts.sh" down || true; }
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
# Distribution packages from the local mirror: Debian 12 ships Redis 7.0 and PostgreSQL 15.
"$TYKGEN" render "$PROFILE" -t ansible -o "$WORK/out" --set targets.ansible.packages=distro \
    --set 'redis.version="7.0"' --set 'database.version="15"' --set redis.maxclients=10000 "$@" \
    >"$WORK/render.log" 2>&1 || fail "render: $(tail -n 5 "$WORK/render.log")"
NAME=$(ls "$WORK/out")
PROJECT=$WORK/out/$NAME/ansible
cd "$PROJECT"

# Machines (all get an address; only the data tier boots) in inventory order.
mapfile -t MACHINES < <(sed -n 's/^        \([a-z0-9-]*\):$/\1/p' inventory/hosts.yml)
DATA=()
declare -A ADDR
i=10
for m in "${MACHINES[@]}"; do
    ADDR[$m]=$PREFIX.$i
    i=$((i + 1))
    grep -q '^tykgen_part: "tyk"$' "inventory/host_vars/$m.yml" || DATA+=("$m")
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
        fail "run $n exited $rc (log: $WORK/run-$n.log)"
    fi
    CHANGED_TOTAL=$(sed -n '/PLAY RECAP/,$p' "$WORK/run-$n.log" | grep -o 'changed=[0-9]*' |
        awk -F= '{ s += $2 } END { print s + 0 }')
}

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

playbook 1
settings "after run 1"
playbook 2
settings "after run 2"
[ "$CHANGED_TOTAL" -eq 0 ] || fail "run 2 changed $CHANGED_TOTAL tasks (log: $WORK/run-2.log)"
say "run 2: changed=0 on every host"
say "PASSED"

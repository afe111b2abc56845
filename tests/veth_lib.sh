# shellcheck shell=bash
# tests/veth_lib.sh - sourced by the live tests (live_veth.sh, live_reload.sh,
# live_tsan.sh, live_flood.sh): their arguments, fail and skip, the traps,
# the checks for what they need, the wait for the sensor's start and the
# network namespace with its veth pair. The caller sets NS, IF_TX, IF_CAP and
# W (veth_args sets MG and OUT).

# veth_args NAME MG OUT: MG and OUT as absolute paths (the test changes
# directory, and 'ip netns exec' runs MG), OUT created; then into the
# repository, where the tests' relative paths start. Defines fail (the
# test's name, FAIL and why; exit 1) and skip (exit 0).
veth_args() {
    local name=$1
    VETH_NAME=$name
    fail() { echo "$VETH_NAME: FAIL: $*"; exit 1; }
    skip() { echo "skip: $*"; exit 0; }
    MG=${2:?usage: $name.sh MG OUT}
    OUT=${3:?usage: $name.sh MG OUT}
    local d
    case $MG in
        */*) d=$(cd "$(dirname "$MG")" 2>/dev/null && pwd) && MG=$d/$(basename "$MG") ;;
        *)   MG=$(command -v "$MG" || echo "$MG") ;;
    esac
    if ! mkdir -p "$OUT" || ! OUT=$(cd "$OUT" && pwd); then
        echo "$name: FAIL: $OUT: not a usable directory"; exit 1
    fi
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
}

# mg_wait_started ERR PID [SECONDS]: 0 once the sensor whose messages go to
# ERR says "capturing on"; 1 if it exits first or has not said it within
# SECONDS (default 5). Also used by scripts/bench.sh.
mg_wait_started() {
    local i
    for ((i = 0; i < ${3:-5} * 20; i++)); do
        grep -q "capturing on" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    grep -q "capturing on" "$1" 2>/dev/null
}

# veth_traps CLEANUP: CLEANUP at exit, and INT/TERM exit (so that it runs).
veth_traps() {
    # shellcheck disable=SC2064  # the name is meant to expand now
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# veth_require WHAT: root, iproute2, MG, python3 (PY: the interpreter itself,
# since a version manager's shim costs ~1 s a call) and tcpreplay; skip when
# this machine cannot do it at all, fail when something is missing.
veth_require() {
    [ "$(id -u)" = 0 ] || skip "$1 needs root"
    command -v ip >/dev/null 2>&1 || skip "no 'ip' command (iproute2)"
    [ -x "$MG" ] || fail "$MG: not an executable"
    command -v python3 >/dev/null 2>&1 || fail "python3 not found"
    PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
    [ -x "$PY" ] || PY=python3
    command -v tcpreplay >/dev/null 2>&1 ||
        fail "tcpreplay not installed (package tcpreplay; scripts/install-deps.sh installs it)"
}

inns() { ip netns exec "$NS" "$@"; }

# veth_setup: namespace NS with the pair IF_TX <-> IF_CAP, both up. Nothing
# else lives there: no addresses, no routes, no IPv6 (so no link-local
# address, DAD, MLD or router solicitations): the frames tcpreplay writes into
# one end come out of the other and the kernel adds none of its own.
veth_setup() {
    ip netns add "$NS" 2>"$W/netns.err" || skip "ip netns unavailable: $(head -1 "$W/netns.err")"
    inns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1
    inns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$NS" link add "$IF_TX" type veth peer name "$IF_CAP" 2>"$W/veth.err" ||
        skip "cannot create a veth pair: $(head -1 "$W/veth.err")"
    local i
    for i in "$IF_TX" "$IF_CAP"; do
        inns sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" >/dev/null 2>&1
        # Mirror packets are larger than 1500 bytes: a large MTU refuses none.
        ip -n "$NS" link set "$i" mtu 9000 || fail "cannot set the MTU of $i"
        # Frames as they were sent: no GRO merging on the receiving end.
        inns ethtool -K "$i" gro off lro off >/dev/null 2>&1
    done
    for i in "$IF_TX" "$IF_CAP"; do
        ip -n "$NS" link set "$i" up || fail "cannot bring $i up"
    done
}

# veth_cleanup: what a live test leaves behind: mirrorguard ($MGPID, killed),
# the namespace ($NS, which takes the veth pair with it), the scratch dir ($W).
# shellcheck disable=SC2317  # called by the tests' EXIT traps
veth_cleanup() {
    if [ -n "${MGPID:-}" ] && kill -0 "$MGPID" 2>/dev/null; then
        kill -9 "$MGPID" 2>/dev/null
        wait "$MGPID" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null
    rm -rf "$W"
}

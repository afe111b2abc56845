#!/usr/bin/env bash
# tests/live_tsan.sh - the live sensor under ThreadSanitizer: no data race
# between the workers, the detection, output and Redis threads and the
# periodic stats line.
#
#   tests/live_tsan.sh MG_TSAN OUT
#
# MG_TSAN is mirrorguard built with -fsanitize=thread (make BUILD=build-tsan
# SAN=thread OPT=-O1 build-tsan/mirrorguard), OUT a scratch directory.
# 'mirrorguard run --workers 2' captures on one end of a veth pair in a
# private network namespace (tests/veth_lib.sh) with the stats line every
# second, while tcpreplay sends the demo capture slowly into the other end
# (about 5 s, so several stats lines are printed while the workers are busy);
# then SIGTERM. When redis-server is installed, findings also go to one on a
# unix socket, so the Redis thread runs too. Pass: exit status 0, at least three periodic stats lines
# with packets counted, and no ThreadSanitizer report. Packet counts and
# capture drops are not checked: the sanitizer makes capture slow, and
# tests/live_veth.sh checks them with the plain build.
# With LIVE_TSAN_SOURCE=dpdk the capture end is read through EAL's
# af_packet vdev with 2 queues, so the two workers hand packets to each
# other (as headers, and DNS as mbufs) and meet at the stop (fwd_finish); the pass also wants
# packets handed over, all of them taken.
set -u

. "$(dirname "$0")/veth_lib.sh"
veth_args live_tsan "$@"

PCAP=pcaps/demo/mirror-demo.pcap
NS=mg-tsan-$$
IF_CAP=mgc$$
IF_TX=mgt$$
W=$OUT/tsan-$$
MGPID=""
RPID=""


# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    veth_cleanup
}
veth_traps cleanup

veth_require "live ThreadSanitizer test"
mkdir -p "$W" || fail "cannot create $W"
"$MG" --version 2>/dev/null | grep -q . || fail "$MG does not run"
nm -D "$MG" 2>/dev/null | grep -q __tsan_init ||
    nm "$MG" 2>/dev/null | grep -q __tsan_init || fail "$MG is not built with -fsanitize=thread"
veth_setup

CFG=$W/live.yaml
{
    cat pcaps/demo/sensor.yaml
    cat <<EOF

capture:
  source: pcap
  interface: $IF_CAP
  immediate: true
  buffer_mb: 64
  timeout_ms: 50
EOF
} >"$CFG"

RUNSETS=()
SOURCE=${LIVE_TSAN_SOURCE:-pcap}
if [ "$SOURCE" = dpdk ]; then
    "$MG" --version | grep -qw dpdk || fail "LIVE_TSAN_SOURCE=dpdk: $MG is built without DPDK"
    RUNSETS=(--set capture.source=dpdk
        --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_af_packet0,iface=$IF_CAP,qpairs=2']")
fi
REDIS=()
if command -v redis-server >/dev/null; then
    redis-server --port 0 --unixsocket "$W/redis.sock" --save '' --daemonize no >"$W/redis.log" 2>&1 &
    RPID=$!
    for _ in $(seq 100); do
        redis-cli -s "$W/redis.sock" ping 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    REDIS=(--set "outputs.redis.url=unix://$W/redis.sock" --set "outputs.redis.spool_dir=$W/spool")
fi

# halt_on_error=0: every report is written; exitcode 66 marks a run with one.
TSAN_OPTIONS="halt_on_error=0 exitcode=66 log_path=$W/tsan" \
    ip netns exec "$NS" "$MG" run -c "$CFG" --workers 2 --set outputs.stats_interval=1 "${REDIS[@]}" "${RUNSETS[@]}" \
    --flows-out "$W/flows" --dns-out "$W/dns" --stats-json "$W/stats.json" \
    </dev/null >"$W/out" 2>"$W/err" &
MGPID=$!
# up to 20 s: the sanitizer starts slowly
if ! mg_wait_started "$W/err" "$MGPID" 20; then
    sed 's/^/     /' "$W/err" | head
    fail "mirrorguard did not start capturing on $IF_CAP"
fi

inns tcpreplay -q -i "$IF_TX" --pps 500 "$PCAP" >"$W/tcpreplay.out" 2>&1 || {
    sed 's/^/     /' "$W/tcpreplay.out" | head; fail "tcpreplay failed"
}
sleep 2
kill -TERM "$MGPID" 2>/dev/null || fail "mirrorguard died before SIGTERM"
for _ in $(seq 300); do                 # up to 30 s
    kill -0 "$MGPID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$MGPID" 2>/dev/null; then
    kill -9 "$MGPID" 2>/dev/null; wait "$MGPID" 2>/dev/null; MGPID=""
    fail "mirrorguard still running 30 s after SIGTERM"
fi
wait "$MGPID"; RC=$?
MGPID=""

reports=$(cat "$W"/tsan* 2>/dev/null | grep -c "WARNING: ThreadSanitizer")
if [ "$reports" != 0 ]; then
    cat "$W"/tsan* | grep -A14 "WARNING: ThreadSanitizer" | head -60 | sed 's/^/     /'
    fail "$reports ThreadSanitizer reports (exit status $RC)"
fi
[ "$RC" = 0 ] || { sed 's/^/     /' "$W/err" | tail -15; fail "exit status $RC, want 0"; }
# Periodic lines, before the final one, that counted packets.
nlines=$(grep -c "^mirrorguard: [1-9][0-9]* packets" "$W/err")
[ "$nlines" -ge 4 ] || { sed 's/^/     /' "$W/err" | head -30; fail "$nlines stats lines with packets, want at least 3 periodic ones and the final one"; }
[ -z "$RPID" ] || grep -q "^  redis:" "$W/err" || fail "no redis line in the stats"
HOW=""
if [ "$SOURCE" = dpdk ]; then
    HOW=$("$PY" -c 'import json,sys; h=json.load(open(sys.argv[1]))["handover"]
print("%d %d" % (h["sent"], h["received"]))' "$W/stats.json") || fail "no stats JSON"
    read -r sent taken <<<"$HOW"
    [ "$sent" -gt 0 ] && [ "$sent" = "$taken" ] || fail "DPDK: $sent packets handed over, $taken taken"
    HOW=" through DPDK (2 queues, $sent packets handed over, all taken)"
fi
echo "live_tsan: pass: 2 workers live${HOW} under ThreadSanitizer${RPID:+ with Redis}, $((nlines - 1)) periodic stats lines with packets, no report"

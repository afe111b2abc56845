#!/usr/bin/env bash
# tests/live_flood.sh - a SYN flood from spoofed sources, sent live on a veth
# pair, costs no record and hides no attack.
#
#   tests/live_flood.sh MG OUT
#
# A flood capture from the project's generator (gen-traffic.py --profile
# flood: 400,000 SYNs, each from a new spoofed source, never answered, with
# the packets of four attack scenarios spread through it) goes into one end of
# a veth pair in a namespace of our own, as fast as tcpreplay sends, while
# 'mirrorguard run' (one worker) captures the other end, with
# flows.tcp_syn_timeout=1: every second the flows of the second before
# expire, far more records than the worker's ring holds; live, the worker
# expires them paced, as the ring makes room (flow_advance_some), where a
# tick expiring them all at once dropped most (the detection thread keeps up
# with the rate, not with a second's worth at once). The capture is not in
# immediate mode: libpcap's immediate mode uses fixed frames of snaplen
# bytes, ~4,000 of them in 256 MB, and drops packets at the first stall.
# Checks:
#   - every packet captured, none dropped by the kernel;
#   - no record dropped at either ring (rings.worker_drops, detect_drops),
#     and one flow per spoofed source, expired by its idle timeout;
#   - the findings of the attacks: the same types as a replay of the capture.
# With LIVE_FLOOD_SOURCE=dpdk the capture end is read through EAL's af_packet
# vdev instead, with 2 queues (qpairs) and 2 workers, so that half the
# packets are handed between the workers, and with framecnt=65536: DPDK
# 22.11's af_packet driver does not count what the kernel drops when its
# ring (512 frames by default) is full, so here 'every packet captured' is
# the only check of the kernel side.
# Exit 0 = pass; 'skip: REASON' and 0 only when this machine cannot do it at
# all (not root, no network namespaces, no veth).
set -u

. "$(dirname "$0")/veth_lib.sh"
veth_args live_flood "$@"

NS=mg-flood-$$
IF_CAP=mfc$$
IF_TX=mft$$
W=$OUT/flood-$$
MGPID=""
N=400000
ATTACKS=pcaps/syn-scan/input.pcap,pcaps/ssh-brute-in/input.pcap,pcaps/dns-tunnel/input.pcap,pcaps/stratum/input.pcap

veth_traps veth_cleanup

veth_require "live flood test"
mkdir -p "$W" || fail "cannot create $W"
veth_setup

PCAP=$W/flood.pcap
"$PY" scripts/gen-traffic.py --seed 5 --profile flood --packets "$N" --attacks "$ATTACKS" \
    --out "$PCAP" 2>"$W/gen.err" || fail "gen-traffic: $(tail -1 "$W/gen.err")"
SPOOFED=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["flood_sources"])' \
          "$PCAP.truth.json") || fail "no truth file"

CFG=$W/live.yaml
cat >"$CFG" <<EOF
capture:
  source: pcap
  interface: $IF_CAP
  promiscuous: true
  immediate: ${IMMEDIATE:-false}
  buffer_mb: 256
  timeout_ms: 50
EOF
SETS=(--set flows.tcp_syn_timeout=1)
SOURCE=${LIVE_FLOOD_SOURCE:-pcap}
RUNSETS=()
if [ "$SOURCE" = dpdk ]; then
    "$MG" --version | grep -qw dpdk || fail "LIVE_FLOOD_SOURCE=dpdk: $MG is built without DPDK"
    RUNSETS=(--workers 2 --set capture.source=dpdk --set capture.dpdk.queues=2
        --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_af_packet0,iface=$IF_CAP,qpairs=2,framecnt=65536']")
fi

# What a replay of the same capture finds (packet time: no tick expires a
# flood flow there, the flood is 0.12 s of it; the attacks are the same).
"$MG" replay -c "$CFG" "${SETS[@]}" --flows-out /dev/null --dns-out /dev/null \
    --findings-out "$W/replay.findings" "$PCAP" 2>"$W/replay.err" ||
    fail "replay failed: $(tail -3 "$W/replay.err")"

ip netns exec "$NS" "$MG" run -c "$CFG" "${SETS[@]}" "${RUNSETS[@]}" --set outputs.stats_interval=1 \
    --flows-out /dev/null --dns-out /dev/null --findings-out "$W/live.findings" \
    --stats-json "$W/live.stats.json" </dev/null >"$W/live.out" 2>"$W/live.err" &
MGPID=$!
mg_wait_started "$W/live.err" "$MGPID" || fail "mirrorguard did not start: $(tail -3 "$W/live.err")"
if [ "$SOURCE" = dpdk ]; then
    grep -q "capturing on DPDK port 0" "$W/live.err" || fail "not captured through DPDK"
fi

inns tcpreplay -q -i "$IF_TX" --topspeed "$PCAP" >"$W/tcpreplay.out" 2>&1 ||
    fail "tcpreplay failed: $(tail -3 "$W/tcpreplay.out")"
grep -q "Failed packets: *0\b" "$W/tcpreplay.out" || fail "tcpreplay could not send every packet"
RATE=$(grep -o '[0-9.]* pps' "$W/tcpreplay.out" | head -1)
# Every spoofed flow expires 1-2 s after its SYN: wait for the ticks.
for _ in $(seq 60); do
    grep -q "^mirrorguard: $N packets" "$W/live.err" 2>/dev/null && break
    [ "$SOURCE" = dpdk ] && break       # DPDK: no such line before the end
    sleep 0.1
done
sleep 3
kill -TERM "$MGPID"
for _ in $(seq 100); do kill -0 "$MGPID" 2>/dev/null || break; sleep 0.1; done
wait "$MGPID"
RC=$?
MGPID=""
[ "$RC" = 0 ] || fail "mirrorguard exited $RC: $(tail -3 "$W/live.err")"

# On failure, the sensor's stats line of each second says when it happened.
"$PY" - "$W/live.stats.json" "$N" "$SPOOFED" "$W/replay.findings" "$W/live.findings" "$RATE" \
    "$SOURCE" <<'EOF' ||
import json, sys
d = json.load(open(sys.argv[1]))
n, spoofed = int(sys.argv[2]), int(sys.argv[3])
types = lambda p: sorted({json.loads(l)["type"] for l in open(p) if l.strip()})
bad = []
if d["packets"] != n:
    bad.append("captured %d of %d packets" % (d["packets"], n))
if d["capture"]["drops"]:
    bad.append("%d packets dropped by the kernel" % d["capture"]["drops"])
r = d["rings"]
if r["worker_drops"] or r["detect_drops"]:
    bad.append("records dropped at the rings: %d (worker), %d (detection)"
               % (r["worker_drops"], r["detect_drops"]))
if d["flows"]["idle"] < spoofed:
    bad.append("%d flows expired idle, fewer than the %d spoofed sources"
               % (d["flows"]["idle"], spoofed))
how = ""
if sys.argv[7] == "dpdk":
    # the second queue's packets of the first worker's flows, and back
    h, pw = d["handover"], [w["packets"] for w in d["per_worker"]]
    if len(pw) != 2 or min(pw) == 0 or not h["sent"] or h["sent"] != h["received"] or h["drops"]:
        bad.append("hand-over between the 2 workers: per worker %s, %s" % (pw, h))
    how = ", %d handed over between 2 workers (%d as headers, %d as mbufs)" % (h["sent"], h["headers"], h["zero_copy"])
rep, live = types(sys.argv[4]), types(sys.argv[5])
if len(rep) < 4 or rep != live:
    bad.append("findings: replay %s, live %s" % (rep, live))
if bad:
    print("live_flood: FAIL: " + "; ".join(bad))
    sys.exit(1)
print("live_flood: ok (%s: %d packets at %s%s, no drop at the kernel or the rings; %d flows "
      "expired idle; findings %s)" % (sys.argv[7], n, sys.argv[6], how, d["flows"]["idle"],
                                      ", ".join(live)))
EOF
{ grep -E "packets|drops" "$W/live.err" | sed 's/^/     /' | head -40; exit 1; }

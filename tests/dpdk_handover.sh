#!/usr/bin/env bash
# tests/dpdk_handover.sh MG OUT - live DPDK with 2 workers on 2 queues: the
# packets of a flow that arrive on the other worker's queue are handed over
# (README, Threads and rings), and the findings and flows are the replay's.
#
# Each scenario's capture is read by one queue of a net_pcap vdev while the
# other queue reads an empty capture, once on queue 0 and once on queue 1:
# so every flow is handed over whole in exactly one of the two runs (its
# worker is the other one), whatever the dispatch hash. By default a packet
# goes over as its decoded headers, and as its mbuf where its payload is read
# by the owner (DNS, ICMP errors); so each path carries what its detectors
# need: the first bytes that name Stratum and SSH, DNS messages, the quote of
# an ICMP unreachable. A run is stopped once it has counted every packet; the
# findings (type, instance, remote) and the ICMP unreachables matched to the
# flow they quote must be the replay's, and the packets must have been
# handed over as the scenario says. Last, the demo capture (IPv4 and IPv6
# records) must give the replay's flow records through either queue.
set -u
MG=${1:?usage: dpdk_handover.sh MG OUT}
OUT=${2:?usage: dpdk_handover.sh MG OUT}
PY=${PYTHON:-python3}
fail() { echo "dpdk_handover: FAIL: $*"; exit 1; }
"$MG" --version 2>&1 | grep -qw dpdk || { echo "skip: built without DPDK"; exit 0; }
mkdir -p "$OUT" || fail "cannot create $OUT"
cd "$(dirname "$0")/.." || exit 1

# now.py IN OUT: IN with its packets' times moved so that the first is 30 s
# from now. A live DPDK worker's clock follows the wall clock while its
# queue is idle, and net_pcap stamps packets with their recorded times: a
# packet from before the clock would have its flow expire at the next tick,
# before its answer comes. 30 s ahead, the clock only follows the packets
# while they come (a run takes a few seconds).
# (read and written with scripts/mgpkt.py, the generator's pcap module)
cat >"$OUT/now.py" <<'EOF'
import sys, time
sys.path.insert(0, "scripts")
import mgpkt
with open(sys.argv[1], "rb") as fin, open(sys.argv[2], "wb") as fout:
    w, shift = mgpkt.PcapWriter(fout), None
    for ts, lt, data, wire in mgpkt.read_packets(fin):
        if shift is None:
            shift = time.time_ns() + 30 * 10**9 - ts
        w.write(ts + shift, data, wire)
print(w.count)
EOF

# an empty capture (the other queue's)
"$PY" -c 'import sys; sys.path.insert(0, "scripts"); import mgpkt; mgpkt.PcapWriter(open(sys.argv[1], "wb"))' \
    "$OUT/empty.pcap" || fail "cannot write $OUT/empty.pcap"

PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null' EXIT

# run_one TAG CFG PCAP Q [ARGS...]: PCAP (its times moved) on queue Q;
# findings, flow records and stats in $OUT/TAG.*
run_one() {
    local tag=$1 cfg=$2 q=$4 files n
    local pcap="$OUT/$tag.now.pcap"
    n=$("$PY" "$OUT/now.py" "$3" "$pcap") || fail "$tag: cannot write $pcap"
    shift 4
    if [ "$q" = 0 ]; then files="rx_pcap=$pcap,rx_pcap=$OUT/empty.pcap"
    else files="rx_pcap=$OUT/empty.pcap,rx_pcap=$pcap"; fi
    "$MG" run -c "$cfg" --workers 2 --set capture.source=dpdk \
        --set capture.dpdk.queues=2 --set outputs.stats_interval=1 "$@" \
        --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_pcap0,$files']" \
        --flows-out "$OUT/$tag.flows" --dns-out /dev/null --findings-out "$OUT/$tag.findings" \
        --stats-json "$OUT/$tag.stats.json" </dev/null >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
    PID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "^mirrorguard: $n packets" "$OUT/$tag.err" 2>/dev/null && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -TERM "$PID" 2>/dev/null
    wait "$PID"; local rc=$?
    PID=""
    [ "$rc" = 0 ] || { tail -5 "$OUT/$tag.err" | sed 's/^/     /'; fail "$tag: exit status $rc"; }
    grep -q "^mirrorguard: $n packets" "$OUT/$tag.err" ||
        { tail -5 "$OUT/$tag.err" | sed 's/^/     /'; fail "$tag: did not count its $n packets"; }
}

# SCEN WANT: WANT says which kinds of hand-over the scenario must use
# (headers, mbufs: both runs together)
for spec in "stratum headers" "ssh-brute-in headers" "dns-tunnel mbufs" "udp-scan mbufs"; do
    set -- $spec
    scen=$1 want=$2
    [ -f "pcaps/$scen/input.pcap" ] || fail "pcaps/$scen/input.pcap: missing"
    "$MG" replay -c "pcaps/$scen/sensor.yaml" --flows-out /dev/null --dns-out /dev/null \
        --findings-out "$OUT/$scen.replay.findings" --stats-json "$OUT/$scen.replay.stats.json" \
        "pcaps/$scen/input.pcap" 2>"$OUT/$scen.replay.err" ||
        fail "$scen: replay failed"
    run_one "$scen.q0" "pcaps/$scen/sensor.yaml" "pcaps/$scen/input.pcap" 0
    run_one "$scen.q1" "pcaps/$scen/sensor.yaml" "pcaps/$scen/input.pcap" 1
    "$PY" - "$scen" "$want" "$OUT/$scen.replay.findings" "$OUT/$scen.q0" "$OUT/$scen.q1" <<'EOF' || fail "$scen: hand-over"
import json, sys
sys.path.insert(0, "tests")
from check_findings import key_of
scen, want, rep, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def keys(path):
    return sorted({key_of(json.loads(l)) for l in open(path) if l.strip()})
want_keys = keys(rep)
# ICMP unreachables matched to the flow they quote (udp-scan), as in replay
want_icmp = json.load(open(rep.replace(".findings", ".stats.json")))["icmp_unreachable"]["matched"]
ok = bool(want_keys)
hs = []
for r in runs:
    got = keys(r + ".findings")
    st = json.load(open(r + ".stats.json"))
    h, icmp = st["handover"], st["icmp_unreachable"]["matched"]
    hs.append(h)
    print("     %s: %d handed over (%d as headers, %d as mbufs), %d dropped; findings %s; "
          "ICMP unreachables matched %d (replay %d)"
          % (r.rsplit("/", 1)[-1], h["sent"], h["headers"], h["zero_copy"], h["drops"],
             "= replay's (%d)" % len(got) if got == want_keys else "%s, replay %s" % (got, want_keys),
             icmp, want_icmp))
    ok = (ok and got == want_keys and icmp == want_icmp and h["sent"] == h["received"]
          and h["drops"] == 0)
# every packet went over in one of the two runs, by the kind the scenario says
sent = sum(h["sent"] for h in hs)
kind = sum(h["headers" if want == "headers" else "zero_copy"] for h in hs)
ok = ok and sent > 0 and kind > 0
sys.exit(0 if ok else 1)
EOF
done
# The demo capture (IPv4 and IPv6; TCP, UDP, ICMP; DNS; VXLAN and GENEVE):
# the flow records equal the replay's through either queue. Without times,
# and with timeouts longer than the capture, as tests/live_veth.sh does: the
# worker's clock is the packets' here, but live timers are paced.
DEMO_SETS=(--set 'outputs.flow_fields=[srcaddr,dstaddr,srcport,dstport,protocol,packets,bytes]'
           --set flows.active_timeout=86400 --set flows.udp_timeout=86400
           --set flows.tcp_established_timeout=86400 --set flows.tcp_syn_timeout=86400
           --set flows.icmp_timeout=86400 --set flows.tcp_closed_timeout=86400
           --set flows.other_timeout=86400)
"$MG" replay -c pcaps/demo/sensor.yaml "${DEMO_SETS[@]}" --flows-out "$OUT/demo.replay.flows" \
    --dns-out /dev/null pcaps/demo/mirror-demo.pcap 2>"$OUT/demo.replay.err" || fail "demo: replay failed"
sort "$OUT/demo.replay.flows" >"$OUT/demo.replay.sorted"
for q in 0 1; do
    run_one "demo.q$q" pcaps/demo/sensor.yaml pcaps/demo/mirror-demo.pcap "$q" "${DEMO_SETS[@]}"
    sort "$OUT/demo.q$q.flows" >"$OUT/demo.q$q.sorted"
    cmp -s "$OUT/demo.replay.sorted" "$OUT/demo.q$q.sorted" || {
        diff "$OUT/demo.replay.sorted" "$OUT/demo.q$q.sorted" | head -10 | sed 's/^/     /'
        fail "demo through queue $q: flow records differ from the replay's"
    }
    "$PY" - "$OUT/demo.q$q.stats.json" "$(wc -l <"$OUT/demo.q$q.sorted")" "$q" <<'EOF' || fail "demo through queue $q: hand-over"
import json, sys
h = json.load(open(sys.argv[1]))["handover"]
print("     demo.q%s: %d handed over (%d as headers, %d as mbufs), %d dropped; %s flow lines = replay's"
      % (sys.argv[3], h["sent"], h["headers"], h["zero_copy"], h["drops"], sys.argv[2]))
sys.exit(0 if h["headers"] > 0 and h["sent"] == h["received"] and h["drops"] == 0 else 1)
EOF
done

echo "dpdk_handover: ok (2 workers on 2 queues, each capture on either queue: the replay's findings, ICMP matches and demo flow records; hand-over as headers and as mbufs)"

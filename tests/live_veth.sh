#!/usr/bin/env bash
# tests/live_veth.sh - end-to-end test of live capture (libpcap) on a veth
# pair inside a private network namespace.
#
#   tests/live_veth.sh MG OUT
#
# MG is the mirrorguard binary, OUT a scratch directory. Both ends of the veth
# pair live in one namespace of our own that has no addresses, no routes and
# IPv6 disabled: the frames tcpreplay writes into one end come out of the
# other and go nowhere else, and the kernel adds no traffic of its own.
#
# 1. 'mirrorguard run' captures on one end while tcpreplay sends the demo
#    capture (pcaps/demo/mirror-demo.pcap) into the other; SIGTERM; exit 0,
#    every packet captured (packets == records in the pcap, capture drops 0),
#    and the flow and DNS records equal those of a 'mirrorguard replay' of the
#    same pcap with the same configuration (timestamps and RTTs excluded).
#    1b. The same with --workers 2: two sockets in a PACKET_FANOUT group whose
#        BPF program (capture/fanout.c) hashes the inner flow; both get
#        packets and the records are still the replay's.
#    1c. When built with DPDK: the same through EAL's af_packet vdev on the
#        capture end (capture.source: dpdk).
#    1d. The UDP scan scenario with 2 workers: every ICMP port unreachable
#        reaches the worker of the probe it quotes (as many matched as in
#        replay, none unmatched), and the scan is found.
# 2. The same with SIGINT, after only the first 200 packets.
# 3. A missing interface: exit 1 and one line naming it.
#
# Exit 0 = pass; non-zero = fail (the reason is printed). Prints one
# 'skip: REASON' line and exits 0 only when this machine cannot do it at all
# (not root, no network namespaces, no veth).
set -u

. "$(dirname "$0")/veth_lib.sh"
veth_args live_veth "$@"

PCAP=pcaps/demo/mirror-demo.pcap
BASECFG=pcaps/demo/sensor.yaml
NS=mg-live-$$
IF_CAP=mgc$$                    # capture end (<= 15 characters)
IF_TX=mgt$$                     # tcpreplay end
W=$OUT/live-$$                  # our files
MGPID=""


veth_traps veth_cleanup

# ---- can this machine do it at all? Then the namespace and its veth pair.
veth_require "live veth test"
[ -f "$PCAP" ] || fail "$PCAP: missing"
mkdir -p "$W" || fail "cannot create $W"
veth_setup

# Packets in the pcap (records, not bytes): read the header of each record.
NPKT=$("$PY" - "$PCAP" <<'EOF'
import struct, sys
f = open(sys.argv[1], 'rb')
magic = f.read(24)[:4]
end = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
n = 0
while True:
    h = f.read(16)
    if len(h) < 16:
        break
    f.seek(struct.unpack(end + 'IIII', h)[2], 1)
    n += 1
print(n)
EOF
) || fail "cannot count the records of $PCAP"

# ---- configuration: the demo's, plus a capture section, the same for both
CFG=$W/live.yaml
{
    cat "$BASECFG"
    cat <<EOF

capture:
  source: pcap
  interface: $IF_CAP
  immediate: true
  promiscuous: true
  buffer_mb: 64
  timeout_ms: 50
EOF
} >"$CFG"
# Flow records without timestamps; timeouts long enough that live timing
# (the whole capture in ~1.3 s instead of ~111 s) cannot split or expire a
# flow or a DNS query differently from the replay.
SETS=(--set 'outputs.flow_fields=[srcaddr,dstaddr,srcport,dstport,protocol,packets,bytes]'
      --set flows.active_timeout=86400 --set flows.udp_timeout=86400
      --set flows.tcp_established_timeout=86400 --set flows.tcp_syn_timeout=86400
      --set flows.icmp_timeout=86400 --set flows.tcp_closed_timeout=86400
      --set flows.other_timeout=86400 --set dns.timeout_ms=600000)
"$MG" check-config -c "$CFG" "${SETS[@]}" >/dev/null 2>"$W/cfg.err" ||
    fail "configuration refused: $(head -3 "$W/cfg.err")"

# ---- helpers
# start_mg TAG [ARGS...]: mirrorguard run in the namespace, stats every second on
# stderr (configuration $CFG, or $MGCFG when set)
start_mg() {
    local tag=$1
    shift
    # Not through inns(): a function in the background is a subshell, and the
    # signals must reach mirrorguard itself ('ip netns exec' execs it).
    ip netns exec "$NS" "$MG" run -c "${MGCFG:-$CFG}" "${SETS[@]}" --set outputs.stats_interval=1 "$@" \
        --flows-out "$W/$tag.flows" --dns-out "$W/$tag.dns" --stats-json "$W/$tag.stats.json" \
        </dev/null >"$W/$tag.out" 2>"$W/$tag.err" &
    MGPID=$!
    if mg_wait_started "$W/$tag.err" "$MGPID"; then
        [ "$(cat /proc/$MGPID/comm 2>/dev/null)" = mirrorguard ] ||
            fail "$tag: pid $MGPID is not mirrorguard"
        return 0
    fi
    wait "$MGPID" 2>/dev/null; local rc=$?
    MGPID=""
    sed 's/^/     /' "$W/$tag.err" | head -20
    fail "$tag: mirrorguard did not start capturing on $IF_CAP (exit $rc)"
}

# send ARGS...: tcpreplay of $PCAP (or $SEND_PCAP when set) from the other end
# of the pair, every packet sent
send() {
    inns tcpreplay -q -i "$IF_TX" --pps 2000 "$@" "${SEND_PCAP:-$PCAP}" >"$W/tcpreplay.out" 2>&1 || {
        sed 's/^/     /' "$W/tcpreplay.out" | head -20
        fail "tcpreplay failed"
    }
    grep -q "Failed packets: *0\b" "$W/tcpreplay.out" || {
        sed 's/^/     /' "$W/tcpreplay.out" | head -20
        fail "tcpreplay could not send every packet"
    }
}

# wait_count TAG N: until the periodic stats line says N packets (or 4 s), so
# the signal does not race packets still in the kernel's capture buffer
wait_count() {
    local tag=$1 want=$2
    for _ in $(seq 40); do
        grep -q "^mirrorguard: $want packets" "$W/$tag.err" 2>/dev/null && return 0
        sleep 0.1
    done
    return 0                            # the checks below say what is wrong
}

# stop_mg TAG SIGNAL: signal, then wait at most 10 s; sets RC
stop_mg() {
    local tag=$1 sig=$2
    kill -s "$sig" "$MGPID" 2>/dev/null || fail "$tag: mirrorguard died before SIG$sig"
    for _ in $(seq 100); do
        kill -0 "$MGPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$MGPID" 2>/dev/null; then
        kill -9 "$MGPID" 2>/dev/null
        wait "$MGPID" 2>/dev/null
        MGPID=""
        sed 's/^/     /' "$W/$tag.err" | tail -20
        fail "$tag: mirrorguard still running 10 s after SIG$sig (killed)"
    fi
    wait "$MGPID"; RC=$?
    MGPID=""
}

# check_stats TAG N: exit 0, N packets, no drops anywhere
check_stats() {
    local tag=$1 want=$2
    if [ "$RC" != 0 ]; then
        sed 's/^/     /' "$W/$tag.err" | tail -20
        fail "$tag: exit status $RC, want 0"
    fi
    [ -s "$W/$tag.stats.json" ] || fail "$tag: no stats JSON written"
    "$PY" - "$W/$tag.stats.json" "$want" "$tag" <<'EOF' || { sed 's/^/     /' "$W/$tag.err" | tail -12; exit 1; }
import json, sys
s = json.load(open(sys.argv[1]))
want, tag = int(sys.argv[2]), sys.argv[3]
bad = []
if s['packets'] != want:
    bad.append('packets %d, want %d' % (s['packets'], want))
if s['capture']['drops'] != 0:
    bad.append('capture drops %d, want 0' % s['capture']['drops'])
if s['rings']['worker_drops'] or s['rings']['detect_drops']:
    bad.append('ring drops %r' % s['rings'])
for b in bad:
    print('live_veth: FAIL: %s: %s' % (tag, b))
sys.exit(1 if bad else 0)
EOF
}

# ---- 1. the whole demo capture, stopped by SIGTERM
start_mg term
send
wait_count term "$NPKT"
stop_mg term TERM
check_stats term "$NPKT"

"$MG" replay -c "$CFG" "${SETS[@]}" --flows-out "$W/replay.flows" --dns-out "$W/replay.dns" \
    --stats-json "$W/replay.stats.json" "$PCAP" >/dev/null 2>"$W/replay.err" ||
    fail "replay of $PCAP failed: $(tail -3 "$W/replay.err")"
[ "$(wc -l <"$W/replay.flows")" -gt 1 ] || fail "replay wrote no flow records"

sort "$W/replay.flows" >"$W/replay.flows.sorted"
# same_flows TAG WHAT: TAG's flow records (sorted) equal the replay's
same_flows() {
    sort "$W/$1.flows" >"$W/$1.flows.sorted"
    if ! cmp -s "$W/$1.flows.sorted" "$W/replay.flows.sorted"; then
        echo "     < replay   > $2 (sorted flow records)"
        diff "$W/replay.flows.sorted" "$W/$1.flows.sorted" | head -30 | sed 's/^/     /'
        fail "$2: flow records differ from the replay's"
    fi
}
same_flows term "live"

"$PY" - "$W/replay.dns" "$W/term.dns" <<'EOF' || fail "live DNS records differ from the replay's"
import collections, json, sys
def load(path):
    c = collections.Counter()
    for line in open(path):
        r = json.loads(line)
        r.pop('ts', None)           # capture time live, packet time in replay
        r.pop('rtt_ms', None)
        c[json.dumps(r, sort_keys=True)] += 1
    return c
rep, live = load(sys.argv[1]), load(sys.argv[2])
if not rep:
    print('live_veth: replay wrote no DNS records')
    sys.exit(1)
if rep != live:
    print('     %d DNS records in replay, %d live' % (sum(rep.values()), sum(live.values())))
    for k in sorted((rep - live).elements())[:5]:
        print('     only in replay: ' + k[:300])
    for k in sorted((live - rep).elements())[:5]:
        print('     only live:      ' + k[:300])
    sys.exit(1)
EOF

# ---- 1b. two workers in a PACKET_FANOUT group (our BPF program hashes the
# inner flow): the same records again, and both workers had a share
start_mg two --workers 2
send
wait_count two "$NPKT"
stop_mg two TERM
check_stats two "$NPKT"
same_flows two "live, 2 workers (a flow split between workers?)"
grep -q "with 2 workers (fanout group" "$W/two.err" || fail "2 workers: no fanout group announced"
# as many workers as CPUs: the sensor says the other threads share their cores
NCPU=$(nproc)
if [ "$NCPU" -le 2 ]; then
    grep -q "note: 2 workers on $NCPU CPU" "$W/two.err" ||
        fail "2 workers on $NCPU CPUs: no note that the other threads share their cores"
elif grep -q "note: 2 workers on" "$W/two.err"; then
    fail "2 workers on $NCPU CPUs: a note that they share cores"
fi
"$PY" - "$W/two.stats.json" <<'EOF' || fail "2 workers: the work was not shared"
import json, sys
pw = json.load(open(sys.argv[1]))["per_worker"]
print("     2 workers live: packets %s" % [w["packets"] for w in pw])
sys.exit(0 if len(pw) == 2 and min(w["packets"] for w in pw) > 0 else 1)
EOF

# ---- 1d. the UDP scan scenario with 2 workers: its ICMP port-unreachable
# answers reach the worker of the probe they quote (the BPF program hashes the
# quoted header), so the scan is still found live
SCAN=pcaps/udp-scan
if [ -f "$SCAN/input.pcap" ]; then
    { cat "$SCAN/sensor.yaml"; sed -n '/^capture:/,$p' "$CFG"; } >"$W/scan.yaml"
    MGCFG="$W/scan.yaml" start_mg scan --workers 2 --findings-out "$W/scan.findings"
    SEND_PCAP="$SCAN/input.pcap" send
    sleep 1
    # While it runs: the finding is in the file already (each line is
    # flushed when published) and the periodic stats line counts it.
    for _ in $(seq 40); do
        grep -q '"Recon:EC2/Portscan"' "$W/scan.findings" 2>/dev/null &&
            grep -Eq '^  findings: [1-9][0-9]* candidates' "$W/scan.err" && break
        sleep 0.1
    done
    grep -q '"Recon:EC2/Portscan"' "$W/scan.findings" ||
        fail "udp scan, 2 workers: the finding is not in the findings file while the sensor runs"
    grep -Eq '^  findings: [1-9][0-9]* candidates' "$W/scan.err" || {
        sed 's/^/     /' "$W/scan.err" | tail -12
        fail "udp scan, 2 workers: the periodic stats do not count the findings while it runs"
    }
    stop_mg scan TERM
    [ "$RC" = 0 ] || fail "udp scan, 2 workers: exit $RC"
    grep -q '"Recon:EC2/Portscan"' "$W/scan.findings" || {
        sed 's/^/     /' "$W/scan.err" | tail -5
        fail "udp scan, 2 workers: no Recon:EC2/Portscan live"
    }
    "$MG" replay -c "$W/scan.yaml" --flows-out /dev/null --stats-json "$W/scan.replay.json" \
        "$SCAN/input.pcap" 2>/dev/null || fail "udp scan: replay failed"
    "$PY" - "$W/scan.stats.json" "$W/scan.replay.json" <<'EOF' || fail "udp scan, 2 workers: ICMP answers reached the wrong worker"
import json, sys
live, rep = (json.load(open(p))["icmp_unreachable"] for p in sys.argv[1:3])
print("     udp scan, 2 workers live: ICMP unreachables matched to their probe %d (replay %d), "
      "unmatched %d" % (live["matched"], rep["matched"], live["unmatched"]))
sys.exit(0 if rep["matched"] > 0 and live["matched"] == rep["matched"] and live["unmatched"] == 0 else 1)
EOF
fi

# ---- 1b. a stalled Redis, live (SIGSTOPped, on a unix socket), and rings
# small enough to fill: Redis has a thread of its own, so the sensor neither
# hangs nor loses a finding. The output thread cannot keep up with the
# findings of ~80,000 packets at 20,000/s and the ring to it fills: flow
# records are dropped there, counted, but finding candidates never (they
# wait for room); the flows flushed at the stop wait too (capture is over).
# So every candidate the detectors emitted reaches the aggregator, and the
# publications wait in the spool.
if command -v redis-server >/dev/null; then
    "$PY" scripts/gen-scenario.py threat-lists --out "$W/tl" --hits 5000 --seed 5 >/dev/null ||
        fail "gen-scenario threat-lists failed"
    { cat "$W/tl/sensor.yaml"; sed -n '/^capture:/,$p' "$CFG"; } >"$W/tl/live.yaml"
    redis-server --port 0 --unixsocket "$W/redis.sock" --save '' --daemonize no \
        >"$W/redis.log" 2>&1 &
    RPID=$!
    for _ in $(seq 100); do
        redis-cli -s "$W/redis.sock" ping 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    kill -STOP "$RPID"
    MGCFG="$W/tl/live.yaml" start_mg stall --set ring_size=1024 \
        --set "outputs.redis.url=unix://$W/redis.sock" --set "outputs.redis.spool_dir=$W/spool" \
        --set outputs.redis.command_timeout_ms=1000 --set outputs.redis.connect_timeout_ms=1000 \
        --findings-out "$W/stall.findings"
    inns tcpreplay -q -i "$IF_TX" --pps 20000 "$W/tl/input.pcap" >"$W/tcpreplay.out" 2>&1 ||
        fail "tcpreplay of the threat-lists capture failed"
    sleep 1
    stop_mg stall TERM
    [ "$RC" = 0 ] || fail "stalled redis: exit $RC"
    kill -CONT "$RPID"
    kill "$RPID" 2>/dev/null
    wait "$RPID" 2>/dev/null
    [ -s "$W/spool/spool.dat" ] || fail "stalled redis: nothing in the spool"
    "$PY" - "$W/stall.stats.json" "$W/stall.err" <<'EOF' || { sed 's/^/     /' "$W/stall.err" | tail -12; fail "stalled redis: findings were dropped"; }
import json, re, sys
d = json.load(open(sys.argv[1]))
r, f = d["rings"], d["findings"]
# Publications waiting between the output and the Redis thread, as the
# periodic stats lines showed them while Redis was stopped.
waiting = [int(n) for n in re.findall(r" (\d+) handed over", open(sys.argv[2]).read())]
print("     stalled redis: records dropped %d before the detectors, %d before the output; %d finding "
      "candidates emitted, %d reached the aggregator; %d publications spooled; handed over to "
      "the Redis thread and waiting, per stats line: %s"
      % (r["worker_drops"], r["detect_drops"], r["detect_findings"], f["candidates"],
         d["redis"]["spooled"], waiting))
# The ring to the output must have filled (else the waiting path never ran),
# and nothing may be lost on the way to Redis; nothing may be left waiting
# for the Redis thread at exit (the lines above show what waited meanwhile:
# usually nothing, since the spool takes what a stalled server cannot).
sys.exit(0 if r["worker_drops"] == 0 and r["detect_drops"] > 0 and r["detect_findings"] > 0
         and f["candidates"] == r["detect_findings"] and d["redis"]["lost"] == 0
         and d["redis"]["handover"] == 0 else 1)
EOF
fi

# ---- 1c. DPDK: EAL with the af_packet vdev on the same interface (when this
# mirrorguard has DPDK): the same records again
if "$MG" --version | grep -qw dpdk; then
    start_mg dpdk --set capture.source=dpdk \
        --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_af_packet0,iface=$IF_CAP']"
    send
    wait_count dpdk "$NPKT"
    stop_mg dpdk TERM
    check_stats dpdk "$NPKT"
    same_flows dpdk "live through DPDK"
    grep -q "capturing on DPDK port 0" "$W/dpdk.err" || fail "dpdk: not captured through DPDK"
    # capture.dpdk.idle_sleep_us (default 50): between start and traffic,
    # and after it, the worker sleeps instead of polling at 100%; with 0
    # (the copy run below) it never does
    "$PY" - "$W/dpdk.stats.json" <<'EOF' || fail "dpdk: an idle worker did not sleep (idle_sleeps)"
import json, sys
s = json.load(open(sys.argv[1]))
print("     DPDK idle: %d sleeps, worker CPU %.2f s in %.1f s" % (s["idle_sleeps"], s["worker_cpu_seconds"], s["wall_seconds"]))
sys.exit(0 if s["idle_sleeps"] > 0 else 1)
EOF
    # two queues (the af_packet PMD spreads them by the outer headers) and
    # two workers: each hands the other's flows over, the records stay the
    # same; first as headers where they are enough and as mbufs where the
    # payload is read there (the default), then every packet as its mbuf
    # (capture.dpdk.handover_headers=false), then every packet copied
    # (and capture.dpdk.handover_pool_percent=0: the path a worker takes
    # when the other lags)
    for mode in headers mbuf copy; do
        extra=()
        [ "$mode" != headers ] && extra=(--set capture.dpdk.handover_headers=false)
        [ "$mode" = copy ] && extra+=(--set capture.dpdk.handover_pool_percent=0
                                      --set capture.dpdk.idle_sleep_us=0)
        start_mg "dpdk2$mode" --workers 2 --set capture.source=dpdk "${extra[@]}" \
            --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_af_packet0,iface=$IF_CAP,qpairs=2']"
        send
        wait_count "dpdk2$mode" "$NPKT"
        stop_mg "dpdk2$mode" TERM
        check_stats "dpdk2$mode" "$NPKT"
        same_flows "dpdk2$mode" "live through DPDK, 2 queues and 2 workers, handed over as $mode (a flow split between workers?)"
        "$PY" - "$W/dpdk2$mode.stats.json" "$mode" "$W/dpdk2$mode.err" <<'EOF' || fail "dpdk, 2 workers ($mode): hand-over"
import json, re, sys
s, mode = json.load(open(sys.argv[1])), sys.argv[2]
h, pw = s["handover"], [w["packets"] for w in s["per_worker"]]
print("     DPDK 2 queues, 2 workers, %s: packets %s, handed over %d (received %d, dropped %d, "
      "as headers %d, as mbufs without a copy %d)"
      % (mode, pw, h["sent"], h["received"], h["drops"], h["headers"], h["zero_copy"]))
# af_packet's frames fit one mbuf each, and the default take limit (a quarter
# of the pool, split between the two workers) is far above what one send
# keeps in flight: every packet goes over uncopied; with the limit 0, none.
# As headers: every TCP and UDP packet but DNS (the capture has both kinds)
if mode == "headers":
    kinds_ok = h["headers"] > 0 and h["zero_copy"] > 0 and h["headers"] + h["zero_copy"] == h["sent"]
else:
    kinds_ok = h["headers"] == 0 and h["zero_copy"] == (h["sent"] if mode == "mbuf" else 0)
# idle_sleep_us=0 (the copy run): polled without pause, never slept
sleeps_ok = s["idle_sleeps"] == 0 if mode == "copy" else s["idle_sleeps"] > 0
# the summary at exit says it too
said = re.findall(r"hand-over: (\d+) packets to their flow's worker \((\d+) as headers, (\d+) as mbufs, (\d+) copied\), (\d+) dropped",
                  open(sys.argv[3]).read())
said_ok = said and [int(x) for x in said[-1]] == [h["sent"], h["headers"], h["zero_copy"],
                                                  h["sent"] - h["headers"] - h["zero_copy"], h["drops"]]
if not said_ok:
    print("     the summary's hand-over line: %s" % (said[-1:] or "missing"))
sys.exit(0 if len(pw) == 2 and min(pw) > 0 and h["sent"] > 0 and h["sent"] == h["received"]
         and h["drops"] == 0 and kinds_ok and sleeps_ok and said_ok else 1)
EOF
    done
    # stopped while packets flow: a worker that is out of its loop still
    # takes what the other hands it until both are out, so every packet
    # handed over is taken (three stops, each ~0.3 s into a fast send)
    for k in 1 2 3; do
        start_mg "dpdk2stop$k" --workers 2 --set capture.source=dpdk \
            --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -l, '0', '--vdev=net_af_packet0,iface=$IF_CAP,qpairs=2']"
        inns tcpreplay -q -i "$IF_TX" --topspeed --loop 40 "$PCAP" >"$W/tcpreplay.out" 2>&1 &
        TRPID=$!
        sleep 0.3
        stop_mg "dpdk2stop$k" TERM
        # $! is the shell function's subshell: tcpreplay is its child, and
        # left running it would feed the next step (seen once: 18,019
        # capture drops in the SIGINT step)
        pkill -f "tcpreplay -q -i $IF_TX" 2>/dev/null
        kill "$TRPID" 2>/dev/null; wait "$TRPID" 2>/dev/null
        while pgrep -f "tcpreplay -q -i $IF_TX" >/dev/null; do sleep 0.1; done
        [ "$RC" = 0 ] || fail "dpdk2stop$k: exit status $RC"
        "$PY" - "$W/dpdk2stop$k.stats.json" <<'EOF' || fail "dpdk, 2 workers stopped under traffic: packets handed over and not taken"
import json, sys
s = json.load(open(sys.argv[1]))
h = s["handover"]
print("     DPDK 2 workers stopped under traffic: %d packets, handed over %d, taken %d, dropped %d"
      % (s["packets"], h["sent"], h["received"], h["drops"]))
sys.exit(0 if h["sent"] > 0 and h["sent"] == h["received"] else 1)
EOF
    done
    DPDK_DONE=", DPDK af_packet with 1 and 2 workers, hand-over as headers, as mbufs and as copies and at a stop under traffic"
fi

# ---- 2. SIGINT, after the first 200 packets only
start_mg int
send --limit=200
wait_count int 200
stop_mg int INT
check_stats int 200
[ "$(wc -l <"$W/int.flows")" -gt 1 ] || fail "int: no flow records written"

# ---- 3. a missing interface: exit 1, one line that names it
NOIF=mgnone$$
inns "$MG" run -c "$CFG" --set capture.interface=$NOIF --flows-out /dev/null \
    </dev/null >"$W/noif.out" 2>"$W/noif.err"
rc=$?
[ "$rc" = 1 ] || { sed 's/^/     /' "$W/noif.err" | head; fail "missing interface: exit $rc, want 1"; }
[ "$(wc -l <"$W/noif.err")" = 1 ] || { sed 's/^/     /' "$W/noif.err" | head; fail "missing interface: want one line on stderr"; }
grep -q "$NOIF" "$W/noif.err" || { sed 's/^/     /' "$W/noif.err"; fail "missing interface: the message does not name $NOIF"; }

echo "live_veth: ok ($NPKT packets live = replay, with 1 and 2 workers${DPDK_DONE:-}; SIGTERM, SIGINT, missing interface)"
exit 0

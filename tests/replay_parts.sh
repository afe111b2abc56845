#!/usr/bin/env bash
# tests/replay_parts.sh - replay in parts when a hand-over ring fills.
#
#   tests/replay_parts.sh MG OUT
#
# Replay with several workers reads a classic pcap in parts and hands each
# packet to its flow's worker through a 4 MB ring (sensor/worker.c, replay in
# parts). A part's reader never waits for room in a ring: what does not fit
# waits in memory (handover.overflow in the stats) and goes in as the taker
# makes room. This test makes that happen: a capture of two parts of 3839 KB
# (replay_part_kb's largest), each ~89,000 packets of 44 bytes (raw IPv4,
# UDP) of one flow, chosen so that it is worker 1's. Worker 0 reads part 0
# and hands all of it over (~5.7 MB of records) while worker 1 is busy
# splitting part 1, its own. Pass: the records of 2 and 4 workers are the
# one worker's, every packet handed over was taken, and with 2 workers some
# records did wait in memory (so the path was taken). Then three captures
# in one replay, in parts of 7 KB read by 3 workers, so that the parts are
# counted on across the files' ends: the one worker's records again.
set -u
MG=${1:?usage: replay_parts.sh MG OUT}
OUT=${2:?usage: replay_parts.sh MG OUT}
mkdir -p "$OUT"
fail() { echo "replay_parts: FAIL: $*"; exit 1; }

# capture.py PATH SPORT COUNT: COUNT packets of one UDP flow, 10 us apart
cat >"$OUT/capture.py" <<'PY'
import struct, sys
path, sport, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))  # raw IP
    for i in range(count):
        udp = struct.pack("!HHHH", sport, 5000, 8, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, i & 0xffff, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
        t = 1714564800 * 10**6 + i * 10
        f.write(struct.pack("<IIII", t // 10**6, t % 10**6, len(ip), len(ip)) + ip)
PY

# a flow that is worker 1's of 2
sport=
for p in $(seq 40000 40063); do
    python3 "$OUT/capture.py" "$OUT/probe.pcap" "$p" 10 || fail "cannot write a capture"
    "$MG" replay --workers 2 --flows-out /dev/null --dns-out /dev/null \
        --stats-json "$OUT/probe.json" "$OUT/probe.pcap" >/dev/null 2>&1 || fail "replay of the probe failed"
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["per_worker"][1]["packets"] == 10 else 1)' \
        "$OUT/probe.json"; then
        sport=$p
        break
    fi
done
[ -n "$sport" ] || fail "no source port among 64 puts the flow on worker 1"
n=$((2 * 3839 * 1024 / 44))
python3 "$OUT/capture.py" "$OUT/parts.pcap" "$sport" "$n" || fail "cannot write the capture"

run() { # label workers
    # a record lost on its way would leave a worker waiting: a hang fails too
    timeout 120 "$MG" replay --workers "$2" --set replay_part_kb=3839 --flows-out "$OUT/flows.$1" \
        --dns-out "$OUT/dns.$1" --findings-out "$OUT/findings.$1" --stats-json "$OUT/stats.$1.json" \
        "$OUT/parts.pcap" >/dev/null 2>"$OUT/err.$1" ||
        fail "replay --workers $2 failed or hung (exit $?): $(tail -1 "$OUT/err.$1")"
}
run 1 1
for w in 2 4; do
    run "$w" "$w"
    for k in flows dns findings; do
        cmp -s "$OUT/$k.1" "$OUT/$k.$w" || fail "$k differ with $w workers"
    done
done
python3 - "$OUT/stats.1.json" "$OUT/stats.2.json" "$OUT/stats.4.json" <<'PY' || exit 1
import json, sys
one, two, four = (json.load(open(p)) for p in sys.argv[1:])
for n, d in ((2, two), (4, four)):
    h = d["handover"]
    if d["packets"] != one["packets"] or h["sent"] != h["received"] or h["drops"]:
        print("replay_parts: FAIL: %d workers: packets %d (one worker %d), handover %s"
              % (n, d["packets"], one["packets"], h))
        sys.exit(1)
h = two["handover"]
if h["overflow"] == 0:
    print("replay_parts: FAIL: no record waited for room (handover %s): the test did not fill the ring" % h)
    sys.exit(1)
print("replay_parts: ok (%d packets of one flow in 2 parts: 2 and 4 workers give the one worker's "
      "records; with 2, %d handed over, %d of them waited for room in memory)"
      % (one["packets"], h["sent"], h["overflow"]))
PY

# several files: the parts and the baton go on from one file to the next
HERE=$(cd "$(dirname "$0")/.." && pwd)
files=("$HERE/pcaps/demo/mirror-demo.pcap" "$HERE/pcaps/udp-scan/input.pcap" "$HERE/pcaps/dns-tunnel/input.pcap")
for w in 1 3; do
    timeout 120 "$MG" replay --workers "$w" --set replay_part_kb=7 --flows-out "$OUT/files.flows.$w" \
        --dns-out "$OUT/files.dns.$w" --findings-out "$OUT/files.findings.$w" "${files[@]}" \
        >/dev/null 2>"$OUT/files.err" || fail "three files, $w workers: $(tail -1 "$OUT/files.err")"
done
for k in flows dns findings; do
    cmp -s "$OUT/files.$k.1" "$OUT/files.$k.3" || fail "three files: $k differ with 3 workers"
done
echo "replay_parts: ok (three files in one replay, 7 KB parts, 3 workers: $(wc -l <"$OUT/files.flows.1") flow lines, the one worker's)"

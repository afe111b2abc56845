#!/usr/bin/env bash
# scripts/bench.sh - speed and memory figures for replay (never a pass/fail
# test: this machine is shared and noisy, so it prints medians of RUNS runs).
#
#   scripts/bench.sh [PACKETS] [RUNS]      (defaults: 5000000, 5)
#
# Generates (once, deterministic from a seed) a capture of PACKETS
# VXLAN-wrapped packets with IMIX sizes, ~40,000 concurrent flows and ~2% DNS
# in build/bench/, then replays it with flow and DNS records written (to
# /dev/null, so the disk is not measured) and prints packets/s, Gbit/s,
# ns/packet, peak memory and bytes per flow. For scale it also times `cat` of
# the same file and mirrorguard on its libpcap reader.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000000}
RUNS=${2:-5}
MG=${MG:-build/mirrorguard}
dir=build/bench
pcap=$dir/bench-$N.pcap
mkdir -p "$dir"
[ -x "$MG" ] || make -s all
if [ ! -f "$pcap" ]; then
    echo "generating $pcap ($N packets) ..."
    python3 scripts/gen-traffic.py --seed 7 --profile bench --packets "$N" --out "$pcap"
fi
bytes=$(stat -c %s "$pcap")
cat "$pcap" >/dev/null                       # warm the page cache

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run_mg() {  # label, extra args...
    local label=$1; shift
    : >"$dir/runs.txt"
    for i in $(seq "$RUNS"); do
        "$MG" replay "$@" --flows-out /dev/null --dns-out /dev/null \
            --stats-json "$dir/stats.json" "$pcap" 2>/dev/null
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["packets_per_second"], d["gbit_per_second"], d["ns_per_packet"], d["peak_rss_bytes"], d["flows"]["created"], d["wall_seconds"], d["worker_cpu_ns_per_packet"])' "$dir/stats.json" >>"$dir/runs.txt"
    done
    local pps gbps ns rss wns
    wns=$(cut -d' ' -f7 "$dir/runs.txt" | median)
    pps=$(cut -d' ' -f1 "$dir/runs.txt" | median)
    gbps=$(cut -d' ' -f2 "$dir/runs.txt" | median)
    ns=$(cut -d' ' -f3 "$dir/runs.txt" | median)
    rss=$(cut -d' ' -f4 "$dir/runs.txt" | median)
    printf '%-34s %8.2f Mpps %7.2f Gbit/s %7.1f ns/pkt  worker %6.1f ns/pkt CPU = %.2f Mpps/core  peak RSS %6.1f MiB   (runs: %s)\n' \
        "$label" "$(awk -v x="$pps" 'BEGIN{print x/1e6}')" "$gbps" "$ns" "$wns" \
        "$(awk -v x="$wns" 'BEGIN{print 1000/x}')" "$(awk -v x="$rss" 'BEGIN{print x/1048576}')" \
        "$(awk '{printf "%.2f ", $1/1e6}' "$dir/runs.txt")"
}

echo "capture: $pcap, $N packets, $bytes bytes; $(nproc) cores; median of $RUNS runs"
: >"$dir/cat.txt"
for i in $(seq "$RUNS"); do
    s=$(date +%s.%N); cat "$pcap" >/dev/null; e=$(date +%s.%N)
    awk -v n="$N" -v s="$s" -v e="$e" 'BEGIN{print n/(e-s)}' >>"$dir/cat.txt"
done
printf '%-34s %8.2f Mpps   (reading the file only)\n' "cat > /dev/null" "$(median <"$dir/cat.txt" | awk '{print $1/1e6}')"
run_mg "mirrorguard replay (own reader)"
run_mg "mirrorguard replay --capture pcap" --capture pcap
python3 - "$dir/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = d["flows"]
print("flow table: %d flows seen, capacity %d, %.0f bytes per flow (entry + bucket); "
      "dns: %d messages, %d paired" % (f["created"], f["capacity"], f["bytes_per_flow"],
                                        d["dns"]["messages"], d["dns"]["paired"]))
PY

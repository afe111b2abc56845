#!/usr/bin/env bash
# scripts/bench.sh - speed and memory figures for replay (never a pass/fail
# test: this machine is shared and noisy, so it prints medians of RUNS runs).
#
#   scripts/bench.sh [PACKETS] [RUNS]      (defaults: 5000000, 5)
#
# Generates (once, deterministic from a seed) a capture of PACKETS
# VXLAN-wrapped packets with IMIX sizes, ~40,000 concurrent flows, ~2% DNS
# (queries and their answers) and four attack scenarios in build/bench/, then replays it with every
# detector on and flow and DNS records written (to /dev/null, so the disk is
# not measured), with 1 and with 2 workers, and prints packets/s, Gbit/s,
# ns/packet (wall, and CPU per worker), new flows/s, peak memory and bytes
# per flow. For scale it also times `cat` of the same file and mirrorguard on
# its libpcap reader; then scripts/bench-tools.sh runs the same capture
# through the other tools installed (ndpiReader, nfpcapd, softflowd, tshark;
# BENCH_TOOLS_INSTALL=1 installs them) and a side-by-side table gives the
# ratio of mirrorguard's packets/s to each. BENCH_TOOLS=0 skips that part.
#
# A last line replays a SYN flood from spoofed sources (every packet a new
# flow, the flow table full and evicting) with the same attacks in it.
#
# With 2 workers, replay reads the file in parts (replay_part_kb): each
# worker reads its own parts and hands each packet to its flow's worker; a
# second 2-worker line has every worker read every packet instead
# (replay_part_kb=0), as before session 13.
#
# Two more lines put the cores in context: one worker with everything else
# on the same core too (taskset), and two cores each fed its own half of the
# flows (scripts/split-flows.py; two sensors, one per core), which is what
# each worker receives live, where the kernel's fanout group or a NIC's RSS
# splits the traffic: nothing is handed over between workers.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000000}
RUNS=${2:-5}
MG=${MG:-build/mirrorguard}
dir=build/bench
# v3: DNS answers match their queries, and four of the project's attack
# scenarios are spread through it (a scan, SSH brute force, a DNS tunnel,
# Stratum mining), so the detectors have something to find
ATTACKS=pcaps/syn-scan/input.pcap,pcaps/ssh-brute-in/input.pcap,pcaps/dns-tunnel/input.pcap,pcaps/stratum/input.pcap
pcap=$dir/bench-v3-$N.pcap
mkdir -p "$dir"
[ -x "$MG" ] || make -s all
if [ ! -f "$pcap" ]; then
    echo "generating $pcap ($N packets) ..."
    python3 scripts/gen-traffic.py --seed 7 --profile bench --packets "$N" --attacks "$ATTACKS" \
        --out "$pcap"
fi
bytes=$(stat -c %s "$pcap")
cat "$pcap" >/dev/null                       # warm the page cache

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$dir/table.tsv"
# One line of runs.txt from the stats of one or more sensors that ran at
# once: packets over the longest wall time, their workers' mean CPU per
# packet, the sum of their peak RSS.
stats_line() {
    python3 - "$@" <<'PY' >>"$dir/runs.txt"
import json, sys
ds = [json.load(open(p)) for p in sys.argv[1:]]
wall = max(d["wall_seconds"] for d in ds)
pk = sum(d["packets"] for d in ds)
print(pk / wall, sum(d["gbit_per_second"] * d["wall_seconds"] for d in ds) / wall,
      wall * 1e9 / pk, sum(d["peak_rss_bytes"] for d in ds), sum(d["flows"]["created"] for d in ds),
      wall, sum(d["worker_cpu_ns_per_packet"] * d["packets"] for d in ds) / pk,
      sum(d["new_flows_per_second"] * d["wall_seconds"] for d in ds) / wall,
      sum(d["workers"] for d in ds))
PY
}

run_mg() {  # label, extra args... (RUN_ON=CPUS: under taskset)
    local label=$1 js=$dir/stats${RUN_ON:+-on-$RUN_ON}.json; shift
    : >"$dir/runs.txt"
    for i in $(seq "$RUNS"); do
        ${RUN_ON:+taskset -c "$RUN_ON"} "$MG" replay "$@" --flows-out /dev/null --dns-out /dev/null \
            --stats-json "$js" "$pcap" 2>/dev/null
        stats_line "$js"
    done
    report "$label"
}

# Two sensors at once, one on each of the first two CPUs, each replaying its
# half of the flows.
run_halves() {  # label
    : >"$dir/runs.txt"
    for i in $(seq "$RUNS"); do
        for k in 0 1; do
            taskset -c "$k" "$MG" replay --workers 1 --flows-out /dev/null --dns-out /dev/null \
                --stats-json "$dir/stats.$k.json" "$halves.$k.pcap" 2>/dev/null &
        done
        wait
        stats_line "$dir/stats.0.json" "$dir/stats.1.json"
    done
    report "$1"
}

report() {  # label: medians of runs.txt
    local label=$1 pps gbps ns rss wns nfs nw
    wns=$(cut -d' ' -f7 "$dir/runs.txt" | median)
    pps=$(cut -d' ' -f1 "$dir/runs.txt" | median)
    gbps=$(cut -d' ' -f2 "$dir/runs.txt" | median)
    ns=$(cut -d' ' -f3 "$dir/runs.txt" | median)
    rss=$(cut -d' ' -f4 "$dir/runs.txt" | median)
    nfs=$(cut -d' ' -f8 "$dir/runs.txt" | median)
    nw=$(head -1 "$dir/runs.txt" | cut -d' ' -f9)
    # worker CPU per packet: all workers' CPU over all packets. Per core:
    # 1000 / that (packets a core of worker time handles); with a core per
    # worker: workers * 1000 / that (the ceiling the workers alone set)
    printf '%-36s %6.2f Mpps %6.2f Gbit/s %6.1f ns/pkt  worker CPU %6.1f ns/pkt (%.2f Mpps per core, %.2f Mpps with a core per worker)  %5.0f k new flows/s  peak RSS %5.0f MiB  (runs: %s)\n' \
        "$label" "$(awk -v x="$pps" 'BEGIN{print x/1e6}')" "$gbps" "$ns" "$wns" \
        "$(awk -v x="$wns" 'BEGIN{print 1000/x}')" \
        "$(awk -v x="$wns" -v w="$nw" 'BEGIN{print 1000*w/x}')" "$(awk -v x="$nfs" 'BEGIN{print x/1e3}')" \
        "$(awk -v x="$rss" 'BEGIN{print x/1048576}')" \
        "$(awk '{printf "%.2f ", $1/1e6}' "$dir/runs.txt")"
    printf '%s\t%s\t%s\t%s\n' "$label" "$pps" "$(awk -v x="$rss" 'BEGIN{print x/1048576}')" \
        "$(awk '{printf "%.2f ", $1/1e6}' "$dir/runs.txt")" >>"$dir/table.tsv"
}

echo "capture: $pcap, $N packets, $bytes bytes; $(nproc) cores; median of $RUNS runs"
: >"$dir/cat.txt"
for i in $(seq "$RUNS"); do
    s=$(date +%s.%N); cat "$pcap" >/dev/null; e=$(date +%s.%N)
    awk -v n="$N" -v s="$s" -v e="$e" 'BEGIN{print n/(e-s)}' >>"$dir/cat.txt"
done
printf '%-36s %6.2f Mpps   (reading the file only)\n' "cat > /dev/null" "$(median <"$dir/cat.txt" | awk '{print $1/1e6}')"
run_mg "mirrorguard replay, 1 worker" --workers 1
run_mg "mirrorguard replay, 2 workers" --workers 2
run_mg "replay, 2 workers, each reads all" --workers 2 --set replay_part_kb=0
run_mg "mirrorguard replay --capture pcap" --capture pcap --workers 1
RUN_ON=0 run_mg "1 worker, all threads on one core" --workers 1
halves=$dir/bench-v3-$N.flows2
if [ "$(nproc)" -ge 2 ]; then
    [ -f "$halves.1.pcap" ] || python3 scripts/split-flows.py 2 "$pcap" "$halves"
    cat "$halves.0.pcap" "$halves.1.pcap" >/dev/null
    run_halves "2 cores, each its half of the flows"
fi
python3 - "$dir/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = d["flows"]
print("flow table: %d flows seen, capacity %d, %.0f bytes per flow (entry + bucket); "
      "dns: %d messages, %d paired; findings: %d" % (f["created"], f["capacity"],
      f["bytes_per_flow"], d["dns"]["messages"], d["dns"]["paired"], d["findings"]["created"]))
PY

# The worst case for a flow table: a SYN flood from spoofed sources, every
# packet a new flow (gen-traffic.py --profile flood), with the same attacks
# spread through it; their findings must come through. BENCH_FLOOD=0 skips.
if [ "${BENCH_FLOOD:-1}" != 0 ]; then
    NF=$((N * 2 / 5))
    flood=$dir/flood-v1-$NF.pcap
    if [ ! -f "$flood" ]; then
        echo "generating $flood ($NF packets) ..."
        python3 scripts/gen-traffic.py --seed 11 --profile flood --packets "$NF" \
            --attacks "$ATTACKS" --out "$flood"
    fi
    cat "$flood" >/dev/null
    main_pcap=$pcap
    pcap=$flood
    run_mg "SYN flood, spoofed sources, 1 worker" --workers 1 --findings-out "$dir/flood-findings.jsonl"
    pcap=$main_pcap
    python3 - "$dir/stats.json" "$dir/flood-findings.jsonl" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f, r = d["flows"], d["rings"]
types = sorted({json.loads(l)["type"] for l in open(sys.argv[2]) if l.strip()})
print("  flood: %d flows (%d evicted from the full table), %d records dropped at the rings, "
      "findings: %d (%s)" % (f["created"], f["evicted"], r["worker_drops"] + r["detect_drops"],
      d["findings"]["created"], ", ".join(types)))
PY
fi

# Live through DPDK at the sensor's own pace (BENCH_DPDK=0 skips; needs a
# build with DPDK): EAL's net_pcap reads a capture of 200,000 packets of the
# same profile into mbufs once (infinite_rx) and hands them out again for as
# long as the workers poll, so no sender caps the rate, as tcpreplay does on
# veth. 1 worker on one queue with the whole capture; then 2 workers on 2
# queues, each queue one half of the flows (what a NIC's RSS gives), and as
# the NIC's hash is not the sensor's, each worker hands about half of its
# packets to the worker that owns their flow. The PMD's copy of each packet
# into a fresh mbuf (a NIC would write it by DMA) is in the workers' CPU.
# shellcheck source=../tests/veth_lib.sh
. tests/veth_lib.sh                     # mg_wait_started
run_dpdk_mem() {  # label, workers, files...
    local label=$1 nw=$2 vdev=net_pcap0 f q=0 pid
    shift 2
    for f in "$@"; do vdev="$vdev,rx_pcap=$f"; q=$((q + 1)); done
    : >"$dir/runs.txt"
    printf 'capture:\n  source: dpdk\n' >"$dir/dpdk.yaml"
    for i in $(seq "$RUNS"); do
        "$MG" run -c "$dir/dpdk.yaml" --workers "$nw" --set capture.dpdk.queues=$q \
            --set capture.dpdk.mbufs=262143 \
            --set "capture.dpdk.eal_args=[--no-huge, --no-pci, --no-shconf, --no-telemetry, --log-level=error, -m, '2048', -l, '0', '--vdev=$vdev,infinite_rx=1']" \
            --flows-out /dev/null --dns-out /dev/null --findings-out /dev/null \
            --stats-json "$dir/stats-dpdk.json" </dev/null >/dev/null 2>"$dir/dpdk.err" &
        pid=$!
        mg_wait_started "$dir/dpdk.err" "$pid" 30 || true
        sleep "${BENCH_DPDK_SECONDS:-3}"
        kill -INT "$pid" 2>/dev/null || true
        if ! wait "$pid"; then
            echo "  (DPDK run failed: $(tail -1 "$dir/dpdk.err"))"
            return 0
        fi
        stats_line "$dir/stats-dpdk.json"
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["handover"]; print(h["sent"], d["packets"], h["drops"])' \
            "$dir/stats-dpdk.json" >>"$dir/handover.txt"
    done
    report "$label"
}
if [ "${BENCH_DPDK:-1}" != 0 ] && "$MG" --version | grep -qw dpdk; then
    mem=$dir/bench-v3-200000.pcap
    if [ ! -f "$mem" ]; then
        python3 scripts/gen-traffic.py --seed 7 --profile bench --packets 200000 --attacks "$ATTACKS" \
            --out "$mem" >/dev/null
        python3 scripts/split-flows.py 2 "$mem" "$dir/bench-v3-200000.flows2" >/dev/null
    fi
    echo "live through DPDK, net_pcap replaying 200,000 packets from memory (infinite_rx), ${BENCH_DPDK_SECONDS:-3} s a run:"
    run_dpdk_mem "DPDK live, 1 worker, 1 queue" 1 "$mem"
    : >"$dir/handover.txt"          # the 2 workers' runs only
    run_dpdk_mem "DPDK live, 2 workers, 2 queues" 2 "$dir/bench-v3-200000.flows2.0.pcap" \
        "$dir/bench-v3-200000.flows2.1.pcap"
    awk '{s += $1; p += $2; d += $3} END {if (p) printf "  2 workers: %.1f%% of the packets handed over to the other worker, %d dropped there (all runs)\n", 100 * s / p, d}' \
        "$dir/handover.txt"
fi

[ "${BENCH_TOOLS:-1}" = 0 ] && exit 0
echo
echo "other tools on the same capture (scripts/bench-tools.sh):"
scripts/bench-tools.sh "$pcap" "$N" "$RUNS" "$dir/tools.tsv"
echo
python3 - "$dir/table.tsv" "$dir/tools.tsv" <<'PY'
import sys
mg = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
tools = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
one = next(float(r[1]) for r in mg if "1 worker" in r[0])
two = next((float(r[1]) for r in mg if "2 workers" in r[0]), one)
print("%-36s %10s %9s %13s %13s  %s" % ("side by side", "Mpps", "peak MiB", "mg 1w / tool",
                                        "mg 2w / tool", "what it does"))
for r in mg[:2]:
    print("%-36s %10.3f %9.0f %13s %13s  %s" % (r[0], float(r[1]) / 1e6, float(r[2]), "", "",
                                              "flows + DNS + every detector, inside VXLAN"))
for t in tools:
    pps = float(t[2])
    print("%-36s %10.3f %9.0f %12.1fx %12.1fx  %s" % (t[0], pps / 1e6, float(t[3]), one / pps,
                                                    two / pps, t[5]))
PY

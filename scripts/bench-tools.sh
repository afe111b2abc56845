#!/usr/bin/env bash
# scripts/bench-tools.sh - time other tools a user might choose instead of
# mirrorguard over the same capture, for the side-by-side table of
# scripts/bench.sh (issue #7). Like bench.sh it never passes or fails: the
# machine is shared and noisy, so it reports medians of RUNS runs.
#
#   scripts/bench-tools.sh PCAP PACKETS RUNS OUTFILE
#
# PCAP is an offline capture (warmed into the page cache first) holding
# PACKETS packets. Each tool found on PATH - ndpiReader (Debian package
# libndpi-bin), nfpcapd (nfdump), softflowd, tshark - is run RUNS times doing
# its closest equivalent of "read the capture and build flow records / dissect
# it", with its output discarded or written to a private temporary directory
# (on /dev/shm when it is writable, so the disk is not measured). A missing
# tool is skipped with a note; the script exits 0 even when none is there.
#
# OUTFILE gets one tab-separated line per tool that ran:
#   tool  median_wall_s  packets_per_s  peak_rss_mib  runs_wall_s(comma-separated)  what_it_does
# (peak RSS is the largest of the runs). what_it_does says what the tool did
# and whether it looks inside the VXLAN tunnel: that is not assumed but
# checked on every call, by running the tool once over the small VXLAN demo
# capture (pcaps/demo/mirror-demo.pcap, whose inner traffic has TCP while the
# outer traffic is all UDP) and looking for inner TCP in what it reports.
# A human-readable line per tool goes to stdout, and a warning when a tool
# fails or reports fewer packets than PACKETS (or the tshark limit below).
#
# Environment:
#   BENCH_TOOLS_INSTALL=1      first apt-get install the four tools' packages
#   BENCH_TSHARK_PACKETS=K     tshark only reads the first K packets (default
#                              1000000; it is by far the slowest); its
#                              packets/s is K / its wall time
#   BENCH_SOFTFLOWD_MAXFLOWS=N softflowd flow-table size (default 1000000, so
#                              that, like mirrorguard, it keeps every flow of
#                              the capture instead of force-expiring the
#                              oldest past its default of 8192)
#   BENCH_TOOLS_PROBE_PCAP=F   the VXLAN capture for the decapsulation check
# shellcheck disable=SC2317,SC2034  # run_*, probe_*, desc_* etc. are used as "<kind>_$tool"
set -euo pipefail
if [ $# -ne 4 ]; then
    sed -n '2,/^# shellcheck/{/^# shellcheck/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
fi
PCAP=$1 PACKETS=$2 RUNS=$3 OUT=$4
root=$(cd "$(dirname "$0")/.." && pwd)
PROBE=${BENCH_TOOLS_PROBE_PCAP:-$root/pcaps/demo/mirror-demo.pcap}
TSHARK_K=${BENCH_TSHARK_PACKETS:-1000000}
SF_MAXFLOWS=${BENCH_SOFTFLOWD_MAXFLOWS:-1000000}
case "$PACKETS$RUNS$TSHARK_K$SF_MAXFLOWS" in *[!0-9]*)
    echo "bench-tools: PACKETS, RUNS, BENCH_TSHARK_PACKETS and BENCH_SOFTFLOWD_MAXFLOWS must be integers" >&2; exit 2;;
esac
[ -r "$PCAP" ] || { echo "bench-tools: cannot read $PCAP" >&2; exit 2; }
if [ "$RUNS" -lt 1 ] || [ "$PACKETS" -lt 1 ]; then
    echo "bench-tools: PACKETS and RUNS must be >= 1" >&2; exit 2
fi

if [ "${BENCH_TOOLS_INSTALL:-0}" = 1 ]; then
    pkgs=(libndpi-bin nfdump softflowd tshark)
    [ -x /usr/bin/time ] || pkgs+=(time)
    echo "bench-tools: apt-get install ${pkgs[*]}"
    # tshark's package asks whether non-root users may capture: keep it quiet.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null ||
        echo "bench-tools: WARNING: apt-get install failed (run apt-get update first?); using what is installed" >&2
fi

base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
tmp=$(mktemp -d "$base/bench-tools.XXXXXX")
sink_pid=
cleanup() {
    [ -z "$sink_pid" ] || kill "$sink_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
: >"$OUT"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# measure LOG CMD...: runs CMD with stdout+stderr to LOG; sets m_wall (s),
# m_rss (KiB, 0 if unknown) and m_rc. /usr/bin/time is a tiny fork()ing
# parent, so its %M is the tool's own peak; the python fallback's
# RUSAGE_CHILDREN can include the forking python's few MiB as a floor.
measure() {
    local log=$1; shift
    local s e
    s=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        m_rc=0; /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$log" 2>&1 || m_rc=$?
        e=$(date +%s.%N)
        m_rss=$(grep -E '^[0-9]+$' "$tmp/rss" | tail -1 || true)
    else
        m_rc=0; python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:], stdout=open(sys.argv[1], "wb"), stderr=subprocess.STDOUT)
open(sys.argv[1] + ".rss", "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$log" "$@" || m_rc=$?
        e=$(date +%s.%N)
        m_rss=$(cat "$log.rss" 2>/dev/null || true)
    fi
    m_rss=${m_rss:-0}
    m_wall=$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f", e-s}')
}

# Per tool: run_<tool> PCAP LOG (one run, measured) and count_<tool> LOG
# (packets the tool says it read, empty if it does not say) and
# probe_<tool> (exit 0 if it reported inner TCP on the VXLAN demo capture).

# nDPI's demo reader: flow table + protocol detection. -n is ignored for pcap
# files (one thread anyway); -t enables the tunnel decoding it has
# (GTP/TZSP/CAPWAP in 4.2). -q would also silence the packet count.
run_ndpiReader() { measure "$2" ndpiReader -t -n 1 -i "$1"; }
count_ndpiReader() { sed -n 's/.*IP packets:.* of *\([0-9][0-9]*\) packets total.*/\1/p' "$1" | head -1; }
probe_ndpiReader() {
    ndpiReader -t -n 1 -i "$PROBE" >"$tmp/probe.log" 2>&1 || return 2
    awk '/TCP Packets:/ {t=$3} END {exit !(t > 0)}' "$tmp/probe.log"
}
ver_ndpiReader() { ndpiReader -h 2>&1 | sed -n 's/.*nDPI \([0-9][0-9.]*[0-9]\).*/nDPI \1/p' | head -1; }
desc_ndpiReader="flow table + nDPI protocol detection (ndpiReader, 1 thread)"

# nfdump's pcap-to-NetFlow converter: flow records written as nfcapd files
# to a tmpfs directory (emptied after each run).
run_nfpcapd() {
    rm -rf "$tmp/nf" && mkdir "$tmp/nf"
    measure "$2" nfpcapd -r "$1" -w "$tmp/nf"
}
count_nfpcapd() { sed -n 's/^Total: Processed: *\([0-9][0-9]*\).*/\1/p' "$1" | tail -1; }
probe_nfpcapd() {
    rm -rf "$tmp/nf" && mkdir "$tmp/nf"
    nfpcapd -r "$PROBE" -w "$tmp/nf" >"$tmp/probe.log" 2>&1 || return 2
    command -v nfdump >/dev/null || return 2
    nfdump -R "$tmp/nf" -q -o line 'proto tcp' >"$tmp/probe.flows" 2>&1 || return 2
    grep -q TCP "$tmp/probe.flows"
}
ver_nfpcapd() { nfpcapd -V 2>&1 | sed -n 's/.*Version: *\([0-9][0-9.]*[0-9]\).*/nfdump \1/p' | head -1; }
desc_nfpcapd="NetFlow records to nfcapd files on tmpfs (nfpcapd, packet+flow+writer threads)"

# softflowd reads the whole file, then expires every flow and exits. Its
# NetFlow v5 export goes to a local UDP socket that is bound but never read
# (the kernel drops what does not fit: no ICMP errors, no reader using CPU).
# Give -r no -c: softflowd 1.1.0 with -r and a control socket blocks in
# accept() before reading a packet. -p keeps it off the system pidfile,
# which it unlinks on exit.
start_sink() {
    [ -z "$sink_pid" ] || return 0
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdout.close()
time.sleep(86400)' >"$tmp/sink.port" &
    sink_pid=$!
    for _ in $(seq 50); do [ -s "$tmp/sink.port" ] && break; sleep 0.1; done
    sink_port=$(cat "$tmp/sink.port")
}
run_softflowd() {
    start_sink
    measure "$2" softflowd -r "$1" -n "127.0.0.1:$sink_port" -m "$SF_MAXFLOWS" -p "$tmp/softflowd.pid"
}
count_softflowd() {  # processed + ignored (non-IP, too short) = read
    awk '/^Packets processed:/ {p = $3} /^Ignored packets:/ {i = $3}
         END {if (p != "") print p + i}' "$1"
}
probe_softflowd() {
    start_sink
    softflowd -r "$PROBE" -n "127.0.0.1:$sink_port" -m "$SF_MAXFLOWS" -p "$tmp/softflowd.pid" \
        >"$tmp/probe.log" 2>&1 || return 2
    grep -q 'tcp (6)' "$tmp/probe.log"
}
ver_softflowd() { softflowd -h 2>&1 | sed -n 's/.*softflowd version \([0-9][0-9.]*[0-9]\).*/softflowd \1/p' | head -1; }
desc_softflowd="NetFlow v5 export to a local UDP sink (softflowd, -m $SF_MAXFLOWS)"

# Wireshark's full dissection with TCP and UDP conversation tables (flow
# records) and a frame counter; with -q it prints no packet, only the tables.
# (-q with no -z would skip dissection altogether.)
run_tshark() {
    measure "$2" tshark -r "$1" -n -q -c "$tshark_n" -z conv,tcp -z conv,udp -z io,stat,0
}
count_tshark() { awk -F'|' '/<>/ {gsub(/ /, "", $3); n = $3} END {print n}' "$1"; }
probe_tshark() {
    tshark -r "$PROBE" -n -q -z conv,tcp >"$tmp/probe.log" 2>&1 || return 2
    awk '/^TCP Conversations/ {on = 1} on && /<->/ {n++} END {exit !(n > 0)}' "$tmp/probe.log"
}
ver_tshark() { tshark --version 2>/dev/null | sed -n '1s/.*TShark (Wireshark) \([0-9][0-9.]*[0-9]\).*/tshark \1/p'; }
desc_tshark="full dissection + TCP/UDP conversation tables (tshark -q -z conv)"

echo "bench-tools: $PCAP, $PACKETS packets, median of $RUNS runs; scratch in $tmp"
cat "$PCAP" >/dev/null                       # warm the page cache
tshark_n=$(( TSHARK_K < PACKETS ? TSHARK_K : PACKETS ))
ran=0
for tool in ndpiReader nfpcapd softflowd tshark; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench-tools: $tool not installed, skipped (BENCH_TOOLS_INSTALL=1 installs it)"
        continue
    fi
    want=$PACKETS
    d="desc_$tool"; desc=${!d}
    if [ "$tool" = tshark ] && [ "$tshark_n" -lt "$PACKETS" ]; then
        want=$tshark_n
        desc="$desc, first $tshark_n of $PACKETS packets only (-c)"
    fi
    if [ -r "$PROBE" ]; then
        vx=0; "probe_$tool" || vx=$?
        case $vx in
            0) desc="$desc; decapsulates VXLAN (flows are the inner ones)";;
            1) desc="$desc; no VXLAN decap (sees only the outer UDP/4789 flows)";;
            *) desc="$desc; VXLAN decap not checked (probe run failed)";;
        esac
    else
        desc="$desc; VXLAN decap not checked (no $PROBE)"
    fi
    ver=$("ver_$tool" || true)
    [ -z "$ver" ] || desc="$desc; $ver"

    : >"$tmp/runs"; rss_max=0; failed=; seen=
    for i in $(seq "$RUNS"); do
        "run_$tool" "$PCAP" "$tmp/$tool.log"
        if [ "$m_rc" -ne 0 ]; then
            failed="exit status $m_rc in run $i"
            cp "$tmp/$tool.log" "$OUT.$tool.log" 2>/dev/null || true
            break
        fi
        echo "$m_wall" >>"$tmp/runs"
        [ "$m_rss" -le "$rss_max" ] || rss_max=$m_rss
        seen=$("count_$tool" "$tmp/$tool.log" || true)   # every run should agree
    done
    if [ -n "$failed" ]; then
        echo "bench-tools: WARNING: $tool failed ($failed); its output is in $OUT.$tool.log; not in the table" >&2
        continue
    fi
    # The tool's own packet count (from the last run) against what it was given.
    if ! [[ $seen =~ ^[0-9]+$ ]]; then
        echo "bench-tools: WARNING: $tool printed no packet count; cannot check it read all $want packets" >&2
        desc="$desc; packet count not checked"
    elif [ "$seen" -ne "$want" ]; then
        echo "bench-tools: WARNING: $tool reports $seen packets, expected $want" >&2
        desc="$desc; WARNING: it reported $seen of $want packets"
    fi
    med=$(median <"$tmp/runs")
    pps=$(awk -v n="$want" -v t="$med" 'BEGIN{printf "%.0f", (t > 0 ? n/t : 0)}')
    rss=$(awk -v k="$rss_max" 'BEGIN{printf "%.1f", k/1024}')
    walls=$(paste -sd, "$tmp/runs")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$med" "$pps" "$rss" "$walls" "$desc" >>"$OUT"
    printf '%-12s %8.3f Mpps  median %8.3f s  peak RSS %8.1f MiB  (runs: %s s)\n             %s\n' \
        "$tool" "$(awk -v x="$pps" 'BEGIN{print x/1e6}')" "$med" "$rss" "$walls" "$desc"
    ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || echo "bench-tools: no other tool ran; $OUT is empty"
exit 0

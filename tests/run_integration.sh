#!/usr/bin/env bash
# tests/run_integration.sh - end-to-end tests of the mirrorguard binary on real
# captures (../shared/data/pcaps, made by others) and the project's own
# generated captures (pcaps/). Run by 'make test' with MG (and MG_ASAN, the
# ASan+UBSan build, and MG_TSAN, the ThreadSanitizer build) set. Prints one line per check and 'N passed, N failed'.
set -u
cd "$(dirname "$0")/.."
MG=${MG:-build/mirrorguard}
MG_ASAN=${MG_ASAN:-}
SHARED=../shared/data
OUT=$(mktemp -d /tmp/mg-it.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
pass=0; fail=0

ok()   { pass=$((pass+1)); echo "ok   $*"; }
bad()  { fail=$((fail+1)); echo "FAIL $*"; }
check() { # description, command...
    local d=$1; shift
    if "$@" >"$OUT/last.log" 2>&1; then ok "$d"; else bad "$d"; sed 's/^/     /' "$OUT/last.log" | head -40; fi
}
expect_exit() { # code, description, command...
    local want=$1 d=$2; shift 2
    "$@" >"$OUT/last.log" 2>&1; local rc=$?
    if [ "$rc" = "$want" ]; then ok "$d (exit $rc)"; else bad "$d: exit $rc, want $want"; sed 's/^/     /' "$OUT/last.log" | head -20; fi
}

FIELDS='outputs.flow_fields=[srcaddr,dstaddr,srcport,dstport,protocol,packets,bytes]'
# Long timeouts so that Zeek's connections are not split by ours (records are
# summed anyway), and DNS answers may come late.
LONG=(--set flows.active_timeout=86400 --set flows.udp_timeout=86400 --set flows.tcp_established_timeout=86400)

# ---- command line contract
expect_exit 0 "--version" "$MG" --version
expect_exit 0 "--help" "$MG" --help
expect_exit 2 "unknown command" "$MG" frobnicate
expect_exit 2 "replay without files" "$MG" replay
expect_exit 2 "replay of a missing file names it" sh -c "\"$MG\" replay /nonexistent.pcap 2>&1 | grep -q /nonexistent.pcap && exit 2"
expect_exit 2 "replay of a non-capture file" "$MG" replay README.md
expect_exit 0 "check-config on the example" "$MG" check-config config/mirrorguard.example.yaml
expect_exit 0 "check-config on the minimal file" "$MG" check-config config/minimal.yaml
printf 'flows:\n  max_flowz: 10\n' >"$OUT/bad.yaml"
expect_exit 2 "check-config names file:line of an unknown key" sh -c "\"$MG\" check-config $OUT/bad.yaml 2>&1 | grep -q 'bad.yaml:2:' && exit 2"
expect_exit 2 "--set of an unknown key" "$MG" check-config config/minimal.yaml --set flows.nope=1

# ---- Zeek baselines: our flow and DNS records agree with conn.log / dns.log
for dir in "$SHARED"/pcaps/zeek/*/; do
    name=$(basename "$dir")
    pcap=$(ls "$dir"*.pcap* 2>/dev/null | head -1)
    [ -n "$pcap" ] || continue
    conn=$(ls "$dir"*/conn.log 2>/dev/null | head -1)
    dns=$(ls "$dir"*/dns.log 2>/dev/null | head -1)
    [ -n "$conn$dns" ] || continue
    "$MG" replay "${LONG[@]}" --set "$FIELDS" --set 'dns.ports=[53,5353,5355]' --flows-out "$OUT/$name.flows" \
        --dns-out "$OUT/$name.dns" "$pcap" 2>"$OUT/$name.err"
    if [ -n "$conn" ]; then
        python3 tests/compare_zeek.py conn "$conn" "$OUT/$name.flows" >"$OUT/last.log" 2>&1
        case $? in
            0) ok "zeek conn.log agrees: $name" ;;
            3) echo "skip zeek conn.log of $name: $(tail -1 "$OUT/last.log")" ;;
            *) bad "zeek conn.log agrees: $name"; sed 's/^/     /' "$OUT/last.log" | head -30 ;;
        esac
    fi
    if [ -n "$dns" ]; then
        check "zeek dns.log agrees: $name" python3 tests/compare_zeek.py dns "$dns" "$OUT/$name.dns"
    fi
done

# ---- VXLAN-wrapped capture gives the same records as the plain one
WRAP_SET=(pcaps/zeek/wikipedia/wikipedia.pcap pcaps/tcpdump/dns_tcp.pcap pcaps/ndpi/dns/dns.pcap
          pcaps/zeek/q-in-q/q-in-q.pcap pcaps/slips/cc-beacon-short/test-cc-capture-2.pcap
          pcaps/zeek/ipv6-fragmented-dns/ipv6-fragmented-dns.pcap pcaps/domainator/iodine/iodine_upload-big_240731.pcapng)
for rel in "${WRAP_SET[@]}"; do
    p=$SHARED/$rel
    [ -f "$p" ] || continue
    n=$(basename "$p")
    python3 scripts/mirror-wrap.py --vni 42 "$p" "$OUT/$n.vxlan.pcap" >/dev/null
    "$MG" replay --set "$FIELDS" --flows-out "$OUT/$n.plain.flows" --dns-out "$OUT/$n.plain.dns" "$p" 2>/dev/null
    "$MG" replay --set "$FIELDS" --flows-out "$OUT/$n.vx.flows" --dns-out "$OUT/$n.vx.dns" "$OUT/$n.vxlan.pcap" 2>/dev/null
    sed -i 's/"vni":[0-9]*//' "$OUT/$n.plain.dns" "$OUT/$n.vx.dns"
    check "mirror-wrapped = plain (flows): $n" cmp "$OUT/$n.plain.flows" "$OUT/$n.vx.flows"
    check "mirror-wrapped = plain (dns): $n" cmp "$OUT/$n.plain.dns" "$OUT/$n.vx.dns"
done

# ---- the project's demo capture: counts equal the generator's ground truth
DEMO=pcaps/demo/mirror-demo.pcap
if [ -f "$DEMO" ]; then
    "$MG" replay -c pcaps/demo/sensor.yaml --flows-out "$OUT/demo.flows" --dns-out "$OUT/demo.dns" \
        --stats-json "$OUT/demo.stats.json" "$DEMO" 2>"$OUT/demo.err"
    check "demo: counts match the generator's truth file" \
        python3 tests/check_truth.py "$DEMO.truth.json" "$OUT/demo.stats.json" "$OUT/demo.flows" "$OUT/demo.dns"
    "$MG" replay -c pcaps/demo/sensor.yaml --flows-out "$OUT/demo2.flows" --dns-out "$OUT/demo2.dns" "$DEMO" 2>/dev/null
    check "demo: same records on a second run" cmp "$OUT/demo.flows" "$OUT/demo2.flows"
    "$MG" replay -c pcaps/demo/sensor.yaml --capture pcap --flows-out "$OUT/demo3.flows" \
        --dns-out "$OUT/demo3.dns" "$DEMO" 2>/dev/null
    check "demo: libpcap reader gives the same flows as the mmap reader" cmp "$OUT/demo.flows" "$OUT/demo3.flows"
    check "demo: libpcap reader gives the same dns records" cmp "$OUT/demo.dns" "$OUT/demo3.dns"
fi

# ---- findings: the threat-lists scenario gives exactly the expected findings
TL=pcaps/threat-lists
if [ -f $TL/input.pcap ]; then
    "$MG" replay -c $TL/sensor.yaml --findings-out "$OUT/tl.jsonl" $TL/input.pcap 2>"$OUT/tl.err"
    check "threat lists: expected findings (type, instance, remote, count)" \
        python3 tests/check_findings.py $TL/truth.json "$OUT/tl.jsonl"
    "$MG" replay -c $TL/sensor.yaml --findings-out "$OUT/tl2.jsonl" $TL/input.pcap 2>/dev/null
    check "threat lists: same findings (ids, times) on a second run" cmp "$OUT/tl.jsonl" "$OUT/tl2.jsonl"
    python3 scripts/mirror-wrap.py --vni 4211 $TL/input.pcap "$OUT/tl-double.pcap" >/dev/null
    "$MG" replay -c $TL/sensor.yaml --findings-out "$OUT/tl3.jsonl" "$OUT/tl-double.pcap" 2>/dev/null
    check "threat lists: same findings through a second tunnel layer" cmp "$OUT/tl.jsonl" "$OUT/tl3.jsonl"
    "$MG" replay -c $TL/sensor.yaml --set lists.trusted= --findings-out "$OUT/tl4.jsonl" $TL/input.pcap 2>/dev/null
    check "threat lists: without the trusted list, the trusted address gives a finding" \
        grep -q "$(python3 -c 'import json; print(json.load(open("pcaps/threat-lists/truth.json"))["trusted_suppressed"])')" "$OUT/tl4.jsonl"
    expect_exit 2 "a missing threat list file names it" sh -c "\"$MG\" replay -c $TL/sensor.yaml --set 'lists.threat=[{name: x, path: /nonexistent.txt}]' $TL/input.pcap 2>&1 | grep -q /nonexistent.txt && exit 2"
fi

# ---- detection scenarios: each generated case against its truth and golden file
check "scenario captures (tests/run_scenarios.sh)" tests/run_scenarios.sh "$MG" "$OUT/scenarios"

# ---- several workers: 1, 2 and 4 give byte-identical flow, DNS and finding
# records (scenarios, demo, real captures), through the file reader and DPDK
check "workers 1/2/4: identical records (tests/workers_equal.sh)" \
    tests/workers_equal.sh "$MG" "$OUT/workers"
check "replay in parts with a full hand-over ring: records wait in memory, none lost (tests/replay_parts.sh)" \
    tests/replay_parts.sh "$MG" "$OUT/replay-parts"
if "$MG" --version 2>&1 | grep -q dpdk; then
    check "workers 1/2/4 through DPDK: identical records" \
        tests/workers_equal.sh "$MG" "$OUT/workers-dpdk" --capture dpdk pcaps/syn-scan/input.pcap \
        pcaps/dns-tunnel/input.pcap pcaps/demo/mirror-demo.pcap
fi

if "$MG" --version 2>&1 | grep -q dpdk; then
    check "live DPDK, 2 workers: packets handed over as headers and as mbufs, the replay's findings (tests/dpdk_handover.sh)" \
        tests/dpdk_handover.sh "$MG" "$OUT/dpdk-handover"
fi

if "$MG" --version 2>&1 | grep -q dpdk; then
    expect_exit 2 "DPDK live capture: queues other than one per worker are refused, naming the key" sh -c \
        "\"$MG\" run -c pcaps/demo/sensor.yaml --set capture.source=dpdk --set workers=2 --set capture.dpdk.queues=3 2>&1 | grep -q 'capture.dpdk.queues: live DPDK capture reads one queue per worker' && exit 2"
fi

# ---- the real captures of others: the attacks they hold are found, and
# nothing at all is reported on the benign ones (default configuration)
expected_type() {   # capture path -> the finding type it must give, "" = none
    case $1 in
        */ssh-bruteforce/*) echo "UnauthorizedAccess:EC2/SSHBruteForce" ;;
        */peafowl/stratum.pcap) echo "CryptoCurrency:EC2/BitcoinTool.B" ;;
        */domainator/dnscat2/*|*/domainator/iodine/*|*/symbiote-dnscat/*|*/dns2tcp/*)
            echo "Trojan:EC2/DNSDataExfiltration" ;;
        *) echo "" ;;
    esac
}
nb=0; fp=0; na=0; fn=0
while IFS= read -r -d '' p; do
    want=$(expected_type "$p")
    got=$("$MG" replay --findings-out - "$p" 2>/dev/null | python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["type"] for l in sys.stdin})))')
    if [ -z "$want" ]; then
        nb=$((nb+1))
        [ -z "$got" ] || { fp=$((fp+1)); echo "     unexpected findings in $p: $got"; }
    else
        na=$((na+1))
        [ "$got" = "$want" ] || { fn=$((fn+1)); echo "     $p: got '$got', want '$want'"; }
    fi
done < <(find "$SHARED/pcaps" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0)
if [ "$fp" = 0 ]; then ok "no finding at all on $nb benign real captures"; else bad "$fp of $nb benign real captures have findings"; fi
if [ "$fn" = 0 ]; then ok "the $na real attack captures give exactly their finding type (SSH guessing, Stratum, DNS tunnels)"; else bad "$fn of $na real attack captures missed"; fi

# ---- DPDK replay (--capture dpdk: EAL, one net_pcap vdev per file): the same
# flow records, DNS records and findings as the file reader, byte for byte
if "$MG" --version | grep -qw dpdk; then
    DEMO_CFG=pcaps/demo/sensor.yaml; TL_CFG=pcaps/threat-lists/sensor.yaml
    while read -r name cfg files; do
        for f in $files; do [ -f "$f" ] || continue 2; done
        # shellcheck disable=SC2086
        "$MG" replay -c "$cfg" --flows-out "$OUT/dp-$name.file.flows" --dns-out "$OUT/dp-$name.file.dns" \
            --findings-out "$OUT/dp-$name.file.find" $files 2>/dev/null
        # shellcheck disable=SC2086
        check "dpdk replay runs: $name" "$MG" replay -c "$cfg" --capture dpdk --flows-out "$OUT/dp-$name.dpdk.flows" \
            --dns-out "$OUT/dp-$name.dpdk.dns" --findings-out "$OUT/dp-$name.dpdk.find" $files
        for k in flows dns find; do
            check "dpdk replay = file reader ($k): $name" cmp "$OUT/dp-$name.file.$k" "$OUT/dp-$name.dpdk.$k"
        done
    done <<EOF
demo $DEMO_CFG pcaps/demo/mirror-demo.pcap
threat-lists $TL_CFG pcaps/threat-lists/input.pcap
two-files $TL_CFG pcaps/threat-lists/input.pcap pcaps/demo/mirror-demo.pcap
EOF
else
    echo "skip dpdk replay: $MG is built without DPDK"
    expect_exit 2 "--capture dpdk without DPDK says so" sh -c "\"$MG\" replay --capture dpdk pcaps/demo/mirror-demo.pcap 2>&1 | grep -q 'built without DPDK' && exit 2"
fi

# ---- Redis: fields, exactly once across a Redis kill, spool across restarts, AUTH
check "redis delivery end to end (tests/redis_e2e.sh)" tests/redis_e2e.sh "$MG" "$OUT"

# ---- hostile input: every shared capture through the sanitizer build
if [ -n "$MG_ASAN" ] && [ -x "$MG_ASAN" ]; then
    nf=0; nbad=0
    while IFS= read -r -d '' p; do
        nf=$((nf+1))
        # 1, 2 or 3 workers in turn: the merge and the dispatch see hostile
        # input too; several workers read classic pcap in parts of 1 KB, so
        # records cross parts' ends
        if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$MG_ASAN" replay --flows-out /dev/null \
                --workers $((nf % 3 + 1)) --set replay_part_kb=1 --dns-out /dev/null "$p" \
                >/dev/null 2>"$OUT/asan.err"; then
            if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$OUT/asan.err"; then
                nbad=$((nbad+1)); echo "     sanitizer: $p"; head -20 "$OUT/asan.err"
            fi
        fi
    done < <(find "$SHARED/pcaps" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -print0)
    if [ "$nbad" = 0 ] && [ "$nf" -gt 0 ]; then ok "ASan+UBSan replay of $nf shared captures (1-3 workers, in 1 KB parts)"; else bad "sanitizer errors in $nbad of $nf captures"; fi
    # the DPDK hand-over (headers and mbufs between two live workers) under
    # the sanitizers: a report aborts the sensor, and the test fails on it
    if "$MG_ASAN" --version | grep -qw dpdk; then
        check "live DPDK hand-over under ASan+UBSan (tests/dpdk_handover.sh)" \
            env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 tests/dpdk_handover.sh "$MG_ASAN" "$OUT/dpdk-handover-asan"
    fi
fi

# ---- live capture on a veth pair in a network namespace
if [ -x tests/live_veth.sh ]; then
    check "live capture on a veth pair (libpcap)" tests/live_veth.sh "$MG" "$OUT"
fi
if [ -n "${MG_TSAN:-}" ] && [ -x "$MG_TSAN" ]; then
    check "live, 2 workers, stats every second: no ThreadSanitizer report" tests/live_tsan.sh "$MG_TSAN" "$OUT"
    # replay in parts: the baton, the hand-over rings, the marks to the merge
    tsan_parts() {
        local c w
        for c in demo/mirror-demo.pcap udp-scan/input.pcap dns-tunnel/input.pcap; do
            for w in 2 4; do
                TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$MG_TSAN" replay \
                    -c "pcaps/$(dirname "$c")/sensor.yaml" --workers "$w" --set replay_part_kb=1 \
                    --flows-out "$OUT/tsan-parts.flows" --dns-out /dev/null "pcaps/$c" || return 1
                "$MG" replay -c "pcaps/$(dirname "$c")/sensor.yaml" --flows-out "$OUT/one.flows" \
                    --dns-out /dev/null "pcaps/$c" 2>/dev/null || return 1
                cmp "$OUT/one.flows" "$OUT/tsan-parts.flows" || return 1
            done
        done
    }
    check "replay in 1 KB parts, 2 and 4 workers, three captures: no ThreadSanitizer report, one worker's flows" tsan_parts
    if "$MG_TSAN" --version | grep -qw dpdk; then
        check "the same through DPDK, the workers handing packets over: no ThreadSanitizer report" \
            env LIVE_TSAN_SOURCE=dpdk tests/live_tsan.sh "$MG_TSAN" "$OUT"
    fi
fi
if [ -x tests/live_flood.sh ]; then
    check "a live SYN flood from spoofed sources: no packet or record dropped, the attacks in it found" tests/live_flood.sh "$MG" "$OUT"
    if "$MG" --version | grep -qw dpdk; then
        check "the same flood through DPDK (af_packet vdev, 2 queues, 2 workers handing packets over)" \
            env LIVE_FLOOD_SOURCE=dpdk tests/live_flood.sh "$MG" "$OUT"
    fi
fi
if [ -x tests/live_reload.sh ]; then
    check "SIGHUP reloads lists and rules under live traffic, refuses bad files" tests/live_reload.sh "$MG" "$OUT"
fi
UT=${UT:-$(dirname "$MG")/unit-tests}
if [ -x "$UT" ]; then
    check "a finding Redis rejects is fdatasync'ed in rejected.jsonl before it counts as kept (strace)" tests/rejected_sync.sh "$UT" "$OUT"
else
    bad "rejected.jsonl sync: $UT not built (make unit)"
fi
if [ -x tests/affinity.sh ]; then
    check "threads stay on the CPUs the sensor is given (taskset); the worker has a CPU of its own" tests/affinity.sh "$MG" "$OUT"
fi

echo "integration: $pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# workers_equal.sh - replay with 1, 2 and 4 workers gives the same records.
#
#   tests/workers_equal.sh MG OUT [--capture file|pcap|dpdk] [CAPTURE...]
#
# Replays each capture (default: every scenario in pcaps/ with its own
# sensor.yaml, the demo, and the real captures of ../shared/data/pcaps that
# give findings or many flows) with --workers 1, 2 and 4, and requires the
# flow log, the DNS log and the findings file to be byte-identical to the
# one-worker run (issue #7: "the output of 1, 2 or 4 workers is the same set
# of findings"). It also requires that the work was really split: with 2
# and 4 workers every worker must have processed packets, and the packets
# counted over all workers must equal the one-worker count (a capture of
# fewer than 20 flows per worker may leave a worker idle).
#
# With --capture file (the default) classic pcap files are read in parts
# (replay_part_kb): 2 and 4 workers also run with parts of 1 KB, so that
# every capture has many parts and most records cross a part's end, and 2
# workers with replay_part_kb=0, where every worker reads every packet. The
# default cases add two hostile copies of the demo capture made here: one
# with a record whose length is past the limit in its middle (the file ends
# there, one bad record) and one cut inside its last record.
#
# Prints one line per capture, then "N passed, N failed"; exits 1 on a failure.
set -u
[ $# -ge 2 ] || { echo "usage: $0 MG OUT [--capture HOW] [CAPTURE...]" >&2; exit 2; }
MG=$1 OUT=$2
shift 2
HOW=file
if [ "${1:-}" = --capture ]; then HOW=$2; shift 2; fi
HERE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
pass=0 fail=0

cases=()
if [ $# -gt 0 ]; then
    for f in "$@"; do cases+=("-|$f"); done
else
    for d in "$HERE"/pcaps/*/; do
        [ -f "$d/input.pcap" ] && cases+=("$d/sensor.yaml|$d/input.pcap")
    done
    cases+=("$HERE/pcaps/demo/sensor.yaml|$HERE/pcaps/demo/mirror-demo.pcap")
    S="$HERE/../shared/data/pcaps"
    for f in zeek/ssh-bruteforce/sshguess.pcap peafowl/stratum.pcap ndpi/c2/emotet.pcap \
             ndpi/benign/1kxun.pcap ndpi/benign/weibo.pcap ndpi/tor/tor.pcap \
             domainator/iodine/iodine_upload-big_240731.pcapng ndpi/dns/dns_fragmented.pcap \
             zeek/vxlan/vxlan.pcap domainator/saitama/saitama_handshake-offline_240223.pcapng; do
        [ -f "$S/$f" ] && cases+=("-|$S/$f")
    done
    python3 - "$HERE/pcaps/demo/mirror-demo.pcap" "$OUT" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
le = d[:4] == b"\xd4\xc3\xb2\xa1" or d[:4] == b"\x4d\x3c\xb2\xa1"
f = "<I" if le else ">I"
offs, o = [], 24
while o + 16 <= len(d):
    offs.append(o)
    o += 16 + struct.unpack_from(f, d, o + 8)[0]
bad = bytearray(d)
struct.pack_into(f, bad, offs[len(offs) * 3 // 5] + 8, 0x7fffffff)   # caplen past the limit
open(sys.argv[2] + "/demo-bad-record.pcap", "wb").write(bad)
open(sys.argv[2] + "/demo-torn.pcap", "wb").write(d[:offs[-1] + 20])  # cut in the last record
PY
    cases+=("$HERE/pcaps/demo/sensor.yaml|$OUT/demo-bad-record.pcap")
    cases+=("$HERE/pcaps/demo/sensor.yaml|$OUT/demo-torn.pcap")
fi
# runs besides one worker: label, workers, --set
runs=("2|2|" "4|4|")
[ "$HOW" = file ] && runs+=("2p|2|replay_part_kb=1" "4p|4|replay_part_kb=1" "2a|2|replay_part_kb=0")

for c in "${cases[@]}"; do
    cfg=${c%%|*} cap=${c#*|}
    name=$(basename "$(dirname "$cap")")_$(basename "$cap")
    dir="$OUT/$name"
    mkdir -p "$dir"
    cargs=()
    [ "$cfg" = - ] || cargs=(-c "$cfg")
    bad=
    for r in "1|1|" "${runs[@]}"; do
        IFS='|' read -r l n set <<<"$r"
        sargs=()
        [ -z "$set" ] || sargs=(--set "$set")
        if ! "$MG" replay "${cargs[@]}" "${sargs[@]}" --capture "$HOW" --workers "$n" \
                --flows-out "$dir/flows.$l" --dns-out "$dir/dns.$l" \
                --findings-out "$dir/findings.$l" --stats-json "$dir/stats.$l.json" \
                "$cap" 2>"$dir/err.$l"; then
            bad="replay --workers $n $set failed: $(tail -1 "$dir/err.$l")"
            break
        fi
    done
    if [ -z "$bad" ]; then
        for r in "${runs[@]}"; do
            IFS='|' read -r l n set <<<"$r"
            for k in flows dns findings; do
                cmp -s "$dir/$k.1" "$dir/$k.$l" || bad="$bad $k differ with $n workers $set;"
            done
            # Every worker got a share, no packet was counted twice, and a
            # bad record was counted once.
            msg=$(python3 - "$dir/stats.1.json" "$dir/stats.$l.json" "$n" <<'PY'
import json, sys
one, many, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
pk = [w["packets"] for w in many.get("per_worker", [])]
bad = lambda s: s.get("capture", {}).get("bad_records", s.get("bad_records"))
if len(pk) != n:
    print("stats show %d workers, not %d" % (len(pk), n))
elif one["packets"] != many["packets"] or sum(pk) != one["packets"]:
    print("packets %d with 1 worker, %d (%s) with %d" % (one["packets"], many["packets"], pk, n))
elif one["flows"]["created"] >= 20 * n and min(pk) == 0:
    print("a worker processed nothing: %s" % pk)
elif bad(one) != bad(many):
    print("bad records %s with 1 worker, %s with %d" % (bad(one), bad(many), n))
elif [one[k] for k in ("packet_time_first_ns", "packet_time_last_ns")] != \
     [many[k] for k in ("packet_time_first_ns", "packet_time_last_ns")]:
    print("packet times differ from 1 worker's")
PY
)
            [ -z "$msg" ] || bad="$bad $msg;"
        done
    fi
    if [ -z "$bad" ]; then
        pass=$((pass+1))
        printf 'PASS %-40s %6s flow lines, %5s dns, %4s findings lines, same with 1/2/4 workers%s\n' \
            "$name" "$(wc -l <"$dir/flows.1")" "$(wc -l <"$dir/dns.1")" "$(wc -l <"$dir/findings.1")" \
            "$([ "$HOW" = file ] && echo ' (also in 1 KB parts, and each reading all)')"
    else
        fail=$((fail+1))
        printf 'FAIL %-40s %s\n' "$name" "$bad"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

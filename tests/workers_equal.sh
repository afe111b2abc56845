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
             zeek/vxlan/vxlan.pcap; do
        [ -f "$S/$f" ] && cases+=("-|$S/$f")
    done
fi

for c in "${cases[@]}"; do
    cfg=${c%%|*} cap=${c#*|}
    name=$(basename "$(dirname "$cap")")_$(basename "$cap")
    dir="$OUT/$name"
    mkdir -p "$dir"
    cargs=()
    [ "$cfg" = - ] || cargs=(-c "$cfg")
    bad=
    for n in 1 2 4; do
        if ! "$MG" replay "${cargs[@]}" --capture "$HOW" --workers "$n" \
                --flows-out "$dir/flows.$n" --dns-out "$dir/dns.$n" \
                --findings-out "$dir/findings.$n" --stats-json "$dir/stats.$n.json" \
                "$cap" 2>"$dir/err.$n"; then
            bad="replay --workers $n failed: $(tail -1 "$dir/err.$n")"
            break
        fi
    done
    if [ -z "$bad" ]; then
        for n in 2 4; do
            for k in flows dns findings; do
                cmp -s "$dir/$k.1" "$dir/$k.$n" || bad="$bad $k differ with $n workers;"
            done
            # Every worker got a share, and no packet was counted twice.
            msg=$(python3 - "$dir/stats.1.json" "$dir/stats.$n.json" "$n" <<'PY'
import json, sys
one, many, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
pk = [w["packets"] for w in many.get("per_worker", [])]
if len(pk) != n:
    print("stats show %d workers, not %d" % (len(pk), n))
elif one["packets"] != many["packets"] or sum(pk) != one["packets"]:
    print("packets %d with 1 worker, %d (%s) with %d" % (one["packets"], many["packets"], pk, n))
elif one["flows"]["created"] >= 20 * n and min(pk) == 0:
    print("a worker processed nothing: %s" % pk)
PY
)
            [ -z "$msg" ] || bad="$bad $msg;"
        done
    fi
    if [ -z "$bad" ]; then
        pass=$((pass+1))
        printf 'PASS %-40s %6s flow lines, %5s dns, %4s findings lines, same with 1/2/4 workers\n' \
            "$name" "$(wc -l <"$dir/flows.1")" "$(wc -l <"$dir/dns.1")" "$(wc -l <"$dir/findings.1")"
    else
        fail=$((fail+1))
        printf 'FAIL %-40s %s\n' "$name" "$bad"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

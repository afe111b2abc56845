#!/usr/bin/env bash
# run_scenarios.sh - replay every scenario capture and check its findings.
#
#   tests/run_scenarios.sh [--update] [--root DIR] MG OUT [CASE...]
#
# For each DIR/<case>/ (DIR defaults to pcaps/) that has a truth.json (made by
# scripts/gen-scenario.py), runs
#   MG replay -c DIR/<case>/sensor.yaml --findings-out OUT/<case>/findings.jsonl
#             --stats-json OUT/<case>/stats.json DIR/<case>/input.pcap
# and checks, on the last published version of each finding (type, local IP,
# remote IP or domain; counts of one key summed, as tests/check_findings.py
# does):
#   (a) every truth.json finding is there: count >= "min_count", or exactly
#       "count" when the entry has "count" instead (threat-lists' truth.json);
#   (b) no finding has a type listed in "forbidden_types";
#   (c) if DIR/<case>/expected.json exists (the golden file, {"findings":
#       [{type, local, remote, count}]}), the findings equal it exactly
#       (tests/check_findings.py);
#   (d) if truth.json has "max_latency_probes", the first expected finding
#       came within that many probes.
# Scan cases (truth.json "probes": the send time of every probe, in order)
# also print the detection latency in probes: how many probes had been sent
# (ts_ns, at the millisecond) when the finding was created (its first
# publication's createdAt, packet time; eventFirstSeen if it has none).
#
# --update (re)writes DIR/<case>/expected.json from the current output for
# the cases where (a), (b) and (d) hold (golden files are generated, then
# reviewed and committed, as nDPI's tests/do.sh does); (c) is not checked.
#
# Prints one line per case, then "N passed, N failed"; exits 1 if a case
# failed, 2 on a usage error. OUT/<case>/ keeps the findings, stats and the
# sensor's stderr for a look after a failure.
set -u

usage() { echo "usage: $0 [--update] [--root DIR] MG OUT [CASE...]" >&2; exit 2; }

UPDATE=0
ROOT=
while [ $# -gt 0 ]; do
    case "$1" in
        --update) UPDATE=1; shift ;;
        --root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
        -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || usage
MG=$1 OUT=$2
shift 2

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
MG=$(abspath "$MG")
OUT=$(abspath "$OUT")
[ -z "$ROOT" ] || ROOT=$(abspath "$ROOT")
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE" || exit 2
: "${ROOT:=$HERE/pcaps}"
[ -x "$MG" ] || { echo "$0: $MG: not an executable" >&2; exit 2; }
[ -d "$ROOT" ] || { echo "$0: $ROOT: no such directory" >&2; exit 2; }
mkdir -p "$OUT" || exit 2

# The checks (a), (b), (d), the latency and --update, on one case.
# argv: truth.json findings.jsonl expected.json update(0|1)
read -r -d '' CHECK_PY <<'PY'
import calendar
import json
import os
import sys

sys.path.insert(0, "tests")
from check_findings import key_of  # noqa: E402

truth_path, findings_path, expected_path, update = sys.argv[1:5]
truth = json.load(open(truth_path))
last, first_ns = {}, {}


def iso_ns(s):
    # 2024-05-01T12:00:00.117Z (any number of fraction digits, or none)
    s = s.rstrip("Z")
    main, _, frac = s.partition(".")
    sec = calendar.timegm(tuple(int(x) for x in
                                main.replace("T", "-").replace(":", "-").split("-")) + (0, 0, 0))
    return sec * 10**9 + int((frac + "000000000")[:9])


problems = []
for n, line in enumerate(open(findings_path), 1):
    if not line.strip():
        continue
    try:
        f = json.loads(line)
        k = key_of(f)
    except (ValueError, KeyError, IndexError, TypeError) as e:
        problems.append("findings line %d unreadable (%s)" % (n, e))
        continue
    last[f["id"]] = f
    t = f.get("createdAt") or f.get("service", {}).get("eventFirstSeen")
    if t:
        ns = iso_ns(t)
        if k not in first_ns or ns < first_ns[k]:
            first_ns[k] = ns
got = {}
for f in last.values():
    k = key_of(f)
    got[k] = got.get(k, 0) + f["service"]["count"]


def short(t):
    return t.split("/")[-1]


info = []
ok_ab = not problems
for e in truth.get("findings", []):
    k = (e["type"], e["local"], e["remote"])
    have = got.get(k, 0)
    if "min_count" in e:
        good, want = have >= e["min_count"], ">= %d" % e["min_count"]
    else:
        good, want = have == e["count"], "== %d" % e["count"]
    if not good:
        ok_ab = False
        problems.append("missing %s %s %s (count %s, got %d)" % (k + (want, have)))
forb = set(truth.get("forbidden_types", []))
for k in sorted(got):
    if k[0] in forb:
        ok_ab = False
        problems.append("forbidden %s %s %s (count %d)" % (k + (got[k],)))

probes = truth.get("probes")
if probes:
    for i, e in enumerate(truth.get("findings", [])):
        k = (e["type"], e["local"], e["remote"])
        if k not in first_ns:
            info.append("latency %s: not found (%d probes sent)" % (short(e["type"]), len(probes)))
            continue
        lim = (first_ns[k] // 10**6 + 1) * 10**6          # createdAt has ms precision
        lat = sum(1 for p in probes if p["ts_ns"] < lim)
        info.append("latency %s: %d of %d probes" % (short(e["type"]), lat, len(probes)))
        mx = truth.get("max_latency_probes")
        if i == 0 and mx is not None and lat > mx:
            ok_ab = False
            problems.append("latency %d probes > max_latency_probes %d" % (lat, mx))

info.insert(0, "%d finding%s" % (len(got), "" if len(got) == 1 else "s"))
if update == "1" and ok_ab:
    exp = [{"type": t, "local": l, "remote": r, "count": c} for (t, l, r), c in sorted(got.items())]
    with open(expected_path, "w") as f:
        json.dump({"findings": exp}, f, indent=1)
        f.write("\n")
    info.append("expected.json written")
print("; ".join(problems) if problems else "")
print(", ".join(info))
sys.exit(0 if ok_ab else 1)
PY

pass=0 fail=0 seen=0
for dir in "$ROOT"/*/; do
    dir=${dir%/}
    case=$(basename "$dir")
    [ -f "$dir/truth.json" ] || continue
    if [ $# -gt 0 ]; then
        want=0
        for c in "$@"; do [ "$c" = "$case" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    seen=$((seen + 1))
    o="$OUT/$case"
    mkdir -p "$o"
    rm -f "$o/findings.jsonl" "$o/stats.json"
    pcaps=("$dir"/*.pcap "$dir"/*.pcapng)
    inputs=()
    for p in "${pcaps[@]}"; do [ -f "$p" ] && inputs+=("$p"); done
    status=PASS msg=
    if [ ${#inputs[@]} = 0 ]; then
        status=FAIL msg="no capture in $dir"
    elif ! "$MG" replay -c "$dir/sensor.yaml" --findings-out "$o/findings.jsonl" \
            --stats-json "$o/stats.json" "${inputs[@]}" >"$o/stdout" 2>"$o/stderr"; then
        status=FAIL msg="replay failed: $(grep -v '^ ' "$o/stderr" | tail -n 1)"
    else
        res=$(python3 -c "$CHECK_PY" "$dir/truth.json" "$o/findings.jsonl" \
              "$dir/expected.json" "$UPDATE" 2>&1)
        rc=$?
        problems=$(printf '%s\n' "$res" | sed -n 1p)
        info=$(printf '%s\n' "$res" | sed -n '2,$p' | tr '\n' ' ' | sed 's/ *$//')
        if [ $rc != 0 ]; then
            status=FAIL msg="${problems:-check failed}${info:+ [$info]}"
        else
            msg=$info
            if [ $UPDATE = 0 ] && [ -f "$dir/expected.json" ]; then
                if python3 tests/check_findings.py "$dir/expected.json" "$o/findings.jsonl" \
                        >"$o/golden.txt" 2>&1; then
                    msg="$msg, matches expected.json"
                else
                    status=FAIL
                    msg="$msg; differs from expected.json: $(grep -c '^MISMATCH' "$o/golden.txt") mismatches (see $o/golden.txt): $(grep -m 3 '^MISMATCH' "$o/golden.txt" | sed 's/^MISMATCH //' | tr '\n' ';')"
                fi
            fi
        fi
    fi
    printf '%s %-16s %s\n' "$status" "$case" "$msg"
    if [ $status = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
[ $seen -gt 0 ] || { echo "$0: no scenario with a truth.json under $ROOT${1:+ matching $*}" >&2; exit 2; }
echo "$pass passed, $fail failed"
[ $fail = 0 ]

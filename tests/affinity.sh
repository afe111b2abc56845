#!/usr/bin/env bash
# tests/affinity.sh - the sensor's threads stay on the CPUs it is given.
#
#   tests/affinity.sh MG OUT
#
# 'mirrorguard run' captures live on the loopback interface (root needed; no
# traffic needed: the threads are what is looked at), and every thread's
# Cpus_allowed_list is read from /proc:
# 1. Started on the last CPU only (taskset): every thread stays there. (Until
#    session 8 the worker was pinned to CPU 0 whatever the sensor was given.)
# 2. Started on every CPU with one worker: the worker has the first CPU to
#    itself, and the detection and output threads have the others.
# Exit 0 = pass; prints 'skip: REASON' and exits 0 when this machine cannot
# do it (not root, fewer than two CPUs it may run on, no taskset).
set -u
MG=${1:?usage: affinity.sh MG OUT}
OUT=${2:?usage: affinity.sh MG OUT}
fail() { echo "affinity: FAIL: $*"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; exit 1; }
skip() { echo "skip: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "live capture needs root"
command -v taskset >/dev/null 2>&1 || skip "no taskset (util-linux)"
# The CPUs this test may use (a container's cpuset may hide some).
read -r -a CPUS < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))' 2>/dev/null)
[ "${#CPUS[@]}" -ge 2 ] || skip "fewer than two CPUs to run on"
mkdir -p "$OUT" || fail "$OUT: not a usable directory"
CFG=$OUT/affinity.yaml
cat > "$CFG" <<YAML
account_id: "123456789012"
capture:
  source: pcap
  interface: lo
outputs:
  findings_path: "$OUT/affinity-findings.jsonl"
  flows_path: "$OUT/affinity-flows.jsonl"
mirror_sessions:
  - vni: 1
    eni: eni-0123456789abcdef0
YAML

# start_run CPUS: the sensor in the background on CPUS; waits for its threads.
start_run() {
    taskset -c "$1" "$MG" run -c "$CFG" --workers 1 2>"$OUT/affinity.err" &
    PID=$!
    for _ in $(seq 100); do
        grep -qx mg-output /proc/$PID/task/*/comm 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || fail "the sensor exited: $(tail -1 "$OUT/affinity.err")"
        sleep 0.05
    done
    fail "no mg-output thread after 5 s"
}
# cpus_of NAME: Cpus_allowed_list of the sensor's thread called NAME.
cpus_of() {
    local t
    for t in /proc/$PID/task/*; do
        if [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ]; then
            awk '/^Cpus_allowed_list:/ {print $2}' "$t/status"
            return
        fi
    done
    echo "none"
}
stop_run() {
    kill -TERM "$PID" 2>/dev/null
    wait "$PID" || fail "exit status $? after SIGTERM: $(tail -1 "$OUT/affinity.err")"
    PID=
}

# expand LIST: a kernel CPU list ("0-2,5") as space-separated numbers
expand() {
    python3 -c '
import sys
out = []
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    out += range(int(a), int(b or a) + 1)
print(*out)' "$1"
}

FIRST=${CPUS[0]} LAST=${CPUS[${#CPUS[@]}-1]}
start_run "$LAST"
sleep 0.3                               # the pinning happens right after the threads start
n=0
for t in /proc/$PID/task/*; do
    c=$(awk '/^Cpus_allowed_list:/ {print $2}' "$t/status")
    [ "$c" = "$LAST" ] || fail "thread $(cat "$t/comm") runs on CPUs $c, not only on $LAST as the sensor was given"
    n=$((n + 1))
done
[ "$n" -ge 4 ] || fail "only $n threads seen"
stop_run
echo "affinity: 1. on CPU $LAST only: all $n threads stay there"

ALL=$(IFS=,; echo "${CPUS[*]}")
REST="${CPUS[*]:1}"
start_run "$ALL"
sleep 0.3
w=$(expand "$(cpus_of mg-worker0)") d=$(expand "$(cpus_of mg-detect)") o=$(expand "$(cpus_of mg-output)")
[ "$w" = "$FIRST" ] || fail "worker on CPUs $w, not on CPU $FIRST alone"
[ "$d" = "$REST" ] && [ "$o" = "$REST" ] || fail "detection on $d and output on $o, not on $REST"
stop_run
echo "affinity: 2. on CPUs $ALL: worker on $FIRST, detection and output on $REST"
echo "affinity: PASS"

#!/usr/bin/env bash
# tests/rejected_sync.sh - a finding Redis rejects is on disk before it
# counts as kept.
#
#   tests/rejected_sync.sh UNIT_TESTS OUT
#
# Runs the unit tests' Redis suite (a real redis-server; its server-errors
# test makes the server reject one finding) under strace and reads what the
# sensor did with <spool>/rejected.jsonl, the rejected finding's only copy:
# every write to it must be followed by an fdatasync of it before it is
# closed (sensor/report_redis.c, reject()). Exit 0 = pass.
set -u
UT=${1:?usage: rejected_sync.sh UNIT_TESTS OUT}
OUT=${2:?usage: rejected_sync.sh UNIT_TESTS OUT}
fail() { echo "rejected_sync: FAIL: $*"; exit 1; }
command -v strace >/dev/null 2>&1 || fail "strace not installed (scripts/install-deps.sh installs it)"
UT=$(cd "$(dirname "$UT")" && pwd)/$(basename "$UT")
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || fail "$OUT: not a usable directory"
cd "$(dirname "$0")" || exit 1                      # the unit tests run from tests/
strace -f -qq -y -e trace=openat,write,fdatasync,close -o "$OUT/rejected.strace" \
    "$UT" redis >"$OUT/rejected.out" 2>&1 || fail "the Redis suite failed: $(tail -3 "$OUT/rejected.out")"
python3 - "$OUT/rejected.strace" <<'PY'
import re, sys
# strace -y prints a descriptor with its path: write(5</tmp/x/rejected.jsonl>, ...
pat = re.compile(r'^(\d+)\s+(write|fdatasync|close)\((\d+)<([^>]*rejected\.jsonl)>')
writes = syncs = closes = 0
pending = {}                 # (pid, fd): written since the last sync
bad = []
for line in open(sys.argv[1], errors='replace'):
    m = pat.match(line)
    if not m:
        continue
    pid, call, fd, path = m.groups()
    key = (pid, fd)
    if call == 'write':
        writes += 1
        pending[key] = True
    elif call == 'fdatasync':
        if ' = 0' in line:
            syncs += 1
            pending[key] = False
    elif call == 'close':
        closes += 1
        if pending.get(key):
            bad.append(line.strip())
        pending.pop(key, None)
if writes == 0:
    sys.exit("rejected_sync: FAIL: no write to rejected.jsonl seen (did the server reject nothing?)")
if bad:
    sys.exit("rejected_sync: FAIL: closed without fdatasync after a write: " + bad[0])
print("rejected_sync: ok (%d writes to rejected.jsonl, %d fdatasync, %d closes; every write synced "
      "before its close)" % (writes, syncs, closes))
PY

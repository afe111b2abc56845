#!/usr/bin/env bash
# tests/redis_e2e.sh MG OUT - the sensor delivering findings to a real
# redis-server on a free loopback port: fields in the stream, hash and
# indexes; exactly-once delivery when Redis is killed and restarted during a
# replay that produces thousands of findings; a sensor restart with a
# non-empty spool; AUTH with a wrong password failing clearly without
# printing the secret. Exit 0 = pass; prints what failed.
set -u
MG=$1
OUT=$2/redis-$$
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/install-deps.sh"; exit 1; }
PY=python3
fail=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rcli() { redis-cli -p "$PORT" "$@"; }
start_redis() { # extra args...
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --dir "$OUT/data" \
        --appendonly yes --appendfsync always --daemonize no "$@" >"$OUT/redis.log" 2>&1 &
    RPID=$!
    pids+=("$RPID")
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ${REDISCLI_AUTH:+-a "$REDISCLI_AUTH"} ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "redis-server did not start"; cat "$OUT/redis.log"; return 1
}
check() { # description, condition command...
    local d=$1; shift
    if "$@"; then echo "  ok   $d"; else echo "  FAIL $d"; fail=1; fi
}
# Published lines and distinct ids in a findings file; stream stats.
n_lines() { wc -l <"$1" | tr -d ' '; }
stream_dupes() { # number of seq values that occur more than once in the stream
    rcli --raw XRANGE mirrorguard:findings - + | awk 'prev=="seq"{print} {prev=$0}' | sort | uniq -d | wc -l | tr -d ' '
}

PORT=$(free_port)
mkdir -p "$OUT/data"
start_redis || exit 1
URL="redis://127.0.0.1:$PORT/0"

# ---- 1. fields: the 48 findings of the threat-lists scenario
S=pcaps/threat-lists
"$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=$URL" --set "outputs.redis.spool_dir=$OUT/spool1" \
    --findings-out "$OUT/f1.jsonl" $S/input.pcap 2>"$OUT/e1.log"
check "replay with redis exits 0" test $? = 0
pub=$(n_lines "$OUT/f1.jsonl")
check "stream has every publication ($pub)" test "$(rcli XLEN mirrorguard:findings)" = "$pub"
id=$(head -1 "$OUT/f1.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "finding hash holds json and fields" test "$(rcli HGET "mirrorguard:finding:$id" type)" != ""
ids=$($PY -c 'import json,sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$OUT/f1.jsonl")
check "by-updated index has every finding ($ids)" test "$(rcli ZCARD mirrorguard:by-updated)" = "$ids"
check "by-severity index has every finding" test "$(rcli ZCARD mirrorguard:by-severity)" = "$ids"
env1=$(rcli --raw XRANGE mirrorguard:findings - + COUNT 1 | tr '\n' ' ')
check "stream entry is an EventBridge-like envelope" sh -c "echo '$env1' | grep -q 'detail-type GuardDuty Finding source mirrorguard time'"
rcli DEL mirrorguard:findings >/dev/null

# ---- 2. kill -9 and restart Redis during a replay of ~8,000 publications
python3 scripts/gen-scenario.py threat-lists --out "$OUT/big" --hits 5000 --seed 5 >/dev/null
"$MG" replay -c "$OUT/big/sensor.yaml" --set "outputs.redis.url=$URL" \
    --set "outputs.redis.spool_dir=$OUT/spool2" --set outputs.redis.command_timeout_ms=500 \
    --findings-out "$OUT/f2.jsonl" --stats-json "$OUT/s2.json" "$OUT/big/input.pcap" 2>"$OUT/e2.log" &
mgpid=$!
pids+=("$mgpid")
# kill once the sensor is delivering (the first entries are in the stream)
for _ in $(seq 200); do
    [ "$(rcli XLEN mirrorguard:findings 2>/dev/null)" -gt 0 ] 2>/dev/null && break
    sleep 0.01
done
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
sleep 1
start_redis || exit 1
wait "$mgpid"
rc=$?
check "replay exits 0 across a Redis kill" test "$rc" = 0
pub=$(n_lines "$OUT/f2.jsonl")
# what did not make it before exit is in the spool: a second, empty run delivers it
"$MG" replay -c "$OUT/big/sensor.yaml" --set "outputs.redis.url=$URL" \
    --set "outputs.redis.spool_dir=$OUT/spool2" --findings-out /dev/null \
    $S/input.pcap --set 'lists.threat=[]' 2>"$OUT/e2b.log"
check "every publication delivered after the kill ($pub)" test "$(rcli XLEN mirrorguard:findings)" = "$pub"
check "no publication delivered twice" test "$(stream_dupes)" = 0
lost=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["redis"]["lost"])' "$OUT/s2.json")
check "nothing counted lost" test "$lost" = 0
rcli DEL mirrorguard:findings >/dev/null

# ---- 3. Redis down for the whole run: everything spooled, delivered at the next start
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
"$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=$URL" --set "outputs.redis.spool_dir=$OUT/spool3" \
    --set outputs.redis.connect_timeout_ms=200 --set outputs.redis.command_timeout_ms=200 \
    --findings-out "$OUT/f3.jsonl" $S/input.pcap 2>"$OUT/e3.log"
check "replay with Redis down exits 0 and says so" grep -qi 'redis' "$OUT/e3.log"
check "spool holds the findings" test -s "$OUT/spool3/spool.dat"
start_redis || exit 1
"$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=$URL" --set "outputs.redis.spool_dir=$OUT/spool3" \
    --findings-out /dev/null --set 'lists.threat=[]' $S/input.pcap 2>"$OUT/e3b.log"
check "the spool of the first run is delivered by the second ($(n_lines "$OUT/f3.jsonl"))" \
    test "$(rcli XLEN mirrorguard:findings)" = "$(n_lines "$OUT/f3.jsonl")"
rcli DEL mirrorguard:findings >/dev/null

# ---- 4. AUTH: a wrong password fails clearly and is never printed
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
REDISCLI_AUTH=right-secret-123 start_redis --requirepass right-secret-123 || exit 1
export REDISCLI_AUTH=right-secret-123
MG_REDIS_PW=wrong-secret-456 "$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=$URL" \
    --set outputs.redis.password_env=MG_REDIS_PW --set "outputs.redis.spool_dir=$OUT/spool4" \
    --set outputs.redis.command_timeout_ms=200 --findings-out /dev/null $S/input.pcap 2>"$OUT/e4.log"
check "wrong password: AUTH failure reported" grep -q 'AUTH failed' "$OUT/e4.log"
check "wrong password: the secret is not printed" sh -c "! grep -q wrong-secret-456 '$OUT/e4.log'"
MG_REDIS_PW=right-secret-123 "$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=$URL" \
    --set outputs.redis.password_env=MG_REDIS_PW --set "outputs.redis.spool_dir=$OUT/spool4" \
    --findings-out "$OUT/f4.jsonl" $S/input.pcap 2>"$OUT/e4b.log"
check "right password: findings delivered (spooled ones too)" \
    test "$(rcli XLEN mirrorguard:findings)" -ge "$(n_lines "$OUT/f4.jsonl")"
unset REDISCLI_AUTH

# ---- 5. nowhere to put findings: Redis unreachable, no spool, the findings
# and flow files on a full disk. Every loss is counted and said: the
# findings file's error when the first line fails (not only at exit), both
# files at exit, and the findings lost at close in the stats.
ln -sf /dev/full "$OUT/full-findings"
ln -sf /dev/full "$OUT/full-flows"
"$MG" replay -c $S/sensor.yaml --set "outputs.redis.url=redis://127.0.0.1:$(free_port)/0" \
    --set 'outputs.redis.spool_dir=' --set outputs.redis.connect_timeout_ms=50 \
    --set outputs.redis.queue_size=16 \
    --set outputs.redis.command_timeout_ms=100 --findings-out "$OUT/full-findings" \
    --flows-out "$OUT/full-flows" --stats-json "$OUT/st5.json" $S/input.pcap 2>"$OUT/e5.log"
check "nowhere to deliver: exit 1" test $? = 1
check "the findings file's error is said when it happens" grep -q 'finding lines lost from here' "$OUT/e5.log"
check "the memory queue holds outputs.redis.queue_size (16), the loss beyond it is said" \
    grep -q 'LOST (1 so far): memory queue full (16)' "$OUT/e5.log"
# (a flow log long enough to need a write before the end: the big capture)
"$MG" replay -c "$OUT/big/sensor.yaml" --flows-out /dev/full --findings-out /dev/null \
    "$OUT/big/input.pcap" 2>"$OUT/e5b.log"
check "the flow log's error is said when it happens" grep -q 'flow records lost from here' "$OUT/e5b.log"
check "both files' errors are said at exit" sh -c \
    "grep -q 'writing $OUT/full-findings failed: .*(records lost)' '$OUT/e5.log' &&
     grep -q 'writing $OUT/full-flows failed: .*(records lost)' '$OUT/e5.log'"
read -r lost pub5 < <($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["redis"]["lost"], d["findings"]["published"])' "$OUT/st5.json")
check "stats count every publication as lost ($lost of $pub5)" test "$lost" = "$pub5" -a "$pub5" -gt 0
# Every line written to /dev/full is lost, and counted so: the flow log's
# (its records and its header line) and the findings file's (one line per
# publication).
read -r fl fll xl < <($PY -c 'import json,sys; o=json.load(open(sys.argv[1]))["output"]; print(o["flow_lines"], o["flow_lines_lost"], o["finding_lines_lost"])' "$OUT/st5.json")
check "stats count every flow log line as lost ($fll of $fl records + header) and every findings file line ($xl of $pub5)" \
    test "$fll" = $((fl + 1)) -a "$fl" -gt 0 -a "$xl" = "$pub5"
check "the stats line says what the writes lost" grep -q "output LOST (writes failed): $fll flow log lines, 0 dns lines, $pub5 findings file lines" "$OUT/e5.log"

if [ "$fail" != 0 ]; then
    for f in "$OUT"/e*.log; do echo "--- $f"; tail -5 "$f"; done
fi
exit $fail

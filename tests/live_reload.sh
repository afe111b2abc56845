#!/usr/bin/env bash
# tests/live_reload.sh - SIGHUP reloads the threat/trusted lists and the
# suppression rules of a live 'mirrorguard run' under traffic, without
# losing a packet, and a bad reload keeps the previous version in force.
#
#   tests/live_reload.sh MG OUT
#
# MG is the mirrorguard binary, OUT a scratch directory. Traffic runs only on
# a veth pair inside a network namespace of our own (no addresses, no routes,
# IPv6 off; see tests/live_veth.sh); the namespace, the sensor and our files
# are removed on exit (the files are kept when the test fails).
#
# A threat-lists scenario (scripts/gen-scenario.py) is cut into whole
# connections and dealt into three captures:
#   half 1  the connections to list-A addresses (and some to list-B ones)
#   half 2  the connections to list-B addresses (and some to list-A ones)
#   batch 3 every connection to one more list-B address, one to a list-A one
# 1. 'mirrorguard run' (threat list = A) captures half 1; we wait until every
#    flow of it has been written (so detected) by the periodic stats.
# 2. While 1000 connections to an unlisted address are being captured (3 s
#    of traffic), the threat list becomes B and a suppression rule archives
#    one list-B address; SIGHUP; stderr says "reloaded" before that traffic
#    ends; then half 2; wait for its flows.
# 3. Bad reloads: a threat list with no valid entry, then (threat list back
#    to A) a configuration with a YAML error: each SIGHUP must be refused on
#    stderr naming the file at fault; then batch 3; SIGTERM.
# Checks: exit 0; stats packets = every packet sent, capture and ring drops
# 0; each list-A address's finding counts exactly its half-1 connections and
# was last seen before the reload; each list-B address's counts exactly its
# half-2 (batch-3) connections, first seen after the (refused) reloads, though
# some were contacted in half 1 too; the rule's address is archived, no other
# is; no other finding; "reloaded" exactly once.
#
# Exit 0 = pass; non-zero = fail (the reason is printed). Prints one
# 'skip: REASON' line and exits 0 only when this machine cannot do it at all
# (not root, no network namespaces, no veth).
set -u

. "$(dirname "$0")/veth_lib.sh"
veth_args live_reload "$@"

NS=mg-reload-$$
IF_CAP=mrc$$                    # capture end (<= 15 characters)
IF_TX=mrt$$                     # tcpreplay end
W=$OUT/reload-$$                # our files
MGPID=""
FILLPID=""                      # tcpreplay of the filler, in the background
PASSED=0


# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    if [ -n "$FILLPID" ] && kill -0 "$FILLPID" 2>/dev/null; then
        kill "$FILLPID" 2>/dev/null
        wait "$FILLPID" 2>/dev/null
    fi
    if [ -n "$MGPID" ] && kill -0 "$MGPID" 2>/dev/null; then
        kill -9 "$MGPID" 2>/dev/null
        wait "$MGPID" 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null         # takes the veth pair with it
    if [ "$PASSED" = 1 ]; then
        rm -rf "$W"
    elif [ -d "$W" ]; then
        echo "live_reload: files kept in $W"
    fi
}
veth_traps cleanup

# ---- can this machine do it at all? Then the namespace and its veth pair.
veth_require "live reload test"
rm -rf "$W"
mkdir -p "$W" || fail "cannot create $W"
veth_setup

# ---- the scenario, dealt into three captures and two lists
"$PY" scripts/gen-scenario.py threat-lists --out "$W/scn" --hits 200 --seed 7 \
    >"$W/gen.out" 2>&1 || fail "gen-scenario.py: $(tail -3 "$W/gen.out")"
cp "$W/scn/sensor.yaml" "$W/scn/trusted.txt" "$W/" ||
    fail "cannot copy the scenario's configuration"

# Prints "N1 N2 N3 NF SUPPRESSED_IP"; writes half1/half2/batch3.pcap,
# filler.pcap, listA.txt, listB.txt and expect.json ({ip: {count, phase,
# archived}}).
read -r N1 N2 N3 NF SUPP < <("$PY" - "$W/scn" "$W" <<'EOF'
import ipaddress, json, os, sys
sys.path.insert(0, 'scripts')
import mgpkt as P

scn, w = sys.argv[1], sys.argv[2]
LOCAL = {ipaddress.ip_address('10.0.1.10'), ipaddress.ip_address('fd00::10')}

def entries(path):
    out = []
    for line in open(path):
        line = line.split('#', 1)[0].strip()
        if line:
            out.append(line)
    return out

trusted = set(entries(os.path.join(scn, 'trusted.txt')))
listed = set()
for e in entries(os.path.join(scn, 'threat.txt')):
    try:
        a = ipaddress.ip_address(e)
    except ValueError:
        continue                        # domains: not in our lists
    if a.version == 4:
        listed.add(str(a))

def inner(data):
    """The mirrored frame inside outer Ethernet/IPv4/UDP/VXLAN."""
    ihl = (data[14] & 15) * 4
    return data[14 + ihl + 16:]

def remote_of(fr):
    et = fr[12] << 8 | fr[13]
    if et == 0x0800:
        a, b = fr[26:30], fr[30:34]
    elif et == 0x86DD:
        a, b = fr[22:38], fr[38:54]
    else:
        raise SystemExit('unexpected inner ethertype %#x' % et)
    a, b = ipaddress.ip_address(bytes(a)), ipaddress.ip_address(bytes(b))
    return str(b if a in LOCAL else a)

# Whole connections: runs of frames of one inner flow.
conns = []
prev = None
with open(os.path.join(scn, 'input.pcap'), 'rb') as f:
    for ts, lt, data, wl in P.read_packets(f):
        fr = inner(data)
        k = P.inner_flow_key(fr)
        if k != prev:
            conns.append({'remote': remote_of(fr), 'frames': []})
            prev = k
        conns[-1]['frames'].append(data)

# Listed IPv4 addresses the instance connects to, in order of first contact
# (the trusted one stays in both lists: it must never make a finding).
order = []
nconn = {}
for c in conns:
    r = c['remote']
    if r in listed and r not in trusted and r != '192.0.2.250':
        if r not in nconn:
            order.append(r)
        nconn[r] = nconn.get(r, 0) + 1
half = len(order) // 2
A, B = order[:half], order[half:]
multiA = [ip for ip in A if nconn[ip] >= 2]
multiB = [ip for ip in B if nconn[ip] >= 2]
if len(multiA) < 8 or len(multiB) < 8:
    raise SystemExit('scenario has too few repeated addresses')
crossA = set(multiA[:6])            # last connection goes to half 2
a3 = multiA[6]                      # last connection goes to batch 3
crossB = set(multiB[:6])            # first connection goes to half 1
x3 = multiB[6]                      # every connection goes to batch 3
supp = next(ip for ip in B if ip not in crossB and ip != x3)

phase = []                          # per connection: 1, 2 or 3
seen = {}
for i, c in enumerate(conns):
    r = c['remote']
    n = seen[r] = seen.get(r, 0) + 1
    if r in A:
        p = 1
        if r in crossA and n == nconn[r]:
            p = 2
        if r == a3 and n == nconn[r]:
            p = 3
    elif r in B:
        p = 2
        if r in crossB and n == 1:
            p = 1
        if r == x3:
            p = 3
    else:                           # benign, trusted, scanner, DNS, IPv6
        p = 1 if i < len(conns) // 2 else 2
    phase.append(p)

t = 1714564800 * 10**9
counts = []
for p in (1, 2, 3):
    with open(os.path.join(w, ('half1', 'half2', 'batch3')[p - 1] + '.pcap'), 'wb') as f:
        pw = P.PcapWriter(f)
        for c, cp in zip(conns, phase):
            if cp == p:
                for data in c['frames']:
                    t += 200_000
                    pw.write(t, data)
        counts.append(pw.count)

exp = {}
for c, p in zip(conns, phase):
    r = c['remote']
    if (r in A and p == 1) or (r in B and p >= 2):
        e = exp.setdefault(r, {'count': 0, 'phase': p, 'archived': r == supp})
        e['count'] += 1
assert all(exp[ip]['phase'] == 1 for ip in A) and exp[x3]['phase'] == 3
assert all(exp[ip]['phase'] == 2 for ip in B if ip != x3)
with open(os.path.join(w, 'expect.json'), 'w') as f:
    json.dump(exp, f, indent=1, sort_keys=True)
# Filler: traffic that runs while the reload happens, to an address on no
# list (so it makes flows, never findings): 1000 closed connections.
FILL = '192.0.2.10'
assert FILL not in listed and FILL not in trusted
with open(os.path.join(w, 'filler.pcap'), 'wb') as f:
    pw = P.PcapWriter(f)
    web = '10.0.1.10'
    for i in range(1000):
        sp, s0, a0 = 40000 + i, 1000 * i, 5000 * i
        for src, dst, l4 in (
                (web, FILL, P.tcp(web, FILL, sp, 443, s0, 0, 'S')),
                (FILL, web, P.tcp(FILL, web, 443, sp, a0, s0 + 1, 'SA')),
                (web, FILL, P.tcp(web, FILL, sp, 443, s0 + 1, a0 + 1, 'A')),
                (web, FILL, P.tcp(web, FILL, sp, 443, s0 + 1, a0 + 1, 'FA')),
                (FILL, web, P.tcp(FILL, web, 443, sp, a0 + 1, s0 + 2, 'FA')),
                (web, FILL, P.tcp(web, FILL, sp, 443, s0 + 2, a0 + 2, 'A'))):
            macs = ('0a:00:00:00:00:01', '0a:00:00:00:01:0a')
            fr = P.eth(*(macs if src == web else macs[::-1]), P.ip_packet(src, dst, 6, l4))
            t += 200_000
            pw.write(t, P.vxlan_wrap(fr, '10.0.1.10', '10.0.0.200', 4211))
    counts.append(pw.count)
tr = sorted(trusted)
for name, ips in (('listA.txt', A), ('listB.txt', B)):
    with open(os.path.join(w, name), 'w') as f:
        f.write('# live_reload.sh: %s\n' % name)
        f.write(''.join(ip + '\n' for ip in list(ips) + tr))
print(counts[0], counts[1], counts[2], counts[3], supp)
EOF
)
if [ -z "${SUPP:-}" ] || [ ! -s "$W/expect.json" ]; then
    fail "cannot split the scenario capture"
fi
NTOT=$((N1 + NF + N2 + N3))

# ---- configuration: the scenario's, capturing on our veth; settings for the
# test on the command line (re-applied by every reload)
CFG=$W/sensor.yaml
cat >>"$CFG" <<EOF

capture:
  source: pcap
  interface: $IF_CAP
  immediate: true
  promiscuous: true
  buffer_mb: 64
  timeout_ms: 50
EOF
cp "$CFG" "$W/cfg0.yaml"
{
    cat "$W/cfg0.yaml"
    cat <<EOF

suppression_rules:
  - name: live-reload-archive
    action: archive
    criteria:
      remote_ip: [$SUPP/32]
EOF
} >"$W/cfg1.yaml"
{ cat "$W/cfg1.yaml"; printf 'broken: [unclosed\n'; } >"$W/cfg2.yaml"
printf '# live_reload.sh: no valid entry\nnot-an-address!\n999.1.2.3\n' >"$W/listbad.txt"

# Every connection closes, so its flow record (and finding) comes out 1-2 s
# after its last packet. Not 1: a flow times out at the whole second of its
# last packet plus the timeout, so with 1 the final ACK of a connection,
# 0.5 ms after its FIN, can make a flow (and a finding) of its own when a
# second boundary falls between them.
SETS=(--set findings.publishing_frequency=1 --set outputs.stats_interval=1
      --set flows.tcp_closed_timeout=2 --set flows.udp_timeout=2
      --set flows.tcp_syn_timeout=2 --set flows.icmp_timeout=2
      --set flows.other_timeout=2 --set flows.active_timeout=600
      --set flows.tcp_established_timeout=600)

# put SRC DST: replace a file the sensor reads in one step
put() {
    if ! cp "$1" "$2.tmp" || ! mv -f "$2.tmp" "$2"; then
        fail "cannot write $2"
    fi
}
indent() { sed 's/^/     /'; }
put "$W/listA.txt" "$W/threat.txt"
"$MG" check-config -c "$W/cfg1.yaml" "${SETS[@]}" >/dev/null 2>"$W/cfg.err" ||
    fail "configuration refused: $(head -3 "$W/cfg.err")"

ERR=$W/run.err
# ---- helpers
start_mg() {
    ip netns exec "$NS" "$MG" run -c "$CFG" "${SETS[@]}" \
        --flows-out "$W/run.flows" --findings-out "$W/run.findings" \
        --stats-json "$W/run.stats.json" </dev/null >"$W/run.out" 2>"$ERR" &
    MGPID=$!
    if mg_wait_started "$ERR" "$MGPID"; then
        [ "$(cat /proc/$MGPID/comm 2>/dev/null)" = mirrorguard ] ||
            fail "pid $MGPID is not mirrorguard"
        return 0
    fi
    wait "$MGPID" 2>/dev/null; local rc=$?
    MGPID=""
    sed 's/^/     /' "$ERR" | head -20
    fail "mirrorguard did not start capturing on $IF_CAP (exit $rc)"
}

alive() {
    kill -0 "$MGPID" 2>/dev/null && return 0
    sed 's/^/     /' "$ERR" | tail -20
    fail "mirrorguard exited during the test ($1)"
}

# send PCAP: tcpreplay from the other end of the pair, every packet sent
send() {
    alive "before sending $(basename "$1")"
    inns tcpreplay -q -i "$IF_TX" --pps 2000 "$1" >"$W/tcpreplay.out" 2>&1 || {
        sed 's/^/     /' "$W/tcpreplay.out" | head -20
        fail "tcpreplay $(basename "$1") failed"
    }
    sent_all "$1" "$W/tcpreplay.out"
}
sent_all() {
    grep -q "Failed packets: *0\b" "$2" || {
        sed 's/^/     /' "$2" | head -20
        fail "tcpreplay could not send every packet of $(basename "$1")"
    }
}

# blocks: "packets created records flow_lines" of each complete periodic
# stats block on stderr
blocks() {
    awk '/^mirrorguard: [0-9]+ packets/ { p = $2 }
         /^  flows: [0-9]+ created/    { c = $2; r = $4 }
         /^  output: [0-9]+ flow log/  { print p, c, r, $2 }' "$ERR"
}

# settled WANT WHAT: until two stats blocks in a row (1 s apart) say the
# same: WANT packets, every flow created has ended, and the number of flow
# log lines written (after detection) did not move - at most 15 s
settled() {
    local want=$1 what=$2 a b
    for _ in $(seq 150); do
        alive "waiting for $what"
        a=$(blocks | tail -2 | head -1)
        b=$(blocks | tail -1)
        if [ -n "$b" ] && [ "$a" = "$b" ]; then
            # shellcheck disable=SC2086  # four numbers
            set -- $b
            [ "$1" = "$want" ] && [ "$2" = "$3" ] && [ "$2" -gt 0 ] &&
                return 0
        fi
        sleep 0.1
    done
    sed 's/^/     /' "$ERR" | tail -12
    fail "$what: flows not all written within 15 s (want $want packets; last stats: ${b:-none})"
}

# reload WHAT OK|REFUSED FILE: SIGHUP, then until stderr (after what it
# already held) says reloaded or refused - at most 10 s. FILE, when given,
# must be named in what it said.
reload() {
    local what=$1 want=$2 file=${3:-} from new
    from=$(($(wc -l <"$ERR") + 1))
    kill -HUP "$MGPID" 2>/dev/null || fail "$what: mirrorguard died before SIGHUP"
    for _ in $(seq 100); do
        new=$(tail -n +"$from" "$ERR" | grep -v -e '^mirrorguard: [0-9]* packets' -e '^  ')
        case $new in
            *"mirrorguard: reloaded lists"*|*"mirrorguard: reload refused"*) break ;;
        esac
        alive "$what"
        sleep 0.1
    done
    case $want:$new in
        OK:*"mirrorguard: reload refused"*|REFUSED:*"mirrorguard: reloaded lists"*)
            indent <<<"$new"
            fail "$what: want $want" ;;
        OK:*"mirrorguard: reloaded lists and suppression rules from $CFG (1 threat lists, 1 rules)"*) ;;
        REFUSED:*"mirrorguard: reload refused, previous lists and rules stay in force"*) ;;
        *)
            indent <<<"$new"
            fail "$what: no 'reloaded' or 'reload refused' line on stderr within 10 s" ;;
    esac
    if [ -n "$file" ] && ! grep -qF "$file" <<<"$new"; then
        indent <<<"$new"
        fail "$what: the refusal does not name $file"
    fi
    echo "$new" >"$W/reload-$what.err"
}

now() { echo "$EPOCHREALTIME"; }

# ---- 1. list A, half 1
put "$W/cfg0.yaml" "$CFG"
T_START=$(now)
start_mg
send "$W/half1.pcap"
settled "$N1" "half 1"
T_HUP=$(now)

# ---- 2. list B and a suppression rule, put in force while the filler
# (1000 connections to an unlisted address, 3 s) is being captured; half 2
inns tcpreplay -q -i "$IF_TX" --pps 2000 "$W/filler.pcap" >"$W/filler.out" 2>&1 &
FILLPID=$!
for _ in $(seq 50); do                  # until capture has seen some filler
    [ "$(blocks | tail -1 | cut -d' ' -f1)" -gt "$N1" ] 2>/dev/null && break
    kill -0 "$FILLPID" 2>/dev/null || break
    sleep 0.05
done
put "$W/listB.txt" "$W/threat.txt"
put "$W/cfg1.yaml" "$CFG"
kill -0 "$FILLPID" 2>/dev/null || fail "the filler ended before the reload (too slow a machine?)"
reload good OK
kill -0 "$FILLPID" 2>/dev/null || fail "the filler ended before the reload was done (too slow a machine?)"
wait "$FILLPID" || { sed 's/^/     /' "$W/filler.out" | head; fail "tcpreplay filler.pcap failed"; }
FILLPID=""
sent_all "$W/filler.pcap" "$W/filler.out"
T_B=$(now)
send "$W/half2.pcap"
settled "$((N1 + NF + N2))" "half 2"
T_BAD=$(now)

# ---- 3. two refused reloads, then batch 3 under list B
put "$W/listbad.txt" "$W/threat.txt"
reload badlist REFUSED "$W/threat.txt"
put "$W/listA.txt" "$W/threat.txt"         # valid, but must not be read:
put "$W/cfg2.yaml" "$CFG"                  # the configuration is refused
reload badyaml REFUSED "$CFG"
grep -q "YAML" "$W/reload-badyaml.err" || fail "badyaml: the refusal does not say why (YAML)"
T_3=$(now)
send "$W/batch3.pcap"
settled "$NTOT" "batch 3"

# ---- stop
kill -TERM "$MGPID" 2>/dev/null || fail "mirrorguard died before SIGTERM"
for _ in $(seq 100); do
    kill -0 "$MGPID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$MGPID" 2>/dev/null; then
    kill -9 "$MGPID" 2>/dev/null
    wait "$MGPID" 2>/dev/null
    MGPID=""
    fail "mirrorguard still running 10 s after SIGTERM (killed)"
fi
wait "$MGPID"; RC=$?
MGPID=""
T_END=$(now)
if [ "$RC" != 0 ]; then
    sed 's/^/     /' "$ERR" | tail -20
    fail "exit status $RC, want 0"
fi
n=$(grep -c "^mirrorguard: reloaded lists" "$ERR")
[ "$n" = 1 ] || fail "'reloaded' said $n times, want once"
n=$(grep -c "^mirrorguard: reload refused" "$ERR")
[ "$n" = 2 ] || fail "'reload refused' said $n times, want twice"

# ---- stats and findings
"$PY" - "$W/run.stats.json" "$NTOT" "$W/run.findings" "$W/expect.json" \
    "$T_START" "$T_HUP" "$T_B" "$T_BAD" "$T_3" "$T_END" <<'EOF' || { sed 's/^/     /' "$ERR" | tail -12; exit 1; }
import calendar, json, sys, time
stats, ntot, fpath, epath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t_start, t_hup, t_b, t_bad, t_3, t_end = (float(x) for x in sys.argv[5:11])
bad = []
s = json.load(open(stats))
if s['packets'] != ntot:
    bad.append('packets %d, want %d (every packet sent)' % (s['packets'], ntot))
if s['capture']['drops'] != 0:
    bad.append('capture drops %d, want 0' % s['capture']['drops'])
if s['rings']['worker_drops'] or s['rings']['detect_drops']:
    bad.append('ring drops %r' % s['rings'])

def secs(iso):                      # 2024-05-01T12:00:00.117Z
    base, frac = iso.rstrip('Z').split('.')
    return calendar.timegm(time.strptime(base, '%Y-%m-%dT%H:%M:%S')) + int(frac) / 1000.0

exp = json.load(open(epath))
last, versions = {}, {}
for n, line in enumerate(open(fpath), 1):
    f = json.loads(line)
    act = f['service']['action']
    if f['type'] != 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom' or \
            act['actionType'] != 'NETWORK_CONNECTION':
        bad.append('line %d: unexpected finding %s' % (n, f['type']))
        continue
    ip = act['networkConnectionAction']['remoteIpDetails'].get('ipAddressV4')
    last[ip] = f
    versions.setdefault(ip, []).append(f)
# Each phase's window of capture time (the clocks have ms resolution).
win = {1: (t_start, t_hup), 2: (t_b, t_bad), 3: (t_3, t_end)}
for ip, e in sorted(exp.items()):
    f = last.get(ip)
    if not f:
        bad.append('%s (phase %d): no finding, want count %d' % (ip, e['phase'], e['count']))
        continue
    sv = f['service']
    if sv['count'] != e['count']:
        bad.append('%s (phase %d): count %d, want %d' % (ip, e['phase'], sv['count'], e['count']))
    lo, hi = win[e['phase']]
    first, lastseen = secs(sv['eventFirstSeen']), secs(sv['eventLastSeen'])
    if first < lo - 0.001 or lastseen > hi + 0.001:
        bad.append('%s (phase %d): seen %s .. %s, outside the phase (%.3f .. %.3f)'
                   % (ip, e['phase'], sv['eventFirstSeen'], sv['eventLastSeen'], lo, hi))
    arch = {v['service']['archived'] for v in versions[ip]}
    if arch != {e['archived']}:
        bad.append('%s: archived %s, want %s' % (ip, sorted(arch), e['archived']))
for ip in sorted(set(last) - set(exp)):
    bad.append('%s: unexpected finding (count %d)' % (ip, last[ip]['service']['count']))
for b in bad[:30]:
    print('live_reload: FAIL: ' + b)
if not bad:
    ph = [sum(1 for e in exp.values() if e['phase'] == p) for p in (1, 2, 3)]
    print('live_reload: %d findings as expected (list A %d, list B %d + %d after refused reloads, 1 archived)'
          % (len(exp), ph[0], ph[1], ph[2]))
sys.exit(1 if bad else 0)
EOF

PASSED=1
echo "live_reload: ok ($NTOT packets captured, none dropped; reload under traffic, 2 refused reloads; $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.1f", b - a }') s)"
exit 0

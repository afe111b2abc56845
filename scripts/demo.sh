#!/usr/bin/env bash
# scripts/demo.sh - 'make demo': replay the shipped demo capture (VPC Traffic
# Mirroring VXLAN, four mirror sessions) and a few attack scenarios, and show
# what the sensor found and where it wrote it.
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-build/mirrorguard}
out=${DEMO_OUT:-build/demo}
mkdir -p "$out"
pcap=pcaps/demo/mirror-demo.pcap
echo "== mirrorguard replay of $pcap (config pcaps/demo/sensor.yaml)"
"$MG" replay -c pcaps/demo/sensor.yaml \
    --flows-out "$out/flows.log" --dns-out "$out/dns.jsonl" \
    --findings-out "$out/findings.jsonl" --stats-json "$out/stats.json" "$pcap"
echo
echo "== first flow records (VPC Flow Logs format, custom fields) in $out/flows.log"
head -8 "$out/flows.log"
echo "   ... $(($(wc -l <"$out/flows.log") - 1)) records"
echo
echo "== first DNS transactions in $out/dns.jsonl"
head -3 "$out/dns.jsonl"
echo "   ... $(wc -l <"$out/dns.jsonl") transactions"
echo
echo "== findings of the demo capture: $(wc -l <"$out/findings.jsonl") publications in $out/findings.jsonl"
echo
# The demo traffic is benign; the project's attack scenarios show the findings.
summary() {
    python3 -c 'import json,sys
seen = {}
for l in open(sys.argv[1]):
    f = json.loads(l); seen[f["id"]] = f
for f in seen.values():
    a = f["service"]["action"]
    r = (a.get("networkConnectionAction", {}).get("remoteIpDetails") or {})
    remote = a.get("dnsRequestAction", {}).get("domain") or r.get("ipAddressV4") or r.get("ipAddressV6") or "-"
    print("   %-45s sev %-4s %-20s remote %-22s count %s" % (f["type"], f["severity"],
          f["resource"]["instanceDetails"]["instanceId"] or "(no instance)", remote, f["service"]["count"]))' "$1"
}
for case in syn-scan ssh-brute-in dns-tunnel stratum; do
    [ -f "pcaps/$case/input.pcap" ] || continue
    "$MG" replay -c "pcaps/$case/sensor.yaml" --findings-out "$out/findings-$case.jsonl" \
        "pcaps/$case/input.pcap" 2>/dev/null
    echo "== findings of scenario pcaps/$case (written to $out/findings-$case.jsonl)"
    summary "$out/findings-$case.jsonl"
done
echo
echo "Wrote: $out/flows.log  $out/dns.jsonl  $out/findings*.jsonl  $out/stats.json"

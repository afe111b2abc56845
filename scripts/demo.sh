#!/usr/bin/env bash
# scripts/demo.sh - 'make demo': replay the shipped demo capture (VPC Traffic
# Mirroring VXLAN, three mirror sessions) and show what the sensor found and
# where it wrote it.
set -euo pipefail
cd "$(dirname "$0")/.."
MG=${MG:-build/mirrorguard}
out=${DEMO_OUT:-build/demo}
mkdir -p "$out"
pcap=pcaps/demo/mirror-demo.pcap
echo "== mirrorguard replay of $pcap (config pcaps/demo/sensor.yaml)"
"$MG" replay -c pcaps/demo/sensor.yaml \
    --flows-out "$out/flows.log" --dns-out "$out/dns.jsonl" \
    --stats-json "$out/stats.json" "$pcap"
echo
echo "== first flow records (VPC Flow Logs format, custom fields) in $out/flows.log"
head -8 "$out/flows.log"
echo "   ... $(($(wc -l <"$out/flows.log") - 1)) records"
echo
echo "== first DNS transactions in $out/dns.jsonl"
head -3 "$out/dns.jsonl"
echo "   ... $(wc -l <"$out/dns.jsonl") transactions"
echo
echo "== figures as JSON in $out/stats.json"
echo
echo "Wrote: $out/flows.log  $out/dns.jsonl  $out/stats.json"

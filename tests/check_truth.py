#!/usr/bin/env python3
"""check_truth.py - compare a replay of a generated capture with the ground
truth the generator wrote beside it (FILE.truth.json).

  check_truth.py TRUTH_JSON STATS_JSON FLOWS_FILE DNS_JSONL

Checked exactly: packets; TCP and UDP flows (distinct 5-tuples in the flow
records); DNS transactions (total, over UDP, over TCP, NXDOMAIN, IPv6,
per qtype); mirror duplicates dropped; GENEVE-wrapped packets; fragments
counted. ICMP flows are keyed without the echo identifier (as Zeek and VPC
Flow Logs do), so there may be fewer than the generator's ping sessions, but
never more and never none."""
import collections
import json
import sys

truth, stats_p, flows_p, dns_p = sys.argv[1:5]
t = json.load(open(truth))
s = json.load(open(stats_p))
bad = []


def eq(what, got, want):
    if got != want:
        bad.append('%s: got %r, want %r' % (what, got, want))


eq('packets', s['packets'], t['packets'])
eq('mirror duplicates', s['flows']['mirror_duplicates'], t['duplicated_packets'])
eq('geneve packets', s['geneve'], t['geneve_packets'])
frag = s['decode']['ipv4_fragment'] + s['decode']['ipv6_fragment']
eq('non-first fragments counted', frag, t['ip_fragments'] // 2)
eq('undecodable (only non-first fragments)', s['undecodable'], t['ip_fragments'] // 2)

flows = collections.defaultdict(set)
with open(flows_p) as f:
    hdr = f.readline().split()
    for line in f:
        r = dict(zip(hdr, line.split()))
        a, b = (r['srcaddr'], int(r['srcport'])), (r['dstaddr'], int(r['dstport']))
        flows[int(r['protocol'])].add((min(a, b), max(a, b)))
eq('tcp flows', len(flows[6]), t['flows']['by_protocol'].get('tcp', 0))
eq('udp flows', len(flows[17]), t['flows']['by_protocol'].get('udp', 0))
for proto, name in ((1, 'icmp'), (58, 'icmpv6')):
    want = t['flows']['by_protocol'].get(name, 0)
    if not (0 < len(flows[proto]) <= want) and want:
        bad.append('%s flows: got %d, want 1..%d' % (name, len(flows[proto]), want))

d = [json.loads(l) for l in open(dns_p)]
eq('dns transactions', len(d), t['dns']['transactions'])
eq('dns over udp', sum(1 for x in d if x['transport'] == 'udp'), t['dns']['udp'])
eq('dns over tcp', sum(1 for x in d if x['transport'] == 'tcp'), t['dns']['tcp'])
eq('dns nxdomain', sum(1 for x in d if x['rcode'] == 3), t['dns']['nxdomain'])
eq('dns over ipv6', sum(1 for x in d if ':' in x['client']), t['dns']['over_ipv6'])
eq('dns answered', sum(1 for x in d if x['has_query'] and x['has_response']), t['dns']['transactions'])
eq('dns by qtype', dict(collections.Counter(x['qtype_name'] for x in d)), t['dns']['by_qtype'])

for b in bad:
    print('MISMATCH ' + b)
print('truth: %d checks failed' % len(bad))
sys.exit(1 if bad else 0)

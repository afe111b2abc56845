#!/usr/bin/env python3
"""compare_zeek.py - check mirrorguard's flow and DNS records against a Zeek
baseline (conn.log / dns.log, TSV or JSON lines) of the same capture.

  compare_zeek.py conn CONN_LOG FLOWS_FILE
  compare_zeek.py dns DNS_LOG DNS_JSONL

FLOWS_FILE must carry the fields 'srcaddr dstaddr srcport dstport protocol
packets bytes' (header line first). Records are summed per direction, so
active-timeout splits do not matter. Zeek's own tunnel connections (the outer
UDP of VXLAN/GENEVE, which we unwrap instead of reporting) are skipped.
Exit 0 when every compared connection/query matches; prints each mismatch.
"""
import collections
import json
import sys

PROTO = {'tcp': 6, 'udp': 17, 'icmp': 1}
TUNNEL_PORTS = {4789, 6081, 3544, 2152}


def read_zeek(path):
    rows = []
    fields = None
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            if line.startswith('{'):
                rows.append(json.loads(line))
                continue
            if line.startswith('#fields'):
                fields = line.split('\t')[1:]
                continue
            if line.startswith('#'):
                continue
            if fields is None:          # zeek-cut output: first line is the header
                fields = line.split('\t')
                continue
            rows.append(dict(zip(fields, line.split('\t'))))
    return rows


def norm_addr(a):
    import ipaddress
    return str(ipaddress.ip_address(a))


def cmp_conn(conn_log, flows):
    ours = collections.defaultdict(lambda: [0, 0])
    with open(flows) as f:
        hdr = f.readline().split()
        for line in f:
            r = dict(zip(hdr, line.split()))
            proto = int(r['protocol'])
            if proto not in (1, 6, 17, 58):
                continue                # Zeek logs no connections for IGMP, GRE, ...
            key = (norm_addr(r['srcaddr']), norm_addr(r['dstaddr']), proto)
            if proto in (6, 17):
                key += (int(r['srcport']), int(r['dstport']))
            ours[key][0] += int(r['packets'])
            ours[key][1] += int(r['bytes'])
    want = collections.defaultdict(lambda: [0, 0])
    rows = read_zeek(conn_log)
    if rows and 'id.orig_h' not in rows[0]:
        print('conn: baseline has no connection ids (a cut log): not comparable')
        sys.exit(3)
    for z in rows:
        proto = PROTO.get(z.get('proto'))
        if proto is None:
            continue
        o, r = norm_addr(z['id.orig_h']), norm_addr(z['id.resp_h'])
        op, rp = int(z['id.orig_p']), int(z['id.resp_p'])
        if proto == 17 and (rp in TUNNEL_PORTS or z.get('service') in ('vxlan', 'geneve', 'ayiya', 'teredo', 'gtpv1')):
            continue
        def val(k):
            v = z.get(k, '-')
            return 0 if v in ('-', '', None) else int(v)
        ko = (o, r, proto) + ((op, rp) if proto in (6, 17) else ())
        kr = (r, o, proto) + ((rp, op) if proto in (6, 17) else ())
        want[ko][0] += val('orig_pkts'); want[ko][1] += val('orig_ip_bytes')
        want[kr][0] += val('resp_pkts'); want[kr][1] += val('resp_ip_bytes')
    bad = 0
    n = 0
    for k, (pk, by) in sorted(want.items()):
        if pk == 0:
            continue
        n += 1
        got = ours.get(k, [0, 0])
        if got != [pk, by]:
            bad += 1
            print('conn mismatch %s: zeek %d pkts %d bytes, ours %d pkts %d bytes' % (k, pk, by, got[0], got[1]))
    extra = [k for k in ours if k not in want or want[k][0] == 0]
    for k in extra:
        print('conn only in ours: %s %s' % (k, ours[k]))
    print('conn: %d directions compared, %d mismatches, %d extra' % (n, bad, len(extra)))
    return bad == 0 and not extra


def cmp_dns(dns_log, ours_path):
    ours = collections.Counter()
    answers = {}
    loose = set()       # (hosts, id, qname) of every record, query or not
    with open(ours_path) as f:
        for line in f:
            d = json.loads(line)
            c, sv = norm_addr(d['client']), norm_addr(d['server'])
            loose.add((frozenset((c, sv)), d['id'], d['qname']))
            if not d['has_query']:
                continue
            k = (c, sv, d['id'], d['qname'], d['qtype'])
            ours[k] += 1
            answers[k] = (d['rcode'], sorted(a['data'] for a in d['answers']))
    want = collections.Counter()
    wans = {}
    loose_want = []
    skipped = 0
    for z in read_zeek(dns_log):
        q = z.get('query', '-')
        if q in ('-', None):
            continue
        if 137 in (int(z['id.orig_p']), int(z['id.resp_p'])):
            skipped += 1        # NetBIOS name service: not DNS on the wire
            continue
        qt = z.get('qtype', '-')
        if qt in ('-', None):
            # A response Zeek could not pair with a query: we must have a
            # record of that transaction in either orientation.
            loose_want.append((frozenset((norm_addr(z['id.orig_h']), norm_addr(z['id.resp_h']))),
                               int(z['trans_id']), q.lower()))
            continue
        k = (norm_addr(z['id.orig_h']), norm_addr(z['id.resp_h']), int(z['trans_id']), q.lower(),
             int(qt) if qt not in ('-', None) else 0)
        want[k] += 1
        rc = z.get('rcode', '-')
        an = z.get('answers', '-')
        if isinstance(an, list):
            an = ','.join(an)
        wans[k] = (None if rc in ('-', None) else int(rc), an)
    bad = 0
    for k, c in want.items():
        if ours.get(k, 0) < 1:
            bad += 1
            print('dns missing in ours: %s' % (k,))
            continue
        rc, an = wans[k]
        orc, oans = answers[k]
        if rc is not None and orc != rc:
            bad += 1
            print('dns rcode differs %s: zeek %s ours %s' % (k, rc, orc))
        if an not in ('-', '(empty)', None):
            # Zeek writes some types as 'TYPE args' (TXT, RRSIG, DNSKEY, ...)
            zs = sorted(x for x in an.split(',') if not (' ' in x and x.split(' ')[0].isupper()))
            os_ = sorted(x for x in oans)
            if zs and not set(zs) <= set(os_) and len(os_) < 8:
                bad += 1
                print('dns answers differ %s: zeek %s ours %s' % (k, zs, os_))
    for k in loose_want:
        if k not in loose:
            bad += 1
            print('dns response-only transaction missing in ours: %s' % (k,))
    print('dns: %d queries and %d lone responses compared, %d mismatches, %d NetBIOS rows skipped'
          % (len(want), len(loose_want), bad, skipped))
    return bad == 0


if __name__ == '__main__':
    kind, base, ours = sys.argv[1:4]
    ok = cmp_conn(base, ours) if kind == 'conn' else cmp_dns(base, ours)
    sys.exit(0 if ok else 1)

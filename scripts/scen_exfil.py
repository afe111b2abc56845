#!/usr/bin/env python3
"""Scenario captures for the DNS data-exfiltration detector (detect/det_exfil.c).

  scripts/scen_exfil.py dns-tunnel       --out pcaps/dns-tunnel       [--seed 1]
  scripts/scen_exfil.py dns-heavy-benign --out pcaps/dns-heavy-benign [--seed 1]
  scripts/scen_exfil.py all --out-root pcaps [--seed 1]

dns-tunnel: instance 10.0.1.20 runs an iodine-like tunnel (NULL queries with
base32 labels under t.tunnel-iodine.example) and instance 10.0.1.30 exfiltrates
a 12 KB file in TXT queries (base32 labels under x.exfil-drop.co.uk), both
through the VPC resolver 10.0.0.2, while also doing ordinary lookups.
dns-heavy-benign: instance 10.0.1.40 does 6,000 legitimate lookups: CloudFront,
S3 and API Gateway names with long hashed labels, googlevideo, a customer name
that is a CNAME into CloudFront, AWS service endpoints, PTR lookups, many
ordinary sites.

Each folder gets input.pcap (VXLAN as AWS Traffic Mirroring delivers it, one
VNI per instance), sensor.yaml, truth.json (tests/run_scenarios.sh) and
README.md. Python 3 standard library plus scripts/mgpkt.py; deterministic.
"""
import base64
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgpkt as P  # noqa: E402
import scen_common as C  # noqa: E402

S = 1_000_000_000
T0 = 1714564800 * S                 # 2024-05-01 12:00:00 UTC
RESOLVER = "10.0.0.2"
MAC_G = "0a:00:00:00:00:01"
T_EXFIL = "Trojan:EC2/DNSDataExfiltration"
INSTANCES = {   # ip: (vni, eni, instance id, mac)
    "10.0.1.20": (4220, "eni-0a1b2c3d4e5f60020", "i-0tun0000000000020", "0a:00:00:00:01:14"),
    "10.0.1.30": (4230, "eni-0a1b2c3d4e5f60030", "i-0exf0000000000030", "0a:00:00:00:01:1e"),
    "10.0.1.40": (4240, "eni-0a1b2c3d4e5f60040", "i-0cdn0000000000040", "0a:00:00:00:01:28"),
}


class Mirror:
    def __init__(self):
        self.pkts = []

    def frame(self, t, inst, src, dst, l4):
        vni, _eni, _iid, mac = INSTANCES[inst]
        ip = P.ip_packet(src, dst, 17, l4)
        inner = P.eth(MAC_G, mac, ip) if src == inst else P.eth(mac, MAC_G, ip)
        self.pkts.append((t, P.vxlan_wrap(inner, inst, "10.0.0.200", vni)))

    def dns(self, t, inst, ident, name, qtype, answers, sport, rcode=0):
        q = P.dns_query(ident, name, qtype)
        r = P.dns_response(ident, name, qtype, answers=answers, rcode=rcode)
        self.frame(t, inst, inst, RESOLVER, P.udp(inst, RESOLVER, sport, 53, q))
        self.frame(t + 3_000_000, inst, RESOLVER, inst, P.udp(RESOLVER, inst, 53, sport, r))

    def write(self, path):
        self.pkts.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            w = P.PcapWriter(f)
            for t, d in self.pkts:
                w.write(t, d)
        return len(self.pkts)


B32 = "abcdefghijklmnopqrstuvwxyz234567"


def normal_lookups(m, rnd, inst, t, n, ident0):
    names = ["api.github.com", "registry.npmjs.org", "www.example.com", "pypi.org",
             "files.pythonhosted.org", "ntp.ubuntu.com", "security.debian.org"]
    for i in range(n):
        name = names[i % len(names)]
        m.dns(t + i * 2 * S, inst, ident0 + i, name, "A", [(name, "A", 60, "192.0.2.%d" % (i % 200 + 1))],
              20000 + i)


def dns_tunnel(rnd):
    m = Mirror()
    # iodine-like: NULL queries, base32 upstream labels (first a handshake of short
    # probes), NULL answers carrying downstream data; one query every 250 ms for 60 s.
    ioh = "10.0.1.20"
    t = T0
    for i in range(240):
        if i < 6:
            lab = "v" + "".join(rnd.choice(B32) for _ in range(6))
        else:
            lab = "".join(rnd.choice(B32) for _ in range(rnd.choice((52, 60, 63))))
            lab += "." + "".join(rnd.choice(B32) for _ in range(40))
        name = "%s.t.tunnel-iodine.example" % lab
        m.dns(t, ioh, 1000 + i, name, 10, [(name, 10, 0, P.rb(rnd, rnd.randint(4, 200)))],
              30000 + i)
        t += S // 4
    normal_lookups(m, rnd, ioh, T0 + 5 * S, 20, 5000)
    # TXT exfiltration: a 12 KB file, base32 in 2 x 60-char labels per query, one
    # query every 100 ms; the resolver answers a short TXT acknowledgement.
    ex = "10.0.1.30"
    data = bytes(rnd.getrandbits(8) for _ in range(12000))
    enc = base64.b32encode(data).decode().lower().rstrip("=")
    t = T0 + 2 * S
    seq = 0
    for off in range(0, len(enc), 120):
        chunk = enc[off:off + 120]
        labels = [chunk[i:i + 60] for i in range(0, len(chunk), 60)]
        name = "%s.%04x.x.exfil-drop.co.uk" % (".".join(labels), seq)
        m.dns(t, ex, 2000 + seq, name, "TXT", [(name, "TXT", 0, "ack-%d" % seq)], 31000 + seq % 30000)
        t += S // 10
        seq += 1
    normal_lookups(m, rnd, ex, T0 + 3 * S, 20, 6000)
    truth = {
        "findings": [
            {"type": T_EXFIL, "local": ioh, "remote": "tunnel-iodine.example", "min_count": 1},
            {"type": T_EXFIL, "local": ex, "remote": "exfil-drop.co.uk", "min_count": 1},
        ],
        "forbidden_types": [],
        "notes": "an iodine-like NULL tunnel (10.0.1.20, 240 queries) and a TXT exfiltration of "
                 "a 12 KB file (10.0.1.30, %d queries) through the VPC resolver; the "
                 "ordinary lookups of both give nothing; domains are registrable domains "
                 "(exfil-drop.co.uk, not co.uk)" % seq,
    }
    summary = "DNS tunnels: iodine-like NULL records and TXT file exfiltration"
    return m, truth, summary, [ioh, ex]


def dns_heavy_benign(rnd):
    m = Mirror()
    h = "10.0.1.40"
    hexd = "0123456789abcdef"
    t = T0
    sites = ["site%d.example.com" % i for i in range(150)] + ["news%d.example.org" % i for i in range(50)]
    subs = ["www", "api", "cdn", "static", "img", "login", "m"]
    aws = ["sts.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com",
           "logs.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com",
           "sqs.us-east-1.amazonaws.com", "monitoring.us-east-1.amazonaws.com"]
    for i in range(6000):
        k = i % 10
        h40 = "".join(rnd.choice(hexd) for _ in range(40))
        ans = "198.51.100.%d" % (i % 250 + 1)
        if k == 0:
            name = "d%s.cloudfront.net" % h40[:13]
        elif k == 1:
            name = "%s.s3.us-east-1.amazonaws.com" % h40
        elif k == 2:
            name = "%s.execute-api.us-east-1.amazonaws.com" % h40[:10]
        elif k == 3:
            name = "rr%d---sn-%s.googlevideo.com" % (i % 9, h40[:8])
        elif k == 4:
            name = "vpce-%s-%s.s3.us-east-1.vpce.amazonaws.com" % (h40[:17], h40[17:25])
        elif k == 5:                # a customer name aliased to CloudFront
            name = "asset-%s.media.shop-example.com" % h40[:32]
            cname = "d%s.cloudfront.net" % h40[:13]
            m.dns(t, h, i, name, "A", [(name, "CNAME", 300, cname), (cname, "A", 60, ans)],
                  10000 + i % 50000)
            t += S // 20
            continue
        elif k == 6:
            name = aws[i % len(aws)]
        elif k == 7:
            name = "%d.%d.%d.%d.in-addr.arpa" % tuple(rnd.randrange(256) for _ in range(4))
            m.dns(t, h, i, name, "PTR", [(name, "PTR", 300, "host%d.example.net" % i)],
                  10000 + i % 50000)
            t += S // 20
            continue
        else:
            name = "%s.%s" % (subs[i % len(subs)], sites[(i // 10) % len(sites)])
        qt = "AAAA" if i % 3 == 0 and k >= 8 else "A"
        m.dns(t, h, i, name, qt, [(name, qt, 60, ans if qt == "A" else "2001:db8::%x" % (i % 65535 + 1))],
              10000 + i % 50000)
        t += S // 20
    truth = {
        "findings": [],
        "forbidden_types": [T_EXFIL],
        "notes": "a host doing 6,000 legitimate lookups in 5 minutes: long hashed CloudFront, S3, "
                 "API Gateway, VPC endpoint and googlevideo names, a customer name that is a "
                 "CNAME into CloudFront, AWS endpoints, PTR lookups, 200 ordinary sites: no "
                 "exfiltration finding",
    }
    return m, truth, "Heavy legitimate DNS", [h]


CASES = {"dns-tunnel": dns_tunnel, "dns-heavy-benign": dns_heavy_benign}


def gen(name, out, seed):
    rnd = random.Random("%s:%d" % (name, seed))
    m, truth, summary, insts = CASES[name](rnd)
    os.makedirs(out, exist_ok=True)
    n = m.write(os.path.join(out, "input.pcap"))
    C.write_truth(out, truth, n, seed)
    C.write_sensor_yaml(out, "scen_exfil.py", name, seed, [INSTANCES[ip][:3] for ip in insts], None)
    want = C.want_text(truth)
    dur = (m.pkts[-1][0] - m.pkts[0][0]) / S
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# %s\n\n%s: %s. `input.pcap`: %d packets, %.1f s of traffic from 2024-05-01 "
                "12:00:00 UTC, each packet VXLAN-wrapped (UDP 4789) as AWS Traffic Mirroring "
                "delivers it, with the VNI of the instance's mirror session (`sensor.yaml`: "
                "home_net 10.0.0.0/16). Expected: %s; forbidden types: %s. Made with python3 "
                "from the repository root by `scripts/scen_exfil.py %s --out pcaps/%s --seed %d`; "
                "the same seed gives byte-identical files. Checked by `tests/run_scenarios.sh`.\n"
                % (name, summary, truth["notes"], n, dur, want,
                   ", ".join(truth["forbidden_types"]) or "none", name, name, seed))
    print("%s: %d packets, %.1f s -> %s" % (name, n, dur, out))


def main():
    C.main(__doc__, CASES, gen)


if __name__ == "__main__":
    main()

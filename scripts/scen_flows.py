#!/usr/bin/env python3
"""Scenario captures for the flow detectors det_beacon.c and det_dos.c.

  scripts/scen_flows.py beacon       --out pcaps/beacon       [--seed 1]
  scripts/scen_flows.py dos-out      --out pcaps/dos-out      [--seed 1]
  scripts/scen_flows.py benign-flows --out pcaps/benign-flows [--seed 1]
  scripts/scen_flows.py baseline     --out pcaps/baseline     [--seed 1]
  scripts/scen_flows.py all --out-root pcaps [--seed 1]

beacon: instance 10.0.1.50 calls 203.0.113.66:443 every 60 s +-20% (uniform)
for 45 minutes with small, similar TLS-like exchanges, and also runs an NTP
client (public server and Amazon Time Sync), DNS to the VPC resolver (10.0.0.2
and 169.254.169.253), an agent pushing metrics to an internal endpoint every
10 s, and is scraped every 15 s by a collector (10.0.2.7 -> :9100); instance
10.0.1.51 runs a cron job every 5-15 minutes (random) to a public API.
dos-out: instance 10.0.1.60 floods five public targets, 1500 packets in 1 s
each: a SYN flood (random source ports, unanswered), a UDP flood, a DNS query
flood (random subdomains) to one public resolver, UDP to TCP ports 80/22, and
GRE. sensor.yaml lowers detect.dos.udp_pps to 1000 (default 5000) to keep the
capture small.
benign-flows: instance 10.0.1.70 uploads a backup to S3 over 4 parallel TCP
connections and 200 short HTTPS PUTs (handshakes answered), runs a QUIC
(UDP/443) download, and sends a video stream (RTP-like UDP, 800 packets/s
with receiver reports back). Default thresholds: no DoS and no beacon finding.
baseline (det_baseline.c, sensor.yaml: learning_seconds 1800, volume_min_bytes
5000000): instance 10.0.1.80 uses HTTPS and HTTP (and once 8443) at irregular
times for 30 minutes, then keeps doing so and also connects to 192.0.2.89:1389
(a log4j callback), 192.0.2.90:6667 and uploads 6 MB to 203.0.113.81:443;
instance 10.0.1.81 opens SMTP (25) to 25 distinct hosts within 5 minutes.

Each folder gets input.pcap (VXLAN as AWS Traffic Mirroring delivers it, one
VNI per instance; bulk data packets are captured to 160 bytes with their
original length recorded, as a snaplen would), sensor.yaml, truth.json
(tests/run_scenarios.sh) and README.md. Python 3 standard library plus
scripts/mgpkt.py; deterministic.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgpkt as P  # noqa: E402
import scen_common as C  # noqa: E402

S = 1_000_000_000
MS = 1_000_000
T0 = 1714564800 * S                 # 2024-05-01 12:00:00 UTC
MAC_G = "0a:00:00:00:00:01"
SNAP = 160
T_BEACON = "Backdoor:EC2/Beaconing"
DOS = "Backdoor:EC2/DenialOfService."
T_DOS = [DOS + k for k in ("Tcp", "Udp", "Dns", "UdpOnTcpPorts", "UnusualProtocol")]
T_PORT = "Behavior:EC2/NetworkPortUnusual"
T_VOLUME = "Behavior:EC2/TrafficVolumeUnusual"
T_SPAM = "Backdoor:EC2/Spambot"
INSTANCES = {   # ip: (vni, eni, instance id, mac)
    "10.0.1.50": (4250, "eni-0a1b2c3d4e5f60050", "i-0bcn0000000000050", "0a:00:00:00:01:32"),
    "10.0.1.51": (4251, "eni-0a1b2c3d4e5f60051", "i-0crn0000000000051", "0a:00:00:00:01:33"),
    "10.0.1.60": (4260, "eni-0a1b2c3d4e5f60060", "i-0dos0000000000060", "0a:00:00:00:01:3c"),
    "10.0.1.70": (4270, "eni-0a1b2c3d4e5f60070", "i-0bkp0000000000070", "0a:00:00:00:01:46"),
    "10.0.1.80": (4280, "eni-0a1b2c3d4e5f60080", "i-0bsl0000000000080", "0a:00:00:00:01:50"),
    "10.0.1.81": (4281, "eni-0a1b2c3d4e5f60081", "i-0spm0000000000081", "0a:00:00:00:01:51"),
}


class Mirror:
    def __init__(self):
        self.pkts = []

    def ip(self, t, inst, ippkt, outbound):
        """One IP packet seen by inst's mirror session."""
        vni, _eni, _iid, mac = INSTANCES[inst]
        frame = P.eth(MAC_G, mac, ippkt) if outbound else P.eth(mac, MAC_G, ippkt)
        if len(frame) > SNAP:
            w = P.vxlan_wrap(frame[:SNAP], inst, "10.0.0.200", vni, wire_len=len(frame))
            self.pkts.append((t, w, len(w) + len(frame) - SNAP))
        else:
            self.pkts.append((t, P.vxlan_wrap(frame, inst, "10.0.0.200", vni), None))

    def udp(self, t, inst, src, dst, sport, dport, payload):
        self.ip(t, inst, P.ip_packet(src, dst, 17, P.udp(src, dst, sport, dport, payload)),
                src == inst)

    def session(self, inst, s):
        for t, d, pkt in s.packets:
            self.ip(t, inst, pkt, (d == "c2s") == (s.c == inst))

    def write(self, path):
        self.pkts.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            w = P.PcapWriter(f)
            for t, d, wl in self.pkts:
                w.write(t, d, wl)
        return len(self.pkts)


def tls_exchange(m, rnd, inst, client, server, cport, sport, t, up, down, rtt=20 * MS):
    s = P.TcpSession(rnd, client, server, cport, sport, t, rtt_ns=rtt)
    s.handshake()
    s.send("c2s", P.rb(rnd, up))
    s.send("s2c", P.rb(rnd, down))
    s.close()
    m.session(inst, s)
    return s.t


def beacon(rnd):
    m = Mirror()
    h, cron = "10.0.1.50", "10.0.1.51"
    c2 = "203.0.113.66"
    end = T0 + 45 * 60 * S
    t, n = T0, 0
    while t < end:
        tls_exchange(m, rnd, h, h, c2, rnd.randrange(40000, 60000), 443, t,
                     rnd.randrange(280, 330), rnd.randrange(180, 260))
        t += int(60 * S * rnd.uniform(0.8, 1.2))
        n += 1
    # NTP every 64 s: a public pool server and Amazon Time Sync (sport 123)
    ntp = b"\x23" + b"\0" * 47
    t = T0 + 7 * S
    while t < end:
        for srv in ("203.0.113.123", "169.254.169.123"):
            m.udp(t, h, h, srv, 123, 123, ntp)
            m.udp(t + 2 * MS, h, srv, h, 123, 123, b"\x24" + b"\0" * 47)
        t += 64 * S
    # DNS to the VPC resolver (both addresses) every 30 s, the same name
    t, i = T0 + 3 * S, 0
    while t < end:
        srv = "10.0.0.2" if i % 2 else "169.254.169.253"
        name = "api.internal-service.example"
        port = 30000 + i % 20000
        m.udp(t, h, h, srv, port, 53, P.dns_query(i, name))
        m.udp(t + MS, h, srv, h, 53, port,
              P.dns_response(i, name, answers=[(name, "A", 60, "10.0.7.7")]))
        t += 30 * S
        i += 1
    # an agent pushing metrics to an internal endpoint every 10 s
    t = T0 + 1 * S
    while t < end:
        tls_exchange(m, rnd, h, h, "10.0.3.3", rnd.randrange(40000, 60000), 443, t, 900, 120,
                     rtt=MS)
        t += 10 * S
    # a collector scrapes the instance every 15 s (inbound)
    t = T0 + 2 * S
    while t < end:
        s = P.TcpSession(rnd, "10.0.2.7", h, rnd.randrange(40000, 60000), 9100, t, rtt_ns=MS)
        s.handshake()
        s.send("c2s", b"GET /metrics HTTP/1.1\r\nHost: 10.0.1.50:9100\r\n\r\n")
        s.send("s2c", P.rb(rnd, 3000))
        s.close()
        m.session(h, s)
        t += 15 * S
    # a cron job every 5-15 minutes (random) to a public API
    t, runs = T0 + 40 * S, 0
    while t < end:
        tls_exchange(m, rnd, cron, cron, "198.51.100.40", rnd.randrange(40000, 60000), 443, t,
                     700, 1500)
        t += int(rnd.uniform(300, 900) * S)
        runs += 1
    truth = {
        "findings": [{"type": T_BEACON, "local": h, "remote": c2, "min_count": 1}],
        "forbidden_types": T_DOS,
        "notes": "%d connections to %s:443 every 60 s +-20%% over 45 minutes (reported after "
                 "20, about 20 minutes in); no finding for NTP (public and 169.254.169.123), "
                 "DNS to 10.0.0.2 and 169.254.169.253, the agent pushing to 10.0.3.3 every 10 s, "
                 "the scrape from 10.0.2.7 every 15 s, or the cron job of %s (%d runs 5-15 "
                 "minutes apart)" % (n, c2, cron, runs),
    }
    return m, truth, "A 60 s beacon among regular benign traffic", [h, cron], {}


def dos_out(rnd):
    m = Mirror()
    h = "10.0.1.60"
    N = 1500
    # SYN flood: random source ports, no answer
    t0 = T0
    for i in range(N):
        sp = rnd.randrange(1024, 65536)
        seg = P.tcp(h, "203.0.113.10", sp, 80, seq=rnd.getrandbits(32), flags="S",
                    options=P.tcp_options(mss=1460))
        m.ip(t0 + i * S // N, h, P.ip_packet(h, "203.0.113.10", 6, seg, ident=i), True)
    # UDP flood on one 5-tuple
    t0 = T0 + 5 * S
    pay = P.rb(rnd, 64)
    for i in range(N):
        m.udp(t0 + i * S // N, h, h, "203.0.113.11", 41000, 9999, pay)
    # DNS query flood, random subdomains of one victim domain, one public resolver
    t0 = T0 + 10 * S
    for i in range(N):
        lab = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
        m.udp(t0 + i * S // N, h, h, "198.51.100.53", rnd.randrange(1024, 65536), 53,
              P.dns_query(rnd.getrandbits(16), "%s.victim-shop.example" % lab))
    # UDP to TCP ports 80 and 22
    t0 = T0 + 15 * S
    for i in range(N):
        m.udp(t0 + i * S // N, h, h, "203.0.113.12", rnd.randrange(1024, 65536),
              80 if i % 2 else 22, pay)
    # GRE flood: GRE (proto 0x0800) carrying a small inner IPv4/UDP packet
    t0 = T0 + 20 * S
    inner = P.ip_packet("192.0.2.1", "192.0.2.2", 17, P.udp("192.0.2.1", "192.0.2.2", 1, 2, pay))
    gre = struct.pack("!HH", 0, 0x0800) + inner
    for i in range(N):
        m.ip(t0 + i * S // N, h, P.ip_packet(h, "203.0.113.13", 47, gre, ident=i), True)
    truth = {
        "findings": [
            {"type": DOS + "Tcp", "local": h, "remote": "203.0.113.10", "min_count": 1},
            {"type": DOS + "Udp", "local": h, "remote": "203.0.113.11", "min_count": 1},
            {"type": DOS + "Dns", "local": h, "remote": "198.51.100.53", "min_count": 1},
            {"type": DOS + "UdpOnTcpPorts", "local": h, "remote": "203.0.113.12", "min_count": 1},
            {"type": DOS + "UnusualProtocol", "local": h, "remote": "203.0.113.13",
             "min_count": 1},
        ],
        "forbidden_types": [T_BEACON],
        "notes": "five floods of %d packets in 1 s each from one instance: SYN (random source "
                 "ports, unanswered) to 203.0.113.10:80, UDP to 203.0.113.11:9999, DNS queries "
                 "for random names under victim-shop.example to the public resolver "
                 "198.51.100.53, UDP to 203.0.113.12 ports 80/22, GRE to 203.0.113.13. "
                 "sensor.yaml lowers detect.dos.udp_pps from 5000 to 1000 so that 1500 "
                 "packets/s is a UDP flood (keeps the capture under 2 MB); the other "
                 "thresholds are the defaults. The random names of the DNS flood also make "
                 "Trojan:EC2/DNSDataExfiltration (its rate rule), as a water-torture attack "
                 "would: expected.json has it" % N,
    }
    return m, truth, "Outbound denial of service, five kinds", [h], {"dos": {"udp_pps": 1000}}


def benign_flows(rnd):
    m = Mirror()
    h = "10.0.1.70"
    s3 = "52.216.10.20"
    # backup upload: 4 parallel connections, 1 MB each
    for c in range(4):
        s = P.TcpSession(rnd, h, s3, 50000 + c, 443, T0 + c * 3 * MS, rtt_ns=2 * MS)
        s.handshake()
        s.send("c2s", P.rb(rnd, 517))
        s.send("s2c", P.rb(rnd, 4000))
        s.send("c2s", P.rb(rnd, 1_000_000), ack_every=2)
        s.send("s2c", P.rb(rnd, 300))
        s.close()
        m.session(h, s)
    # many short HTTPS PUTs to the same endpoint: 200 in 4 s
    for i in range(200):
        tls_exchange(m, rnd, h, h, "52.216.10.21", 30000 + i, 443, T0 + 20 * S + i * 20 * MS,
                     4000, 600, rtt=2 * MS)
    # QUIC download: 1 Initial, then 2000 server packets in 2 s, client ACKs every 2nd
    quic = "142.250.64.100"
    t = T0 + 40 * S
    m.udp(t, h, h, quic, 55000, 443, b"\xc3" + P.rb(rnd, 1199))
    for i in range(2000):
        ts = t + 20 * MS + i * MS
        m.udp(ts, h, quic, h, 443, 55000, b"\x41" + P.rb(rnd, 1249))
        if i % 2:
            m.udp(ts + 100_000, h, h, quic, 55000, 443, b"\x41" + P.rb(rnd, 40))
    # video stream: RTP-like UDP up at 800 packets/s for 3 s, receiver reports back
    t = T0 + 50 * S
    for i in range(2400):
        ts = t + i * 1_250_000
        m.udp(ts, h, h, "198.51.100.50", 40002, 5004, b"\x80\x60" + P.rb(rnd, 1198))
        if i % 100 == 0:
            m.udp(ts + 30 * MS, h, "198.51.100.50", h, 5005, 40003, b"\x81\xc9" + P.rb(rnd, 30))
    truth = {
        "findings": [],
        "forbidden_types": T_DOS + [T_BEACON],
        "notes": "a backup upload to S3 (4 parallel TCP connections, 4 MB) and 200 short HTTPS "
                 "PUTs in 4 s (every handshake answered), a QUIC (UDP/443) download of 2000 "
                 "packets with ACKs, and a 3 s RTP-like video stream at 800 packets/s up with "
                 "receiver reports back: no DoS or beacon finding with the default thresholds",
    }
    return m, truth, "Busy legitimate clients", [h], {}


def baseline(rnd):
    m = Mirror()
    h, spam = "10.0.1.80", "10.0.1.81"
    learn = 1800
    end = T0 + 3600 * S
    t = T0
    while t < end:          # irregular HTTPS and HTTP, before and after learning
        tls_exchange(m, rnd, h, h, "203.0.113.80", rnd.randrange(30000, 60000), 443, t,
                     rnd.randrange(1500, 6000), rnd.randrange(3000, 20000))
        if rnd.random() < 0.4:
            tls_exchange(m, rnd, h, h, "198.51.100.80", rnd.randrange(30000, 60000), 80,
                         t + 2 * S, rnd.randrange(300, 900), rnd.randrange(2000, 9000))
        t += rnd.randrange(10, 120) * S
    # a port used once while learning, again after it to another remote: not unusual
    tls_exchange(m, rnd, h, h, "203.0.113.82", 45001, 8443, T0 + 600 * S, 1000, 2000)
    tls_exchange(m, rnd, h, h, "203.0.113.83", 45002, 8443, T0 + 2400 * S, 1000, 2000)
    # after learning: LDAP callback to 1389, IRC, a 6 MB upload on a learned port
    tls_exchange(m, rnd, h, h, "192.0.2.89", 45003, 1389, T0 + 2500 * S, 200, 1200)
    tls_exchange(m, rnd, h, h, "192.0.2.90", 45004, 6667, T0 + 2600 * S, 300, 600)
    s = P.TcpSession(rnd, h, "203.0.113.81", 45005, 443, T0 + 2700 * S, rtt_ns=5 * MS)
    s.handshake()
    s.send("c2s", P.rb(rnd, 517))
    s.send("s2c", P.rb(rnd, 4000))
    s.send("c2s", P.rb(rnd, 6_000_000), ack_every=4)
    s.send("s2c", P.rb(rnd, 300))
    s.close()
    m.session(h, s)
    # spambot: SMTP to 25 distinct hosts within 5 minutes
    for i in range(25):
        tls_exchange(m, rnd, spam, spam, "198.51.100.%d" % (100 + i), 46000 + i, 25,
                     T0 + 300 * S + i * 12 * S, rnd.randrange(2000, 4000), 400)
    truth = {
        "findings": [
            {"type": T_PORT, "local": h, "remote": "192.0.2.89", "min_count": 1},
            {"type": T_PORT, "local": h, "remote": "192.0.2.90", "min_count": 1},
            {"type": T_VOLUME, "local": h, "remote": "203.0.113.81", "min_count": 1},
            {"type": T_SPAM, "local": spam, "remote": "198.51.100.119", "min_count": 1},
        ],
        "forbidden_types": T_DOS + [T_BEACON],
        "notes": "sensor.yaml: detect.baseline.learning_seconds 1800 (default 86400) and "
                 "volume_min_bytes 5000000 (default 100 MiB) to keep the capture short. "
                 "10.0.1.80 learns 443, 80 and 8443 in its first 30 minutes (irregular "
                 "HTTPS/HTTP, no beacon); after learning 192.0.2.89:1389 (High, log4j "
                 "callback port) and 192.0.2.90:6667 are NetworkPortUnusual, 8443 to a new "
                 "remote is not, and a 6 MB upload to 203.0.113.81:443 is "
                 "TrafficVolumeUnusual; 10.0.1.81 opens SMTP to 25 distinct hosts in 5 "
                 "minutes: Spambot (while still learning: the window rule)",
    }
    return m, truth, "Learned baselines: unusual ports, volume, spam", [h, spam], \
        {"baseline": {"learning_seconds": learn, "volume_min_bytes": 5000000}}


CASES = {"beacon": beacon, "dos-out": dos_out, "benign-flows": benign_flows,
         "baseline": baseline}


def gen(name, out, seed):
    rnd = random.Random("%s:%d" % (name, seed))
    m, truth, summary, insts, dos = CASES[name](rnd)
    os.makedirs(out, exist_ok=True)
    n = m.write(os.path.join(out, "input.pcap"))
    C.write_truth(out, truth, n, seed)
    C.write_sensor_yaml(out, "scen_flows.py", name, seed, [INSTANCES[ip][:3] for ip in insts], dos)
    want = C.want_text(truth)
    dur = (m.pkts[-1][0] - m.pkts[0][0]) / S
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# %s\n\n%s: %s. `input.pcap`: %d packets, %.1f s of traffic from 2024-05-01 "
                "12:00:00 UTC, each packet VXLAN-wrapped (UDP 4789) as AWS Traffic Mirroring "
                "delivers it, with the VNI of the instance's mirror session (`sensor.yaml`: "
                "home_net 10.0.0.0/16); frames longer than %d bytes are captured to %d bytes "
                "with their original length recorded (as a snaplen would). Expected: %s; "
                "forbidden types: %s. Made with python3 from the repository root by "
                "`scripts/scen_flows.py %s --out pcaps/%s --seed %d`; the same seed gives "
                "byte-identical files. Checked by `tests/run_scenarios.sh`.\n"
                % (name, summary, truth["notes"], n, dur, SNAP, SNAP, want,
                   ", ".join(truth["forbidden_types"]) or "none", name, name, seed))
    print("%s: %d packets, %.1f s -> %s" % (name, n, dur, out))


def main():
    C.main(__doc__, CASES, gen)


if __name__ == "__main__":
    main()

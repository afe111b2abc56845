#!/usr/bin/env python3
"""gen-traffic.py - deterministic synthetic traffic for mirrorguard.

  gen-traffic.py --seed N --out FILE [--profile demo|mixed|bench|flood] [--packets N]
                 [--vxlan | --no-vxlan] [--pcapng] [--truncation snaplen|aws]

Profiles
  demo   (default) a few thousand packets over ~2 simulated minutes of a VPC
         (10.0.0.0/16) seen through AWS Traffic Mirroring: 3 VXLAN sessions
         plus one session behind a Gateway Load Balancer (GENEVE around VXLAN).
         Writes FILE.truth.json with the ground truth.
  mixed  the same scenario, larger by default (--packets 20000); with
         --no-vxlan the inner frames are written plain (each packet once).
  bench  at least --packets packets (default 5,000,000) as fast as possible:
         templates patched per packet, IMIX 7:4:1, ~40k concurrent flows,
         ~2% DNS, VXLAN-wrapped, and the packets of any --attacks captures
         spread through it.  Also writes FILE.truth.json.
  flood  --packets (default 2,000,000) TCP SYNs from spoofed public sources
         (random address and port each) at two instances, never answered:
         every packet a new flow. VXLAN-wrapped, --attacks spread through it
         as in bench. Also writes FILE.truth.json.

Output: classic pcap, nanosecond magic 0xa1b23c4d, little-endian (or pcapng
with --pcapng).  Same seed => byte-identical file: all randomness comes from
random.Random(seed), timestamps start at a fixed epoch, never the wall clock.
"""

import argparse
import json
import os
import struct
import sys
import time
import zlib
from random import Random

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgpkt as P  # noqa: E402

EPOCH_NS = 1714564800 * 1_000_000_000      # 2024-05-01 12:00:00 UTC, fixed
SENSOR_IP = "10.0.0.200"                   # mirror target ENI
SENSOR_MAC = "0a:5f:3c:00:c8:01"
RESOLVER4 = "10.0.0.2"                      # VPC (Route 53) resolver
RESOLVER6 = "fd00:ec2::253"
GWLBE_IP = "10.0.0.240"                     # GWLB endpoint (mirror target of session 4)
GWLB_IP = "10.0.0.250"                      # GWLB node sending GENEVE to the sensor
GWLB_MAC = "0a:5f:3c:00:fa:01"


# ----------------------------------------------------------------------------
# the simulated VPC

class Session:
    def __init__(self, name, vni, source_ip, target_ip, packet_length=None,
                 via_gwlb=False):
        self.name, self.vni, self.source_ip = name, vni, source_ip
        self.target_ip, self.packet_length, self.via_gwlb = target_ip, packet_length, via_gwlb
        self.ipid = zlib.crc32(name.encode()) & 0xFFFF
        self.packets = 0


class Host:
    def __init__(self, name, ip4, ip6, mac, gw_mac, session=None):
        self.name, self.ip4, self.ip6, self.mac, self.gw_mac = name, ip4, ip6, mac, gw_mac
        self.session = session


# Public destinations: name -> (CNAME chain, A list, AAAA list)
DOMAINS = {
    "api.github.com": ([], ["140.82.112.5"], []),
    "deb.debian.org": (["debian.map.fastlydns.net"], ["151.101.2.132", "151.101.66.132"],
                       ["2a04:4e42::644"]),
    "security.debian.org": (["debian.map.fastlydns.net"], ["151.101.130.132"],
                            ["2a04:4e42:200::644"]),
    "s3.us-east-1.amazonaws.com": ([], ["52.217.161.80", "16.182.66.217"], []),
    "sts.us-east-1.amazonaws.com": ([], ["209.54.177.164"], []),
    "pypi.org": ([], ["151.101.0.223", "151.101.64.223"], ["2a04:4e42::223"]),
    "registry.npmjs.org": ([], ["104.16.24.34", "104.16.27.34"], ["2606:4700::6810:1822"]),
    "www.wikipedia.org": (["dyna.wikimedia.org"], ["208.80.154.224"],
                          ["2620:0:861:ed1a::1"]),
    "hooks.slack.com": ([], ["52.89.214.238"], []),
    "login.microsoftonline.com": (["login.mso.msidentity.com", "ak.privatelink.msidentity.com",
                                   "www.tm.ak.prd.aadg.akadns.net"],
                                  ["20.190.151.68", "40.126.23.147"], []),
    "www.cloudflare.com": ([], ["104.16.123.96"], ["2606:4700::6810:7b60"]),
    "updates.example-saas.io": (["d3f9x0a1b2c3.cloudfront.net"], ["13.32.99.47", "13.32.99.12"],
                                ["2600:9000:2170:5c00:1:9e1c:5c40:93a1"]),
}
NXDOMAINS = ["wpad.ec2.internal", "db-replica-3.corp.internal", "api.gihtub.com",
             "kq3vz9lmp2ax7.com", "x8f0a2c9e1b7d.net", "metrics.staging.internal"]
NTP_SERVERS = ["162.159.200.1", "129.6.15.28", "17.253.4.253"]
PUBLIC_CLIENTS = ["203.0.113.17", "198.51.100.77", "81.2.69.142", "89.160.20.112",
                  "175.16.199.3", "2.125.160.216"]
ADMIN_IP = "198.51.100.23"


def build_vpc():
    s1 = Session("web", 4211, "10.0.1.10", SENSOR_IP)
    s2 = Session("app", 4212, "10.0.2.20", SENSOR_IP)
    s3 = Session("bastion", 4213, "10.0.3.30", SENSOR_IP, packet_length=128)
    s4 = Session("worker-gwlb", 4214, "10.0.4.40", GWLBE_IP, via_gwlb=True)
    hosts = {
        "web": Host("web", "10.0.1.10", "2600:1f18:4a3:6b01::10", "0a:1b:2c:01:00:10",
                    "0a:ff:00:01:00:01", s1),
        "app": Host("app", "10.0.2.20", "2600:1f18:4a3:6b02::20", "0a:1b:2c:02:00:20",
                    "0a:ff:00:02:00:01", s2),
        "bastion": Host("bastion", "10.0.3.30", None, "0a:1b:2c:03:00:30",
                        "0a:ff:00:03:00:01", s3),
        "worker": Host("worker", "10.0.4.40", None, "0a:1b:2c:04:00:40",
                       "0a:ff:00:04:00:01", s4),
    }
    return [s1, s2, s3, s4], hosts


# ----------------------------------------------------------------------------
# scenario builder (demo / mixed)

class Scenario:
    def __init__(self, rnd, vxlan=True, truncation="snaplen"):
        self.rnd = rnd
        self.vxlan = vxlan
        self.truncation = truncation
        self.sessions, self.hosts = build_vpc()
        self.records = []          # (ts_ns, order, data, wirelen)
        self.order = 0
        self.flows = {}            # key -> (proto, app, ipv6)
        self.dns = {"transactions": 0, "udp": 0, "tcp": 0, "nxdomain": 0, "ipv6": 0,
                    "by_qtype": {}}
        self.cnt = {"duplicated_packets": 0, "truncated_packets": 0, "geneve_packets": 0,
                    "vlan_tagged_packets": 0, "qinq_packets": 0, "ip_fragments": 0,
                    "inner_packets": 0}
        self.dup_flows = 0
        self.dns_cache = {}
        self.used_ports = set()

    # ---- bookkeeping
    def flow(self, proto, app, a, b, pa=0, pb=0):
        key = (proto,) + tuple(sorted([(a, pa), (b, pb)]))
        self.flows[key] = (proto, app, ":" in a)

    def dns_tx(self, transport, qtype, rcode, v6=False, n=1):
        self.dns["transactions"] += n
        self.dns[transport] += n
        if rcode == 3:
            self.dns["nxdomain"] += n
        if v6:
            self.dns["ipv6"] += n
        self.dns["by_qtype"][qtype] = self.dns["by_qtype"].get(qtype, 0) + n

    def eport(self):
        while True:
            p = self.rnd.randrange(32768, 60999)
            if p not in self.used_ports:
                self.used_ports.add(p)
                return p

    # ---- emission: one inner IP packet seen by the mirror sessions of its ends
    def obs(self, ts, pkt, src, dst, vlans=()):
        """pkt: inner IP packet; src/dst: Host or None (outside the VPC)."""
        self.cnt["inner_packets"] += 1
        seen = []
        if src is not None and src.session is not None:
            seen.append((ts, P.eth(src.gw_mac, src.mac, pkt, vlans=vlans), src.session))
        if dst is not None and dst.session is not None:
            dts = ts + (self.rnd.randrange(2000, 9000) if seen else 0)
            seen.append((dts, P.eth(dst.mac, dst.gw_mac, pkt, vlans=vlans), dst.session))
        if not seen:
            raise RuntimeError("packet seen by no mirror session")
        if not self.vxlan:
            seen = seen[:1]
        if len(seen) > 1:
            self.cnt["duplicated_packets"] += len(seen) - 1
        if vlans:
            self.cnt["vlan_tagged_packets"] += len(seen)
            if len(vlans) > 1:
                self.cnt["qinq_packets"] += len(seen)
        v4 = (pkt[0] >> 4) == 4
        if (v4 and struct.unpack_from("!H", pkt, 6)[0] & 0x3FFF) or \
                (not v4 and pkt[6] == P.IPPROTO_FRAGMENT):
            self.cnt["ip_fragments"] += len(seen)
        for t, frame, sess in seen:
            self._record(t, frame, sess)

    def _record(self, ts, frame, sess):
        full = len(frame)
        trunc = sess.packet_length is not None and full > sess.packet_length
        if trunc:
            self.cnt["truncated_packets"] += 1
            frame = frame[:sess.packet_length]
        if not self.vxlan:
            self._add(ts, frame, full)
            return
        sess.packets += 1
        sess.ipid = (sess.ipid + 1) & 0xFFFF
        sport = P.flow_source_port(frame)
        if trunc and self.truncation == "snaplen":
            # captured prefix of a full-length packet: caplen short, wirelen full
            rec = P.vxlan_wrap(frame, sess.source_ip, sess.target_ip, sess.vni,
                               src_mac="0a:ff:00:00:00:01", dst_mac=SENSOR_MAC,
                               sport=sport, ident=sess.ipid, wire_len=full)
            wirelen = full + P.VXLAN_OVERHEAD
        else:
            # untruncated, or AWS-style: the mirror packet itself is short
            rec = P.vxlan_wrap(frame, sess.source_ip, sess.target_ip, sess.vni,
                               src_mac="0a:ff:00:00:00:01", dst_mac=SENSOR_MAC,
                               sport=sport, ident=sess.ipid)
            wirelen = len(rec)
        if sess.via_gwlb:
            inner_ip = rec[14:]
            rec = P.geneve_wrap(inner_ip, GWLB_IP, SENSOR_IP, src_mac=GWLB_MAC,
                                dst_mac=SENSOR_MAC, ident=sess.ipid,
                                options=P.geneve_aws_options(0x0E5F3C0A9B8D7E61,
                                                             0x7A3F1100000001,
                                                             zlib.crc32(frame[26:38])),
                                flow_key=P.inner_flow_key(frame))
            wirelen = len(rec)
            self.cnt["geneve_packets"] += 1
        self._add(ts, rec, wirelen)

    def _add(self, ts, data, wirelen):
        self.records.append((ts, self.order, data, wirelen))
        self.order += 1

    def run_tcp(self, s, chost, shost, vlans=()):
        for ts, d, pkt in s.packets:
            if d == "c2s":
                self.obs(ts, pkt, chost, shost, vlans)
            else:
                self.obs(ts, pkt, shost, chost, vlans)

    # ---- applications
    def resolve(self, t, host, name, qtype="A", v6=False, vlans=()):
        """DNS over UDP to the VPC resolver. Returns (t_after, addresses)."""
        r = self.rnd
        res = RESOLVER6 if v6 else RESOLVER4
        me = host.ip6 if v6 else host.ip4
        sport = self.eport()
        txid = r.getrandbits(16)
        q = P.dns_query(txid, name, qtype, edns=1232 if r.random() < 0.5 else None)
        if name in DOMAINS:
            chain, a4, a6 = DOMAINS[name]
            ans, owner = [], name
            for cn in chain:
                ans.append((owner, "CNAME", r.choice([60, 300, 3600]), cn))
                owner = cn
            addrs = a4 if qtype == "A" else a6
            for a in addrs:
                ans.append((owner, qtype, r.choice([20, 60, 300]), a))
            rcode = 0
            auth = []
        else:
            ans, addrs, rcode = [], [], 3
            tld = name.rsplit(".", 1)[-1]
            auth = [(tld, "SOA", 900, ("a.root-servers.net" if tld not in ("internal",)
                                       else "ns.ec2.internal", "nstld.verisign-grs.com",
                                       2024050100, 1800, 900, 604800, 86400))]
        resp = P.dns_response(txid, name, qtype, answers=ans, rcode=rcode, authority=auth,
                              compress=r.random() < 0.85)
        ipid = r.getrandbits(16)
        self.obs(t, P.ip_packet(me, res, P.IPPROTO_UDP, P.udp(me, res, sport, 53, q),
                                ident=ipid), host, None, vlans)
        t2 = t + r.randrange(400_000, 25_000_000)
        self.obs(t2, P.ip_packet(res, me, P.IPPROTO_UDP, P.udp(res, me, 53, sport, resp),
                                 ident=r.getrandbits(16), ttl=255), None, host, vlans)
        self.flow(17, "dns", me, res, sport, 53)
        self.dns_tx("udp", qtype, rcode, v6)
        return t2 + r.randrange(50_000, 500_000), addrs

    def https_out(self, t, host, name, v6=False, vlans=()):
        r = self.rnd
        addrs = self.dns_cache.get((host.name, name, v6))
        if addrs is None or r.random() < 0.3:
            t, addrs = self.resolve(t, host, name, "AAAA" if v6 else "A", v6=v6, vlans=vlans)
            self.dns_cache[(host.name, name, v6)] = addrs
        if not addrs:
            return t
        me = host.ip6 if v6 else host.ip4
        dst = r.choice(addrs)
        cport = self.eport()
        s = P.TcpSession(r, me, dst, cport, 443, t, rtt_ns=r.randrange(2_000_000, 90_000_000),
                         ttl_s=r.choice([48, 52, 55, 57, 242]))
        s.handshake()
        s.send("c2s", P.tls_client_hello(name, r))
        s.send("s2c", P.tls_server_flight(r, cert_len=r.randrange(1500, 3000)))
        s.send("c2s", b"\x14\x03\x03\x00\x01\x01" + P.tls_app_data(r, 53) +
               P.tls_app_data(r, r.randrange(120, 600)))
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            s.send("s2c", P.tls_app_data(r, r.randrange(150, 2600)),
                   think_ns=r.randrange(1_000_000, 40_000_000))
            if r.random() < 0.5:
                s.send("c2s", P.tls_app_data(r, r.randrange(80, 700)))
        if r.random() < 0.12:
            s.reset("c2s")
        else:
            s.close("c2s" if r.random() < 0.7 else "s2c")
        self.run_tcp(s, host, None, vlans)
        self.flow(6, "https", me, dst, cport, 443)
        return s.t

    def https_in(self, t, host):
        r = self.rnd
        client = r.choice(PUBLIC_CLIENTS)
        cport = r.randrange(1024, 65535)
        s = P.TcpSession(r, client, host.ip4, cport, 443, t,
                         rtt_ns=r.randrange(20_000_000, 180_000_000), ttl_c=r.choice([47, 50, 113, 116]),
                         ttl_s=64)
        s.handshake()
        s.send("c2s", P.tls_client_hello("shop.example.com", r))
        s.send("s2c", P.tls_server_flight(r, cert_len=2800))
        s.send("c2s", b"\x14\x03\x03\x00\x01\x01" + P.tls_app_data(r, 53) +
               P.tls_app_data(r, r.randrange(300, 900)))
        s.send("s2c", P.tls_app_data(r, r.randrange(500, 4000)))
        s.close("c2s")
        self.run_tcp(s, None, host)
        self.flow(6, "https", client, host.ip4, cport, 443)
        return s.t

    def internal_http(self, t, web, app, requests=4):
        """web -> app:8080: both ends are mirror sources -> every packet twice."""
        r = self.rnd
        cport = self.eport()
        s = P.TcpSession(r, web.ip4, app.ip4, cport, 8080, t, rtt_ns=r.randrange(150_000, 400_000),
                         ttl_s=64)
        s.handshake()
        for i in range(requests):
            oid = r.randrange(10000, 99999)
            s.send("c2s", ("GET /api/v1/orders/%d HTTP/1.1\r\nHost: app.internal:8080\r\n"
                           "User-Agent: python-requests/2.31.0\r\nAccept: application/json\r\n"
                           "Connection: keep-alive\r\n\r\n" % oid).encode(),
                   think_ns=r.randrange(2_000_000, 30_000_000))
            body = json.dumps({"order": oid, "status": r.choice(["paid", "shipped", "new"]),
                               "items": [{"sku": "SKU-%04d" % r.randrange(10000),
                                          "qty": r.randrange(1, 4)} for _ in range(r.randrange(1, 8))]})
            s.send("s2c", ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n%s"
                           % (len(body), body)).encode())
        s.close("c2s")
        self.run_tcp(s, web, app)
        self.flow(6, "http", web.ip4, app.ip4, cport, 8080)
        self.dup_flows += 1
        return s.t

    def ssh_in(self, t, host, rounds=40):
        r = self.rnd
        cport = r.randrange(40000, 65000)
        s = P.TcpSession(r, ADMIN_IP, host.ip4, cport, 22, t, rtt_ns=35_000_000, ttl_c=51)
        s.handshake()
        s.send("s2c", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        s.send("c2s", b"SSH-2.0-OpenSSH_9.6\r\n")
        s.send("c2s", ssh_kexinit(r, client=True))
        s.send("s2c", ssh_kexinit(r, client=False))
        s.send("c2s", ssh_packet(r, 30, sshstr(P.rb(r, 32))))        # KEX_ECDH_INIT
        hostkey = sshstr(b"ssh-ed25519") + sshstr(P.rb(r, 32))
        sig = sshstr(b"ssh-ed25519") + sshstr(P.rb(r, 64))
        s.send("s2c", ssh_packet(r, 31, sshstr(hostkey) + sshstr(P.rb(r, 32)) + sshstr(sig)) +
               ssh_packet(r, 21, b""))                                  # REPLY + NEWKEYS
        s.send("c2s", ssh_packet(r, 21, b""))                          # NEWKEYS
        s.send("c2s", P.rb(r, 44))                                     # encrypted from here
        s.send("s2c", P.rb(r, 44))
        for i in range(rounds):                          # interactive keystrokes
            s.send("c2s", P.rb(r, 36), think_ns=r.randrange(80_000_000, 900_000_000))
            s.send("s2c", P.rb(r, r.choice([36, 36, 52, 116, 500, 1200])))
        s.close("c2s")
        self.run_tcp(s, None, host)
        self.flow(6, "ssh", ADMIN_IP, host.ip4, cport, 22)
        return s.t

    def ntp(self, t, host, vlans=()):
        r = self.rnd
        srv = r.choice(NTP_SERVERS)
        sport = self.eport()
        sec = t // 1_000_000_000 + 2208988800
        frac = ((t % 1_000_000_000) << 32) // 1_000_000_000
        req = struct.pack("!BBbb", 0x23, 0, 6, -20) + b"\0" * 36 + struct.pack("!II", sec, frac)
        self.obs(t, P.ip_packet(host.ip4, srv, 17, P.udp(host.ip4, srv, sport, 123, req),
                                ident=r.getrandbits(16)), host, None, vlans)
        t2 = t + r.randrange(3_000_000, 40_000_000)
        resp = (struct.pack("!BBbb", 0x24, 2, 3, -25) + struct.pack("!II", 120, 900) +
                P.ip_bytes("10.21.8.1") + struct.pack("!II", sec - 30, 0) +
                struct.pack("!II", sec, frac) + struct.pack("!II", sec, frac + 1000) +
                struct.pack("!II", sec, frac + 2000))
        self.obs(t2, P.ip_packet(srv, host.ip4, 17, P.udp(srv, host.ip4, 123, sport, resp),
                                 ident=r.getrandbits(16), ttl=57), None, host, vlans)
        self.flow(17, "ntp", host.ip4, srv, sport, 123)
        return t2

    def ping(self, t, host, dst, count=4, size=56, v6=False, vlans=()):
        r = self.rnd
        ident = r.getrandbits(16)
        me = host.ip6 if v6 else host.ip4
        rtt = r.randrange(300_000, 30_000_000)
        for i in range(1, count + 1):
            pl = P.ping_payload(t, size)
            if v6:
                req = P.ip_packet(me, dst, 58, P.icmp6_echo(me, dst, ident, i, pl))
                rep = P.ip_packet(dst, me, 58, P.icmp6_echo(dst, me, ident, i, pl, reply=True),
                                  ttl=58)
            else:
                req = P.ipv4(me, dst, 1, P.icmp_echo(ident, i, pl), ident=r.getrandbits(16))
                rep = P.ipv4(dst, me, 1, P.icmp_echo(ident, i, pl, reply=True),
                             ident=r.getrandbits(16), ttl=117, df=False)
            self.obs(t, req, host, None, vlans)
            self.obs(t + rtt + r.randrange(0, 200_000), rep, None, host, vlans)
            t += 1_000_000_000 + r.randrange(0, 300_000)
        self.flow(58 if v6 else 1, "icmp_echo", me, dst, ident, ident)
        return t

    def dns_tcp(self, t, host, mode):
        r = self.rnd
        cport = self.eport()
        s = P.TcpSession(r, host.ip4, RESOLVER4, cport, 53, t, rtt_ns=300_000, ttl_s=255)
        s.handshake()
        if mode == "coalesced":
            ex = []
            for name, qt in (("deb.debian.org", "A"), ("deb.debian.org", "AAAA")):
                txid = r.getrandbits(16)
                chain, a4, a6 = DOMAINS[name]
                ans = [(name, "CNAME", 300, chain[0])] + [(chain[0], qt, 60, a)
                                                          for a in (a4 if qt == "A" else a6)]
                ex.append((P.dns_query(txid, name, qt), P.dns_response(txid, name, qt, ans)))
                self.dns_tx("tcp", qt, 0)
            P.dns_over_tcp(s, ex, coalesce_queries=True)
        else:
            txid = r.getrandbits(16)
            name = "example-saas.io"
            txts = ["v=spf1 include:_spf.google.com include:amazonses.com ~all",
                    "google-site-verification=" + P.rb(r, 32).hex(),
                    "MS=ms" + str(r.randrange(10**8, 10**9))] + \
                   ["k=rsa; p=" + P.rb(r, 150).hex()] + \
                   ["atlassian-domain-verification=" + P.rb(r, 48).hex()]
            ans = [(name, "TXT", 300, t_) for t_ in txts] + \
                  [(name, "MX", 300, (10, "aspmx.l.google.com")),
                   (name, "MX", 300, (20, "alt1.aspmx.l.google.com"))]
            resp = P.dns_message(txid, [(name, "ANY")], answers=ans, qr=True, ra=True)
            q = P.dns_query(txid, name, "ANY")
            P.dns_over_tcp(s, [(q, resp)], split_response=[2 + len(resp) // 2])
            self.dns_tx("tcp", "ANY", 0)
        s.close("c2s")
        self.run_tcp(s, host, None)
        self.flow(6, "dns", host.ip4, RESOLVER4, cport, 53)
        return s.t

    def dns_fragmented(self, t, host, v6=False):
        """Large EDNS TXT answer that the network fragments (IPv4 MF/offset, or
        the IPv6 Fragment header)."""
        r = self.rnd
        me = host.ip6 if v6 else host.ip4
        res = RESOLVER6 if v6 else RESOLVER4
        sport = self.eport()
        txid = r.getrandbits(16)
        name = "keys.example-saas.io"
        q = P.dns_query(txid, name, "TXT", edns=4096)
        ans = [(name, "TXT", 300, ["k%d=" % i + P.rb(r, 90).hex() for i in range(2)])
               for _ in range(6)]
        resp = P.dns_response(txid, name, "TXT", ans, edns=4096)
        self.obs(t, P.ip_packet(me, res, 17, P.udp(me, res, sport, 53, q),
                                ident=r.getrandbits(16)), host, None)
        u = P.udp(res, me, 53, sport, resp)
        if v6:
            frags = P.ipv6_fragments(res, me, 17, u, mtu=1280, ident=r.getrandbits(32),
                                     hlim=255)
        else:
            frags = P.ipv4_fragments(res, me, 17, u, mtu=1500, ident=r.getrandbits(16), ttl=255)
        t += r.randrange(1_000_000, 20_000_000)
        for f in frags:
            self.obs(t, f, None, host)
            t += r.randrange(5_000, 30_000)
        self.flow(17, "dns", me, res, sport, 53)
        self.dns_tx("udp", "TXT", 0, v6)
        return t

    def ipv6_hbh_ping(self, t, host):
        """One ICMPv6 echo carrying a Hop-by-Hop header (router alert + PadN)."""
        r = self.rnd
        dst = "2606:4700::6810:7b60"
        ident = r.getrandbits(16)
        pl = P.ping_payload(t, 56)
        req = P.ipv6(host.ip6, dst, 58, P.icmp6_echo(host.ip6, dst, ident, 1, pl),
                     ext=[P.ipv6_hbh()])
        rep = P.ipv6(dst, host.ip6, 58, P.icmp6_echo(dst, host.ip6, ident, 1, pl, reply=True),
                     hlim=57)
        self.obs(t, req, host, None)
        self.obs(t + 1_800_000, rep, None, host)
        self.flow(58, "icmp_echo", host.ip6, dst, ident, ident)
        return t + 2_000_000


def sshstr(b):
    return struct.pack("!I", len(b)) + b


def ssh_packet(rnd, msg, body):
    payload = bytes([msg]) + body
    pad = 4 + (-(5 + len(payload) + 4)) % 8
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + P.rb(rnd, pad)


def ssh_kexinit(rnd, client):
    lists = [
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "diffie-hellman-group16-sha512,ext-info-" + ("c" if client else "s"),
        "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr,aes128-gcm@openssh.com",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
        "none,zlib@openssh.com", "none,zlib@openssh.com", "", ""]
    payload = b"\x14" + P.rb(rnd, 16) + b"".join(
        struct.pack("!I", len(x)) + x.encode() for x in lists) + b"\0" + b"\0\0\0\0"
    pad = 4 + (-(5 + len(payload) + 4)) % 8
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + b"\0" * pad


def build_scenario(rnd, target, vxlan, truncation):
    sc = Scenario(rnd, vxlan=vxlan, truncation=truncation)
    h = sc.hosts
    web, app, bastion, worker = h["web"], h["app"], h["bastion"], h["worker"]
    duration = max(150, target * 50) * 1_000_000  # ~2 min for a few thousand
    span = duration * 9 // 10
    T = lambda: EPOCH_NS + rnd.randrange(0, span)  # noqa: E731

    # fixed ingredients, present in every capture
    sc.internal_http(EPOCH_NS + 5_000_000_000, web, app, requests=4)
    sc.ssh_in(EPOCH_NS + 12_000_000_000, bastion, rounds=30)
    sc.dns_tcp(T(), app, "coalesced")
    sc.dns_tcp(T(), web, "split")
    sc.dns_fragmented(T(), app, v6=False)
    sc.dns_fragmented(T(), app, v6=True)
    sc.https_out(T(), app, "www.cloudflare.com", v6=True)
    sc.https_out(T(), app, "pypi.org", v6=True)
    sc.resolve(T(), app, "deb.debian.org", "AAAA", v6=True)
    sc.ping(T(), app, "2606:4700::6810:7b60", count=3, v6=True)
    sc.ipv6_hbh_ping(T(), app)
    sc.ping(T(), bastion, "8.8.8.8", count=4)
    sc.ping(T(), bastion, "10.0.0.2", count=2, size=1400)   # big: truncated by session 3
    sc.ntp(T(), web, vlans=(100,))
    sc.ntp(T(), app)
    sc.https_out(T(), web, "hooks.slack.com", vlans=(100,))
    sc.https_out(T(), app, "api.github.com", vlans=(300, 100))     # QinQ
    for name in NXDOMAINS:
        sc.resolve(T(), rnd.choice([web, app, bastion]), name)
    sc.resolve(T(), worker, "s3.us-east-1.amazonaws.com")            # GENEVE session
    sc.resolve(T(), worker, "kq3vz9lmp2ax7.com")
    sc.ping(T(), worker, "1.1.1.1", count=2)

    # random fill up to the packet budget
    names = sorted(DOMAINS)
    while len(sc.records) < target:
        x = rnd.random()
        if x < 0.38:
            sc.https_out(T(), rnd.choice([web, app, app]), rnd.choice(names),
                         v6=rnd.random() < 0.1)
        elif x < 0.50:
            sc.https_in(T(), web)
        elif x < 0.80:
            hst = rnd.choice([web, app, bastion])
            if rnd.random() < 0.1:
                sc.resolve(T(), hst, rnd.choice(NXDOMAINS))
            else:
                v6 = hst.ip6 is not None and rnd.random() < 0.15
                sc.resolve(T(), hst, rnd.choice(names), rnd.choice(["A", "A", "AAAA"]), v6=v6)
        elif x < 0.88:
            sc.ntp(T(), rnd.choice([web, app, bastion]))
        elif x < 0.95:
            sc.ping(T(), rnd.choice([web, app, bastion]),
                    rnd.choice(["8.8.8.8", "1.1.1.1", "10.0.0.2", "52.94.236.248"]),
                    count=rnd.randrange(1, 5))
        elif x < 0.97:
            sc.internal_http(T(), web, app, requests=rnd.randrange(1, 3))
        else:
            sc.https_in(T(), web)
    sc.records.sort(key=lambda x: (x[0], x[1]))
    return sc


def truth_of(sc, args, nrec, size):
    by_proto, by_app = {}, {}
    v6 = 0
    for proto, app, is6 in sc.flows.values():
        pn = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}[proto]
        by_proto[pn] = by_proto.get(pn, 0) + 1
        by_app[app] = by_app.get(app, 0) + 1
        v6 += is6
    sessions = []
    if sc.vxlan:
        for s in sc.sessions:
            d = {"name": s.name, "vni": s.vni, "outer_src": s.source_ip,
                 "outer_dst": s.target_ip, "packets": s.packets}
            if s.packet_length:
                d["packet_length"] = s.packet_length
            if s.via_gwlb:
                d["via_gwlb"] = {"geneve_src": GWLB_IP, "geneve_dst": SENSOR_IP,
                                 "port": P.GENEVE_PORT}
            sessions.append(d)
    c = dict(sc.cnt)
    return {
        "generator": "scripts/gen-traffic.py",
        "command": "gen-traffic.py " + " ".join(args_cmd(args)),
        "seed": args.seed, "profile": args.profile,
        "format": "pcapng" if args.pcapng else "pcap-ns-le",
        "encapsulation": "vxlan" if sc.vxlan else "none",
        "truncation_style": sc.truncation if sc.vxlan else "snaplen",
        "packets": nrec, "bytes": size,
        "first_ts_ns": sc.records[0][0], "last_ts_ns": sc.records[-1][0],
        "inner_packets": c.pop("inner_packets"),
        "flows": {"total": len(sc.flows), "by_protocol": dict(sorted(by_proto.items())),
                  "by_app": dict(sorted(by_app.items())), "ipv6": v6},
        "dns": {"transactions": sc.dns["transactions"], "udp": sc.dns["udp"],
                "tcp": sc.dns["tcp"], "nxdomain": sc.dns["nxdomain"],
                "over_ipv6": sc.dns["ipv6"], "by_qtype": dict(sorted(sc.dns["by_qtype"].items()))},
        "duplicated_flows": sc.dup_flows if sc.vxlan else 0,
        **c,
        "mirror_sessions": sessions,
        "notes": [
            "duplicated_packets = extra copies: each packet of the web<->app:8080 flow(s) "
            "is seen by both sessions (VNI 4211 then 4212, 2-9 us later, inner Ethernet "
            "differs: egress copy src=instance MAC, ingress copy src=gateway MAC)",
            "truncated_packets = records of session 'bastion' (PacketLength=128) whose "
            "inner frame exceeded 128 bytes; snaplen style: caplen = 50+128, wirelen and "
            "outer IP/UDP lengths = full; aws style: outer lengths and wirelen = 50+128",
            "geneve_packets = records of session 'worker-gwlb' (GENEVE 6081 around the "
            "VXLAN IPv4 packet)",
            "flows are bidirectional 5-tuples (ICMP: addresses + echo id), counted once "
            "even when seen twice; dns transactions = query/response pairs",
        ],
    }


def args_cmd(args):
    out = ["--seed", str(args.seed), "--profile", args.profile]
    if args.packets_given:
        out += ["--packets", str(args.packets)]
    if not args.vxlan:
        out.append("--no-vxlan")
    if args.pcapng:
        out.append("--pcapng")
    if args.truncation != "snaplen":
        out += ["--truncation", args.truncation]
    if getattr(args, "attacks", ""):
        out += ["--attacks", args.attacks]
    if getattr(args, "pps", FLOOD_PPS) != FLOOD_PPS:
        out += ["--pps", str(args.pps)]
    out += ["--out", os.path.basename(args.out)]
    return out


def write_records(path, records, pcapng):
    with open(path, "wb") as f:
        w = P.PcapngWriter(f) if pcapng else P.PcapWriter(f)
        for ts, _o, data, wl in records:
            w.write(ts, data, wl)
    return os.path.getsize(path)


# ----------------------------------------------------------------------------
# bench profile: templates + patching

IMIX = ((60, 7), (590, 4), (1514, 1))   # inner frame sizes without FCS (64/594/1518 on wire)


class Bench:
    """Precomputed templates; per packet only addresses, ports, ids, seq/ack,
    lengths (per template) and checksums (incrementally) change."""

    OUT_SRC = ["10.0.1.%d" % i for i in range(10, 14)] + ["10.0.2.%d" % i for i in range(20, 24)]

    def __init__(self, seed, nflows=40000, ntemplates=300):
        r = Random(seed)
        self.seed = seed
        self.flows = []
        # flows: (inner a, inner b, pa, pb, proto, session index)
        srcs = [P.ip_bytes(s) for s in self.OUT_SRC]
        for i in range(nflows):
            sess = r.randrange(len(srcs))
            inst = srcs[sess]
            if r.random() < 0.02:          # ~2% of flows (and so of packets) are DNS
                proto, peer, pb = 17, P.ip_bytes(RESOLVER4), 53
            else:
                proto = 6 if r.random() < 0.9 else 17
                peer = bytes([r.choice([13, 34, 52, 104, 142, 151, 172, 185]),
                              r.randrange(256), r.randrange(256), r.randrange(1, 255)])
                pb = r.choice([443, 443, 443, 80, 8443]) if proto == 6 else r.choice([443, 443, 8801])
            self.flows.append((inst, peer, r.randrange(32768, 61000), pb, proto, sess))
        self.srcs = srcs
        self.vnis = [0x10000 + 17 * i for i in range(len(srcs))]
        # templates per (proto, size class)
        self.templates = {}
        for proto in (6, 17):
            for sz, _w in IMIX:
                self.templates[(proto, sz)] = [self._template(r, proto, sz)
                                               for _ in range(ntemplates // 6)]
        self.dns_templates = [self._dns_template(r, i) for i in range(64)]

    def _template(self, r, proto, size):
        """Returns (payload bytes after the L4 header, partial checksum of it,
        inner IP total length, tcp flags)."""
        l4h = 20 if proto == 6 else 8
        plen = size - 14 - 20 - l4h
        if proto == 6 and size == 60 and r.random() < 0.7:
            # pure ACK: IP total length 40, 6 bytes Ethernet padding
            return (b"\0" * 6, 0, 40, 0x10, 6)
        payload = P.rb(r, plen)
        if proto == 6 and plen > 5:
            payload = b"\x17\x03\x03" + struct.pack("!H", plen - 5) + payload[5:]
        return (payload, P.csum_add(payload), 20 + l4h + plen, 0x18, 0)

    def _dns_template(self, r, i):
        name = sorted(DOMAINS)[(i // 2) % len(DOMAINS)]
        chain, a4, _ = DOMAINS[name]
        if i % 2 == 0:
            msg = P.dns_query(0, name, "A")
        else:
            ans, owner = [], name
            for cn in chain:
                ans.append((owner, "CNAME", 300, cn))
                owner = cn
            ans += [(owner, "A", 60, a) for a in a4]
            msg = P.dns_response(0, name, "A", ans)
        return msg, P.csum_add(msg[2:]), i % 2

    @staticmethod
    def read_attacks(paths):
        """The records (caplen, wirelen, frame) of classic pcap files, each
        file's in order, the files one after the other."""
        recs = []
        for path in paths:
            with open(path, "rb") as f:
                hdr = f.read(24)
                if len(hdr) < 24 or hdr[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                    raise SystemExit("gen-traffic: %s: not a little-endian classic pcap" % path)
                while True:
                    h = f.read(16)
                    if len(h) < 16:
                        break
                    _s, _f, cl, wl = struct.unpack("<IIII", h)
                    recs.append((cl, wl, f.read(cl)))
        return recs

    def run(self, out, count, attacks=()):
        """Write `count` records to out (after the pcap header).  The hot loop
        does no function calls besides getrandbits, pack and append: every
        checksum is a precomputed constant plus the few varying fields,
        reduced mod 0xffff (2**16 == 1 mod 0xffff, so a 32-bit seq adds up
        like its two 16-bit halves)."""
        rec_s = struct.Struct("<IIII")
        tcp_s = struct.Struct("!14sHHHHHH8sHHHH8s14sHHHHHH8sIIIHHHH")
        udp_s = struct.Struct("!14sHHHHHH8sHHHH8s14sHHHHHH8sIHH")
        oeth = P.mac_bytes(SENSOR_MAC) + P.mac_bytes("0a:ff:00:00:00:01") + b"\x08\x00"
        imac_a, imac_g = P.mac_bytes("0a:1b:2c:01:00:10"), P.mac_bytes("0a:ff:00:01:00:01")
        target = P.ip_bytes(SENSOR_IP)
        r = Random(self.seed * 7919 + 1)
        # per flow direction: everything that does not change per packet
        fdirs = []
        seqs = []
        for a, b, pa, pb, proto, sess in self.flows:
            osrc = self.srcs[sess]
            key = (a + b + struct.pack("!HH", pa, pb) if a < b
                   else b + a + struct.pack("!HH", pb, pa)) + bytes([proto])
            osport = 49152 + zlib.crc32(key) % 16384
            oaddr = osrc + target
            o_c = 0x4500 + 0x4000 + 0x4011 + P.csum_add(oaddr)
            vx = P.vxlan_header(self.vnis[sess])
            st = [r.getrandbits(32), r.getrandbits(32)]
            if proto == 17 and pb == 53:
                st[1] = -1                          # DNS: no query outstanding
            seqs.append(st)
            kind = 2 if (proto == 17 and pb == 53) else (0 if proto == 6 else 1)
            for d in (0, 1):
                if d == 0:
                    sa, da, sp, dp, ieth, ttl = a, b, pa, pb, imac_g + imac_a, 64
                else:
                    sa, da, sp, dp, ieth, ttl = b, a, pb, pa, imac_a + imac_g, 52
                ieth += b"\x08\x00"
                asum = P.csum_add(sa + da)
                ttlp = (ttl << 8) | proto
                ip_c = 0x4500 + 0x4000 + ttlp + asum
                l4_c = asum + proto + sp + dp
                fdirs.append((kind, st, d, ieth, ttlp, ip_c, sa + da, (sp << 16) | dp, sp, dp,
                              l4_c, o_c, oaddr, osport, vx, len(seqs) - 1))
        nfd = len(fdirs)
        # templates: (payload, iplen, otl, ulen, seq_adv, offflags, l4 const, caplen)
        tm = {}
        for (proto, sz), lst in self.templates.items():
            out_l = []
            for payload, psum, iplen, flags, pad in lst:
                frame = 14 + iplen + pad
                l4len = iplen - 20
                if proto == 6:
                    c = psum + l4len + (0x5000 | flags) + 501   # proto is in l4_c
                    out_l.append((payload, iplen, 36 + frame, 16 + frame, l4len - 20,
                                  0x5000 | flags, c, 50 + frame))
                else:
                    c = psum + l4len + l4len
                    out_l.append((payload, iplen, 36 + frame, 16 + frame, l4len, 0, c,
                                  50 + frame))
            tm[(proto, sz)] = out_l
        classes = []
        for sz, w in IMIX:
            classes += [sz] * w
        tcp_cls = [tm[(6, sz)] for sz in classes]
        udp_cls = [tm[(17, sz)] for sz in classes]
        ntp = len(tm[(6, 60)])
        dns_t = []
        for msg, msum, is_resp in self.dns_templates:
            iplen = 28 + len(msg)
            frame = max(60, 14 + iplen)
            pad = b"\0" * (frame - 14 - iplen)
            dns_t.append((msg[2:] + pad, msum, iplen, 36 + frame, 16 + frame, 50 + frame,
                          is_resp))
        ndns = len(dns_t) // 2
        sec, nsec = EPOCH_NS // 1_000_000_000, EPOCH_NS % 1_000_000_000
        n = 0
        ipid = 0
        dns_pkts = 0
        used = bytearray(len(seqs))
        # Attack packets (the project's scenario captures) go in evenly, in
        # their own order, with the bench's clock: a scan of seconds becomes
        # one of milliseconds, which the count-based detectors still see.
        ai, every = 0, (count // (len(attacks) + 1) if attacks else 0)
        batch = []
        app = batch.append
        getbits = r.getrandbits
        tpack, upack, rpack = tcp_s.pack, udp_s.pack, rec_s.pack
        while n < count:
            rb_ = getbits(64)
            fx = (rb_ & 0xFFFFFF) % nfd
            (kind, st, d, ieth, ttlp, ip_c, addrs, ports, sp, dp, l4_c, o_c, oaddr, osport,
             vx, fi) = fdirs[fx]
            if kind == 2 and d != (st[1] >= 0):
                # DNS goes query, answer, query...: the direction the flow's
                # state asks for (fdirs holds both directions side by side)
                (kind, st, d, ieth, ttlp, ip_c, addrs, ports, sp, dp, l4_c, o_c, oaddr, osport,
                 vx, fi) = fdirs[fx - d + (st[1] >= 0)]
            used[fi] = 1
            ipid = (ipid + 1) & 0xFFFF
            nsec += 180 + ((rb_ >> 32) & 0xFF)            # ~5.5 Mpps simulated
            if nsec >= 1_000_000_000:
                sec += 1
                nsec -= 1_000_000_000
            if kind == 0:
                payload, iplen, otl, ulen, adv, offfl, c, cl = \
                    tcp_cls[(rb_ >> 40) % 12][(rb_ >> 44) % ntp]
                seq = st[d]
                ack = st[1 - d]
                st[d] = (seq + adv) & 0xFFFFFFFF
                icsum = 0xFFFF - (((ip_c + iplen + ipid) % 0xFFFF) or 0xFFFF)
                ocsum = 0xFFFF - (((o_c + otl + ipid) % 0xFFFF) or 0xFFFF)
                l4c = 0xFFFF - (((l4_c + c + seq + ack) % 0xFFFF) or 0xFFFF)
                app(rpack(sec, nsec, cl, cl))
                app(tpack(oeth, 0x4500, otl, ipid, 0x4000, 0x4011, ocsum, oaddr,
                          osport, 4789, ulen, 0, vx, ieth,
                          0x4500, iplen, ipid, 0x4000, ttlp, icsum, addrs,
                          ports, seq, ack, offfl, 501, l4c, 0))
            else:
                if kind == 1:
                    payload, iplen, otl, ulen, l4len, _z, c, cl = \
                        udp_cls[(rb_ >> 40) % 12][(rb_ >> 44) % ntp]
                else:
                    # A query takes a new name and id and remembers them in the
                    # flow's state; the response answers it.
                    if d == 0:
                        st[0] = (rb_ >> 40) % ndns
                        st[1] = (rb_ >> 48) & 0xFFFF
                    tmpl, txid = st[0] % ndns, st[1] & 0xFFFF
                    if d == 1:
                        st[1] = -1                  # answered: the next one is a query
                    payload, msum, iplen, otl, ulen, cl, _r = dns_t[2 * tmpl + d]
                    payload = struct.pack("!H", txid) + payload
                    l4len = iplen - 20
                    c = msum + txid + l4len + l4len
                    dns_pkts += 1
                icsum = 0xFFFF - (((ip_c + iplen + ipid) % 0xFFFF) or 0xFFFF)
                ocsum = 0xFFFF - (((o_c + otl + ipid) % 0xFFFF) or 0xFFFF)
                l4c = 0xFFFF - (((l4_c + c) % 0xFFFF) or 0xFFFF) or 0xFFFF
                app(rpack(sec, nsec, cl, cl))
                app(upack(oeth, 0x4500, otl, ipid, 0x4000, 0x4011, ocsum, oaddr,
                          osport, 4789, ulen, 0, vx, ieth,
                          0x4500, iplen, ipid, 0x4000, ttlp, icsum, addrs,
                          ports, l4len, l4c))
            app(payload)
            n += 1
            if every and n % every == 0 and ai < len(attacks) and n < count:
                cl, wl, frame = attacks[ai]
                ai += 1
                app(rpack(sec, nsec, cl, wl))
                app(frame)
                n += 1
            if n % 20000 == 0:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
        return {"packets": n, "dns_packets": dns_pkts, "flows_used": sum(used),
                "attack_packets": ai, "last_ts_ns": sec * 1_000_000_000 + nsec}


def run_bench(args):
    t0 = time.monotonic()
    b = Bench(args.seed)
    with open(args.out, "wb") as f:
        if args.pcapng:
            raise SystemExit("gen-traffic: --pcapng is not supported with --profile bench")
        P.PcapWriter(f)
        attacks = Bench.read_attacks(args.attacks.split(",")) if args.attacks else []
        info = b.run(f, args.packets, attacks)
    el = time.monotonic() - t0
    size = os.path.getsize(args.out)
    truth = {"generator": "scripts/gen-traffic.py", "command": "gen-traffic.py " +
             " ".join(args_cmd(args)), "seed": args.seed, "profile": "bench",
             "format": "pcap-ns-le", "encapsulation": "vxlan", "bytes": size,
             "imix_inner_frame_sizes": {str(s): w for s, w in IMIX},
             "flows_configured": len(b.flows), "mirror_sessions": len(b.srcs),
             "attacks": args.attacks.split(",") if args.attacks else [], **info}
    with open(args.out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1, sort_keys=False)
        f.write("\n")
    print("gen-traffic: bench: %d packets, %d bytes, %.1f s (%.0f pkt/s)"
          % (info["packets"], size, el, info["packets"] / el if el else 0), file=sys.stderr)


FLOOD_PPS = 3_252_033       # a gap of 180 + 0..255 ns: 307.5 ns on average


def run_flood(args):
    """A TCP SYN flood from spoofed sources at two instances (the worst case
    for a flow table: every packet a new flow, none ever answered), VXLAN-
    wrapped, with the project's attack scenarios (--attacks) spread through
    it as in the bench profile: the findings of those must survive the flood."""
    t0 = time.monotonic()
    r = Random(args.seed)
    attacks = Bench.read_attacks(args.attacks.split(",")) if args.attacks else []
    victims = [(P.ip_bytes("10.0.1.10"), 0x10000 + 17 * 0), (P.ip_bytes("10.0.2.20"), 0x10000 + 17 * 4)]
    target = P.ip_bytes(SENSOR_IP)
    oeth = P.mac_bytes(SENSOR_MAC) + P.mac_bytes("0a:ff:00:00:00:01") + b"\x08\x00"
    ieth = P.mac_bytes("0a:1b:2c:01:00:10") + P.mac_bytes("0a:ff:00:01:00:01") + b"\x08\x00"
    public8 = [13, 23, 34, 45, 52, 62, 77, 91, 103, 104, 142, 151, 172, 185, 193, 203]
    rec_s = struct.Struct("<IIII")
    pkt_s = struct.Struct("!14sHHHHHH8sHHHH8s14sHHHHBBH4s4sHHIIHHHH6s")
    otl, ulen, iplen = 20 + 8 + 8 + 60, 8 + 8 + 60, 40
    cl = 14 + otl
    sec, nsec = EPOCH_NS // 1_000_000_000, EPOCH_NS % 1_000_000_000
    n, ai, ipid = 0, 0, 0
    every = args.packets // (len(attacks) + 1) if attacks else 0
    sources = set()
    with open(args.out, "wb") as f:
        P.PcapWriter(f)
        batch = []
        while n < args.packets:
            victim, vni = victims[n & 1]
            src = bytes([public8[r.getrandbits(4)], r.getrandbits(8), r.getrandbits(8),
                         1 + r.getrandbits(7)])
            sport, dport = 1024 + r.getrandbits(15), (80, 443)[r.getrandbits(1)]
            seq = r.getrandbits(32)
            sources.add(src)
            ipid = (ipid + 1) & 0xFFFF
            nsec += (180 + r.getrandbits(8)) * FLOOD_PPS // args.pps   # --pps on average
            if nsec >= 1_000_000_000:
                sec += 1
                nsec -= 1_000_000_000
            icsum = P.checksum(src + victim, 0x4500 + iplen + ipid + 0x4000 + (52 << 8 | 6))
            tcsum = P.checksum(src + victim, 6 + 20 + sport + dport + (seq >> 16) + (seq & 0xFFFF)
                               + 0x5002 + 64240)
            ocsum = P.checksum(victim + target, 0x4500 + otl + ipid + 0x4000 + 0x4011)
            osport = 49152 + (sport ^ dport) % 16384
            batch.append(rec_s.pack(sec, nsec, cl, cl))
            batch.append(pkt_s.pack(oeth, 0x4500, otl, ipid, 0x4000, 0x4011, ocsum, victim + target,
                                    osport, 4789, ulen, 0, P.vxlan_header(vni), ieth,
                                    0x4500, iplen, ipid, 0x4000, 52, 6, icsum, src, victim,
                                    sport, dport, seq, 0, 0x5002, 64240, tcsum, 0, b"\0" * 6))
            n += 1
            if every and n % every == 0 and ai < len(attacks) and n < args.packets:
                acl, awl, frame = attacks[ai]
                ai += 1
                batch.append(rec_s.pack(sec, nsec, acl, awl))
                batch.append(frame)
                n += 1
            if len(batch) >= 40000:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))
    el = time.monotonic() - t0
    size = os.path.getsize(args.out)
    truth = {"generator": "scripts/gen-traffic.py", "command": "gen-traffic.py " +
             " ".join(args_cmd(args)), "seed": args.seed, "profile": "flood",
             "format": "pcap-ns-le", "encapsulation": "vxlan", "bytes": size, "packets": n,
             "flood_packets": n - ai, "flood_sources": len(sources), "attack_packets": ai,
             "attacks": args.attacks.split(",") if args.attacks else [],
             "last_ts_ns": sec * 1_000_000_000 + nsec}
    with open(args.out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print("gen-traffic: flood: %d packets, %d bytes, %.1f s" % (n, size, el), file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", choices=("demo", "mixed", "bench", "flood"), default="demo")
    ap.add_argument("--packets", type=int, default=None,
                    help="packet target (demo 2500, mixed 20000, bench 5000000, flood 2000000)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--vxlan", dest="vxlan", action="store_true", default=True)
    g.add_argument("--no-vxlan", dest="vxlan", action="store_false")
    ap.add_argument("--pcapng", action="store_true", help="write pcapng instead of pcap")
    ap.add_argument("--attacks", default="",
                    help="bench, flood: comma-separated classic pcap files whose packets are spread "
                         "through the capture (e.g. the scenario captures in pcaps/)")
    ap.add_argument("--pps", type=int, default=FLOOD_PPS,
                    help="flood: packets per second of packet time (default %d)" % FLOOD_PPS)
    ap.add_argument("--truncation", choices=("snaplen", "aws"), default="snaplen",
                    help="how PacketLength=128 truncation is written: snaplen (caplen "
                         "short, wirelen full; default) or aws (the mirror packet "
                         "itself is short: outer lengths and wirelen = 178)")
    args = ap.parse_args(argv)
    args.packets_given = args.packets is not None
    if args.packets is None:
        args.packets = {"demo": 2500, "mixed": 20000, "bench": 5_000_000,
                        "flood": 2_000_000}[args.profile]
    if args.profile in ("bench", "flood"):
        if not args.vxlan or args.pcapng:
            ap.error("--profile %s is always classic pcap, VXLAN-wrapped" % args.profile)
        return run_bench(args) if args.profile == "bench" else run_flood(args)
    rnd = Random(args.seed)
    sc = build_scenario(rnd, args.packets, args.vxlan, args.truncation)
    size = write_records(args.out, sc.records, args.pcapng)
    truth = truth_of(sc, args, len(sc.records), size)
    with open(args.out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print("gen-traffic: %s: %d packets, %d bytes" % (args.out, len(sc.records), size),
          file=sys.stderr)


if __name__ == "__main__":
    main()

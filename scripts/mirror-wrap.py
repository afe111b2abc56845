#!/usr/bin/env python3
"""mirror-wrap.py - re-encapsulate a capture as AWS Traffic Mirroring sends it.

  mirror-wrap.py [--vni N] [--src A] [--dst B] [--port 4789] IN OUT

Every packet of IN (classic pcap or pcapng, any byte order, µs or ns) becomes
outer Ethernet / IPv4 (A -> B) / UDP (sport = hash of the inner flow, dport
--port, checksum 0) / VXLAN (flags 0x08, VNI N) / the original frame.
Timestamps are kept (nanosecond output).  caplen and wirelen both grow by the
50 bytes of outer headers; the outer IPv4 total length and UDP length follow
the wire length, so a snaplen-truncated input stays consistent.

Link types: Ethernet is wrapped as is; raw IP (101, 12, 14, 228, 229) gets a
synthetic Ethernet header first (14 more bytes); anything else is an error.
OUT is classic pcap, nanosecond magic 0xa1b23c4d, little-endian.  "-" reads
stdin / writes stdout.
"""

import argparse
import os
import struct
import sys

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mgpkt as P  # noqa: E402

SYN_SRC_MAC = P.mac_bytes("02:00:00:00:00:01")
SYN_DST_MAC = P.mac_bytes("02:00:00:00:00:02")


def synth_eth(data, linktype):
    if linktype == P.LINKTYPE_IPV6:
        et = P.ETH_P_IPV6
    elif linktype == P.LINKTYPE_IPV4:
        et = P.ETH_P_IP
    else:
        et = P.ETH_P_IPV6 if data and (data[0] >> 4) == 6 else P.ETH_P_IP
    return SYN_DST_MAC + SYN_SRC_MAC + struct.pack("!H", et)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--vni", type=int, default=1, help="VXLAN network id (0..16777215)")
    ap.add_argument("--src", default="10.0.1.10", help="outer source (mirror source ENI)")
    ap.add_argument("--dst", default="10.0.0.200", help="outer destination (mirror target)")
    ap.add_argument("--port", type=int, default=P.VXLAN_PORT, help="outer UDP dport")
    ap.add_argument("--src-mac", default="0a:ff:00:00:00:01")
    ap.add_argument("--dst-mac", default="0a:5f:3c:00:c8:01")
    ap.add_argument("input", metavar="IN")
    ap.add_argument("output", metavar="OUT")
    a = ap.parse_args(argv)
    if not 0 <= a.vni <= 0xFFFFFF:
        ap.error("--vni must be 0..16777215")
    if not 0 < a.port < 65536:
        ap.error("--port must be 1..65535")
    try:
        src, dst = P.ip_bytes(a.src), P.ip_bytes(a.dst)
        if len(src) != 4 or len(dst) != 4:
            raise ValueError("outer addresses must be IPv4")
        smac, dmac = P.mac_bytes(a.src_mac), P.mac_bytes(a.dst_mac)
    except (ValueError, OSError) as e:
        ap.error(str(e))

    fin = sys.stdin.buffer if a.input == "-" else open(a.input, "rb")
    fout = sys.stdout.buffer if a.output == "-" else open(a.output + ".tmp", "wb")
    n = 0
    ok = False
    try:
        w = P.PcapWriter(fout, snaplen=262144 + 64)
        ipid = 0
        oversize = 0
        for ts, lt, data, wl in P.read_packets(fin):
            if lt == P.LINKTYPE_ETHERNET:
                frame = data
            elif lt in P.RAW_IP_LINKTYPES:
                h = synth_eth(data, lt)
                frame, wl = h + data, wl + 14
            else:
                raise P.CaptureError("packet %d: link type %d is neither Ethernet nor raw IP"
                                     % (n + 1, lt))
            if wl < len(frame):  # broken input: wirelen below caplen
                wl = len(frame)
            if wl + 36 > 0xFFFF:
                oversize += 1
            sport = P.flow_source_port(frame) if len(frame) >= 14 else 1024
            ipid = (ipid + 1) & 0xFFFF
            rec = P.vxlan_wrap(frame, src, dst, a.vni, src_mac=smac, dst_mac=dmac,
                               sport=sport, dport=a.port, ident=ipid, wire_len=wl)
            w.write(ts, rec, wl + P.VXLAN_OVERHEAD)
            n += 1
        ok = True
    except P.CaptureError as e:
        print("mirror-wrap: %s: %s" % (a.input, e), file=sys.stderr)
        return 1
    finally:
        if fin is not sys.stdin.buffer:
            fin.close()
        if fout is not sys.stdout.buffer:
            fout.close()
            if ok:
                os.replace(a.output + ".tmp", a.output)
            else:
                os.unlink(a.output + ".tmp")
    if oversize:
        print("mirror-wrap: warning: %d packets longer than 65499 bytes: outer IPv4/UDP "
              "lengths saturated at 65535" % oversize, file=sys.stderr)
    print("mirror-wrap: %d packets -> %s (vni %d, %s -> %s:%d)"
          % (n, a.output, a.vni, a.src, a.dst, a.port), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""split-flows.py - split a classic pcap into N files by flow, both directions
of a flow in the same file: what each of N workers receives live, where the
kernel's PACKET_FANOUT group (capture/fanout.c) or a NIC's RSS with the
workers' hand-over puts every flow on one worker. scripts/bench.sh uses it to
show what N cores give when each is fed its own share.

usage: split-flows.py N PCAP OUTPREFIX     (writes OUTPREFIX.0.pcap ...)

The flow is the innermost IPv4/IPv6 5-tuple, behind VXLAN on UDP 4789 when
there is one (one 802.1Q tag is skipped at either level); anything else goes
to file 0. The split is a hash of the sorted endpoints (crc32), not the
sensor's own dispatch hash: any split that keeps a flow whole does here.
"""
import struct
import sys
import zlib


def l3(d, off):
    """(offset of the IP header, ethertype) behind an Ethernet header at off."""
    if len(d) < off + 14:
        return None, None
    et = d[off + 12:off + 14]
    off += 14
    if et == b'\x81\x00' and len(d) >= off + 4:
        et = d[off + 2:off + 4]
        off += 4
    return off, et


def five(d, off, et):
    """(addresses + ports as bytes per endpoint, proto, l4 offset) or None."""
    if et == b'\x08\x00' and len(d) >= off + 20 and d[off] >> 4 == 4:
        ihl = (d[off] & 15) * 4
        a, b, p = d[off + 12:off + 16], d[off + 16:off + 20], d[off + 9]
        l4 = off + ihl
    elif et == b'\x86\xdd' and len(d) >= off + 40 and d[off] >> 4 == 6:
        a, b, p = d[off + 8:off + 24], d[off + 24:off + 40], d[off + 6]
        l4 = off + 40
    else:
        return None
    ports = d[l4:l4 + 4] if p in (6, 17) and len(d) >= l4 + 4 else b'\0\0\0\0'
    return a + ports[:2], b + ports[2:4], p, l4


def key(d):
    off, et = l3(d, 0)
    t = five(d, off, et) if off is not None else None
    if t is None:
        return 0
    ea, eb, p, l4 = t
    if p == 17 and eb[-2:] == b'\x12\xb5' and len(d) >= l4 + 16:      # VXLAN
        ioff, iet = l3(d, l4 + 16)
        it = five(d, ioff, iet) if ioff is not None else None
        if it is not None:
            ea, eb, p, _ = it
    lo, hi = sorted((ea, eb))
    return zlib.crc32(lo + hi + bytes([p]))


def main():
    n, src, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(src, 'rb') as f:
        hdr = f.read(24)
        if hdr[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
            rec = struct.Struct('<IIII')
        elif hdr[:4] in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
            rec = struct.Struct('>IIII')
        else:
            sys.exit('split-flows: %s: not a classic pcap file' % src)
        outs = [open('%s.%d.pcap' % (prefix, i), 'wb') for i in range(n)]
        for o in outs:
            o.write(hdr)
        bufs = [[] for _ in range(n)]
        cnt = [0] * n
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            cl = rec.unpack(h)[2]
            d = f.read(cl)
            if len(d) < cl:
                break
            i = key(d) % n
            bufs[i] += (h, d)
            cnt[i] += 1
            if len(bufs[i]) >= 40000:
                outs[i].write(b''.join(bufs[i]))
                bufs[i].clear()
        for i in range(n):
            outs[i].write(b''.join(bufs[i]))
            outs[i].close()
    print('split-flows: %s: %s packets' % (src, ' + '.join(map(str, cnt))), file=sys.stderr)


if __name__ == '__main__':
    main()

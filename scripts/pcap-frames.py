#!/usr/bin/env python3
"""pcap-frames.py - write each frame of classic pcap files as its own file
(a libFuzzer seed), optionally prefixed with one byte.

usage: pcap-frames.py [--prefix BYTE] [--max N] OUTDIR PCAP...
"""
import argparse
import os
import struct


def frames(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        return      # pcapng and others: not needed for seeds
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
        off += 16
        if off + incl > len(data):
            return
        yield data[off:off + incl]
        off += incl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--prefix', type=int, default=None)
    ap.add_argument('--max', type=int, default=1000)
    ap.add_argument('outdir')
    ap.add_argument('pcaps', nargs='+')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    n = 0
    for p in a.pcaps:
        for fr in frames(p):
            if n >= a.max:
                return
            pre = bytes([a.prefix]) if a.prefix is not None else b''
            with open(os.path.join(a.outdir, 'f%05d' % n), 'wb') as f:
                f.write(pre + fr)
            n += 1


if __name__ == '__main__':
    main()

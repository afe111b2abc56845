#!/usr/bin/env python3
"""tests/fuzz/frames.py - cut every frame of pcap/pcapng files into its own
file, prefixed with the fuzz_decode link selector byte (see fuzz_decode.c:
links[data[0] & 7] = {1, 101, 113, 276, 0, 108, 1, 1}). Frames of link
types the target cannot select are skipped. Output goes to OUTDIR only;
used by scripts/fuzz.sh to build seeds in build-fuzz/, never in the repo.

usage: frames.py [--max N] [--max-per-file N] [--hashes FILE] OUTDIR CAPTURE...
  --hashes FILE  also write the sha1 of every frame (without prefix) to FILE
"""
import argparse
import hashlib
import os
import struct

SEL = {1: 0, 101: 1, 12: 1, 14: 1, 228: 1, 229: 1, 113: 2, 276: 3, 0: 4, 108: 5}


def pcap_frames(data):
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        return
    if len(data) < 24:
        return
    lt = struct.unpack(e + 'I', data[20:24])[0] & 0xffff
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        off += 16
        if off + incl > len(data):
            return
        yield lt, data[off:off + incl]
        off += incl


def pcapng_frames(data):
    off = 0
    e = '<'
    ifs = []
    while off + 12 <= len(data):
        bt = struct.unpack(e + 'I', data[off:off + 4])[0]
        if bt == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = '<' if bom == b'\x4d\x3c\x2b\x1a' else '>'
            ifs = []
        bl = struct.unpack(e + 'I', data[off + 4:off + 8])[0]
        if bl < 12 or off + bl > len(data):
            return
        body = data[off + 8:off + bl - 4]
        if bt == 1 and len(body) >= 2:
            ifs.append(struct.unpack(e + 'H', body[:2])[0])
        elif bt == 6 and len(body) >= 20:
            ifid, _, _, cap, _ = struct.unpack(e + 'IIIII', body[:20])
            if ifid < len(ifs) and 20 + cap <= len(body):
                yield ifs[ifid], body[20:20 + cap]
        elif bt == 3 and len(body) >= 4 and ifs:
            cap = min(struct.unpack(e + 'I', body[:4])[0], len(body) - 4)
            yield ifs[0], body[4:4 + cap]
        off += bl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--max', type=int, default=5000)
    ap.add_argument('--max-per-file', type=int, default=200)
    ap.add_argument('--hashes')
    ap.add_argument('outdir')
    ap.add_argument('caps', nargs='+')
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    seen = set()
    n = 0
    for p in a.caps:
        try:
            with open(p, 'rb') as f:
                data = f.read()
        except OSError:
            continue
        gen = pcapng_frames(data) if data[:4] == b'\x0a\x0d\x0d\x0a' else pcap_frames(data)
        k = 0
        for lt, fr in gen:
            if lt not in SEL:
                continue
            h = hashlib.sha1(fr).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            if n >= a.max or k >= a.max_per_file:
                continue        # still hash it for --hashes
            with open(os.path.join(a.outdir, 'f%05d' % n), 'wb') as f:
                f.write(bytes([SEL[lt]]) + fr)
            n += 1
            k += 1
    if a.hashes:
        with open(a.hashes, 'w') as f:
            f.write(''.join(h + '\n' for h in sorted(seen)))
    print('%d seed frames written to %s (%d distinct frames)' % (n, a.outdir, len(seen)))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""mgpkt - tiny packet-crafting library for mirrorguard's traffic tools.

Pure python3 standard library (no scapy).  Everything returns plain `bytes`.

Layers
  eth(dst, src, payload, ethertype=None, vlans=())   Ethernet II, 802.1Q, QinQ
  ipv4(src, dst, proto, payload, ...)                 options, fragments, checksum
  ipv4_fragments(...)                                 split a datagram into fragments
  ipv6(src, dst, nh, payload, ext=(...))              hop-by-hop / fragment headers
  ipv6_fragments(...)
  tcp(src, dst, sport, dport, ...)                    flags, seq/ack, MSS option
  udp(src, dst, sport, dport, payload)
  icmp_echo(ident, seq, payload), icmp6_echo(src, dst, ...)
  dns_message(...), dns_query(...), dns_response(...) DNS wire format
  tls_client_hello(sni, rnd), tls_server_flight(rnd)  plausible TLS records
  vxlan_wrap(frame, src, dst, vni, ...)               AWS Traffic Mirroring encapsulation
  geneve_wrap(ip_packet, src, dst, ...)               AWS Gateway Load Balancer encapsulation
  PcapWriter, PcapngWriter, read_packets()            capture files

Helpers
  TcpSession    realistic TCP exchange (handshake, data with seq/ack, FIN or RST)
  dns_over_tcp  DNS-over-TCP exchange (length-prefixed, coalesced or split)

Addresses may be given as text ("10.0.1.5", "2600:1f18::1") or packed bytes.
MAC addresses as "0a:1b:2c:3d:4e:5f" or 6 bytes.
"""

import socket
import struct
import zlib
from functools import lru_cache

# ----------------------------------------------------------------------------
# constants

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_ARP = 0x0806

IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_FRAGMENT = 44
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60

VXLAN_PORT = 4789
GENEVE_PORT = 6081
VXLAN_OVERHEAD = 14 + 20 + 8 + 8  # outer Ethernet + IPv4 + UDP + VXLAN = 50

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
RAW_IP_LINKTYPES = (LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6)

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D

TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20,
             "E": 0x40, "C": 0x80}

DNS_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
             "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41, "HTTPS": 65, "ANY": 255}
DNS_RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3,
              "NOTIMP": 4, "REFUSED": 5}


# ----------------------------------------------------------------------------
# addresses and checksums

@lru_cache(maxsize=65536)
def _ip_text(a):
    if ":" in a:
        return socket.inet_pton(socket.AF_INET6, a)
    return socket.inet_pton(socket.AF_INET, a)


def ip_bytes(a):
    """Packed IPv4 (4 bytes) or IPv6 (16 bytes) address."""
    if isinstance(a, (bytes, bytearray)):
        if len(a) not in (4, 16):
            raise ValueError("bad packed address length %d" % len(a))
        return bytes(a)
    return _ip_text(a)


def ip_text(b):
    return socket.inet_ntop(socket.AF_INET6 if len(b) == 16 else socket.AF_INET, b)


def is_v6(a):
    return len(ip_bytes(a)) == 16


@lru_cache(maxsize=4096)
def _mac_text(m):
    b = bytes(int(x, 16) for x in m.replace("-", ":").split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC %r" % m)
    return b


def mac_bytes(m):
    if isinstance(m, (bytes, bytearray)):
        return bytes(m)
    return _mac_text(m)


def csum_add(data, s=0):
    """One's-complement partial sum (not inverted) of data, added to s.
    2**16 == 1 (mod 0xffff), so the big-endian integer of the buffer is
    congruent to the sum of its 16-bit words: one C-speed modulo does it."""
    if len(data) & 1:
        data = bytes(data) + b"\0"
    n = int.from_bytes(data, "big")
    if n:
        s += (n % 0xFFFF) or 0xFFFF
    return s


def csum_fold(s):
    if s == 0:
        return 0
    return (s % 0xFFFF) or 0xFFFF


def checksum(data, s=0):
    """Internet checksum (RFC 1071) of data, optionally seeded with partial sum s."""
    return (~csum_fold(csum_add(data, s))) & 0xFFFF


def pseudo_header_sum(src, dst, proto, length):
    src, dst = ip_bytes(src), ip_bytes(dst)
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, length)
    else:
        ph = src + dst + struct.pack("!IxxxB", length, proto)
    return csum_add(ph)


def l4_checksum(src, dst, proto, segment):
    return checksum(segment, pseudo_header_sum(src, dst, proto, len(segment)))


# ----------------------------------------------------------------------------
# Ethernet

def eth(dst, src, payload, ethertype=None, vlans=()):
    """Ethernet II frame.  vlans: sequence of VLAN ids (outer first) or
    (tpid, tci) tuples.  Two plain ids make QinQ (0x88a8 outer, 0x8100 inner).
    ethertype defaults from the IP version nibble of payload."""
    if ethertype is None:
        ethertype = ETH_P_IPV6 if payload and (payload[0] >> 4) == 6 else ETH_P_IP
    tags = b""
    n = len(vlans)
    for i, v in enumerate(vlans):
        if isinstance(v, tuple):
            tpid, tci = v
        else:
            tpid = ETH_P_8021AD if (n > 1 and i < n - 1) else ETH_P_8021Q
            tci = v & 0x0FFF
        tags += struct.pack("!HH", tpid, tci)
    return mac_bytes(dst) + mac_bytes(src) + tags + struct.pack("!H", ethertype) + payload


def eth_pad(frame, minimum=60):
    """Pad a frame to the Ethernet minimum (without FCS)."""
    if len(frame) < minimum:
        return frame + b"\0" * (minimum - len(frame))
    return frame


# ----------------------------------------------------------------------------
# IPv4

def ipv4_option_padding(opts):
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)  # EOL padding
    if len(opts) > 40:
        raise ValueError("IPv4 options longer than 40 bytes")
    return opts


def ipv4_router_alert():
    return b"\x94\x04\x00\x00"


def ipv4_record_route(slots=3):
    return struct.pack("!BBB", 7, 3 + 4 * slots, 4) + b"\0" * (4 * slots)


def ipv4(src, dst, proto, payload, ident=0, ttl=64, tos=0, df=True, mf=False,
         frag_offset=0, options=b"", total_length=None):
    """IPv4 packet.  frag_offset in bytes (multiple of 8).  total_length
    overrides the header's length field (payload is not changed)."""
    options = ipv4_option_padding(bytes(options))
    ihl = 5 + len(options) // 4
    tl = total_length if total_length is not None else ihl * 4 + len(payload)
    if frag_offset % 8:
        raise ValueError("fragment offset must be a multiple of 8")
    ff = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset >> 3)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident & 0xFFFF, ff, ttl,
                      proto, 0, ip_bytes(src), ip_bytes(dst)) + options
    c = checksum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv4_fragments(src, dst, proto, payload, mtu=1500, ident=0, ttl=64, tos=0,
                   options=b""):
    """Split an L4 payload (already carrying its checksum) into IPv4 fragments."""
    options = ipv4_option_padding(bytes(options))
    hl = 20 + len(options)
    step = ((mtu - hl) // 8) * 8
    out = []
    off = 0
    while True:
        chunk = payload[off:off + step]
        more = off + step < len(payload)
        # per RFC 791 only copied options go into later fragments; we keep
        # options only in the first fragment for simplicity.
        out.append(ipv4(src, dst, proto, chunk, ident=ident, ttl=ttl, tos=tos,
                        df=False, mf=more, frag_offset=off,
                        options=options if off == 0 else b""))
        off += step
        if not more:
            return out


# ----------------------------------------------------------------------------
# IPv6

def ipv6_hbh(options=None, nh=IPPROTO_NONE):
    """Hop-by-hop (or destination) options header body builder; returns a
    ('hbh', options_bytes) element for ipv6(ext=...).  Default: Router Alert."""
    if options is None:
        options = b"\x05\x02\x00\x00"  # router alert MLD
    return ("hbh", bytes(options))


def ipv6_frag(offset, more, ident):
    return ("frag", offset, more, ident)


def _ext_bytes(ext, nh):
    kind = ext[0]
    if kind in ("hbh", "dst"):
        opts = ext[1]
        raw_len = 2 + len(opts)
        pad = (-raw_len) % 8
        if pad == 1:
            opts += b"\x00"            # Pad1
        elif pad > 1:
            opts += bytes([1, pad - 2]) + b"\0" * (pad - 2)  # PadN
        return struct.pack("!BB", nh, (2 + len(opts)) // 8 - 1) + opts
    if kind == "frag":
        _, offset, more, ident = ext
        if offset % 8:
            raise ValueError("fragment offset must be a multiple of 8")
        return struct.pack("!BBHI", nh, 0, offset | (1 if more else 0), ident)
    raise ValueError("unknown IPv6 extension %r" % (kind,))


_EXT_PROTO = {"hbh": IPPROTO_HOPOPTS, "dst": IPPROTO_DSTOPTS, "frag": IPPROTO_FRAGMENT}


def ipv6(src, dst, nh, payload, hlim=64, tc=0, flow=0, ext=(), payload_length=None):
    """IPv6 packet.  ext: sequence of ('hbh', opts) / ('dst', opts) /
    ('frag', offset, more, ident) in wire order; nh is the upper-layer protocol."""
    exts = b""
    chain = [e for e in ext]
    for i in range(len(chain) - 1, -1, -1):
        nxt = nh if i == len(chain) - 1 else _EXT_PROTO[chain[i + 1][0]]
        exts = _ext_bytes(chain[i], nxt) + exts
    first = _EXT_PROTO[chain[0][0]] if chain else nh
    plen = payload_length if payload_length is not None else len(exts) + len(payload)
    vtf = (6 << 28) | ((tc & 0xFF) << 20) | (flow & 0xFFFFF)
    return struct.pack("!IHBB16s16s", vtf, plen, first, hlim, ip_bytes(src),
                       ip_bytes(dst)) + exts + payload


def ipv6_fragments(src, dst, nh, payload, mtu=1280, ident=0, hlim=64, pre_ext=()):
    """Fragment an upper-layer payload (already checksummed) with the IPv6
    Fragment header.  pre_ext: extension headers placed before it (e.g. hbh)."""
    pre_len = sum(len(_ext_bytes(e, 0)) for e in pre_ext)
    step = ((mtu - 40 - pre_len - 8) // 8) * 8
    out = []
    off = 0
    while True:
        chunk = payload[off:off + step]
        more = off + step < len(payload)
        out.append(ipv6(src, dst, nh, chunk, hlim=hlim,
                        ext=tuple(pre_ext) + (("frag", off, more, ident),)))
        off += step
        if not more:
            return out


def ip_packet(src, dst, proto, payload, **kw):
    """IPv4 or IPv6 by address family.  kw goes to ipv4()/ipv6()."""
    if is_v6(src):
        kw6 = {k: v for k, v in kw.items() if k in ("hlim", "tc", "flow", "ext")}
        if "ttl" in kw:
            kw6.setdefault("hlim", kw["ttl"])
        return ipv6(src, dst, proto, payload, **kw6)
    kw4 = {k: v for k, v in kw.items() if k in ("ident", "ttl", "tos", "df", "mf",
                                                   "frag_offset", "options")}
    return ipv4(src, dst, proto, payload, **kw4)


# ----------------------------------------------------------------------------
# TCP / UDP / ICMP

def tcp_flags(flags):
    if isinstance(flags, int):
        return flags
    v = 0
    for ch in flags:
        v |= TCP_FLAGS[ch]
    return v


def tcp_options(mss=None, wscale=None, sack_perm=False, ts=None, nop_pad=True):
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sack_perm:
        o += b"\x04\x02"
    if ts is not None:   # Linux order: mss, sackOK, TS, nop, wscale (20 bytes)
        o += (b"" if sack_perm else b"\x01\x01") + struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if wscale is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    if nop_pad and len(o) % 4:
        o += b"\x01" * (4 - len(o) % 4)
    return o


def tcp(src, dst, sport, dport, seq=0, ack=0, flags="S", win=65535, options=b"",
        payload=b"", urg=0):
    """TCP segment with a correct checksum over the IPv4/IPv6 pseudo header."""
    options = bytes(options)
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    off = (5 + len(options) // 4) << 12
    hdr = struct.pack("!HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off | tcp_flags(flags), win, 0, urg) + options
    seg = hdr + payload
    c = l4_checksum(src, dst, IPPROTO_TCP, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, csum=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if not csum and not is_v6(src):
        return seg
    c = l4_checksum(src, dst, IPPROTO_UDP, seg)
    if c == 0:
        c = 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp_echo(ident, seq, payload=b"", reply=False):
    msg = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + payload
    c = checksum(msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def icmp6_echo(src, dst, ident, seq, payload=b"", reply=False):
    msg = struct.pack("!BBHHH", 129 if reply else 128, 0, 0, ident, seq) + payload
    c = l4_checksum(src, dst, IPPROTO_ICMPV6, msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def ping_payload(seq_ts_ns, size=48):
    """Linux ping style payload: 16 bytes timeval-ish then 0x10.. pattern."""
    sec, nsec = divmod(seq_ts_ns, 1_000_000_000)
    head = struct.pack("<QQ", sec, nsec // 1000)
    return (head + bytes((0x10 + i) & 0xFF for i in range(size)))[:size]


# ----------------------------------------------------------------------------
# DNS

def _encode_name(name, buf_len, table, compress):
    """Encode a domain name at offset buf_len, updating the compression table."""
    name = name.rstrip(".")
    if not name:
        return b"\0"
    labels = name.split(".")
    out = b""
    for i in range(len(labels)):
        suffix = ".".join(labels[i:]).lower()
        if compress and suffix in table:
            return out + struct.pack("!H", 0xC000 | table[suffix])
        pos = buf_len + len(out)
        if compress and pos < 0x4000:
            table[suffix] = pos
        lab = labels[i].encode("idna" if any(ord(c) > 127 for c in labels[i]) else "ascii")
        if not 0 < len(lab) < 64:
            raise ValueError("bad DNS label in %r" % name)
        out += bytes([len(lab)]) + lab
    return out + b"\0"


def _txt_rdata(v):
    if isinstance(v, (str, bytes)):
        v = [v]
    out = b""
    for s in v:
        if isinstance(s, str):
            s = s.encode()
        while True:
            out += bytes([min(len(s), 255)]) + s[:255]
            s = s[255:]
            if not s:
                break
    return out


def dns_message(ident, questions=(), answers=(), authority=(), additional=(),
                qr=False, opcode=0, aa=False, tc=False, rd=True, ra=False, ad=False,
                rcode=0, compress=True, edns=None):
    """DNS message.  questions: (name, qtype[, qclass]); records:
    (name, rtype, ttl, value) where value is: A/AAAA address text, CNAME/NS/PTR
    name, MX (pref, name), TXT str or list of str, SOA (mname, rname, serial,
    refresh, retry, expire, minimum), or raw bytes for anything else.
    edns: UDP payload size to add an OPT record (in additional)."""
    if isinstance(rcode, str):
        rcode = DNS_RCODES[rcode]
    flags = ((0x8000 if qr else 0) | (opcode & 0xF) << 11 | (0x400 if aa else 0) |
             (0x200 if tc else 0) | (0x100 if rd else 0) | (0x80 if ra else 0) |
             (0x20 if ad else 0) | (rcode & 0xF))
    add = list(additional)
    narcount = len(add) + (1 if edns else 0)
    buf = bytearray(struct.pack("!HHHHHH", ident & 0xFFFF, flags, len(questions),
                                len(answers), len(authority), narcount))
    table = {}
    for q in questions:
        name, qtype = q[0], q[1]
        qclass = q[2] if len(q) > 2 else 1
        if isinstance(qtype, str):
            qtype = DNS_TYPES[qtype]
        buf += _encode_name(name, len(buf), table, compress)
        buf += struct.pack("!HH", qtype, qclass)
    for rr in list(answers) + list(authority) + add:
        name, rtype, ttl, value = rr[:4]
        if isinstance(rtype, str):
            rtype = DNS_TYPES[rtype]
        buf += _encode_name(name, len(buf), table, compress)
        buf += struct.pack("!HHI", rtype, 1, ttl)
        rd_off = len(buf) + 2
        if isinstance(value, (bytes, bytearray)):
            rdata = bytes(value)
        elif rtype == 1 or rtype == 28:
            rdata = ip_bytes(value)
        elif rtype in (2, 5, 12):
            rdata = _encode_name(value, rd_off, table, compress)
        elif rtype == 15:
            pref, exch = value
            rdata = struct.pack("!H", pref) + _encode_name(exch, rd_off + 2, table, compress)
        elif rtype == 16:
            rdata = _txt_rdata(value)
        elif rtype == 6:
            mname, rname, serial, refresh, retry, expire, minimum = value
            m = _encode_name(mname, rd_off, table, compress)
            r = _encode_name(rname, rd_off + len(m), table, compress)
            rdata = m + r + struct.pack("!IIIII", serial, refresh, retry, expire, minimum)
        else:
            raise ValueError("no rdata encoder for type %r" % rtype)
        buf += struct.pack("!H", len(rdata)) + rdata
    if edns:
        buf += b"\0" + struct.pack("!HHIH", 41, edns, 0, 0)
    return bytes(buf)


def dns_query(ident, name, qtype="A", rd=True, edns=None):
    return dns_message(ident, [(name, qtype)], rd=rd, edns=edns)


def dns_response(ident, name, qtype="A", answers=(), rcode=0, authority=(),
                 compress=True, aa=False, edns=None):
    return dns_message(ident, [(name, qtype)], answers=answers, authority=authority,
                       qr=True, rd=True, ra=True, aa=aa, rcode=rcode,
                       compress=compress, edns=edns)


# ----------------------------------------------------------------------------
# TLS (enough to look like real HTTPS to a parser: record layer, SNI, ALPN)

def tls_client_hello(sni, rnd, alpn=("h2", "http/1.1")):
    """TLS 1.3-style ClientHello record with SNI.  rnd: random.Random."""
    def ext(t, body):
        return struct.pack("!HH", t, len(body)) + body
    host = sni.encode()
    exts = ext(0, struct.pack("!HBH", len(host) + 3, 0, len(host)) + host)
    exts += ext(23, b"")                                      # extended master secret
    exts += ext(0xFF01, b"\0")                                # renegotiation info
    exts += ext(10, bytes.fromhex("0008001d001700180019"))    # supported groups
    exts += ext(11, b"\x01\x00")                              # ec point formats
    exts += ext(35, b"")                                      # session ticket
    al = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
    exts += ext(16, struct.pack("!H", len(al)) + al)
    exts += ext(5, b"\x01\x00\x00\x00\x00")                   # status request
    exts += ext(13, bytes.fromhex("0012040308040401050308050501080606010201"))
    exts += ext(51, struct.pack("!HHH", 0x24, 0x1D, 32) + rb(rnd, 32))  # key share
    exts += ext(45, b"\x01\x01")                              # psk modes
    exts += ext(43, b"\x04\x03\x04\x03\x03")                  # supported versions
    suites = bytes.fromhex("130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035")
    body = (b"\x03\x03" + rb(rnd, 32) + b"\x20" + rb(rnd, 32) +
            struct.pack("!H", len(suites)) + suites + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_flight(rnd, cert_len=2400):
    """ServerHello + ChangeCipherSpec + encrypted handshake (as TLS 1.3 sends)."""
    sh_body = (b"\x03\x03" + rb(rnd, 32) + b"\x20" + rb(rnd, 32) + b"\x13\x01\x00" +
               struct.pack("!H", 46) + struct.pack("!HHH", 51, 36, 0x1D) +
               struct.pack("!H", 32) + rb(rnd, 32) + struct.pack("!HHH", 43, 2, 0x0304))
    sh = b"\x02" + struct.pack("!I", len(sh_body))[1:] + sh_body
    out = b"\x16\x03\x03" + struct.pack("!H", len(sh)) + sh
    out += b"\x14\x03\x03\x00\x01\x01"
    out += tls_app_data(rnd, cert_len)
    return out


def tls_app_data(rnd, n):
    """One or more TLS application_data records carrying n bytes of 'ciphertext'."""
    out = b""
    while n > 0:
        k = min(n, 16384)
        out += b"\x17\x03\x03" + struct.pack("!H", k) + rb(rnd, k)
        n -= k
    return out


def rb(rnd, n):
    """n pseudo-random bytes from a random.Random (deterministic)."""
    return rnd.getrandbits(8 * n).to_bytes(n, "little") if n else b""


# ----------------------------------------------------------------------------
# encapsulation: AWS Traffic Mirroring (VXLAN) and Gateway Load Balancer (GENEVE)

def _l4_ports(ip, proto, off):
    if proto in (IPPROTO_TCP, IPPROTO_UDP) and len(ip) >= off + 4:
        return ip[off:off + 4]
    return b""


def inner_flow_key(frame):
    """Direction-independent bytes describing the flow of an Ethernet frame
    (addresses, protocol, ports), used to derive the VXLAN UDP source port."""
    et_off = 12
    while len(frame) >= et_off + 2:
        et = struct.unpack_from("!H", frame, et_off)[0]
        if et in (ETH_P_8021Q, ETH_P_8021AD, 0x9100):
            et_off += 4
            continue
        break
    else:
        return bytes(frame[:12])
    ip = frame[et_off + 2:]
    if et == ETH_P_IP and len(ip) >= 20:
        proto = ip[9]
        ihl = (ip[0] & 15) * 4
        frag = struct.unpack_from("!H", ip, 6)[0] & 0x1FFF
        a, b = ip[12:16], ip[16:20]
        ports = _l4_ports(ip, proto, ihl) if frag == 0 else b""
    elif et == ETH_P_IPV6 and len(ip) >= 40:
        proto = ip[6]
        a, b = ip[8:24], ip[24:40]
        ports = _l4_ports(ip, proto, 40)
    else:
        return bytes(frame[:12]) + struct.pack("!H", et)
    if ports:
        pa, pb = ports[:2], ports[2:]
        if (a, pa) > (b, pb):
            a, b, pa, pb = b, a, pb, pa
        return bytes(a + b + pa + pb) + bytes([proto])
    if a > b:
        a, b = b, a
    return bytes(a + b) + bytes([proto])


def flow_source_port(frame, lo=49152, hi=65535):
    """Deterministic outer UDP source port from the inner flow (like AWS does:
    a hash of the inner 5-tuple, so a flow keeps its port).  The ephemeral
    range keeps dissectors that pick the lower port on 4789."""
    h = zlib.crc32(inner_flow_key(frame))
    return lo + h % (hi - lo + 1)


def vxlan_header(vni, flags=0x08):
    return struct.pack("!B3xI", flags, (vni & 0xFFFFFF) << 8)


def vxlan_wrap(frame, src, dst, vni, src_mac="0a:00:00:00:00:01",
               dst_mac="0a:00:00:00:00:02", sport=None, dport=VXLAN_PORT, ident=0,
               ttl=64, wire_len=None, df=True):
    """Encapsulate an inner Ethernet frame as AWS Traffic Mirroring does:
    outer Ethernet / IPv4 (mirror source ENI -> mirror target) / UDP(dport 4789,
    sport = hash of inner flow, checksum 0) / VXLAN(flags 0x08, 24-bit VNI).
    wire_len: the original length of the inner frame when `frame` is a
    captured prefix; the outer IPv4/UDP length fields then describe the full
    packet (wire_len + 36 / + 16)."""
    if sport is None:
        sport = flow_source_port(frame)
    inner_len = len(frame) if wire_len is None else wire_len
    # an inner frame above 65499 bytes (GRO/TSO captures) cannot be described
    # by the outer length fields: they saturate at 65535
    u = struct.pack("!HHHH", sport, dport, min(8 + 8 + inner_len, 0xFFFF - 20), 0)
    ip = ipv4(src, dst, IPPROTO_UDP, b"", ident=ident, ttl=ttl, df=df,
              total_length=min(20 + 8 + 8 + inner_len, 0xFFFF))
    return (mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00" + ip + u +
            vxlan_header(vni) + frame)


def geneve_aws_options(endpoint_id, attachment_id, flow_cookie):
    """The three AWS GWLB TLVs (option class 0x0108): GWLBE ENI/endpoint id,
    attachment id, flow cookie."""
    o = struct.pack("!HBB", 0x0108, 1, 2) + struct.pack("!Q", endpoint_id)
    o += struct.pack("!HBB", 0x0108, 2, 2) + struct.pack("!Q", attachment_id)
    o += struct.pack("!HBB", 0x0108, 3, 1) + struct.pack("!I", flow_cookie)
    return o


def geneve_wrap(ip_packet_bytes, src, dst, src_mac="0a:00:00:00:00:03",
                dst_mac="0a:00:00:00:00:02", vni=0, options=None, sport=None,
                ident=0, ttl=64, flow_key=b""):
    """Gateway Load Balancer encapsulation: outer Ethernet / IPv4 (GWLB ->
    appliance) / UDP 6081 / GENEVE (protocol 0x0800, AWS TLVs) / inner IPv4
    packet (no Ethernet).  For a mirror session whose target is a GWLB
    endpoint the inner packet is itself the VXLAN-over-UDP mirror packet."""
    if options is None:
        options = geneve_aws_options(0x0123456789ABCDEF, 0, 0)
    if len(options) % 4:
        raise ValueError("GENEVE options must be a multiple of 4 bytes")
    proto = ETH_P_IPV6 if (ip_packet_bytes[0] >> 4) == 6 else ETH_P_IP
    gh = struct.pack("!BBHI", len(options) // 4, 0, proto, (vni & 0xFFFFFF) << 8) + options
    payload = gh + ip_packet_bytes
    if sport is None:
        sport = 49152 + zlib.crc32(b"G" + (flow_key or ip_packet_bytes[12:20])) % 16384
    u = udp(src, dst, sport, GENEVE_PORT, payload)
    ip = ipv4(src, dst, IPPROTO_UDP, u, ident=ident, ttl=ttl, df=True)
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00" + ip


# ----------------------------------------------------------------------------
# capture files

class PcapWriter:
    """Classic pcap writer.  Timestamps are integer nanoseconds.  nanosecond
    magic (0xa1b23c4d) by default, little-endian."""

    def __init__(self, f, linktype=LINKTYPE_ETHERNET, snaplen=262144, nano=True,
                 big_endian=False):
        self.f = f
        self.nano = nano
        e = ">" if big_endian else "<"
        self._rec = struct.Struct(e + "IIII")
        f.write(struct.pack(e + "IHHiIII", PCAP_MAGIC_NSEC if nano else PCAP_MAGIC_USEC,
                            2, 4, 0, 0, snaplen, linktype))
        self.count = 0

    def write(self, ts_ns, data, wirelen=None):
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if not self.nano:
            frac //= 1000
        self.f.write(self._rec.pack(sec, frac, len(data),
                                    len(data) if wirelen is None else wirelen))
        self.f.write(data)
        self.count += 1

    def record(self, ts_ns, data, wirelen=None):
        """The bytes write() would emit (for callers batching their output)."""
        sec, frac = divmod(ts_ns, 1_000_000_000)
        if not self.nano:
            frac //= 1000
        return self._rec.pack(sec, frac, len(data),
                              len(data) if wirelen is None else wirelen) + data


class PcapngWriter:
    """Minimal pcapng writer: one SHB, one IDB (if_tsresol = 9: nanoseconds),
    one EPB per packet.  Little-endian."""

    def __init__(self, f, linktype=LINKTYPE_ETHERNET, snaplen=262144,
                 app="mirrorguard mgpkt"):
        self.f = f
        shb_opts = self._opt(4, app.encode()) + b"\0\0\0\0"
        body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts
        self._block(0x0A0D0D0A, body)
        idb_opts = self._opt(9, b"\x09") + b"\0\0\0\0"
        self._block(1, struct.pack("<HHI", linktype, 0, snaplen) + idb_opts)
        self.count = 0

    @staticmethod
    def _opt(code, val):
        return struct.pack("<HH", code, len(val)) + val + b"\0" * ((-len(val)) % 4)

    def _block(self, btype, body):
        ln = 12 + len(body)
        self.f.write(struct.pack("<II", btype, ln) + body + struct.pack("<I", ln))

    def write(self, ts_ns, data, wirelen=None):
        pad = b"\0" * ((-len(data)) % 4)
        body = struct.pack("<IIIII", 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data),
                           len(data) if wirelen is None else wirelen) + data + pad
        self._block(6, body)
        self.count += 1


class CaptureError(Exception):
    pass


def read_packets(f):
    """Yield (ts_ns, linktype, data, wirelen) from a classic pcap (µs or ns,
    either byte order) or pcapng (any byte order, several sections and
    interfaces, EPB/SPB/obsolete PB) file object."""
    head = f.read(4)
    if len(head) < 4:
        raise CaptureError("file too short")
    if head == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(f, head)
        return
    m = struct.unpack("<I", head)[0]
    if m in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
        e = "<"
    else:
        m = struct.unpack(">I", head)[0]
        if m not in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
            raise CaptureError("not a pcap or pcapng file (magic %s)" % head.hex())
        e = ">"
    mult = 1 if m == PCAP_MAGIC_NSEC else 1000
    rest = f.read(20)
    if len(rest) < 20:
        raise CaptureError("truncated pcap header")
    _vmaj, _vmin, _tz, _sig, _snap, lt = struct.unpack(e + "HHiIII", rest)
    lt &= 0x0FFFFFFF  # upper bits may carry FCS info
    rec = struct.Struct(e + "IIII")
    while True:
        h = f.read(16)
        if not h:
            return
        if len(h) < 16:
            raise CaptureError("truncated record header")
        sec, frac, cl, wl = rec.unpack(h)
        data = f.read(cl)
        if len(data) < cl:
            raise CaptureError("truncated record data")
        yield sec * 1_000_000_000 + frac * mult, lt, data, wl


def _tsres_to_ns(ts, res):
    # res: (base, exp) meaning units of base**-exp seconds
    base, exp = res
    if base == 10:
        if exp <= 9:
            return ts * 10 ** (9 - exp)
        return ts // 10 ** (exp - 9)
    return (ts * 1_000_000_000) >> exp


def _read_pcapng(f, first):
    e = "<"
    ifaces = []
    pending = first
    while True:
        if pending is None:
            pending = f.read(4)
            if not pending:
                return
        if len(pending) < 4:
            raise CaptureError("truncated pcapng block")
        hdr = pending + f.read(4)
        pending = None
        if len(hdr) < 8:
            raise CaptureError("truncated pcapng block")
        if hdr[:4] == b"\x0a\x0d\x0d\x0a":
            bom = f.read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                e = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                e = ">"
            else:
                raise CaptureError("bad pcapng byte-order magic")
            blen = struct.unpack(e + "I", hdr[4:])[0]
            body = f.read(blen - 12)
            ifaces = []
            continue
        btype, blen = struct.unpack(e + "II", hdr)
        if blen < 12 or blen % 4:
            raise CaptureError("bad pcapng block length %d" % blen)
        body = f.read(blen - 8)
        if len(body) < blen - 8:
            raise CaptureError("truncated pcapng block")
        body = body[:-4]
        if btype == 1:  # IDB
            lt, _r, _snap = struct.unpack_from(e + "HHI", body, 0)
            res = (10, 6)
            off = 8
            while off + 4 <= len(body):
                code, ln = struct.unpack_from(e + "HH", body, off)
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = body[off + 4]
                    res = (2, v & 0x7F) if v & 0x80 else (10, v)
                off += 4 + ln + ((-ln) % 4)
            ifaces.append((lt, res))
        elif btype == 6:  # EPB
            iid, hi, lo, cl, wl = struct.unpack_from(e + "IIIII", body, 0)
            if iid >= len(ifaces):
                raise CaptureError("EPB for unknown interface %d" % iid)
            lt, res = ifaces[iid]
            yield _tsres_to_ns((hi << 32) | lo, res), lt, body[20:20 + cl], wl
        elif btype == 3:  # SPB: no timestamp
            if not ifaces:
                raise CaptureError("SPB before any IDB")
            wl = struct.unpack_from(e + "I", body, 0)[0]
            data = body[4:4 + wl]
            yield 0, ifaces[0][0], data, wl
        elif btype == 2:  # obsolete Packet Block
            iid, _drops, hi, lo, cl, wl = struct.unpack_from(e + "HHIIII", body, 0)
            lt, res = ifaces[iid]
            yield _tsres_to_ns((hi << 32) | lo, res), lt, body[20:20 + cl], wl
        # other blocks (NRB, ISB, DSB, custom) are skipped


# ----------------------------------------------------------------------------
# sessions

class TcpSession:
    """Builds a realistic TCP exchange as a list of (ts_ns, direction, ip_packet)
    where direction is 'c2s' or 's2c'.  Timing: rtt_ns between client and server;
    the client's view (egress then ingress) is what a mirror of the client sees.

        s = TcpSession(rnd, "10.0.1.5", "93.184.216.34", 40000, 443, t0, rtt_ns=20e6)
        s.handshake(); s.send("c2s", hello); s.send("s2c", resp); s.close()
        pkts = s.packets
    """

    def __init__(self, rnd, client, server, cport, sport, t0_ns, rtt_ns=20_000_000,
                 mss=1460, ttl_c=64, ttl_s=52, win_c=64240, win_s=65160):
        self.rnd = rnd
        self.c, self.s = client, server
        self.cport, self.sport = cport, sport
        self.t = int(t0_ns)
        self.rtt = int(rtt_ns)
        self.mss = mss if not is_v6(client) else mss - 20
        self.seq = {"c2s": rnd.getrandbits(32), "s2c": rnd.getrandbits(32)}
        self.ipid = {"c2s": rnd.getrandbits(16), "s2c": rnd.getrandbits(16)}
        self.ttl = {"c2s": ttl_c, "s2c": ttl_s}
        self.win = {"c2s": win_c, "s2c": win_s}
        self.packets = []
        self.bytes = {"c2s": 0, "s2c": 0}

    @staticmethod
    def _other(d):
        return "s2c" if d == "c2s" else "c2s"

    def _emit(self, d, flags, payload=b"", options=b"", ack=True, seq=None, ts=None):
        if d == "c2s":
            src, dst, sp, dp = self.c, self.s, self.cport, self.sport
        else:
            src, dst, sp, dp = self.s, self.c, self.sport, self.cport
        o = self._other(d)
        seg = tcp(src, dst, sp, dp, seq=self.seq[d] if seq is None else seq,
                  ack=self.seq[o] if ack else 0, flags=flags, win=self.win[d],
                  options=options, payload=payload)
        ident = self.ipid[d]
        self.ipid[d] = (ident + 1) & 0xFFFF
        pkt = ip_packet(src, dst, IPPROTO_TCP, seg, ident=ident, ttl=self.ttl[d])
        self.packets.append((self.t if ts is None else ts, d, pkt))
        return pkt

    def advance(self, ns):
        self.t += int(ns)

    def jitter(self, frac=0.1):
        return int(self.rtt * frac * self.rnd.random())

    def handshake(self):
        self._emit("c2s", "S", options=tcp_options(mss=self.mss, sack_perm=True,
                   ts=(self.rnd.getrandbits(32), 0), wscale=7), ack=False)
        self.seq["c2s"] += 1
        self.advance(self.rtt + self.jitter())
        self._emit("s2c", "SA", options=tcp_options(mss=self.mss, sack_perm=True,
                   wscale=7))
        self.seq["s2c"] += 1
        self.advance(50_000 + self.jitter(0.01))
        self._emit("c2s", "A")
        self.advance(30_000)

    def send(self, d, data, segments=None, ack_every=2, think_ns=0):
        """Send data from direction d.  segments: explicit list of chunk sizes
        (to force a split), else MSS-sized.  The receiver ACKs every
        `ack_every` segments and at the end."""
        if isinstance(data, str):
            data = data.encode()
        self.advance(think_ns)
        if segments is None:
            chunks = [data[i:i + self.mss] for i in range(0, len(data), self.mss)]
        else:
            chunks, off = [], 0
            for n in segments:
                chunks.append(data[off:off + n])
                off += n
            if off < len(data):
                chunks.append(data[off:])
        o = self._other(d)
        for i, ch in enumerate(chunks):
            last = i == len(chunks) - 1
            self._emit(d, "PA" if last else "A", payload=ch)
            self.seq[d] += len(ch)
            self.bytes[d] += len(ch)
            self.advance(12_000 + self.rnd.randrange(30_000))
            if (i + 1) % ack_every == 0 or last:
                saved = self.t
                self.t += self.rtt // 2
                self._emit(o, "A")
                self.t = saved
        self.advance(self.rtt // 2 + self.jitter())

    def close(self, initiator="c2s"):
        o = self._other(initiator)
        self._emit(initiator, "FA")
        self.seq[initiator] += 1
        self.advance(self.rtt + self.jitter())
        self._emit(o, "FA")
        self.seq[o] += 1
        self.advance(40_000 + self.jitter(0.01))
        self._emit(initiator, "A")
        self.advance(10_000)

    def reset(self, d="c2s"):
        self._emit(d, "RA")
        self.advance(10_000)


def dns_over_tcp(session, exchanges, coalesce_queries=False, split_response=None):
    """Run DNS-over-TCP on an established TcpSession.  exchanges: list of
    (query_bytes, response_bytes).  coalesce_queries puts all length-prefixed
    queries in one segment (and all responses in one).  split_response: list
    of segment sizes to split the (concatenated) responses across segments."""
    pref = [(struct.pack("!H", len(q)) + q, struct.pack("!H", len(r)) + r)
            for q, r in exchanges]
    if coalesce_queries:
        session.send("c2s", b"".join(q for q, _ in pref))
        session.advance(session.rtt)
        session.send("s2c", b"".join(r for _, r in pref), segments=split_response)
    else:
        for q, r in pref:
            session.send("c2s", q)
            session.advance(session.rtt // 2)
            session.send("s2c", r, segments=split_response)

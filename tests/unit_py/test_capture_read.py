"""read_pcap on captures as users take them: every link type, pcap and pcapng, fragments, floated
L2TP ports, user-named RADIUS ports, typed CaptureError, frames of no interest counted by kind.

The captures are built here with struct-packed headers (tcpdump.org LINKTYPE_* layouts, pcap and
pcapng file formats) around payloads built by proto/ (dlab.proto), then read back."""
from __future__ import annotations

import struct

import pytest

from dlab import proto as P


def ipv4_udp(src: str, dst: str, sport: int, dport: int, payload: bytes, ident: int = 1,
             frag: tuple[int, bool] | None = None, proto: int = 17) -> bytes:
    """An IPv4 datagram (RFC 791) carrying UDP (RFC 768); frag=(offset in octets, more fragments)
    makes it a fragment of the already-built UDP datagram `payload`."""
    body = payload if frag else struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    off, mf = frag if frag else (0, False)
    flags = (0x2000 if mf else 0) | (off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, flags, 64, proto, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    csum = sum(struct.unpack("!10H", hdr))
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + body


def pcap(link_type: int, frames: list[bytes], t0: float = 1000.0) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link_type)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", int(t0) + i, 0, len(f), len(f)) + f
    return out


def pcapng(sections: list[list[tuple[int, list[bytes]]]]) -> bytes:
    """sections: per section, a list of interfaces (link type, frames); timestamps in ns (if_tsresol 9)."""
    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = b""
    for ifaces in sections:
        out += block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        for lt, _ in ifaces:
            opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)   # if_tsresol = 10^-9
            out += block(1, struct.pack("<HHI", lt, 0, 65535) + opts)
        for ifid, (_, frames) in enumerate(ifaces):
            for i, f in enumerate(frames):
                ts = (2000 + i) * 10**9
                out += block(6, struct.pack("<IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f)
    return out


def write(tmp_path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


SCCRQ = P.L2TP.sccrq(assigned_tunnel_id=5, host_name="lac1", ns=0, nr=0).to_bytes()
IP = ipv4_udp("192.0.2.1", "192.0.2.2", 1701, 1701, SCCRQ)
ETH = b"\x02" * 6 + b"\x04" * 6
LCP_REQ = P.LCP(1, 1)
LCP_REQ.mru = 1400
PPP_LCP = P.ppp_frame(P.PROTO_LCP, LCP_REQ.to_bytes(), hdlc=True)
PPP_IP = P.ppp_frame(P.PROTO_IPV4, IP, hdlc=True)

LINK_FRAMES = {
    1: ETH + b"\x08\x00" + IP,                                                       # Ethernet
    0: struct.pack("<I", 2) + IP,                                                    # BSD null (little endian AF)
    108: struct.pack("!I", 2) + IP,                                                  # OpenBSD loopback
    101: IP,                                                                         # raw IP
    228: IP,                                                                         # IPv4
    113: struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800) + IP,                 # Linux SLL
    276: struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 0, 6, b"\x02" * 8) + IP,         # Linux SLL2
    9: PPP_IP,                                                                       # PPP
    50: PPP_IP,                                                                      # PPP in HDLC-like framing
    204: b"\x01" + PPP_IP,                                                           # PPP with direction
    166: b"\x00" + PPP_IP,                                                           # PPP (pppd)
    104: b"\x0f\x00\x08\x00" + IP,                                                  # Cisco HDLC
    51: struct.pack("!BBHH", 0x11, 0, 0x1234, len(PPP_IP) - 2) + PPP_IP[2:],        # PPPoE (no Ethernet)
}


@pytest.mark.req("CAPTURE.read")
@pytest.mark.parametrize("link_type", sorted(LINK_FRAMES))
def test_every_link_type_reads_the_l2tp_datagram(tmp_path, link_type):
    cap = P.read_pcap(write(tmp_path, f"lt{link_type}.pcap", pcap(link_type, [LINK_FRAMES[link_type]])))
    assert len(cap) == 1, (cap, cap.skipped)
    f = cap[0]
    assert (f["protocol"], f["src"], f["sport"], f["link_type"]) == ("l2tp", "192.0.2.1", 1701, link_type)
    assert f["packet"].message_name == "SCCRQ" and f["packet"].host_name == "lac1"
    assert cap.interfaces[0]["link_type"] == link_type and cap.skipped == {}


@pytest.mark.req("CAPTURE.read")
def test_vlan_qinq_and_pppoe_session_inside_ethernet(tmp_path):
    dot1q = ETH + b"\x81\x00\x00\x64\x08\x00" + IP
    qinq = ETH + b"\x88\xa8\x00\x0a\x81\x00\x00\x64\x08\x00" + IP
    pppoe = ETH + b"\x81\x00\x00\x07\x88\x64" + struct.pack("!BBHH", 0x11, 0, 1, len(PPP_IP) - 2) + PPP_IP[2:]
    pppoe_lcp = ETH + b"\x88\x64" + struct.pack("!BBHH", 0x11, 0, 1, len(PPP_LCP) - 2) + PPP_LCP[2:]
    cap = P.read_pcap(write(tmp_path, "eth.pcap", pcap(1, [dot1q, qinq, pppoe, pppoe_lcp])))
    assert [f["protocol"] for f in cap] == ["l2tp", "l2tp", "l2tp", "ppp"]
    lcp = cap[3]["packet"]["packet"]
    assert cap[3]["ppp_protocol"] == P.PROTO_LCP and lcp.code_name == "Configure-Request" and lcp.mru == 1400


@pytest.mark.req("CAPTURE.read")
def test_ppp_on_the_link_is_decoded(tmp_path):
    pap = P.PAP(1, 3)
    pap.peer_id, pap.password = "alice", "pw"
    frames = [PPP_LCP, P.ppp_frame(P.PROTO_PAP, pap.to_bytes(), hdlc=False), PPP_IP, b"\xff\x03\xc0"]
    cap = P.read_pcap(write(tmp_path, "ppp.pcap", pcap(9, frames)))
    assert [f["protocol"] for f in cap] == ["ppp", "ppp", "l2tp", "ppp"]
    assert cap[0]["summary"] == "PPP LCP Configure-Request"
    assert cap[1]["packet"]["packet"].peer_id == "alice"
    assert cap[3]["error"] and cap[3]["packet"] is None          # malformed PPP: reported, not lost
    dirs = P.read_pcap(write(tmp_path, "dir.pcap", pcap(204, [b"\x01" + PPP_LCP, b"\x00" + PPP_LCP])))
    assert [f["direction"] for f in dirs] == ["out", "in"]


@pytest.mark.req("CAPTURE.read")
def test_pcapng_sections_and_interfaces_of_different_link_types(tmp_path):
    data = pcapng([[(1, [LINK_FRAMES[1]]), (9, [PPP_LCP, PPP_IP])], [(113, [LINK_FRAMES[113]])]])
    cap = P.read_pcap(write(tmp_path, "multi.pcapng", data))
    assert cap.format == "pcapng" and [i["link_type"] for i in cap.interfaces] == [1, 9, 113]
    assert [(f["interface"], f["protocol"]) for f in cap] == [(0, "l2tp"), (1, "ppp"), (1, "l2tp"), (2, "l2tp")]
    assert cap[0]["time"] == pytest.approx(2000.0) and cap[2]["time"] == pytest.approx(2001.0)


@pytest.mark.req("CAPTURE.read")
def test_ipv4_fragments_are_reassembled(tmp_path):
    big = P.L2TP.sccrq(assigned_tunnel_id=9, host_name="h" * 1000, vendor_name="v" * 500, ns=0, nr=0).to_bytes()
    udp = struct.pack("!HHHH", 1701, 1701, 8 + len(big), 0) + big
    f1 = ipv4_udp("192.0.2.1", "192.0.2.2", 0, 0, udp[:800], ident=77, frag=(0, True))
    f2 = ipv4_udp("192.0.2.1", "192.0.2.2", 0, 0, udp[800:], ident=77, frag=(800, False))
    cap = P.read_pcap(write(tmp_path, "frag.pcap", pcap(101, [f2, f1])))
    assert len(cap) == 1 and cap[0]["reassembled"] and cap[0]["packet"].vendor_name == "v" * 500
    assert cap.skipped == {"ipv4-fragment-held": 1}


@pytest.mark.req("CAPTURE.read")
def test_floated_l2tp_port_and_user_named_radius_port(tmp_path):
    sccrp = P.L2TP.sccrp(assigned_tunnel_id=7, host_name="lns", tunnel_id=5, ns=0, nr=1).to_bytes()
    req = P.Radius.build(1, 4, {"User-Name": "bob"}).to_bytes()
    frames = [IP, ipv4_udp("192.0.2.2", "192.0.2.1", 40001, 1701, sccrp),       # the LNS answers from a floated port
              ipv4_udp("192.0.2.1", "192.0.2.2", 1701, 40001, P.L2TP.zlb(7, 0, 1, 1).to_bytes()),
              ipv4_udp("192.0.2.9", "192.0.2.8", 5000, 18120, req),
              ipv4_udp("192.0.2.9", "192.0.2.8", 5000, 53, b"\0" * 12),
              ETH + b"\x08\x06" + b"\0" * 28, ETH + b"\x86\xdd" + b"\0" * 40,
              ETH + b"\x08\x00" + ipv4_udp("192.0.2.9", "192.0.2.8", 0, 0, b"\0" * 20, proto=6)]
    frames = [f if f.startswith(ETH) else ETH + b"\x08\x00" + f for f in frames]
    path = write(tmp_path, "float.pcap", pcap(1, frames))
    cap = P.read_pcap(path, radius_ports=[18120])
    assert [f["protocol"] for f in cap] == ["l2tp", "l2tp", "l2tp", "radius-auth", "ipv4", "ipv4"]
    assert cap[1]["packet"].message_name == "SCCRP" and cap[2]["packet"].is_zlb
    assert cap.skipped == {"udp-other": 1, "arp": 1, "ipv6": 1, "tcp": 1} and cap.total == 8
    # the IPv4 packets that are neither L2TP nor RADIUS come back whole (a dial-out's trigger), still counted
    udp, tcp = cap[4], cap[5]
    assert (udp["src"], udp["dst"], udp["sport"], udp["dport"], udp["ip_protocol"]) == ("192.0.2.9", "192.0.2.8", 5000, 53, 17)
    assert udp["payload"] == frames[4][len(ETH) + 2:] and udp["packet"] is None and udp["error"] is None
    assert tcp["ip_protocol"] == 6 and tcp["summary"] == "IPv4 TCP 192.0.2.9 > 192.0.2.8"
    assert [f["protocol"] for f in P.read_pcap(path)].count("radius-auth") == 0


@pytest.mark.req("CAPTURE.errors")
def test_unsupported_link_type_is_a_typed_error(tmp_path):
    with pytest.raises(P.CaptureError) as e:
        P.read_pcap(write(tmp_path, "wifi.pcap", pcap(105, [b"\0" * 30])))
    assert e.value.link_type == 105 and "IEEE802_11" in e.value.link_type_name and "wifi.pcap" in str(e.value)
    with pytest.raises(P.CaptureError) as e:
        P.read_pcap(write(tmp_path, "wifi.pcapng", pcapng([[(1, []), (105, [b"\0" * 30])]])))
    assert e.value.link_type == 105 and "interface 1" in str(e.value)


@pytest.mark.req("CAPTURE.errors")
def test_truncated_and_corrupt_files_are_typed_errors(tmp_path):
    good = pcap(1, [LINK_FRAMES[1], LINK_FRAMES[1]])
    with pytest.raises(P.CaptureError) as e:
        P.read_pcap(write(tmp_path, "cut.pcap", good[:-10]))
    assert e.value.offset == 24 + 16 + len(LINK_FRAMES[1]) and "truncated" in e.value.reason
    ng = pcapng([[(1, [LINK_FRAMES[1]])]])
    with pytest.raises(P.CaptureError) as e:
        P.read_pcap(write(tmp_path, "cut.pcapng", ng[:-6]))
    assert e.value.offset is not None and "truncated" in e.value.reason
    for name, data in (("junk.pcap", b"this is not a capture file at all"), ("tiny.pcap", b"\xd4\xc3"),
                       ("empty.pcap", b"")):
        with pytest.raises(P.CaptureError) as e:
            P.read_pcap(write(tmp_path, name, data))
        assert e.value.file.endswith(name)
    with pytest.raises(P.CaptureError):
        P.read_pcap(str(tmp_path / "absent.pcap"))


@pytest.mark.req("CAPTURE.read")
def test_every_shared_capture_reads(captures):
    for path in sorted(captures.glob("*.pcap*")):
        cap = P.read_pcap(str(path))
        assert len(cap) + sum(cap.skipped.values()) >= 1, path
        assert all(f["summary"] for f in cap), path
        assert all(f["packet"] is not None or f["error"] or f["protocol"] == "ipv4" for f in cap), path

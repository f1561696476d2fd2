"""PPP / HDLC bindings and pcap reading/writing with the captures of ../shared/captures."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from dlab import proto as P


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def test_lcp_configure_request_round_trip_and_frame():
    lcp = P.LCP(1, 7)
    lcp.mru = 1500
    lcp.magic_number = 0x01020304
    lcp.set_auth_chap_md5()
    wire = lcp.to_bytes()
    assert wire[:2] == b"\x01\x07"
    back = P.LCP.parse(wire)
    assert (back.code_name, back.mru, back.magic_number) == ("Configure-Request", 1500, 0x01020304)
    assert back.auth_protocol == (0xC223, b"\x05")
    f = P.ppp_parse(lcp.frame())
    assert f["protocol"] == P.PROTO_LCP and isinstance(f["packet"], P.LCP) and f["packet"].mru == 1500
    assert lcp.frame()[:4] == h("ff03c021")


def test_echo_request_golden_bytes():
    # LCP Echo-Request id 1, magic 0 (as the data message of proto/l2tp's builders test)
    e = P.LCP(9, 1)
    e.magic_number = 0
    assert e.to_bytes() == h("09 01 00 08 00 00 00 00")


def test_ipcp_pap_chap():
    ip = P.IPCP(1, 1)
    ip.ip_address = "10.10.1.2"
    ip.primary_dns = "192.0.2.53"
    back = P.IPCP.parse(ip.to_bytes())
    assert (back.ip_address, back.primary_dns) == ("10.10.1.2", "192.0.2.53")
    pap = P.PAP.parse(P.PAP(1, 3, peer_id="site1", password="pw").to_bytes())
    assert (pap.code, pap.identifier, pap.peer_id, pap.password) == (1, 3, "site1", "pw")
    ch = P.CHAP(1, 5, value=b"\xaa" * 16, name="lns")
    resp = P.chap_md5_response(5, "secret", ch.value)
    assert len(resp) == 16 and resp == P.chap_md5_response(5, b"secret", b"\xaa" * 16)
    r = P.CHAP.parse(P.CHAP(2, 5, value=resp, name="site1").to_bytes())
    assert (r.code, r.value, r.name) == (2, resp, "site1")


def test_ppp_parse_errors():
    with pytest.raises(P.ParseError) as e:
        P.LCP.parse(h("01 01 00 40 01 04 05 dc"))  # Length beyond the buffer
    assert e.value.protocol == "ppp" and "RFC 1661" in e.value.source
    with pytest.raises(P.ParseError):
        P.ppp_parse(b"")


def test_hdlc_async_round_trip_and_bad_fcs_counted():
    frame = h("c0 21 01 01 00 04")
    enc = P.hdlc_encode_async(frame)
    assert enc[0] == 0x7E and enc[-1] == 0x7E and b"\x7d" in enc  # escaped under the default ACCM
    d = P.AsyncDeframer()
    assert d.feed(enc[:5]) == [] and d.feed(enc[5:]) == [frame]
    bad = bytearray(enc)
    bad[-2] ^= 0x01
    assert d.feed(bytes(bad)) == [] and d.stats["bad_fcs"] == 1
    assert P.hdlc_decode_sync(P.hdlc_encode_sync(frame)) == frame
    with pytest.raises(P.ParseError):
        P.hdlc_decode_sync(h("ff 03 c0 21 00 00"))


def test_read_l2tp_capture_decodes_the_tunnel_setup(captures):
    pkts = P.read_pcap(str(captures / "jnetpcap_test-l2tp.pcap"))
    assert len(pkts) > 100
    names = [p["packet"].message_name for p in pkts if p["protocol"] == "l2tp" and p["packet"] is not None]
    for n in ("SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "StopCCN", "ZLB", "data"):
        assert n in names, n
    sccrp = next(p["packet"] for p in pkts if p["packet"] is not None and p["packet"].message_name == "SCCRP")
    assert sccrp.challenge == h("b6649877b09c81bf59f12f80d3793d8c")
    scccn = next(p["packet"] for p in pkts if p["packet"] is not None and p["packet"].message_name == "SCCCN")
    assert scccn.challenge_response == P.challenge_response(3, "", sccrp.challenge)
    assert all(p["summary"] for p in pkts) and pkts[0]["time"] > 1e9


def test_read_malformed_capture_reports_errors_not_crashes(captures):
    pkts = P.read_pcap(str(captures / "tcpdump_l2tp-avp-overflow.pcap"))
    l2tp = [p for p in pkts if p["protocol"] == "l2tp"]
    assert l2tp and all(p["error"] and p["packet"] is None for p in l2tp)


def test_read_hidden_avp_capture(captures):
    pkts = [p for p in P.read_pcap(str(captures / "bngblaster_l2tp_sccrq.pcap")) if p["protocol"] == "l2tp"]
    assert len(pkts) == 1 and pkts[0]["packet"].message_name == "SCCRQ"
    hidden = [a for a in pkts[0]["packet"].avps if a.hidden]
    assert hidden and hidden[0].hidden_state == "undecodable"


def test_read_radius_capture(captures):
    pkts = [p for p in P.read_pcap(str(captures / "arkime_radius.pcap")) if p["packet"] is not None]
    codes = [p["packet"].code_name for p in pkts]
    assert codes and set(codes) <= {"Access-Request", "Access-Accept", "Access-Reject", "Access-Challenge",
                                    "Accounting-Request", "Accounting-Response"}
    assert len(codes) % 2 == 0 and codes[0].endswith("Request") and codes[1].endswith("Response")


def test_write_then_read_and_tshark_agrees(tmp_path):
    path = tmp_path / "built.pcap"
    ocrq = P.L2TP.ocrq(called_number="5551001", assigned_session_id=7, tunnel_id=3, ns=1, nr=1)
    acc = P.Radius.access_accept(9, {"Framed-Route": "10.10.1.0/24"})
    n = P.write_pcap(str(path), [("192.0.2.1", "192.0.2.2", 1701, 1701, ocrq),
                                 {"src": "192.0.2.3", "dst": "192.0.2.1", "sport": 1812, "dport": 40000,
                                  "payload": acc.to_bytes(), "time": 1000.5}])
    assert n == 2
    back = P.read_pcap(str(path))
    assert back[0]["packet"].called_number == "5551001" and back[1]["packet"].identifier == 9
    assert back[1]["time"] == pytest.approx(1000.5)
    if not shutil.which("tshark"):
        pytest.skip("tshark not on PATH")
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "l2tp.avp.called_number",
                          "-e", "radius.id", "-e", "_ws.malformed"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].split("\t")[0] == "5551001" and lines[1].split("\t")[1] == "9"
    assert "malformed" not in out.lower()

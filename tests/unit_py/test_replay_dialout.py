"""Dial-out captures (JunosE "L2TP Dial-Out"): dlab.replay finds the LNS's dial-out (Access-Request
with Service-Type Outbound, RFC 2865 §5.6, then SCCRQ / OCRQ from the LNS) in a synthetic capture
built with proto/, and dlab.replay_run plays its LAC side against a scripted LNS on loopback that
opens the tunnel and places the call itself: our SCCRP / OCRP / OCCN follow its Tunnel and Session
IDs and its Challenge (RFC 2661 §5.1.1), the CPE's PPP answers its CHAP Challenge with --ppp-secret
and challenges it in turn (RFC 1994 §4.1); the captured home server's reply becomes FreeRADIUS
reply items or is re-signed for lnsd's live request (RFC 2868 §3.5 Tunnel-Password)."""
from __future__ import annotations

import socket
import threading

import pytest

from test_replay import ScriptedPeer, cli_list_json

from dlab import proto as P
from dlab import replay
from dlab import replay_run as R

LNS, LAC, NAS, HOME = "192.0.2.2", "192.0.2.1", "10.0.0.1", "10.0.0.10"
SECRET, PPP_SECRET, HOME_SECRET = "tunnel-secret", "cpe-pass", "home-secret"
USER = "0.0.0.0:65000/10.10.1.1@dial-out.example"


def lcp(code, ident, options=()):
    p = P.LCP(code, ident)
    for t, v in options:
        p.add_option(t, v)
    return p


def data(tid, sid, pkt, proto=P.PROTO_LCP):
    return P.L2TP.data(tunnel_id=tid, session_id=sid, payload=P.ppp_frame(proto, pkt.to_bytes(), True))


def home_exchange():
    """The dial-out Access-Request and the home server's Access-Accept (Table 75 attributes)."""
    req = P.Radius.build(1, 7, [("User-Name", USER), ("Service-Type", "Outbound-User")])
    req.authenticator = bytes(range(16))
    acc = P.Radius.build(2, 7, [("Service-Type", "Outbound-User"), ("Tunnel-Type", "L2TP", 1),
                                ("Tunnel-Medium-Type", "IPv4", 1), ("Tunnel-Server-Endpoint", LAC, 1),
                                ("ERX-Dial-Out-Number", "5551001"), ("ERX-PPP-Auth-Protocol", "CHAP")])
    # a fixed Salt (RFC 2868 §3.5): the wrong-secret case below then decrypts to the same octets each run
    acc.add_tunnel_password(1, SECRET, HOME_SECRET, req.authenticator, 0x8000)
    return req, acc


def build_dialout_capture(path, busy=False):
    """The LNS (192.0.2.2) dials out through the LAC (192.0.2.1): RADIUS, SCCRQ (Challenge), SCCRP,
    SCCCN, OCRQ, OCRP, OCCN, LCP with CHAP both ways (the CPE checks the LNS too), CDN from the LAC.
    With `busy` the LAC answers the OCRQ with OCRP and a CDN (Result Code 8, RFC 2661 §4.4.2)."""
    req, acc = home_exchange()
    c_lns, c_lac = bytes(range(16)), bytes(range(16, 32))
    L = P.L2TP
    sccrq = L.sccrq(assigned_tunnel_id=40, host_name="cap-lns", challenge=c_lns, ns=0, nr=0)
    sccrp = L.sccrp(assigned_tunnel_id=50, host_name="cap-lac", challenge=c_lac, tunnel_id=40, ns=0, nr=1,
                    challenge_response=P.challenge_response(2, SECRET, c_lns))
    scccn = L.scccn(challenge_response=P.challenge_response(3, SECRET, c_lac), tunnel_id=50, ns=1, nr=1)
    ocrq = L.ocrq(called_number="5551001", assigned_session_id=41, call_serial_number=9, tunnel_id=50, ns=2, nr=1)
    ocrp = L.ocrp(assigned_session_id=51, tunnel_id=40, session_id=41, ns=1, nr=3)
    occn = L.occn(tx_connect_speed=64000, framing_type=P.FRAMING_SYNC, tunnel_id=40, session_id=41, ns=2, nr=3)
    up, down = (LNS, LAC, 1701, 1701), (LAC, LNS, 1701, 1701)
    frames = [(NAS, HOME, 5000, 1812, req, 0.0), (HOME, NAS, 1812, 5000, acc, 0.01),
              (*up, sccrq, 0.1), (*down, sccrp, 0.2), (*up, scccn, 0.3), (*up, ocrq, 0.4), (*down, ocrp, 0.5)]
    if busy:
        frames += [(*down, L.cdn(result=8, assigned_session_id=51, tunnel_id=40, session_id=41, ns=2, nr=3), 0.6)]
    else:
        chap_opt = (3, b"\xc2\x23\x05")
        lns_chal, cpe_chal = b"\xaa" * 16, b"\xbb" * 16
        frames += [
            (*down, occn, 0.6),
            (*up, data(50, 51, lcp(1, 1, [chap_opt, (5, b"\x11\x11\x11\x11")])), 0.7),
            (*down, data(40, 41, lcp(2, 1, [chap_opt, (5, b"\x11\x11\x11\x11")])), 0.71),
            (*down, data(40, 41, lcp(1, 9, [chap_opt, (5, b"\x22\x22\x22\x22")])), 0.72),
            (*up, data(50, 51, lcp(2, 9, [chap_opt, (5, b"\x22\x22\x22\x22")])), 0.73),
            (*up, data(50, 51, P.CHAP(1, 3, value=lns_chal, name="cap-lns"), P.PROTO_CHAP), 0.8),
            (*down, data(40, 41, P.CHAP(1, 4, value=cpe_chal, name="cpe"), P.PROTO_CHAP), 0.81),
            (*up, data(50, 51, P.CHAP(2, 4, value=P.chap_md5_response(4, "lns-pass", cpe_chal), name="lns-home"),
                       P.PROTO_CHAP), 0.82),
            (*down, data(40, 41, P.CHAP(2, 3, value=P.chap_md5_response(3, PPP_SECRET, lns_chal), name="cpe"),
                         P.PROTO_CHAP), 0.83),
            (*down, data(40, 41, P.CHAP(3, 4, message="ok"), P.PROTO_CHAP), 0.84),
            (*up, data(50, 51, P.CHAP(3, 3, message="welcome"), P.PROTO_CHAP), 0.85),
            (*down, L.cdn(result=1, assigned_session_id=51, tunnel_id=40, session_id=41, ns=3, nr=3), 1.0)]
    P.write_pcap(str(path), [{"src": s, "dst": d, "sport": sp, "dport": dp, "payload": p.to_bytes(), "time": 100 + t}
                             for s, d, sp, dp, p, t in frames])
    return path


@pytest.mark.req("REPLAY.dialout", "REPLAY.analysis")
def test_analysis_finds_the_dialout_its_user_name_and_tunnel(tmp_path):
    conv = replay.load(build_dialout_capture(tmp_path / "d.pcap"))
    (x,) = conv.dialouts
    assert (x.user, x.destination, x.route_distinguisher, x.domain, x.outcome) == \
        (USER, "10.10.1.1", "0.0.0.0:65000", "dial-out.example", "Access-Accept")
    t = x.tunnel
    assert t is conv.tunnels[0] and t.initiator == "LNS" and t.roles_from == "OCRQ sender is the LNS"
    assert (t.lac[0], t.lns[0], t.lac_tunnel_id, t.lns_tunnel_id) == (LAC, LNS, 50, 40)
    (s,) = t.sessions
    assert (s.kind, s.lac_session_id, s.lns_session_id, s.complete) == ("outgoing", 51, 41, True)
    assert "dial-out: '0.0.0.0:65000/10.10.1.1@dial-out.example' (destination 10.10.1.1) -> Access-Accept; tunnel 1" \
        in conv.describe()
    assert replay.to_json(conv)["dialouts"][0]["tunnel"] == 1
    assert replay.parse_dialout_user("10.20.1.1@nord.example") == ("10.20.1.1", None, "nord.example")
    assert replay.parse_dialout_user("someone@corp") == (None, None, "corp")
    # an incoming call's Access-Request (no Service-Type Outbound) is no dial-out
    assert replay.load(build_dialout_capture(tmp_path / "b.pcap", busy=True)).dialouts[0].tunnel.sessions[0].kind == \
        "outgoing"
    assert not R.pick_dialout(conv, 2) and R.pick_dialout(conv, None) is x and R.pick_dialout(conv, 1) is x


@pytest.mark.req("REPLAY.dialout")
def test_home_reply_as_freeradius_items_and_re_signed_for_the_live_request():
    req, acc = home_exchange()
    items, left = R.dialout_reply_items(acc, LAC, SECRET)
    assert items == ["Service-Type = 5", "Tunnel-Type:1 = 3", "Tunnel-Medium-Type:1 = 1",
                     f'Tunnel-Server-Endpoint:1 = "{R.LAB_LAC}"', 'ERX-Dial-Out-Number = "5551001"',
                     "ERX-PPP-Auth-Protocol = 2", f'Tunnel-Password:1 = "{SECRET}"'] and not left
    items, left = R.dialout_reply_items(acc, "203.0.113.99", None)
    assert f'Tunnel-Server-Endpoint:1 = "{LAC}"' in items and left == [("Tunnel-Password:1", left[0][1])]
    assert "give --secret" in left[0][1]
    # --radius capture: the captured Accept for a live request with another Authenticator
    x = replay.RadiusExchange(replay.Message({"packet": req}, "client"), replay.Message({"packet": acc}, "server"),
                              (NAS, 5000), (HOME, 1812))
    live = P.Radius.build(1, 99, [("User-Name", USER)])
    live.authenticator = b"\x55" * 16
    out = R.captured_reply_for(x, live, HOME_SECRET, lac=LAC)
    assert out.tunnel_password(HOME_SECRET, live.authenticator, 1) == SECRET
    assert out.get("Tunnel-Server-Endpoint", 1) == R.LAB_LAC and out.get("ERX-Dial-Out-Number") == "5551001"
    # another secret does not decrypt it: the attribute stays as captured
    kept = R.captured_reply_for(x, live, "not-the-home-secret", lac=None)
    assert kept.get(69) == acc.get(69) and kept.get("Tunnel-Server-Endpoint", 1) == LAC


@pytest.mark.req("REPLAY.dialout")
def test_captured_tunnel_password_under_another_secret_never_breaks_the_reply():
    """RFC 2868 §3.5 has no integrity check: under another secret the captured Tunnel-Password
    decrypts to random octets. Over 512 Salts, none may raise (random octets that are no text once
    crashed the re-encryption), and those that are no text or fail the Data-Length check leave the
    attribute as captured."""
    req, _ = home_exchange()
    live = P.Radius.build(1, 99, [("User-Name", USER)])
    live.authenticator = b"\x55" * 16
    kept = 0
    for salt in range(0x8000, 0x8200):
        acc = P.Radius.build(2, 7, [("Tunnel-Server-Endpoint", LAC, 1)])
        acc.add_tunnel_password(1, SECRET, HOME_SECRET, req.authenticator, salt)
        x = replay.RadiusExchange(replay.Message({"packet": req}, "client"),
                                  replay.Message({"packet": acc}, "server"), (NAS, 5000), (HOME, 1812))
        out = R.captured_reply_for(x, live, "not-the-home-secret", lac=None)
        kept += out.get(69) == acc.get(69)
    assert kept >= 500, f"only {kept} of 512 left as captured"


def build_radius_timeout_capture(path, sends=4, interval=0.5):
    """Table 75's RADIUS timeout: the LNS's dial-out Access-Request sent `sends` times `interval` s
    apart (the same datagram, RFC 5080 §2.2.1), no reply, no L2TP."""
    req, _ = home_exchange()
    P.write_pcap(str(path), [{"src": NAS, "dst": HOME, "sport": 5000, "dport": 1812, "payload": req.to_bytes(),
                              "time": 100 + k * interval} for k in range(sends)])
    return path


@pytest.mark.req("REPLAY.dialout", "REPLAY.analysis")
def test_unanswered_dialout_request_with_its_retransmissions(tmp_path):
    """One dial-out, its retransmissions grouped under the request (not four dial-outs); lnsd's
    radius-timeout follows the captured interval; the report counts the DUT's retransmissions."""
    conv = replay.load(build_radius_timeout_capture(tmp_path / "t.pcap"))
    (x,) = conv.dialouts
    assert x.outcome == "no reply captured" and x.tunnel is None and len(x.radius.retransmissions) == 3
    assert "sent 4 times -> no reply captured" in conv.describe()
    assert replay.to_json(conv)["radius"][0]["retransmissions"] == 3
    assert R.retransmission_interval(x.radius) == pytest.approx(0.5)
    captured = R.requests_of([x.radius])
    req = x.radius.request.packet
    other = P.Radius.build(1, 8, [("User-Name", USER), ("Service-Type", "Outbound-User")])
    other.authenticator = b"\x01" * 16   # a new request (new Authenticator), not a retransmission

    def verdicts(dut):
        return [(i.verdict, i.name) for i in R.compare_radius_requests(captured, dut, R.DEFAULT_RULES)]
    again = ("matched", "RADIUS Access-Request retransmission")
    assert verdicts([req] * 4) == [("matched", "RADIUS Access-Request"), again, again, again]
    assert verdicts([req] * 2) == [("matched", "RADIUS Access-Request"), again,
                                   ("missing", "RADIUS Access-Request retransmission"),
                                   ("missing", "RADIUS Access-Request retransmission")]
    assert verdicts([req] * 5)[-1] == ("extra", "RADIUS Access-Request retransmission")
    assert verdicts([req] * 4 + [other])[-1] == ("extra", "RADIUS Access-Request")
    # a capture without retransmissions: the DUT's one retransmission is reported, not paired
    one = R.requests_of([replay.RadiusExchange(x.radius.request, None, x.radius.client, x.radius.server)])
    assert [i.verdict for i in R.compare_radius_requests(one, [req, req], R.DEFAULT_RULES)] == ["matched", "extra"]


def _ones_complement_sum(data: bytes) -> int:
    data += b"\0" * (len(data) % 2)
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total


@pytest.mark.req("REPLAY.dialout", "CAPTURE.read")
def test_captured_tcp_syn_is_the_trigger_replayed_with_lab_addresses(tmp_path):
    """The capture's own trigger (a TCP SYN from a host to the dial-out destination, before the
    LNS's Access-Request) is found by the analysis and replayed from the lab's home host to the
    destination, checksums recomputed; a capture without one falls back to an ICMP Echo."""
    syn = P.TriggerInjector.tcp_syn("172.16.5.5", "10.10.1.1", 40000, 443, isn=777)
    other = P.TriggerInjector.udp("172.16.5.5", "10.99.0.1", 5000, 53, b"q")   # elsewhere: not the trigger
    req, acc = home_exchange()
    path = tmp_path / "syn.pcap"
    P.write_pcap(str(path), [{"ip": other, "time": 99.0}, {"ip": syn, "time": 99.5},
                             {"src": NAS, "dst": HOME, "sport": 5000, "dport": 1812, "payload": req, "time": 100.0},
                             {"src": HOME, "dst": NAS, "sport": 1812, "dport": 5000, "payload": acc, "time": 100.1},
                             {"ip": syn, "time": 101.0}])     # the trigger again after the request: not it
    conv = replay.load(path)
    assert [f["protocol"] for f in conv.capture] == ["ipv4", "ipv4", "radius-auth", "radius-auth", "ipv4"]
    assert conv.capture.skipped == {"tcp": 2, "udp-other": 1} and len(conv.ip_packets) == 3
    (x,) = conv.dialouts
    assert x.trigger is conv.ip_packets[1] and x.trigger["index"] == 2
    assert (x.trigger["ip_protocol"], x.trigger["sport"], x.trigger["dport"]) == (6, 40000, 443)
    assert "; trigger frame 2 (IPv4 TCP 172.16.5.5 > 10.10.1.1, ports 40000 > 443)" in conv.describe()
    assert replay.to_json(conv)["dialouts"][0]["trigger"] == 2
    item, pkt = R.trigger_packet(x, "10.10.1.1")
    assert item.verdict == "sent" and item.frame == 2 and "captured trigger packet" in item.reason
    assert pkt[12:16] == bytes([203, 0, 113, 10]) and pkt[16:20] == bytes([10, 10, 1, 1])   # home -> destination
    ihl = (pkt[0] & 0x0f) * 4
    assert pkt[ihl:ihl + 4] == syn[ihl:ihl + 4]                                               # same ports
    assert pkt[ihl + 4:ihl + 8] == (777).to_bytes(4, "big") and pkt[ihl + 13] & 0x02         # ISN, SYN
    assert _ones_complement_sum(pkt[:ihl]) == 0xffff                                           # RFC 791 §3.1
    pseudo = pkt[12:20] + b"\0\x06" + (len(pkt) - ihl).to_bytes(2, "big")
    assert _ones_complement_sum(pseudo + pkt[ihl:]) == 0xffff                                  # RFC 793 §3.1
    assert R.trigger_packet(x, "10.10.7.7")[1][16:20] == bytes([10, 10, 7, 7])                 # --trigger
    # no packet towards the destination before the request: the ICMP Echo stands in
    bare = replay.load(build_radius_timeout_capture(tmp_path / "bare.pcap", sends=1))
    item, pkt = R.trigger_packet(bare.dialouts[0], "10.10.1.1")
    assert bare.dialouts[0].trigger is None and item.frame is None and item.reason.startswith("stand-in")
    assert pkt[9] == 1 and pkt[20] == 8     # ICMP Echo Request


class FakeDialoutLns(ScriptedPeer):
    """A scripted LNS on 127.0.0.1 that dials out to the replay (the LAC): Tunnel ID 700, Session ID
    71, a Challenge; CHAP-authenticates the CPE and answers the CPE's Challenge as `lns-home`.
    Records what it checked."""

    def __init__(self, lac: tuple[str, int], busy: bool = False):
        super().__init__(peer=lac)
        self.busy = busy

    def _run(self):
        ep, L = self.ep, P.L2TP
        chal = b"\x42" * 16
        ep.send(L.sccrq(assigned_tunnel_id=700, host_name="fake-lns", challenge=chal))
        rp = ep.expect("SCCRP", within=2)
        self.checks["sccrp_header"] = rp.tunnel_id
        self.checks["sccrp_cr_ok"] = rp.challenge_response == P.challenge_response(2, SECRET, chal)
        ep.send(L.scccn(challenge_response=P.challenge_response(3, SECRET, rp.challenge)))
        ep.send(L.ocrq(called_number="5551001", assigned_session_id=71, call_serial_number=1))
        ocrp = ep.expect("OCRP", within=2)
        self.checks["ocrp_header"] = (ocrp.tunnel_id, ocrp.session_id)
        sid = ocrp.assigned_session_id
        if self.busy:
            cdn = ep.expect("CDN", within=2)
            self.checks["cdn"] = (cdn.session_id, cdn.result_code["result"])
            ep.drain(0.3)
            return
        occn = ep.expect("OCCN", within=2)
        self.checks["occn_header"] = (occn.tunnel_id, occn.session_id)

        def ppp(pkt, proto=P.PROTO_LCP):
            ep.send(L.data(tunnel_id=0, session_id=sid, payload=P.ppp_frame(proto, pkt.to_bytes(), True)),
                    auto_seq=False, fill_tunnel_id=True)

        def recv():
            return P.ppp_parse(ep.expect(lambda x: x.is_data, within=2).payload)["packet"]
        ppp(lcp(1, 1, [(3, b"\xc2\x23\x05"), (5, b"\x01\x02\x03\x04")]))
        got = [recv(), recv()]      # the CPE's Ack of ours and its own Configure-Request, in either order
        req = next(p for p in got if p.code == 1)
        self.checks["cpe_asks_chap"] = dict(req.options).get(3) == b"\xc2\x23\x05"
        ppp(lcp(2, req.identifier, list(req.options)))
        ppp(P.CHAP(1, 6, value=b"\x99" * 16, name="fake-lns"), P.PROTO_CHAP)
        seen = {}
        while len(seen) < 2:         # the CPE's Response to us and its own Challenge, in either order
            p = recv()
            seen[p.code] = p
        self.checks["chap_ok"] = bytes(seen[2].value) == bytes(P.chap_md5_response(6, PPP_SECRET, b"\x99" * 16))
        self.checks["cpe_challenge_name"] = seen[1].name
        self.checks["cpe_challenge_fresh"] = bytes(seen[1].value) != b"\xbb" * 16
        ppp(P.CHAP(2, seen[1].identifier, value=P.chap_md5_response(seen[1].identifier, "lns-pass", bytes(seen[1].value)),
                   name="lns-home"), P.PROTO_CHAP)
        ppp(P.CHAP(3, 6, message="welcome"), P.PROTO_CHAP)
        ok = recv()
        self.checks["cpe_success"] = (ok.code, ok.identifier) == (3, seen[1].identifier)
        cdn = ep.expect("CDN", within=2)
        self.checks["cdn"] = (cdn.session_id, cdn.result_code["result"])
        ep.drain(0.3)


def replay_dialout(tmp_path, busy=False, **kw):
    conv = replay.load(build_dialout_capture(tmp_path / "d.pcap", busy=busy))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dut = FakeDialoutLns(s.getsockname(), busy=busy)
    r = R.Replay(conv, s, dut.addr, tunnel=conv.dialouts[0].tunnel, first_wait=3, **kw)
    dut.start()
    rep = r.run()
    dut.join(10)
    s.close()
    if dut.error:
        raise dut.error
    return rep, dut.checks


@pytest.mark.req("REPLAY.dialout", "REPLAY.rewrite")
def test_lac_side_of_a_dialout_against_a_scripted_lns(tmp_path):
    rep, ck = replay_dialout(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=2)
    assert ck["sccrp_header"] == 700 and ck["sccrp_cr_ok"] is True, ck    # the DUT's Tunnel ID and Challenge
    assert ck["ocrp_header"] == (700, 71) and ck["occn_header"] == (700, 71), ck
    assert ck["cpe_asks_chap"] and ck["chap_ok"] is True, ck                # CHAP recomputed with --ppp-secret
    assert ck["cpe_challenge_name"] == "cpe" and ck["cpe_challenge_fresh"], ck   # our own Challenge, captured Name
    assert ck["cpe_success"] and ck["cdn"] == (71, 1), ck
    v = [(i.name, i.verdict) for i in rep.items if i.frame is not None and not i.name.startswith("PPP LCP")]
    assert v == [("SCCRQ", "matched"), ("SCCRP", "sent"), ("SCCCN", "matched"), ("OCRQ", "matched"),
                 ("OCRP", "sent"), ("OCCN", "sent"), ("PPP CHAP Challenge", "matched"), ("PPP CHAP Challenge", "live"),
                 ("PPP CHAP Response", "matched"), ("PPP CHAP Response", "live"), ("PPP CHAP Success", "live"),
                 ("PPP CHAP Success", "matched"), ("CDN", "sent")], rep.text()
    resp = next(i for i in rep.items if i.name == "PPP CHAP Response" and i.verdict == "matched")
    assert [(d.field, d.ignored) for d in resp.differences] == [("Response", True)], rep.text()
    assert not rep.errors and rep.exit_status == R.EXIT_OK, rep.text()
    # the DUT's CHAP Name is compared: a rule set that says so finds the Name the same, the value not
    strict = {k: v for k, v in R.DEFAULT_RULES.items() if k != "CHAP:Response"}
    rep2, _ = replay_dialout(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=2, rules=strict)
    assert rep2.exit_status == R.EXIT_DIFFERENT
    assert [(i.name, d.field) for i in rep2.items for d in i.differences if not d.ignored] == \
        [("PPP CHAP Response", "Response")], rep2.text()


@pytest.mark.req("REPLAY.dialout", "REPLAY.rewrite")
def test_failed_dialout_cdn_follows_the_live_session(tmp_path):
    rep, ck = replay_dialout(tmp_path, busy=True, secret=SECRET, wait=2)
    assert ck["ocrp_header"] == (700, 71) and ck["cdn"] == (71, 8), ck   # Result Code 8: busy, as captured
    assert [(i.name, i.verdict) for i in rep.items] == [("SCCRQ", "matched"), ("SCCRP", "sent"), ("SCCCN", "matched"),
                                                       ("OCRQ", "matched"), ("OCRP", "sent"), ("CDN", "sent")], rep.text()
    assert rep.exit_status == R.EXIT_OK


class FakeLac(ScriptedPeer):
    """A scripted LAC on 127.0.0.1 answering the replayed LNS side of a busy dial-out: Tunnel ID
    800, Session ID 81, OCRP then CDN busy (Result Code 8, RFC 2661 §4.4.2)."""

    def _run(self):
        ep, L = self.ep, P.L2TP
        rq = ep.expect("SCCRQ", within=3)
        chal = b"\x24" * 16
        self.checks["sccrq"] = (rq.tunnel_id, rq.challenge is not None)
        ep.send(L.sccrp(assigned_tunnel_id=800, host_name="fake-lac", challenge=chal,
                        challenge_response=P.challenge_response(2, SECRET, rq.challenge)))
        cn = ep.expect("SCCCN", within=2)
        self.checks["scccn"] = (cn.tunnel_id, cn.challenge_response == P.challenge_response(3, SECRET, chal))
        oc = ep.expect("OCRQ", within=2)
        self.checks["ocrq"] = (oc.tunnel_id, oc.session_id, oc.called_number)
        ep.send(L.ocrp(assigned_session_id=81, session_id=oc.assigned_session_id))
        ep.send(L.cdn(result=8, assigned_session_id=81, session_id=oc.assigned_session_id))
        ep.drain(0.3)


@pytest.mark.req("REPLAY.dut-lac", "REPLAY.rewrite")
def test_lns_side_of_a_dialout_against_a_scripted_lac(tmp_path):
    conv = replay.load(build_dialout_capture(tmp_path / "b.pcap", busy=True))
    dut = FakeLac()
    dut.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    rep = R.Replay(conv, s, dut.addr, tunnel=conv.dialouts[0].tunnel, secret=SECRET, wait=2, side="LNS").run()
    dut.join(10)
    s.close()
    if dut.error:
        raise dut.error
    assert dut.checks == {"sccrq": (0, True), "scccn": (800, True), "ocrq": (800, 0, "5551001")}, dut.checks
    assert [(i.name, i.verdict) for i in rep.items] == [("SCCRQ", "sent"), ("SCCRP", "matched"), ("SCCCN", "sent"),
                                                       ("OCRQ", "sent"), ("OCRP", "matched"), ("CDN", "matched")], rep.text()
    assert rep.exit_status == R.EXIT_OK
    setup = R.lac_side_setup(conv.dialouts[0].tunnel, None, conv.dialouts[0])
    assert setup["number"] == "5551001" and setup["isdn"] == {"behaviour": "answer"}   # no Q.931 cause captured
    with pytest.raises(ValueError):
        R.Replay(conv, s, dut.addr, tunnel=conv.dialouts[0].tunnel, side="CPE")


class BatchingLac(ScriptedPeer):
    """A scripted LAC on 127.0.0.1 answering the replayed LNS side of the basic dial-out: Tunnel ID
    800, Session ID 81; OCRP, OCCN and its CPE's first LCP Configure-Request back to back (then
    `batch_sent` is set), LCP and CHAP both ways as the CPE, CDN. Records what it checked."""

    def __init__(self):
        super().__init__()
        self.batch_sent = threading.Event()

    def _run(self):
        ep, L = self.ep, P.L2TP
        rq = ep.expect("SCCRQ", within=3)
        chal = b"\x24" * 16
        ep.send(L.sccrp(assigned_tunnel_id=800, host_name="fake-lac", challenge=chal,
                        challenge_response=P.challenge_response(2, SECRET, rq.challenge)))
        ep.expect("SCCCN", within=2)
        oc = ep.expect("OCRQ", within=2)
        sid = oc.assigned_session_id

        def ppp(pkt, proto=P.PROTO_LCP):
            ep.send(L.data(tunnel_id=0, session_id=sid, payload=P.ppp_frame(proto, pkt.to_bytes(), True)),
                    auto_seq=False, fill_tunnel_id=True)

        def recv():
            return P.ppp_parse(ep.expect(lambda x: x.is_data, within=2).payload)["packet"]
        ep.send(L.ocrp(assigned_session_id=81, session_id=sid))
        ep.send(L.occn(tx_connect_speed=64000, framing_type=P.FRAMING_SYNC, session_id=sid))
        ppp(lcp(1, 9, [(3, b"\xc2\x23\x05"), (5, b"\x33\x33\x33\x33")]))
        self.batch_sent.set()
        got = {p.code: p for p in (recv(), recv())}   # the LNS side's Configure-Request and its Ack of ours
        self.checks["lcp_ack_of_ours"] = 2 in got and got[2].identifier == 9
        ppp(lcp(2, got[1].identifier, list(got[1].options)))
        ch = recv()
        ppp(P.CHAP(1, 4, value=b"\x77" * 16, name="cpe"), P.PROTO_CHAP)
        ppp(P.CHAP(2, ch.identifier, value=P.chap_md5_response(ch.identifier, PPP_SECRET, bytes(ch.value)),
                   name="cpe"), P.PROTO_CHAP)
        resp = recv()
        self.checks["lns_response_ok"] = bytes(resp.value) == bytes(P.chap_md5_response(4, PPP_SECRET, b"\x77" * 16))
        ppp(P.CHAP(3, 4, message="ok"), P.PROTO_CHAP)
        self.checks["verdict"] = recv().code      # the captured LNS's Success on our Response
        ep.send(L.cdn(result=1, assigned_session_id=81, session_id=sid))
        ep.drain(0.3)


class _HeldAfterOcrq:
    """The replay's endpoint, except that once the OCRQ is sent its next receive waits (at most 5 s)
    for `gate`: the LAC's OCRP, OCCN and first PPP frame are then taken in one batch, as a loaded
    machine delivers them."""

    def __init__(self, ep, gate: threading.Event):
        self._ep, self._gate, self._hold = ep, gate, False

    def send(self, msg, **kw):
        self._hold |= msg.is_control and msg.message_name == "OCRQ"
        return self._ep.send(msg, **kw)

    def expect(self, *a, **kw):
        if self._hold:
            assert self._gate.wait(5), "the scripted LAC never sent its batch"
            self._hold = False
        return self._ep.expect(*a, **kw)

    def __getattr__(self, name):
        return getattr(self._ep, name)


@pytest.mark.req("REPLAY.dut-lac", "REPLAY.rewrite")
def test_lac_ppp_arriving_with_its_ocrp_is_answered(tmp_path):
    """The DUT's first LCP Configure-Request taken in one batch with the OCRP that assigns its Session
    ID (RFC 2661 §4.4.4) is answered by the PPP peer once that ID is known, not left to the DUT's
    Restart timer (RFC 1661 §4.6): LCP, CHAP both ways and the CDN match in full."""
    conv = replay.load(build_dialout_capture(tmp_path / "d.pcap"))
    dut = BatchingLac()
    dut.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    r = R.Replay(conv, s, dut.addr, tunnel=conv.dialouts[0].tunnel, secret=SECRET, ppp_secret=PPP_SECRET,
                 wait=2, side="LNS")
    r.ep = _HeldAfterOcrq(r.ep, dut.batch_sent)
    rep = r.run()
    dut.join(10)
    s.close()
    if dut.error:
        raise dut.error
    assert dut.checks == {"lcp_ack_of_ours": True, "lns_response_ok": True, "verdict": 3}, dut.checks
    expected = [(i.name, i.verdict) for i in rep.items if i.frame is not None and i.verdict not in ("sent", "live")]
    assert expected == [("SCCRP", "matched"), ("OCRP", "matched"), ("OCCN", "matched"),
                        # the LAC's Configure-Request came before its Ack of ours, the other way round
                        # in the capture: out of order, still compatible
                        ("PPP LCP Configure-Ack", "matched"), ("PPP LCP Configure-Request", "out-of-order"),
                        ("PPP CHAP Challenge", "matched"), ("PPP CHAP Response", "matched"),
                        ("PPP CHAP Success", "matched"), ("CDN", "matched")], rep.text()
    assert not [i for i in rep.items if i.verdict == "extra"] and rep.exit_status == R.EXIT_OK, rep.text()


@pytest.mark.req("REPLAY.dialout", "REPLAY.analysis")
def test_cli_lists_the_dialout_and_takes_trigger_and_dut(tmp_path, capsys):
    path = build_dialout_capture(tmp_path / "d.pcap")
    p, doc = cli_list_json(path, capsys)
    assert doc["dialouts"] == [{"user": USER, "destination": "10.10.1.1", "route_distinguisher": "0.0.0.0:65000",
                                "domain": "dial-out.example", "outcome": "Access-Accept", "tunnel": 1, "trigger": None}]
    a = p.parse_args([str(path), "--dut", "lac-emu", "--trigger", "10.10.9.9"])
    assert (a.dut, a.trigger) == ("lac-emu", "10.10.9.9")
    assert p.parse_args([str(path), "--dut", "xl2tpd"]).dut == "xl2tpd"
    with pytest.raises(SystemExit):
        p.parse_args([str(path), "--dut", "pppd"])

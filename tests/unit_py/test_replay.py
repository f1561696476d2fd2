"""dlab.replay (analysis) and dlab.replay_run (rewriting, comparison) on synthetic captures built
with proto/ (dlab.proto), replayed against a scripted LNS on loopback (a ScriptedL2tp in a thread)
that checks what a real LNS would: its Tunnel / Session IDs in the headers, Ns / Nr in sequence
across the 65 535 wrap, the Challenge Response to its own Challenge (RFC 2661 §5.1.1), the hidden
AVPs (§4.3) and the CHAP Response to its own Challenge (RFC 1994 §4.1)."""
from __future__ import annotations

import socket
import threading

import pytest

from dlab import proto as P
from dlab import replay
from dlab import replay_run as R

LAC, LNS = "192.0.2.1", "192.0.2.2"
SECRET, PPP_SECRET = "tunnel-secret", "chap-secret"


def lcp(code, ident, **opts):
    p = P.LCP(code, ident)
    for t, v in opts.get("options", []):
        p.add_option(t, v)
    return p


def data(tid, sid, pkt, proto=P.PROTO_LCP):
    return P.L2TP.data(tunnel_id=tid, session_id=sid, payload=P.ppp_frame(proto, pkt.to_bytes(), True))


def build_capture(path, floated=True, hide_lns=False):
    """A LAC (192.0.2.1) ↔ LNS (192.0.2.2) conversation: tunnel with Challenges both ways, an
    incoming call whose ICRQ hides Calling Number, LCP both ways, CHAP, CDN; the LNS answers from
    port 40001 when `floated`; with `hide_lns` the ICRP hides its Assigned Session ID."""
    c_lac, c_lns = bytes(range(16)), bytes(range(16, 32))
    sccrq = P.L2TP.sccrq(assigned_tunnel_id=5, host_name="cap-lac", challenge=c_lac, ns=0, nr=0)
    sccrp = P.L2TP.sccrp(assigned_tunnel_id=7, host_name="cap-lns", challenge=c_lns, tunnel_id=5, ns=0, nr=1,
                         challenge_response=P.challenge_response(2, SECRET, c_lac))
    scccn = P.L2TP.scccn(challenge_response=P.challenge_response(3, SECRET, c_lns), tunnel_id=7, ns=1, nr=1)
    icrq = P.L2TP.icrq(assigned_session_id=11, call_serial_number=1, calling_number="5550001", tunnel_id=7, ns=2, nr=1)
    icrq.set_hiding(SECRET, random_vector=[0] * 16)
    icrq.set_hidden("Calling Number")
    icrp = P.L2TP.icrp(assigned_session_id=22, tunnel_id=5, session_id=11, ns=1, nr=3)
    if hide_lns:
        icrp.set_hiding(SECRET)
        icrp.set_hidden("Assigned Session ID")
    iccn = P.L2TP.iccn(tx_connect_speed=64000, framing_type=P.FRAMING_SYNC, tunnel_id=7, session_id=22, ns=3, nr=2)
    lns_req = lcp(1, 1, options=[(1, b"\x05\xdc"), (3, b"\xc2\x23\x05"), (5, b"\x11\x22\x33\x44")])
    lns_ack_ident = 1
    lac_req = lcp(1, 9, options=[(5, b"\x55\x66\x77\x88")])
    chal_val = b"\xaa" * 16
    chal = P.CHAP(1, 3, value=chal_val, name="cap-lns")
    resp = P.CHAP(2, 3, value=P.chap_md5_response(3, PPP_SECRET, chal_val), name="bob")
    cdn = P.L2TP.cdn(result=3, assigned_session_id=11, tunnel_id=7, session_id=22, ns=4, nr=2)
    lns_port = 40001 if floated else 1701
    up, down = (LAC, LNS, 1701, 1701), (LNS, LAC, lns_port, 1701)
    frames = [(*up, sccrq, 0.0), (*down, sccrp, 0.1), (*up, scccn, 0.2), (*down, P.L2TP.zlb(5, 0, 1, 2), 0.25),
              (*up, icrq, 0.3), (*down, icrp, 0.4), (*up, iccn, 0.5), (*down, P.L2TP.zlb(5, 0, 2, 4), 0.55),
              (*down, data(5, 11, lns_req), 0.6),
              (*up, data(7, 22, lcp(2, lns_ack_ident, options=[(1, b"\x05\xdc"), (3, b"\xc2\x23\x05"), (5, b"\x11\x22\x33\x44")])), 0.7),
              (*up, data(7, 22, lac_req), 0.71), (*down, data(5, 11, lcp(2, 9, options=[(5, b"\x55\x66\x77\x88")])), 0.8),
              (*down, data(5, 11, chal, P.PROTO_CHAP), 0.9), (*up, data(7, 22, resp, P.PROTO_CHAP), 1.0),
              (*down, data(5, 11, P.CHAP(3, 3, message="ok"), P.PROTO_CHAP), 1.1),
              (*up, cdn, 1.2), (*down, P.L2TP.zlb(5, 0, 2, 5), 1.3)]
    P.write_pcap(str(path), [{"src": s, "dst": d, "sport": sp, "dport": dp, "payload": p.to_bytes(), "time": 100 + t}
                             for s, d, sp, dp, p, t in frames])
    return path


@pytest.mark.req("REPLAY.analysis")
def test_analysis_finds_roles_ids_sessions_ppp_and_floating(tmp_path):
    conv = replay.load(build_capture(tmp_path / "c.pcap"))
    assert len(conv.tunnels) == 1
    t = conv.tunnels[0]
    assert (t.lac, t.lns[0], t.lac_tunnel_id, t.lns_tunnel_id) == ((LAC, 1701), LNS, 5, 7)
    assert t.complete and t.floated and t.roles_from == "ICRQ sender is the LAC"
    assert [m.name for m in t.messages if not m.packet.is_zlb] == ["SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN"]
    (s,) = t.sessions
    assert (s.kind, s.lac_session_id, s.lns_session_id, s.complete) == ("incoming", 11, 22, True)
    assert [f"{f.sender} {f.name}" for f in s.ppp][:3] == ["LNS LCP Configure-Request", "LAC LCP Configure-Ack",
                                                           "LAC LCP Configure-Request"]
    text = conv.describe()
    assert "tunnel 1: LAC 192.0.2.1:1701 (Tunnel ID 5) <-> LNS 192.0.2.2:1701 (Tunnel ID 7)" in text
    assert "ports floated" in text and "session 1: incoming" in text
    assert replay.to_json(conv)["tunnels"][0]["sessions"][0]["lns_session_id"] == 22
    # the LNS hid its Assigned Session ID: one call all the same, its ID known with the secret
    hidden = replay.load(build_capture(tmp_path / "h.pcap", hide_lns=True))
    assert [(s.lns_session_id, s.complete, len(s.ppp)) for s in hidden.tunnels[0].sessions] == [(22, True, 7)]
    assert replay.load(tmp_path / "h.pcap", secret=SECRET).tunnels[0].sessions[0].messages[1].packet.assigned_session_id == 22


@pytest.mark.req("REPLAY.analysis", "REPLAY.bad-input")
def test_analysis_mid_call_pickup_and_radius_pairs(tmp_path):
    # only the second half of a tunnel: no SCCRQ, a data message on an unknown session
    frames = [(LNS, LAC, 1701, 1701, data(5, 11, lcp(9, 1)), 1.0), (LAC, LNS, 1701, 1701, P.L2TP.hello(tunnel_id=7, ns=8, nr=3), 2.0),
              (LNS, LAC, 1701, 1701, P.L2TP.zlb(5, 0, 3, 9), 2.1)]
    req = P.Radius.build(1, 9, {"User-Name": "bob"})
    rep = P.Radius.build(2, 9, {})
    frames += [("10.0.0.1", "10.0.0.2", 5000, 1812, req, 3.0), ("10.0.0.2", "10.0.0.1", 1812, 5000, rep, 3.1),
               ("10.0.0.2", "10.0.0.1", 1812, 5000, P.Radius.build(3, 10, {}), 3.2)]
    path = tmp_path / "mid.pcap"
    P.write_pcap(str(path), [{"src": s, "dst": d, "sport": sp, "dport": dp, "payload": p.to_bytes(), "time": t}
                             for s, d, sp, dp, p, t in frames])
    conv = replay.load(path)
    (t,) = conv.tunnels
    assert not t.complete and t.sessions and not t.sessions[0].complete
    (x,) = conv.radius
    assert (x.user, x.request.name, x.reply.name) == ("bob", "Access-Request", "Access-Accept")
    assert conv.skipped and "without its request" in conv.skipped[0][1]
    with pytest.raises(R.ReplayInputError) as e:
        R.Replay(conv, socket.socket(socket.AF_INET, socket.SOCK_DGRAM), ("127.0.0.1", 9))
    assert "picked up mid-way" in e.value.skipped[0][1]


class ScriptedPeer(threading.Thread):
    """A scripted L2TP peer on 127.0.0.1 (ScriptedL2tp, towards `peer` when given) running _run() in a
    thread: `checks` holds what it checked, `error` what it failed on (re-raised by the test)."""

    def __init__(self, peer=None):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()
        self.ep = P.ScriptedL2tp(self.sock, peer=peer)
        self.checks: dict[str, object] = {}
        self.error: BaseException | None = None

    def run(self):
        try:
            self._run()
        except BaseException as e:   # reported by the test
            self.error = e

    def _run(self):
        raise NotImplementedError


class FakeLns(ScriptedPeer):
    """A scripted LNS on 127.0.0.1 (ScriptedL2tp): assigns Tunnel ID 900 / Session ID 77, starts its
    Ns at 65 534, challenges the tunnel and the PPP client, records what it checked."""

    def __init__(self):
        super().__init__()
        self.ep.ns, self.ep.nr = 65534, 65533   # mid-life counters: both sides cross the 65 535 wrap

    def _run(self):
        ep, L = self.ep, P.L2TP
        rq = ep.expect("SCCRQ", within=2)
        self.checks["sccrq_tunnel_id"] = rq.tunnel_id
        my_chal = b"\x42" * 16
        ep.send(L.sccrp(assigned_tunnel_id=900, host_name="fake", challenge=my_chal,
                        challenge_response=P.challenge_response(2, SECRET, rq.challenge)))
        cn = ep.expect("SCCCN", within=2)
        self.checks["scccn_header"] = (cn.tunnel_id, cn.ns, cn.nr)
        self.checks["scccn_cr_ok"] = cn.challenge_response == P.challenge_response(3, SECRET, my_chal)
        icrq = ep.expect("ICRQ", within=2)
        icrq.unhide(SECRET)
        self.checks["icrq_calling"] = icrq.calling_number
        self.checks["icrq_header"] = (icrq.tunnel_id, icrq.ns, icrq.nr)
        self.checks["icrq_rv_fresh"] = icrq.random_vector not in (None, bytes(16))
        self.checks["serial"] = icrq.call_serial_number
        ep.send(L.icrp(assigned_session_id=77, session_id=icrq.assigned_session_id))
        iccn = ep.expect("ICCN", within=2)
        self.checks["iccn_header"] = (iccn.tunnel_id, iccn.session_id)
        sid = icrq.assigned_session_id

        def ppp(pkt, proto=P.PROTO_LCP):
            ep.send(L.data(tunnel_id=0, session_id=sid, payload=P.ppp_frame(proto, pkt.to_bytes(), True)),
                    auto_seq=False, fill_tunnel_id=True)

        def recv():
            m = ep.expect(lambda x: x.is_data, within=2)
            self.checks.setdefault("data_headers", set()).add((m.tunnel_id, m.session_id))
            return P.ppp_parse(m.payload)
        ppp(lcp(1, 4, options=[(1, b"\x05\xdc"), (3, b"\xc2\x23\x05"), (5, b"\x01\x02\x03\x04")]))
        ack = recv()
        self.checks["lcp_ack"] = (ack["packet"].code, ack["packet"].identifier)
        req = recv()["packet"]
        self.checks["lac_magic"] = dict(req.options).get(5)
        ppp(lcp(2, req.identifier, options=list(req.options)))
        ppp(P.CHAP(1, 6, value=b"\x99" * 16, name="fake"), P.PROTO_CHAP)
        r = recv()["packet"]
        self.checks["chap_ok"] = (r.identifier, bytes(r.value)) == (6, bytes(P.chap_md5_response(6, PPP_SECRET, b"\x99" * 16)))
        ppp(P.CHAP(3, 6, message="welcome"), P.PROTO_CHAP)
        cdn = ep.expect("CDN", within=2)
        self.checks["cdn_header"] = (cdn.tunnel_id, cdn.session_id)
        self.checks["nr_seen"] = cdn.nr
        ep.drain(0.3)


def run_against_fake(tmp_path, strict=True, **kw):
    """Replays the synthetic capture against FakeLns; with `strict`, re-raises what FakeLns failed on."""
    conv = replay.load(build_capture(tmp_path / "c.pcap"))
    dut = FakeLns()
    dut.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    r = R.Replay(conv, s, dut.addr, **kw)
    r.ep.ns, r.ep.nr = 65533, 65534           # the counters FakeLns expects
    rep = r.run()
    dut.join(10)
    s.close()
    if strict and dut.error:
        raise dut.error
    return rep, dut.checks


@pytest.mark.req("REPLAY.rewrite", "REPLAY.report")
def test_rewriting_against_a_scripted_lns(tmp_path):
    rep, ck = run_against_fake(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=3)
    assert ck["sccrq_tunnel_id"] == 0
    assert ck["scccn_header"] == (900, 65534, 65535), ck            # DUT's Tunnel ID; Ns/Nr across the wrap
    assert ck["icrq_header"] == (900, 65535, 65535)
    assert ck["scccn_cr_ok"] is True                               # Challenge Response to the DUT's Challenge
    assert ck["icrq_calling"] == "5550001" and ck["icrq_rv_fresh"]  # hidden AVP re-hidden with a new RV
    assert ck["serial"] != 1                                       # Call Serial Number offset per replay
    assert ck["iccn_header"] == (900, 77) and ck["data_headers"] == {(900, 77)}
    assert ck["lcp_ack"] == (2, 4)                                 # Ack to the DUT's own Configure-Request
    assert ck["lac_magic"] not in (None, b"\x55\x66\x77\x88")      # our own Magic-Number
    assert ck["chap_ok"] is True                                   # CHAP recomputed against the DUT's Challenge
    assert ck["cdn_header"] == (900, 77) and ck["nr_seen"] == 0    # the DUT's Ns 65535 acknowledged: Nr wrapped to 0
    v = [(i.name, i.verdict) for i in rep.items if i.frame is not None]
    assert v == [("SCCRQ", "sent"), ("SCCRP", "matched"), ("SCCCN", "sent"), ("ICRQ", "sent"), ("ICRP", "matched"),
                 ("ICCN", "sent"), ("PPP LCP Configure-Request", "matched"), ("PPP LCP Configure-Ack", "live"),
                 ("PPP LCP Configure-Request", "live"), ("PPP LCP Configure-Ack", "matched"),
                 ("PPP CHAP Challenge", "matched"), ("PPP CHAP Response", "live"), ("PPP CHAP Success", "matched"),
                 ("CDN", "sent")], rep.text()
    live = [i.name for i in rep.items if i.frame is None]
    assert live == ["PPP LCP Configure-Ack", "PPP LCP Configure-Request", "PPP CHAP Response"], rep.text()
    sccrp = next(i for i in rep.items if i.name == "SCCRP")
    assert {d.field for d in sccrp.differences if d.ignored} == {"Host Name", "Assigned Tunnel ID", "Challenge"}
    magic = next(d for i in rep.items if i.name == "PPP LCP Configure-Request" and i.verdict == "matched"
                 for d in i.differences if d.field == "Magic-Number")
    assert magic.ignored and (magic.captured, magic.dut) == (b"\x11\x22\x33\x44", b"\x01\x02\x03\x04")
    assert not rep.errors and rep.exit_status == R.EXIT_OK
    # the same replay with Magic-Number and Host Name compared: both differ, the exit status says so
    rules = {k: v for k, v in R.DEFAULT_RULES.items() if k not in ("LCP:Magic-Number", "L2TP:Host Name")}
    rep2, _ = run_against_fake(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=3, rules=rules)
    assert rep2.exit_status == R.EXIT_DIFFERENT and rep2.to_json()["exit_status"] == 1
    bad = [(i.name, d.field) for i in rep2.items for d in i.differences if not d.ignored]
    assert bad == [("SCCRP", "Host Name"), ("PPP LCP Configure-Request", "Magic-Number"),
                   ("PPP LCP Configure-Ack", "Magic-Number")], rep2.text()


@pytest.mark.req("REPLAY.bad-input")
def test_wrong_or_missing_secret_is_bad_input(tmp_path):
    rep, _ = run_against_fake(tmp_path, strict=False, secret="not-the-secret", ppp_secret=PPP_SECRET, wait=1)
    assert rep.exit_status == R.EXIT_BAD_INPUT and "wrong --secret" in rep.errors[0]
    rep, _ = run_against_fake(tmp_path, strict=False, secret=None, wait=1)
    assert rep.exit_status == R.EXIT_BAD_INPUT and "give --secret" in rep.errors[0]


@pytest.mark.req("REPLAY.report")
def test_compare_rules_and_report_shapes():
    a = P.L2TP.sccrp(assigned_tunnel_id=1, host_name="x", receive_window_size=4)
    b = P.L2TP.sccrp(assigned_tunnel_id=2, host_name="y", receive_window_size=8, vendor_name="v")
    d = {x.field: x for x in R.compare_l2tp(a, b, R.DEFAULT_RULES)}
    assert d["Assigned Tunnel ID"].ignored and d["Host Name"].ignored
    assert not d["Receive Window Size"].ignored and (d["Receive Window Size"].captured, d["Receive Window Size"].dut) == (4, 8)
    assert d["Vendor Name"].ignored and d["Vendor Name"].captured is None
    rules = R.DEFAULT_RULES | {"L2TP:Receive Window Size": "tuning"}
    assert all(x.ignored for x in R.compare_l2tp(a, b, rules))
    rep = R.Report("c.pcap", "lnsd", [R.Item("sent", "SCCRQ", 1), R.Item("differed", "SCCRP", 2, R.compare_l2tp(a, b, rules))])
    assert rep.exit_status == 0 and "ignored" in rep.text() and rep.to_json()["counts"]


@pytest.mark.req("REPLAY.report")
def test_rules_file(tmp_path):
    p = tmp_path / "rules.yaml"
    p.write_text('"L2TP:Receive Window Size": "tuning"\n"L2TP:Host Name": null\n')
    r = R.load_rules(str(p))
    assert r["L2TP:Receive Window Size"] == "tuning" and "L2TP:Host Name" not in r
    p.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="rules.yaml"):
        R.load_rules(str(p))


@pytest.mark.req("REPLAY.analysis", "REPLAY.bad-input")
def test_shared_captures_analyse_or_reject_cleanly(captures):
    for path in sorted(captures.glob("*.pcap*")):
        conv = replay.load(path)
        assert conv.describe()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            R.Replay(conv, s, ("127.0.0.1", 9))
        except R.ReplayInputError as e:
            assert e.skipped, path
        finally:
            s.close()


@pytest.mark.req("REPLAY.rewrite")
def test_pace_capture_keeps_the_captured_gaps(tmp_path):
    """--pace capture: our messages leave no earlier than their captured offsets from the first
    (SCCRQ at 0 s, CDN at 1.2 s in the synthetic capture); asap sends as soon as answered."""
    rep, _ = run_against_fake(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=3, pace="capture")
    assert rep.exit_status == R.EXIT_OK, rep.text()
    t = rep.stats["sent_at"]
    assert t["CDN"] - t["SCCRQ"] >= 1.2 - 0.02, t
    rep, _ = run_against_fake(tmp_path, secret=SECRET, ppp_secret=PPP_SECRET, wait=3, pace="asap")
    t2 = rep.stats["sent_at"]
    assert t2["ICRQ"] - t2["SCCRQ"] < t["ICRQ"] - t["SCCRQ"], (t, t2)


@pytest.mark.req("REPLAY.report")
def test_radius_compared_attribute_by_attribute():
    a = P.Radius.build(1, 3, {"User-Name": "bob", "Service-Type": "Framed-User", "NAS-IP-Address": "10.0.0.1"})
    b = P.Radius.build(1, 9, {"User-Name": "bob", "Service-Type": "Login-User", "NAS-Identifier": "lns"})
    d = {x.field: x for x in R.compare_radius(a, b, R.DEFAULT_RULES)}
    assert "User-Name" not in d and d["Identifier"].ignored and d["NAS-IP-Address"].ignored
    assert (d["Service-Type"].captured, d["Service-Type"].dut, d["Service-Type"].ignored) == (2, 1, False)   # Framed-User vs Login-User (RFC 2865 §5.6)
    items = R.compare_radius_requests([replay.Message({"packet": a, "protocol": "radius-auth", "index": 4, "time": 0}, "client")],
                                      [P.Radius.build(4, 1, {}), b], R.DEFAULT_RULES)
    assert [(i.name, i.verdict) for i in items] == [("RADIUS Access-Request", "differed"), ("RADIUS Accounting-Request", "extra")]


@pytest.mark.req("REPLAY.lab")
def test_lns_behaviour_from_the_capture(tmp_path):
    """lnsd is configured like the captured LNS behaved: LCP of its own -> lcp-renegotiation with the
    Authentication-Protocol it asked; CHAP users from the client's Name with --ppp-secret."""
    conv = replay.load(build_capture(tmp_path / "c.pcap"))
    how = R.lns_behaviour(conv.tunnels[0], PPP_SECRET)
    assert (how["mode"], how["authentication"], how["users"], how["hide_avps"]) == \
        ("lcp-renegotiation", "chap", [("bob", PPP_SECRET)], False)
    assert R.lns_behaviour(conv.tunnels[0])["users"] == []
    # the same call without the LNS's LCP Configure-Request: it challenged without LCP of its own
    t = conv.tunnels[0]
    t.sessions[0].ppp = [f for f in t.sessions[0].ppp if not (f.sender == "LNS" and f.protocol == P.PROTO_LCP)]
    assert R.lns_behaviour(t, PPP_SECRET)["mode"] == "mandatory-chap"


@pytest.mark.req("REPLAY.lab")
def test_radius_reply_items_answer_as_the_captured_server():
    acc = P.Radius.build(2, 1, {"Service-Type": "Framed-User", "Framed-IP-Address": "198.18.0.2",
                                "Framed-Route": "10.10.1.0/24 198.18.0.2 1", "Class": b"5553001"})
    acc.add_message_authenticator()
    assert R.radius_reply_items(acc) == ["Service-Type = 2", 'Framed-IP-Address = "198.18.0.2"',
                                         'Framed-Route = "10.10.1.0/24 198.18.0.2 1"', "Class = 0x35353533303031"]


@pytest.mark.req("REPLAY.lab")
def test_mandatory_chap_told_by_the_access_request_before_the_challenge(tmp_path):
    """An LNS that renegotiates LCP yet verifies the proxy authentication through RADIUS before its
    own CHAP Challenge behaves as mandatory-chap; without that Access-Request, as lcp-renegotiation."""
    conv = replay.load(build_capture(tmp_path / "c.pcap"))
    t = conv.tunnels[0]
    chal_time = next(f.message.time for f in t.sessions[0].ppp if f.protocol == P.PROTO_CHAP)
    req = replay.Message({"packet": P.Radius.build(1, 1, {"User-Name": "bob"}), "protocol": "radius-auth",
                          "index": 99, "time": chal_time - 0.01}, "client")
    x = replay.RadiusExchange(req, None, ("192.0.2.2", 1645), ("192.0.2.9", 1812))
    assert R.lns_behaviour(t, PPP_SECRET, [x])["mode"] == "mandatory-chap"
    assert R.lns_behaviour(t, PPP_SECRET, [])["mode"] == "lcp-renegotiation"
    req.frame["time"] = chal_time + 0.01
    assert R.lns_behaviour(t, PPP_SECRET, [x])["mode"] == "lcp-renegotiation"


def cli_list_json(path, capsys):
    """`./lab replay PATH --list --json` through dlab.replay_cli: (its parser, the JSON printed)."""
    import argparse
    import json
    from dlab import replay_cli
    p = argparse.ArgumentParser()
    replay_cli.add_arguments(p)
    assert replay_cli.run(p.parse_args([str(path), "--list", "--json"])) == 0
    return p, json.loads(capsys.readouterr().out)


@pytest.mark.req("REPLAY.analysis", "REPLAY.bad-input")
def test_cli_list_and_unreadable_capture(tmp_path, capsys):
    from dlab import replay_cli
    path = build_capture(tmp_path / "c.pcap")
    p, doc = cli_list_json(path, capsys)
    assert doc["tunnels"][0]["sessions"][0]["kind"] == "incoming" and doc["tunnels"][0]["floated"] is True
    assert replay_cli.run(p.parse_args([str(path), "--list"])) == 0
    assert "tunnel 1: LAC 192.0.2.1:1701" in capsys.readouterr().out
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture")
    assert replay_cli.run(p.parse_args([str(bad), "--list"])) == 2
    assert "bad.pcap" in capsys.readouterr().err


@pytest.mark.req("REPLAY.report")
def test_proxy_lcp_avps_compared_option_by_option():
    """The ICCN's proxy LCP AVPs (RFC 2661 §4.4.5) of a LAC under test: only the Magic-Number
    differs -> ignored (RFC 1661 §6.4); another option differs -> counted, named."""
    mru, chap = b"\x01\x04\x05\xdc", b"\x03\x05\xc2\x23\x05"
    captured = P.L2TP.iccn(tx_connect_speed=64000, framing_type=1, tunnel_id=1, session_id=2, ns=3, nr=1)
    dut = captured.copy()
    captured.add_avp(26, mru + chap + b"\x05\x06\x11\x11\x11\x11")     # Initial Received LCP CONFREQ
    dut.add_avp(26, mru + chap + b"\x05\x06\x22\x22\x22\x22")
    (d,) = R.compare_l2tp(captured, dut, R.DEFAULT_RULES)
    assert d.field == "Initial Received LCP CONFREQ" and d.ignored and d.reason.startswith("Magic-Number: random")
    other = captured.copy()
    other.remove_avp(26)
    other.add_avp(26, b"\x01\x04\x05\x78" + chap + b"\x05\x06\x22\x22\x22\x22")
    (d,) = R.compare_l2tp(captured, other, R.DEFAULT_RULES)
    assert not d.ignored and d.reason == "options differ: MRU, Magic-Number"


@pytest.mark.req("REPLAY.dut-lac", "REPLAY.rewrite")
def test_ipcp_before_the_renegotiated_lcp_is_discarded_and_pairs_only_within_its_phase():
    """The replayed LNS of an incoming call that restarts LCP discards the CPE's IPCP
    Configure-Request that comes before its LCP is Opened (RFC 1661 §3.4: sends nothing), and only
    a captured IPCP frame sent in that phase (mandatory-chap's #10, the recording's own race) may
    pair with it; none of incoming-lcp-renegotiation's."""
    from pathlib import Path
    pcaps = Path(__file__).resolve().parents[2] / "pcaps"
    chap = replay.load(pcaps / "incoming-mandatory-chap.pcap", secret="lac-secret").tunnels[0].sessions[0]
    assert sorted(f.message.index for f in chap.ppp if id(f) in R._before_lcp_opened(chap, "LNS")) == [10]
    conv = replay.load(pcaps / "incoming-lcp-renegotiation.pcap", secret="lac-secret")
    s = conv.tunnels[0].sessions[0]
    assert R._before_lcp_opened(s, "LNS") == set()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        r = R.Replay(conv, sock, sink.getsockname(), secret="lac-secret", side="LNS")
        r.dut_session[s.lac_session_id] = 77
        ipcp = P.IPCP(1, 1)
        ipcp.add_option(3, bytes(4))
        early = P.L2TP.data(tunnel_id=1, session_id=s.lns_session_id,
                            payload=P.ppp_frame(P.PROTO_IPCP, ipcp.to_bytes(), True))
        assert r._peer(s).on_dut(early) == "before-lcp"
        assert r.wire == [], "the early IPCP Configure-Request was answered"
    finally:
        sock.close()
        sink.close()

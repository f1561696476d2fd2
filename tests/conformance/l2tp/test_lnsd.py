"""lnsd in the `lns` namespace against a scripted LAC (raw L2TP built with proto/ through dlab._native)
in the `lac` namespace: RFC 2661 tunnel and incoming-call establishment, tunnel authentication
success / failure, hidden AVPs, unknown M-bit AVP, StopCCN and CDN from the LAC, the JunosE levels
(close and shutdown at system, destination, tunnel and session level) through lnsctl, `show … --json`."""
from __future__ import annotations

import json
import os

import pytest

from lnsd_helpers import LAC2_ADDR, LAC3_ADDR, LAC_ADDR, LNS_ADDR, SECRET

from dlab import proto
from dlab.match import assert_subset
from dlab.scripted_lac import ScriptedLac
from dlab.wait import wait_for


def Lac(lab, addr: str) -> ScriptedLac:
    """The scripted LAC on `addr` of the `lac` host, towards lnsd (ephemeral port)."""
    return ScriptedLac(lab, addr, LNS_ADDR, reuse_address=False)


@pytest.fixture
def lab(lnsd_lab):
    return lnsd_lab


def tunnels(lnsd, state=None):
    return [t for t in lnsd.show("tunnel") if state is None or t["state"] == state]


def test_incoming_call_with_authentication_hidden_avps_then_cdn_and_stopccn(lab):
    lab_, lnsd = lab
    lac = Lac(lab_, LAC_ADDR)
    try:
        lac.open(SECRET)
        lac.l2tp.expect("ZLB", within=2.0)  # SCCCN acknowledged
        s = lac.call(7, hide_secret=SECRET)
        wait_for(lambda: any(x["state"] == "established" for x in lnsd.show("session")), 5.0, "session up")
        sid = f"{lac.tunnel}/{s}"
        got = lnsd.show("session", sid)
        assert_subset([{"id": sid, "state": "established", "destination": LAC_ADDR, "direction": "incoming",
                        "calling-number": "5550001", "called-number": "5559999"}], got)
        t = lnsd.show("tunnel", str(lac.tunnel))
        assert_subset([{"id": lac.tunnel, "state": "established", "direction": "incoming", "authenticated": True,
                        "hidden-avps": True, "peer-tunnel-id": 11}], t)
        d = lnsd.show("destination", LAC_ADDR)
        assert_subset([{"address": LAC_ADDR, "state": "enabled", "configured": True, "tunnels": 1, "sessions": 1}], d)
        # CDN from the LAC: the session goes.
        L2TP = proto.L2TP
        lac.l2tp.send(L2TP.cdn(session_id=s, assigned_session_id=7, result=3))
        wait_for(lambda: lnsd.show("session") == [], 5.0, "session cleared after CDN")
        # StopCCN from the LAC: the tunnel is held (§5.7, tunnel-hold 2 s) then released.
        lac.l2tp.send(L2TP.stopccn(assigned_tunnel_id=11, result=1))
        lac.l2tp.expect("ZLB", within=2.0)
        wait_for(lambda: tunnels(lnsd, "established") == [], 5.0, "tunnel closed after StopCCN")
        wait_for(lambda: tunnels(lnsd) == [], 10.0, "tunnel released after the hold")
        events = lnsd.event_lines()
        assert any(e["entity"] == "l2tp.session" and e.get("to") == "established" for e in events)
        assert any(e["entity"] == "l2tp.tunnel" and e.get("event") == "recv-StopCCN" for e in events)
    finally:
        lac.close()


def test_wrong_challenge_response_is_answered_with_stopccn_not_authorized(lab):
    lab_, lnsd = lab
    lac = Lac(lab_, LAC_ADDR)
    try:
        before = lnsd.show("summary")["system"]["counters"]["auth-failures"]
        lac.open(SECRET, tid=12, response_secret="wrong-secret")
        stop = lac.l2tp.expect("StopCCN", within=3.0)
        assert stop.result_code["result"] == 4  # Not authorized (RFC 2661 §4.4.2)
        after = lnsd.show("summary")["system"]["counters"]["auth-failures"]
        assert after == before + 1
        assert tunnels(lnsd, "established") == []
    finally:
        lac.close()


def test_unknown_mandatory_avp_tears_the_tunnel_down(lab):
    lab_, lnsd = lab
    lac = Lac(lab_, LAC2_ADDR)
    try:
        lac.open(None, tid=13)
        lac.l2tp.expect("ZLB", within=2.0)
        hello = proto.L2TP.hello()
        hello.add_avp(250, b"\x01\x02", mandatory=True)
        lac.l2tp.send(hello)
        stop = lac.l2tp.expect("StopCCN", within=3.0)
        assert stop.result_code["result"] == 2 and stop.result_code["error"] == 8  # §4.1, §4.4.2
    finally:
        lac.close()


@pytest.mark.req("L2TP.unknown-message-type")
@pytest.mark.parametrize("m_bit", [True, False], ids=["M-set", "M-clear"])
def test_unknown_message_type_clears_the_tunnel_only_with_the_m_bit(lab, m_bit):
    # RFC 2661 §4.4.1: M set on the Message Type AVP of an unknown type: "the tunnel MUST be
    # cleared"; M clear: the message may be ignored (it is still acknowledged, §5.8).
    lab_, lnsd = lab
    lac = Lac(lab_, LAC2_ADDR)
    try:
        lac.open(None, tid=15 if m_bit else 16)
        lac.l2tp.expect("ZLB", within=2.0)
        msg = proto.L2TP.control(99)
        if not m_bit:
            msg.remove_avp("Message Type")
            msg.add_avp(0, b"\x00\x63", mandatory=False)
        lac.l2tp.send(msg)
        if m_bit:
            stop = lac.l2tp.expect("StopCCN", within=3.0)
            assert stop.result_code["result"] == 2 and stop.result_code["error"] == 3, stop.result_code
        else:
            lac.l2tp.expect("ZLB", within=2.0)
            st = lnsd.show("tunnel", str(lac.tunnel))
            assert st and st[0]["state"] == "established", st
        assert lnsd.show("summary")["system"]["counters"]["unknown-message-type"] >= 1
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(lac.tunnel), check=False)  # later tests count LAC2's tunnels
        lac.close()


@pytest.mark.req("L2TP.host-name")
def test_lac_with_another_host_name_than_configured_is_refused(lab):
    # JunosE "Implementing L2TP": the LNS checks the LAC's host name (peers[].host-name) and tunnel
    # password; another name gets StopCCN 4 (RFC 2661 §4.4.2) and no SCCRP.
    lab_, lnsd = lab
    lac = Lac(lab_, LAC3_ADDR)
    try:
        before = lnsd.show("summary")["system"]["counters"]["host-name-refused"]
        lac.l2tp.send(proto.L2TP.sccrq(assigned_tunnel_id=17, host_name="impostor"))
        stop = lac.l2tp.expect("StopCCN", within=3.0)
        assert stop.result_code["result"] == 4, stop.result_code
        assert lnsd.show("summary")["system"]["counters"]["host-name-refused"] == before + 1
    finally:
        lac.close()
    ok = Lac(lab_, LAC3_ADDR)
    try:
        ok.open(None, tid=19)  # the configured name: SCCRP
        ok.l2tp.expect("ZLB", within=2.0)
        assert lnsd.show("tunnel", str(ok.tunnel))[0]["state"] == "established"
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(ok.tunnel), check=False)
        ok.close()


def _lcp_from_lnsd(code: int):
    """Matcher: a data message carrying an LCP packet of `code` (1 Configure-Request, 9 Echo-Request…)."""
    def match(m) -> bool:
        if not m.is_data:
            return False
        ppp = proto.ppp_parse(m.payload)
        return ppp["protocol"] == proto.PROTO_LCP and ppp["packet"].code == code
    return match


@pytest.mark.req("L2TP.priority", "L2TP.sli", "PPP.keepalive")
def test_incoming_call_lcp_frames_carry_p_then_sli_then_echo_timeout_clears_with_cdn_1(lab):
    """One incoming call, the scripted LAC playing the PPP client too: lnsd's LCP frames carry the P
    bit (RFC 2661 §3.1); once LCP is Opened an SLI carries the ACCM the client asked for (§6.14,
    RFC 1662 §7.1); LCP Echo-Requests (keepalive 1 s, 2 misses: `ppp-profiles` of the incoming
    profile) go unanswered and lnsd clears the call with CDN Result 1 naming the echo timeout."""
    lab_, lnsd = lab
    L2TP, pr = proto.L2TP, proto
    lac = Lac(lab_, LAC2_ADDR)
    try:
        lac.open(None, tid=18)
        lac.l2tp.expect("ZLB", within=2.0)
        s = lac.call(18)

        def send_ppp(packet):
            lac.l2tp.send(L2TP.data(tunnel_id=lac.tunnel, session_id=s, payload=packet.frame()), auto_seq=False,
                          fill_tunnel_id=False)

        req = lac.l2tp.expect(_lcp_from_lnsd(1), within=5.0)
        assert req.priority, "LCP Configure-Request without the P bit"
        theirs = pr.ppp_parse(req.payload)["packet"]
        ack = pr.LCP(2, theirs.identifier)
        for t, v in theirs.options:
            ack.add_option(t, v)
        send_ppp(ack)
        mine = pr.LCP(1, 0x33)
        mine.add_option(2, bytes.fromhex("000a0000"))  # ACCM: escape XON / XOFF towards us
        mine.add_option(5, os.urandom(4))
        send_ppp(mine)
        got = lac.l2tp.expect(_lcp_from_lnsd(2), within=3.0)
        assert got.priority and pr.ppp_parse(got.payload)["packet"].identifier == 0x33
        sli = lac.l2tp.expect("SLI", within=3.0)
        assert sli.session_id == 18, sli
        accm = sli.get("ACCM")
        assert accm["send_accm"] == 0x000A0000, accm
        echo = lac.l2tp.expect(_lcp_from_lnsd(9), within=3.0)
        assert echo.priority, "LCP Echo-Request without the P bit (RFC 2661 §3.1 names keepalives)"
        cdn = lac.l2tp.expect("CDN", within=20.0)
        rc = cdn.result_code
        assert rc["result"] == 1 and "echo timeout" in (rc.get("message") or ""), rc
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(lac.tunnel), check=False)
        lac.close()


def test_clear_session_tunnel_and_destination_with_lnsctl(lab):
    lab_, lnsd = lab
    a, b = Lac(lab_, LAC2_ADDR), Lac(lab_, LAC2_ADDR)
    try:
        a.open(None, tid=21)
        s1, s2 = a.call(1), a.call(2)
        b.open(None, tid=22)
        b.call(3)
        wait_for(lambda: len([x for x in lnsd.show("session") if x["state"] == "established"]) == 3, 5.0,
                 "three sessions up")
        # Session level: CDN Result Code 3 (administrative).
        lnsd.ctl("l2tp", "clear", "session", f"{a.tunnel}/{s1}")
        cdn = a.l2tp.expect("CDN", within=3.0)
        assert cdn.session_id == 1 and cdn.result_code["result"] == 3
        wait_for(lambda: len(lnsd.show("session")) == 2, 5.0, "one session cleared")
        # Tunnel level: StopCCN, its sessions go with it.
        lnsd.ctl("l2tp", "clear", "tunnel", str(a.tunnel))
        stop = a.l2tp.expect("StopCCN", within=3.0)
        assert stop.result_code["result"] == 1
        wait_for(lambda: [x["id"] for x in lnsd.show("session")] == [f"{b.tunnel}/{b.sessions[3]}"], 5.0,
                 "tunnel's sessions cleared")
        # Destination level: every tunnel of 198.51.100.3.
        out = lnsd.ctl("l2tp", "clear", "destination", LAC2_ADDR).stdout
        assert "tunnels-cleared: 1" in out
        b.l2tp.expect("StopCCN", within=3.0)
        wait_for(lambda: lnsd.show("session") == [], 5.0, "destination cleared")
        d = lnsd.show("destination", LAC2_ADDR)[0]
        assert d["counters"]["tunnels-closed"] >= 2 and d["sessions"] == 0
        # Table output (not JSON) names the columns.
        assert "address" in lnsd.ctl("show", "l2tp", "destination").stdout
        # Errors are reported with a non-zero status.
        assert lnsd.ctl("l2tp", "clear", "session", "1/2", check=False).returncode != 0
        del s2
    finally:
        a.close()
        b.close()


def ctl_json(lnsd, *words: str):
    """lnsctl --json WORDS: the control API's result."""
    return json.loads(lnsd.ctl("--json", *words).stdout)


@pytest.mark.req("L2TP.stopccn", "L2TP.levels")
def test_shut_down_destination_closes_its_tunnels_and_refuses_new_ones(lab):
    """Destination level (JunosE "Implementing L2TP"): shutdown closes the destination's tunnel
    (StopCCN 1 on the wire), then refuses a new SCCRQ (StopCCN 4, no SCCRP) until `no shutdown`."""
    lab_, lnsd = lab
    old = Lac(lab_, LAC2_ADDR)
    try:
        old.open(None, tid=30)
        old.l2tp.expect("ZLB", within=2.0)
        r = ctl_json(lnsd, "l2tp", "shutdown", "destination", LAC2_ADDR)
        assert r == {"destination": LAC2_ADDR, "state": "shutdown", "tunnels-closed": 1}, r
        stop = old.l2tp.expect("StopCCN", within=5.0)
        assert stop.tunnel_id == 30 and stop.result_code["result"] == 1, stop.result_code
        assert stop.result_code["message"] == "destination shut down by administrator", stop.result_code
    finally:
        old.close()
    try:
        assert_subset([{"address": LAC2_ADDR, "state": "shutdown"}], lnsd.show("destination", LAC2_ADDR))
        lac = Lac(lab_, LAC2_ADDR)
        try:
            # Refused by the engine at once (RFC 2661 §4.4.2 Result Code 4): StopCCN, no SCCRP.
            lac.l2tp.send(proto.L2TP.sccrq(assigned_tunnel_id=31, host_name="scripted-lac"))
            stop = lac.l2tp.expect("StopCCN", within=3.0)
            assert stop.result_code["result"] == 4, stop.result_code
            assert stop.tunnel_id == 31, "StopCCN addressed to the refused SCCRQ's Assigned Tunnel ID"
            assert "shut down" in (stop.result_code.get("message") or ""), stop.result_code
            assert not any("SCCRP" in h for h in lac.l2tp.history), lac.l2tp.history
            wait_for(lambda: lnsd.show("destination", LAC2_ADDR)[0]["counters"]["tunnels-refused"] >= 1, 3.0,
                     "the refusal counted at the destination level")
        finally:
            lac.close()
    finally:
        lnsd.ctl("l2tp", "no", "shutdown", "destination", LAC2_ADDR)
    lac = Lac(lab_, LAC2_ADDR)
    try:
        lac.open(None, tid=32)
        wait_for(lambda: any(t["destination"] == LAC2_ADDR and t["state"] == "established" for t in tunnels(lnsd)),
                 5.0, "tunnel accepted again")
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(lac.tunnel), check=False)
        lac.close()


@pytest.mark.req("L2TP.stopccn", "L2TP.levels")
def test_system_close_accepts_new_tunnels_shutdown_refuses_them_until_no_shutdown(lab):
    """System level: `l2tp clear system` sends StopCCN 1 to every tunnel and a new SCCRQ is still
    answered; `l2tp shutdown` sends StopCCN 6 ("requester is being shut down", RFC 2661 §4.4.2)
    and answers a new SCCRQ with StopCCN 2 / Error 7 ("try another"), no SCCRP, until
    `l2tp no shutdown`."""
    lab_, lnsd = lab
    a = Lac(lab_, LAC2_ADDR)
    try:
        a.open(None, tid=41)
        a.l2tp.expect("ZLB", within=2.0)
        a.call(1)
        wait_for(lambda: lnsd.show("session", str(a.tunnel)), 5.0, "session up")
        r = ctl_json(lnsd, "l2tp", "clear", "system")
        assert r["tunnels-cleared"] >= 1, r
        stop = a.l2tp.expect("StopCCN", within=5.0)
        assert stop.tunnel_id == 41 and stop.result_code["result"] == 1, stop.result_code
        assert stop.result_code["message"] == "system cleared by administrator", stop.result_code
    finally:
        a.close()
    b = Lac(lab_, LAC2_ADDR)
    try:
        b.open(None, tid=42)  # close accepts new tunnels at once
        b.l2tp.expect("ZLB", within=2.0)
        r = ctl_json(lnsd, "l2tp", "shutdown")
        try:
            assert r["system"] == "shutdown" and r["tunnels-closed"] >= 1, r
            stop = b.l2tp.expect("StopCCN", within=5.0)
            assert stop.tunnel_id == 42 and stop.result_code["result"] == 6, stop.result_code
            assert lnsd.show("summary")["system"]["state"] == "shutdown"
            c = Lac(lab_, LAC2_ADDR)
            try:
                c.l2tp.send(P().L2TP.sccrq(assigned_tunnel_id=43, host_name="scripted-lac"))
                stop = c.l2tp.expect("StopCCN", within=3.0)
                assert stop.tunnel_id == 43, stop
                assert (stop.result_code["result"], stop.result_code["error"]) == (2, 7), stop.result_code
                assert stop.result_code["message"] == "L2TP is shut down", stop.result_code
                assert not any("SCCRP" in h for h in c.l2tp.history), c.l2tp.history
            finally:
                c.close()
        finally:
            lnsd.ctl("l2tp", "no", "shutdown")
    finally:
        b.close()
    assert lnsd.show("summary")["system"]["state"] == "enabled"
    d = Lac(lab_, LAC2_ADDR)
    try:
        d.open(None, tid=44)
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(d.tunnel), check=False)
        d.close()


@pytest.mark.req("L2TP.levels")
def test_tunnel_shutdown_clears_its_sessions_refuses_icrq_keeps_the_tunnel_then_session_shutdown(lab):
    """Tunnel level: `l2tp shutdown tunnel` sends CDN 3 for each of its sessions and answers a new
    ICRQ with CDN 3 (no ICRP) while the tunnel stays up; after `no shutdown` calls are accepted
    again. Session level: `l2tp shutdown session` ends that one session with CDN 3."""
    lab_, lnsd = lab
    L2TP = P().L2TP
    a = Lac(lab_, LAC2_ADDR)
    try:
        a.open(None, tid=45)
        a.l2tp.expect("ZLB", within=2.0)
        a.call(1)
        a.call(2)
        wait_for(lambda: len(lnsd.show("session", str(a.tunnel))) == 2, 5.0, "two sessions up")
        r = ctl_json(lnsd, "l2tp", "shutdown", "tunnel", str(a.tunnel))
        assert r == {"tunnel": a.tunnel, "state": "shutdown", "sessions-cleared": 2}, r
        cdns = [a.l2tp.expect("CDN", within=5.0) for _ in range(2)]
        assert sorted(c.session_id for c in cdns) == [1, 2], cdns
        for c in cdns:
            assert c.result_code["result"] == 3, c.result_code
            assert c.result_code["message"] == "tunnel shut down by administrator", c.result_code
        a.l2tp.send(L2TP.icrq(assigned_session_id=3, call_serial_number=3))
        cdn = a.l2tp.expect("CDN", within=5.0)
        assert cdn.session_id == 3 and cdn.result_code["result"] == 3, cdn.result_code
        assert cdn.result_code["message"] == "tunnel is shut down", cdn.result_code
        assert not any("ICRP tunnel 45 session 3 " in h for h in a.l2tp.history), a.l2tp.history
        assert not any("StopCCN" in h for h in a.l2tp.history), "the tunnel itself stays"
        assert subset([{"state": "established", "admin-state": "shutdown"}], lnsd.show("tunnel", str(a.tunnel)))
        lnsd.ctl("l2tp", "no", "shutdown", "tunnel", str(a.tunnel))
        s4 = a.call(4)
        r = ctl_json(lnsd, "l2tp", "shutdown", "session", f"{a.tunnel}/{s4}")
        assert r == {"sessions-cleared": 1}, r
        cdn = a.l2tp.expect("CDN", within=5.0)
        assert cdn.session_id == 4 and cdn.result_code["result"] == 3, cdn.result_code
        assert cdn.result_code["message"] == "session shut down by administrator", cdn.result_code
        assert subset([{"state": "established"}], lnsd.show("tunnel", str(a.tunnel)))
    finally:
        lnsd.ctl("l2tp", "clear", "tunnel", str(a.tunnel), check=False)
        a.close()


def test_show_summary_json(lab):
    _, lnsd = lab
    s = lnsd.show("summary")
    assert_subset({"system": {"state": "enabled", "hostname": "lnsd-test"}}, s)
    assert {"datagrams-in", "malformed", "auth-failures"} <= set(s["system"]["counters"])
    timers = lnsd.ctl("--json", "show", "timers").stdout
    assert '"tunnel-hold"' in timers


def test_lnsctl_subscribe_streams_transition_events(lab):
    import json

    from dlab import procs
    from lnsd_helpers import BIN
    lab_, lnsd = lab
    # lnsctl prints "subscribed" (stderr) once lnsd has acknowledged the subscription.
    sub = lab_.start("lnsctl-subscribe", "lns", [str(BIN / "lnsctl"), "--socket", lnsd.sock, "subscribe", "l2tp.tunnel"],
                     ready="subscribed")
    lac = Lac(lab_, LAC2_ADDR)
    try:
        lac.open(None, tid=51)

        def seen():
            lines = [l for l in sub.log_text().splitlines() if l.startswith("{")]
            evs = [json.loads(l) for l in lines]
            return [e for e in evs if e["entity"] == "l2tp.tunnel" and e.get("to") == "established"]
        wait_for(seen, 5.0, "established event on the subscription")
        assert all(e["entity"] == "l2tp.tunnel" for e in
                   (json.loads(l) for l in sub.log_text().splitlines() if l.startswith("{")))
    finally:
        lac.close()
        procs.stop(sub)


def test_zz_sigterm_sends_stopccn_to_every_peer_and_exits_0(lab):
    """Last in the module: stops the module's lnsd."""
    from dlab import procs
    lab_, lnsd = lab
    for addr in (LAC_ADDR, LAC2_ADDR):
        lnsd.ctl("l2tp", "clear", "destination", addr)
    wait_for(lambda: tunnels(lnsd, "established") == [], 5.0, "earlier tunnels cleared")
    a, b = Lac(lab_, LAC_ADDR), Lac(lab_, LAC2_ADDR)
    try:
        a.open(SECRET, tid=41)
        b.open(None, tid=42)
        wait_for(lambda: len(tunnels(lnsd, "established")) == 2, 5.0, "two tunnels up")
        procs.stop(lnsd.proc, grace=5.0)
        for lac in (a, b):
            stop = lac.l2tp.expect("StopCCN", within=3.0)
            assert stop.result_code["result"] == 1
        assert lnsd.proc.popen.returncode == 0
        assert "lnsd: stopping, StopCCN sent on 2 tunnel(s)" in lnsd.proc.log_text()
    finally:
        a.close()
        b.close()

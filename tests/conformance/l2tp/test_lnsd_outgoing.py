"""lnsd in the LNS-initiated direction (RFC 2661 §5.1, §7.5) against a scripted LAC: the default lab
(scenarios/topologies/default.yaml, real FreeRADIUS home server) with lnsd in `lns` and no lac-emu /
isdn-emu / cpe-emu; instead a scripted LAC (raw L2TP built with proto/ through dlab.proto.ScriptedL2tp)
listens on 198.51.100.2:1701 in `lac`. A ping from `home` to 10.10.N.1 is the dial-out trigger: the
home server's Access-Accept (Tunnel-Server-Endpoint 198.51.100.2, Tunnel-Password "lac-secret",
ERX-Dial-Out-Number 5551001, ERX-Minimum/Maximum-BPS 56000/64000, ERX-Bearer-Type Digital) makes
lnsd open the control connection (SCCRQ with Challenge) and place the outgoing call (OCRQ).

Every test uses its own trigger destination (its own dial-out session key and RADIUS user, added to
the topology's home server) so the tests do not depend on the dial-out session timers of the others;
the `lac` fixture clears the destination afterwards so the next test sees a fresh SCCRQ.
Bounded waits only (ScriptedL2tp.expect(within=), dlab.wait.wait_for).
"""
from __future__ import annotations

import os

import pytest

from lnsd_helpers import BUILD  # noqa: F401  (puts the build's dlab._native on the import path)

from dlab import proto
from dlab.match import assert_in_order, assert_subset, subset
from dlab.scripted_lac import ScriptedLac
from dlab.wait import wait_for

LNS_ADDR, LAC_ADDR, LAC2_ADDR = "198.51.100.1", "198.51.100.2", "198.51.100.3"
TUNNEL_SECRET = "lac-secret"          # Tunnel-Password of the home server's reply (RFC 2868 §3.5)
DOMAIN = "L2TP-dial-out.de.dt"
RD = "0.0.0.0:65000"                  # route distinguisher of the `default` VR's target
DESTS = {name: f"10.10.{i}.1" for i, name in enumerate(
    ("established", "show", "lnsctl", "clear-manager", "cdn-setup", "cdn-up", "stopccn", "bad-response"), start=1)}
DESTS["early-data"] = "10.10.10.1"   # (10.10.9.1 is PLAIN_DEST)
PLAIN_DEST = "10.10.9.1"             # its home-server user names 198.51.100.3 without a Tunnel-Password
ISDN_CAUSE = {"cause_code": 17, "cause_msg": 0, "advisory": "user busy"}  # Q.931 cause 17 (user busy)


def key(dest: str) -> str:
    """Dial-out session key of a trigger towards `dest` (virtual router `default`, target 10.10.0.0/16)."""
    return f"default/10.10.0.0/16/{dest}"


def _add_users(raw: dict) -> None:
    """One home-server user per test destination, with the reply of JunosE "L2TP Dial-Out"'s example user."""
    home = raw["radius"]["home"]
    template = next(u for u in home["users"] if u["name"].startswith(RD))
    for dest in DESTS.values():
        if dest == "10.10.1.1":
            continue  # already in default.yaml
        home["users"].append({"name": f"{RD}/{dest}@{DOMAIN}", "check": list(template["check"]),
                              "reply": list(template["reply"])})
    # A LAC without tunnel secret (lnsd's default profile: no hide-avps either).
    plain = [r for r in template["reply"] if not r.startswith(("Tunnel-Password", "Tunnel-Server-Endpoint",
                                                                 "Tunnel-Assignment-Id"))]
    plain += [f'Tunnel-Server-Endpoint:1 = "{LAC2_ADDR}"', 'Tunnel-Assignment-Id:1 = "lac2"']
    home["users"].append({"name": f"{RD}/{PLAIN_DEST}@{DOMAIN}", "check": list(template["check"]), "reply": plain})


def _configure(configs: dict) -> None:
    """lnsd alone: no emulated LAC / exchange / CPE; hidden AVPs towards 198.51.100.2 (RFC 2661 §4.3)."""
    for role in ("isdn", "lac", "cpe", "isdn2", "lac2", "cpe2"):
        configs[role] = None
    lnsd = configs["lnsd"]
    lnsd["peers"] = [{"address": LAC_ADDR, "secret": TUNNEL_SECRET, "hide-avps": True}]
    lnsd["timers"] = {"hello": "60s", "retransmit": "1s", "tunnel-hold": "2s"}
    lnsd["shutdown-wait"] = "2s"


# The plugin's module lab (dlab.pytest_plugin): the default topology with the test users, lnsd alone.
pytestmark = pytest.mark.lab_config(topology=_add_users, configure=_configure)


@pytest.fixture(scope="module")
def olab(lab):
    """(the lab, its lnsd: dlab.dialout_lab.Lnsd)."""
    return lab, lab.lnsd


def trigger(lab, dest: str) -> None:
    """A packet from `home` towards `dest` (routed by lnsd to its TUN dlo0): the dial-out trigger."""
    lab.exec("home", ["ping", "-c", "1", "-W", "1", dest], check=False)


@pytest.fixture
def lac(olab):
    lab, d = olab
    # (overrides the plugin's `lac` fixture: lac-emu is not started in this module)
    s = ScriptedLac(lab, LAC_ADDR, LNS_ADDR, port=1701, secret=TUNNEL_SECRET)
    try:
        yield s
    finally:
        # Leave no established tunnel behind: the next test must see lnsd open a new one (SCCRQ).
        if any(t["state"] == "established" for t in d.ctl("show", "l2tp", "tunnel")):
            d.ctl("l2tp", "clear", "destination", LAC_ADDR)
            try:
                s.l2tp.expect("StopCCN", within=3.0)  # acknowledged by the ScriptedL2tp (ZLB)
            except proto.ExpectTimeout:
                pass
        wait_for(lambda: not [t for t in d.ctl("show", "l2tp", "tunnel") if t["state"] != "idle"], 10.0,
                 "no tunnel left but held ones")
        s.close()


def dialout_state(d, dest: str) -> str | None:
    for s in d.ctl("show", "l2tp", "dial-out", "session"):
        if s["session"] == key(dest):
            return s["state"]
    return None


def lnsd_sessions(d, state: str | None = None) -> list[dict]:
    return [s for s in d.ctl("show", "l2tp", "session") if state is None or s["state"] == state]


def establish(lab, lac: ScriptedLac, d, dest: str, our_sid: int) -> tuple:
    """Trigger, tunnel with mutual Challenge, OCRQ -> OCRP -> OCCN; returns (sccrq, scccn, ocrq)."""
    L2TP = proto.L2TP
    trigger(lab, dest)
    lac.answer_sccrq()
    scccn = lac.l2tp.expect("SCCCN", within=5.0)
    ocrq = lac.l2tp.expect("OCRQ", within=5.0)
    lac.l2tp.send(L2TP.ocrp(session_id=ocrq.assigned_session_id, assigned_session_id=our_sid))
    lac.l2tp.send(L2TP.occn(session_id=ocrq.assigned_session_id, tx_connect_speed=64000,
                            framing_type=proto.FRAMING_SYNC))
    wait_for(lambda: [s for s in lnsd_sessions(d, "established") if s["direction"] == "outgoing"], 5.0,
             f"lnsd's outgoing session towards {dest} established")
    return lac.sccrq, scccn, ocrq


@pytest.mark.req("L2TP.outgoing", "L2TP.tunnel-auth", "L2TP.hidden", "L2TP.validation", "T75.dial-out-number",
                 "T75.bps", "T75.bearer-type", "T74.connecting")
def test_dial_out_opens_an_authenticated_tunnel_and_places_an_outgoing_call(olab, lac):
    lab, d = olab
    L2TP = proto.L2TP
    dest = DESTS["established"]
    trigger(lab, dest)
    # SCCRQ from lnsd (§6.1): it opens the control connection, with a Challenge (secret = Tunnel-Password).
    sccrq = lac.answer_sccrq()
    assert sccrq.tunnel_id == 0 and sccrq.ns == 0, f"SCCRQ header: {sccrq}"
    assert sccrq.assigned_tunnel_id, f"SCCRQ without Assigned Tunnel ID: {sccrq}"
    sccrq.validate()  # every AVP §6.1 requires (raises ValidationError naming the missing one)
    assert sccrq.host_name == "lns", f"Host Name {sccrq.host_name!r}"
    assert sccrq.challenge is not None and len(sccrq.challenge) >= 16, \
        f"SCCRQ carries no Challenge although the Tunnel-Password is set: {sccrq}"
    # SCCCN (§6.3): lnsd answers our Challenge with MD5(3, secret, challenge) (§4.4.3 Challenge Response).
    scccn = lac.l2tp.expect("SCCCN", within=5.0)
    assert scccn.tunnel_id == 40, f"SCCCN not addressed to our Assigned Tunnel ID: {scccn}"
    assert scccn.challenge_response == proto.challenge_response(3, TUNNEL_SECRET, lac.challenge), \
        "SCCCN Challenge Response is not MD5(3, lac-secret, our Challenge)"
    # OCRQ (§6.9): the RADIUS answer turned into AVPs; Called Number hidden (hide-avps for this peer).
    ocrq = lac.l2tp.expect("OCRQ", within=5.0)
    called = ocrq.avp("Called Number")
    assert called is not None and called.hidden, f"Called Number not hidden: {ocrq.avps}"
    assert ocrq.random_vector is not None, "hidden AVPs without a Random Vector AVP (§4.3)"
    assert ocrq.unhide(TUNNEL_SECRET) >= 1, "no AVP could be unhidden with the tunnel secret"
    ocrq.validate()  # §6.9 required AVPs
    assert ocrq.called_number == "5551001", f"Called Number {ocrq.called_number!r} (ERX-Dial-Out-Number)"
    assert (ocrq.minimum_bps, ocrq.maximum_bps) == (56000, 64000), \
        f"Minimum/Maximum BPS {ocrq.minimum_bps}/{ocrq.maximum_bps} (ERX-Minimum/Maximum-BPS)"
    assert ocrq.bearer_type == proto.BEARER_DIGITAL, f"Bearer Type {ocrq.bearer_type} (ERX-Bearer-Type Digital)"
    assert ocrq.framing_type is not None and ocrq.framing_type & proto.FRAMING_SYNC, \
        f"Framing Type {ocrq.framing_type}"
    assert ocrq.assigned_session_id, f"OCRQ without Assigned Session ID: {ocrq}"
    assert ocrq.call_serial_number is not None, "OCRQ without Call Serial Number"
    assert ocrq.session_id == 0, "OCRQ must carry Session ID 0 (§3.1)"
    # While the call is being placed the dial-out session is connecting (Table 74).
    assert dialout_state(d, dest) == "connecting", dialout_state(d, dest)
    sid = ocrq.assigned_session_id
    lac.l2tp.send(L2TP.ocrp(session_id=sid, assigned_session_id=9))
    lac.l2tp.send(L2TP.occn(session_id=sid, tx_connect_speed=64000, framing_type=proto.FRAMING_SYNC))
    lsid = f"{sccrq.assigned_tunnel_id}/{sid}"
    wait_for(lambda: subset([{"id": lsid, "state": "established"}], d.ctl("show", "l2tp", "session", lsid)) is None,
             5.0,
             "lnsd's outgoing session established after OCCN")
    got = d.ctl("show", "l2tp", "session", lsid)
    assert_subset([{"id": lsid, "direction": "outgoing", "destination": LAC_ADDR, "tx-connect-speed": 64000}],
                  got)
    t = d.ctl("show", "l2tp", "tunnel", str(sccrq.assigned_tunnel_id))
    assert_subset([{"state": "established", "direction": "outgoing", "authenticated": True, "hidden-avps": True,
                    "peer-tunnel-id": 40, "destination": LAC_ADDR}], t)
    # OCCN acknowledged; lnsd then starts PPP on the session (data messages with LCP).
    lac.l2tp.expect("data", within=5.0)
    # Events, in order: trigger -> AAA grant -> tunnel established -> outgoing session established.
    ev = d.event_list()
    assert_in_order(ev, [
        ("authenticating", {"entity": "dialout.session", "id": key(dest), "to": "authenticating"}),
        ("connecting", {"entity": "dialout.session", "id": key(dest), "to": "connecting"}),
        ("tunnel established", {"entity": "l2tp.tunnel", "to": "established"}),
        ("session established", {"entity": "l2tp.session", "to": "established"}),
    ], show=lambda e: f"{e['entity']} {e.get('id')} -> {e.get('to')}")


@pytest.mark.req("L2TP.outgoing", "L2TP.stopccn", "L2TP.levels")
def test_lnsctl_clear_session_sends_cdn_and_clear_tunnel_sends_stopccn(olab, lac):
    lab, d = olab
    dest = DESTS["lnsctl"]
    sccrq, _, ocrq = establish(lab, lac, d, dest, our_sid=21)
    tid, sid = sccrq.assigned_tunnel_id, ocrq.assigned_session_id
    # Session level: CDN with Result Code 3 (administrative, §4.4.2) reaches the LAC.
    d.ctl("l2tp", "clear", "session", f"{tid}/{sid}")
    cdn = lac.l2tp.expect("CDN", within=5.0)
    assert cdn.session_id == 21, f"CDN not addressed to our Session ID: {cdn}"
    assert cdn.assigned_session_id == sid, f"CDN Assigned Session ID {cdn.assigned_session_id} != {sid}"
    assert cdn.result_code["result"] == 3, f"CDN Result Code {cdn.result_code}"
    assert cdn.result_code["message"] == "session cleared by administrator", f"CDN Error Message {cdn.result_code}"
    wait_for(lambda: lnsd_sessions(d) == [], 5.0, "lnsd's session gone after clear session")
    # Tunnel level: StopCCN (§6.4) with Result Code 1 and our Assigned Tunnel ID.
    assert_subset([{"state": "established"}], d.ctl("show", "l2tp", "tunnel", str(tid)), "tunnel kept after CDN")
    d.ctl("l2tp", "clear", "tunnel", str(tid))
    stop = lac.l2tp.expect("StopCCN", within=5.0)
    assert stop.tunnel_id == 40, f"StopCCN not addressed to our tunnel: {stop}"
    assert stop.assigned_tunnel_id == tid, f"StopCCN Assigned Tunnel ID {stop.assigned_tunnel_id} != {tid}"
    assert stop.result_code["result"] == 1, f"StopCCN Result Code {stop.result_code}"
    wait_for(lambda: all(t["state"] != "established" for t in d.ctl("show", "l2tp", "tunnel")), 5.0,
             "tunnel closed after clear tunnel")


@pytest.mark.req("L2TP.outgoing", "T74.inhibited")
@pytest.mark.parametrize("when", ["before-OCCN", "after-OCCN"])
def test_cdn_from_the_lac_with_q931_cause_clears_the_call_and_inhibits_the_dial_out(olab, lac, when):
    lab, d = olab
    L2TP = proto.L2TP
    dest = DESTS["cdn-setup" if when == "before-OCCN" else "cdn-up"]
    trigger(lab, dest)
    sccrq = lac.answer_sccrq()
    lac.l2tp.expect("SCCCN", within=5.0)
    ocrq = lac.l2tp.expect("OCRQ", within=5.0)
    sid = ocrq.assigned_session_id
    lac.l2tp.send(L2TP.ocrp(session_id=sid, assigned_session_id=31))
    if when == "after-OCCN":
        lac.l2tp.send(L2TP.occn(session_id=sid, tx_connect_speed=64000, framing_type=proto.FRAMING_SYNC))
        wait_for(lambda: lnsd_sessions(d, "established"), 5.0, "outgoing session established")
    else:
        lsid = f"{sccrq.assigned_tunnel_id}/{sid}"
        wait_for(lambda: d.ctl("show", "l2tp", "session", lsid), 5.0, "lnsd's session exists after OCRP")
    # CDN (§6.12): Result Code 2 (general error) plus Q.931 Cause Code 17 (the exchange's "user busy").
    lac.l2tp.send(L2TP.cdn(session_id=sid, assigned_session_id=31, result=2, error=0,
                           error_message="isdn call cleared", q931_cause=ISDN_CAUSE))
    lac.l2tp.expect("ZLB", within=3.0)
    wait_for(lambda: lnsd_sessions(d) == [], 5.0, "lnsd's session cleared after the LAC's CDN")
    wait_for(lambda: dialout_state(d, dest) == "inhibited", 5.0, "dial-out session inhibited after the CDN")
    # The tunnel stays (§5.7: only StopCCN closes it).
    assert_subset([{"state": "established"}], d.ctl("show", "l2tp", "tunnel", str(sccrq.assigned_tunnel_id)))
    inhibit = [e for e in d.event_list() if e["entity"] == "dialout.session" and e.get("id") == key(dest)
               and e.get("to") == "inhibited"]
    assert inhibit, "no dialout.session inhibited event"
    if when == "before-OCCN":
        # The call failed: the manager sees the Result Code and the Q.931 cause (Table 74 call-failed).
        text = str(inhibit[-1])
        assert "result 2" in text and "q931 17" in text, f"inhibited event without result / Q.931 cause: {text}"


@pytest.mark.req("L2TP.stopccn", "L2TP.outgoing", "T74.inhibited")
def test_stopccn_from_the_lac_clears_the_tunnel_and_its_call(olab, lac):
    lab, d = olab
    L2TP = proto.L2TP
    dest = DESTS["stopccn"]
    sccrq, _, _ = establish(lab, lac, d, dest, our_sid=41)
    tid = sccrq.assigned_tunnel_id
    lac.l2tp.send(L2TP.stopccn(assigned_tunnel_id=40, result=1, error_message="lac going down"))
    lac.l2tp.expect("ZLB", within=3.0)
    wait_for(lambda: lnsd_sessions(d) == [], 5.0, "lnsd's session cleared with the tunnel")
    wait_for(lambda: d.ctl("show", "l2tp", "tunnel", str(tid))[0]["state"] != "established", 5.0,
             "tunnel closed after the LAC's StopCCN")
    wait_for(lambda: dialout_state(d, dest) == "inhibited", 5.0, "dial-out session inhibited (call lost)")
    ev = d.event_list()
    assert any(e["entity"] == "l2tp.tunnel" and e.get("event") == "recv-StopCCN" for e in ev), \
        "no recv-StopCCN tunnel event"
    # The tunnel ID is held (§5.7) and then released.
    wait_for(lambda: not [t for t in d.ctl("show", "l2tp", "tunnel") if t["id"] == tid], 10.0,
             "tunnel released after tunnel-hold")


@pytest.mark.req("L2TP.outgoing", "T74.inhibited", "L2TP.call-ended")
def test_lnsctl_clear_session_tells_the_dial_out_manager(olab, lac):
    lab, d = olab
    dest = DESTS["clear-manager"]
    sccrq, _, ocrq = establish(lab, lac, d, dest, our_sid=51)
    lsid = f"{sccrq.assigned_tunnel_id}/{ocrq.assigned_session_id}"
    assert [p for p in d.ctl("show", "ppp") if p.get("id") == lsid or lsid in str(p)], "no PPP link on the call"
    mark = len(d.event_list())
    d.ctl("l2tp", "clear", "session", lsid)
    lac.l2tp.expect("CDN", within=5.0)
    # Table 74: connecting + call closed -> inhibited; the PPP link of the call goes with it.
    wait_for(lambda: dialout_state(d, dest) == "inhibited", 5.0, "dial-out session inhibited after clear session")
    wait_for(lambda: not [p for p in d.ctl("show", "ppp") if lsid in str(p)], 5.0, "PPP link of the call gone")
    # The engine's one report of the ended call (no synthesised one in lnsd): the owner told once.
    ev = d.event_list()[mark:]
    ended = [e for e in ev if e["entity"] == "l2tp.session" and e["id"] == lsid and e["event"] == "call-ended"]
    assert len(ended) == 1, f"call-ended events for {lsid}: {ended}"
    assert ended[0]["extra"] == {"by": "local-disconnect", "result": 3}, ended[0]
    closed = [e for e in ev if e["entity"] == "dialout.session" and e.get("id") == key(dest)
              and e["event"] == "call-closed"]
    assert len(closed) == 1, f"the dial-out manager told {len(closed)} times: {closed}"
    assert "session cleared by administrator" in closed[0]["cause"], closed[0]


@pytest.mark.req("L2TP.outgoing")
def test_show_session_names_the_called_number_of_an_outgoing_call(olab, lac):
    lab, d = olab
    sccrq, _, ocrq = establish(lab, lac, d, DESTS["show"], our_sid=11)
    lsid = f"{sccrq.assigned_tunnel_id}/{ocrq.assigned_session_id}"
    got = d.ctl("show", "l2tp", "session", lsid)
    assert_subset([{"id": lsid, "called-number": "5551001"}], got)


@pytest.mark.req("L2TP.outgoing", "L2TP.tunnel-auth", "L2TP.hidden")
def test_without_tunnel_password_no_challenge_and_avps_in_clear(olab):
    """Home server answer without Tunnel-Password, LAC 198.51.100.3 not in lnsd's `peers`: the SCCRQ
    carries no Challenge (§5.1.1: authentication only with a shared secret) and the OCRQ no hidden AVP."""
    lab, d = olab
    L2TP = proto.L2TP
    lac = ScriptedLac(lab, LAC2_ADDR, LNS_ADDR, host="lac2", port=1701)
    try:
        trigger(lab, PLAIN_DEST)
        sccrq = lac.answer_sccrq(tid=60)
        assert sccrq.challenge is None, f"SCCRQ has a Challenge without a tunnel secret: {sccrq.avps}"
        scccn = lac.l2tp.expect("SCCCN", within=5.0)
        assert scccn.challenge_response is None, "SCCCN with a Challenge Response although we sent no Challenge"
        ocrq = lac.l2tp.expect("OCRQ", within=5.0)
        assert not [a.name for a in ocrq.avps if a.hidden], f"hidden AVPs without a secret: {ocrq.avps}"
        assert ocrq.random_vector is None, "Random Vector AVP without hidden AVPs"
        assert ocrq.called_number == "5551001", f"Called Number {ocrq.called_number!r}"
        sid = ocrq.assigned_session_id
        lac.l2tp.send(L2TP.ocrp(session_id=sid, assigned_session_id=61))
        lac.l2tp.send(L2TP.occn(session_id=sid, tx_connect_speed=64000, framing_type=proto.FRAMING_SYNC))
        lsid = f"{sccrq.assigned_tunnel_id}/{sid}"
        wait_for(lambda: subset([{"state": "established"}], d.ctl("show", "l2tp", "session", lsid)) is None,
                 5.0,
                 "outgoing session to 198.51.100.3 established")
        t = d.ctl("show", "l2tp", "tunnel", str(sccrq.assigned_tunnel_id))
        assert_subset([{"destination": LAC2_ADDR, "authenticated": False, "hidden-avps": False,
                        "assignment-id": "lac2"}], t)
        d.ctl("l2tp", "clear", "destination", LAC2_ADDR)
        stop = lac.l2tp.expect("StopCCN", within=5.0)
        assert stop.result_code["result"] == 1, f"StopCCN Result Code {stop.result_code}"
    finally:
        lac.close()


def l2tp_counters(d) -> dict:
    """`show l2tp` counters of lnsd (engine + data path)."""
    return d.ctl("show", "l2tp")["system"]["counters"]


@pytest.mark.req("L2TP.early-data", "L2TP.outgoing", "L2TP.data")
def test_lcp_configure_request_that_overtakes_the_occn_is_answered(olab, lac):
    """A LAC whose OCCN waits in its control channel's send window (RFC 2661 §5.8) forwards the CPE's
    first LCP Configure-Request as data first: lnsd keeps it and answers it once the OCCN arrives,
    instead of dropping it (the CPE would wait out its 3 s LCP restart timer)."""
    lab, d = olab
    L2TP = proto.L2TP
    trigger(lab, DESTS["early-data"])
    sccrq = lac.answer_sccrq()
    lac.l2tp.expect("SCCCN", within=5.0)
    ocrq = lac.l2tp.expect("OCRQ", within=5.0)
    sid = ocrq.assigned_session_id
    lac.l2tp.send(L2TP.ocrp(session_id=sid, assigned_session_id=71))
    before = l2tp_counters(d)
    # The CPE's LCP Configure-Request (MRU 1500, a Magic-Number) as an L2TP data message, before the OCCN.
    confreq = proto.LCP(1, 0x5A)
    confreq.add_option(1, bytes([0x05, 0xDC]))
    confreq.add_option(5, os.urandom(4))
    lac.l2tp.send(L2TP.data(tunnel_id=sccrq.assigned_tunnel_id, session_id=sid, payload=confreq.frame()),
                  auto_seq=False, fill_tunnel_id=False)
    wait_for(lambda: l2tp_counters(d)["data-early-kept"] == before["data-early-kept"] + 1, 3.0,
             "lnsd keeps the data message that arrived before the OCCN")
    lac.l2tp.send(L2TP.occn(session_id=sid, tx_connect_speed=64000, framing_type=proto.FRAMING_SYNC))

    def answers_ours(m) -> bool:
        if not m.is_data:
            return False
        ppp = proto.ppp_parse(m.payload)
        if ppp["protocol"] != proto.PROTO_LCP:
            return False
        lcp = ppp["packet"]  # an LCP object
        return lcp.code in (2, 3, 4) and lcp.identifier == 0x5A  # Configure-Ack / -Nak / -Reject

    # Well inside the CPE's 3 s restart timer, and without any retransmission of ours.
    reply = lac.l2tp.expect(answers_ours, within=2.0)
    assert reply.session_id == 71, f"answer not addressed to our Session ID: {reply}"
    after = l2tp_counters(d)
    assert after["data-early-kept"] - before["data-early-kept"] == 1, f"kept {before} -> {after}"
    assert after["data-early-delivered"] - before["data-early-delivered"] == 1, f"delivered {before} -> {after}"
    assert after["data-early-dropped"] == before["data-early-dropped"], f"dropped {before} -> {after}"
    assert after["unknown-session"] == before["unknown-session"], f"unknown-session {before} -> {after}"


@pytest.mark.req("L2TP.tunnel-auth", "L2TP.stopccn", "T74.inhibited")
def test_zz_wrong_challenge_response_from_the_lac_is_answered_with_stopccn_not_authorized(olab, lac):
    """Last in the module: the failed endpoint is then dead for the tunnel selector's dead-time (60 s)."""
    lab, d = olab
    dest = DESTS["bad-response"]
    before = d.ctl("show", "l2tp", "summary")["system"]["counters"]["auth-failures"]
    trigger(lab, dest)
    lac.answer_sccrq(response_secret="wrong-secret")
    stop = lac.l2tp.expect("StopCCN", within=5.0)
    assert stop.result_code["result"] == 4, f"StopCCN Result Code {stop.result_code}, want 4 (not authorized)"
    with pytest.raises(proto.ExpectTimeout):
        lac.l2tp.expect(lambda m: m.message_name in ("SCCCN", "OCRQ"), within=0.5)
    after = d.ctl("show", "l2tp", "summary")["system"]["counters"]["auth-failures"]
    assert after == before + 1, f"auth-failures {before} -> {after}"
    assert not [t for t in d.ctl("show", "l2tp", "tunnel") if t["state"] == "established"], "tunnel established"
    wait_for(lambda: dialout_state(d, dest) == "inhibited", 10.0, "dial-out session inhibited after the failure")
    # The endpoint failed to set up a control connection: left out of tunnel selection for dead-time.
    dst = d.ctl("show", "l2tp", "destination", LAC_ADDR)
    assert_subset([{"address": LAC_ADDR, "dead": True}], dst)

"""RFC 2661 calls, judged from the wire against any DUT (conftest.py): an incoming call to an LNS
(ICRQ -> ICRP -> ICCN), an outgoing call to a LAC (OCRQ -> OCRP -> OCCN / CDN), Session IDs, the
CDN's contents, an unknown mandatory AVP in a session message, and the per-AVP M / H bit rules of
§4.4 over every message the DUT sent in a full exchange."""
from __future__ import annotations

import pytest

from dlab import rfcstatements as R
from wire import BUSY, P, Peer, Step, check

req = pytest.mark.req


def need_calls(dut):
    want = "incoming-calls" if dut.ctx.role == "lns" else "outgoing-calls"
    if want not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim {want}")


@pytest.fixture
def peer(dut):
    need_calls(dut)
    p = Peer(dut)
    p.establish()
    yield p
    p.close()


@req("RFC2661.6.7-1", "RFC2661.6.10-1", "RFC2661.7.5-1", "RFC2661.5.3-1", "RFC2661.5.3-2",
     "RFC2661.4.4.4-assigned-session-id-1", "RFC2661.6.11-1")
def test_call_reply_carries_the_required_avps_and_session_ids(dut, peer):
    reply, final = peer.call()
    name = reply.message_name
    have = {a.type for a in reply.avps if a.vendor_id == 0}
    check({0, 14} <= have, name, f"{name} must carry Message Type and Assigned Session ID (§6.7 / §6.10)", reply)
    check(reply.assigned_session_id not in (None, 0), name, "Assigned Session ID must not be 0 (§5.3)", reply)
    check(reply.session_id == peer.sid, name, "header Session ID must be our Assigned Session ID (§4.4.4)", reply)
    if final is not None and final.message_name == "OCCN":
        have = {a.type for a in final.avps if a.vendor_id == 0}
        check({0, 24, 19} <= have, "OCCN", "OCCN must carry Message Type, (Tx) Connect Speed, Framing Type (§6.11)",
              final)


@req("RFC2661.6.12-2", "RFC2661.4.4.4-assigned-session-id-1")
def test_cdn_of_a_failed_outgoing_call_carries_result_code_and_session_id(dut, peer):
    if dut.ctx.role != "lac":
        pytest.skip("n/a: an outgoing call fails at a LAC; the DUT plays the LNS")
    _, final = peer.call(number=BUSY, sid=9)
    check(final.message_name == "CDN", "OCRQ to a busy number", "the LAC must report the failed call by CDN", final)
    have = {a.type for a in final.avps if a.vendor_id == 0}
    check({0, 1, 14} <= have, "CDN", "CDN must carry Message Type, Result Code, Assigned Session ID (§6.12)", final)
    check(final.session_id == 9, "CDN", "header Session ID must be our Assigned Session ID (§4.4.4)", final)


@req("RFC2661.4.1-3", "RFC2661.6.12-2")
def test_unknown_mandatory_avp_in_a_session_message_clears_the_session(dut, peer):
    if dut.ctx.role != "lns":
        pytest.skip("n/a: needs a session message the peer LAC sends after the reply (ICCN); the DUT plays the LAC")
    L2TP = P().L2TP
    peer.l2tp.send(L2TP.icrq(assigned_session_id=11, call_serial_number=11, bearer_type=2))
    icrp = peer.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
    iccn = L2TP.iccn(session_id=icrp.assigned_session_id or 0, tx_connect_speed=64000, framing_type=1)
    iccn.add_avp(250, b"\x00", mandatory=True)
    peer.l2tp.send(iccn)
    got = peer.expect(lambda m: m.message_name in ("CDN", "StopCCN"), within=5.0,
                      step="ICCN with unknown AVP 250, M bit set")
    check(got.session_id == 11 or got.message_name == "StopCCN", got.message_name,
          "the CDN must be addressed to our session", got)
    if got.message_name == "CDN":
        have = {a.type for a in got.avps if a.vendor_id == 0}
        check({0, 1, 14} <= have, "CDN", "CDN must carry Message Type, Result Code, Assigned Session ID (§6.12)", got)


# --- §4.4: every AVP the DUT sends has the M bit (and, where fixed, the H bit) the RFC gives it --------
RULES = [s for s in R.statements() if s.kind]
TYPES = R.attribute_types()


@pytest.fixture(scope="session")
def exchange(dut):
    """Every message a DUT sent in one full exchange with the secret peer: tunnel with Challenge (when
    the DUT claims tunnel authentication), a call, a CDN from us, a StopCCN from us."""
    msgs = []
    p = Peer(dut, secret=True)
    try:
        p.establish(challenge="tunnel-auth" in dut.features)
        want = "incoming-calls" if dut.ctx.role == "lns" else "outgoing-calls"
        if want in dut.features:
            reply, _ = p.call()
            p.l2tp.send(P().L2TP.cdn(session_id=reply.assigned_session_id or 0, assigned_session_id=p.sid, result=3))
            p.drain(1.0)
    finally:
        p.close()
        msgs = list(p.seen)
    return [m for m in msgs if m.is_control and not m.is_zlb]


@pytest.mark.parametrize("rule", [pytest.param(s, id=s.id, marks=pytest.mark.req(s.id)) for s in RULES])
def test_avp_m_and_h_bits(dut, exchange, rule):
    t = TYPES[rule.avp]
    carrying = [(m, a) for m in exchange for a in m.avps if a.vendor_id == 0 and a.type == t]
    if not carrying:
        pytest.skip(f"n/a: {dut.name} sent no {rule.avp} AVP in the exchange")
    for m, a in carrying:
        if rule.kind == "M-bit":
            want = rule.sentence.split("set to ")[1][0] == "1"
            check(a.mandatory == want, m.message_name, f"{rule.avp} sent with M={int(a.mandatory)}, the RFC says "
                  f"M={int(want)} (§{rule.section})", m)
        else:
            check(not a.hidden, m.message_name, f"{rule.avp} sent hidden, the RFC says H=0 (§{rule.section})", m)


@req("RFC2661.4.3-2", "RFC2661.4.4.1-random-vector-1")
def test_random_vector_precedes_the_first_hidden_avp(dut, exchange):
    hiding = [m for m in exchange if any(a.hidden for a in m.avps)]
    if not hiding:
        pytest.skip(f"n/a: {dut.name} hid no AVP in the exchange")
    for m in hiding:
        types = [(a.vendor_id, a.type) for a in m.avps]
        first_hidden = next(i for i, a in enumerate(m.avps) if a.hidden)
        check((0, 36) in types[:first_hidden], m.message_name,
              "a Random Vector AVP must precede the first hidden AVP (§4.3)", m)


@req("RFC2661.4.3-1")
def test_no_hidden_avp_towards_a_peer_without_a_secret(dut):
    p = Peer(dut)  # the address the DUT has no secret for
    try:
        p.establish()
        want = "incoming-calls" if dut.ctx.role == "lns" else "outgoing-calls"
        if want in dut.features:
            p.call()
        p.drain(0.5)
    finally:
        p.close()
    for m in p.seen:
        check(not any(a.hidden for a in m.avps), m.message_name,
              "an AVP was hidden towards a peer that shares no secret (§4.3)", m)



@req("RFC2661.4.4.4-sequencing-required-1", "RFC2661.5.4-1")
def test_lns_sends_sequenced_data_when_the_lac_requires_sequencing(dut):
    """§5.9 / §4.4.4: the LNS is in control of sequencing; a LAC's ICCN with Sequencing Required obliges
    it to send every data message of the session with Ns / Nr (S bit). Judged on the data messages the
    DUT sends on the call (a PPP LNS starts LCP there); none within the window: not applicable."""
    if dut.ctx.role != "lns":
        pytest.skip("n/a: the rule binds the LNS; the DUT plays the LAC")
    need_calls(dut)
    L2TP = P().L2TP
    p = Peer(dut)
    try:
        p.establish()
        p.l2tp.send(L2TP.icrq(assigned_session_id=21, call_serial_number=21, bearer_type=2))
        icrp = p.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
        p.l2tp.send(L2TP.iccn(session_id=icrp.assigned_session_id or 0, tx_connect_speed=64000, framing_type=1,
                              sequencing_required=True))
        try:
            data = [p.expect(lambda m: m.is_data and m.session_id == 21, within=5.0, step="data on the call")]
        except Step:
            pytest.skip(f"n/a: {dut.name} sent no data message on the call within 5 s")
        data += [m for m in p.drain(1.0) if m.is_data and m.session_id == 21]
        for m in data:
            check(m.has_sequence, "data after ICCN with Sequencing Required",
                  "the LNS must send data with Ns / Nr (S bit) once the LAC required sequencing (§4.4.4, §5.4)", m)
    finally:
        p.close()


@req("RFC2661.3.1-8")
def test_nr_of_a_sequenced_data_message_is_ignored(dut):
    """§3.1: the Nr of a data message is reserved and ignored on receipt. An LCP Configure-Request from the
    peer's client in a sequenced data message with Nr 0xBEEF is still answered (LCP Configure-Ack / -Nak /
    -Reject as data), and the control channel's acknowledgements are unaffected (our HELLO gets a ZLB
    with the right Nr). A DUT that answers no PPP on the call (no PPP of its own) is n/a."""
    if dut.ctx.role != "lns":
        pytest.skip("n/a: needs the DUT's PPP to answer on an incoming call; the DUT plays the LAC")
    need_calls(dut)
    L2TP = P().L2TP
    p = Peer(dut)
    try:
        p.establish()
        p.l2tp.send(L2TP.icrq(assigned_session_id=23, call_serial_number=23, bearer_type=2))
        icrp = p.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
        peer_sid = icrp.assigned_session_id or 0
        p.l2tp.send(L2TP.iccn(session_id=peer_sid, tx_connect_speed=64000, framing_type=1))
        confreq = bytes.fromhex("0101000a05061a2b3c4d")  # LCP Configure-Request id 1, Magic-Number (RFC 1661 §5.1)
        p.l2tp.send(L2TP.data(tunnel_id=p.tunnel, session_id=peer_sid, payload=P().ppp_frame(0xC021, confreq, True),
                              ns=0, nr=0xBEEF), auto_seq=False)

        def lcp_answer(m) -> bool:
            b = bytes(m.payload) if m.is_data and m.session_id == 23 else b""
            return len(b) >= 6 and b[:4] == b"\xff\x03\xc0\x21" and b[4] in (2, 3, 4) and b[5] == 1

        try:
            ans = p.expect(lcp_answer, within=5.0, step="LCP Configure-Request in data with Nr 0xBEEF")
        except Step:
            if not any(m.is_data and m.session_id == 23 for m in p.seen):
                pytest.skip(f"n/a: {dut.name} sent no PPP on the call")
            raise
        check(ans.is_data, "LCP answer", "answered as data", ans)
        p.l2tp.send(L2TP.hello())
        want = p.l2tp.ns
        # The acknowledgement of our HELLO (a ZLB or any control message with Nr past it); earlier ZLBs
        # acknowledging our ICCN may still be on their way.
        p.expect(lambda m: m.is_control and m.nr == want, within=5.0,
                 step=f"HELLO after the data message acknowledged (Nr {want}) whatever the data's Nr said (§3.1)")
    finally:
        p.close()

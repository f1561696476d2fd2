"""RFC 2661 with the DUT as the initiator, judged from the wire: the DUT opens the control connection
(SCCRQ) and places a call on it (a LAC: ICRQ; an LNS: OCRQ), the scripted peer answers on UDP 1701
and checks what the DUT sent. A DUT profile makes its implementation initiate with Dut.initiate();
a profile that cannot says why (dlab.dut.NotApplicable), which is the "not applicable" verdict."""
from __future__ import annotations

import itertools
import time

import pytest

from dlab import dut as D
from dlab import netns
from wire import BEARER_BOTH, FRAMING_BOTH, P, Step, check

req = pytest.mark.req

# RFC 2661 §4.4: AVP Attribute Types.
MESSAGE_TYPE, PROTOCOL_VERSION, FRAMING_CAPS, HOST_NAME, ASSIGNED_TUNNEL_ID = 0, 2, 3, 7, 9
ASSIGNED_SESSION_ID, CALL_SERIAL_NUMBER, BEARER_TYPE, FRAMING_TYPE, CALLED_NUMBER = 14, 15, 18, 19, 21
MIN_BPS, MAX_BPS, TX_CONNECT_SPEED = 16, 17, 24


class Answerer:
    """The scripted peer answering an initiating DUT: a ScriptedL2tp bound to the open peer's address
    on the L2TP port (where the DUT sends its SCCRQ)."""

    def __init__(self, dut):
        self.dut = dut
        self.sock = netns.socket_in(dut.lab.ns("peer"))
        self.sock.bind((dut.ctx.open_peer, dut.ctx.port))
        self.l2tp = P().ScriptedL2tp(self.sock, peer=(dut.ctx.address, dut.ctx.port))
        self.seen: list = []

    def expect(self, matcher, within: float, step: str):
        try:
            m = self.l2tp.expect(matcher, within=within)
        except P().ExpectTimeout:
            name = matcher if isinstance(matcher, str) else "matching message"
            raise Step(step, f"no {name} within {within:.1f} s", None, "; ".join(self.l2tp.history[-12:])) from None
        self.seen.append(m)
        return m

    def close(self):
        try:
            self.l2tp.send(P().L2TP.stopccn(assigned_tunnel_id=77, result=1))
            self.l2tp.drain(0.2)
        except Exception:  # the exchange may not have gone as far as a tunnel
            pass
        self.sock.close()


@pytest.fixture
def initiated(dut):
    """The DUT made to initiate towards the Answerer, and its SCCRQ."""
    a = Answerer(dut)
    try:
        dut.initiate(dut.ctx, dut.ctx.open_peer)
    except D.NotApplicable as e:
        a.close()
        pytest.skip(f"n/a: {e}")
    try:
        yield a, a.expect("SCCRQ", within=10.0, step="the DUT initiates with an SCCRQ")
    finally:
        a.close()


def types(m) -> set[int]:
    return {x.type for x in m.avps if x.vendor_id == 0}


@req("RFC2661.6.1-1", "RFC2661.5.3-1", "RFC2661.5.3-3", "RFC2661.4.4.3-assigned-tunnel-id-2",
     "RFC2661.4.4.3-host-name-1")
def test_sccrq_of_an_initiating_dut_carries_the_required_avps(dut, initiated):
    _, sccrq = initiated
    missing = {MESSAGE_TYPE, PROTOCOL_VERSION, HOST_NAME, FRAMING_CAPS, ASSIGNED_TUNNEL_ID} - types(sccrq)
    check(not missing, "SCCRQ", f"SCCRQ lacks AVP type(s) {sorted(missing)}: Message Type, Protocol Version, Host "
          "Name, Framing Capabilities and Assigned Tunnel ID are required (§6.1)", sccrq)
    check(sccrq.tunnel_id == 0, "SCCRQ", "header Tunnel ID must be 0 before the peer assigned one (§5.3)", sccrq)
    check(sccrq.assigned_tunnel_id not in (None, 0), "SCCRQ", "Assigned Tunnel ID must not be 0 (§5.3)", sccrq)
    check(bool(sccrq.host_name), "SCCRQ", "Host Name must be at least one octet (§4.4.3)", sccrq)


@req("RFC2661.5-1")
def test_no_call_before_the_control_connection_is_established(dut, initiated):
    """§5: no ICRQ / OCRQ before the tunnel is up: with its SCCRQ unanswered for 2 s, the DUT may only
    retransmit it."""
    a, _ = initiated
    try:
        m = a.l2tp.expect(lambda m: m.message_name in ("ICRQ", "OCRQ"), within=2.0)
    except P().ExpectTimeout:
        return
    raise Step("SCCRQ unanswered", "the DUT placed a call before its control connection was established (§5)", m)


def call_of(a):
    """Answers the DUT's SCCRQ with our SCCRP and returns (SCCCN, its call: ICRQ or OCRQ)."""
    a.l2tp.send(P().L2TP.sccrp(assigned_tunnel_id=77, host_name="scripted-answerer",
                               framing_capabilities=FRAMING_BOTH, bearer_capabilities=BEARER_BOTH))
    scccn = a.expect("SCCCN", within=5.0, step="SCCRP answered by SCCCN")
    call = a.expect(lambda m: m.message_name in ("ICRQ", "OCRQ"), within=10.0, step="the DUT places its call")
    check(call.session_id == 0, call.message_name, "header Session ID must be 0 before the peer assigned one "
          "(§5.3)", call)
    check(call.assigned_session_id not in (None, 0), call.message_name, "Assigned Session ID must not be 0 (§5.3)",
          call)
    check(call.tunnel_id == 77, call.message_name, "header Tunnel ID must be our Assigned Tunnel ID (§4.4.3)", call)
    return scccn, call


def required(m, want: set[int], section: str) -> None:
    missing = want - types(m)
    check(not missing, m.message_name, f"{m.message_name} lacks AVP type(s) {sorted(missing)} (§{section})", m)


@req("RFC2661.6.3-1", "RFC2661.5.3-1", "RFC2661.5.3-2", "RFC2661.4.4.4-assigned-session-id-2")
def test_scccn_and_the_call_of_an_initiating_dut_carry_their_session_ids(dut, initiated):
    """After our SCCRP the DUT completes the tunnel (SCCCN with a Message Type, §6.3) and places its
    call with header Session ID 0 and a non-zero Assigned Session ID (§5.3)."""
    a, _ = initiated
    scccn, _ = call_of(a)
    required(scccn, {MESSAGE_TYPE}, "6.3")


@req("RFC2661.6.6-1", "RFC2661.6.8-1")
def test_icrq_and_iccn_of_an_initiating_lac_carry_the_required_avps(dut, initiated):
    """A LAC's ICRQ carries Message Type, Assigned Session ID, Call Serial Number (§6.6); after our ICRP
    its ICCN carries Message Type, (Tx) Connect Speed and Framing Type (§6.8)."""
    a, _ = initiated
    _, call = call_of(a)
    if call.message_name != "ICRQ":
        pytest.skip(f"n/a: {dut.name} placed an {call.message_name}, not an incoming call")
    required(call, {MESSAGE_TYPE, ASSIGNED_SESSION_ID, CALL_SERIAL_NUMBER}, "6.6")
    a.l2tp.send(P().L2TP.icrp(session_id=call.assigned_session_id, assigned_session_id=5))
    iccn = a.expect("ICCN", within=5.0, step="ICRP answered by ICCN")
    required(iccn, {MESSAGE_TYPE, TX_CONNECT_SPEED, FRAMING_TYPE}, "6.8")
    check(iccn.session_id == 5, "ICCN", "header Session ID must be our Assigned Session ID (§4.4.4)", iccn)


@req("RFC2661.6.9-2")
def test_ocrq_of_an_initiating_lns_carries_the_required_avps(dut, initiated):
    """An LNS's OCRQ carries Message Type, Assigned Session ID, Call Serial Number, Minimum / Maximum BPS,
    Bearer Type, Framing Type and Called Number (§6.9)."""
    a, _ = initiated
    _, call = call_of(a)
    if call.message_name != "OCRQ":
        pytest.skip(f"n/a: {dut.name} placed an {call.message_name}, not an outgoing call")
    required(call, {MESSAGE_TYPE, ASSIGNED_SESSION_ID, CALL_SERIAL_NUMBER, MIN_BPS, MAX_BPS, BEARER_TYPE,
                    FRAMING_TYPE, CALLED_NUMBER}, "6.9")


_our_tunnel_ids = itertools.count(78)


@pytest.mark.parametrize("ours", [
    pytest.param("lower", marks=req("RFC2661.4.4.3-tie-breaker-1")),
    pytest.param("equal", marks=req("RFC2661.4.4.3-tie-breaker-2")),
])
def test_concurrent_sccrqs_are_resolved_by_the_tie_breaker(dut, initiated, ours):
    """Both ends open a control connection at once (§4.4.3 Tie Breaker): the DUT's SCCRQ is left
    unanswered and unacknowledged and the scripted peer sends its own SCCRQ with a Tie Breaker one
    below the DUT's ("lower": the DUT loses, so it answers ours with SCCRP and silently discards its
    own: no SCCRQ retransmitted, no StopCCN for it) or equal to it ("equal": both discard, so no SCCRP
    to ours and no SCCRQ retransmitted)."""
    a, sccrq = initiated
    theirs = sccrq.tie_breaker
    if theirs is None:
        pytest.skip(f"n/a: {dut.name}'s SCCRQ carries no Tie Breaker (optional, §6.1); the rules on values "
                    "do not arise")
    if ours == "lower" and theirs == 0:
        pytest.skip("n/a: the DUT's Tie Breaker is 0, no value is lower")
    value = theirs - 1 if ours == "lower" else theirs
    a.l2tp.drain(0.0)  # copies of its SCCRQ retransmitted so far are no evidence (and set no state below)
    a.l2tp.auto_ack = False  # acknowledging the DUT's SCCRQ would stop its retransmissions for another reason
    a.l2tp.ns, a.l2tp.nr, a.l2tp.peer_tunnel_id = 0, 0, 0  # our own new control connection
    # A new Assigned Tunnel ID per test: a DUT still holding the tunnel of the previous test (§5.7)
    # would take an SCCRQ with the same one for a retransmission of that connection.
    mine = next(_our_tunnel_ids)
    a.l2tp.send(P().L2TP.sccrq(assigned_tunnel_id=mine, host_name="scripted-answerer", framing_capabilities=FRAMING_BOTH,
                               bearer_capabilities=BEARER_BOTH, tie_breaker=value))
    own = sccrq.assigned_tunnel_id
    sent = time.monotonic()

    def its_own_tunnel(m) -> bool:  # its SCCRQ again (not a copy in flight as ours left), or a StopCCN for it
        return (m.message_name == "SCCRQ" and m.assigned_tunnel_id == own and time.monotonic() - sent > 0.5) or \
               (m.message_name == "StopCCN" and m.assigned_tunnel_id == own)

    if ours == "lower":
        reply = a.expect(lambda m: m.message_name == "SCCRP" or its_own_tunnel(m), within=5.0,
                         step="our SCCRQ with the lower Tie Breaker")
        check(reply.message_name == "SCCRP", "tie breaker, ours lower", "the DUT lost and must answer our SCCRQ "
              "after silently discarding its own tunnel (§4.4.3)", reply)
        check(reply.tunnel_id == mine, "SCCRP", "SCCRP header Tunnel ID must be our Assigned Tunnel ID", reply)
    window = 3.0 * max(dut.ctx.retransmit, 1)
    try:
        m = a.l2tp.expect(lambda m: its_own_tunnel(m) or (ours == "equal" and m.message_name == "SCCRP"),
                          within=window)
    except P().ExpectTimeout:
        return
    a.seen.append(m)
    raise Step(f"tie breaker, ours {ours}", f"the DUT kept or announced the tunnel it must silently discard "
               f"(its Assigned Tunnel ID {own}, §4.4.3){' or answered ours' if ours == 'equal' else ''}", m)


def call_after_sccrp(a, within: float, **caps):
    """Answers the DUT's SCCRQ with an SCCRP advertising `caps` (framing_capabilities /
    bearer_capabilities; absent = not sent) and returns the call it places within `within` s, or None."""
    a.l2tp.send(P().L2TP.sccrp(assigned_tunnel_id=77, host_name="scripted-answerer", **caps))
    a.expect("SCCCN", within=5.0, step="SCCRP answered by SCCCN")
    try:
        m = a.l2tp.expect(lambda m: m.message_name in ("ICRQ", "OCRQ"), within=within)
    except P().ExpectTimeout:
        return None
    a.seen.append(m)
    return m


def need_lns(dut):
    if dut.ctx.role != "lns":
        pytest.skip("n/a: the rule binds the LNS's outgoing call; the DUT plays the LAC")


@req("RFC2661.6.9-1")
def test_no_ocrq_to_a_lac_that_sent_no_bearer_capabilities(dut, initiated):
    """§6.9: an LNS places no OCRQ on a control connection whose LAC sent no Bearer Capabilities (it
    offers no outgoing calls). Our SCCRP carries Framing but no Bearer Capabilities: no OCRQ within 5 s."""
    need_lns(dut)
    a, _ = initiated
    call = call_after_sccrp(a, 5.0, framing_capabilities=FRAMING_BOTH)
    if call is not None and call.message_name == "ICRQ":
        pytest.skip(f"n/a: {dut.name} initiates as a LAC (it placed an ICRQ); the rule binds an LNS's OCRQ")
    check(call is None, "OCRQ after an SCCRP without Bearer Capabilities",
          "the LNS must not place an outgoing call through a LAC that advertised no bearer (§6.9)", call)


@req("RFC2661.4.4.4-bearer-type-1", "RFC2661.4.4.4-framing-type-1", "RFC2661.4.4.3-framing-capabilities-1")
def test_ocrq_bearer_and_framing_type_within_the_lac_capabilities(dut, initiated):
    """§4.4.4 Bearer Type / Framing Type, §4.4.3 Framing Capabilities: the OCRQ sets only bits the LAC
    advertised. Our SCCRP offers digital bearer (D, 0x1) and synchronous framing (S, 0x1) only; the
    OCRQ's Bearer Type and Framing Type must have no other bit. No OCRQ within 10 s (the DUT found no
    bearer or framing it may use): n/a."""
    need_lns(dut)
    a, _ = initiated
    call = call_after_sccrp(a, 10.0, framing_capabilities=0x1, bearer_capabilities=0x1)
    if call is None or call.message_name != "OCRQ":
        pytest.skip(f"n/a: {dut.name} placed no OCRQ through a LAC offering digital / synchronous only")
    check(call.bearer_type is not None and call.bearer_type & ~0x1 == 0, "OCRQ", "Bearer Type has a bit the LAC "
          "did not advertise in its Bearer Capabilities (digital only) (§4.4.4)", call)
    check(call.framing_type is not None and call.framing_type & ~0x1 == 0, "OCRQ", "Framing Type has a bit the "
          "LAC did not advertise in its Framing Capabilities (synchronous only) (§4.4.3, §4.4.4)", call)

"""RFC 2661 on an established call, judged from the wire against an LNS DUT (conftest.py): WEN from the
LAC (§6.13), SLI from the LNS (§6.14), Proxy LCP and Proxy Authentication AVPs in the ICCN (§4.4.5),
a data message with an Offset (§3.1 O bit, Offset Size) and the Priority bit on the DUT's PPP control
frames (§3.1 P bit).

The scripted peer plays the LAC and, behind it, the PPP client (LCP with the PPP codecs of
dlab.proto): the DUT's PPP answers are the evidence. A LAC DUT is "not applicable" to each test here
(it receives no WEN, sends no SLI nor PPP of its own, and takes no proxy AVPs), with the reason."""
from __future__ import annotations

import time

import pytest

from wire import P, Peer, Step, check

req = pytest.mark.req

LCP = 0xC021
CONFREQ, CONFACK, CONFNAK, CONFREJ = 1, 2, 3, 4  # RFC 1661 §5.1-§5.4 Codes
OUR_MAGIC = bytes.fromhex("1a2b3c4d")


def lns_with_calls(dut) -> None:
    if dut.ctx.role != "lns":
        pytest.skip("n/a: the behaviour binds the LNS of an incoming call; the DUT plays the LAC")
    if "incoming-calls" not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim incoming-calls")


class Call:
    """An incoming call from the scripted LAC to the DUT: ICRQ -> ICRP -> ICCN (`iccn` keywords added),
    and the scripted PPP client on it."""

    def __init__(self, p: Peer, sid: int, **iccn):
        L2TP = P().L2TP
        self.p, self.sid = p, sid
        p.l2tp.send(L2TP.icrq(assigned_session_id=sid, call_serial_number=sid, calling_number="5550001",
                              called_number="5559999", bearer_type=2))
        icrp = p.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
        self.dut_sid = icrp.assigned_session_id or 0
        p.l2tp.send(L2TP.iccn(session_id=self.dut_sid, tx_connect_speed=64000, framing_type=1, **iccn))
        self.frames: list = []  # (the data message, ppp_parse dict) the DUT sent on the call
        self.lcp_sent = self.ours_acked = self.theirs_acked = False

    def data(self, m) -> bool:
        return m.is_data and m.session_id == self.sid

    def send_ppp(self, protocol: int, packet: bytes, **kw) -> None:
        self.p.l2tp.send(P().L2TP.data(tunnel_id=self.p.tunnel, session_id=self.dut_sid,
                                       payload=P().ppp_frame(protocol, packet, True), **kw), auto_seq=False)

    def next_frame(self, within: float, step: str):
        m = self.p.expect(self.data, within=within, step=step)
        f = P().ppp_parse(bytes(m.payload))
        self.frames.append((m, f))
        return m, f

    def our_confreq(self) -> None:
        req_ = P().LCP(CONFREQ, 1)
        req_.add_option(5, OUR_MAGIC)  # Magic-Number (RFC 1661 §6.4)
        self.lcp_sent = True
        self.send_ppp(LCP, bytes(req_.to_bytes()))

    def answer(self, f) -> None:
        """The client's answer to one LCP packet of the DUT (RFC 1661 §5.1-§5.3): Configure-Ack to its
        Configure-Request (and our own request, once), ours accepted on its Configure-Ack."""
        if f["protocol"] != LCP:
            return
        pkt = f["packet"]
        if pkt.code == CONFREQ:
            ack = P().LCP(CONFACK, pkt.identifier)
            for t, v in pkt.options:
                ack.add_option(t, v)
            self.send_ppp(LCP, bytes(ack.to_bytes()))
            self.theirs_acked = True
            if not self.lcp_sent:
                self.our_confreq()
        elif pkt.code == CONFACK:
            self.ours_acked = True

    def lcp_up(self, within: float = 10.0) -> None:
        """Answers the DUT's LCP until both Configure-Requests are acknowledged (RFC 1661 Opened)."""
        deadline = time.monotonic() + within
        while not (self.ours_acked and self.theirs_acked):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Step("LCP with the DUT", f"LCP not Opened within {within:.0f} s")
            _, f = self.next_frame(left, "the DUT's LCP on the call")
            self.answer(f)


def first_ppp(call: Call, within: float = 5.0):
    """The first PPP frame the DUT sends on the call, or a skip: a DUT with no PPP of its own."""
    try:
        return call.next_frame(within, "PPP from the DUT on the call")
    except Step:
        pytest.skip(f"n/a: {call.p.dut.name} sent no PPP on the call within {within:.0f} s")


@pytest.fixture
def peer(dut):
    lns_with_calls(dut)
    p = Peer(dut)
    p.establish()
    yield p
    p.close()


@req("RFC2661-implied.6.13-1")
def test_wen_from_the_lac_is_acknowledged_and_the_session_kept(dut, peer):
    """§6.13: the LAC reports WAN errors with a WEN (Message Type, Call Errors) on a running call. The
    LNS acknowledges it like any control message (§5.8: ZLB or a message with Nr past it) and keeps
    the session: no CDN for it and no StopCCN; a HELLO afterwards is acknowledged too. A DUT that ends
    the call by itself within 3 s of the ICCN (before any WEN) is n/a: nothing shows what a WEN does."""
    L2TP = P().L2TP
    call = Call(peer, 31)
    if any(m.message_name == "CDN" and m.session_id == 31 for m in peer.drain(3.0)):
        pytest.skip(f"n/a: {dut.name} cleared the call by itself within 3 s of the ICCN, before any WEN")
    wen = L2TP.wen(session_id=call.dut_sid, call_errors={"crc_errors": 3, "framing_errors": 1, "hardware_overruns": 0,
                                                         "buffer_overruns": 0, "timeout_errors": 0,
                                                         "alignment_errors": 0})
    peer.l2tp.send(wen)
    want = peer.l2tp.ns
    peer.expect(lambda m: m.is_control and m.nr == want, within=5.0, step=f"WEN acknowledged (Nr {want})")
    peer.none(lambda m: m.message_name == "StopCCN" or (m.message_name == "CDN" and m.session_id == 31), within=2.0,
              step="after the WEN: the session and the tunnel stay up")
    peer.l2tp.send(L2TP.hello())
    want = peer.l2tp.ns
    peer.expect(lambda m: m.is_control and m.nr == want, within=5.0, step=f"HELLO after the WEN acknowledged (Nr {want})")


@req("RFC2661.6.14-2")
def test_sli_of_the_lns_carries_message_type_and_accm(dut, peer):
    """§6.14: an LNS that tells the LAC the PPP-negotiated ACCMs does so with an SLI carrying Message Type
    and ACCM, addressed to the call (header Session ID = the LAC's Assigned Session ID). Sending SLI is
    optional (an LNS on synchronous framing may never): none within 5 s of LCP Opened is n/a."""
    call = Call(peer, 33)
    _, f = first_ppp(call)
    call.answer(f)
    call.lcp_up()
    try:
        sli = peer.expect("SLI", within=5.0, step="SLI after LCP Opened")
    except Step:
        pytest.skip(f"n/a: {dut.name} sent no SLI within 5 s of LCP Opened (sending one is optional)")
    have = {a.type for a in sli.avps if a.vendor_id == 0}
    check({0, 35} <= have, "SLI", "SLI must carry Message Type and ACCM (§6.14)", sli)
    check(sli.session_id == 33, "SLI", "header Session ID must be the LAC's Assigned Session ID (§4.4.4)", sli)


def lcp_opts(magic: bytes, auth: bytes | None = None) -> bytes:
    """LCP Configure-Request options as the proxy LCP AVPs carry them (§4.4.5): MRU 1500, optional
    Authentication-Protocol, Magic-Number."""
    o = bytes([1, 4, 0x05, 0xDC])
    if auth is not None:
        o += bytes([3, 2 + len(auth)]) + auth
    return o + bytes([5, 6]) + magic


@req("RFC2661-implied.4.4.5-1", "RFC2661.4.1-5")
def test_proxy_lcp_and_authentication_avps_are_used_or_renegotiated(dut):
    """§4.4.5: an ICCN from the LAC sharing the DUT's tunnel secret carries Proxy LCP (Initial / Last
    Received, Last Sent CONFREQ) and Proxy Authentication (CHAP: Type 2, Name, ID, Challenge, Response),
    all with the M bit 0. The LNS either starts PPP from them (no LCP Configure-Request of its own) or
    "enters an additional round of LCP negotiation and/or authentication"; either way the session is
    kept: no CDN, no StopCCN (an LNS that does not use the AVPs ignores them, §4.1 M bit 0). A CDN for
    an authentication that fails is allowed, so the verdict needs the DUT's choice only: the first PPP
    frame it sends, and no CDN before it."""
    lns_with_calls(dut)
    if "proxy" not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim proxy (Proxy LCP / Authentication AVPs)")
    p = Peer(dut, secret=True)
    try:
        p.establish(challenge="tunnel-auth" in dut.features)
        client = lcp_opts(OUR_MAGIC)
        chap = bytes([0xC2, 0x23, 0x05])
        call = Call(p, 35, initial_received_lcp_confreq=client, last_received_lcp_confreq=client,
                    last_sent_lcp_confreq=lcp_opts(bytes.fromhex("1ac0ffee"), chap), proxy_authen_type=2,
                    proxy_authen_name="alice", proxy_authen_id=0x2A, proxy_authen_challenge=bytes(range(16)),
                    proxy_authen_response=bytes(range(16, 32)))
        got = p.expect(lambda m: call.data(m) or m.message_name in ("CDN", "StopCCN"), within=5.0,
                       step="the DUT's first answer to an ICCN with proxy AVPs")
        check(got.is_data, "ICCN with Proxy LCP / Authentication AVPs", "the DUT cleared the call instead of "
              "using the proxy AVPs or renegotiating (§4.4.5; M bit 0 AVPs it does not use are ignored, §4.1)", got)
        f = P().ppp_parse(bytes(got.payload))
        renegotiates = f["protocol"] == LCP and f["packet"].code == CONFREQ
        # Either choice is the RFC's; which one is the evidence (printed with -rA).
        print(f"{dut.name}: {'renegotiates LCP' if renegotiates else 'starts from the proxy LCP'} "
              f"(first PPP frame 0x{f['protocol']:04x})")
    finally:
        p.close()


@req("RFC2661-implied.3.1-offset-1")
def test_offset_pad_is_skipped(dut, peer):
    """§3.1: with the O bit set, the Offset Size field says how many octets past the L2TP header the
    payload starts; the pad's contents are undefined. A PPP LCP Configure-Request sent after an 8-octet
    pad of 0xFF (which, read as PPP, would be no valid frame) is answered by the DUT's LCP (Configure-
    Ack / -Nak / -Reject with the request's Identifier)."""
    call = Call(peer, 37)
    first_ppp(call)  # the DUT's PPP is running
    confreq = bytes.fromhex("0177000a0506") + OUR_MAGIC  # LCP Configure-Request, Identifier 0x77
    call.send_ppp(LCP, confreq, offset_pad=[0xFF] * 8)

    def answer(m) -> bool:
        b = bytes(m.payload) if call.data(m) else b""
        return len(b) >= 6 and b[:4] == b"\xff\x03\xc0\x21" and b[4] in (CONFACK, CONFNAK, CONFREJ) and b[5] == 0x77

    peer.expect(answer, within=5.0, step="LCP Configure-Request after an Offset pad of 8 octets answered")


@req("RFC2661-implied.3.1-priority-1")
def test_ppp_control_frames_of_the_dut_carry_the_priority_bit(dut, peer):
    """§3.1 (lower-case should): data messages the link depends on (LCP keepalives "for instance") should
    get preferential treatment, marked by the P bit. Judged on the PPP control frames (LCP and
    authentication, Protocol 0xC000-0xFFFF, RFC 1661 §2) the DUT sends while LCP opens and in the 3 s
    after (LCP Echo-Requests, CHAP Challenges): each must carry P=1."""
    call = Call(peer, 39)
    _, f = first_ppp(call)
    call.answer(f)
    call.lcp_up()
    call.p.drain(3.0)
    frames = list(call.frames)
    for m in (x for x in call.p.seen if call.data(x)):
        if all(m is not y for y, _ in frames):
            frames.append((m, P().ppp_parse(bytes(m.payload))))
    control = [(m, f) for m, f in frames if f["protocol"] >= 0xC000]
    check(bool(control), "PPP control frames", "the DUT sent no LCP frame although LCP opened")
    for m, f in control:
        check(m.priority, f"PPP 0x{f['protocol']:04x} in a data message", "a PPP control frame without the P bit "
              "(§3.1: keepalives and link control should be sent with P=1)", m)

"""The scripted PPP peer of test_ppp_rfc1661.py: wire.Peer playing the LAC opens a tunnel and places
an incoming call (RFC 2661 §7.4.1 ICRQ -> ICRP -> ICCN) to an LNS DUT, then plays the PPP client
inside that call's data messages (RFC 2661 §5.4: `ff 03` + Protocol + packet, built and parsed with
dlab.proto's PPP codecs; no PPP parsing here). It answers nothing on its own: each test scripts the
exchange and asserts on the PPP packets the DUT sent (`frames`, every one kept in arrival order with
its time), so that the same test judges lnsd's PPP and pppd behind xl2tpd.

Codes (RFC 1661 §5): 1 Configure-Request, 2 -Ack, 3 -Nak, 4 -Reject, 5 Terminate-Request, 6 -Ack,
7 Code-Reject, 8 Protocol-Reject, 9 Echo-Request, 10 Echo-Reply. LCP option types (§6): 1 MRU,
5 Magic-Number."""
from __future__ import annotations

import os
import time

import pytest

from wire import P, Peer, Step

CONFREQ, CONFACK, CONFNAK, CONFREJ, TERMREQ, TERMACK, CODEREJ, PROTREJ, ECHOREQ, ECHOREP = range(1, 11)
OPT_MRU, OPT_MAGIC = 1, 5
LCP, IPCP = 0xC021, 0x8021
NAMES = {1: "Configure-Request", 2: "Configure-Ack", 3: "Configure-Nak", 4: "Configure-Reject",
         5: "Terminate-Request", 6: "Terminate-Ack", 7: "Code-Reject", 8: "Protocol-Reject",
         9: "Echo-Request", 10: "Echo-Reply"}


def shown(f) -> str:
    """One PPP packet of the DUT as evidence: protocol, code, identifier, options or data, octets."""
    if f is None:
        return "(none)"
    pkt = f["packet"]
    if isinstance(pkt, (bytes, bytearray)):
        return f"protocol 0x{f['protocol']:04x} {bytes(pkt).hex()}"
    if f["protocol"] not in (LCP, IPCP):  # authentication (PAP, CHAP): its own codes
        return f"protocol 0x{f['protocol']:04x} {pkt!r} [{bytes(f['raw']).hex()}]"
    body = pkt.options if pkt.code in (1, 2, 3, 4) else bytes(pkt.data).hex()
    return (f"protocol 0x{f['protocol']:04x} {NAMES.get(pkt.code, pkt.code)} id {pkt.identifier} {body} "
            f"[{bytes(f['raw']).hex()}]")


def check(cond: bool, step: str, what: str, frame=None) -> None:
    if not cond:
        raise Step(step, f"{what}; DUT's PPP packet: {shown(frame)}")


class PppPeer:
    """The tunnel, the call and the PPP client of one test against an LNS DUT (see the module docstring).

    `frames`: every PPP frame the DUT sent on the call, as ppp_parse() dicts plus "raw" (octets) and
    "t" (seconds since the call was connected). `magic`: our Magic-Number (random)."""

    def __init__(self, dut):
        if dut.ctx.role != "lns":
            pytest.skip("n/a: PPP is run by the LNS; the DUT plays the LAC (it relays PPP)")
        if "incoming-calls" not in dut.features or "ppp" not in dut.features:
            pytest.skip(f"n/a: {dut.name} does not claim the feature ppp (its own PPP on incoming calls, reachable without authentication)")
        self.dut = dut
        self.peer = Peer(dut)
        self.frames: list[dict] = []
        self.magic = int.from_bytes(os.urandom(4), "big") | 1
        self.ident = 0x40
        self.t0 = 0.0
        self.sid = 0

    def connect(self, sid: int = 31) -> None:
        """Tunnel up, then ICRQ -> ICRP -> ICCN: the call the DUT's PPP runs on."""
        self.peer.establish()
        self.sid = sid
        L2TP = P().L2TP
        self.peer.l2tp.send(L2TP.icrq(assigned_session_id=sid, call_serial_number=sid, calling_number="5550001",
                                      called_number="5559999", bearer_type=2))
        icrp = self.peer.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
        self.dut_sid = icrp.assigned_session_id or 0
        self.peer.l2tp.send(L2TP.iccn(session_id=self.dut_sid, tx_connect_speed=64000, framing_type=1))
        self.t0 = time.monotonic()

    def close(self) -> None:
        self.peer.close()

    # --- sending -----------------------------------------------------------------------------
    def send(self, protocol: int, packet) -> None:
        """One PPP packet (a dlab.proto LCP / IPCP object, or raw information octets) to the DUT."""
        info = packet if isinstance(packet, (bytes, bytearray)) else packet.to_bytes()
        frame = P().ppp_frame(protocol, bytes(info), True)
        self.peer.l2tp.send(P().L2TP.data(tunnel_id=self.peer.tunnel, session_id=self.dut_sid, payload=frame),
                            auto_seq=False, fill_tunnel_id=False)

    def lcp(self, code: int, identifier: int | None = None, options=(), data: bytes | None = None):
        """An LCP packet of ours (a new Identifier unless given)."""
        if identifier is None:
            self.ident = (self.ident + 1) & 0xFF
            identifier = self.ident
        p = P().LCP(code, identifier)
        for t, v in options:
            p.add_option(t, v)
        if data is not None:
            p.data = data
        return p

    def our_request(self, options=None) -> int:
        """Our LCP Configure-Request (default: Magic-Number only); returns its Identifier."""
        opts = [(OPT_MAGIC, self.magic.to_bytes(4, "big"))] if options is None else options
        req = self.lcp(CONFREQ, options=opts)
        self.send(LCP, req)
        return req.identifier

    def ack(self, req) -> None:
        """Configure-Ack of the DUT's Configure-Request `req` (same Identifier and options, §5.2)."""
        self.send(LCP, self.lcp(CONFACK, req.identifier, req.options))

    # --- receiving ---------------------------------------------------------------------------
    def next(self, want, within: float, step: str) -> dict:
        """The next PPP frame of the DUT matching `want(frame)` within `within` s (frames that do not
        match are kept in `frames` too); Step (with what arrived) if none."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                got = "; ".join(shown(f) for f in self.frames[-8:]) or "no PPP at all"
                raise Step(step, f"no matching PPP packet within {within:.1f} s; the DUT's PPP so far: {got}")
            try:
                m = self.peer.l2tp.expect(lambda x: x.is_data and x.session_id == self.sid, within=left)
            except P().ExpectTimeout:
                continue
            raw = bytes(m.payload)
            f = dict(P().ppp_parse(raw))
            f["raw"], f["t"] = raw, time.monotonic() - self.t0
            self.frames.append(f)
            if want(f):
                return f

    def none(self, want, within: float, step: str, what: str) -> None:
        """Asserts that no PPP frame matching `want` arrives within `within` s (Step naming it if one does)."""
        try:
            f = self.next(want, within, step)
        except Step:
            return
        check(False, step, what, f)

    def lcp_code(self, code: int):
        return lambda f: f["protocol"] == LCP and f["packet"].code == code

    def open_lcp(self, within: float = 10.0):
        """Brings LCP to Opened: acks the DUT's Configure-Request, sends ours (Magic-Number) and waits for
        its Configure-Ack. Returns (the DUT's acknowledged request, its Configure-Ack)."""
        req = self.next(self.lcp_code(CONFREQ), within, "the DUT's LCP Configure-Request")
        ours = self.our_request()
        self.ack(req["packet"])
        ack = self.next(lambda f: f["protocol"] == LCP and f["packet"].code in (CONFACK, CONFNAK, CONFREJ)
                        and f["packet"].identifier == ours, within, "the DUT's answer to our Configure-Request")
        check(ack["packet"].code == CONFACK, "our Configure-Request (Magic-Number only)",
              "a Magic-Number-only request must be acceptable (RFC 1661 §6.4)", ack)
        return req, ack

    def dut_magic(self, req) -> int:
        """The Magic-Number of the DUT's acknowledged Configure-Request (0 when it negotiated none, §6.4)."""
        v = req["packet"].option(OPT_MAGIC)
        return int.from_bytes(bytes(v), "big") if v is not None else 0

"""The scripted peer of the RFC 2661 suite: a ScriptedL2tp on the `peer` host towards the DUT, playing
the role the DUT does not (LAC against an LNS, LNS against a LAC). It keeps every message the DUT sent
(`seen`) so that a test can judge all of them, and `shown()` prints one as evidence for a verdict."""
from __future__ import annotations

import os

from dlab import netns

FRAMING_BOTH, BEARER_BOTH = 0x3, 0x3
ANSWERING, BUSY = "5551000", "5551002"  # numbers the LAC profiles answer / find busy


def P():
    from dlab import proto
    return proto


def shown(m) -> str:
    """One DUT message as evidence: summary, header flags, AVPs with their M/H bits, and the octets."""
    if m is None:
        return "(none)"
    avps = ", ".join(f"{a.name}{'/M' if a.mandatory else ''}{'/H' if a.hidden else ''}" for a in m.avps)
    raw = m.to_bytes().hex()
    return (f"{m.message_name} tunnel {m.tunnel_id} session {m.session_id} Ns {m.ns} Nr {m.nr} flags "
            f"0x{m.flags:02x} ver {m.version} [{avps}] {raw[:160]}{'…' if len(raw) > 160 else ''}")


class Step(AssertionError):
    """A failed expectation: names the step of the exchange and the DUT's packet that shows it."""

    def __init__(self, step: str, what: str, packet=None, history: str = ""):
        super().__init__(f"step '{step}': {what}; DUT sent: {shown(packet)}" + (f"; arrivals: {history}" if history else ""))


def check(cond: bool, step: str, what: str, packet=None) -> None:
    if not cond:
        raise Step(step, what, packet)


class Peer:
    """One scripted peer endpoint. secret=True: the address sharing the tunnel secret with the DUT."""

    _tid = 100

    def __init__(self, dut, secret: bool = False, auto_ack: bool = True):
        self.dut = dut
        self.role = "lac" if dut.ctx.role == "lns" else "lns"
        self.secret = dut.ctx.secret if secret else None
        self.addr = dut.ctx.secret_peer if secret else dut.ctx.open_peer
        self.sock = netns.socket_in(dut.lab.ns("peer"))
        self.sock.bind((self.addr, 0))
        self.l2tp = P().ScriptedL2tp(self.sock, peer=(dut.ctx.address, dut.ctx.port), auto_ack=auto_ack)
        Peer._tid += 1
        self.tid = Peer._tid
        self.tunnel = 0          # the DUT's Assigned Tunnel ID
        self.seen: list = []     # every message the DUT sent us
        self.open_ok = False
        self.sid = 0

    # --- receiving -------------------------------------------------------------------------
    def expect(self, matcher="any", within: float = 3.0, step: str = ""):
        try:
            m = self.l2tp.expect(matcher, within=within)
        except P().ExpectTimeout:
            name = matcher if isinstance(matcher, (str, int)) else "matching message"
            raise Step(step or f"expect {name}", f"no {name} within {within:.1f} s", None,
                       "; ".join(self.l2tp.history[-12:])) from None
        self.seen.append(m)
        return m

    def none(self, matcher, within: float, step: str):
        """Assert that no `matcher` message arrives within `within` seconds."""
        try:
            m = self.l2tp.expect(matcher, within=within)
        except P().ExpectTimeout:
            return
        self.seen.append(m)
        raise Step(step, f"the DUT sent {m.message_name}, the RFC says it must not", m)

    def drain(self, within: float = 0.0) -> list:
        got = list(self.l2tp.drain(within))
        self.seen += got
        return got

    # --- the exchanges -----------------------------------------------------------------------
    def sccrq(self, challenge: bytes | None = None, **over):
        kw = {"assigned_tunnel_id": self.tid, "host_name": f"scripted-{self.role}",
              "framing_capabilities": FRAMING_BOTH, "receive_window_size": 4}
        if self.role == "lac":
            kw["bearer_capabilities"] = BEARER_BOTH
        if challenge:
            kw["challenge"] = challenge
        kw.update(over)
        return P().L2TP.sccrq(**kw)

    def open(self, challenge: bool = False):
        """SCCRQ -> SCCRP -> SCCCN -> the DUT's ack. Returns the SCCRP."""
        L2TP = P().L2TP
        chal = os.urandom(16) if challenge else None
        self.l2tp.send(self.sccrq(chal))
        sccrp = self.expect("SCCRP", within=5.0, step="SCCRQ answered by SCCRP")
        self.tunnel = sccrp.assigned_tunnel_id or 0
        if chal:
            want = P().challenge_response(2, self.secret, chal)
            check(sccrp.challenge_response == want, "SCCRP Challenge Response",
                  "Challenge Response is not MD5(2, secret, challenge) (§5.1.1)", sccrp)
        if sccrp.challenge is not None:
            check(self.secret is not None, "SCCRP Challenge", "the DUT challenged a peer it has no secret for", sccrp)
            self.l2tp.send(L2TP.scccn(challenge_response=P().challenge_response(3, self.secret, sccrp.challenge)))
        else:
            self.l2tp.send(L2TP.scccn())
        self.open_ok = True
        return sccrp

    def establish(self, challenge: bool = False):
        """open() and the DUT's acknowledgement of our SCCCN: the tunnel is up. Returns the SCCRP."""
        sccrp = self.open(challenge)
        self.expect("ZLB", within=3.0, step="SCCCN acknowledged")
        return sccrp

    def hello_with(self, avp_type: int, value: bytes, mandatory: bool, **kw):
        """Sends a HELLO carrying one extra AVP (add_avp keywords: vendor_id, reserved)."""
        hello = P().L2TP.hello()
        hello.add_avp(avp_type, value, mandatory=mandatory, **kw)
        self.l2tp.send(hello)

    def call(self, number: str = ANSWERING, sid: int = 7):
        """An incoming call to an LNS DUT (ICRQ -> ICRP -> ICCN) or an outgoing call to a LAC DUT
        (OCRQ -> OCRP, then OCCN or CDN). Returns (reply, final-or-None)."""
        L2TP = P().L2TP
        self.sid = sid
        if self.role == "lac":
            self.l2tp.send(L2TP.icrq(assigned_session_id=sid, call_serial_number=sid, calling_number="5550001",
                                     called_number="5559999", bearer_type=2))
            icrp = self.expect("ICRP", within=5.0, step="ICRQ answered by ICRP")
            self.l2tp.send(L2TP.iccn(session_id=icrp.assigned_session_id or 0, tx_connect_speed=64000,
                                     framing_type=1))
            return icrp, None
        self.l2tp.send(L2TP.ocrq(assigned_session_id=sid, call_serial_number=sid, min_bps=9600, max_bps=64000,
                                 bearer_type=1, framing_type=1, called_number=number))
        ocrp = self.expect("OCRP", within=5.0, step="OCRQ answered by OCRP")
        final = self.expect(lambda m: m.message_name in ("OCCN", "CDN"), within=10.0, step="OCCN or CDN")
        return ocrp, final

    def close(self):
        """StopCCN (Result Code 1) if the tunnel was opened, then the socket goes."""
        try:
            if self.open_ok:
                self.l2tp.send(P().L2TP.stopccn(assigned_tunnel_id=self.tid, result=1))
                self.drain(0.2)
        except OSError:
            pass
        self.sock.close()

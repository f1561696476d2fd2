"""The scripted LAC of the conformance suites: raw L2TP built and parsed with proto/ (dlab.proto.L2TP)
through dlab.proto.ScriptedL2tp (reliable delivery, Ns/Nr, ZLB acknowledgements, RFC 2661 §5.8) on a
UDP socket opened inside a lab namespace.

Both directions of RFC 2661:
  - the LAC opens the control connection (§5.1: SCCRQ -> SCCRP -> SCCCN, with tunnel authentication
    §5.1.1 when it has a secret) and places incoming calls (§7.4.1: ICRQ -> ICRP -> ICCN);
  - lnsd opens it (dial-out, §5.1, §7.5): answer_sccrq() answers lnsd's SCCRQ with an SCCRP; the test
    then expects SCCCN / OCRQ itself.
PPP rides in data messages (§5.4): send_ppp() / recv_ppp(). Every wait is bounded (`within`, seconds;
dlab.proto.ExpectTimeout when nothing matching arrives).
"""
from __future__ import annotations

import os
import socket

from . import netns
from . import proto as P

LNS_PORT = 1701  # UDP port of L2TP (RFC 2661 §8.1)


class ScriptedLac:
    """A scripted LAC on `addr` in host `host`'s namespace of `lab` (a dlab.lab.Lab), talking to lnsd
    at (`lns`, `lns_port`).

    port: local UDP port (0: ephemeral; 1701 when lnsd opens the tunnel towards us). reuse_address:
      SO_REUSEADDR, so that a new ScriptedLac binds the port a closed one held (OSError from bind()
      is raised, the socket closed).
    secret: the tunnel secret (§5.1.1) open() and answer_sccrq() use unless given another.
    Attributes: `l2tp` (the ScriptedL2tp: send / expect / history), `tunnel` (lnsd's Assigned Tunnel
    ID), `local_tunnel` (ours), `sessions` (our Session ID -> lnsd's), `session` / `local_session`
    (lnsd's and our Session ID of the last call), `challenge` (the Challenge we sent, 16 random octets
    from os.urandom), `sccrq` (the last SCCRQ answer_sccrq() saw)."""

    def __init__(self, lab, addr: str, lns: str, host: str = "lac", port: int = 0, secret: str | None = None,
                 host_name: str = "scripted-lac", reuse_address: bool = True, lns_port: int = LNS_PORT):
        self.lab = lab
        self.sock = netns.socket_in(lab.ns(host))
        try:
            if reuse_address:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((addr, port))
        except OSError:
            self.sock.close()
            raise
        self.l2tp = P.ScriptedL2tp(self.sock, peer=(lns, lns_port))
        self.secret = secret
        self.host_name = host_name
        self.tunnel = 0
        self.local_tunnel = 0
        self.sessions: dict[int, int] = {}
        self.session = 0
        self.local_session = 0
        self.challenge = os.urandom(16)
        self.sccrq = None

    def close(self) -> None:
        self.sock.close()

    # ----- the LAC opens the control connection (§5.1) and places incoming calls (§7.4.1) -----
    def open(self, secret: str | None = None, tid: int = 11, response_secret: str | None = None,
             host_name: str | None = None, within: float = 5.0):
        """SCCRQ (with our Challenge when there is a secret) -> SCCRP -> SCCCN; returns the SCCRP.

        With a secret, lnsd's Challenge Response is checked (AssertionError when it is not
        MD5(2, secret, our challenge), §4.4.3 / §5.1.1); lnsd's own Challenge is answered with
        `response_secret` (default: the secret; a wrong one provokes StopCCN 4). Does not wait for
        the ZLB that acknowledges the SCCCN (expect it with `l2tp.expect("ZLB")`)."""
        secret = self.secret if secret is None else secret
        kw: dict = {"assigned_tunnel_id": tid, "host_name": host_name or self.host_name}
        if secret:
            kw["challenge"] = self.challenge
        self.local_tunnel = tid
        self.l2tp.send(P.L2TP.sccrq(**kw))
        sccrp = self.l2tp.expect("SCCRP", within=within)
        if secret:
            assert sccrp.challenge_response == P.challenge_response(2, secret, self.challenge), \
                "lnsd's SCCRP Challenge Response is not MD5(2, secret, our Challenge)"
        self.tunnel = sccrp.assigned_tunnel_id
        if sccrp.challenge is not None:
            self.l2tp.send(P.L2TP.scccn(challenge_response=P.challenge_response(
                3, response_secret or secret or "", sccrp.challenge)))
        else:
            self.l2tp.send(P.L2TP.scccn())
        return sccrp

    def call(self, sid: int, calling: str = "5550001", called: str = "5559999", hide_secret: str | None = None,
             bearer_type: int | None = None, within: float = 5.0, **iccn) -> int:
        """ICRQ -> ICRP -> ICCN (§7.4.1) with our Session ID `sid`; returns lnsd's Session ID.

        hide_secret: hide the Calling Number AVP with this secret (§4.3). `iccn`: more keywords of the
        ICCN builder (proxy LCP / authentication AVPs, §4.4.5). AssertionError when the ICRP is not
        addressed to `sid`."""
        hide = {"hide": ["Calling Number"], "secret": hide_secret} if hide_secret else {}
        bearer = {} if bearer_type is None else {"bearer_type": bearer_type}
        self.l2tp.send(P.L2TP.icrq(assigned_session_id=sid, call_serial_number=sid, calling_number=calling,
                                   called_number=called, **bearer, **hide))
        icrp = self.l2tp.expect("ICRP", within=within)
        assert icrp.session_id == sid, f"ICRP for session {icrp.session_id}, not ours ({sid})"
        self.local_session, self.session = sid, icrp.assigned_session_id
        self.sessions[sid] = icrp.assigned_session_id
        iccn.setdefault("tx_connect_speed", 64000)
        iccn.setdefault("framing_type", P.FRAMING_SYNC)
        self.l2tp.send(P.L2TP.iccn(session_id=icrp.assigned_session_id, **iccn))
        return icrp.assigned_session_id

    # ----- lnsd opens the control connection (dial-out, §5.1, §7.5) -----
    def answer_sccrq(self, response_secret: str | None = None, tid: int = 40, within: float = 10.0):
        """Waits for lnsd's SCCRQ and answers it with an SCCRP carrying our Challenge and, when the
        SCCRQ has a Challenge, MD5(2, response_secret, it) (default: the secret). Returns the SCCRQ."""
        self.sccrq = self.l2tp.expect("SCCRQ", within=within)
        self.local_tunnel = tid
        self.tunnel = self.sccrq.assigned_tunnel_id
        auth = {}
        if self.sccrq.challenge is not None:
            secret = self.secret if response_secret is None else response_secret
            auth = {"challenge": self.challenge,
                    "challenge_response": P.challenge_response(2, secret or "", self.sccrq.challenge)}
        self.l2tp.send(P.L2TP.sccrp(assigned_tunnel_id=tid, host_name=self.host_name, framing_capabilities=3,
                                    bearer_capabilities=3, **auth))
        return self.sccrq

    # ----- PPP in data messages (§5.4) -----
    def send_ppp(self, frame: bytes, session: int | None = None) -> None:
        """One PPP frame (`ff 03` + Protocol + packet) in an L2TP data message to lnsd's Session ID
        `session` (default: the last call's), no sequencing."""
        msg = P.L2TP.data(tunnel_id=self.tunnel, session_id=self.session if session is None else session,
                          payload=frame)
        self.l2tp.send(msg, auto_seq=False, fill_tunnel_id=False)

    def recv_ppp(self, within: float):
        """The next data message to our last call's Session ID, as dlab.proto.ppp_parse()'s dict."""
        m = self.l2tp.expect(lambda x: x.is_data and x.session_id == self.local_session, within=within)
        return P.ppp_parse(m.payload)

    def hang_up(self) -> None:
        """CDN for the last call (Result Code 3, administrative, §4.4.2) then StopCCN (Result Code 1)."""
        if self.session:
            self.l2tp.send(P.L2TP.cdn(session_id=self.session, assigned_session_id=self.local_session, result=3))
        self.l2tp.send(P.L2TP.stopccn(assigned_tunnel_id=self.local_tunnel, result=1))

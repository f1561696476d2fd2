"""The scripted PPP client of test_incoming_scripted.py, behind the scripted LAC of
dlab.scripted_lac (RFC 2661 tunnel with the tunnel secret, §5.1.1, and one incoming call
ICRQ -> ICRP -> ICCN, §7.4.1, carrying proxy LCP and proxy authentication AVPs, §4.4.5).

PppClient: a small reactive PPP client over that session's L2TP data messages (PPP frames `ff 03` +
Protocol + packet, built and parsed with the dlab.proto PPP codecs). It never opens anything on its
own initiative; it answers what lnsd sends:
  LCP (RFC 1661 §5)   Configure-Request -> Configure-Ack (+ our own Configure-Request with a Magic-Number,
                      once); Configure-Ack -> ours accepted; Echo-Request -> Echo-Reply; Terminate-Request
                      -> Terminate-Ack;
  CHAP (RFC 1994 §4)  Challenge -> Response MD5(Identifier || secret || challenge), Name = user;
                      Success / Failure recorded;
  IPCP (RFC 1332 §3)  Configure-Request -> Configure-Ack (+ our Configure-Request with IP-Address 0.0.0.0,
                      once); Configure-Nak -> Configure-Request with the Nak'ed address; Configure-Ack ->
                      our address accepted;
  IPv4 (0x0021)       ICMP echo requests are kept; `echo_reply()` answers one (RFC 792).
Opened = both Configure-Requests of a protocol acknowledged (RFC 1661 §4.2 Opened state).
"""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import time

from dlab import proto
from dlab.scripted_lac import ScriptedLac


LCP_CONFREQ, LCP_CONFACK, LCP_CONFNAK, LCP_CONFREJ = 1, 2, 3, 4
LCP_TERMREQ, LCP_TERMACK, LCP_ECHOREQ, LCP_ECHOREP = 5, 6, 9, 10
CHAP_CHALLENGE, CHAP_RESPONSE, CHAP_SUCCESS, CHAP_FAILURE = 1, 2, 3, 4
PROXY_AUTHEN_CHAP, PROXY_AUTHEN_PAP = 2, 3  # RFC 2661 §4.4.5 Proxy Authen Type


def chap_md5(identifier: int, secret: str, challenge: bytes) -> bytes:
    """CHAP-MD5 Response Value = MD5(Identifier || secret || Challenge) (RFC 1994 §4.1), 16 octets."""
    return hashlib.md5(bytes([identifier]) + secret.encode() + challenge).digest()


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp_echo_reply(request: bytes) -> bytes:
    """The IPv4 ICMP Echo Reply to an IPv4 ICMP Echo Request (RFC 792: type 0, same id/seq/data;
    RFC 791: addresses swapped, TTL 64, header checksum recomputed). ValueError for anything else."""
    ihl = (request[0] & 0x0F) * 4
    if request[0] >> 4 != 4 or request[9] != 1 or request[ihl] != 8:
        raise ValueError(f"not an IPv4 ICMP echo request: {request[:ihl + 1].hex()}")
    hdr = bytearray(request[:ihl])
    hdr[8] = 64
    hdr[12:16], hdr[16:20] = request[16:20], request[12:16]
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("!H", inet_checksum(bytes(hdr)))
    icmp = bytearray(request[ihl:])
    icmp[0] = 0
    icmp[2:4] = b"\0\0"
    icmp[2:4] = struct.pack("!H", inet_checksum(bytes(icmp)))
    return bytes(hdr) + bytes(icmp)


class PppClient:
    """The scripted PPP client of one incoming call (see the module docstring)."""

    def __init__(self, lac: ScriptedLac, user: str, secret: str):
        self.lac, self.user, self.secret = lac, user, secret
        self.magic = int.from_bytes(os.urandom(4), "big") | 1
        self.lcp_sent = self.lcp_ours_acked = self.lcp_theirs_acked = False
        self.lcp_requests_received = 0
        self.chap_challenges: list[int] = []  # Identifiers of the challenges answered
        self.chap_result: str | None = None    # "Success" / "Failure"
        self.ipcp_sent = self.ipcp_ours_acked = self.ipcp_theirs_acked = False
        self.ipcp_id = 0
        self.address = "0.0.0.0"
        self.naks: list[str] = []
        self.terminated = False
        self.echo_requests: list[bytes] = []
        self.log: list[str] = []

    @property
    def lcp_opened(self) -> bool:
        return self.lcp_ours_acked and self.lcp_theirs_acked

    @property
    def ipcp_opened(self) -> bool:
        return self.ipcp_ours_acked and self.ipcp_theirs_acked

    def _send(self, pkt) -> None:
        self.log.append(f"-> {pkt!r}")
        self.lac.send_ppp(pkt.frame(True))

    def _send_ipcp_request(self) -> None:
        IPCP = proto.IPCP
        self.ipcp_id += 1
        req = IPCP(LCP_CONFREQ, self.ipcp_id)
        req.add_option(3, socket.inet_aton(self.address))  # IP-Address (RFC 1332 §3.3)
        self.ipcp_sent = True
        self._send(req)

    def handle(self, f: dict) -> None:
        """Reacts to one received PPP frame (ppp_parse() dict)."""
        pr, pkt = f["protocol"], f["packet"]
        p = proto
        self.log.append(f"<- 0x{pr:04x} {pkt!r}" if not isinstance(pkt, bytes) else f"<- 0x{pr:04x} {len(pkt)} octets")
        if pr == p.PROTO_LCP:
            if pkt.code == LCP_CONFREQ:
                self.lcp_requests_received += 1
                ack = p.LCP(LCP_CONFACK, pkt.identifier)
                for t, v in pkt.options:
                    ack.add_option(t, v)
                self._send(ack)
                self.lcp_theirs_acked = True
                if not self.lcp_sent or not self.lcp_ours_acked:
                    req = p.LCP(LCP_CONFREQ, 1)
                    req.add_option(5, self.magic.to_bytes(4, "big"))  # Magic-Number (RFC 1661 §6.4)
                    self.lcp_sent = True
                    self._send(req)
            elif pkt.code == LCP_CONFACK:
                self.lcp_ours_acked = True
            elif pkt.code == LCP_ECHOREQ:
                rep = p.LCP(LCP_ECHOREP, pkt.identifier)
                rep.data = self.magic.to_bytes(4, "big") + bytes(pkt.data[4:])
                self._send(rep)
            elif pkt.code == LCP_TERMREQ:
                self.terminated = True
                self._send(p.LCP(LCP_TERMACK, pkt.identifier))
        elif pr == p.PROTO_CHAP:
            if pkt.code == CHAP_CHALLENGE:
                value = chap_md5(pkt.identifier, self.secret, bytes(pkt.value))
                assert value == bytes(p.chap_md5_response(pkt.identifier, self.secret, bytes(pkt.value))), \
                    "hashlib and the codec disagree on the CHAP-MD5 response"
                self.chap_challenges.append(pkt.identifier)
                self._send(p.CHAP(CHAP_RESPONSE, pkt.identifier, value=value, name=self.user))
            elif pkt.code in (CHAP_SUCCESS, CHAP_FAILURE):
                self.chap_result = "Success" if pkt.code == CHAP_SUCCESS else "Failure"
        elif pr == p.PROTO_IPCP:
            if pkt.code == LCP_CONFREQ:
                ack = p.IPCP(LCP_CONFACK, pkt.identifier)
                for t, v in pkt.options:
                    ack.add_option(t, v)
                self._send(ack)
                self.ipcp_theirs_acked = True
                if not self.ipcp_sent:
                    self._send_ipcp_request()
            elif pkt.code == LCP_CONFNAK and pkt.identifier == self.ipcp_id:
                self.address = pkt.ip_address
                self.naks.append(self.address)
                self._send_ipcp_request()
            elif pkt.code == LCP_CONFACK and pkt.identifier == self.ipcp_id:
                self.ipcp_ours_acked = True
        elif pr == p.PROTO_IPV4:
            data = bytes(pkt)
            ihl = (data[0] & 0x0F) * 4
            if data[9] == 1 and len(data) > ihl and data[ihl] == 8:
                self.echo_requests.append(data)

    def run_until(self, done, within: float, what: str):
        """Answers lnsd's frames until `done()` is true; AssertionError after `within` seconds."""
        deadline = time.monotonic() + within
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"scripted PPP client: no {what} within {within} s; frames:\n" + "\n".join(self.log))
            try:
                f = self.lac.recv_ppp(min(left, 0.5))
            except proto.ExpectTimeout:
                continue
            self.handle(f)
        return done()

    def echo_reply(self, request: bytes) -> bytes:
        """Sends the ICMP echo reply to `request` back through the session; returns the IPv4 octets."""
        reply = icmp_echo_reply(request)
        self.log.append(f"-> IPv4 echo reply {len(reply)} octets")
        self.lac.send_ppp(proto.ppp_frame(proto.PROTO_IPV4, reply, True))
        return reply

"""RFC 1661 (PPP) behaviour of an LNS DUT, judged from the wire: the scripted peer places an incoming call
(ppp_wire.PppPeer) and plays the PPP client inside its data messages; each test asserts on the PPP
packets the DUT sent. The same tests judge lnsd's PPP and pppd behind xl2tpd (profile xl2tpd-pppd);
a DUT that runs no PPP of its own (feature `ppp` not claimed) or plays the LAC is not applicable.

Covered: the LCP automaton's opening (§4.3 / §5.1: Configure-Request first, retransmitted on the Restart
timer §4.6), Configure-Ack (§5.2), Configure-Nak (§5.3) and Configure-Reject (§5.4) both ways, Terminate
(§5.5), Code-Reject (§5.6), Protocol-Reject (§5.7), Echo (§5.8, Magic-Number §6.4) and the phases
(§3.4 / §3.5: no NCP before LCP is Opened). Rows RFC1661.* of docs/requirements.yaml."""
from __future__ import annotations

import pytest

from ppp_wire import (CODEREJ, CONFACK, CONFNAK, CONFREJ, CONFREQ, ECHOREP, ECHOREQ, IPCP, LCP, OPT_MAGIC,
                      OPT_MRU, PROTREJ, TERMACK, TERMREQ, PppPeer, check)

req = pytest.mark.req
UNKNOWN_OPTION = 0x7B     # an LCP option type no RFC assigns (RFC 1661 §6, IANA "PPP LCP Configuration Option Types")
UNKNOWN_CODE = 0x42       # an LCP Code no RFC assigns (RFC 1661 §5, RFC 1570 use 12-13)
UNKNOWN_PROTOCOL = 0x0E01  # a network-layer Protocol no RFC assigns (high octet even, low octet odd: RFC 1661 §2)


@pytest.fixture
def ppp(dut):
    p = PppPeer(dut)
    p.connect()
    yield p
    p.close()


@req("RFC1661.5.1-1", "RFC1661.3.4-1")
def test_the_dut_opens_lcp_with_a_configure_request_and_sends_no_ncp_before(dut, ppp):
    """§5.1: an implementation wishing to open a connection MUST transmit a Configure-Request; §3.4 / §3.5:
    nothing but LCP before LCP is Opened (and authentication, when asked, done)."""
    first = ppp.next(lambda f: True, 10.0, "the DUT's first PPP packet on the call")
    check(first["protocol"] == LCP and first["packet"].code == CONFREQ, "first PPP packet",
          "the LNS must open LCP with a Configure-Request (§5.1)", first)
    # Withhold our Configure-Ack for a while: anything the DUT sends meanwhile must be LCP (§3.4).
    ppp.none(lambda f: f["protocol"] != LCP, 2.0, "before LCP Opened",
             "the DUT sent a non-LCP packet before LCP was Opened (§3.4)")


@req("RFC1661.4.6-1")
def test_an_unanswered_configure_request_is_retransmitted_on_the_restart_timer(dut, ppp):
    """§4.6 / §4.5 TO+: with no reply, the Configure-Request is sent again when the Restart timer (default
    3 s) expires, with the same options (§5.1: the Identifier MAY stay for a retransmission)."""
    a = ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the DUT's first Configure-Request")
    b = ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the Configure-Request retransmitted (no reply was sent)")
    gap = b["t"] - a["t"]
    check(0.9 <= gap <= 6.0, "retransmission", f"sent {gap:.2f} s after the first; the Restart timer is "
          "configurable but SHOULD default to 3 s (§4.6)", b)
    check(b["packet"].options == a["packet"].options, "retransmission",
          "a retransmitted Configure-Request carries the same options (nothing was answered)", b)


@req("RFC1661.5.2-1")
def test_an_acceptable_configure_request_gets_a_configure_ack_with_the_same_options(dut, ppp):
    """§5.2: every option recognisable and acceptable: Configure-Ack with the Identifier copied and the
    options neither reordered nor modified."""
    ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the DUT's Configure-Request")
    opts = [(OPT_MRU, (1400).to_bytes(2, "big")), (OPT_MAGIC, ppp.magic.to_bytes(4, "big"))]
    ident = ppp.our_request(opts)
    ans = ppp.next(lambda f: f["protocol"] == LCP and f["packet"].code in (CONFACK, CONFNAK, CONFREJ),
                   5.0, "answer to our Configure-Request (MRU 1400, Magic-Number)")
    check(ans["packet"].code == CONFACK, "our Configure-Request", "MRU 1400 and a Magic-Number are acceptable", ans)
    check(ans["packet"].identifier == ident, "Configure-Ack", "the Identifier must be the request's (§5.2)", ans)
    check(ans["packet"].options == opts, "Configure-Ack", "the options must be ours, same order, unmodified (§5.2)",
          ans)


@req("RFC1661.5.4-1")
def test_an_unknown_option_gets_a_configure_reject_of_that_option_only(dut, ppp):
    """§5.4: an option that is not recognisable: Configure-Reject with the Identifier copied, holding only
    the rejected options, unmodified."""
    ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the DUT's Configure-Request")
    unknown = (UNKNOWN_OPTION, b"\x01\x02")
    ident = ppp.our_request([(OPT_MAGIC, ppp.magic.to_bytes(4, "big")), unknown])
    ans = ppp.next(lambda f: f["protocol"] == LCP and f["packet"].code in (CONFACK, CONFNAK, CONFREJ)
                   and f["packet"].identifier == ident, 5.0, f"answer to our Configure-Request with option {UNKNOWN_OPTION}")
    check(ans["packet"].code == CONFREJ, "unknown option", "an unrecognisable option must be Configure-Rejected (§5.4)",
          ans)
    check(ans["packet"].options == [unknown], "Configure-Reject",
          "it must hold exactly the unrecognised option, unmodified (§5.4)", ans)


@req("RFC1661.5.3-1", "RFC1661.5.1-2")
def test_a_configure_nak_is_answered_by_a_new_request_with_the_nakd_value(dut, ppp):
    """§5.3 / §4.3 RCN (scr): a valid Configure-Nak is followed by a new Configure-Request with a new Identifier
    (§5.1: it MUST change after a valid reply) carrying the value the Nak named. The Nak names an MRU of
    1400 (the DUT's own, if it asked one, else a hint §5.3) — acceptable to both."""
    r1 = ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the DUT's Configure-Request")
    asked_mru = r1["packet"].option(OPT_MRU) is not None
    ppp.send(LCP, ppp.lcp(CONFNAK, r1["packet"].identifier, [(OPT_MRU, (1400).to_bytes(2, "big"))]))
    r2 = ppp.next(lambda f: ppp.lcp_code(CONFREQ)(f) and f["t"] > r1["t"], 5.0,
                  "a new Configure-Request after our Configure-Nak")
    check(r2["packet"].identifier != r1["packet"].identifier, "after Configure-Nak",
          "the Identifier must change after a valid reply (§5.1)", r2)
    if asked_mru:
        check(r2["packet"].option(OPT_MRU) == (1400).to_bytes(2, "big"), "after Configure-Nak of MRU",
              "the new request must carry the Nak'd MRU 1400 (§5.3, §6.1)", r2)


@req("RFC1661.5.4-2", "RFC1661.5.1-2")
def test_a_configure_reject_removes_the_option_from_the_next_request(dut, ppp):
    """§5.4: after a valid Configure-Reject, the next Configure-Request MUST NOT include the rejected options
    (and carries a new Identifier, §5.1). We reject the DUT's Magic-Number (or its first option)."""
    r1 = ppp.next(ppp.lcp_code(CONFREQ), 10.0, "the DUT's Configure-Request")
    opts = r1["packet"].options
    if not opts:
        pytest.skip("n/a: the DUT's Configure-Request has no option to reject")
    rej = next(((t, v) for t, v in opts if t == OPT_MAGIC), opts[0])
    ppp.send(LCP, ppp.lcp(CONFREJ, r1["packet"].identifier, [rej]))
    r2 = ppp.next(lambda f: ppp.lcp_code(CONFREQ)(f) and f["t"] > r1["t"], 5.0,
                  f"a new Configure-Request after our Configure-Reject of option {rej[0]}")
    check(all(t != rej[0] for t, _ in r2["packet"].options), "after Configure-Reject",
          f"the rejected option {rej[0]} must not be requested again (§5.4)", r2)
    check(r2["packet"].identifier != r1["packet"].identifier, "after Configure-Reject",
          "the Identifier must change after a valid reply (§5.1)", r2)


@req("RFC1661.5.8-1", "RFC1661.5.8-2")
def test_an_echo_request_gets_an_echo_reply_with_the_dut_magic_number(dut, ppp):
    """§5.8: in Opened, an Echo-Request MUST be answered by an Echo-Reply (Identifier copied, data echoed);
    its Magic-Number field is the DUT's own negotiated one (zero when none was negotiated, §5.8 / §6.4)."""
    req_, _ = ppp.open_lcp()
    payload = b"dialout-lab echo"
    ident = 0x77
    ppp.send(LCP, ppp.lcp(ECHOREQ, ident, data=ppp.magic.to_bytes(4, "big") + payload))
    rep = ppp.next(ppp.lcp_code(ECHOREP), 5.0, "Echo-Reply to our Echo-Request")
    data = bytes(rep["packet"].data)
    check(rep["packet"].identifier == ident, "Echo-Reply", "the Identifier must be the request's", rep)
    check(data[:4] == ppp.dut_magic(req_).to_bytes(4, "big"), "Echo-Reply",
          f"Magic-Number must be the DUT's own (0x{ppp.dut_magic(req_):08x}), not ours or another (§5.8)", rep)
    check(data[4:] == payload, "Echo-Reply", "the data must be echoed", rep)


@req("RFC1661.5.6-1")
def test_an_unknown_lcp_code_gets_a_code_reject(dut, ppp):
    """§5.6: an LCP packet of unknown Code MUST be answered by a Code-Reject holding the rejected packet."""
    ppp.open_lcp()
    bad = bytes([UNKNOWN_CODE, 0x33, 0x00, 0x08]) + b"\xde\xad\xbe\xef"
    ppp.send(LCP, bad)
    rej = ppp.next(ppp.lcp_code(CODEREJ), 5.0, f"Code-Reject of LCP Code 0x{UNKNOWN_CODE:02x}")
    check(bytes(rej["packet"].data)[:len(bad)] == bad, "Code-Reject",
          "the Rejected-Packet must be our packet (§5.6; truncated only to the MRU)", rej)


@req("RFC1661.5.7-1")
def test_an_unknown_protocol_in_opened_gets_a_protocol_reject(dut, ppp):
    """§5.7: in the LCP Opened state, a packet of an unsupported Protocol MUST be reported by a Protocol-Reject
    carrying the Rejected-Protocol and the Rejected-Information. Sent once the DUT is in the Network-Layer
    Protocol phase (its IPCP Configure-Request shows it): during authentication §3.5 discards other packets."""
    req_, _ = ppp.open_lcp()
    if req_["packet"].option(3) is not None:
        pytest.skip("n/a: the DUT asked for PPP authentication (LCP option 3); the scripted peer has no credentials")
    ppp.next(lambda f: f["protocol"] == IPCP, 10.0, "the DUT's IPCP (Network-Layer Protocol phase, §3.6)")
    info = b"\x01\x02\x03\x04unknown"
    ppp.send(UNKNOWN_PROTOCOL, info)
    rej = ppp.next(ppp.lcp_code(PROTREJ), 5.0, f"Protocol-Reject of protocol 0x{UNKNOWN_PROTOCOL:04x}")
    data = bytes(rej["packet"].data)
    check(data[:2] == UNKNOWN_PROTOCOL.to_bytes(2, "big"), "Protocol-Reject",
          f"the Rejected-Protocol must be 0x{UNKNOWN_PROTOCOL:04x} (§5.7)", rej)
    check(data[2:2 + len(info)] == info, "Protocol-Reject", "the Rejected-Information must be our packet's (§5.7)", rej)


@req("RFC1661.5.5-1")
def test_a_terminate_request_gets_a_terminate_ack(dut, ppp):
    """§5.5: upon reception of a Terminate-Request, a Terminate-Ack MUST be transmitted (Identifier copied)."""
    ppp.open_lcp()
    ppp.send(LCP, ppp.lcp(TERMREQ, 0x5A, data=b"bye"))
    ack = ppp.next(ppp.lcp_code(TERMACK), 5.0, "Terminate-Ack to our Terminate-Request")
    check(ack["packet"].identifier == 0x5A, "Terminate-Ack", "the Identifier must be the request's (§5.5)", ack)


@req("RFC1661.3.5-1")
def test_ipcp_starts_once_lcp_is_opened(dut, ppp):
    """§3.5: once LCP is Opened (and the authentication phase, if the DUT asked for one, RFC 1661 §3.5 — the
    DUT profiles run none), each network-layer protocol is configured by its NCP: the DUT sends an IPCP
    Configure-Request (RFC 1332 §2)."""
    req_, _ = ppp.open_lcp()
    if req_["packet"].option(3) is not None:
        pytest.skip("n/a: the DUT asked for PPP authentication (LCP option 3); the scripted peer has no credentials")
    f = ppp.next(lambda f: f["protocol"] == IPCP, 10.0, "the DUT's IPCP after LCP Opened")
    check(f["packet"].code == CONFREQ, "IPCP", "the DUT's first IPCP packet is a Configure-Request (§5.1)", f)

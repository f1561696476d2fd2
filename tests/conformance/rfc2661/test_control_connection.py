"""RFC 2661 control connection, judged from the wire against any DUT (see conftest.py): header bits,
tunnel establishment and authentication, Tunnel IDs, unknown AVPs and message types, Protocol
Version, reliable delivery (ZLB, duplicates, window, retransmission and its back-off), HELLO and
StopCCN. The scripted peer opens the tunnel (the DUT answers, whatever role it plays)."""
from __future__ import annotations

import os
import time

import pytest

from wire import P, Peer, Step, check

req = pytest.mark.req


@pytest.fixture
def peer(dut):
    p = Peer(dut)
    yield p
    p.close()


@pytest.fixture
def secret_peer(dut):
    p = Peer(dut, secret=True)
    yield p
    p.close()


def control(msgs):
    return [m for m in msgs if m.is_control]


@req("RFC2661.3.1-1", "RFC2661.3.1-2", "RFC2661.3.1-3", "RFC2661.3.1-4", "RFC2661.3.1-5", "RFC2661.3.1-6",
     "RFC2661.4.1-1", "RFC2661.4.4.1-message-type-1", "RFC2661.6.2-1", "RFC2661.4.4.3-host-name-1",
     "RFC2661.5.3-1", "RFC2661.4.4.3-assigned-tunnel-id-1", "RFC2661.6-1", "RFC2661.4.4.3-vendor-name-1")
def test_sccrp_and_every_control_message_have_the_header_and_avps_the_rfc_requires(peer):
    sccrp = peer.establish()
    for m in control(peer.seen):
        step = f"{m.message_name} from the DUT"
        check(m.is_control and m.has_length, step, "T and L bits must be 1 on control messages (§3.1)", m)
        check(m.has_sequence, step, "S bit must be 1 on control messages (§3.1)", m)
        check(not m.has_offset, step, "O bit must be 0 on control messages (§3.1)", m)
        check(not m.priority, step, "P bit must be 0 on control messages (§3.1)", m)
        check(m.version == 2, step, "Ver must be 2 (§3.1)", m)
        check(m.reserved_bits == 0, step, "reserved header bits must be 0 (§3.1)", m)
        check(m.tunnel_id == peer.tid, step, "header Tunnel ID must be our Assigned Tunnel ID (§4.4.3)", m)
        check(all(a.reserved_bits == 0 for a in m.avps), step, "AVP reserved bits must be 0 (§4.1)", m)
        if not m.is_zlb:
            check(m.avps and m.avps[0].type == 0 and m.avps[0].vendor_id == 0, step,
                  "Message Type must be the first AVP (§4.4.1)", m)
    have = {a.type for a in sccrp.avps if a.vendor_id == 0}
    # SCCRP: Message Type 0, Protocol Version 2, Framing Capabilities 3, Host Name 7, Assigned Tunnel ID 9 (§6.2)
    check({0, 2, 3, 7, 9} <= have, "SCCRP", f"AVPs {sorted({0, 2, 3, 7, 9} - have)} missing (§6.2)", sccrp)
    pv = sccrp.avp(2)
    check(pv is not None and bytes(pv.value) == b"\x01\x00", "SCCRP", "Protocol Version must be 1.0 (§4.4.3)", sccrp)
    check(len(sccrp.host_name or "") >= 1, "SCCRP", "Host Name must be at least one octet (§4.4.3)", sccrp)
    check(peer.tunnel != 0, "SCCRP", "Assigned Tunnel ID must not be 0 (§5.3)", sccrp)
    vendor = sccrp.avp(8)
    if vendor is not None and not vendor.hidden:
        check(utf8(bytes(vendor.value)), "SCCRP", "Vendor Name must be UTF-8 (§4.4.3)", sccrp)


def utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@req("RFC2661.5.1.1-1", "RFC2661.4.4.3-challenge-response-1")
def test_challenge_in_sccrq_is_answered_by_the_right_challenge_response(dut, secret_peer):
    if "tunnel-auth" not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim tunnel authentication")
    sccrp = secret_peer.establish(challenge=True)  # checks MD5(2, secret, challenge) (§5.1.1)
    check(sccrp.challenge_response is not None, "SCCRP", "no Challenge Response to our Challenge", sccrp)


@req("RFC2661.5.1.1-2")
def test_wrong_challenge_response_in_scccn_disallows_the_tunnel(dut):
    if "tunnel-auth" not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim tunnel authentication")
    p = Peer(dut, secret=True)
    try:
        p.l2tp.send(p.sccrq(challenge=os.urandom(16)))
        sccrp = p.expect("SCCRP", within=5.0, step="SCCRQ with Challenge answered")
        if sccrp.challenge is None:
            pytest.skip(f"n/a: {dut.name} sent no Challenge in its SCCRP (not configured to authenticate us)")
        p.l2tp.send(P().L2TP.scccn(challenge_response=P().challenge_response(3, "wrong-secret", sccrp.challenge)))
        stop = p.expect("StopCCN", within=5.0, step="wrong Challenge Response in SCCCN")
        check(stop.result_code is not None, "StopCCN", "StopCCN without Result Code (§6.4)", stop)
    finally:
        p.sock.close()


@req("RFC2661.3.1-7")
def test_message_with_unknown_version_is_discarded(peer):
    b = bytearray(peer.sccrq().to_bytes())
    b[1] = (b[1] & 0xF0) | 3  # Ver 3
    peer.l2tp.send_bytes(bytes(b))
    peer.none("any", 2.0, "SCCRQ with Ver 3")
    peer.l2tp.ns = 0
    peer.open()  # the DUT still answers a good SCCRQ: nothing was half-created by the bad one


@req("RFC2661.8.1-3")
def test_l2f_packet_is_silently_discarded(peer):
    b = bytearray(peer.sccrq().to_bytes())
    b[1] = (b[1] & 0xF0) | 1  # Ver 1: L2F (RFC 2341)
    peer.l2tp.send_bytes(bytes(b))
    peer.none("any", 2.0, "L2F (Ver 1) packet")


@req("RFC2661.7.2.1-1")
def test_unsupported_protocol_version_is_answered_by_stopccn(peer):
    m = peer.sccrq()
    m.set_avp(2, b"\x00\x09")  # Protocol Version 0.9: earlier, unsupported
    peer.l2tp.send(m)
    got = peer.expect(lambda x: x.message_name in ("StopCCN", "SCCRP"), within=5.0, step="SCCRQ of version 0.9")
    check(got.message_name == "StopCCN", "SCCRQ of version 0.9", "an unsupported version must get a StopCCN", got)


@req("RFC2661.4.1-4", "RFC2661.6.4-1", "RFC2661.4.4.3-assigned-tunnel-id-3", "RFC2661.4.4.2-result-code-1")
def test_unknown_mandatory_avp_in_a_tunnel_message_clears_the_tunnel(peer):
    peer.establish()
    peer.hello_with(250, b"\x01\x02", mandatory=True)
    stop = peer.expect("StopCCN", within=5.0, step="HELLO with unknown AVP 250, M bit set")
    have = {a.type for a in stop.avps if a.vendor_id == 0}
    check({0, 1, 9} <= have, "StopCCN", "StopCCN must carry Message Type, Result Code, Assigned Tunnel ID (§6.4)", stop)
    check(stop.assigned_tunnel_id == peer.tunnel, "StopCCN",
          "its Assigned Tunnel ID must be the one first sent to us (§4.4.3)", stop)
    rc = stop.avp(1)
    check(rc is not None and utf8(bytes(rc.value)[4:]), "StopCCN", "the Result Code's Error Message must be UTF-8 (§4.4.2)",
          stop)
    peer.open_ok = False


@req("RFC2661.4.1-2")
def test_avp_with_a_reserved_bit_set_is_unrecognised_so_m_set_clears_the_tunnel(peer):
    peer.establish()
    peer.hello_with(6, b"\x01\x00", mandatory=True, reserved=1)  # Firmware Revision, a reserved bit set, M set
    peer.expect("StopCCN", within=5.0, step="HELLO with an AVP whose reserved bit is set (M set)")
    peer.open_ok = False


@req("RFC2661.4.1-5")
def test_unknown_avp_without_m_bit_is_ignored(peer):
    peer.establish()
    peer.hello_with(250, b"\x01\x02", mandatory=False)
    peer.expect("ZLB", within=3.0, step="HELLO with unknown AVP 250, M bit clear: acknowledged")
    peer.none("StopCCN", 1.0, "HELLO with unknown AVP 250, M bit clear")
    peer.l2tp.send(P().L2TP.hello())
    peer.expect("ZLB", within=3.0, step="the tunnel still works")


@req("RFC2661.4.4.1-message-type-2")
def test_unknown_message_type_with_m_bit_clears_the_tunnel(peer):
    peer.establish()
    peer.l2tp.send(P().L2TP.control(99))  # Message Type 99, M bit set by the codec
    got = peer.expect(lambda m: m.message_name in ("StopCCN", "ZLB"), within=5.0,
                      step="Message Type 99 with the M bit")
    if got.message_name == "ZLB":
        peer.expect("StopCCN", within=3.0, step="Message Type 99 with the M bit: after the ack, the tunnel is cleared")
    peer.open_ok = False


@req("RFC2661.5.8-1")
def test_duplicate_control_message_is_acknowledged_again(peer):
    peer.establish()
    hello = P().L2TP.hello()
    peer.l2tp.send(hello)
    first = peer.expect("ZLB", within=3.0, step="HELLO acknowledged")
    peer.l2tp.send(hello, auto_seq=False)  # the very same Ns again: a duplicate
    again = peer.expect("ZLB", within=3.0, step="duplicate HELLO acknowledged again (§5.8)")
    check(again.nr == first.nr, "duplicate HELLO", "the repeated ack must carry the same Nr", again)


@req("RFC2661.5.8-7", "RFC2661.5.8-9")
def test_four_messages_outstanding_are_all_accepted_and_acknowledged(peer):
    peer.establish()
    base = peer.l2tp.ns
    for _ in range(4):
        peer.l2tp.send(P().L2TP.hello())
    want = (base + 4) & 0xFFFF

    def acked_all():
        for m in peer.drain(0.2):
            if m.is_control and ((m.nr - want) & 0xFFFF) < 0x8000:
                return m
        return None
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        m = acked_all()
        if m:
            return
    raise Step("four HELLOs in a row (window 4)", f"no ack with Nr {want} within 5 s", None,
               "; ".join(peer.l2tp.history[-8:]))


def unacknowledged_sccrp_copies(p, n: int, scccn_after_first: bool):
    """SCCRQ, then n retransmissions of the DUT's SCCRP that we never acknowledge: [(time, SCCRP)],
    the first copy included. scccn_after_first: after the first retransmission we send the SCCCN (Ns 1)
    with Nr 0, so it acknowledges nothing either."""
    p.l2tp.send(p.sccrq())
    first = p.expect("SCCRP", within=5.0, step="SCCRQ answered")
    out = [(time.monotonic(), first)]
    for i in range(n):
        m = p.expect("SCCRP", within=12.0, step=f"SCCRP retransmission {i + 1} (we do not acknowledge)")
        out.append((time.monotonic(), m))
        check(m.ns == first.ns, "retransmitted SCCRP", f"Ns {m.ns} differs from the first copy's {first.ns}", m)
        if i == 0 and scccn_after_first:
            scccn = P().L2TP.scccn()
            scccn.tunnel_id, scccn.ns, scccn.nr = p.tunnel, 1, first.ns
            p.l2tp.send(scccn, auto_seq=False)
    return out


@req("RFC2661.5.8-3")
def test_unacknowledged_sccrp_is_retransmitted_with_the_same_ns_and_backs_off(dut):
    p = Peer(dut, auto_ack=False)
    try:
        copies = unacknowledged_sccrp_copies(p, 3, scccn_after_first=False)
    finally:
        p.sock.close()
    gaps = [b[0] - a[0] for a, b in zip(copies, copies[1:])]
    check(gaps[2] > gaps[0] * 1.5, "retransmission intervals",
          f"intervals {['%.2f' % g for g in gaps]} s do not back off exponentially (§5.8)", copies[-1][1])


BUDGET = 60.0  # seconds the long-timer tests may watch a DUT retransmit


@pytest.fixture(scope="session")
def unacknowledged_run(dut):
    """§5.8 watched to the end on an established tunnel: we place a call (ICRQ to an LNS, OCRQ to a LAC)
    and never acknowledge the DUT's reply; every copy of it until the copies stop (none for twice the
    last interval, at least 16 s) or a StopCCN comes, for at most BUDGET s. (The SCCRP of a tunnel
    being set up is not used: a DUT may end a set-up that stalls sooner, by its own timer.)
    Returns ([(time, reply)], gave_up)."""
    want = "incoming-calls" if dut.ctx.role == "lns" else "outgoing-calls"
    if want not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim {want}, so no control message of its own can be provoked")
    L2TP = P().L2TP
    p = Peer(dut, auto_ack=False)
    copies, gave_up = [], False
    try:
        p.establish()
        if p.role == "lac":
            p.l2tp.send(L2TP.icrq(assigned_session_id=31, call_serial_number=31, bearer_type=2))
        else:
            p.l2tp.send(L2TP.ocrq(assigned_session_id=31, call_serial_number=31, min_bps=9600, max_bps=64000,
                                  bearer_type=1, framing_type=1, called_number="5551000"))
        name = "ICRP" if p.role == "lac" else "OCRP"
        first = p.expect(name, within=5.0, step=f"call answered by {name}")
        start = time.monotonic()
        copies.append((start, first))
        while time.monotonic() - start < BUDGET:
            gaps = intervals(copies)
            try:
                m = p.l2tp.expect(lambda m: (m.message_name == name and m.ns == first.ns) or
                                  m.message_name == "StopCCN", within=2 * max(gaps[-1] if gaps else 0.0, 8.0))
            except P().ExpectTimeout:
                gave_up = True
                break
            if m.message_name == "StopCCN":
                gave_up = True
                break
            copies.append((time.monotonic(), m))
    finally:
        p.sock.close()
    return copies, gave_up


def intervals(copies) -> list[float]:
    return [b[0] - a[0] for a, b in zip(copies, copies[1:])]


@req("RFC2661.5.8-4")
def test_retransmission_back_off_is_capped_at_8_s_or_more(dut, unacknowledged_run):
    """§5.8: the back-off may be capped, but not below 8 s. Fails when the intervals of the
    unacknowledged reply stop growing below 8 s; passes once an interval of 8 s or more was seen (any
    cap is above it); a DUT that gave up (or ran out of the budget) before either did not show it."""
    copies, _ = unacknowledged_run
    gaps = intervals(copies)
    shown = ", ".join(f"{g:.1f}" for g in gaps)
    floor = 8.0 * 0.9  # timer granularity
    # Capped: two intervals in a row that do not grow (timer granularity makes one alone unreliable).
    for i in range(1, len(gaps) - 1):
        if max(gaps[i], gaps[i + 1]) < floor and max(gaps[i], gaps[i + 1]) <= gaps[i - 1] * 1.25:
            raise Step("retransmission cap", f"intervals {shown} s: the back-off stops growing at {gaps[i]:.1f} s, "
                       "below the 8 s floor (§5.8)", copies[i + 1][1])
    if not any(g >= floor for g in gaps):
        pytest.skip(f"n/a: the intervals ({shown} s) reached neither a cap nor 8 s within the {BUDGET:.0f} s "
                    "budget or before the DUT gave up")


@req("RFC2661.5.8-5")
def test_unanswered_retransmissions_end_with_the_tunnel_given_up(dut, unacknowledged_run):
    """§5.8: after a finite number of retransmissions without an acknowledgement the tunnel is cleared:
    the copies stop (or a StopCCN comes) within the budget."""
    copies, gave_up = unacknowledged_run
    shown = ", ".join(f"{g:.1f}" for g in intervals(copies))
    if not gave_up:
        pytest.skip(f"n/a: not testable in the {BUDGET:.0f} s budget: {dut.name} still retransmitted after "
                    f"{len(copies) - 1} copies (intervals {shown} s)")
    check(len(copies) >= 2, "retransmissions", "the DUT gave the tunnel up without retransmitting its reply "
          "(§5.8)", copies[-1][1])


@req("RFC2661.5.8-2")
def test_retransmission_carries_the_current_nr(dut):
    """Our SCCCN (Ns 1, Nr 0) arrives between two copies of the unacknowledged SCCRP: the next copy
    keeps its Ns and must carry Nr 2."""
    p = Peer(dut, auto_ack=False)
    try:
        copies = unacknowledged_sccrp_copies(p, 2, scccn_after_first=True)
    finally:
        p.sock.close()
    last = copies[-1][1]
    check(last.nr == 2, "SCCRP retransmitted after our SCCCN",
          f"Nr {last.nr}: a retransmission must carry the next expected Ns, 2 (§5.8)", last)


@req("RFC2661.5.7-1")
def test_stopccn_is_acknowledged_and_its_retransmission_too(peer):
    peer.establish()
    stop = P().L2TP.stopccn(assigned_tunnel_id=peer.tid, result=1)
    peer.l2tp.send(stop)
    peer.open_ok = False
    peer.expect("ZLB", within=3.0, step="StopCCN acknowledged by a ZLB (§5.7)")
    peer.l2tp.send(stop, auto_seq=False)  # our retransmission (as if the ZLB was lost)
    peer.expect("ZLB", within=3.0, step="retransmitted StopCCN acknowledged again (§5.7)")


@req("RFC2661.6.5-2", "RFC2661.6.5-3", "RFC2661.6.5-4", "RFC2661.6.5-1")
def test_hello_after_the_configured_idle_time(dut, peer):
    if "hello" not in dut.features:
        pytest.skip(f"n/a: {dut.name} does not claim HELLO keepalives")
    peer.establish()
    hello = peer.expect("HELLO", within=dut.ctx.hello * 2 + 3, step=f"idle tunnel: HELLO after {dut.ctx.hello} s")
    check(hello.session_id == 0, "HELLO", "HELLO must carry Session ID 0 (§6.5)", hello)
    check(hello.avps and hello.avps[0].type == 0, "HELLO", "HELLO must carry the Message Type AVP (§6.5)", hello)
    # We sent no HELLO of our own in all that time (only ZLB acks): the DUT must not give up on us.
    peer.none("StopCCN", 2.0, "our side idle but acknowledging: a peer must not expect HELLOs (§6.5)")


@req("RFC2661.4.1-5")
def test_vendor_avp_with_an_ietf_attribute_number_is_not_taken_for_the_ietf_one(peer):
    """A Broadband Forum AVP (Vendor ID 3561, Attribute 2, M clear) is not the IETF Protocol Version
    (Attribute 2 of Vendor 0): unrecognised and not mandatory, it is ignored (§4.1). Seen in the field:
    https://github.com/xelerance/xl2tpd/issues/163 ("protocol_version_avp: avp is incorrect size")."""
    m = peer.sccrq()
    m.add_avp(2, b"DEU.TEST.0001", mandatory=False, vendor_id=3561)
    peer.l2tp.send(m)
    got = peer.expect(lambda x: x.message_name in ("SCCRP", "StopCCN"), within=5.0,
                      step="SCCRQ with vendor 3561 AVP 2 (M clear)")
    check(got.message_name == "SCCRP", "SCCRQ with vendor 3561 AVP 2",
          "the vendor AVP must be ignored, the SCCRQ answered by SCCRP", got)


@req("RFC2661.7.2.1-3", "RFC2661.5.7-1")
def test_stopccn_whose_result_code_has_no_error_code_is_accepted(peer):
    """The Error Code of a Result Code AVP is optional (§4.4.2: Length 8 holds the Result Code only).
    Seen in the field: https://github.com/xelerance/xl2tpd/issues/90 and https://github.com/xelerance/xl2tpd/issues/130 ("avp is incorrect size. 8 < 10")."""
    peer.establish()
    stop = P().L2TP.stopccn(assigned_tunnel_id=peer.tid, result=1)
    stop.set_avp(1, b"\x00\x01")  # Result Code 1, no Error Code: AVP Length 8
    peer.l2tp.send(stop)
    peer.open_ok = False
    peer.expect("ZLB", within=3.0, step="StopCCN with an 8-octet Result Code acknowledged")
    peer.none("StopCCN", 1.0, "StopCCN with an 8-octet Result Code: no StopCCN back as if it were malformed")


@req("RFC2661.5.8-6", "RFC2661.7.2.1-2")
def test_stopccn_the_dut_sends_is_retransmitted_until_acknowledged(dut):
    """The DUT clears the tunnel (our HELLO carries an unknown mandatory AVP) and we never acknowledge
    its StopCCN: reliable delivery must go on, so the same StopCCN (same Ns) comes again."""
    p = Peer(dut)
    try:
        p.establish()
        p.l2tp.auto_ack = False
        p.hello_with(250, b"\x01", mandatory=True)
        first = p.expect("StopCCN", within=5.0, step="HELLO with unknown AVP 250 (M set): StopCCN")
        again = p.expect("StopCCN", within=6.0, step="StopCCN not acknowledged: retransmitted (§5.8)")
        check(again.ns == first.ns, "retransmitted StopCCN", f"Ns {again.ns} differs from the first copy's {first.ns}",
              again)
        p.l2tp.ack()
    finally:
        p.sock.close()


@req("RFC2661.9.1-2")
def test_assigned_tunnel_ids_are_not_sequential(dut):
    # Eight tunnels, one after the other. A DUT that counts its IDs up gives steps of +1 (or +2);
    # reusing an ID freed by an earlier test breaks the run of steps but not the count. For random
    # 16-bit IDs a step of 1 or 2 has a probability of 2/65535 per pair, so two of them in seven
    # pairs (p < 1e-7) is the verdict "sequential" whatever order the suite ran in.
    ids = []
    for _ in range(8):
        p = Peer(dut)
        try:
            p.establish()
            ids.append(p.tunnel)
        finally:
            p.close()
    small = [(a, b) for a, b in zip(ids, ids[1:]) if (b - a) & 0xFFFF in (1, 2)]
    check(len(small) < 2, "eight SCCRPs",
          f"Assigned Tunnel IDs {ids} are sequential: {len(small)} of 7 steps are +1 or +2 "
          f"(§9.1 asks for unpredictable ones)")

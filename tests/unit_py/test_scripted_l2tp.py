"""ScriptedL2tp over loopback UDP (no namespaces): two scripted endpoints back to back, automatic
Ns/Nr and ZLB acknowledgement (RFC 2661 §5.8), tunnel ID bookkeeping, timeouts listing what arrived,
duplicates re-acknowledged, malformed datagrams counted."""
from __future__ import annotations

import socket

import pytest

from dlab import proto as P


@pytest.fixture
def pair():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    lac = P.ScriptedL2tp(a, peer=b.getsockname())
    lns = P.ScriptedL2tp(b)  # learns its peer from the first datagram
    yield lac, lns
    a.close()
    b.close()


def test_tunnel_setup_and_outgoing_call_back_to_back(pair):
    lac, lns = pair
    lac.send(P.L2TP.sccrq(assigned_tunnel_id=11, host_name="lac", challenge=b"c" * 16))
    rq = lns.expect("SCCRQ", within=2.0)
    assert (rq.ns, rq.nr, rq.tunnel_id, rq.assigned_tunnel_id) == (0, 0, 0, 11)
    assert lns.peer is not None and lns.peer_tunnel_id == 11 and lns.nr == 1
    lns.send(P.L2TP.sccrp(assigned_tunnel_id=22, host_name="lns",
                          challenge_response=P.challenge_response(2, "s", rq.challenge)))
    ack = lac.expect("ZLB", within=2.0)          # the LNS acknowledged the SCCRQ at once
    assert (ack.ns, ack.nr, ack.tunnel_id) == (0, 1, 11)
    rp = lac.expect("SCCRP", within=2.0)
    assert (rp.ns, rp.nr, rp.tunnel_id) == (0, 1, 11)
    assert rp.challenge_response == P.challenge_response(2, "s", b"c" * 16)
    assert lac.peer_tunnel_id == 22 and lac.local_tunnel_id == 11
    lac.send(P.L2TP.scccn())
    cn = lns.expect("SCCCN", within=2.0)
    assert (cn.ns, cn.nr, cn.tunnel_id) == (1, 1, 22)  # Tunnel ID filled in from the SCCRP
    # the LNS places a call
    lns.send(P.L2TP.ocrq(called_number="5551001", assigned_session_id=7, min_bps=64000, max_bps=64000))
    oc = lac.expect(lambda m: m.message_name == "OCRQ" and m.called_number == "5551001", within=2.0)
    assert (oc.ns, oc.nr, oc.tunnel_id) == (1, 2, 11) and lac.peer_session_id == 7
    lac.send(P.L2TP.ocrp(session_id=7, assigned_session_id=3))
    assert lns.expect(8, within=2.0).assigned_session_id == 3  # by Message Type number
    assert lac.acks_sent == 2 and lns.acks_sent == 3  # SCCRP, OCRQ / SCCRQ, SCCCN, OCRP


def test_timeout_lists_what_arrived(pair):
    lac, lns = pair
    lac.send(P.L2TP.hello())
    with pytest.raises(P.ExpectTimeout) as e:
        lns.expect("OCRP", within=0.3)
    assert "HELLO" in str(e.value) and any("HELLO" in a for a in e.value.arrived)
    assert isinstance(e.value, TimeoutError)
    # messages not taken stay for a later expect()
    assert lns.expect("HELLO", within=0.1).message_name == "HELLO"


def test_duplicate_is_acknowledged_again_and_malformed_is_counted(pair):
    lac, lns = pair
    hello = P.L2TP.hello()
    wire = lac.send(hello)
    lns.expect("HELLO", within=1.0)
    lac.send_bytes(wire)                       # a retransmission (same Ns)
    lac.send_bytes(b"\xc8\x02\x00")            # malformed
    rest = lns.drain(0.3)
    assert [m.message_name for m in rest] == ["HELLO"]
    assert lns.duplicates == 1 and lns.malformed == 1 and lns.nr == 1
    acks = [m for m in lac.drain(0.3) if m.is_zlb]
    assert len(acks) == 2 and all(a.nr == 1 for a in acks)
    assert any("malformed" in line for line in lns.history)


def test_explicit_sequence_numbers_and_no_auto_ack():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    try:
        x = P.ScriptedL2tp(a, peer=b.getsockname(), auto_ack=False)
        y = P.ScriptedL2tp(b.fileno(), peer=a.getsockname(), auto_ack=False)
        x.send(P.L2TP.hello(ns=40, nr=41), auto_seq=False)
        got = y.expect("HELLO", within=1.0)
        assert (got.ns, got.nr) == (40, 41) and y.nr == 0 and y.out_of_order == 1
        with pytest.raises(P.ExpectTimeout):
            x.expect("ZLB", within=0.2)
    finally:
        a.close()
        b.close()
